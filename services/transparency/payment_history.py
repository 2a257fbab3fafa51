"""SPEC T1: a beneficiary's own payments since 1391, and the public totals they add up to. The history is
private (only its owner, after a one-time code); the totals are published with small cells suppressed."""
from __future__ import annotations


from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from common.errors import FieldError, InvalidRequest
from common.jalali import day_text, month_fa
from common.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from common.suppression import THRESHOLD, published_total, suppress, suppress_table
from services.transparency.signing import iso_utc
from common.reference_data import PROVINCES
from services.transparency.models import beneficiary_contacts, beneficiary_payments, budget_line_titles, payment_totals

STATUS_FA = {"paid": "واریز شد", "failed": "ناموفق", "returned": "برگشت خورد"}
SPENDING_DIMENSIONS = {"line": payment_totals.c.budget_line, "province": payment_totals.c.province,
                       "month": payment_totals.c.month}


def mobile_of(session: Session, national_id: str) -> str | None:
    return session.scalar(select(beneficiary_contacts.c.mobile).where(beneficiary_contacts.c.national_id == national_id))


def history(session: Session, national_id: str, after: str | None, limit: int) -> dict:
    """Newest first, keyset-paginated on (paid_on, order_id): one index range scan per page."""
    p = beneficiary_payments
    limit = max(1, min(limit, MAX_LIMIT))
    where = [p.c.national_id == national_id]
    cursor = decode_cursor(after, 2)
    if cursor:
        where.append(tuple_(p.c.paid_on, p.c.order_id) < tuple_(func.to_date(cursor[0], "YYYY-MM-DD"), cursor[1]))
    rows = session.execute(
        select(p.c.order_id, p.c.paid_on, p.c.month, p.c.budget_line, p.c.amount_rials, p.c.account_masked,
               p.c.status, budget_line_titles.c.title_fa)
        .outerjoin(budget_line_titles, budget_line_titles.c.code == p.c.budget_line)
        .where(*where).order_by(p.c.paid_on.desc(), p.c.order_id.desc()).limit(limit + 1)).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].paid_on.isoformat(), rows[-1].order_id)
    return {"items": [_payment_view(r) for r in rows], "next": next_cursor}


def _payment_view(row) -> dict:
    return {"order_id": row.order_id, "paid_on": row.paid_on.isoformat(),
            "paid_on_fa": day_text(row.paid_on, persian=True),
            "month": row.month, "budget_line": row.budget_line, "budget_line_fa": row.title_fa or row.budget_line,
            "amount_rials": row.amount_rials, "account_masked": row.account_masked, "status": row.status,
            "status_fa": STATUS_FA.get(row.status, row.status)}


def spending(session: Session, by: str, threshold: int = THRESHOLD) -> dict:
    """Paid by budget line, province or month: households and rials per cell. A cell with fewer than
    `threshold` households is suppressed (households and amount both: the amount over the per-capita
    would give the count), and so is its smallest complement (common.suppression)."""
    if by not in SPENDING_DIMENSIONS:
        raise InvalidRequest([FieldError("by", "invalid_dimension", "بُعد گزارش باید یکی از line، province یا month باشد.",
                                         "by: line | province | month")])
    dimension = SPENDING_DIMENSIONS[by]
    rows = session.execute(select(dimension, func.sum(payment_totals.c.households), func.sum(payment_totals.c.amount_rials))
                           .group_by(dimension).order_by(dimension)).all()
    households = {key: int(n) for key, n, _ in rows}
    amounts = {key: int(a) for key, _, a in rows}
    total = sum(households.values())
    shown = suppress(households, total, threshold)
    titles = _titles(session) if by == "line" else dict(PROVINCES) if by == "province" else {}
    cells = [{"key": key, "title_fa": titles.get(key, month_fa(key) if by == "month" else key),
              "households": shown[key], "amount_rials": amounts[key] if shown[key] is not None else None}
             for key in households]
    as_of = session.scalar(select(func.max(payment_totals.c.updated_at)))
    return {"by": by, "threshold": threshold, "as_of": iso_utc(as_of) if as_of else None,
            "households": published_total(total, threshold),
            "amount_rials": sum(amounts.values()) if published_total(total, threshold) is not None else None,
            "cells": cells}


def aggregate_rows(session: Session, threshold: int = THRESHOLD) -> list[dict]:
    """The payment_aggregates dataset: paid per line, province and month. Small cells are suppressed with their
    complements along every total that is published too (common.suppression.suppress_table): the provinces of
    one line and month, and `spending`'s totals of each province, line and month, so that no suppressed cell
    can be had from any of them by subtraction."""
    cells: dict[tuple, tuple[int, int]] = {}
    for line, province, month, n, amount in session.execute(
            select(payment_totals.c.budget_line, payment_totals.c.province, payment_totals.c.month,
                   payment_totals.c.households, payment_totals.c.amount_rials)):
        cells[(month, line, province)] = (int(n), int(amount))
    shown = suppress_table({key: n for key, (n, _) in cells.items()},
                           [lambda k: (k[0], k[1]), lambda k: k[2], lambda k: k[1], lambda k: k[0]], threshold)
    titles = _titles(session)
    return [{"month": month, "month_fa": month_fa(month), "budget_line": line,
             "budget_line_fa": titles.get(line, line), "province": province,
             "province_fa": PROVINCES.get(province, province), "households": shown[(month, line, province)],
             "amount_rials": amount if shown[(month, line, province)] is not None else None}
            for (month, line, province), (_, amount) in sorted(cells.items())]


def spent_by_line(session: Session, year: int) -> dict[str, int]:
    """Paid from each line in the months of a Jalali year."""
    return {line: int(total) for line, total in session.execute(
        select(payment_totals.c.budget_line, func.sum(payment_totals.c.amount_rials))
        .where(payment_totals.c.month.like(f"{year}-%")).group_by(payment_totals.c.budget_line))}


def _titles(session: Session) -> dict[str, str]:
    return dict(session.execute(select(budget_line_titles.c.code, budget_line_titles.c.title_fa)).all())


