"""What a case intake must look like: used by the gateway to answer the citizen and by the service
to check again (the gateway is not the only guard)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema, field_validator, model_validator,
)
from pydantic_core import PydanticCustomError

from common import authorization
from common.text import normalise
from common.validation import (
    FreeText,
    Mobile,
    NationalId,
    OneTimeCodeText,
    Printable,
    PrintableInSchema,
    RequiredMobileNumber,
    parse,
)
from services.complaints import org
from services.complaints.domain import (
    CHANNELS, KINDS, NAME_MAX, PARTNER_APP_KINDS, TEXT_MAX, TEXT_MIN, URGENCIES, channel_of_staff,
)
from common.reference_data import CATEGORIES

Kind = Literal[tuple(KINDS)]
Channel = Literal[tuple(CHANNELS)]
Urgency = Literal[tuple(URGENCIES)]
Category = Literal[tuple(CATEGORIES)]


class CitizenCaseIntake(BaseModel):
    """What the public sends. The channel and the urgency are not theirs to choose: a case from the web
    is `web` and `normal`; staff decide urgency (a request naming either is refused, naming the field)."""
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"kind": "complaint", "text": "مستمری این ماه واریز نشده است.", "mobile": "09121234567"}]})

    kind: Kind = Field(description="SPEC C2")
    text: FreeText(TEXT_MIN, TEXT_MAX)
    name: Annotated[str, StringConstraints(max_length=NAME_MAX), Printable, PrintableInSchema] | None = None
    mobile: Mobile = Field(None, description="09xxxxxxxxx; +98 forms and Persian digits accepted")
    national_id: NationalId = Field(None, description="10 digits with a valid check digit")
    category: Category | None = Field(None, description="what the case is about (GET /api/v1/org/categories)")
    center: Annotated[str | None, WithJsonSchema({"anyOf": [{"enum": sorted(org.centers())}, {"type": "null"}]})] = Field(
        None, max_length=200, examples=["prov.tehran.county.rey.center.ghoncheh"],
        description="the center the case is about (GET /api/v1/org/units?kind=center)")

    @field_validator("center")
    @classmethod
    def _known_center(cls, value):
        if value is not None and value not in org.centers():
            raise PydanticCustomError("unknown_center", "no center has this id",
                                      {"message_fa": "مرکزی با این شناسه در سازمان نیست.",
                                       "detail": "no center has this id"})
        return value

    @field_validator("name")
    @classmethod
    def _normalise_name(cls, value):
        return normalise(value) or None if value else value


class StaffCaseIntake(CitizenCaseIntake):
    """What a hotline operator or staff member sends for a caller (SPEC C1): they may say how it came and
    how urgent it is."""
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"kind": "complaint", "text": "تماس‌گیرنده می‌گوید مستمری این ماه واریز نشده است.",
                      "channel": "hotline", "urgency": "normal", "mobile": "09121234567"}]})

    channel: Literal["hotline", "staff"] | None = Field(None, description="default: hotline for its operators, "
                                                                            "else staff")
    urgency: Urgency = "normal"


# Iran's bounding box: a point outside it is a mistake of the app that sent it (Open311 lat/long, WGS 84)
LAT_RANGE, LONG_RANGE = (25.0, 40.0), (44.0, 63.5)
ADDRESS_MAX, MEDIA_URL_MAX = 300, 500


class PartnerCaseIntake(CitizenCaseIntake):
    """What a third-party app sends through Open311 GeoReport v2: a citizen's case and where it is about."""
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"kind": "complaint", "text": "رمپ ورودی مرکز توانبخشی خراب است.", "mobile": "09121234567",
                      "lat": 35.6892, "long": 51.389, "address_string": "تهران، خیابان انقلاب"}]})

    lat: float | None = Field(None, ge=LAT_RANGE[0], le=LAT_RANGE[1], description="WGS 84 latitude, in Iran")
    long: float | None = Field(None, ge=LONG_RANGE[0], le=LONG_RANGE[1], description="WGS 84 longitude, in Iran")
    address_string: Annotated[str, StringConstraints(max_length=ADDRESS_MAX), Printable, PrintableInSchema] | None = None
    media_url: Annotated[str, StringConstraints(max_length=MEDIA_URL_MAX, pattern=r"^https?://\S+$")] | None = Field(
        None, description="a photo or file the app keeps (http or https)")

    @model_validator(mode="after")
    def _both_coordinates_or_neither(self):
        if (self.lat is None) != (self.long is None):
            raise PydanticCustomError("incomplete_location", "lat and long go together",
                                      {"message_fa": "طول و عرض جغرافیایی با هم فرستاده می‌شوند.",
                                       "detail": "lat and long go together"})
        return self


class CaseIntake(PartnerCaseIntake):
    """A case as it is registered: the channel and the urgency set by who registers it (register_for), never
    by the public."""
    channel: Channel = "web"
    urgency: Urgency = "normal"

    @model_validator(mode="after")
    def _partner_apps_send_no_violation_reports(self):
        if self.channel == "partner_app" and self.kind not in PARTNER_APP_KINDS:
            raise PydanticCustomError("not_for_partner_apps", "third-party apps cannot send this kind",
                                      {"message_fa": "این نوع درخواست از برنامه‌های همکار پذیرفته نمی‌شود.",
                                       "detail": "third-party apps cannot send violation reports"})
        return self


def register_for(payload: dict, actor: dict | None) -> CaseIntake:
    """The intake as its caller may send it: the public (actor None: web, normal urgency), an integrator's
    key with open311:write (partner_app), or staff (StaffCaseIntake: the channel staff or hotline)."""
    if actor is None:
        return parse(CaseIntake, {**parse(CitizenCaseIntake, payload).model_dump(exclude_none=True), "channel": "web"})
    if authorization.has_scope(actor, "open311:write"):
        return parse(CaseIntake, {**parse(PartnerCaseIntake, payload).model_dump(exclude_none=True),
                                  "channel": "partner_app"})
    authorization.require(actor, *org.ROLES)
    intake = parse(StaffCaseIntake, payload)
    return parse(CaseIntake, {**intake.model_dump(exclude_none=True),
                              "channel": channel_of_staff(actor["role"], intake.channel)})


NOTE_MAX = 2000


class Referral(BaseModel):
    """SPEC C5: one level down, with a note for the unit (internal: the citizen does not see it)."""
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"unit": "prov.tehran", "note": "مستمری‌بگیر استان تهران است؛ لطفاً پیگیری شود."}]})

    unit: str = Field(max_length=200, description="the unit to refer to (GET /api/v1/org/units)")
    note: FreeText(2, NOTE_MAX)


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"text": "مستمری شما واریز شد؛ تأخیر به‌دلیل اصلاح شمارهٔ شبا بود.", "attachments": []}]})

    text: FreeText(TEXT_MIN, TEXT_MAX)
    attachments: list[Annotated[str, StringConstraints(pattern=r"^[0-9a-f-]{36}$")]] = Field(
        default_factory=list, max_length=10, description="ids of files uploaded to the case as answer attachments")


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "تأیید می‌شود."}]})

    note: FreeText(2, NOTE_MAX) | None = None


class RequiredNote(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"note": "پاسخ به پرسش اصلی شهروند نپرداخته است."}]})

    note: FreeText(2, NOTE_MAX)


class ReportAgain(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"text": "پس از سه روز هنوز کسی با من تماس نگرفته است."}]})

    text: FreeText(2, NOTE_MAX) | None = None


class Rating(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"score": 4}]})

    score: int = Field(ge=1, le=5, description="1 (not at all satisfied) to 5 (fully satisfied)")


class Stamp(BaseModel):
    """A moment: ISO 8601 (UTC) for machines, Jalali (Tehran, Persian digits) for people."""

    iso: str = Field(examples=["2026-11-26T09:00:00Z"])
    jalali: str = Field(examples=["۱۴۰۵/۰۹/۰۵ ۱۲:۳۰"])


class TimelineStep(BaseModel):
    stage: str
    stage_fa: str
    at: Stamp
    note: str | None = Field(None, description="addressed to the citizen (an evidence request, the answer)")
    unit_fa: str | None = Field(None, description="the unit the case went to, for referrals and escalations")


STAMP_EXAMPLE = {"iso": "2026-11-26T09:00:00Z", "jalali": "۱۴۰۵/۰۹/۰۵ ۱۲:۳۰"}
CASE_VIEW_EXAMPLE = {
    "tracking_code": "4203917755102846", "tracking_code_display": "4203-9177-5510-2846", "kind": "complaint",
    "kind_fa": "شکایت", "channel": "web", "urgency": "normal", "status": "registered",
    "status_fa": "ثبت شده، در انتظار بررسی", "registered_at": STAMP_EXAMPLE, "anonymous": False,
    "timeline": [{"stage": "registered", "stage_fa": "ثبت شد", "at": STAMP_EXAMPLE, "note": None}]}


class Answered(BaseModel):
    text: str
    at: Stamp


class CaseView(BaseModel):
    """What anyone holding the tracking code may see: stage and timeline, without personal data,
    staff names or internal notes (SPEC C3)."""
    model_config = ConfigDict(json_schema_extra={"examples": [CASE_VIEW_EXAMPLE]})

    tracking_code: str = Field(pattern=r"^[0-9]{16}$", examples=["4203917755102846"])
    tracking_code_display: str = Field(examples=["4203-9177-5510-2846"])
    kind: Kind
    kind_fa: str
    channel: Channel
    urgency: Urgency
    status: str
    status_fa: str
    registered_at: Stamp
    anonymous: bool = Field(description="an anonymous report: followed with its code and its secret")
    timeline: list[TimelineStep]
    answer: Answered | None = Field(None, description="the approved answer, once it reached the citizen")
    report_again_from: Stamp | None = Field(None, description="from when the citizen may report again (SPEC C10): "
                                                              "once the result promised (C7) is late, or at once "
                                                              "after the answer; absent when it would mean nothing")
    report_again_until: Stamp | None = Field(None, description="until when, after the answer (SPEC C10)")
    report_again_to_fa: str | None = Field(None, description="the unit above the one holding the case, where a "
                                                             "report again would take it")
    rating: int | None = None


class RegistrantSession(BaseModel):
    token: str
    token_type: str = "Bearer"
    expires_in: int


class RegisteredCase(CaseView):
    model_config = ConfigDict(json_schema_extra={"examples": [{**CASE_VIEW_EXAMPLE, "kind": "violation_report", "kind_fa": "گزارش تخلف", "anonymous": True, "secret": "MFRGGZDFMZTWQ2LK"}]})

    secret: str | None = Field(None, description="an anonymous report's secret, shown only here: keep it with "
                                                 "the tracking code (send it as X-Case-Secret to follow the case)")
    reporter_session: RegistrantSession | None = Field(
        None, description="a named case's reporter session for the one who just registered it (the gateway's: "
                          "send evidence at once); later, a code texted to the case's mobile opens a new one")


class Reporter(BaseModel):
    name: str | None = None
    mobile: str | None = None
    national_id: str | None = None


class HistoryRow(BaseModel):
    n: int
    action: str
    at: Stamp
    actor: str = Field(description="the staff member's name, or citizen / system")
    unit: str | None = None
    public_note: str | None = None
    internal_note: str | None = None


class FileView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "0b5e1c9e-8f3a-4a59-9d1e-3c2f1b7a6d10", "purpose": "evidence", "filename": "receipt.pdf",
        "content_type": "application/pdf", "size": 48213, "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "uploaded_at": STAMP_EXAMPLE}]})

    id: str
    purpose: Literal["evidence", "answer"]
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: Stamp


STAFF_VIEW_EXAMPLE = {**CASE_VIEW_EXAMPLE, "text": "مستمری این ماه واریز نشده است.", "holder_unit": "prov.tehran.county.rey",
                      "holder_unit_fa": "اداره بهزیستی شهرستان ری", "path": ["hq.inspection", "hq.rehabilitation", "prov.tehran", "prov.tehran.county.rey"],
                      "category": "pension", "center": None, "deadline_at": STAMP_EXAMPLE, "pending_answer": None,
                      "history": [{"n": 1, "action": "registered", "at": STAMP_EXAMPLE, "actor": "citizen", "unit": "hq.inspection"}],
                      "files": []}


class Location(BaseModel):
    lat: float | None = None
    long: float | None = None
    address: str | None = None
    media_url: str | None = None


class StaffCaseView(CaseView):
    """A case as staff see it: the text, the path, the deadline and the whole history with names and
    internal notes; the reporter only for inspection roles (SPEC C17)."""
    model_config = ConfigDict(json_schema_extra={"examples": [STAFF_VIEW_EXAMPLE]})

    text: str
    holder_unit: str
    holder_unit_fa: str | None = None
    path: list[str] = Field(description="the referral chain, from inspection's operators to the handler")
    category: str | None = None
    center: str | None = None
    deadline_at: Stamp | None = Field(None, description="the holder's deadline, while one runs")
    pending_answer: str | None = Field(None, description="an answer on its way up for approval")
    history: list[HistoryRow]
    files: list[FileView]
    reporter: Reporter | None = None
    location: Location | None = Field(None, description="where the case is about, as a third-party app sent it")


SUMMARY_EXAMPLE = {k: STAFF_VIEW_EXAMPLE[k] for k in ("tracking_code", "tracking_code_display", "kind", "kind_fa", "urgency",
                                                       "status", "status_fa", "registered_at", "holder_unit", "category", "deadline_at")}


class StaffCaseSummary(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SUMMARY_EXAMPLE]})

    tracking_code: str
    tracking_code_display: str
    kind: Kind
    kind_fa: str
    urgency: Urgency
    status: str
    status_fa: str
    registered_at: Stamp
    holder_unit: str
    category: str | None = None
    deadline_at: Stamp | None = None


class StaffCasePage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [SUMMARY_EXAMPLE], "next": "/api/v1/staff/cases?after=WyIyMDI2LTExLTI2VDA5OjAwOjAwKzAwOjAwIiwiOWYxYyJd&limit=20"}]})

    items: list[StaffCaseSummary]
    next: str | None = Field(None, description="the link to the next page; absent on the last")


class CartableItem(StaffCaseSummary):
    model_config = ConfigDict(json_schema_extra={"examples": [{**SUMMARY_EXAMPLE, "excerpt": "مستمری این ماه واریز نشده است.", "overdue": False, "seconds_left": 5400}]})

    excerpt: str = Field(description="the start of the case's text, on one line")
    overdue: bool
    seconds_left: int = Field(description="until the deadline; negative when overdue")


class CartablePage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [{**SUMMARY_EXAMPLE, "excerpt": "مستمری این ماه واریز نشده است.", "overdue": False, "seconds_left": 5400}], "next": None}]})

    items: list[CartableItem]
    next: str | None = None


# outages and the sweeps' set-aside rows (services/complaints/outages.py, sweeps.py) -----------------------------
class OutageIntake(BaseModel):
    """A time the platform was unavailable, recorded after it ended: deadlines and the 48 hours of
    inactivity that ran through it are extended by it (SPEC C8, C12, C13)."""
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "starts_at": "2026-11-26T06:30:00Z", "ends_at": "2026-11-26T08:10:00Z",
        "reason": "قطع سراسری اینترنت استان تهران؛ کارشناسان به سامانه دسترسی نداشتند."}]})

    starts_at: AwareDatetime = Field(description="ISO 8601 with a time zone")
    ends_at: AwareDatetime = Field(description="ISO 8601 with a time zone; not in the future, at most 14 days "
                                               "after starts_at")
    reason: FreeText(5, 1000)

    @model_validator(mode="after")
    def _ends_after_it_starts(self):
        if self.ends_at <= self.starts_at:
            raise PydanticCustomError("ends_before_start", "ends_at must come after starts_at",
                                      {"message_fa": "پایان بازه باید پس از آغاز آن باشد.",
                                       "detail": "ends_at must come after starts_at"})
        return self


OUTAGE_EXAMPLE = {"id": 3, "starts_at": {"iso": "2026-11-26T06:30:00Z", "jalali": "۱۴۰۵/۰۹/۰۵ ۱۰:۰۰"},
                  "ends_at": {"iso": "2026-11-26T08:10:00Z", "jalali": "۱۴۰۵/۰۹/۰۵ ۱۱:۴۰"}, "minutes": 100.0,
                  "source": "operator", "reason": "قطع سراسری اینترنت استان تهران؛ کارشناسان به سامانه دسترسی نداشتند.",
                  "recorded_by": "admin", "recorded_at": {"iso": "2026-11-26T09:00:00Z", "jalali": "۱۴۰۵/۰۹/۰۵ ۱۲:۳۰"}}


class OutageView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [OUTAGE_EXAMPLE]})

    id: int
    starts_at: Stamp
    ends_at: Stamp
    minutes: float
    source: Literal["operator", "detected"] = Field(
        description="operator: recorded by an administrator; detected: the deadline sweep found its own pulse silent")
    reason: str
    recorded_by: str | None = Field(None, description="the administrator's username; null when detected")
    recorded_at: Stamp


class OutageList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [OUTAGE_EXAMPLE]}]})

    items: list[OutageView]


SWEEP_FAILURE_EXAMPLE = {
    "sweep": "escalate_overdue", "subject_id": "9f1c2a9e-8d5b-4c3a-9e7f-1b2d3c4e5f60", "subject": "4203917755102846",
    "error": "Conflict: wrong_stage: cannot escalate a case that is answered", "attempts": 1,
    "first_failed_at": {"iso": "2026-11-26T09:00:00Z", "jalali": "۱۴۰۵/۰۹/۰۵ ۱۲:۳۰"},
    "last_failed_at": {"iso": "2026-11-26T09:00:00Z", "jalali": "۱۴۰۵/۰۹/۰۵ ۱۲:۳۰"},
    "retry_at": {"iso": "2026-11-26T10:00:00Z", "jalali": "۱۴۰۵/۰۹/۰۵ ۱۳:۳۰"}}


class SweepFailureView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SWEEP_FAILURE_EXAMPLE]})

    sweep: Literal["warn_due", "escalate_overdue", "close_answered", "revoke_inactive"]
    subject_id: str = Field(description="the case's id, or the staff member's for revoke_inactive")
    subject: str | None = Field(None, description="the case's tracking code, or the staff member's username")
    error: str = Field(description="the last error, as the database or the rule gave it")
    attempts: int
    first_failed_at: Stamp
    last_failed_at: Stamp
    retry_at: Stamp = Field(description="when the sweep tries it again, alone")


class SweepFailureList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [SWEEP_FAILURE_EXAMPLE]}]})

    items: list[SweepFailureView]


class CallerCaseView(CaseView):
    """What the hotline tells a caller (SPEC C1): what the caller could read with the code, and which
    unit holds the case; no text, notes, names or files (need to know)."""
    model_config = ConfigDict(json_schema_extra={"examples": [{
        **CASE_VIEW_EXAMPLE, "holder_unit": "prov.tehran.county.rey", "holder_unit_fa": "اداره بهزیستی شهرستان ری"}]})

    holder_unit: str
    holder_unit_fa: str | None = None


class ReporterIdentityViewRow(BaseModel):
    at: Stamp
    staff: str = Field(description="the username of who was shown the identity")
    role: str
    unit: str
    how: Literal["case_view", "cases_by_mobile", "cartable_search_by_mobile"]
    tracking_code: str | None = Field(None, description="none for a look-up by mobile that found nothing")


class ReporterIdentityViewList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [{
        "at": STAMP_EXAMPLE, "staff": "inspector", "role": "inspector", "unit": "hq.inspection", "how": "case_view",
        "tracking_code": "4203917755102846"}]}]})

    items: list[ReporterIdentityViewRow]


# A named case's reporter proves they hold the mobile it was registered with (issue 18) ---------------------------
REPORTER_CODE_SENT_FA = ("اگر این شماره همان شمارهٔ همراه ثبت‌شده در پرونده باشد، کد تأیید به آن پیامک شد؛ "
                         "کد تا ۲ دقیقه معتبر است.")


class ReporterCodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"mobile": "09121234567"}]})

    mobile: RequiredMobileNumber = Field(description="the mobile the case was registered with; a code is texted to it "
                                                     "only if it is that one (the answer is the same either way)")


class ReporterSessionRequest(ReporterCodeRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"mobile": "09121234567", "code": "482917"}]})

    code: OneTimeCodeText = Field(description="the one-time code texted to that mobile")


class ReporterCodeAccepted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"accepted": True, "message_fa": REPORTER_CODE_SENT_FA}]})

    accepted: bool = True
    message_fa: str


class ReporterSession(BaseModel):
    model_config = ConfigDict(json_schema_extra={
        "examples": [{"token": "eyJhbGciOiJIUzI1NiJ9.e30.x", "token_type": "Bearer", "expires_in": 1800}]})

    token: str = Field(description="a bearer token that lets its holder rate this case, report it again and send "
                                   "evidence to it, and nothing else")
    token_type: str = "Bearer"
    expires_in: int

