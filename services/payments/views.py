"""What staff see of budget lines, cycles and failed payments."""
from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from common.errors import NotFound
from common.jalali import iso
from services.payments.cycles import STAGES_FA
from services.payments.ledger_store import balance
from services.payments.models import BudgetLine, Cycle, PaymentOrder


def budget_line_view(session: Session, line: BudgetLine) -> dict:
    return {"code": line.code, "title_fa": line.title_fa, "per_capita_rials": line.per_capita_rials,
            "purpose_fa": line.purpose_fa, "legal_basis_fa": line.legal_basis_fa, "pays": line.pays, "year": line.year,
            "yearly_allocation_rials": line.yearly_allocation_rials,
            "spent_rials": balance(session, f"paid:{line.code}"),
            "remaining_rials": balance(session, f"allocation:{line.code}")}


def cycle_view(session: Session, cycle_id: str) -> dict:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound("cycle_not_found", "چنین دورهٔ پرداختی نیست.", f"no cycle {cycle_id}")
    orders = dict(session.execute(text("SELECT status, count(*) FROM payment_orders WHERE cycle_id = :c "
                                       "GROUP BY status"), {"c": cycle_id}).all())
    batches = dict(session.execute(text("SELECT status, count(*) FROM bank_batches WHERE cycle_id = :c "
                                        "GROUP BY status"), {"c": cycle_id}).all())
    left_out = session.execute(text("SELECT count(*), coalesce(sum(left_out), 0) FROM bank_batches WHERE cycle_id = :c "
                                    "AND status = 'accepted' AND left_out > 0"), {"c": cycle_id}).one()
    return {**cycle_summary(cycle), "orders": orders, "batches": batches,
            # files whose last statement left orders out: those orders are still at the bank, asked for again
            "left_out_of_statements": {"batches": left_out[0], "orders": int(left_out[1])}}


def cycle_summary(cycle: Cycle) -> dict:
    return {"id": cycle.id, "month": cycle.month, "line": cycle.line, "stage": cycle.stage,
            "stage_fa": STAGES_FA[cycle.stage], "stopped_reason": cycle.stopped_reason,
            "prepared_by": cycle.prepared_by, "approved_by": cycle.approved_by,
            "beneficiaries": cycle.beneficiaries, "total_rials": cycle.total_rials,
            # its own failures in a row and the last one's error, waiting for its retry (cycle_worker.py)
            "failures": cycle.failures or 0, "last_error": cycle.last_error,
            "failed_at": iso(cycle.failed_at) if cycle.failed_at else None,
            "retry_at": iso(cycle.retry_at) if cycle.retry_at else None}


def cycle_list(session: Session, month: str | None, line: str | None, stage: str | None = None,
               limit: int = 100) -> list[dict]:
    """The cycles, newest month first, with their stage (the orders' counts are in each cycle's own view); the
    approver asks for those at one stage, however old."""
    query = select(Cycle).order_by(Cycle.month.desc(), Cycle.line).limit(limit)
    if month:
        query = query.where(Cycle.month == month)
    if line:
        query = query.where(Cycle.line == line)
    if stage:
        query = query.where(Cycle.stage == stage)
    return [cycle_summary(c) for c in session.scalars(query)]


def failed_orders(session: Session, cycle_id: str | None) -> list[dict]:
    query = (select(PaymentOrder).where(PaymentOrder.status.in_(("rejected", "returned")),
                                        PaymentOrder.resolution.is_(None)).order_by(PaymentOrder.id).limit(500))
    if cycle_id:
        query = query.where(PaymentOrder.cycle_id == cycle_id)
    return [{"order_id": o.id, "cycle_id": o.cycle_id, "national_id": o.national_id, "amount_rials": o.amount_rials,
             "status": o.status, "reason": o.reason} for o in session.scalars(query)]
