"""Entitlement, order ids and the ledger's arithmetic, without a database (hypothesis)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import Conflict, Forbidden
from services.payments import cycles, ledger

amounts = st.integers(min_value=1, max_value=10**13)


def test_order_ids_are_deterministic_short_and_distinct():
    a = cycles.order_id("1405-09.pension_disability", "0499370899")
    assert a == cycles.order_id("1405-09.pension_disability", "0499370899")
    assert len(a) <= 35 and a.startswith("1405090499370899")
    assert a != cycles.order_id("1405-09.pension_elderly", "0499370899")
    assert a != cycles.order_id("1405-10.pension_disability", "0499370899")


def test_only_the_active_are_owed_and_the_preparer_cannot_approve():
    assert cycles.entitlement(12_500_000, "active") == 12_500_000
    assert cycles.entitlement(12_500_000, "suspended") == cycles.entitlement(12_500_000, "deceased") == 0
    with pytest.raises(Forbidden):
        cycles.check_approver("finance.expert", "finance.expert")
    cycles.check_approver("finance.expert", "finance.approver")
    with pytest.raises(Conflict):
        cycles.require("open", "approved", "issue the orders of")


def test_a_posting_that_does_not_balance_or_is_not_whole_rials_is_refused():
    with pytest.raises(ledger.Unbalanced):
        ledger.Posting("x", (("a", 10), ("b", -9)))
    with pytest.raises(ledger.Unbalanced):
        ledger.Posting("x", (("a", 10.0), ("b", -10.0)))
    with pytest.raises(ledger.Unbalanced):
        ledger.Posting("x", (("a", 0),))


@settings(max_examples=300)
@given(st.integers(min_value=0, max_value=10**14),
       st.lists(st.tuples(amounts, st.integers(min_value=0, max_value=100), st.booleans()), max_size=30))
def test_whatever_is_sent_settled_or_released_the_ledger_balances_and_money_is_conserved(allocation, batches):
    """Per batch: a sum sent, a share of it returned, and the returned part released or not."""
    postings = [ledger.allocate("line", "1405", allocation)] if allocation else []
    sent = paid = returned = released = 0
    for i, (amount, returned_pct, release) in enumerate(batches):
        postings.append(ledger.send(f"b{i}", "line", amount))
        back = amount * returned_pct // 100
        postings.append(ledger.settle(f"s{i}", "line", amount - back, back) if amount - back or back else None)
        postings = [p for p in postings if p]
        sent, paid, returned = sent + amount, paid + amount - back, returned + back
        if release and back:
            postings.append(ledger.release(f"r{i}", "line", back))
            released += back
    totals = ledger.balances(postings)
    assert sum(totals.values()) == 0
    assert totals.get("in_transit", 0) == 0  # every batch settled
    assert totals.get("paid:line", 0) == paid and totals.get("returned:line", 0) == returned - released
    assert ledger.remaining(totals, "line") == allocation - sent + released
    assert totals.get("treasury", 0) == -allocation
