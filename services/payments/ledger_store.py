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
    # the three checks against the orders read the orders once (summed by line and status; 1.5 million orders of a
    # month, on pages a third full, read three times took seconds at each reconciliation): see check()
    "paid matches the paid orders": None,
    "in transit matches the orders sent and not settled": None,
    "returned matches the returned orders not yet resolved": None,
    "no allocation is overspent": """
        SELECT account, sum(amount_rials) FROM ledger_lines WHERE account LIKE 'allocation:%'
        GROUP BY account HAVING sum(amount_rials) < 0""",
}


AGAINST_THE_ORDERS = """
    WITH o AS MATERIALIZED (
             SELECT c.line, coalesce(sum(p.amount_rials) FILTER (WHERE p.status = 'paid'), 0) AS paid,
                    coalesce(sum(p.amount_rials) FILTER (WHERE p.status = 'sent'), 0) AS sent,
                    coalesce(sum(p.amount_rials) FILTER (WHERE p.status = 'returned' AND p.resolution IS NULL), 0)
                        AS returned
             FROM payment_orders p JOIN cycles c ON c.id = p.cycle_id
             WHERE p.status IN ('paid', 'sent', 'returned') GROUP BY 1),
         lp AS (SELECT substr(account, 6) AS line, sum(amount_rials) AS ledger FROM ledger_lines
                WHERE account LIKE 'paid:%' GROUP BY 1),
         lr AS (SELECT substr(account, 10) AS line, sum(amount_rials) AS ledger FROM ledger_lines
                WHERE account LIKE 'returned:%' GROUP BY 1),
         lt AS (SELECT coalesce(sum(amount_rials), 0) AS ledger FROM ledger_lines WHERE account = 'in_transit')
    SELECT 'paid matches the paid orders', coalesce(lp.line, o.line), coalesce(lp.ledger, 0) - coalesce(o.paid, 0)
    FROM lp FULL JOIN o ON o.line = lp.line WHERE coalesce(lp.ledger, 0) <> coalesce(o.paid, 0)
    UNION ALL
    SELECT 'in transit matches the orders sent and not settled', 'in_transit',
           lt.ledger - (SELECT coalesce(sum(sent), 0) FROM o)
    FROM lt WHERE lt.ledger <> (SELECT coalesce(sum(sent), 0) FROM o)
    UNION ALL
    SELECT 'returned matches the returned orders not yet resolved', coalesce(lr.line, o.line),
           coalesce(lr.ledger, 0) - coalesce(o.returned, 0)
    FROM lr FULL JOIN o ON o.line = lr.line WHERE coalesce(lr.ledger, 0) <> coalesce(o.returned, 0)"""


def check(session: Session) -> list[str]:
    """Every way the ledger fails to balance or to match the orders; [] when it is sound."""
    problems = []
    against_the_orders = None
    for name, sql in CHECKS.items():
        if sql is None:  # one of the checks against the orders: all three were made at once
            if against_the_orders is None:
                against_the_orders = list(session.execute(text(AGAINST_THE_ORDERS)))
            rows = [(what, amount) for check_name, what, amount in against_the_orders if check_name == name]
        else:
            rows = session.execute(text(sql))
        for what, amount in rows:
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
