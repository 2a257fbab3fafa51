"""The ledger in PostgreSQL: each posting once (its key is its cause), and the check that proves the
ledger balances and matches the orders.

    python -m services.payments.ledger_store check
"""
from __future__ import annotations

import sys

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.payments.ledger import Posting
from services.payments.models import LedgerLine, LedgerPosting


def post(session: Session, posting: Posting) -> bool:
    """Write the posting in the caller's transaction; False when its cause was already posted."""
    key = session.execute(insert(LedgerPosting).values(key=posting.key).on_conflict_do_nothing()
                          .returning(LedgerPosting.key)).scalar()
    if key is None:
        return False
    session.execute(insert(LedgerLine), [{"posting_key": posting.key, "account": account, "amount_rials": amount}
                                         for account, amount in posting.lines])
    return True


def balance(session: Session, account: str) -> int:
    return int(session.execute(text("SELECT coalesce(sum(amount_rials), 0) FROM ledger_lines WHERE account = :a"),
                               {"a": account}).scalar())


CHECKS = {
    "every posting balances": """
        SELECT posting_key, sum(amount_rials) FROM ledger_lines GROUP BY posting_key HAVING sum(amount_rials) <> 0""",
    "the whole ledger balances": """
        SELECT 'all', sum(amount_rials) FROM ledger_lines HAVING coalesce(sum(amount_rials), 0) <> 0""",
    "paid matches the paid orders": """
        WITH l AS (SELECT substr(account, 6) AS line, sum(amount_rials) AS ledger FROM ledger_lines
                   WHERE account LIKE 'paid:%' GROUP BY 1),
             o AS (SELECT c.line, sum(p.amount_rials) AS orders FROM payment_orders p JOIN cycles c ON c.id = p.cycle_id
                   WHERE p.status = 'paid' GROUP BY 1)
        SELECT coalesce(l.line, o.line), coalesce(l.ledger, 0) - coalesce(o.orders, 0)
        FROM l FULL JOIN o ON o.line = l.line WHERE coalesce(l.ledger, 0) <> coalesce(o.orders, 0)""",
    "in transit matches the orders sent and not settled": """
        SELECT 'in_transit', (SELECT coalesce(sum(amount_rials), 0) FROM ledger_lines WHERE account = 'in_transit')
             - (SELECT coalesce(sum(amount_rials), 0) FROM payment_orders WHERE status = 'sent')
        WHERE (SELECT coalesce(sum(amount_rials), 0) FROM ledger_lines WHERE account = 'in_transit')
           <> (SELECT coalesce(sum(amount_rials), 0) FROM payment_orders WHERE status = 'sent')""",
    "returned matches the returned orders not yet resolved": """
        WITH l AS (SELECT substr(account, 10) AS line, sum(amount_rials) AS ledger FROM ledger_lines
                   WHERE account LIKE 'returned:%' GROUP BY 1),
             o AS (SELECT c.line, sum(p.amount_rials) AS orders FROM payment_orders p JOIN cycles c ON c.id = p.cycle_id
                   WHERE p.status = 'returned' AND p.resolution IS NULL GROUP BY 1)
        SELECT coalesce(l.line, o.line), coalesce(l.ledger, 0) - coalesce(o.orders, 0)
        FROM l FULL JOIN o ON o.line = l.line WHERE coalesce(l.ledger, 0) <> coalesce(o.orders, 0)""",
    "no allocation is overspent": """
        SELECT account, sum(amount_rials) FROM ledger_lines WHERE account LIKE 'allocation:%'
        GROUP BY account HAVING sum(amount_rials) < 0""",
}


def check(session: Session) -> list[str]:
    """Every way the ledger fails to balance or to match the orders; [] when it is sound."""
    problems = []
    for name, sql in CHECKS.items():
        for what, amount in session.execute(text(sql)):
            problems.append(f"{name}: {what} is off by {amount} rials")
    return problems


def main(argv: list[str]) -> int:
    from common.config import get_settings
    from common.db import make_engine

    if argv[:1] != ["check"]:
        print(__doc__)
        return 2
    engine = make_engine(get_settings().database_url_for("payments"))
    with Session(engine) as session:
        problems = check(session)
    engine.dispose()
    print("\n".join(problems) or "the ledger balances to the rial and matches the orders")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
