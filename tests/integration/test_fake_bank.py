"""The bank adapter against the fake bank, in this process: owner inquiry, batches accepted, rejected in part or
whole, submitted twice, statements signed and forged, payments returned, and a bank that is down or slow."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from common.config import PROJECT_ROOT
from fakes.bank.app import create_app, open_iban
from scripts.processes import free_port
from services.payments.bank import (
    BankError,
    BatchRejected,
    BankHttpAdapter,
    ForgedAnswer,
    ForgedStatement,
    iso20022,
)
from tests.helpers import serving

KEY = "test-bank-key"
CREATED = datetime(2025, 3, 21, 8, 30, tzinfo=timezone.utc)
DEBTOR = {"name": "سازمان بهزیستی کشور", "iban": open_iban("0000000000", "010"), "bic": "BKMNIRTH"}


def national_id(first9: str) -> str:
    total = sum(int(first9[i]) * (10 - i) for i in range(9)) % 11
    return first9 + str(total if total < 2 else 11 - total)


PEOPLE = [{"national_id": national_id(f"0{n}2345678"), "name": f"مستمری‌بگیر {n}"} for n in range(1, 5)]
for person in PEOPLE:
    person["iban"] = open_iban(person["national_id"], "017")




@pytest.fixture
def fake_bank():
    """The fake bank on a free port, in this process, knowing the accounts of PEOPLE."""
    app = create_app(KEY)
    with serving(app) as server:
        server.bank = app.config["bank"]
        requests.post(f"{server.url}/api/accounts", json={"accounts": PEOPLE}, timeout=5).raise_for_status()
        yield server


@pytest.fixture
def bank(fake_bank):
    return BankHttpAdapter(fake_bank.url, KEY, timeout=5)


def control(server, **settings):
    requests.post(f"{server.url}/api/control", json=settings, timeout=5).raise_for_status()


def batch(batch_id: str = "BATCH-1", people=PEOPLE[:3], created_at: datetime = CREATED) -> bytes:
    rows = [{"end_to_end_id": f"{batch_id}-PO-{i}", "amount_rials": 10_000_000 * (i + 1),
             "creditor_name": p["name"], "creditor_iban": p["iban"], "national_id": p["national_id"]}
            for i, p in enumerate(people)]
    return iso20022.pain001(batch_id, created_at, DEBTOR, rows)


def batches_at(server) -> list[dict]:
    return requests.get(f"{server.url}/api/batches", timeout=5).json()


def test_the_owner_inquiry_names_the_national_id(bank):
    person = PEOPLE[0]
    assert bank.owner_of(person["iban"]) == person["national_id"]
    assert bank.owner_of(person["iban"][2:]) == person["national_id"]  # the 24 digits alone
    assert bank.belongs_to(person["iban"], person["national_id"])
    assert not bank.belongs_to(person["iban"], PEOPLE[1]["national_id"])
    assert bank.owner_of(open_iban(national_id("055555555"))) is None


def test_an_open_registry_owns_every_sheba_by_its_last_ten_digits():
    with serving(create_app(KEY, open_registry=True)) as server:
        bank = BankHttpAdapter(server.url, KEY)
        someone = national_id("123456789")
        assert bank.owner_of(open_iban(someone, "062")) == someone
        assert bank.owner_of(open_iban("1111111111")) is None  # not a valid national ID


def test_a_batch_is_accepted(bank, fake_bank):
    report = bank.submit(batch())
    assert (report["batch_id"], report["group_status"], report["rejected"]) == ("BATCH-1", "ACCP", {})
    [held] = batches_at(fake_bank)
    assert (held["count"], held["total"], held["accepted"], held["group_status"]) == (3, 60_000_000, 3, "ACCP")


def test_the_accounts_it_is_told_to_reject_are_rejected(bank, fake_bank):
    control(fake_bank, reject={PEOPLE[1]["iban"]: "AC01"})
    report = bank.submit(batch())
    assert report["group_status"] == "PART"
    assert report["rejected"] == {"BATCH-1-PO-1": "AC01"}
    control(fake_bank, reject=[PEOPLE[0]["iban"]])
    assert bank.submit(batch("BATCH-2"))["rejected"] == {"BATCH-2-PO-0": "AC04"}


def test_an_account_the_bank_does_not_know_is_rejected(bank):
    stranger = national_id("044444444")
    rows = [*PEOPLE[:1], {"national_id": stranger, "name": "ناشناس", "iban": open_iban(stranger)}]
    assert bank.submit(batch(people=rows))["rejected"] == {"BATCH-1-PO-1": "AC01"}


def test_the_same_batch_twice_is_answered_the_same_and_held_once(bank, fake_bank):
    control(fake_bank, reject=[PEOPLE[2]["iban"]])
    first = bank.submit(batch())
    control(fake_bank, reject=[])  # what the bank said stands
    again = bank.submit(batch(created_at=CREATED + timedelta(minutes=5)))  # rebuilt for the retry
    assert again == first
    [held] = batches_at(fake_bank)
    assert (held["submissions"], held["rejected"]) == (2, 1)
    with pytest.raises(BankError) as refused:
        bank.submit(batch(people=PEOPLE[:2]))  # the same id with other payments
    assert not refused.value.retryable and "409" in refused.value.message


def test_the_statement_is_signed_and_books_each_accepted_payment(bank, fake_bank):
    control(fake_bank, reject=[PEOPLE[2]["iban"]])
    bank.submit(batch())
    statement = bank.statement("BATCH-1")
    assert [(e["end_to_end_id"], e["amount_rials"], e["credit_debit"], e["status"], e["returned"])
            for e in statement["entries"]] == [("BATCH-1-PO-0", 10_000_000, "DBIT", "BOOK", False),
                                               ("BATCH-1-PO-1", 20_000_000, "DBIT", "BOOK", False)]
    assert statement["closing_balance"] == statement["opening_balance"] - 30_000_000
    assert {e["national_id"] for e in statement["entries"]} == {PEOPLE[0]["national_id"], PEOPLE[1]["national_id"]}
    again = bank.statement("BATCH-1")  # a redelivery is recognisable: the same ids
    assert again["statement_id"] == statement["statement_id"]
    assert [e["entry_ref"] for e in again["entries"]] == [e["entry_ref"] for e in statement["entries"]]
    assert len({e["entry_ref"] for e in statement["entries"]}) == 2


@pytest.mark.parametrize("forgery", [{"forge_signature": True}, {"tamper": True}])
def test_a_forged_statement_is_refused(bank, fake_bank, forgery):
    bank.submit(batch())
    control(fake_bank, **forgery)
    with pytest.raises(ForgedStatement) as refused:
        bank.statement("BATCH-1")
    assert not refused.value.retryable
    with pytest.raises(ForgedAnswer):
        bank.owner_of(PEOPLE[0]["iban"])


def test_a_statement_signed_with_another_key_is_refused(fake_bank):
    BankHttpAdapter(fake_bank.url, KEY).submit(batch())
    with pytest.raises(ForgedStatement):
        BankHttpAdapter(fake_bank.url, "someone-else's-key").statement("BATCH-1")


def test_a_forged_status_report_is_refused(bank, fake_bank):
    control(fake_bank, tamper=True)
    with pytest.raises(ForgedAnswer):
        bank.submit(batch())


def test_a_payment_returned_later_comes_back_in_the_statement(bank, fake_bank):
    control(fake_bank, return_later=[PEOPLE[1]["iban"]])
    assert bank.submit(batch())["group_status"] == "ACCP"
    entries = bank.statement("BATCH-1")["entries"]
    back = [e for e in entries if e["returned"]]
    assert [(e["end_to_end_id"], e["credit_debit"], e["amount_rials"], e["reason"]) for e in back] \
        == [("BATCH-1-PO-1", "CRDT", 20_000_000, "AC04")]
    assert len(entries) == 4


def test_a_whole_batch_rejected_is_a_bank_error(bank, fake_bank):
    control(fake_bank, fail_batch=True, fail_reason="AM04")
    with pytest.raises(BatchRejected) as rejected:
        bank.submit(batch())
    assert isinstance(rejected.value, BankError) and not rejected.value.retryable
    assert (rejected.value.report["group_status"], rejected.value.report["group_reason"]) == ("RJCT", "AM04")
    assert bank.statement("BATCH-1")["entries"] == []


def test_a_bank_that_is_down_is_retried_with_the_same_batch(bank, fake_bank):
    control(fake_bank, fail_next=1)
    with pytest.raises(BankError) as down:
        bank.submit(batch())
    assert down.value.retryable
    assert bank.submit(batch())["group_status"] == "ACCP"
    assert len(batches_at(fake_bank)) == 1


def test_a_slow_bank_times_out_and_the_retry_does_not_pay_twice(fake_bank):
    control(fake_bank, latency_ms=600)
    with pytest.raises(BankError) as slow:
        BankHttpAdapter(fake_bank.url, KEY, timeout=0.2).submit(batch())
    assert slow.value.retryable
    deadline = time.monotonic() + 5
    while not batches_at(fake_bank) and time.monotonic() < deadline:  # the bank took it; its answer was lost
        time.sleep(0.02)
    control(fake_bank, latency_ms=0)
    report = BankHttpAdapter(fake_bank.url, KEY).submit(batch())
    assert report["group_status"] == "ACCP"
    [held] = batches_at(fake_bank)
    assert held["submissions"] == 2


def test_unknown_statements_and_unreachable_banks_are_bank_errors(bank):
    with pytest.raises(BankError) as unknown:
        bank.statement("NO-SUCH-BATCH")
    assert not unknown.value.retryable
    with pytest.raises(BankError) as unreachable:
        BankHttpAdapter(f"http://127.0.0.1:{free_port()}", KEY, timeout=1).owner_of(PEOPLE[0]["iban"])
    assert unreachable.value.retryable


def test_the_fake_bank_runs_as_its_own_process():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "fakes.bank", "--host", "127.0.0.1", "--port", str(port), "--open",
                             "--key", KEY], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready = threading.Event()

    def watch():
        for line in proc.stdout:
            if "Running on" in line:
                ready.set()

    threading.Thread(target=watch, daemon=True).start()
    try:
        assert ready.wait(20), "the fake bank did not start"
        someone = national_id("987654321")
        assert BankHttpAdapter(f"http://127.0.0.1:{port}", KEY).owner_of(open_iban(someone)) == someone
        page = requests.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and 'dir="rtl"' in page.text
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_bank_keeps_a_batch_on_disk_and_builds_its_statement_when_asked(tmp_path):
    """Bounded memory: of a batch the bank keeps a small summary in memory; its payments and status report are in
    the spool, and its statement is built from them on request, the same bytes every time."""
    app = create_app(KEY, spool=str(tmp_path))
    bank_state = app.config["bank"]
    with serving(app) as server:
        requests.post(f"{server.url}/api/accounts", json={"accounts": PEOPLE}, timeout=5).raise_for_status()
        control(server, return_later=[PEOPLE[0]["iban"]], reject=[PEOPLE[1]["iban"]])
        adapter = BankHttpAdapter(server.url, KEY)
        report = adapter.submit(batch())
        [record] = bank_state.batches.values()
        assert set(record) <= {"batch_id", "received_at", "group_status", "group_reason", "count", "total",
                               "accepted", "rejected", "returned", "submissions", "fingerprint", "booked_at",
                               "opening_balance", "file", "statements"}  # no file, report or statement in memory
        assert len(list(tmp_path.iterdir())) == 2
        first = requests.get(f"{server.url}/statements/BATCH-1", timeout=5)
        again = requests.get(f"{server.url}/statements/BATCH-1", timeout=5)
        assert first.content == again.content and first.headers["X-Signature"] == again.headers["X-Signature"]
        statement = adapter.statement("BATCH-1")
        assert [(e["end_to_end_id"], e["credit_debit"], e["returned"]) for e in statement["entries"]] == [
            ("BATCH-1-PO-0", "DBIT", False), ("BATCH-1-PO-0", "CRDT", True), ("BATCH-1-PO-2", "DBIT", False)]
        assert adapter.submit(batch()) == report  # the status report again, from the spool
        detail = requests.get(f"{server.url}/api/batches/BATCH-1", timeout=5).json()
        assert detail["rejections"] == {"BATCH-1-PO-1": "AC04"} and detail["returns"] == {"BATCH-1-PO-0": "AC04"}
        assert detail["submissions"] == 2 and "fingerprint" not in detail
        page = requests.get(f"{server.url}/", timeout=5)
        assert page.status_code == 200 and "BATCH-1" in page.text
        requests.delete(f"{server.url}/api/batches", timeout=5).raise_for_status()
        assert list(tmp_path.iterdir()) == [] and batches_at(server) == []
