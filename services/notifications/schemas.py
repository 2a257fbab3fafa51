"""What a one-time code request, a staff notification and an integrator's registration look like: used by the
gateway to answer the caller and by the service to check again (the gateway is not the only guard)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from common.events.catalog import BY_TYPE
from common.validation import OneTimeCodeText, Printable, PrintableInSchema, RequiredMobileNumber
from services.notifications import integrator_access

# Each purpose asked for through its own route: beneficiary_login by /transparency/me/code, case_reporter by
# /cases/{code}/reporter/code (the proof that the one acting on a named case holds the mobile it was
# registered with). A citizen_login purpose was texted by a public route and used by nothing: it is gone
# (issue 18).
PURPOSES = ("beneficiary_login", "case_reporter")
Purpose = Literal[PURPOSES]
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class CodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"mobile": "09121234567", "purpose": "beneficiary_login"}]})

    mobile: RequiredMobileNumber = Field(description="09xxxxxxxxx; +98 forms and Persian digits accepted")
    purpose: Purpose = Field(description="what the code is for")


class CodeCheck(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"mobile": "09121234567", "purpose": "beneficiary_login", "code": "۴۸۲۹۱۷"}]})

    mobile: RequiredMobileNumber = Field(description="the mobile the code was sent to")
    purpose: Purpose = Field(description="the purpose the code was asked for")
    code: OneTimeCodeText = Field(max_length=32)


NOTIFICATION_KINDS = ("case_in_cartable", "case_awaiting_approval", "case_returned", "deadline_warning",
                      "deadline_missed", "case_reopened", "access_revoked")
NOTIFICATION_EXAMPLE = {
    "id": "3c0f6a8e-2b1d-4e5f-9a7b-8c6d5e4f3a2b", "kind": "case_in_cartable", "tracking_code": "4203917755102846",
    "title": "پرونده تازه در کارتابل", "body": "پرونده 4203917755102846 به کارتابل شما رسید. مهلت رسیدگی: ۱۴۰۵/۰۹/۰۷ ۱۲:۳۰",
    "created_at": "2026-11-26T09:00:00Z", "created_at_fa": "۱۴۰۵/۰۹/۰۵ ۱۲:۳۰", "read": False}


class StaffNotificationView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [NOTIFICATION_EXAMPLE]})

    id: str
    kind: Literal[NOTIFICATION_KINDS]
    tracking_code: str | None = Field(None, description="the case it is about, if any")
    title: str = Field(description="Persian")
    body: str = Field(description="Persian")
    created_at: str = Field(description="ISO 8601, UTC")
    created_at_fa: str = Field(description="Jalali, Tehran time, Persian digits")
    read: bool


class StaffNotificationPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "items": [NOTIFICATION_EXAMPLE],
        "next": "/api/v1/staff/notifications?after=WyIyMDI2LTExLTI2VDA5OjAwOjAwKzAwOjAwIiwiM2MwZiJd&limit=20"}]})

    items: list[StaffNotificationView]
    next: str | None = Field(None, description="the link to the next page; absent on the last")


class UnreadCount(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"unread": 3}]})

    unread: int


class MarkRead(BaseModel):
    """Either some notifications by id, or all of the caller's."""
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"ids": ["3c0f6a8e-2b1d-4e5f-9a7b-8c6d5e4f3a2b"]}, {"all": True}]})

    ids: list[Annotated[str, Field(pattern=UUID_PATTERN)]] | None = Field(None, min_length=1, max_length=100)
    all: bool = Field(False, description="mark every notification of the caller read")

    @model_validator(mode="after")
    def _one_of(self):
        if bool(self.ids) == self.all:
            raise PydanticCustomError("ids_or_all", "send either ids or all: true",
                                      {"message_fa": "یا شناسهٔ اعلان‌ها را بفرستید یا all را true کنید.",
                                       "detail": "send either ids or all: true"})
        return self


class WebhookReplay(BaseModel):
    """Post again: some dead letters by id, or every delivery made since a time (within the 7 days kept)."""
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"ids": ["3c0f6a8e-2b1d-4e5f-9a7b-8c6d5e4f3a2b"]}, {"since": "2026-12-06T00:00:00+03:30"}]})

    ids: list[Annotated[str, Field(pattern=UUID_PATTERN)]] | None = Field(None, min_length=1, max_length=1000)
    since: AwareDatetime | None = Field(None, description="an ISO 8601 time with its offset")

    @model_validator(mode="after")
    def _one_of(self):
        if (self.ids is None) == (self.since is None):
            raise PydanticCustomError("ids_or_since", "send either ids or since",
                                      {"message_fa": "یا شناسهٔ تحویل‌ها را بفرستید یا زمان آغاز (since) را.",
                                       "detail": "send either ids or since"})
        return self


class MarkedRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"marked": 1, "unread": 2}]})

    marked: int = Field(description="notifications marked read by this request")
    unread: int = Field(description="the caller's unread notifications now")


# SMS operations -----------------------------------------------------------------------------------------
class ProviderPath(BaseModel):
    provider: Literal["kavenegar", "smsir"]


class ReceiptQuery(BaseModel):
    token: str = Field(min_length=8, max_length=200)


class ReceiptsTaken(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"receipts": 1, "changed": 1}]})

    receipts: int
    changed: int


class DeadLetter(BaseModel):
    id: str
    recipient_masked: str
    template: str
    template_version: int
    status: str
    attempts: int
    replays: int
    provider: str | None = None
    last_error: str | None = None
    cause_type: str
    created_at: str
    dead_lettered_at: str


class DeadLetterPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [{
        "id": "0b5e1c9e-8f3a-4a59-9d1e-3c2f1b7a6d10", "recipient_masked": "0912***4567",
        "template": "case_handed.citizen", "template_version": 1, "status": "undelivered", "attempts": 5,
        "replays": 0, "provider": "kavenegar", "last_error": "undelivered after 5 attempts",
        "cause_type": "ir.behzisti.complaints.case.referred.v1", "created_at": "2026-11-26T09:00:00Z",
        "dead_lettered_at": "2026-11-26T10:00:00Z"}], "next": None}]})

    items: list[DeadLetter]
    next: str | None = None


class Replay(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"ids": ["0b5e1c9e-8f3a-4a59-9d1e-3c2f1b7a6d10"]}]})

    ids: list[Annotated[str, Field(pattern=UUID_PATTERN)]] = Field(min_length=1, max_length=500)


class Replayed(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"replayed": ["0b5e1c9e-8f3a-4a59-9d1e-3c2f1b7a6d10"]}]})

    replayed: list[str]


class TemplateInfo(BaseModel):
    name: str
    version: int
    audience: str
    variables: list[str]
    text: str


class TemplateList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [{
        "name": "case_closed.citizen", "version": 2, "audience": "citizen", "variables": ["tracking_code"],
        "text": "بهزیستی: درخواست {tracking_code} بسته شد. سپاس از همراهی شما."}]}]})

    items: list[TemplateInfo]


class TemplatePath(BaseModel):
    name: str = Field(max_length=100)


class PreviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"values": {"tracking_code": "4203917755102846"}}]})

    values: dict[str, Annotated[str, Field(max_length=500)]] = Field(default_factory=dict, max_length=20)


class Preview(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "name": "case_closed.citizen", "version": 2, "text": "بهزیستی: درخواست 4203917755102846 بسته شد. سپاس از همراهی شما.",
        "characters": 62, "segments": 1, "encoding": "UCS-2"}]})

    name: str
    version: int
    text: str
    characters: int
    segments: int
    encoding: str


# integrators (integrators.py, webhooks.py): registration, credentials, webhook deliveries ---------------------
EventTypeName = Literal[tuple(sorted(BY_TYPE))]


class IntegratorBody(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "name": "moe-monitoring", "title": "سامانهٔ پایش وزارت تعاون، کار و رفاه اجتماعی",
        "event_types": ["ir.behzisti.complaints.statistics.published.v1",
                        "ir.behzisti.transparency.dataset.published.v1"]}]})

    name: str = Field(pattern=integrator_access.NAME.pattern, description="its broker user is integrator.<name>")
    title: Annotated[str, Field(min_length=3, max_length=200), Printable, PrintableInSchema]
    event_types: list[EventTypeName] = Field(min_length=1, max_length=50)
    personal_data: bool = Field(False, description="entitled to the types with personal fields (x-personal)")
    legal_basis: Annotated[str, Field(max_length=500), Printable, PrintableInSchema] = ""


_INTEGRATOR = {
    "id": "5f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f", "name": "moe-monitoring",
    "title": "سامانهٔ پایش وزارت تعاون، کار و رفاه اجتماعی",
    "event_types": ["ir.behzisti.complaints.statistics.published.v1"], "personal_data": False, "legal_basis": "",
    "delivery": "amqp", "personal_fields": {}, "created_by": "admin", "created_at": "2026-12-07T08:00:00+00:00", "rotated_at": None,
    "revoked": False}
_INTEGRATOR_AMQP = {
    "uri": "amqp://integrator.moe-monitoring:Zm9yLXRoZS1leGFtcGxlLW9ubHktMDEyMzQ1Njc4OQ@broker.behzisti.ir:5672/",
    "username": "integrator.moe-monitoring", "password": "Zm9yLXRoZS1leGFtcGxlLW9ubHktMDEyMzQ1Njc4OQ", "vhost": "/",
    "queue": "integrator.moe-monitoring", "replay_stream": "integrator.moe-monitoring.replay", "replay_max_age": "7D"}


class IntegratorView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_INTEGRATOR]})

    id: str
    name: str
    title: str
    event_types: list[str]
    personal_data: bool
    legal_basis: str
    delivery: Literal["amqp", "webhook"]
    personal_fields: dict[str, list[str]] = Field(description="by event type, the personal fields it receives")
    created_by: str
    created_at: str | None
    rotated_at: str | None
    revoked: bool


class IntegratorConnection(BaseModel):
    uri: str = Field(description="amqp(s)://integrator.<name>:<password>@host:port/vhost")
    username: str
    password: str = Field(description="shown once; rotate to get a new one")
    vhost: str
    queue: str = Field(description="its durable queue: every event of its types, kept until it acks")
    replay_stream: str = Field(description="the same events in a stream, read from an offset or a time")
    replay_max_age: str


class IntegratorWebhook(BaseModel):
    url: str
    secret: str = Field(description="whsec_…: verifies the webhook-signature header; shown once, rotate for a new one")


class RegisteredIntegrator(IntegratorView):
    """With its credentials, shown in this answer only: `amqp` for a system on the broker, `webhook` for one
    the platform posts to."""
    model_config = ConfigDict(json_schema_extra={"examples": [{**_INTEGRATOR, "amqp": _INTEGRATOR_AMQP}]})

    amqp: IntegratorConnection | None = None
    webhook: IntegratorWebhook | None = None


class WebhookDeliveryView(BaseModel):
    id: str
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    last_error: str | None
    created_at: str | None


class WebhookDeadLetters(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [{
        "id": "3c0f6a8e-2b1d-4e5f-9a7b-8c6d5e4f3a2b", "event_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        "event_type": "ir.behzisti.complaints.statistics.published.v1", "status": "dead", "attempts": 10,
        "last_error": "HTTP 503", "created_at": "2026-12-07T08:00:00+00:00"}]}]})

    items: list[WebhookDeliveryView]


class WebhookReplayed(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"replayed": 3}]})

    replayed: int


class IntegratorList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_INTEGRATOR]}]})

    items: list[IntegratorView]
