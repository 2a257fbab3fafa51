"""What the transparency service accepts and answers (the gateway documents its routes with these)."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from common.validation import RequiredNationalId
from services.notifications.schemas import OneTimeCodeText


class NationalIdIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"national_id": "0499370899"}]})

    national_id: RequiredNationalId = Field(description="ten digits with the check digit; Persian digits accepted")


class SessionIn(NationalIdIn):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"national_id": "0499370899", "code": "482917"}]})

    code: OneTimeCodeText = Field(description="the one-time code texted to the mobile on record")


class Correction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=5, max_length=500, description="what is corrected and why (published with the version)")
    rows: list[dict] = Field(min_length=1, max_length=1000,
                             description="whole rows, each with the dataset's key: they replace the rows with that key "
                                         "(or are added)")


class CodeAccepted(BaseModel):
    accepted: bool = True
    message_fa: str


class BeneficiarySession(BaseModel):
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
    items: list[MyPayment]
    next: str | None


class Column(BaseModel):
    name: str
    title_fa: str
    type: str
    searchable: bool
    filterable: bool
    sortable: bool


class VersionRecord(BaseModel):
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
    items: list[DatasetSummary]


class DatasetDetail(DatasetSummary):
    columns: list[Column]
    key: str
    versions: list[VersionRecord]


class RowPage(BaseModel):
    items: list[dict]
    next: str | None
    version: int


class SpendingCell(BaseModel):
    key: str
    title_fa: str
    households: int | None = Field(description="null: suppressed (too few people to publish)")
    amount_rials: int | None


class Spending(BaseModel):
    by: str
    threshold: int
    households: int | None
    amount_rials: int | None
    cells: list[SpendingCell]


class PublicKey(BaseModel):
    algorithm: str
    encoding: str
    public_key: str
    signed: str
