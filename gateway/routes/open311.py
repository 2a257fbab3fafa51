"""Open311 GeoReport v2 over the complaints service, for third-party apps and aggregators (read the GeoReport
v2 specification for the shapes). Violation reports are never offered nor shown, and no personal field is
ever returned. Errors take the GeoReport shape: [{"code", "description"}].

A request's `service_request_id` is the case's own id, a UUID that opens nothing else; its tracking code,
the citizen's handle to follow and act on the case, is never listed: an app that registered a case gets it
as the request's `token` (and in the notice for the citizen), and asking by the token also returns where the
case is about (services/complaints/open311.py)."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Annotated

from flask import g, jsonify, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel, WithJsonSchema
from pydantic_core import PydanticCustomError

from common.errors import FieldError, InvalidRequest, NotFound
from common.text import persian_digits
from common.validation import parse
from gateway.auth import requires
from gateway.protection import idempotency
from gateway.schemas import IdempotencyHeader, RequestPart
from gateway.services import complaints
from services.complaints.api import PARTNER_APP_KINDS
from services.complaints.api import ADDRESS_MAX, LAT_RANGE, LONG_RANGE, MEDIA_URL_MAX, CaseIntake

WINDOW = timedelta(days=90)  # GeoReport v2: the default range of a listing, and the longest one asked
MAX_REQUESTS = 1000
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-06T00:00:00Z"  # when this endpoint's behaviour last changed

bp = APIBlueprint("open311", __name__, url_prefix="/open311/v2",
                  abp_tags=[Tag(name="open311", description="Open311 GeoReport v2 for third-party apps")])



class Service(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool = False
    type: str = "realtime"
    keywords: str = ""
    group: str = "behzisti"


class Services(RootModel[list[Service]]):
    model_config = ConfigDict(json_schema_extra={"examples": [[{"service_code": "complaint", "service_name": "شکایت", "description": "شکایت به سازمان بهزیستی", "metadata": False, "type": "realtime", "keywords": "complaint", "group": "behzisti"}]]})


class Definition(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"service_code": "complaint", "attributes": []}]})

    service_code: str
    attributes: list = Field(default_factory=list)


class Created(BaseModel):
    service_request_id: str
    token: str | None = None
    service_notice: str | None = None
    account_id: str | None = None


class CreatedList(RootModel[list[Created]]):
    model_config = ConfigDict(json_schema_extra={"examples": [[{"service_request_id": "4203917755102846", "token": "4203917755102846", "service_notice": "کد رهگیری شما 4203-9177-5510-2846 است."}]]})


class Request(BaseModel):
    service_request_id: str = Field(description="the case's own id (a UUID)")
    status: str = Field(description="open or closed")
    status_notes: str | None = None
    service_name: str
    service_code: str
    agency_responsible: str = "سازمان بهزیستی کشور"
    requested_datetime: str
    updated_datetime: str
    lat: float | None = Field(None, description="only when asked by the request's token: the app sent it")
    long: float | None = None
    address: str | None = None
    media_url: str | None = None


class Requests(RootModel[list[Request]]):
    model_config = ConfigDict(json_schema_extra={"examples": [[{"service_request_id": "0b7c9d2e-4f1a-4c3b-9e8d-7a6b5c4d3e2f", "status": "open", "status_notes": "ثبت شده، در انتظار بررسی", "service_name": "شکایت", "service_code": "complaint", "agency_responsible": "سازمان بهزیستی کشور", "requested_datetime": "2026-11-26T09:00:00+00:00", "updated_datetime": "2026-11-26T09:00:00+00:00"}]]})


class Endpoint(BaseModel):
    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class Discovery(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"changeset": CHANGESET, "contact": "open311@behzisti.example", "key_service": "an API key from the organization's administrators (scope open311:write)", "endpoints": [{"specification": SPECIFICATION, "url": "https://api.behzisti.example/open311/v2", "changeset": CHANGESET, "type": "production", "formats": ["application/json"]}]}]})

    changeset: str
    contact: str
    key_service: str
    endpoints: list[Endpoint]


class Token(BaseModel):
    service_request_id: str
    token: str


class Tokens(RootModel[list[Token]]):
    model_config = ConfigDict(json_schema_extra={"examples": [[{"service_request_id": "4203917755102846", "token": "4203917755102846"}]]})


class Open311Error(BaseModel):
    code: int
    description: str


class Open311Errors(RootModel[list[Open311Error]]):
    pass


class ServicePath(RequestPart):
    service_code: str = Field(max_length=50)


class RequestPath(RequestPart):
    service_request_id: str = Field(max_length=64)


class TokenPath(RequestPart):
    token: str = Field(max_length=64)


MAX_IDS = 5  # each id is a look-up; an app asks again for the next few


_LIST_OF_KINDS = "^({0})(,({0}))*$".format("|".join(PARTNER_APP_KINDS))
# GeoReport v2 date-times: ISO 8601 as the W3C note has it, with the offset (Z or ±HH:MM), as RFC 3339 does
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.IGNORECASE)


def _date_time(value):
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
        raise PydanticCustomError("invalid_date_time", "an ISO 8601 date-time with its offset",
                                  {"message_fa": "تاریخ و زمان به قالب ISO 8601 با منطقهٔ زمانی باشد، مانند "
                                                 "2026-11-01T00:00:00Z.", "detail": "e.g. 2026-11-01T00:00:00Z"})
    return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))


DateTime = Annotated[datetime, BeforeValidator(_date_time), WithJsonSchema({"type": "string", "format": "date-time"})]


class RequestsQuery(RequestPart):
    service_request_id: str | None = Field(None, max_length=300,
                                           description=f"one or more ids, comma-separated (at most {MAX_IDS}); "
                                                       "with it, the other filters are not used")
    service_code: str | None = Field(None, max_length=300, pattern=_LIST_OF_KINDS,
                                     description="one or more service codes, comma-separated")
    start_date: DateTime | None = Field(None, description="ISO 8601; the earliest registration to list")
    end_date: DateTime | None = Field(None, description="ISO 8601; the latest (by default: now, or 90 days after "
                                                        "start_date); a range longer than 90 days is cut to the 90 "
                                                        "days from start_date, one that ends before it lists nothing")
    status: str | None = Field(None, max_length=20, pattern=r"^(open|closed)(,(open|closed))?$",
                               description="open, closed, or both comma-separated")


class RequestForm(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"service_code": "complaint", "description": "نوبت مشاوره تلفنی داده نمی‌شود.", "first_name": "علی", "phone": "09121234567", "lat": 35.7, "long": 51.4, "api_key": "bzk_9f2c4e1a_…"}]})

    service_code: str = Field(max_length=50)
    description: str | None = Field(None, max_length=4000)
    first_name: str | None = Field(None, max_length=50)
    last_name: str | None = Field(None, max_length=50)
    phone: str | None = Field(None, max_length=20)
    email: str | None = Field(None, max_length=200, description="accepted, not stored")
    lat: float | None = Field(None, ge=LAT_RANGE[0], le=LAT_RANGE[1], description="WGS 84, in Iran; stored")
    long: float | None = Field(None, ge=LONG_RANGE[0], le=LONG_RANGE[1], description="WGS 84, in Iran; stored")
    address_string: str | None = Field(None, max_length=ADDRESS_MAX, description="stored")
    media_url: str | None = Field(None, max_length=MEDIA_URL_MAX, description="http(s); stored, not fetched")
    api_key: str | None = Field(None, max_length=200, description="or the X-API-Key header")


OPEN311_FIELDS = {"text": "description", "mobile": "phone", "name": "first_name", "kind": "service_code"}
ERRORS = {400: Open311Errors, 401: Open311Errors, 403: Open311Errors, 404: Open311Errors,
          429: Open311Errors, 503: Open311Errors, 504: Open311Errors}


@bp.get("/discovery.json", responses={200: Discovery})
def discovery():
    """GeoReport v2 service discovery: where this endpoint is, what it speaks, how to get a key."""
    base = request.host_url.rstrip("/")
    endpoint = Endpoint(specification=SPECIFICATION, url=f"{base}/open311/v2", changeset=CHANGESET,
                        type="production", formats=["application/json"])
    return jsonify(Discovery(changeset=CHANGESET, contact="open311@behzisti.example",
                             key_service="an API key with the scope open311:write, issued by the organization's "
                                         "administrators (POST /api/v1/staff/api-keys)",
                             endpoints=[endpoint]).model_dump())


@bp.get("/services.json", responses={200: Services})
def services():
    """The kinds of request a third-party app may send."""
    return jsonify([Service(service_code=code, service_name=name, description=f"{name} به سازمان بهزیستی",
                            keywords=code).model_dump() for code, name in PARTNER_APP_KINDS.items()])


@bp.get("/services/<service_code>.json", responses={200: Definition, 404: Open311Errors})
def service_definition(path: ServicePath):
    """A service's definition (no extra attributes)."""
    if path.service_code not in PARTNER_APP_KINDS:
        raise NotFound("service_not_found", "چنین خدمتی نیست.", f"no service {path.service_code}")
    return jsonify(Definition(service_code=path.service_code).model_dump())


@bp.post("/requests.json", responses={201: CreatedList, 422: Open311Errors, **ERRORS})
@requires(scope="open311:write")
def create_request(form: RequestForm, header: IdempotencyHeader):
    """Create a request (form-encoded, as GeoReport v2 says). The id is the tracking code."""
    if form.service_code not in PARTNER_APP_KINDS:
        raise NotFound("service_not_found", "چنین خدمتی نیست.", f"no service {form.service_code}")
    name = " ".join(p for p in (form.first_name, form.last_name) if p) or None
    try:
        intake = parse(CaseIntake, {"kind": form.service_code, "text": form.description or "",
                                    "channel": "partner_app", "name": name, "mobile": form.phone, "lat": form.lat,
                                    "long": form.long, "address_string": form.address_string,
                                    "media_url": form.media_url})
    except InvalidRequest as exc:  # name the fields as the app sent them
        raise InvalidRequest([{**e, "field": OPEN311_FIELDS.get(e["field"], e["field"])} for e in exc.errors]) from None
    case = complaints().register_case(intake.model_dump(exclude_none=True, exclude={"channel", "urgency"}),
                                      idempotency(header), g.principal)  # the key's app: partner_app
    code = case["tracking_code"]
    request_id = complaints().open311_request(code)["id"]
    response = jsonify([Created(service_request_id=request_id, token=code,
                                service_notice=f"کد رهگیری شما {case['tracking_code_display']} است.").model_dump()])
    response.status_code = 201
    return response


def _request(found: dict) -> dict:
    location = found.get("location") or {}
    return Request(service_request_id=found["id"], status=found["status"], status_notes=found["status_fa"],
                   service_name=found["kind_fa"], service_code=found["kind"],
                   requested_datetime=found["registered_at"], updated_datetime=found["updated_at"],
                   **location).model_dump(exclude_none=True)


def _is_request_id(value: str) -> bool:
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False


def _find(request_id: str) -> dict | None:
    """A request by its id or its token (the tracking code); None for what no app may see."""
    return complaints().open311_request(request_id)


def _listed(query: RequestsQuery) -> list[dict]:
    """The standard's listing: by service, registration date (at most 90 days) and status, newest first. The
    query's patterns have refused unknown codes and statuses already."""
    kinds = [c for c in (query.service_code or "").split(",") if c]
    statuses = sorted({s for s in (query.status or "").split(",") if s})
    try:
        # in UTC: ISO 8601 allows offsets (-16:36) PostgreSQL refuses ("time zone displacement out of range")
        start, end = (d if d is None else (d if d.tzinfo else d.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
                      for d in (query.start_date, query.end_date))
        if start is None:
            end = end or datetime.now(timezone.utc)
            start = end - WINDOW
        end = min(end or start + WINDOW, start + WINDOW)  # GeoReport v2: a range spans 90 days at most
    except OverflowError:  # 90 days before year 1 or after 9999: nobody registered a case then
        return []
    if end <= start:
        return []
    return complaints().open311_requests(kinds, start.isoformat(), end.isoformat(), statuses, MAX_REQUESTS)


@bp.get("/requests.json", responses={200: Requests, 400: Open311Errors})
def get_requests(query: RequestsQuery):
    """Requests by id (`service_request_id`, up to five), or the listing the standard describes: the last 90
    days by default, filtered by `service_code`, `start_date`/`end_date` (at most 90 days) and `status`, newest
    first, at most 1,000. Never a violation report, never a personal field."""
    if query.service_request_id is None:
        return jsonify([_request(found) for found in _listed(query)])
    ids = [i.strip() for i in query.service_request_id.split(",") if i.strip()]
    if len(ids) > MAX_IDS:
        raise InvalidRequest([FieldError("service_request_id", "too_many_ids",
                                         f"در هر درخواست حداکثر {persian_digits(MAX_IDS)} شناسه بفرستید.",
                                         f"at most {MAX_IDS} comma-separated ids per request, got {len(ids)}")])
    return jsonify([_request(found) for found in (_find(i) for i in ids) if found])


@bp.get("/requests/<service_request_id>.json", responses={200: Requests, 404: Open311Errors})
def get_request(path: RequestPath):
    """One request by its id, or by its token (then with where it is about, which the app sent)."""
    found = _find(path.service_request_id)
    if found is None:
        raise NotFound("request_not_found", "درخواستی با این شناسه نیست.", "no such service request")
    return jsonify([_request(found)])


@bp.get("/tokens/<token>.json", responses={200: Tokens, 404: Open311Errors})
def get_token(path: TokenPath):
    """The request id of a token (the tracking code POST answered as `token`)."""
    found = None if _is_request_id(path.token) else _find(path.token)
    if found is None:
        raise NotFound("token_not_found", "چنین نشانه‌ای نیست.", "no such token")
    return jsonify([Token(service_request_id=found["id"], token=path.token).model_dump()])


def as_open311_error(response):
    """after_request on /open311/: a problem+json answer becomes GeoReport's error list."""
    if response.mimetype == "application/problem+json":
        problem = response.get_json()
        errors = problem.get("errors") or [{"message": problem["message"], "detail": problem["detail"]}]
        body = [{"code": problem["status"], "description": f"{e.get('field', '')} {e['message']} ({e['detail']})".strip()}
                for e in errors]
        response.set_data(jsonify(body).get_data())
        response.mimetype = "application/json"
    return response

