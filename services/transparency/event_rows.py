"""The rows of the event-fed datasets (catalog.py `source="events"`), made from what feeds.py kept; the
shape of each row is the catalogue's (catalog.donation_row via feeds.py, catalog.complaint_statistics_rows)."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.transparency import payment_history
from services.transparency.catalog import complaint_statistics_rows
from services.transparency.demo_data import budget_rows
from services.transparency.models import complaint_statistics, donations_received


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
    """The 16 lines as published, with what has been paid from each according to the disbursements."""
    return budget_rows(payment_history.spent_by_line(session))


BY_SLUG = {"donations": donations, "complaint_statistics": complaint_statistics_dataset,
           "payment_aggregates": payment_aggregates, "budget": budget}
