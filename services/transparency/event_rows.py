"""The rows of the event-fed datasets (catalog.py `source="events"`), made from what feeds.py kept; the shape
of each row is the catalogue's (catalog.donation_row via feeds.py, catalog.complaint_statistics_rows)."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.transparency import payment_history
from services.transparency.catalog import complaint_statistics_rows
from services.transparency.models import budget_lines, complaint_statistics, donations_received

# the budget (T9): the lines payments announced (feeds.record_budget_lines) with what was paid from each
PAYS = {"beneficiary": "واریز به حساب مددجو", "center": "پرداخت به مرکز، بیمه‌گر یا مجری خدمت"}


def budget_rows(year: int, lines: Iterable[Mapping], spent_rials: Mapping[str, int] | None = None) -> Iterator[dict]:
    """A year's budget lines (as `budget_lines.published` carries them) as the budget dataset publishes them;
    `spent_rials` (line code -> rials paid in the year so far, from the disbursement events) fills the spent
    column, 0 where missing."""
    spent_rials = spent_rials or {}
    for line in lines:
        yield {
            "year": year,
            "code": line["code"],
            "title_fa": line["title_fa"],
            "purpose_fa": line["purpose_fa"],
            "legal_basis_fa": line["legal_basis_fa"],
            "pays": line["pays"], "pays_fa": PAYS[line["pays"]],
            "per_capita_rials": line["per_capita_rials"],
            "yearly_allocation_rials": line["yearly_allocation_rials"],
            "spent_rials": int(spent_rials.get(line["code"], 0)),
        }


def donations(session: Session) -> Iterable[dict]:
    """Kept as rows already (feeds.record_donation)."""
    for (row,) in session.execute(select(donations_received.c.data)
                                  .order_by(donations_received.c.paid_at, donations_received.c.donation_id)):
        yield row


def complaint_statistics_dataset(session: Session) -> Iterable[dict]:
    """One row per period, dimension and category; complaints published them already suppressed."""
    for (data,) in session.execute(select(complaint_statistics.c.data).order_by(complaint_statistics.c.period)):
        yield from complaint_statistics_rows(data)


def payment_aggregates(session: Session) -> Iterable[dict]:
    for row in payment_history.aggregate_rows(session):
        yield {"row_id": f"{row['month']}.{row['budget_line']}.{row['province']}", "year": int(row["month"][:4]),
               **row, "suppressed": row["households"] is None}


def budget(session: Session) -> Iterable[dict]:
    """The newest year's lines as payments announced them, with what has been paid from each in that year
    according to the disbursements; no rows before payments announced any."""
    newest = session.execute(select(budget_lines.c.year, budget_lines.c.lines)
                             .order_by(budget_lines.c.year.desc()).limit(1)).first()
    if newest is None:
        return []
    return budget_rows(newest.year, newest.lines, payment_history.spent_by_line(session, newest.year))


BY_SLUG = {"donations": donations, "complaint_statistics": complaint_statistics_dataset,
           "payment_aggregates": payment_aggregates, "budget": budget}
