"""What the transparency service accepts and answers (the gateway documents its routes with these)."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from common.errors import FieldError, InvalidRequest
from common.text import normalise, persian_digits
from common.validation import RequiredNationalId
from common.validation import OneTimeCodeText

# Who hands in a dataset's file and who publishes it (submissions.py): a unit at HQ keeps each national dataset,
# and another person publishes it
HANDS_IN = ("hq_head", "hq_expert")
APPROVES = ("hq_head", "admin")


class NationalIdIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"national_id": "0499370899"}]})

    national_id: RequiredNationalId = Field(description="ten digits with the check digit; Persian digits accepted")


class SessionIn(NationalIdIn):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"national_id": "0499370899", "code": "482917"}]})

    code: OneTimeCodeText = Field(description="the one-time code texted to the mobile on record")


class Correction(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "note": "نام مدیر کل استان البرز اصلاح شد", "rows": [{"manager_id": "m-0007", "full_name": "مریم احمدی"}]}]})

    note: str = Field(min_length=5, max_length=500, description="what is corrected and why (published with the version)")
    rows: list[dict] = Field(min_length=1, max_length=1000,
                             description="whole rows, each with the dataset's key: they replace the rows with that key "
                                         "(or are added)")


class UploadNote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=500, description="what this file changes (published with the version)")


VERSION_EXAMPLE = {"slug": "contracts", "version": 2, "published_at": "2026-11-26T09:00:00.000000Z", "row_count": 22000,
    "content_sha256": "3f" * 32, "prev_sha256": "a1" * 32, "note": "اصلاح مبلغ قرارداد ۱۴۰۳-۰۰۱۲ (اصلاح: admin)",
    "record_sha256": "9c" * 32, "signature": "bWFkZS11cC1zaWduYXR1cmU="}
SUMMARY_EXAMPLE = {
    "slug": "contracts", "title_fa": "قراردادها، تفاهم‌نامه‌ها و موافقت‌نامه‌ها", "description_fa": "همهٔ قراردادهای سازمان",
    "spec": "T3", "theme": "GOVE", "keywords_fa": ["قرارداد"], "publisher_fa": "سازمان بهزیستی کشور",
    "licence": "CC-BY-4.0", "version": 2, "published_at": "2026-11-26T09:00:00.000000Z",
    "published_at_fa": "۱۴۰۵/۰۹/۰۵ ۱۲:۳۰", "row_count": 22000, "content_sha256": "3f" * 32,
    "formats": ["csv", "json", "ocds"]}


def _examples(*examples) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class CodeAccepted(BaseModel):
    model_config = _examples({"accepted": True, "message_fa": "اگر این کد ملی از بهزیستی مستمری بگیرد، کد پیامک شد."})

    accepted: bool = True
    message_fa: str


class BeneficiarySession(BaseModel):
    model_config = _examples({"token": "eyJhbGciOiJIUzI1NiJ9.e30.x", "token_type": "Bearer", "expires_in": 600})

    token: str
    token_type: str = "Bearer"
    expires_in: int


class MyPayment(BaseModel):
    order_id: str
    paid_on: str
    paid_on_fa: str
    month: str
    budget_line: str
    budget_line_fa: str
    amount_rials: int
    account_masked: str
    status: str
    status_fa: str


class MyPayments(BaseModel):
    model_config = _examples({"items": [{
        "order_id": "1405090499370899c71b3c61654f", "paid_on": "2026-11-26", "paid_on_fa": "۱۴۰۵/۰۹/۰۵", "month": "1405-09",
        "budget_line": "pension_disability", "budget_line_fa": "مستمری خانوارهای دارای معلول", "amount_rials": 12500000,
        "account_masked": "IR** **** **** **** **** **12 34", "status": "paid", "status_fa": "واریز شد"}], "next": None})

    items: list[MyPayment]
    next: str | None


class Choice(BaseModel):
    value: str = Field(description="the code the filter sends (`tehran`)")
    title_fa: str = Field(description="its Persian name, as the rows name it (تهران)")


class Column(BaseModel):
    name: str
    title_fa: str
    type: str
    searchable: bool
    filterable: bool
    sortable: bool
    choices: list[Choice] | None = Field(None, description="a filterable code column: every value of the latest "
                                                            "version with its Persian name")


class VersionRecord(BaseModel):
    model_config = _examples(VERSION_EXAMPLE)

    slug: str
    version: int
    published_at: str
    row_count: int
    content_sha256: str
    prev_sha256: str
    note: str
    record_sha256: str
    signature: str


class DatasetSummary(BaseModel):
    slug: str
    title_fa: str
    description_fa: str
    spec: str
    theme: str
    keywords_fa: list[str]
    publisher_fa: str
    licence: str
    version: int | None
    published_at: str | None
    published_at_fa: str | None
    row_count: int | None
    content_sha256: str | None
    formats: list[str]


class DatasetList(BaseModel):
    model_config = _examples({"items": [SUMMARY_EXAMPLE]})

    items: list[DatasetSummary]


class DatasetDetail(DatasetSummary):
    model_config = _examples({**SUMMARY_EXAMPLE, "key": "contract_number", "columns": [
        {"name": "contract_number", "title_fa": "شماره قرارداد", "type": "string", "searchable": True,
         "filterable": False, "sortable": True}], "versions": [VERSION_EXAMPLE]})

    columns: list[Column]
    key: str
    versions: list[VersionRecord]


class RowPage(BaseModel):
    model_config = _examples({"items": [{"center_id": "prov.alborz.county.karaj.center.omid",
                                         "name": "مرکز توانبخشی معلولان امید کرج", "province": "alborz"}],
                              "next": "WyIwIiwyMF0", "version": 1})

    items: list[dict]
    next: str | None
    version: int
    matched: int | None = Field(None, description="on the first page of a search or filter: how many rows it "
                                                   "finds in all, counted up to 10,000")
    matched_capped: bool | None = Field(None, description="true: more than `matched` rows are found")


class SpendingCell(BaseModel):
    key: str
    title_fa: str
    households: int | None = Field(description="null: suppressed (too few people to publish)")
    amount_rials: int | None


class Spending(BaseModel):
    model_config = _examples({"by": "line", "threshold": 5, "as_of": "2026-11-26T09:00:00.000000Z",
                              "households": 1542000, "amount_rials": 19275000000000,
                              "cells": [{"key": "pension_disability", "title_fa": "مستمری خانوارهای دارای معلول",
                                         "households": 612000, "amount_rials": 7650000000000}]})

    by: str
    threshold: int
    as_of: str | None = Field(description="when the last payment counted here arrived (null: none yet)")
    households: int | None
    amount_rials: int | None
    cells: list[SpendingCell]


class PublicKey(BaseModel):
    model_config = _examples({"algorithm": "Ed25519", "encoding": "base64 of the raw 32-byte public key",
                              "in_use_since": "2026-11-26T09:00:00.000000Z",
                              "public_key": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
                              "signed": "the record_sha256 of each version (its hex text, UTF-8)"})

    algorithm: str
    encoding: str
    in_use_since: str | None = Field(description="the first version signed with this key (null: none yet)")
    public_key: str
    signed: str


# a Shafaf search: a few words (the gateway refuses more before any call; the service checks again)
MAX_SEARCH_TERMS = 5
MIN_TERM_LETTERS = 2


def search_terms(q: str | None) -> list[str]:
    """The words of `q`, normalised, each once; a 400 naming `q` when there are too many or one is too short."""
    words = list(dict.fromkeys(normalise(q).split(" "))) if q and normalise(q) else []
    if len(words) > MAX_SEARCH_TERMS:
        raise InvalidRequest([FieldError("q", "too_many_terms",
                                         f"حداکثر {persian_digits(MAX_SEARCH_TERMS)} واژه جستجو کنید.",
                                         f"at most {MAX_SEARCH_TERMS} words, got {len(words)}")])
    short = [w for w in words if len(w) < MIN_TERM_LETTERS]
    if short:
        raise InvalidRequest([FieldError("q", "term_too_short",
                                         f"هر واژهٔ جستجو دست‌کم {persian_digits(MIN_TERM_LETTERS)} حرف باشد.",
                                         f"every word at least {MIN_TERM_LETTERS} characters: {' '.join(short)!r}")])
    return words


STAMP_EXAMPLE = {"iso": "2026-12-10T08:30:00Z", "jalali": "۱۴۰۵/۰۹/۱۹ ۱۲:۰۰"}
UPLOAD_EXAMPLE = {
    "id": "5b0c7a4e-0f7e-4a55-9d8e-2f3b1c6d7e8f", "slug": "managers", "title_fa": "مدیران", "filename": "managers.xlsx",
    "note": "مدیران منصوب آذر ۱۴۰۵", "row_count": 412, "uploaded_by": "6f1c2b9e-7d5a-4c1b-9a8e-2f3d4c5b6a7e",
    "uploaded_by_name": "rehab.expert", "uploaded_at": STAMP_EXAMPLE, "status": "pending", "decided_by_name": None,
    "decided_at": None, "version": None}


class Stamp(BaseModel):
    iso: str
    jalali: str


class UploadView(BaseModel):
    model_config = _examples(UPLOAD_EXAMPLE)

    id: str
    slug: str
    title_fa: str
    filename: str
    note: str
    row_count: int
    uploaded_by: str = Field(description="the uploader's staff id (another person approves)")
    uploaded_by_name: str
    uploaded_at: Stamp
    status: str = Field(description="pending | approved | superseded (a newer file for the same dataset came)")
    decided_by_name: str | None = None
    decided_at: Stamp | None = None
    version: int | None = Field(None, description="the version its approval published")


class FileColumn(BaseModel):
    name: str
    title_fa: str
    type: str
    required: bool = Field(description="false: the column may be left out of the file, or its cells empty")


class HandedInDataset(BaseModel):
    slug: str
    title_fa: str
    columns: list[FileColumn] = Field(description="the columns a file carries (the `…_jalali` ones are made)")


class UploadList(BaseModel):
    model_config = _examples({"items": [UPLOAD_EXAMPLE], "datasets": [{"slug": "managers", "title_fa": "مدیران", "columns": [
        {"name": "manager_id", "title_fa": "شناسه", "type": "string", "required": True}]}]})

    items: list[UploadView]
    datasets: list[HandedInDataset] = Field(description="the datasets units hand in")


class ApprovedUpload(UploadView):
    model_config = _examples({**UPLOAD_EXAMPLE, "status": "approved", "decided_by_name": "rehab.head",
                              "decided_at": STAMP_EXAMPLE, "version": 3, "published": VERSION_EXAMPLE})

    published: VersionRecord
