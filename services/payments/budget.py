"""Loading the budget lines (SPEC T9) and funding them in the ledger, once per year; the year's lines are
announced to the other services (`budget_lines.published`: the transparency portal's budget dataset)
whenever a load changes them."""
from __future__ import annotations

import hashlib
import json
import uuid

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from common import outbox
from common.budget_lines import BUDGET_LINES
from common.events.catalog import BUDGET_LINES_PUBLISHED
from common.events.envelope import new_event
from services.payments import ledger
from services.payments.ledger_store import post
from services.payments.models import BudgetLine, BudgetLinesVersion
from services.payments.models import outbox as outbox_table

YEAR = "1405"
COLUMNS = ("code", "title_fa", "per_capita_rials", "purpose_fa", "legal_basis_fa", "pays", "yearly_allocation_rials")
EVENT_NAMESPACE = uuid.UUID("3c0f6a8e-5b2d-4e71-9f04-14051405b0d9")


def load(session: Session, year: str = YEAR, lines: list[dict] = BUDGET_LINES) -> int:
    """Upsert the lines and post each one's yearly allocation (once: the posting's key names the line
    and the year), then announce the year's lines if they changed. Returns how many allocations were
    posted now."""
    posted = 0
    for line in lines:
        values = {c: line[c] for c in COLUMNS} | {"year": year}
        session.execute(insert(BudgetLine).values(**values).on_conflict_do_update(
            index_elements=["code"], set_={k: v for k, v in values.items() if k != "code"}))
        session.flush()
        if line["yearly_allocation_rials"]:
            posted += post(session, ledger.allocate(line["code"], year, line["yearly_allocation_rials"]))
    announce(session, year)
    return posted


def announce(session: Session, year: str) -> int | None:
    """Stage `budget_lines.published` with every line the year has now, unless those are the lines its last
    version announced. Returns the version announced now, or None."""
    # two loads at once would both take the next number: versions are numbered one at a time
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('payments.budget_lines'), hashtext(:year))"),
                    {"year": year})
    # columns, not entities: the session may hold lines as they were before this load's upserts
    lines = [dict(row) for row in session.execute(
        select(*(getattr(BudgetLine, c) for c in COLUMNS)).where(BudgetLine.year == year)
        .order_by(BudgetLine.code)).mappings()]
    if not lines:
        return None
    digest = hashlib.sha256(json.dumps(lines, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    last = _newest(session, year)
    if last is not None and last.lines_sha256 == digest:
        return None
    version = last.version + 1 if last else 1
    session.add(BudgetLinesVersion(year=year, version=version, lines_sha256=digest))
    session.flush()
    event_id = str(uuid.uuid5(EVENT_NAMESPACE, f"{BUDGET_LINES_PUBLISHED.name}:{year}:{version}"))
    outbox.add(session, outbox_table, new_event(BUDGET_LINES_PUBLISHED, {
        "year": int(year), "version": version, "lines": lines}, subject=year, event_id=event_id))
    return version


def last_announced(session: Session, year: str) -> int | None:
    newest = _newest(session, year)
    return newest.version if newest else None


def _newest(session: Session, year: str):
    """The year's newest announced version (version, lines_sha256), or None."""
    return session.execute(select(BudgetLinesVersion.version, BudgetLinesVersion.lines_sha256)
                           .where(BudgetLinesVersion.year == year)
                           .order_by(BudgetLinesVersion.version.desc()).limit(1)).first()
