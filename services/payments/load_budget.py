"""Load the budget law's lines for a year (common/budget_lines.py) into payments, fund each in the ledger and
announce them (`budget_lines.published`: the transparency portal's budget dataset). Run once when a year's
budget law is in force, and again when it is amended; loading the same lines again changes nothing:

    python -m services.payments.load_budget [year]
"""
from __future__ import annotations

import sys

from sqlalchemy.orm import Session

from common.config import get_settings
from common.db import make_engine
from services.payments import budget


def main(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and not argv[0].isdigit()):
        print(__doc__)
        return 2
    year = argv[0] if argv else budget.YEAR
    engine = make_engine(get_settings().database_url_for("payments"))
    with Session(engine) as session, session.begin():
        posted = budget.load(session, year)
        version = budget.last_announced(session, year)
    engine.dispose()
    print(f"budget {year}: {posted} allocation(s) posted now; lines announced as version {version}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
