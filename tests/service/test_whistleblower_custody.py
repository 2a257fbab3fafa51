"""The whistleblower's custody (issue 18, SPEC C17): an anonymous report leaves no address beside it.
Idempotency records keep a keyed hash of client and key and never an answer with a tracking code or
secret, yet a retry gets the same answer; records and one-time codes are purged after a day by timers
that are safe in every replica; the old records are converted by the migrations. Real RabbitMQ and
PostgreSQL; the gateway in process, its requests from a chosen address."""
from __future__ import annotations

import json
import logging
import uuid

import pytest
import sqlalchemy as sa
from nameko.testing.services import entrypoint_hook
from sqlalchemy.orm import Session

from common import idempotency
from common.config import Settings, get_settings, with_database
from common.db import drop_database
from common.migrations import alembic_config, upgrade
from gateway.app import create_app
from gateway.rpc import RpcClient
from services.complaints.models import idempotency_keys as complaints_records
from services.complaints.service import ComplaintsService
from services.payments.models import idempotency_keys as payments_records
from services.payments.service import PaymentsService
from tests.helpers import TEST_RPC_SECONDS

ADDRESS = "198.51.100.23"
REPORT = {"kind": "violation_report", "text": "در این مرکز برای پذیرش مددجو از خانواده‌ها پول گرفته می‌شود."}


@pytest.fixture
def complaints(container_factory, service_config):
    container = container_factory(ComplaintsService, service_config)
    container.start()
    return container


@pytest.fixture
def gateway(complaints, service_config):
    rpc = RpcClient({**get_settings().nameko_config(), **service_config}, timeout=TEST_RPC_SECONDS)
    return create_app(rpc, Settings(rate_limits_enabled=False)).test_client()


def post_report(gateway, key: str, body: dict = REPORT):
    return gateway.post("/api/v1/cases", json=body, headers={"Idempotency-Key": key},
                        environ_base={"REMOTE_ADDR": ADDRESS})


def records_text(engine) -> str:
    with engine.connect() as conn:
        return " ".join(conn.execute(sa.text("SELECT r::text FROM idempotency_keys r")).scalars())


def test_an_anonymous_report_leaves_no_address_code_or_secret_in_its_record_and_a_retry_is_answered_the_same(
        gateway, engine_of, caplog):
    key = str(uuid.uuid4())
    with caplog.at_level(logging.DEBUG):
        first = post_report(gateway, key)
        retry = post_report(gateway, key)
    assert first.status_code == retry.status_code == 201, first.get_data(as_text=True)
    report = first.get_json()
    assert report["anonymous"] is True and len(report["secret"]) == 16
    assert retry.get_json() == report  # tracking code and secret alike, though neither is kept

    kept = records_text(engine_of("complaints"))
    assert kept, "the retry was answered from a record"
    for secret_thing in (ADDRESS, key, report["tracking_code"], report["tracking_code_display"], report["secret"]):
        assert secret_thing not in kept
    with engine_of("complaints").connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM cases")).scalar() == 1

    logged = [f"{r.getMessage()} {vars(r)}" for r in caplog.records]
    assert logged, "the platform logged nothing to search"
    assert not [line for line in logged if ADDRESS in line]  # no log line holds the reporter's address


def test_the_same_key_with_another_body_is_still_refused(gateway, engine_of):
    key = str(uuid.uuid4())
    assert post_report(gateway, key).status_code == 201
    other = post_report(gateway, key, {**REPORT, "text": "گزارش دیگری با همان کلید تکرار فرستاده شد."})
    assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused"
    with engine_of("complaints").connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM cases")).scalar() == 1


def test_the_same_key_from_another_address_is_another_request(gateway):
    key = str(uuid.uuid4())
    first = post_report(gateway, key).get_json()
    elsewhere = gateway.post("/api/v1/cases", json=REPORT, headers={"Idempotency-Key": key},
                             environ_base={"REMOTE_ADDR": "203.0.113.7"}).get_json()
    assert elsewhere["tracking_code"] != first["tracking_code"] and elsewhere["secret"] != first["secret"]


# the purge ---------------------------------------------------------------------------------------------
def age_records(engine, hours_ago: dict[str, float]) -> None:
    with engine.begin() as conn:
        for name, hours in hours_ago.items():
            conn.execute(sa.text("INSERT INTO idempotency_keys (key_hash, operation, fingerprint, response, created_at) "
                                 "VALUES (:k, 'test', 'f', '{}', now() - make_interval(secs => :s))"),
                         {"k": name, "s": hours * 3600})


def remaining(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.text("SELECT key_hash FROM idempotency_keys")).scalars())


def test_each_service_s_timer_purges_the_records_older_than_a_day_only(complaints, container_factory, service_config,
                                                                        engine_of):
    payments = container_factory(PaymentsService, service_config)
    payments.start()
    for service, container in (("complaints", complaints), ("payments", payments)):
        engine = engine_of(service)
        age_records(engine, {"25h": 25, "24h+1m": 24 + 1 / 60, "23h": 23, "just now": 0})
        with entrypoint_hook(container, "purge_idempotency") as purge:
            assert purge() == 2
        assert remaining(engine) == {"23h", "just now"}, service


def test_a_purge_never_waits_on_a_record_in_use_and_takes_it_on_a_later_tick(db_urls):
    engine = sa.create_engine(db_urls["payments"], connect_args={"options": "-c lock_timeout=2000"})
    age_records(engine, {f"old {i}": 30 for i in range(5)} | {"fresh": 1})
    holder = engine.connect()
    try:
        holder.begin()
        holder.execute(sa.text("SELECT 1 FROM idempotency_keys WHERE key_hash = 'old 0' FOR UPDATE"))
        with Session(engine) as session:  # another replica's tick, meanwhile: no wait (lock_timeout would raise)
            assert idempotency.purge_idempotency_records(session, payments_records) == 4
        assert remaining(engine) == {"old 0", "fresh"}
        holder.rollback()
        with Session(engine) as session:
            assert idempotency.purge_idempotency_records(session, payments_records) == 1
        assert remaining(engine) == {"fresh"}
    finally:
        holder.close()
        engine.dispose()


def test_one_time_codes_and_the_addresses_that_asked_for_them_are_purged_after_a_day(notifications, db):
    with db.begin() as conn:
        for hours, address in ((26, "ip:203.0.113.50"), (2, "ip:203.0.113.51")):
            conn.execute(sa.text(
                "INSERT INTO one_time_codes (id, mobile, purpose, client, code_hash, state, attempts, created_at, expires_at) "
                "VALUES (:id, '09121234567', 'beneficiary_login', :client, 'h', 'used', 1, "
                "now() - make_interval(secs => :s), now() - make_interval(secs => :s) + interval '2 minutes')"),
                {"id": str(uuid.uuid4()), "client": address, "s": hours * 3600})
    with entrypoint_hook(notifications, "purge_one_time_codes") as purge:
        assert purge() == 1
    with db.connect() as conn:
        assert list(conn.execute(sa.text("SELECT client FROM one_time_codes")).scalars()) == ["ip:203.0.113.51"]


# the migrations ---------------------------------------------------------------------------------------------
def revision_before_hashing(service: str, url: str) -> str:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config(service, url))
    (hashing,) = [r for r in scripts.walk_revisions() if r.path.endswith("_idempotency_keyed_hash.py")]
    return hashing.down_revision


def old_record(conn, client: str, key: str, operation: str, payload, response: dict, hours_ago: float) -> None:
    conn.execute(sa.text("INSERT INTO idempotency_keys (client, key, operation, fingerprint, response, created_at) "
                         "VALUES (:c, :k, :o, :f, CAST(:r AS jsonb), now() - make_interval(secs => :s))"),
                 {"c": client, "k": key, "o": operation, "f": idempotency.payload_digest(operation, payload),
                  "r": json.dumps(response), "s": hours_ago * 3600})


@pytest.fixture
def fresh_database(pg_url):
    urls = []

    def make(service: str) -> str:
        urls.append(with_database(pg_url, f"test_{service}_migration_{uuid.uuid4().hex[:8]}"))
        return urls[-1]

    yield make
    for url in urls:
        drop_database(url)


def test_the_migrations_carry_a_day_of_records_over_without_addresses_or_codes(fresh_database):
    complaints_url, payments_url = fresh_database("complaints"), fresh_database("payments")
    upgrade("complaints", complaints_url, revision_before_hashing("complaints", complaints_url))
    upgrade("payments", payments_url, revision_before_hashing("payments", payments_url))
    case_id, code = str(uuid.uuid4()), "4203917755102846"
    engine = sa.create_engine(complaints_url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO cases (id, tracking_code, kind, channel, urgency, status, text, path, visible_to) "
                             "VALUES (:id, :code, 'violation_report', 'web', 'normal', 'registered', 'x', "
                             "ARRAY['hq.inspection'], ARRAY['hq.inspection'])"), {"id": case_id, "code": code})
        old_record(conn, "ip:203.0.113.9", "k-recent", "register_case", REPORT,
                   {"tracking_code": code, "anonymous": True}, hours_ago=1)
        old_record(conn, "ip:203.0.113.9", "k-lost", "register_case", REPORT,
                   {"tracking_code": "1111222233334444", "anonymous": True}, hours_ago=1)  # its case is not there
        old_record(conn, "ip:203.0.113.9", "k-old", "register_case", REPORT,
                   {"tracking_code": code, "anonymous": True}, hours_ago=30)
        old_record(conn, "staff:7", "k-key", "issue_api_key", ["n", ["cases:read"]], {"id": "a", "prefix": "wk_1"}, 2)
    upgrade("complaints", complaints_url)
    payments_engine = sa.create_engine(payments_url)
    with payments_engine.begin() as conn:
        old_record(conn, "ip:203.0.113.9", "d-recent", "start_donation", {"amount_rials": 5}, {"id": "d1"}, 3)
        old_record(conn, "ip:203.0.113.9", "d-old", "start_donation", {"amount_rials": 5}, {"id": "d0"}, 48)
    upgrade("payments", payments_url)
    try:
        kept = records_text(engine)
        assert "203.0.113.9" not in kept and code not in kept and "k-recent" not in kept
        with Session(engine) as session, session.begin():
            def never():
                raise AssertionError("a converted record answers the retry")

            replayed = idempotency.once(session, complaints_records, {"client": "ip:203.0.113.9", "key": "k-recent"},
                                        "register_case", REPORT, never)
            assert replayed == {"case_id": case_id}
            assert idempotency.once(session, complaints_records, {"client": "staff:7", "key": "k-key"},
                                    "issue_api_key", ["n", ["cases:read"]], never) == {"id": "a", "prefix": "wk_1"}
            with pytest.raises(idempotency.IdempotencyConflict):
                idempotency.once(session, complaints_records, {"client": "ip:203.0.113.9", "key": "k-recent"},
                                 "register_case", {**REPORT, "text": "دیگر"}, never)
        assert len(remaining(engine)) == 2  # the recent report and the key; the lost and the old are gone
        assert "203.0.113.9" not in records_text(payments_engine)
        assert len(remaining(payments_engine)) == 1
    finally:
        engine.dispose()
        payments_engine.dispose()
