"""What a case intake must look like: used by the gateway to answer the citizen and by the service
to check again (the gateway is not the only guard)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from common.identifiers import InvalidIdentifier, normalise_mobile, normalise_national_id
from common.text import normalise
from common.validation import identifier_error
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
    mobile: str | None = Field(None, description="09xxxxxxxxx; +98 forms and Persian digits accepted")
    national_id: str | None = Field(None, description="10 digits with a valid check digit")

    @field_validator("name")
    @classmethod
    def _normalise_name(cls, value):
        return normalise(value) if value else value

    @field_validator("mobile")
    @classmethod
    def _mobile(cls, value):
        if value in (None, ""):
            return None
        try:
            return normalise_mobile(value)
        except InvalidIdentifier as exc:
            raise identifier_error(exc) from None

    @field_validator("national_id")
    @classmethod
    def _national_id(cls, value):
        if value in (None, ""):
            return None
        try:
            return normalise_national_id(value)
        except InvalidIdentifier as exc:
            raise identifier_error(exc) from None
