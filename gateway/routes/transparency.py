"""The Shafaf transparency portal (SPEC T): every dataset, public and without login, in the formats
integrators read (CSV, JSON, OCDS, Fiscal Data Package, DCAT-AP); a beneficiary's own payments after a
one-time code (T1). Every public answer carries an ETag and Last-Modified and answers 304 to a
conditional request; downloads stream, page by page, never holding a dataset in memory."""
from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Iterator, Literal

from flask import Response, g, jsonify, request, stream_with_context, url_for
from flask_openapi3 import APIBlueprint, Tag
from pydantic import Field

from common.config import get_settings
from common.errors import FieldError
from gateway import problems
from gateway.auth import BEARER, BENEFICIARY, accepts_upload, beneficiary_token, requires
from gateway.openapi import file_response
from gateway.protection import client_key
from gateway.schemas import DatasetFileForm, Problem, RequestPart
from gateway.services import transparency
from services.transparency.api import (
    CATALOG, MAX_SEARCH_TERMS, MIN_TERM_LETTERS, csv_chunks, dcat_catalog, describe, fiscal_datapackage, json_chunks,
    ocds_release_package_chunks, search_terms,
)
from services.transparency.api import (
    ApprovedUpload, BeneficiarySession, CodeAccepted, Correction, DatasetDetail, DatasetList, MyPayments, NationalIdIn,
    PublicKey, RowPage, SessionIn, Spending, UploadList, UploadView, VersionRecord,
)
from services.transparency.api import APPROVES, HANDS_IN

bp = APIBlueprint("transparency", __name__, url_prefix="/api/v1",
                  abp_tags=[Tag(name="transparency", description="Shafaf: public datasets and each beneficiary's "
                                                                  "own payments")])

PUBLIC = {400: Problem, 404: Problem, 503: Problem, 504: Problem}
NOT_MODIFIED = {304: {"description": "not modified since the version the client has (If-None-Match / "
                                     "If-Modified-Since)"}}
SLUG = r"^[a-z][a-z0-9_]{1,40}$"
ROW_QUERY_KEYS = {"q", "sort", "order", "after", "limit", "version"}


class SlugPath(RequestPart):
    slug: str = Field(pattern=SLUG, max_length=41)


class VersionPath(SlugPath):
    version: int = Field(ge=1, le=1_000_000)


class VersionQuery(RequestPart):
    version: int | None = Field(None, ge=1, le=1_000_000, description="a published version (default: the latest)")


class RowsQuery(VersionQuery):
    q: str | None = Field(None, max_length=200, description=f"search: Persian or Arabic letters and digits alike; "
                          f"at most {MAX_SEARCH_TERMS} words of {MIN_TERM_LETTERS} letters or more")
    sort: str | None = Field(None, max_length=60, description="a sortable column")
    order: Literal["asc", "desc"] = "asc"
    after: str | None = Field(None, max_length=400, description="the `next` cursor of the previous page")
    limit: int = Field(20, ge=1, le=100)


class UploadPath(RequestPart):
    upload_id: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", max_length=36)


class SpendingQuery(RequestPart):
    by: Literal["line", "province", "month"] = "line"


class PaymentsQuery(RequestPart):
    after: str | None = Field(None, max_length=400)
    limit: int = Field(20, ge=1, le=100)



def _base() -> str:
    return get_settings().public_base_url.rstrip("/")


def _conditional(response: Response, last_modified: str | None) -> Response:
    """ETag from the body (or set by the caller), Last-Modified from the version; 304 when the client has it."""
    if last_modified:
        response.last_modified = datetime.fromisoformat(last_modified.replace("Z", "+00:00"))
    if not response.get_etag()[0]:
        response.add_etag()
    response.headers["Cache-Control"] = "public, max-age=60"
    return response.make_conditional(request)


def _json(body, last_modified: str | None) -> Response:
    return _conditional(jsonify(body), last_modified)


def _latest_of(items: list[dict]) -> str | None:
    stamps = [item["published_at"] for item in items if item.get("published_at")]
    return max(stamps) if stamps else None


# the catalogue ------------------------------------------------------------------------------------------
@bp.get("/transparency/datasets", responses={200: DatasetList, **NOT_MODIFIED, **PUBLIC})
def datasets():
    """Every dataset of the portal (SPEC T2-T12) with its latest version, publication date and formats."""
    items = transparency().datasets()
    return _json({"items": items}, _latest_of(items))


@bp.get("/transparency/datasets/<slug>", responses={200: DatasetDetail, **NOT_MODIFIED, **PUBLIC})
def dataset(path: SlugPath):
    """A dataset: title, description, publisher, licence, columns, and every version it had (a correction
    is a new version; none is ever edited)."""
    detail = transparency().dataset(path.slug)
    return _json(detail, detail["published_at"])


@bp.get("/transparency/datasets/<slug>/rows", responses={200: RowPage, **NOT_MODIFIED, **PUBLIC})
def rows(path: SlugPath, query: RowsQuery):
    """Search, filter, sort and page through a version's rows. Any filterable column is also a query
    parameter (`?province=tehran`): an exact match. `q` finds rows whose searchable columns contain every
    word, whether typed with Persian or Arabic letters and digits. Pages are keyset: follow `next`."""
    filters = {key: value for key, value in request.args.items() if key not in ROW_QUERY_KEYS}
    search_terms(query.q)  # a search the service would refuse costs no call
    page = transparency().rows(path.slug, {**query.model_dump(), "filters": filters})
    record = transparency().version(path.slug, page["version"])
    return _json(page, record["published_at"])


@bp.get("/transparency/datasets/<slug>/versions/<int:version>", responses={200: VersionRecord, **NOT_MODIFIED,
                                                                           **PUBLIC})
def version(path: VersionPath):
    """A version's record: its hashes and Ed25519 signature. Recompute `record_sha256` from the record's
    fields and `content_sha256` from the version's JSON download, and check the signature with
    /transparency/public-key (`python -m services.transparency.verify --api <base>` does it all)."""
    record = transparency().version(path.slug, path.version)
    return _json(record, record["published_at"])


@bp.get("/transparency/public-key", responses={200: PublicKey, **NOT_MODIFIED, 503: Problem, 504: Problem})
def public_key():
    """The organization's Ed25519 public key that every version's signature is checked with."""
    key = transparency().public_key()
    return _json(key, key["in_use_since"])


@bp.get("/transparency/spending", responses={200: Spending, **NOT_MODIFIED, **PUBLIC})
def spending(query: SpendingQuery):
    """What was paid to beneficiaries by budget line, province or month (households and rials), from the
    payment cycles' disbursements. A cell of fewer than 5 households is null, and so is its smallest
    complement, so that no total gives it away."""
    answer = transparency().spending(query.by)
    return _json(answer, answer["as_of"])


# downloads ---------------------------------------------------------------------------------------------
def _rows_of(slug: str, version: int) -> Iterator[dict]:
    after = 0
    while True:
        page = transparency().dump_page(slug, version, after)
        if not page:
            return
        for _, row in page:
            yield row
        after = page[-1][0]


def _download(slug: str, version: int | None, kind: str, mimetype: str, filename: str, make) -> Response:
    record = transparency().version(slug, version)
    etag = f"{record['record_sha256'][:40]}.{kind}"
    published = datetime.fromisoformat(record["published_at"].replace("Z", "+00:00"))
    if request.if_none_match.contains(etag) or (
            not request.if_none_match and request.if_modified_since and published.replace(microsecond=0)
            <= request.if_modified_since):
        response = Response(status=304)
    else:
        meta = describe(CATALOG[slug], version=record["version"], published_at=published,
                        sha256=record["content_sha256"])
        response = Response(stream_with_context(make(meta, _rows_of(slug, record["version"]))), mimetype=mimetype)
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.set_etag(etag)
    response.last_modified = published
    response.headers["Cache-Control"] = "public, max-age=60"
    response.headers["X-Dataset-Version"] = str(record["version"])
    return response


@bp.get("/transparency/datasets/<slug>/download.csv",
        responses={200: file_response("CSV (UTF-8 with BOM, so Excel shows Persian), streamed", "text/csv",
                                      {"type": "string"}, "\ufeffcontract_number,title\r\n1403-0012,خرید ویلچر\r\n"), **NOT_MODIFIED, **PUBLIC})
def download_csv(path: SlugPath, query: VersionQuery):
    """A version as CSV: one header row of column names (their Persian titles are in the metadata)."""
    _known(path.slug)
    return _download(path.slug, query.version, "csv", "text/csv; charset=utf-8", f"{path.slug}.csv",
                     lambda meta, rows: csv_chunks(CATALOG[path.slug], rows))


@bp.get("/transparency/datasets/<slug>/download.json",
        responses={200: file_response("JSON {dataset: metadata, rows: [...]}, streamed", "application/json",
                                      {"type": "object"}, {"dataset": {"slug": "contracts", "version": 2},
                                                           "rows": [{"contract_number": "1403-0012"}]}), **NOT_MODIFIED, **PUBLIC})
def download_json(path: SlugPath, query: VersionQuery):
    """A version as JSON with its metadata. Its rows, each as canonical JSON and a newline, hash to the
    version's `content_sha256`."""
    _known(path.slug)
    return _download(path.slug, query.version, "json", "application/json", f"{path.slug}.json",
                     lambda meta, rows: json_chunks(CATALOG[path.slug], rows, meta))


@bp.get("/transparency/datasets/contracts/ocds.json",
        responses={200: file_response("an OCDS 1.1 release package, streamed", "application/json", {"type": "object"},
                                      {"version": "1.1", "releases": [{"ocid": "ocds-ir8bhz-1403-0012"}]}), **NOT_MODIFIED, **PUBLIC})
def contracts_ocds(query: VersionQuery):
    """The contracts as an Open Contracting Data Standard 1.1 release package (one release per contract)."""
    def package(meta, rows):
        return ocds_release_package_chunks(rows, {
            "uri": _base() + url_for("transparency.contracts_ocds", version=meta["version"]),
            "published_at": meta["published_at"]["iso"], "version": meta["version"]})

    return _download("contracts", query.version, "ocds", "application/json", "contracts-ocds.json", package)


@bp.get("/transparency/datasets/budget/datapackage.json",
        responses={200: file_response("a Fiscal Data Package descriptor", "application/json", {"type": "object"},
                                      {"profile": "fiscal-data-package", "name": "behzisti-budget-1405"}), **NOT_MODIFIED, **PUBLIC})
def budget_datapackage(query: VersionQuery):
    """The budget and its 16 lines as a Fiscal Data Package: the descriptor, whose resource is this
    version's CSV download."""
    record = transparency().version("budget", query.version)
    csv_url = _base() + url_for("transparency.download_csv", slug="budget", version=record["version"])
    meta = {"version": record["version"], "published_at": record["published_at"]}
    return _json(fiscal_datapackage(list(_rows_of("budget", record["version"])), meta, csv_url),
                 record["published_at"])


@bp.get("/transparency/catalog.jsonld",
        responses={200: file_response("a DCAT-AP catalog in JSON-LD", "application/ld+json", {"type": "object"},
                                      {"@context": {"dcat": "http://www.w3.org/ns/dcat#"},
                                       "@graph": [{"@type": "dcat:Catalog"}]}), **NOT_MODIFIED,
                   503: Problem, 504: Problem})
def catalog():
    """Every dataset and its distributions as a DCAT-AP catalog, for the ministry's other transparency
    systems to harvest (SPEC T11)."""
    items = transparency().datasets()
    entries = [{"dataset": CATALOG[item["slug"]], "version": item["version"], "published_at": item["published_at"],
                "sha256": item["content_sha256"]} for item in items if item["version"]]
    response = Response(json.dumps(dcat_catalog(entries, _base()), ensure_ascii=False),
                        mimetype="application/ld+json")
    return _conditional(response, _latest_of(items))


def _known(slug: str) -> None:
    if slug not in CATALOG:
        raise problems.Problem(404, "dataset_not_found", "Not found", "چنین مجموعه‌داده‌ای منتشر نشده است.",
                               f"no dataset {slug!r}")


# a beneficiary's own payments (SPEC T1) ------------------------------------------------------------------
@bp.post("/transparency/me/code", responses={202: CodeAccepted, 400: Problem, 429: Problem, 503: Problem,
                                            504: Problem})
def request_code(body: NationalIdIn):
    """Ask for a one-time code: it is texted to the mobile the payments registry has for this national ID.
    The answer is the same whether or not the national ID receives payments, and whether or not a code was
    sent (at most 3 a mobile in 10 minutes; none once the mobile had 10 wrong codes in 24 hours). This is
    the only route that issues a beneficiary's login code."""
    transparency().request_code(body.model_dump(), client_key())
    response = jsonify({"accepted": True, "message_fa": "اگر این کد ملی از بهزیستی مستمری یا کمک دریافت کند، کد "
                                                        "یک‌بار مصرف به شماره همراه ثبت‌شده در پرونده پیامک شد."})
    response.status_code = 202
    return response


@bp.post("/transparency/me/session", responses={200: BeneficiarySession, 400: Problem, 401: Problem,
                                               429: Problem, 503: Problem, 504: Problem})
def open_session(body: SessionIn):
    """Trade the national ID and the one-time code for a short session (a bearer token) that opens only
    this person's own payments. A wrong or expired code, or a national ID with no payments: 401."""
    checked = transparency().check_code(body.model_dump())
    if not checked["verified"]:
        message = "کد ملی یا کد تأیید درست نیست یا کد منقضی شده است؛ در صورت نیاز کد تازه بخواهید."
        detail = "wrong, used or expired one-time code"
        raise problems.Problem(401, "invalid_code", "Unauthenticated", message, detail,
                               errors=[FieldError("code", "invalid_code", message, detail)])
    token, seconds = beneficiary_token(checked["national_id"], get_settings())
    response = jsonify({"token": token, "token_type": "Bearer", "expires_in": seconds})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/transparency/me/payments", security=BEARER, responses={200: MyPayments, 400: Problem, 401: Problem,
                                                                 403: Problem, 503: Problem, 504: Problem})
@requires(BENEFICIARY)
def my_payments(query: PaymentsQuery):
    """Every payment made to me since 1391, newest first: date (Jalali beside ISO), budget line, amount,
    account (masked), status. Only with the session from /transparency/me/session (a staff token: 403)."""
    response = jsonify(transparency().my_payments(g.principal, query.after, query.limit))
    response.headers["Cache-Control"] = "private, no-store"
    return response


# corrections ---------------------------------------------------------------------------------------------
@bp.post("/staff/transparency/datasets/<slug>/corrections", security=BEARER,
         responses={201: VersionRecord, 400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem,
                    422: Problem, 503: Problem, 504: Problem})
@requires("admin")
def correct(path: SlugPath, body: Correction):
    """Publish a correction: a new version with these rows in place of those with the same key. What was
    published stays published; the note says what changed."""
    response = jsonify(transparency().correct(g.principal, path.slug, body.model_dump()))
    response.status_code = 201
    return response


# units hand in datasets (SPEC T10, T11): an HQ unit uploads, another person approves ------------------------
@bp.post("/staff/transparency/datasets/<slug>/uploads", security=BEARER,
         responses={201: UploadView, 400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem,
                    413: Problem, 503: Problem, 504: Problem})
@requires(*HANDS_IN)
@accepts_upload
def hand_in(path: SlugPath, form: DatasetFileForm):
    """Hand in a dataset's whole file (an HQ unit's head or expert). It is checked against the dataset's columns:
    Persian or Arabic digits and letters and Jalali dates (۱۴۰۳/۰۵/۱۲) are understood, the `…_jalali` columns
    are made from their dates. Any error is a 400 naming every one with its `line` (the header is line 1),
    `column` and a Persian message, and nothing is kept; with none, the file waits for another person's
    approval. A dataset built from events takes no file (409)."""
    response = jsonify(transparency().hand_in(g.principal, path.slug, form.file.filename or "",
                                              base64.b64encode(form.file.read()).decode(), form.note))
    response.status_code = 201
    return response


@bp.get("/staff/transparency/uploads", security=BEARER,
        responses={200: UploadList, 401: Problem, 403: Problem, 503: Problem, 504: Problem})
@requires(*sorted({*HANDS_IN, *APPROVES}))
def uploads():
    """The newest files handed in, those waiting for approval first."""
    return jsonify(transparency().uploads(g.principal))


@bp.post("/staff/transparency/uploads/<upload_id>/approve", security=BEARER,
         responses={200: ApprovedUpload, 400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem,
                    503: Problem, 504: Problem})
@requires(*APPROVES)
def approve_upload(path: UploadPath):
    """Publish a waiting file as the dataset's next signed version (an HQ unit head or the administrator, never
    the one who uploaded it: 403 `same_person`). A file whose rows are the latest version's: 409."""
    return jsonify(transparency().approve_upload(g.principal, path.upload_id))
