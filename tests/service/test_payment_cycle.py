"""A payment cycle on the real PostgreSQL against the fake bank over HTTP (ISO 20022 files, signed
answers): to settled; the four eyes; a line that cannot cover its cycle; rejected and returned
payments; a crash at every step and a resume; a forged statement."""
from __future__ import annotations


import pytest
import sqlalchemy as sa

from common.errors import Conflict, Forbidden
from fakes.bank.app import open_iban
from services.payments import cycle_steps, cycles, ledger_store
from services.payments.bank import ForgedStatement
from tests.service.payment_cycle_helpers import PENSION, PEOPLE, THIN, enrolled, scalar, valid

LINES = [PENSION, THIN]


@pytest.fixture
def session(db_urls, bank, monkeypatch):
    monkeypatch.setattr(cycle_steps, "BATCH_SIZE", 4)
    with enrolled(db_urls["payments"], bank, LINES) as s:
        yield s


def people():
    return len(valid(PEOPLE))


def run(session, bank, line="pension", month="1405-09"):
    with session.begin():
        cycle_steps.open_cycle(session, month, line, "finance.expert")
    assert cycle_steps.advance(session, f"{month}.{line}", bank) == "entitlements_computed"
    with session.begin():
        cycle_steps.approve(session, f"{month}.{line}", "finance.approver")
    return cycle_steps.advance(session, f"{month}.{line}", bank)


def test_a_cycle_runs_to_settled_and_the_ledger_balances_to_the_rial(session, bank):
    assert run(session, bank) == "settled"
    n = people()
    assert scalar(session, "SELECT count(*) FROM payment_orders WHERE status = 'paid'") == n
    assert scalar(session, "SELECT count(*) FROM bank_batches WHERE status = 'settled'") == -(-n // 4)
    with session.begin():
        assert ledger_store.check(session) == []
        assert ledger_store.balance(session, "paid:pension") == n * 12_500_000
        assert ledger_store.balance(session, "allocation:pension") == 10_000_000_000 - n * 12_500_000
    events = scalar(session, "SELECT count(*) FROM outbox WHERE routing_key LIKE '%disbursements.published%'")
    items = scalar(session, "SELECT sum(jsonb_array_length(envelope->'data'->'items')) FROM outbox")
    assert events == -(-n // 4) and items == n
    postings = scalar(session, "SELECT count(*) FROM ledger_postings")
    events_before = scalar(session, "SELECT count(*) FROM outbox")
    assert cycle_steps.advance(session, "1405-09.pension", bank) == "settled"  # again: nothing moves
    assert scalar(session, "SELECT count(*) FROM ledger_postings") == postings
    assert scalar(session, "SELECT count(*) FROM outbox") == events_before
    kinds = scalar(session, "SELECT string_agg(DISTINCT routing_key, ',') FROM outbox")
    assert all(f"payments.{k}" in kinds for k in ("cycle.opened", "cycle.approved", "cycle.settled"))
    with session.begin():
        ids = session.execute(sa.text("SELECT national_id, id FROM payment_orders")).all()
    assert all(order == cycles.order_id("1405-09.pension", nid) for nid, order in ids)  # SQL twin agrees


def test_the_preparer_cannot_approve_and_a_month_is_paid_once(session, bank):
    with session.begin():
        cycle_steps.open_cycle(session, "1405-09", "pension", "finance.expert")
    cycle_steps.advance(session, "1405-09.pension", bank)
    with pytest.raises(Forbidden), session.begin():
        cycle_steps.approve(session, "1405-09.pension", "finance.expert")
    with pytest.raises(Conflict) as error, session.begin():
        cycle_steps.open_cycle(session, "1405-09", "pension", "someone.else")
    assert error.value.code == "cycle_exists"


def test_a_line_whose_allocation_does_not_cover_the_cycle_stops_with_the_reason(session, bank):
    with session.begin():
        cycle_steps.open_cycle(session, "1405-09", "thin", "finance.expert")
    assert cycle_steps.advance(session, "1405-09.thin", bank) == "stopped"
    reason = scalar(session, "SELECT stopped_reason FROM cycles WHERE id = '1405-09.thin'")
    assert "کافی نیست" in reason
    assert scalar(session, "SELECT count(*) FROM ledger_lines WHERE account = 'in_transit'") == 0


def test_rejected_and_returned_payments_wait_for_a_person_and_the_ledger_follows(session, bank, bank_server):
    first, second = valid(PEOPLE)[:2]
    import requests

    requests.post(f"{bank_server.url}/api/control", timeout=5,
                  json={"reject": [open_iban(first)], "return_later": [open_iban(second)]})
    assert run(session, bank) == "settled"
    with session.begin():
        statuses = dict(session.execute(sa.text("SELECT national_id, status FROM payment_orders")).all())
        failed = {o["national_id"]: o for o in __import__("services.payments.views", fromlist=["x"])
                  .failed_orders(session, None)}
        assert ledger_store.check(session) == []
        assert ledger_store.balance(session, "returned:pension") == 12_500_000
    assert statuses[first] == "rejected" and statuses[second] == "returned" and set(failed) == {first, second}
    told = scalar(session, "SELECT count(*) FROM outbox WHERE routing_key LIKE '%payment.failed%'")
    assert told == 2  # each beneficiary is told (notifications texts them)
    with session.begin():
        assert cycle_steps.mark_failed_for_people(session, [o["order_id"] for o in failed.values()], "carried") == 2
    with session.begin():
        assert ledger_store.check(session) == []
        assert ledger_store.balance(session, "returned:pension") == 0


class Crash(Exception):
    pass


class CrashingBank:
    """The real adapter, but the worker dies right after the bank answered (before our commit)."""

    def __init__(self, bank, at: str):
        self.bank, self.at, self.crashed = bank, at, False

    def __getattr__(self, name):
        return getattr(self.bank, name)

    def submit(self, xml):
        answer = self.bank.submit(xml)
        self._maybe("submit")
        return answer

    def statement(self, batch_id):
        answer = self.bank.statement(batch_id)
        self._maybe("statement")
        return answer

    def _maybe(self, at):
        if at == self.at and not self.crashed:
            self.crashed = True
            raise Crash(at)


@pytest.mark.parametrize("at", ["submit", "statement"])
def test_a_worker_killed_after_the_bank_answered_resumes_without_paying_twice(session, bank, bank_server, at):
    with session.begin():
        cycle_steps.open_cycle(session, "1405-09", "pension", "finance.expert")
    cycle_steps.advance(session, "1405-09.pension", bank)
    with session.begin():
        cycle_steps.approve(session, "1405-09.pension", "finance.approver")
    with pytest.raises(Crash):
        cycle_steps.advance(session, "1405-09.pension", CrashingBank(bank, at))
    assert cycle_steps.advance(session, "1405-09.pension", bank) == "settled"  # resumed
    n = people()
    assert scalar(session, "SELECT count(*) FROM payment_orders WHERE status = 'paid'") == n
    with session.begin():
        assert ledger_store.check(session) == []
        assert ledger_store.balance(session, "paid:pension") == n * 12_500_000
    import requests

    at_bank = requests.get(f"{bank_server.url}/api/batches", timeout=5).json()
    batches = at_bank["batches"] if isinstance(at_bank, dict) else at_bank
    assert len(batches) == -(-n // 4)  # each file once at the bank
    submissions = sorted(b["submissions"] for b in batches)
    if at == "submit":  # a file whose answer was lost is sent again under its batch id, and booked once
        assert submissions[-1] == 2 and set(submissions) <= {1, 2}
    else:
        assert set(submissions) == {1}
    assert scalar(session, "SELECT count(DISTINCT envelope->>'id') FROM outbox "
                           "WHERE routing_key LIKE '%disbursements%'") == -(-n // 4)


def test_a_forged_statement_changes_nothing(session, bank, bank_server):
    import requests

    with session.begin():
        cycle_steps.open_cycle(session, "1405-09", "pension", "finance.expert")
    cycle_steps.advance(session, "1405-09.pension", bank)
    with session.begin():
        cycle_steps.approve(session, "1405-09.pension", "finance.approver")
        cycle_steps.issue_orders(session, "1405-09.pension")
    cycle_steps.send_batches(session, "1405-09.pension", bank)
    requests.post(f"{bank_server.url}/api/control", json={"forge_signature": True}, timeout=5)
    with pytest.raises(ForgedStatement):
        cycle_steps.advance(session, "1405-09.pension", bank)
    assert scalar(session, "SELECT count(*) FROM payment_orders WHERE status = 'paid'") == 0
    assert scalar(session, "SELECT count(*) FROM outbox WHERE routing_key LIKE '%disbursements%'") == 0
    requests.post(f"{bank_server.url}/api/control", json={"forge_signature": False}, timeout=5)
    assert cycle_steps.advance(session, "1405-09.pension", bank) == "settled"


@pytest.mark.parametrize("in_flight", [1, 3])
def test_the_disbursements_carry_the_masked_account_and_never_the_whole_one(session, bank, in_flight, monkeypatch):
    monkeypatch.setattr(cycle_steps, "IN_FLIGHT", in_flight)  # one file at the bank at a time, or a few
    assert run(session, bank) == "settled"
    with session.begin():
        ibans = dict(session.execute(sa.text("SELECT id, iban FROM payment_orders")).all())
        events = session.execute(sa.text("SELECT envelope FROM outbox WHERE routing_key LIKE '%disbursements%' "
                                         "ORDER BY seq")).scalars().all()
    items = [item for event in events for item in event["data"]["items"]]
    assert sorted(i["order_id"] for i in items) == sorted(ibans)
    for item in items:
        iban = ibans[item["order_id"]]
        assert item["account_masked"] == f"IR** **** **** **** **** **{iban[-4:-2]} {iban[-2:]}"
        assert iban not in str(events) and iban[4:] not in str(events)
    assert [e["data"]["batch"] for e in events] == list(range(1, len(events) + 1))  # settled in order
    assert cycle_steps.mask_account("IR890170000000000499370899") == "IR** **** **** **** **** **08 99"
