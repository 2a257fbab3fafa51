"""What donors send and get on the participation portal (SPEC P5, P6): used by the gateway to answer and by
the service to check again."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from common.text import normalise_digits, persian_digits
from common.validation import FreeText, Mobile
from common.reference_data import PROVINCES
from common.budget_lines import LINES_BY_CODE

MAX_DONATION_RIALS = 1_000_000_000_000  # beyond any gateway's single payment
# Less than 10,000 rials (1,000 toman) costs more in the gateway's fee than it gives, and 1-rial payments are how
# stolen card numbers are tested: refused, as the page refuses them (web/assets/js/checks.js MIN_DONATION_RIALS).
MIN_DONATION_RIALS = 10_000
AMOUNT_FA = (f"مبلغ کمک را به ریال و با عددی صحیح بنویسید: دست‌کم {persian_digits(f'{MIN_DONATION_RIALS:,}')} ریال "
             f"({persian_digits(f'{MIN_DONATION_RIALS // 10:,}')} تومان) و حداکثر "
             f"{persian_digits(f'{MAX_DONATION_RIALS:,}')} ریال.").replace(",", "٬")
COMPANY_ID_WEIGHTS = (29, 27, 23, 19, 17, 29, 27, 23, 19, 17)

Province = Literal[tuple(PROVINCES)]
LineCode = Literal[tuple(LINES_BY_CODE)]


def is_valid_company_id(value: str) -> bool:
    """A legal person's national ID (شناسه ملی): 11 digits, the last a check digit over the first ten, each
    increased by the tenth digit plus two and weighted 29, 27, 23, 19, 17 twice, mod 11 (10 counts as 0)."""
    if not (isinstance(value, str) and len(value) == 11 and value.isdigit()) or value[:10] == "0" * 10:
        return False
    shift = int(value[9]) + 2
    rest = sum((int(d) + shift) * w for d, w in zip(value[:10], COMPANY_ID_WEIGHTS, strict=True)) % 11
    return (0 if rest == 10 else rest) == int(value[10])


def _whole_rials(value):
    """A donation is a whole number of rials from the minimum to the maximum: 15000, not 15000.5, "15000", true,
    -1 or 1."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not MIN_DONATION_RIALS <= value <= MAX_DONATION_RIALS:
        raise PydanticCustomError(
            "invalid_amount", "amount_rials must be a whole number of rials in the allowed range",
            {"message_fa": AMOUNT_FA, "detail": f"amount_rials must be a whole number of rials from "
                                                f"{MIN_DONATION_RIALS} to {MAX_DONATION_RIALS}, not {value!r}"})
    return value


def _company_id(value):
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    cleaned = normalise_digits(str(value)).replace("-", "").replace(" ", "") if isinstance(value, str) else value
    if not isinstance(cleaned, str) or not is_valid_company_id(cleaned):
        raise PydanticCustomError(
            "invalid_company_national_id", "a company national ID is 11 digits with a valid check digit",
            {"message_fa": "شناسهٔ ملی شرکت معتبر نیست (۱۱ رقم با رقم کنترل درست).",
             "detail": "a company national ID is 11 digits with a valid check digit"})
    return cleaned


Rials = Annotated[int, BeforeValidator(_whole_rials),
                  WithJsonSchema({"type": "integer", "minimum": MIN_DONATION_RIALS, "maximum": MAX_DONATION_RIALS,
                                  "examples": [5_000_000]})]
CompanyNationalId = Annotated[str | None, BeforeValidator(_company_id),
                              # an OpenAPI format of our own, as ir-national-id: a check digit is more than a pattern
                              WithJsonSchema({"anyOf": [{"type": "string", "format": "ir-company-id",
                                                         "pattern": "^[0-9]{11}$", "examples": ["10100834460"]},
                                                        {"type": "null"}]})]
Name = FreeText(2, 100)


class LinePurpose(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"kind": "line",
                                                                               "code": "child_support"}]})

    kind: Literal["line"] = Field(description="a budget line (T9)")
    code: LineCode = Field(description="the budget line's code")


class CampaignPurpose(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"kind": "campaign",
                                                                               "code": "bushehr_rehab_centers"}]})

    kind: Literal["campaign"] = Field(description="a published campaign open today (GET /api/v1/donations/purposes)")
    code: str = Field(pattern=r"^[a-z0-9_]{2,60}$", description="the campaign's code")


Purpose = Annotated[LinePurpose | CampaignPurpose, Field(discriminator="kind")]
# A company names itself (name and national ID); a person never sends a company's national ID.
DONOR_RULE = {"if": {"properties": {"donor_kind": {"const": "company"}}, "required": ["donor_kind"]},
              "then": {"required": ["donor_name", "company_national_id"],
                       "properties": {"donor_name": {"type": "string"},
                                      "company_national_id": {"type": "string"}}},
              "else": {"properties": {"company_national_id": {"type": "null"}}}}


DONATION_EXAMPLE = {"donor_kind": "person", "donor_name": "مریم احمدی", "mobile": "09121234567",
                    "province": "tehran", "purpose": {"kind": "line", "code": "child_support"},
                    "amount_rials": 5_000_000}
COMPANY_EXAMPLE = {"donor_kind": "company", "donor_name": "شرکت پتروشیمی نمونه", "company_national_id": "10100834460",
                   "province": "bushehr", "purpose": {"kind": "campaign", "code": "bushehr_rehab_centers"},
                   "amount_rials": 2_000_000_000}


class DonationIn(BaseModel):
    """A donation to a province and a purpose, by a person or from a company's social-responsibility fund."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [DONATION_EXAMPLE, COMPANY_EXAMPLE],
                                                                 **DONOR_RULE})

    donor_kind: Literal["person", "company"] = Field("person", description="a person, or a company's "
                                                     "social-responsibility fund (SPEC P6)")
    donor_name: Name | None = Field(None, description="needed for a company; a person may stay anonymous")
    company_national_id: CompanyNationalId = Field(None, description="a company's 11-digit national ID")
    mobile: Mobile = Field(None, description="for the SMS receipt")
    province: Province
    purpose: Purpose
    amount_rials: Rials


STARTED_EXAMPLE = {"id": "3f2b7c1e-2a4d-4c1b-9f8e-6d5a4b3c2d1e", "receipt_number": "405318920477",
                   "status": "started", "amount_rials": 5_000_000,
                   "redirect_url": "http://localhost:8027/pay/9c1d0e6f2a3b4c5d6e7f8091a2b3c4d5"}


class DonationStarted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [STARTED_EXAMPLE]})

    id: str
    receipt_number: str
    status: str
    amount_rials: int
    redirect_url: str = Field(description="send the donor's browser here to pay at the gateway")


class CallbackForm(BaseModel):
    """What the payment gateway posts back through the donor's browser."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, json_schema_extra={"examples": [{
        "token": "9c1d0e6f2a3b4c5d6e7f8091a2b3c4d5", "status": "OK", "reference": "118273645501",
        "amount": "5000000", "order_id": "405318920477", "signature": "5d41402abc4b2a76b9719d911017c592" * 2}]})

    token: str = Field(max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
    status: str = Field(max_length=10, pattern=r"^[A-Za-z]+$")
    reference: str = Field("", max_length=40, pattern=r"^[0-9]*$")
    amount: str = Field(max_length=20, pattern=r"^[0-9]+$")
    order_id: str = Field(max_length=40, pattern=r"^[0-9]+$")
    signature: str = Field(max_length=128, pattern=r"^[0-9a-fA-F]+$")


RECEIPT_EXAMPLE = {
    "id": "3f2b7c1e-2a4d-4c1b-9f8e-6d5a4b3c2d1e", "receipt_number": "405318920477", "status": "paid",
    "status_fa": "پرداخت شد", "donor_kind": "person", "donor_name": "مریم احمدی", "company_national_id": None,
    "mobile_masked": "0912***4567", "province": "tehran", "province_fa": "تهران",
    "purpose": {"kind": "line", "code": "child_support", "title_fa": "کمک‌هزینه کودکان و نوجوانان بی‌سرپرست و بدسرپرست"},
    "amount_rials": 5_000_000, "psp_reference": "118273645501", "card_masked": "603799******7890",
    "created_at": {"iso": "2026-11-26T09:00:00Z", "jalali": "۱۴۰۵/۰۹/۰۵ ۱۲:۳۰"},
    "paid_at": {"iso": "2026-11-26T09:01:00Z", "jalali": "۱۴۰۵/۰۹/۰۵ ۱۲:۳۱"}}


class DonationReceipt(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [RECEIPT_EXAMPLE]})

    id: str
    receipt_number: str
    status: Literal["started", "paid", "failed"]
    status_fa: str
    donor_kind: str
    donor_name: str | None = None
    company_national_id: str | None = None
    mobile_masked: str | None = None
    province: str
    province_fa: str
    purpose: dict
    amount_rials: int
    psp_reference: str | None = None
    card_masked: str | None = None
    created_at: dict
    paid_at: dict | None = None


class DonationPurposes(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "lines": [{"code": "child_support", "title_fa": "کمک‌هزینه کودکان و نوجوانان بی‌سرپرست و بدسرپرست"}],
        "campaigns": [{"code": "bushehr_rehab_centers", "title_fa": "تجهیز مراکز توان‌بخشی استان بوشهر",
                       "province": "bushehr", "goal_rials": 20_000_000_000, "raised_rials": 2_000_000_000,
                       "opens": "1405/01/01", "closes": "1406/12/29"}],
        "provinces": {"tehran": "تهران"}}]})

    lines: list[dict]
    campaigns: list[dict]
    provinces: dict[str, str]


class DonationsDataset(BaseModel):
    """Paid donations for the transparency portal: a company's identity, never a person's name or mobile."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [
        {"receipt_number": "405318920477", "paid_at": "2026-11-26T09:01:00Z", "province": "bushehr",
         "purpose_kind": "campaign", "purpose_code": "bushehr_rehab_centers", "amount_rials": 2_000_000_000,
         "donor_kind": "company", "company_name": "شرکت پتروشیمی نمونه", "company_national_id": "10100834460"}],
        "total_rials": 2_000_000_000}]})

    items: list[dict]
    total_rials: int
