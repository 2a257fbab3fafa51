"""Open311 GeoReport v2 over the complaints service, for third-party apps (read the GeoReport v2
specification for the shapes). Violation reports are never offered nor shown, and no personal
field is ever returned. Errors take the GeoReport shape: [{"code", "description"}]."""
from __future__ import annotations

from flask import current_app, g, jsonify
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field, RootModel

from common.errors import FieldError, InvalidRequest, NotFound
from common.text import persian_digits
from common.validation import parse
from gateway.auth import requires
from gateway.protection import idempotency
from gateway.schemas import IdempotencyHeader, RequestPart
from services.complaints.domain import PARTNER_APP_KINDS, normalise_tracking_code
from services.complaints.schemas import CaseIntake

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
    service_request_id: str
    status: str = Field(description="open or closed")
    status_notes: str | None = None
    service_name: str
    service_code: str
    requested_datetime: str
    updated_datetime: str


class Requests(RootModel[list[Request]]):
    model_config = ConfigDict(json_schema_extra={"examples": [[{"service_request_id": "4203917755102846", "status": "open", "status_notes": "ثبت شد", "service_name": "شکایت", "service_code": "complaint", "requested_datetime": "2026-11-26T09:00:00Z", "updated_datetime": "2026-11-26T09:00:00Z"}]]})


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


class RequestsQuery(RequestPart):
    service_request_id: str = Field(max_length=120, description=f"one or more ids, comma-separated (at most {MAX_IDS})")


class RequestForm(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"service_code": "complaint", "description": "نوبت مشاوره تلفنی داده نمی‌شود.", "first_name": "علی", "phone": "09121234567", "lat": 35.7, "long": 51.4, "api_key": "bzk_9f2c4e1a_…"}]})

    service_code: str = Field(max_length=50)
    description: str | None = Field(None, max_length=4000)
    first_name: str | None = Field(None, max_length=50)
    last_name: str | None = Field(None, max_length=50)
    phone: str | None = Field(None, max_length=20)
    email: str | None = Field(None, max_length=200, description="accepted, not stored")
    lat: float | None = Field(None, description="accepted, not yet stored")
    long: float | None = Field(None, description="accepted, not yet stored")
    address_string: str | None = Field(None, max_length=300, description="accepted, not yet stored")
    api_key: str | None = Field(None, max_length=200, description="or the X-API-Key header")


OPEN311_FIELDS = {"text": "description", "mobile": "phone", "name": "first_name", "kind": "service_code"}
ERRORS = {400: Open311Errors, 401: Open311Errors, 403: Open311Errors, 404: Open311Errors,
          429: Open311Errors, 503: Open311Errors, 504: Open311Errors}


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
                                    "channel": "partner_app", "name": name, "mobile": form.phone})
    except InvalidRequest as exc:  # name the fields as the app sent them
        raise InvalidRequest([{**e, "field": OPEN311_FIELDS.get(e["field"], e["field"])} for e in exc.errors]) from None
    case = current_app.extensions["rpc"].call("complaints", "register_case",
                                              intake.model_dump(exclude_none=True, exclude={"channel", "urgency"}),
                                              idempotency(header), g.principal)  # the key's app: partner_app
    code = case["tracking_code"]
    response = jsonify([Created(service_request_id=code, token=code,
                                service_notice=f"کد رهگیری شما {case['tracking_code_display']} است.").model_dump()])
    response.status_code = 201
    return response


def _request(case: dict) -> dict:
    last = case["timeline"][-1]["at"]["iso"] if case["timeline"] else case["registered_at"]["iso"]
    return Request(service_request_id=case["tracking_code"], status="closed" if case["status"] == "closed" else "open",
                   status_notes=case["status_fa"], service_name=case["kind_fa"], service_code=case["kind"],
                   requested_datetime=case["registered_at"]["iso"], updated_datetime=last).model_dump()


def _find(request_id: str) -> dict | None:
    code = normalise_tracking_code(request_id)
    if code is None:
        return None
    try:
        case = current_app.extensions["rpc"].call("complaints", "get_case", code)
    except NotFound:
        return None
    return None if case["kind"] not in PARTNER_APP_KINDS else case


@bp.get("/requests.json", responses={200: Requests, 400: Open311Errors})
def get_requests(query: RequestsQuery):
    """Requests by id. This jurisdiction does not list requests without ids: they are citizens' matters."""
    ids = [i.strip() for i in query.service_request_id.split(",") if i.strip()]
    if len(ids) > MAX_IDS:
        raise InvalidRequest([FieldError("service_request_id", "too_many_ids",
                                         f"در هر درخواست حداکثر {persian_digits(MAX_IDS)} شناسه بفرستید.",
                                         f"at most {MAX_IDS} comma-separated ids per request, got {len(ids)}")])
    return jsonify([_request(c) for c in (_find(i) for i in ids) if c])


@bp.get("/requests/<service_request_id>.json", responses={200: Requests, 404: Open311Errors})
def get_request(path: RequestPath):
    """One request by id."""
    case = _find(path.service_request_id)
    if case is None:
        raise NotFound("request_not_found", "درخواستی با این شناسه نیست.", "no such service request")
    return jsonify([_request(case)])


@bp.get("/tokens/<token>.json", responses={200: Tokens, 404: Open311Errors})
def get_token(path: TokenPath):
    """The request id of a token (requests are created at once here, so the token is the id)."""
    case = _find(path.token)
    if case is None:
        raise NotFound("token_not_found", "چنین نشانه‌ای نیست.", "no such token")
    return jsonify([Token(service_request_id=case["tracking_code"], token=case["tracking_code"]).model_dump()])


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

