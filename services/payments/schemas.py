"""What finance staff send and get about cycles and failed payments: used by the gateway to answer
and by the service to check again."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from common.validation import Mobile, RequiredNationalId
from common.budget_lines import BUDGET_LINES
from services.payments.cycles import STAGES

CYCLE_STAGES = (*STAGES, "stopped")  # every stage a cycle can be at (cycles.py)

LineCode = Literal[tuple(line["code"] for line in BUDGET_LINES)]
MONTH = r"^1[34][0-9]{2}-(0[1-9]|1[0-2])$"


class BeneficiaryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "national_id": "0499370899", "full_name": "مریم احمدی", "household_size": 3, "mobile": "09121234567",
        "province": "tehran", "iban": "IR820540102680020817909002", "lines": ["pension_disability"]}]})

    national_id: RequiredNationalId = Field(description="10 digits with a valid check digit")
    full_name: str = Field(min_length=2, max_length=100)
    household_size: int = Field(ge=1, le=30)
    mobile: Mobile = None
    province: str = Field(max_length=50)
    iban: str = Field(min_length=26, max_length=40, description="Sheba: IR and 24 digits (mod 97 checked)")
    lines: list[str] = Field(min_length=1, max_length=16)
    since: str = Field("1391-01", pattern=r"^1[34][0-9]{2}-(0[1-9]|1[0-2])$", description="first Jalali month paid")


class CycleOpen(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"month": "1405-09",
                                                                               "line": "pension_disability"}]})

    month: str = Field(pattern=MONTH, description="the Jalali month paid for, yyyy-mm")
    line: LineCode


class Resolve(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "order_ids": ["1405090499370899a1b2c3d4e5f6"], "resolution": "carried"}]})

    order_ids: list[str] = Field(min_length=1, max_length=1000)
    resolution: Literal["carried", "cancelled"] = Field(description="carried to the next cycle, or cancelled")


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"status": "suspended"}]})

    status: Literal["active", "suspended", "deceased"]


CYCLE_EXAMPLE = {"id": "1405-09.pension_disability", "month": "1405-09", "line": "pension_disability",
                 "stage": "settled", "stage_fa": "تسویه شد", "stopped_reason": None, "prepared_by": "finance.expert",
                 "approved_by": "finance.approver", "beneficiaries": 640000, "total_rials": 23040000000000,
                 "failures": 0, "last_error": None, "failed_at": None, "retry_at": None,
                 "orders": {"paid": 639990, "returned": 10}, "batches": {"settled": 128},
                 "left_out_of_statements": {"batches": 0, "orders": 0}}


class CycleSummary(BaseModel):
    """A cycle as the list shows it."""
    id: str
    month: str
    line: str
    stage: str
    stage_fa: str
    stopped_reason: str | None = None
    prepared_by: str
    approved_by: str | None = None
    beneficiaries: int
    total_rials: int
    failures: int = 0  # the cycle's own failures in a row; 0 once a run does not fail
    last_error: str | None = None
    failed_at: str | None = None
    retry_at: str | None = None  # when the worker tries the failed cycle again


class CycleView(CycleSummary):
    """A cycle with its progress: orders and bank files by state, and the files whose last statement left
    orders out (still at the bank; their statement is asked for again)."""
    model_config = ConfigDict(json_schema_extra={"examples": [CYCLE_EXAMPLE]})

    orders: dict[str, int]
    batches: dict[str, int]
    left_out_of_statements: dict[str, int] = {"batches": 0, "orders": 0}


class CycleList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [
        {k: v for k, v in CYCLE_EXAMPLE.items() if k not in ("orders", "batches", "left_out_of_statements")}]}]})

    items: list[CycleSummary]


class BudgetLineView(BaseModel):
    code: str
    title_fa: str
    per_capita_rials: int
    purpose_fa: str
    legal_basis_fa: str
    pays: str
    year: str
    yearly_allocation_rials: int
    spent_rials: int
    remaining_rials: int


class BudgetLineList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [{
        "code": "pension_disability", "title_fa": "مستمری خانوارهای دارای فرد معلول", "per_capita_rials": 36000000,
        "purpose_fa": "…", "legal_basis_fa": "…", "pays": "beneficiary", "year": "1405",
        "yearly_allocation_rials": 296000000000000, "spent_rials": 0, "remaining_rials": 296000000000000}]}]})

    items: list[BudgetLineView]


class FailedPayment(BaseModel):
    order_id: str
    cycle_id: str
    national_id: str
    amount_rials: int
    status: str
    reason: str | None = None


class FailedPayments(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [{
        "order_id": "1405090499370899a1b2c3d4e5f6", "cycle_id": "1405-09.pension_disability",
        "national_id": "0499370899", "amount_rials": 36000000, "status": "returned", "reason": "AC04"}]}]})

    items: list[FailedPayment]


class Resolved(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"resolved": 1}]})

    resolved: int


class LedgerCheck(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"balanced": True, "problems": []}]})

    balanced: bool
    problems: list[str]


class BeneficiaryView(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "national_id": "0499370899", "full_name": "مریم احمدی", "household_size": 3, "mobile": "09121234567",
        "province": "tehran", "iban": "IR820540102680020817909002", "status": "active",
        "lines": ["pension_disability"], "iban_verified": True}]})

    national_id: str
    full_name: str
    status: str
    lines: list[str]
