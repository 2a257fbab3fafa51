"""Payment cycles under faults, on the real PostgreSQL against the fake bank over HTTP (issue 17 item 3): a
cycle that fails is recorded, alerted and retried while the others go on; a database error is not the cycle's
fault; orders a statement leaves out stay sent and are asked for again until each has an outcome; two workers at
once send each file exactly once, and a crashed worker's claim runs out; a stage is never written backwards."""
from __future__ import annotations

import threading

import pytest
import requests
import sqlalchemy as sa
from prometheus_client import REGISTRY
from psycopg2 import OperationalError
from sqlalchemy.orm import Session

from common.errors import Conflict
from fakes.bank.app import open_iban
from services.payments import cycle_steps, cycle_worker, ledger_store
from services.payments.models import Cycle
from services.payments.views import cycle_view
from tests.service.payment_cycle_helpers import PENSION, PEOPLE, enrolled, scalar, valid

LINES = [
    PENSION,
    {"code": "care", "title_fa": "کمک هزینهٔ نگهداری", "per_capita_rials": 5_000_000, "purpose_fa": "کمک",
     "legal_basis_fa": "قانون", "pays": "beneficiary", "yearly_allocation_rials": 10_000_000_000},
]
MONTH = "1405-09"
STAFF = {"kind": "staff", "role": "finance_expert", "username": "finance.expert"}
N = len(valid(PEOPLE))


@pytest.fixture
def session(db_urls, bank, monkeypatch):
    monkeypatch.setattr(cycle_steps, "BATCH_SIZE", 4)
    with enrolled(db_urls["payments"], bank, LINES) as s:
        yield s


def approved(session, bank, line):
    cycle_id = f"{MONTH}.{line}"
    with session.begin():
        cycle_steps.open_cycle(session, MONTH, line, "finance.expert")
    assert cycle_steps.advance(session, cycle_id, bank) == "entitlements_computed"
    with session.begin():
        cycle_steps.approve(session, cycle_id, "finance.approver")
    return cycle_id


def at_bank(bank_server):
    """The fake bank's own books: {batch id: its summary (submissions, statements...)}."""
    return {b["batch_id"]: b for b in requests.get(f"{bank_server.url}/api/batches", timeout=5).json()}


def control(bank_server, **settings):
    requests.post(f"{bank_server.url}/api/control", json=settings, timeout=5).raise_for_status()


def balanced(session):
    with session.begin():
        return ledger_store.check(session) == []


def failures_counted(stage):
    return REGISTRY.get_sample_value("payment_cycle_failures_total", {"stage": stage}) or 0


# each cycle alone ------------------------------------------------------------------------------------------
def test_a_failing_cycle_is_recorded_alerted_and_retried_while_the_others_go_on(session, bank):
    from nameko.testing.services import worker_factory

    from services.payments.service import PaymentsService

    pension, care = approved(session, bank, "pension"), approved(session, bank, "care")
    with session.begin():  # one order of the care cycle has an account no bank file can carry
        broken = session.execute(sa.text("UPDATE payment_orders SET iban = 'IR00BAD' WHERE id = (SELECT min(id) "
                                         "FROM payment_orders WHERE cycle_id = :c) RETURNING id, national_id"),
                                 {"c": care}).one()
    counted = failures_counted("orders_issued")
    service = worker_factory(PaymentsService, db=session, bank=bank)

    assert service.run_cycles() == {care: "failed", pension: "settled"}  # care first (by id): pension still ran
    view = service.cycle(STAFF, care)
    assert view["stage"] == "orders_issued" and view["failures"] == 1
    assert "BankFileError" in view["last_error"] and "IR00BAD" in view["last_error"]
    assert view["failed_at"] and view["retry_at"] > view["failed_at"]
    assert failures_counted("orders_issued") == counted + 1
    assert REGISTRY.get_sample_value("payment_cycles_failing") == 1
    assert scalar(session, "SELECT retry_at - failed_at FROM cycles WHERE id = :c", c=care).total_seconds() == 30

    assert service.run_cycles() == {}  # waiting for its retry: no replica touches it before
    assert failures_counted("orders_issued") == counted + 1

    with session.begin():  # still broken when its time comes: it fails again, and waits twice as long
        session.execute(sa.text("UPDATE cycles SET retry_at = now() WHERE id = :c"), {"c": care})
    assert service.run_cycles() == {care: "failed"}
    assert scalar(session, "SELECT retry_at - failed_at FROM cycles WHERE id = :c", c=care).total_seconds() == 60
    assert service.cycle(STAFF, care)["failures"] == 2

    with session.begin():  # a person corrects the account; its retry comes
        session.execute(sa.text("UPDATE payment_orders SET iban = :iban WHERE id = :id"),
                        {"iban": open_iban(broken.national_id), "id": broken.id})
        session.execute(sa.text("UPDATE cycles SET retry_at = now() WHERE id = :c"), {"c": care})
    assert service.run_cycles() == {care: "settled"}
    view = service.cycle(STAFF, care)
    assert (view["failures"], view["last_error"], view["retry_at"]) == (0, None, None)
    assert view["orders"] == {"paid": N}
    assert REGISTRY.get_sample_value("payment_cycles_failing") == 0
    assert balanced(session)


def test_a_database_error_is_not_the_cycles_fault_it_waits_for_the_next_run(session, bank):
    cycle_id = approved(session, bank, "pension")

    class DatabaseGone:  # the bank answers, then the database is lost before the answer is recorded
        def __getattr__(self, name):
            return getattr(bank, name)

        def submit(self, xml):
            bank.submit(xml)
            raise OperationalError("server closed the connection unexpectedly")

    assert cycle_worker.run(session, DatabaseGone()) == {cycle_id: "waiting"}
    assert scalar(session, "SELECT failures FROM cycles WHERE id = :c", c=cycle_id) == 0
    assert scalar(session, "SELECT retry_at FROM cycles WHERE id = :c", c=cycle_id) is None
    assert cycle_worker.run(session, bank) == {cycle_id: "settled"}  # the next run, at once
    assert balanced(session)


# statements that leave orders out ----------------------------------------------------------------------------
def test_the_fake_bank_leaves_accounts_out_of_a_statement_under_an_id_of_its_own(session, bank, bank_server):
    cycle_id = approved(session, bank, "pension")
    with session.begin():
        cycle_steps.issue_orders(session, cycle_id)
    cycle_steps.send_batches(session, cycle_id, bank)
    first = valid(PEOPLE)[0]
    batch = scalar(session, "SELECT batch_id FROM payment_orders WHERE national_id = :n AND cycle_id = :c",
                   n=first, c=cycle_id)
    whole = bank.statement(batch)
    control(bank_server, leave_out=[open_iban(first)])
    partial = bank.statement(batch)
    assert {e["national_id"] for e in whole["entries"]} - {e["national_id"] for e in partial["entries"]} == {first}
    assert len(partial["entries"]) == len(whole["entries"]) - 1
    assert partial["statement_id"] != whole["statement_id"]
    assert bank.statement(batch)["statement_id"] == partial["statement_id"]  # the same bytes while it lasts
    control(bank_server, leave_out=[])
    assert bank.statement(batch) == whole
    assert at_bank(bank_server)[batch]["statements"] == 4


def test_orders_a_statement_leaves_out_stay_sent_and_are_asked_for_until_each_has_an_outcome(
        session, bank, bank_server):
    cycle_id = approved(session, bank, "pension")
    first, second = valid(PEOPLE)[:2]
    control(bank_server, leave_out=[open_iban(first)], return_later=[open_iban(second)])

    assert cycle_steps.advance(session, cycle_id, bank) == "bank_file_sent"  # waits for the bank, not settled
    batch = scalar(session, "SELECT batch_id FROM payment_orders WHERE national_id = :n", n=first)
    with session.begin():
        view = cycle_view(session, cycle_id)
        statuses = dict(session.execute(sa.text("SELECT national_id, status FROM payment_orders")).all())
    assert statuses[first] == "sent" and statuses[second] == "returned"
    assert view["orders"] == {"paid": N - 2, "returned": 1, "sent": 1}
    assert view["batches"]["accepted"] == 1 and view["left_out_of_statements"] == {"batches": 1, "orders": 1}
    assert scalar(session, "SELECT status || ' ' || left_out || ' ' || statements FROM bank_batches WHERE id = :b",
                  b=batch) == "accepted 1 1"
    assert balanced(session)  # what is left out is still in transit, to the rial
    asked, postings = at_bank(bank_server)[batch]["statements"], scalar(session, "SELECT count(*) FROM ledger_postings")

    assert cycle_steps.advance(session, cycle_id, bank) == "bank_file_sent"  # asked again: still left out
    assert at_bank(bank_server)[batch]["statements"] == asked + 1
    assert scalar(session, "SELECT count(*) FROM ledger_postings") == postings  # the same statement: nothing twice
    assert scalar(session, "SELECT stage FROM cycles WHERE id = :c", c=cycle_id) == "bank_file_sent"

    control(bank_server, leave_out=[])  # the bank's next statement has it
    assert cycle_steps.advance(session, cycle_id, bank) == "settled"
    with session.begin():
        statuses = dict(session.execute(sa.text("SELECT national_id, status FROM payment_orders")).all())
        events = session.execute(sa.text("SELECT envelope FROM outbox WHERE routing_key LIKE '%disbursements%'"))\
            .scalars().all()
    assert statuses[first] == "paid" and statuses[second] == "returned"
    paid = [i["national_id"] for e in events for i in e["data"]["items"]]
    assert sorted(paid) == sorted(n for n in valid(PEOPLE) if n != second)  # each paid order published once
    assert len({e["id"] for e in events}) == len(events) == -(-N // 4) + 1  # the later statement: its own event
    assert scalar(session, "SELECT count(*) FROM bank_batches WHERE status <> 'settled'") == 0
    assert scalar(session, "SELECT statements FROM bank_batches WHERE id = :b", b=batch) == 2
    assert balanced(session)
    with session.begin():
        assert ledger_store.balance(session, "paid:pension") == (N - 1) * 12_500_000
        assert ledger_store.balance(session, "in_transit") == 0


# each file once across replicas --------------------------------------------------------------------------------
def test_two_workers_at_once_send_each_file_exactly_once(session, bank, bank_server, db_urls, monkeypatch):
    monkeypatch.setattr(cycle_steps, "BATCH_SIZE", 1)  # a file per order: many files for two workers to share
    cycle_id = approved(session, bank, "pension")
    assert N > cycle_steps.IN_FLIGHT  # more files than one worker has at the bank at once
    hold_until_both_send(bank, monkeypatch)
    engines = [sa.create_engine(db_urls["payments"]) for _ in range(2)]
    reached, errors, started = [], [], threading.Barrier(2)

    def replica(engine):
        try:
            with Session(engine) as own:
                started.wait()
                reached.append(cycle_steps.advance(own, cycle_id, bank))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=replica, args=(e,)) for e in engines]
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=120)
    finally:
        for e in engines:
            e.dispose()
    assert errors == [] and "settled" in reached
    books = at_bank(bank_server)
    assert len(books) == N and {b["submissions"] for b in books.values()} == {1}  # every file, each once
    claimed_by = scalar(session, "SELECT count(DISTINCT claimed_by) FROM bank_batches")
    assert claimed_by == 2  # both sent files: the claim shared the work
    assert scalar(session, "SELECT count(*) FROM payment_orders WHERE status = 'paid'") == N
    assert balanced(session)


def hold_until_both_send(bank, monkeypatch):
    """The bank answers no file until more files are at it than one worker sends at once: the first worker waits
    there with its files claimed until the second has claimed one too, however the threads are scheduled (a
    fixed latency let a loaded machine's first worker send every file before the second started)."""
    submit, gate = bank.submit, threading.Condition()
    at_bank = [0]

    def held(xml):
        with gate:
            at_bank[0] += 1
            gate.notify_all()
            gate.wait_for(lambda: at_bank[0] > cycle_steps.IN_FLIGHT, timeout=60)
        return submit(xml)

    monkeypatch.setattr(bank, "submit", held)


def test_a_crashed_workers_claim_runs_out_and_another_sends_the_file_with_the_same_id(
        session, bank, bank_server):
    cycle_id = approved(session, bank, "pension")
    with session.begin():
        cycle_steps.issue_orders(session, cycle_id)
        held = f"{cycle_id}.1"
        assert cycle_steps._claim(session, held, "crashed-replica")  # it claimed the file, then died
    assert cycle_steps.advance(session, cycle_id, bank) == "orders_issued"  # the others sent; that one waits
    assert held not in at_bank(bank_server)
    with session.begin():  # its claim runs out
        session.execute(sa.text("UPDATE bank_batches SET claimed_until = now() - interval '1 second' WHERE id = :b"),
                        {"b": held})
    assert cycle_steps.advance(session, cycle_id, bank) == "settled"
    assert {b["submissions"] for b in at_bank(bank_server).values()} == {1}
    assert scalar(session, "SELECT claimed_by FROM bank_batches WHERE id = :b", b=held) != "crashed-replica"
    assert balanced(session)


# stages only forward ----------------------------------------------------------------------------------------
def test_a_worker_that_read_an_older_stage_cannot_write_the_cycle_back(session, bank, db_urls):
    cycle_id = approved(session, bank, "pension")
    engine = sa.create_engine(db_urls["payments"])
    try:
        with Session(engine, expire_on_commit=False) as late:  # as the service's sessions
            with late.begin():
                cycle_steps.issue_orders(late, cycle_id)
            with late.begin():
                stale = late.get(Cycle, cycle_id)  # this worker read orders_issued, then was slow
            assert cycle_steps.advance(session, cycle_id, bank) == "settled"  # another worker took it to the end
            with pytest.raises(Conflict) as refused, late.begin():
                cycle_steps._advance(late, stale, "bank_file_sent")
            assert refused.value.code == "wrong_cycle_stage"
            with pytest.raises(Conflict) as backwards, late.begin():
                cycle_steps._advance(late, late.get(Cycle, cycle_id, populate_existing=True), "statement_received")
            assert backwards.value.code == "stage_backwards"
    finally:
        engine.dispose()
    assert scalar(session, "SELECT stage FROM cycles WHERE id = :c", c=cycle_id) == "settled"
