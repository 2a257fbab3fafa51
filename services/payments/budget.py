"""Loading the budget lines (SPEC T9) and funding them in the ledger, once per year."""
from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.payments import ledger
from common.budget_lines import BUDGET_LINES
from services.payments.ledger_store import post
from services.payments.models import BudgetLine

YEAR = "1405"
COLUMNS = ("code", "title_fa", "per_capita_rials", "purpose_fa", "legal_basis_fa", "pays", "yearly_allocation_rials")


def load(session: Session, year: str = YEAR, lines: list[dict] = BUDGET_LINES) -> int:
    """Upsert the lines and post each one's yearly allocation (once: the posting's key names the line
    and the year). Returns how many allocations were posted now."""
    posted = 0
    for line in lines:
        values = {c: line[c] for c in COLUMNS} | {"year": year}
        session.execute(insert(BudgetLine).values(**values).on_conflict_do_update(
            index_elements=["code"], set_={k: v for k, v in values.items() if k != "code"}))
        session.flush()
        if line["yearly_allocation_rials"]:
            posted += post(session, ledger.allocate(line["code"], year, line["yearly_allocation_rials"]))
    return posted
