"""What a case intake must look like: used by the gateway to answer the citizen and by the service
to check again (the gateway is not the only guard)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from common.text import normalise
from common.validation import Mobile, NationalId
from services.complaints.domain import NAME_MAX, TEXT_MAX, TEXT_MIN

Kind = Literal["complaint", "criticism", "opinion", "idea", "suggestion", "recommendation",
               "violation_report", "question", "other"]
Channel = Literal["web", "mobile_web", "hotline", "staff"]
Urgency = Literal["urgent", "normal"]


class CaseIntake(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={
        "examples": [{"kind": "complaint", "text": "مستمری این ماه واریز نشده است.", "channel": "web",
                      "mobile": "09121234567"}]})

    kind: Kind = Field(description="SPEC C2")
    text: Annotated[str, StringConstraints(min_length=TEXT_MIN, max_length=TEXT_MAX)]
    channel: Channel = "web"
    urgency: Urgency = "normal"
    name: Annotated[str, StringConstraints(max_length=NAME_MAX)] | None = None
    mobile: Mobile = Field(None, description="09xxxxxxxxx; +98 forms and Persian digits accepted")
    national_id: NationalId = Field(None, description="10 digits with a valid check digit")

    @field_validator("name")
    @classmethod
    def _normalise_name(cls, value):
        return normalise(value) if value else value
