"""Donations on the real PostgreSQL against the fake payment gateway over HTTP (SPEC P5, P6): a paid donation is
recorded once, posted to the ledger and announced; a callback that is forged, replayed, for another amount or
never verified records nothing."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from common.errors import Conflict, Forbidden, InvalidRequest, NotFound
from common.events import schemas
from common.idempotency import once
from fakes.ipg.app import create_app
from services.payments import donations, ledger_store, psp
from services.payments.donation_schemas import DonationIn
from services.payments.models import idempotency_keys
from tests.helpers import serving

KEY = "test-ipg-key"
MERCHANT = "test-merchant"
CALLBACK = "http://127.0.0.1:9/api/v1/donations/callback"  # the tests post the callback themselves
TODAY = date(2026, 11, 26)
PERSON = {"donor_name": "مریم احمدی", "mobile": "09121234567", "province": "tehran",
          "purpose": {"kind": "line", "code": "child_support"}, "amount_rials": 5_000_000}
COMPANY = {"donor_kind": "company", "donor_name": "شرکت پتروشیمی نمونه", "company_national_id": "10100834460",
           "province": "bushehr", "purpose": {"kind": "campaign", "code": "bushehr_rehab_centers"},
           "amount_rials": 2_000_000_000}


@pytest.fixture
def ipg_server():
    app = create_app(MERCHANT, KEY)
    with serving(app) as server:
        server.gateway = app.config["gateway"]
        yield server


@pytest.fixture
def ipg(ipg_server):
    return psp.IpgHttpAdapter(ipg_server.url, MERCHANT, KEY, timeout=10)


@pytest.fixture
def session(db_urls):
    engine = sa.create_engine(db_urls["payments"])
    with Session(engine) as s:
        with s.begin():
            donations.load_campaigns(s)
        yield s
    engine.dispose()


def start(session, ipg, payload=PERSON, key=None):
    data = DonationIn.model_validate(payload)
    with session.begin():
        return once(session, idempotency_keys, {"client": "ip:test", "key": key} if key else None, "start_donation",
                    data.model_dump(mode="json"), lambda: donations.start(session, data, ipg, CALLBACK, TODAY))


def pay(server, token, outcome="paid") -> dict:
    return requests.post(f"{server.url}/api/pay", json={"token": token, "outcome": outcome}, timeout=10).json()["fields"]


def token_of(session, donation_id):
    with session.begin():
        return session.scalar(sa.text("SELECT token FROM donations WHERE id = :i"), {"i": donation_id})


def callback(session, fields, ipg):
    with session.begin():
        return donations.callback(session, fields, ipg)


def state(session) -> dict:
    with session.begin():
        return {
            "donations": session.execute(sa.text("SELECT id, status, psp_reference FROM donations ORDER BY id")).all(),
            "ledger": session.scalar(sa.text("SELECT count(*) FROM ledger_lines")),
            "outbox": session.scalar(sa.text("SELECT count(*) FROM outbox")),
        }


def balance(session, account):
    with session.begin():
        return ledger_store.balance(session, account)


def test_a_paid_donation_is_recorded_once_posted_settled_and_announced(session, ipg, ipg_server):
    started = start(session, ipg)
    assert started["status"] == "started" and started["redirect_url"].startswith(ipg_server.url + "/pay/")
    fields = pay(ipg_server, token_of(session, started["id"]))
    receipt = callback(session, fields, ipg)
    assert receipt["status"] == "paid" and receipt["receipt_number"] == started["receipt_number"]
    assert receipt["psp_reference"] == fields["reference"] and receipt["paid_at"]["jalali"].startswith("۱۴")
    assert receipt["mobile_masked"] == "0912***4567" and receipt["purpose"]["title_fa"]

    account = donations.purpose_account("tehran", "line", "child_support")
    assert balance(session, account) == -5_000_000
    assert balance(session, "bank") == 5_000_000 and balance(session, "psp_receivable") == 0
    with session.begin():
        assert ledger_store.check(session) == []
        [event] = session.execute(sa.text("SELECT envelope FROM outbox")).scalars().all()
    assert event["type"] == "ir.behzisti.payments.donation.received.v1" and schemas.errors_of(event) == []
    assert event["data"]["mobile"] == "09121234567" and "donor_name" not in event["data"]
    assert ipg_server.gateway.transactions[fields["token"]]["status"] == "settled"

    before = state(session)
    with pytest.raises(Conflict) as replayed:
        callback(session, fields, ipg)  # the browser's back button, or someone replaying it
    assert replayed.value.code == "callback_replayed"
    assert state(session) == before


def test_a_forged_callback_records_nothing(session, ipg, ipg_server):
    started = start(session, ipg)
    token = token_of(session, started["id"])
    requests.post(f"{ipg_server.url}/api/control", json={"forge_callbacks": True}, timeout=5)
    forged = pay(ipg_server, token)
    before = state(session)
    with pytest.raises(Forbidden) as caught:
        callback(session, forged, ipg)
    assert caught.value.code == "callback_forged"
    tampered = {**forged, "amount": "5000000"}
    tampered.pop("signature")
    with pytest.raises(Forbidden):
        callback(session, tampered, ipg)
    assert state(session) == before
    requests.post(f"{ipg_server.url}/api/control", json={"forge_callbacks": False}, timeout=5)
    assert callback(session, pay(ipg_server, token), ipg)["status"] == "paid"  # the real one still counts


def test_a_callback_for_another_amount_records_nothing(session, ipg, ipg_server):
    started = start(session, ipg)
    fields = pay(ipg_server, token_of(session, started["id"]))
    other = {**fields, "amount": "5000"}
    other["signature"] = psp.callback_signature(KEY, other)  # even signed: it is not this donation's amount
    before = state(session)
    with pytest.raises(Conflict) as caught:
        callback(session, other, ipg)
    assert caught.value.code == "amount_mismatch"
    assert state(session) == before


def test_a_callback_the_gateway_does_not_verify_records_nothing(session, ipg, ipg_server):
    started = start(session, ipg)
    token = token_of(session, started["id"])
    never_paid = {"token": token, "status": "OK", "reference": "999999999999", "amount": "5000000",
                  "order_id": started["receipt_number"]}
    never_paid["signature"] = psp.callback_signature(KEY, never_paid)
    before = state(session)
    with pytest.raises(Conflict) as caught:
        callback(session, never_paid, ipg)  # signed, but the gateway says it was never paid
    assert caught.value.code == "payment_not_verified"
    fields = pay(ipg_server, token)
    requests.post(f"{ipg_server.url}/api/control", json={"verify_fails": True}, timeout=5)
    with pytest.raises(Conflict):
        callback(session, fields, ipg)
    assert state(session) == before
    with session.begin():
        assert ledger_store.check(session) == []


def test_a_payment_cancelled_at_the_gateway_fails_the_donation_and_posts_nothing(session, ipg, ipg_server):
    started = start(session, ipg)
    receipt = callback(session, pay(ipg_server, token_of(session, started["id"]), "cancelled"), ipg)
    assert receipt["status"] == "failed" and receipt["paid_at"] is None
    assert state(session)["ledger"] == 0 and state(session)["outbox"] == 0


def test_a_company_gives_from_its_social_responsibility_fund_and_the_dataset_names_only_companies(
        session, ipg, ipg_server):
    for payload in (COMPANY, PERSON):
        started = start(session, ipg, payload)
        callback(session, pay(ipg_server, token_of(session, started["id"])), ipg)
    with session.begin():
        dataset = donations.dataset(session)
        purposes = donations.purposes(session, TODAY)
    assert dataset["total_rials"] == 2_005_000_000
    by_kind = {item["donor_kind"]: item for item in dataset["items"]}
    assert by_kind["company"]["company_national_id"] == "10100834460"
    assert by_kind["company"]["company_name"] == "شرکت پتروشیمی نمونه"
    assert by_kind["person"]["company_name"] is None
    assert "09121234567" not in str(dataset) and "مریم" not in str(dataset)
    raised = {c["code"]: c["raised_rials"] for c in purposes["campaigns"]}
    assert raised["bushehr_rehab_centers"] == 2_000_000_000 and len(purposes["campaigns"]) == 3


def test_campaigns_must_be_published_open_and_of_the_province(session, ipg):
    with pytest.raises(Conflict) as caught:
        start(session, ipg, {**COMPANY, "province": "tehran"})
    assert caught.value.code == "campaign_of_another_province" and "province" in caught.value.detail
    with session.begin():
        session.execute(sa.text("UPDATE donation_campaigns SET published = false WHERE code = 'winter_warmth_1405'"))
    with pytest.raises(NotFound) as caught:
        start(session, ipg, {**PERSON, "purpose": {"kind": "campaign", "code": "winter_warmth_1405"}})
    assert caught.value.code == "campaign_not_found"
    with pytest.raises(InvalidRequest) as invalid:  # a company names itself
        start(session, ipg, {**COMPANY, "company_national_id": None})
    assert invalid.value.errors[0]["field"] == "company_national_id"
    assert state(session)["donations"] == []


def test_starting_again_with_the_same_key_is_the_same_donation(session, ipg, ipg_server):
    first = start(session, ipg, key="donate-key-0001")
    again = start(session, ipg, key="donate-key-0001")
    assert again == first and len(state(session)["donations"]) == 1
    assert len(ipg_server.gateway.transactions) == 1


# the timer of every replica: donations left behind ---------------------------------------------------------
LATER = donations.STALE_AFTER + timedelta(minutes=1)


class SettleFails:
    """The real gateway adapter, but settling fails until `.fails` is set to False (the gateway down then)."""

    def __init__(self, ipg):
        self.ipg, self.fails = ipg, True

    def __getattr__(self, name):
        return getattr(self.ipg, name)

    def settle(self, reference):
        if self.fails:
            raise psp.PspError("the payment gateway answered 503", retryable=True, code="psp_unavailable")
        return self.ipg.settle(reference)


def retry(session, ipg, after=LATER):
    return donations.retry_pending(session, ipg, now=donations.now_utc() + after)  # its own transactions


def test_a_donation_the_gateway_could_not_settle_is_settled_by_the_timer_once(session, ipg, ipg_server):
    flaky = SettleFails(ipg)
    started = start(session, flaky)
    fields = pay(ipg_server, token_of(session, started["id"]))
    assert callback(session, fields, flaky)["status"] == "paid"
    assert balance(session, "psp_receivable") == 5_000_000 and balance(session, "bank") == 0
    flaky.fails = False
    assert retry(session, flaky, after=timedelta(0)) == {"verified": 0, "settled": 0}  # not a few minutes yet
    assert retry(session, flaky) == {"verified": 0, "settled": 1}
    assert balance(session, "bank") == 5_000_000 and balance(session, "psp_receivable") == 0
    assert ipg_server.gateway.transactions[fields["token"]]["status"] == "settled"
    before = state(session)
    assert retry(session, flaky) == {"verified": 0, "settled": 0}  # the next tick, another replica: nothing twice
    assert state(session) == before
    with session.begin():
        assert ledger_store.check(session) == []


def test_a_payment_whose_callback_never_came_is_verified_by_the_timer_and_the_late_callback_is_a_replay(
        session, ipg, ipg_server):
    paid = start(session, ipg)
    abandoned = start(session, ipg, {**PERSON, "amount_rials": 7_000_000})
    fields = pay(ipg_server, token_of(session, paid["id"]))  # paid at the gateway; the browser never came back
    assert retry(session, ipg, after=timedelta(0)) == {"verified": 0, "settled": 0}  # the donor may still come back
    assert retry(session, ipg) == {"verified": 1, "settled": 1}
    with session.begin():
        receipt = donations.receipt(session, paid["id"])
        [event] = session.execute(sa.text("SELECT envelope FROM outbox")).scalars().all()
    assert receipt["status"] == "paid" and receipt["psp_reference"] == fields["reference"]
    assert event["data"]["receipt_number"] == paid["receipt_number"] and schemas.errors_of(event) == []
    assert balance(session, "bank") == 5_000_000
    assert [d.status for d in state(session)["donations"] if d.id == abandoned["id"]] == ["started"]  # not paid

    before = state(session)
    assert retry(session, ipg) == {"verified": 0, "settled": 0}
    with pytest.raises(Conflict) as late:
        callback(session, fields, ipg)
    assert late.value.code == "callback_replayed" and state(session) == before
    assert retry(session, ipg, after=donations.VERIFY_WITHIN + timedelta(minutes=1)) == {"verified": 0, "settled": 0}
    with session.begin():
        assert ledger_store.check(session) == []


def test_replicas_retrying_at_once_never_take_the_same_donation(session, ipg, ipg_server, db_urls):
    started = start(session, ipg)
    pay(ipg_server, token_of(session, started["id"]))
    other_replica = sa.create_engine(db_urls["payments"])
    try:
        with other_replica.connect() as conn, conn.begin():  # holds the row, as a replica in the middle of it
            conn.execute(sa.text("SELECT 1 FROM donations WHERE id = :i FOR UPDATE"), {"i": started["id"]})
            assert retry(session, ipg) == {"verified": 0, "settled": 0}  # skipped, not waited for
        assert retry(session, ipg) == {"verified": 1, "settled": 1}
    finally:
        other_replica.dispose()
    assert ipg_server.gateway.transactions[token_of(session, started["id"])]["verifications"] == 1


def test_no_call_to_the_gateway_is_made_inside_a_transaction_and_a_claimed_donation_is_left_alone(
        session, ipg, ipg_server, db_urls):
    started = start(session, ipg)
    pay(ipg_server, token_of(session, started["id"]))
    seen = []

    class Watching:  # the gateway adapter, noting whether the caller's session had a transaction open
        def __getattr__(self, name):
            return getattr(ipg, name)

        def verify(self, token, amount):
            seen.append(("verify", session.in_transaction()))
            return ipg.verify(token, amount)

        def settle(self, reference):
            seen.append(("settle", session.in_transaction()))
            return ipg.settle(reference)

    other_replica = sa.create_engine(db_urls["payments"])
    try:
        with other_replica.connect() as conn:  # another replica is asking the gateway about it right now
            conn.execute(sa.text(donations._CLAIM), {"id": started["id"]})
            assert retry(session, Watching()) == {"verified": 0, "settled": 0} and seen == []
            conn.execute(sa.text(donations._RELEASE), {"id": started["id"]})
            conn.commit()
    finally:
        other_replica.dispose()
    assert retry(session, Watching()) == {"verified": 1, "settled": 1}
    assert seen == [("verify", False), ("settle", False)]
    with session.begin():
        assert ledger_store.check(session) == []


def test_the_service_timer_runs_the_retry(session, ipg, ipg_server):
    from nameko.testing.services import worker_factory
    from nameko.timer import Timer

    from services.payments.service import PaymentsService

    assert any(isinstance(e, Timer) for e in PaymentsService.retry_donations.nameko_entrypoints)
    started = start(session, ipg)
    pay(ipg_server, token_of(session, started["id"]))
    with session.begin():
        session.execute(sa.text("UPDATE donations SET created_at = now() - interval '6 minutes'"))
    service = worker_factory(PaymentsService, db=session, ipg=ipg)
    assert service.retry_donations() == {"verified": 1, "settled": 1}
