"""Two passes made cheaper, with the same answers: issuing the orders checks the batches the entitlements numbered
them into (one pass, summed by batch) and numbers them again only when they are not the batches of BATCH_SIZE in
national-ID order; the ledger's three checks against the orders (paid, in transit, returned), made in one pass
over the orders, find each way they can disagree, with the amount it is off by."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.payments import cycle_steps, ledger_store
from tests.service.payment_cycle_helpers import PENSION, PEOPLE, THIN, enrolled, scalar, valid

CYCLE = "1405-09.pension"
LINES = [PENSION, THIN]


@pytest.fixture
def session(db_urls, bank, monkeypatch):
    monkeypatch.setattr(cycle_steps, "BATCH_SIZE", 4)
    with enrolled(db_urls["payments"], bank, LINES) as s:
        yield s


def entitlements(session, bank):
    with session.begin():
        cycle_steps.open_cycle(session, "1405-09", "pension", "finance.expert")
    assert cycle_steps.advance(session, CYCLE, bank) == "entitlements_computed"


def batches(s: Session) -> list[tuple[str, str]]:
    return [tuple(r) for r in s.execute(sa.text("SELECT national_id, batch_id FROM payment_orders WHERE cycle_id = :c "
                                                "ORDER BY national_id"), {"c": CYCLE})]


# issuing ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("change", [
    None,
    "UPDATE payment_orders SET batch_id = NULL WHERE national_id = (SELECT min(national_id) FROM payment_orders)",
    "UPDATE payment_orders SET batch_id = :c || '.9' WHERE national_id = (SELECT max(national_id) FROM payment_orders)",
    # two orders of neighbouring batches swapped: every batch still has 4 orders
    """UPDATE payment_orders p SET batch_id = CASE WHEN p.batch_id = :c || '.1' THEN :c || '.2' ELSE :c || '.1' END
       WHERE p.national_id IN ((SELECT max(national_id) FROM payment_orders WHERE batch_id = :c || '.1'),
                               (SELECT min(national_id) FROM payment_orders WHERE batch_id = :c || '.2'))""",
    # the batches renamed: 1 <-> 2
    """UPDATE payment_orders SET batch_id = CASE batch_id WHEN :c || '.1' THEN :c || '.2'
                                                         WHEN :c || '.2' THEN :c || '.1' ELSE batch_id END""",
])
def test_the_orders_are_issued_in_national_id_order_whatever_their_batches_were(session, bank, change):
    people = len(valid(PEOPLE))
    assert people >= 8  # two batches at least
    entitlements(session, bank)
    with session.begin():
        assert cycle_steps._numbered(session, CYCLE)
        if change:
            session.execute(sa.text(change), {"c": CYCLE})
            assert not cycle_steps._numbered(session, CYCLE)
        cycle_steps.approve(session, CYCLE, "finance.approver")
        cycle_steps.issue_orders(session, CYCLE)
    with session.begin():
        assert batches(session) == [(nid, f"{CYCLE}.{1 + n // 4}") for n, (nid, _) in enumerate(batches(session))]
        assert cycle_steps._numbered(session, CYCLE)
    assert scalar(session, "SELECT count(*) FROM bank_batches") == -(-people // 4)


# the ledger's checks ---------------------------------------------------------------------------------------
ONE = "(SELECT min(id) FROM payment_orders WHERE status = 'paid')"


@pytest.mark.parametrize("change, problems", [
    (None, []),
    (f"UPDATE payment_orders SET amount_rials = amount_rials + 1 WHERE id = {ONE}",
     ["paid matches the paid orders: pension is off by -1 rials"]),
    (f"UPDATE payment_orders SET status = 'sent' WHERE id = {ONE}",
     ["paid matches the paid orders: pension is off by 12500000 rials",
      "in transit matches the orders sent and not settled: in_transit is off by -12500000 rials"]),
    (f"UPDATE payment_orders SET status = 'returned' WHERE id = {ONE}",
     ["paid matches the paid orders: pension is off by 12500000 rials",
      "returned matches the returned orders not yet resolved: pension is off by -12500000 rials"]),
    (f"UPDATE payment_orders SET status = 'returned', resolution = 'carried' WHERE id = {ONE}",
     ["paid matches the paid orders: pension is off by 12500000 rials"]),
    ("INSERT INTO ledger_lines (posting_key, account, amount_rials) "
     "SELECT key, 'returned:thin', 7 FROM ledger_postings LIMIT 1",
     ["every posting balances", "the whole ledger balances: all is off by 7 rials",
      "returned matches the returned orders not yet resolved: thin is off by 7 rials"]),
])
def test_the_checks_against_the_orders_find_each_disagreement(session, bank, change, problems):
    entitlements(session, bank)
    with session.begin():
        cycle_steps.approve(session, CYCLE, "finance.approver")
    assert cycle_steps.advance(session, CYCLE, bank) == "settled"
    with session.begin():
        if change:
            session.execute(sa.text(change))
        found = ledger_store.check(session)
        session.rollback()
    if problems[:1] == ["every posting balances"]:  # its posting key is whichever came first
        assert found[0].startswith("every posting balances: ") and found[0].endswith(" is off by 7 rials")
        found, problems = found[1:], problems[1:]
    assert found == problems
