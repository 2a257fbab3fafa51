"""Move one payment cycle on from wherever it is, outside the service (operators, and the test that
kills the worker again and again):

    python -m services.payments.advance_cycle <cycle id>
"""
from __future__ import annotations

import sys

from sqlalchemy.orm import Session

from common.config import get_settings
from common.db import make_engine
from services.payments.bank import BankHttpAdapter
from services.payments.cycle_steps import advance


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    settings = get_settings()
    engine = make_engine(settings.database_url_for("payments"))
    bank = BankHttpAdapter(settings.bank_url, settings.bank_shared_key, settings.bank_timeout)
    with Session(engine) as session:
        print(advance(session, argv[0], bank), flush=True)
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
