"""What a case intake must look like: used by the gateway to answer the citizen and by the service
to check again (the gateway is not the only guard)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from common.text import normalise
from common.validation import FreeText, Mobile, NationalId, Printable, PrintableInSchema
from services.complaints.domain import CHANNELS, KINDS, NAME_MAX, TEXT_MAX, TEXT_MIN, URGENCIES

Kind = Literal[tuple(KINDS)]
Channel = Literal[tuple(CHANNELS)]
Urgency = Literal[tuple(URGENCIES)]


class CaseIntake(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"kind": "complaint", "text": "مستمری این ماه واریز نشده است.", "channel": "web",
                      "mobile": "09121234567"}]})

    kind: Kind = Field(description="SPEC C2")
    text: FreeText(TEXT_MIN, TEXT_MAX)
    channel: Channel = "web"
    urgency: Urgency = "normal"
    name: Annotated[str, StringConstraints(max_length=NAME_MAX), Printable, PrintableInSchema] | None = None
    mobile: Mobile = Field(None, description="09xxxxxxxxx; +98 forms and Persian digits accepted")
    national_id: NationalId = Field(None, description="10 digits with a valid check digit")

    @field_validator("name")
    @classmethod
    def _normalise_name(cls, value):
        return normalise(value) or None if value else value


class Stamp(BaseModel):
    """A moment: ISO 8601 (UTC) for machines, Jalali (Tehran, Persian digits) for people."""

    iso: str = Field(examples=["2026-11-26T09:00:00Z"])
    jalali: str = Field(examples=["۱۴۰۵/۰۹/۰۵ ۱۲:۳۰"])


class TimelineStep(BaseModel):
    stage: str
    stage_fa: str
    at: Stamp
    note: str | None = None


class CaseView(BaseModel):
    """What anyone holding the tracking code may see: stage and timeline, no personal data."""

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


class RegisteredCase(CaseView):
    secret: str | None = Field(None, description="an anonymous report's secret, shown only here: keep it with "
                                                 "the tracking code (send it as X-Case-Secret to follow the case)")


class Reporter(BaseModel):
    name: str | None = None
    mobile: str | None = None
    national_id: str | None = None


class StaffCaseView(CaseView):
    """A case in a cartable: the text and the holding unit; the reporter only for inspection roles."""

    text: str
    holder_unit: str
    reporter: Reporter | None = None


class StaffCaseSummary(CaseView):
    holder_unit: str


class StaffCasePage(BaseModel):
    items: list[StaffCaseSummary]
    next: str | None = Field(None, description="the link to the next page; absent on the last")
