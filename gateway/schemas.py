"""Models of what the gateway itself answers (errors, health); the services' own request and response
models live beside them (e.g. services/complaints/schemas.py)."""
from __future__ import annotations

import copy
import functools
from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

from flask_openapi3 import FileStorage
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from common.validation import FreeText, Mobile, Printable, PrintableInSchema


class RequestPart(BaseModel):
    """A header, path or query model. flask-openapi3 asks such a model for its JSON schema on every
    request; the schema never changes, so it is computed once."""

    @classmethod
    def model_json_schema(cls, *args, **kwargs):
        return copy.deepcopy(_schema_of(cls, *args, **kwargs))


@functools.cache
def _schema_of(model, *args, **kwargs):
    return BaseModel.model_json_schema.__func__(model, *args, **kwargs)


class FieldProblem(BaseModel):
    field: str = Field(description="the field at fault: a JSON path in the body, or a header name",
                       examples=["mobile"])
    code: str = Field(examples=["invalid_mobile"])
    message: str = Field(description="for people, in Persian", examples=["شماره تلفن همراه معتبر نیست."])
    detail: str = Field(description="for developers, in English")
    line: int | None = Field(None, description="in an uploaded file: the line at fault as a spreadsheet numbers it "
                                               "(the header is line 1)")
    column: str | None = Field(None, description="in an uploaded file: the column at fault")


class Problem(BaseModel):
    """application/problem+json (RFC 9457)."""
    model_config = ConfigDict(json_schema_extra={"examples": [{"type": "urn:behzisti:problem:validation_failed", "title": "Invalid request", "status": 400, "code": "validation_failed", "message": "اطلاعات فرستاده‌شده کامل یا درست نیست؛ موارد مشخص‌شده را اصلاح کنید.", "detail": "mobile: mobile must be an Iranian mobile number", "instance": "/api/v1/cases", "request_id": "4740d2ef2a224267b799a44e0b6d24b1", "errors": [{"field": "mobile", "code": "invalid_mobile", "message": "شماره تلفن همراه معتبر نیست.", "detail": "mobile must be an Iranian mobile number"}]}]})


    type: str = Field(examples=["urn:behzisti:problem:validation_failed"])
    title: str
    status: int
    code: str = Field(description="stable, for programs to branch on", examples=["validation_failed"])
    message: str = Field(description="for people, in Persian")
    detail: str = Field(description="for developers, in English")
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldProblem] | None = None


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok", "checks": {"broker": "ok", "service:complaints": "ok"}}]})

    status: str = Field(examples=["ok"])
    checks: dict[str, str] | None = None


class SchemaList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"schemas": ["/api/v1/events/schemas/ir.behzisti.complaints.case.registered.v1.json"]}]})

    schemas: list[str]


class TrackingCodePath(RequestPart):
    tracking_code: str = Field(max_length=64, description="16 digits; Persian digits, spaces and dashes accepted")


class CaseSecretHeader(RequestPart):
    case_secret: Annotated[str | None, WithJsonSchema({"type": "string", "maxLength": 64})] = Field(
        None, alias="X-Case-Secret", max_length=64, description="the secret of an anonymous report")


class SchemaPath(RequestPart):
    name: str = Field(max_length=200, description="e.g. ir.behzisti.complaints.case.registered.v1")


class IdempotencyHeader(RequestPart):
    # an HTTP header is never null: the document says string, and an empty one counts as absent
    idempotency_key: Annotated[str | None, BeforeValidator(lambda v: v or None if isinstance(v, str) else v),
                               WithJsonSchema({"type": "string", "minLength": 8, "maxLength": 128,
                                               "pattern": r"^[A-Za-z0-9._:-]+$"})] = Field(
        None, alias="Idempotency-Key", min_length=8, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$",
        description="Send a fresh random key (a UUID) with every new thing you create, and the same key "
                    "when you retry: the retry gets the first answer and nothing is created twice. "
                    "The same key with another body is refused with 422.")


PRINCIPAL_EXAMPLE = {"kind": "staff", "id": "6f1c2a9e-8d5b-4c3a-9e7f-1b2d3c4e5f60", "username": "rey.expert", "full_name": "کارشناس بهزیستی ری", "role": "county_expert", "unit": "prov.tehran.county.rey", "credentials_version": 1}


class LoginBody(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"username": "rey.expert", "password": "Behzisti-1405-demo"}]})

    username: Annotated[str, Field(min_length=1, max_length=100), Printable, PrintableInSchema]
    password: str = Field(min_length=1, max_length=200)


class PasswordChangeBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"username": "rey.expert", "password": "the-password-an-admin-gave", "new_password": "a-new-long-password"}]})

    username: Annotated[str, Field(min_length=1, max_length=100), Printable, PrintableInSchema]
    password: str = Field(min_length=1, max_length=200, description="the current password")
    new_password: str = Field(min_length=12, max_length=200)


class RefreshBody(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"refresh_token": "n3Jk0c8s9dQm2Zb7xYwV4tPq1rLs6uHf"}]})

    refresh_token: str = Field(min_length=16, max_length=200)


class Principal(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PRINCIPAL_EXAMPLE]})

    kind: str = Field(description="staff or integrator")
    id: str
    username: str
    full_name: str
    role: str
    unit: str
    credentials_version: int
    scopes: list[str] | None = Field(None, description="an integrator key's scopes")


class TokenPair(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI2ZjFjIn0.c2lnbmF0dXJl", "token_type": "Bearer", "expires_in": 300, "refresh_token": "n3Jk0c8s9dQm2Zb7xYwV4tPq1rLs6uHf", "principal": PRINCIPAL_EXAMPLE}]})

    access_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="seconds")
    refresh_token: str
    principal: Principal


class StaffAccountPath(RequestPart):
    staff_id: str = Field(max_length=64)


class RevokeBody(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "کارتابل ۴۸ ساعت باز نشده است"}]})

    reason: FreeText(3, 500)


class RestoreBody(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"new_password": "a-new-long-password"}]})

    new_password: str = Field(min_length=12, max_length=200)


class PasswordResetPath(RequestPart):
    reset_id: str = Field(max_length=64)


PENDING_RESET_EXAMPLE = {
    "id": "0b5e1c9e-8f3a-4a59-9d1e-3c2f1b7a6d10", "state": "pending", "staff_id": "6f1c2a9e-8d5b-4c3a-9e7f-1b2d3c4e5f60",
    "username": "finance.approver", "full_name": "تأییدکنندهٔ پرداخت", "role": "finance_approver",
    "requested_by": "admin", "requested_at": "2026-12-06T08:00:00+00:00", "expires_at": "2026-12-07T08:00:00+00:00"}


class PendingReset(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PENDING_RESET_EXAMPLE]})

    id: str
    state: Literal["pending", "applied", "replaced"]
    staff_id: str
    username: str
    full_name: str
    role: str
    requested_by: str = Field(description="the administrator who asked for it")
    requested_at: str
    expires_at: str = Field(description="not approved by then, it lapses")


class PendingResetList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [PENDING_RESET_EXAMPLE]}]})

    items: list[PendingReset]


class PageQuery(RequestPart):
    limit: int = Field(20, ge=1, le=100)
    after: str | None = Field(None, max_length=200, pattern=r"^[A-Za-z0-9_-]*$",
                              description="from the `next` link of the previous page")


class CaseListQuery(PageQuery):
    mobile: Mobile = Field(None, description="only the cases this mobile reported (hotline operators and "
                                             "inspection roles: a caller asks about their cases)")


class AccountsQuery(RequestPart):
    revoked: bool = Field(False, description="only accounts whose access is revoked")


class StaffAccount(BaseModel):
    id: str
    username: str
    full_name: str
    role: str
    unit: str
    active: bool
    revoked_reason: str | None = None
    last_cartable_at: str | None = None


class StaffAccountList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [{
        "id": "6f1c2a9e-8d5b-4c3a-9e7f-1b2d3c4e5f60", "username": "rey.head", "full_name": "رئیس اداره بهزیستی ری",
        "role": "county_head", "unit": "prov.tehran.county.rey", "active": False,
        "revoked_reason": "۴۸ ساعت کارتابل باز نشد", "last_cartable_at": "2026-11-24T06:00:00Z"}]}]})

    items: list[StaffAccount]


class DeadlineRule(BaseModel):
    urgency: Literal["urgent", "normal"]
    level: Literal["hq", "hq_unit", "province", "province_unit", "county", "center"]
    minutes: int = Field(ge=1, le=60 * 24 * 30)
    warn_fraction: float = Field(0.8, gt=0, lt=1)


class DeadlinePolicies(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [
        {"urgency": "urgent", "level": "county", "minutes": 180, "warn_fraction": 0.8}]}]})

    items: list[DeadlineRule] = Field(min_length=1, max_length=12)


class ApiKeyBody(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "سامانهٔ پایش وزارت", "scopes": ["cases:read"]}]})

    name: Annotated[str, Field(min_length=3, max_length=100), Printable, PrintableInSchema]
    scopes: list[Literal["cases:read", "open311:write"]] = Field(min_length=1, max_length=10)


class ApiKeyView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"id": "0b7e2d4c-1a3f-4e5d-8c9b-6a7f8e9d0c1b", "name": "سامانهٔ پایش وزارت", "prefix": "9f2c4e1a", "scopes": ["cases:read"], "revoked": False}]})

    id: str
    name: str
    prefix: str
    scopes: list[str]
    revoked: bool


class IssuedApiKey(ApiKeyView):
    model_config = ConfigDict(json_schema_extra={"examples": [{"id": "0b7e2d4c-1a3f-4e5d-8c9b-6a7f8e9d0c1b", "name": "سامانهٔ پایش وزارت", "prefix": "9f2c4e1a", "scopes": ["cases:read"], "revoked": False, "key": "bzk_9f2c4e1a_Q2hhbmdlLW1lLWJlZm9yZS11c2UtMDEyMzQ1Njc4OQ"}]})

    key: str = Field(description="shown once: send it as X-API-Key")


class SweepFailurePath(RequestPart):
    sweep: Literal["warn_due", "escalate_overdue", "close_answered", "revoke_inactive"]
    subject_id: str = Field(max_length=64, description="the case's id, or the staff member's (revoke_inactive)")


class ApiKeyPath(RequestPart):
    key_id: str = Field(max_length=64)


class CaseFilePath(RequestPart):
    tracking_code: str = Field(max_length=64)
    file_id: str = Field(max_length=64)


class UploadForm(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"file": "receipt.pdf"}]})

    file: FileStorage = Field(description="PDF, JPEG, PNG, WebP, MP3, OGG, M4A or MP4; at most 10 MB; "
                                          "the type is read from the content, not the name")


class DatasetFileForm(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"file": "managers.xlsx", "note": "مدیران منصوب آذر"}]})

    file: FileStorage = Field(description="the dataset's whole file: CSV (UTF-8 or Windows-1256) or XLSX (its first "
                                          "sheet), a header of column names or Persian titles, then one row per line; "
                                          "at most 10 MB")
    note: str = Field("", max_length=500, description="what this file changes (published with the version)")


class PeriodQuery(RequestPart):
    start: datetime | None = Field(None, alias="from", description="ISO 8601; default: 30 days before `to`")
    end: datetime | None = Field(None, alias="to", description="ISO 8601, exclusive; default: now")

    def bounds(self) -> tuple[str, str]:
        end = _aware(self.end) or datetime.now(timezone.utc)
        start = _aware(self.start) or end - timedelta(days=30)
        return start.isoformat(), end.isoformat()


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


class Dashboard(BaseModel):
    """Counts and rates over the caller's subtree for the period (SPEC C15)."""
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "scope": "prov.tehran", "scope_fa": "اداره کل بهزیستی استان تهران", "from": "2026-10-27T00:00:00Z",
        "to": "2026-11-26T00:00:00Z", "total": 12, "by_kind": [{"key": "complaint", "label_fa": "شکایت", "count": 9}],
        "by_category": [], "by_center": [], "by_status": [], "on_time_by_unit": [], "on_time_by_manager": [],
        "misses": {"count": 1, "by_unit": []}, "top_problems": []}]})

    scope: str
    total: int


class Scorecards(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [{
        "manager_id": "6f1c2a9e-8d5b-4c3a-9e7f-1b2d3c4e5f60", "name": "رئیس اداره بهزیستی ری", "unit": "prov.tehran.county.rey",
        "hops": 10, "on_time": 8, "missed": 2, "score": 70}]}]})

    items: list[dict]


class OrgUnitQuery(RequestPart):
    kind: Literal["hq", "hq_unit", "province", "province_unit", "county", "center"] | None = None
    parent: str | None = Field(None, max_length=200, description="only the children of this unit")


class OrgUnit(BaseModel):
    id: str
    parent: str | None = None
    kind: str
    name_fa: str
    center_type: str | None = None
    operator: str | None = Field(None, description="a center's: state or ngo")


class Category(BaseModel):
    code: str
    title_fa: str


class CategoryList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [{"code": "pension",
                                                                         "title_fa": "مستمری و کمک‌های مالی"}]}]})

    items: list[Category]


class OrgUnitList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [{
        "id": "prov.tehran.county.rey", "parent": "prov.tehran", "kind": "county", "name_fa": "اداره بهزیستی شهرستان ری"}]}]})

    items: list[OrgUnit]


# integrators: their models are notifications' (services/notifications/schemas.py) ---------------------------
class IntegratorPath(RequestPart):
    integrator_id: str = Field(max_length=64)
