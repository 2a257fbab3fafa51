"""Payments for finance staff (SPEC P1-P4): the budget lines, the registry, payment cycles with four
eyes, failed payments, the ledger check. Every money-moving POST takes an Idempotency-Key."""
from __future__ import annotations

from typing import Literal

from flask import g, jsonify
from flask_openapi3 import APIBlueprint, Tag
from pydantic import Field

from gateway.auth import BEARER, requires
from gateway.protection import idempotency
from gateway.schemas import IdempotencyHeader, Problem, RequestPart
from gateway.services import payments
from services.payments.api import BeneficiaryIn
from services.payments.api import (
    CYCLE_STAGES,
    BeneficiaryView, BudgetLineList, CycleList, CycleOpen, CycleView, FailedPayments, LedgerCheck, Resolve, Resolved,
    StatusChange,
)

bp = APIBlueprint("payments", __name__, url_prefix="/api/v1",
                  abp_tags=[Tag(name="payments", description="pensions: budget lines, registry, payment cycles")])

PREPARE = ("finance_expert",)  # four eyes: the administrator neither prepares nor approves (issue 18)
APPROVE = ("finance_approver",)
READ = ("finance_expert", "finance_approver", "auditor", "admin")
ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}


class CyclePath(RequestPart):
    cycle_id: str = Field(max_length=80, pattern=r"^[0-9]{4}-[0-9]{2}\.[a-z0-9_]+$")


class NationalIdPath(RequestPart):
    national_id: str = Field(max_length=20)


class CyclesQuery(RequestPart):
    month: str | None = Field(None, pattern=r"^1[34][0-9]{2}-(0[1-9]|1[0-2])$", description="Jalali yyyy-mm")
    line: str | None = Field(None, max_length=60, pattern=r"^[a-z0-9_]+$", description="a budget line's code")
    stage: Literal[CYCLE_STAGES] | None = Field(None, description="only the cycles at this stage, however old (the "
                                                            "approver's list: entitlements_computed)")


class FailedQuery(RequestPart):
    cycle: str | None = Field(None, max_length=80)



@bp.get("/payments/budget-lines", responses={200: BudgetLineList})
def budget_lines():
    """The 16 budget lines: per-capita amount, purpose, legal basis, yearly allocation, spent (T9)."""
    return jsonify({"items": payments().budget_lines()})


@bp.post("/staff/payments/beneficiaries", security=BEARER, responses={200: BeneficiaryView, **ERRORS})
@requires(*PREPARE)
def enrol(body: BeneficiaryIn):
    """Add a person to the registry and to budget lines (once each); the bank must confirm that the
    Sheba account is theirs. Audited."""
    return jsonify(payments().enrol(g.principal, body.model_dump(exclude_none=True)))


@bp.get("/staff/payments/beneficiaries/<national_id>", security=BEARER, responses={200: BeneficiaryView, **ERRORS})
@requires(*READ)
def beneficiary(path: NationalIdPath):
    """A person in the registry, with the audit of every change."""
    return jsonify(payments().beneficiary(g.principal, path.national_id))


@bp.post("/staff/payments/beneficiaries/<national_id>/status", security=BEARER,
         responses={200: BeneficiaryView, **ERRORS})
@requires(*PREPARE)
def set_status(path: NationalIdPath, body: StatusChange):
    """Active, suspended or deceased: only the active are paid."""
    return jsonify(payments().set_beneficiary_status(g.principal, path.national_id, body.model_dump()))


@bp.post("/staff/payments/cycles", security=BEARER, responses={201: CycleView, **ERRORS})
@requires(*PREPARE)
def open_cycle(body: CycleOpen, header: IdempotencyHeader):
    """Open the month's cycle for a budget line and compute its entitlements; it stops, with the
    reason, when the line's remaining allocation does not cover it. One cycle per month and line."""
    response = jsonify(payments().open_cycle(g.principal, body.model_dump(), idempotency(header)))
    response.status_code = 201
    return response


@bp.post("/staff/payments/cycles/<cycle_id>/approve", security=BEARER, responses={200: CycleView, **ERRORS})
@requires(*APPROVE)
def approve(path: CyclePath, header: IdempotencyHeader):
    """A second person approves (not the one who prepared it); then the orders go to the bank."""
    return jsonify(payments().approve_cycle(g.principal, path.cycle_id, idempotency(header)))


@bp.get("/staff/payments/cycles", security=BEARER, responses={200: CycleList, **ERRORS})
@requires(*READ)
def cycles(query: CyclesQuery):
    """The payment cycles, newest month first (at most 100), by month, budget line and stage if asked."""
    return jsonify({"items": payments().cycles(g.principal, query.month, query.line, query.stage)})


@bp.get("/staff/payments/cycles/<cycle_id>", security=BEARER, responses={200: CycleView, **ERRORS})
@requires(*READ)
def cycle(path: CyclePath):
    """A cycle's stage and progress: orders by state, bank files by state."""
    return jsonify(payments().cycle(g.principal, path.cycle_id))


@bp.get("/staff/payments/failed", security=BEARER, responses={200: FailedPayments, **ERRORS})
@requires(*READ)
def failed(query: FailedQuery):
    """Payments the bank rejected or returned, waiting for a person."""
    return jsonify({"items": payments().failed_payments(g.principal, query.cycle)})


@bp.post("/staff/payments/failed/resolve", security=BEARER, responses={200: Resolved, **ERRORS})
@requires(*PREPARE)
def resolve(body: Resolve, header: IdempotencyHeader):
    """Carry failed payments to the next cycle, or cancel them."""
    return jsonify(payments().resolve_failed(g.principal, body.model_dump(), idempotency(header)))


@bp.get("/staff/payments/ledger/check", security=BEARER, responses={200: LedgerCheck, **ERRORS})
@requires(*READ)
def ledger_check():
    """Does the ledger balance to the rial and match the orders?"""
    return jsonify(payments().check_ledger(g.principal))
