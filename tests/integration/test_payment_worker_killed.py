"""The cycle worker killed (SIGKILL) again and again, at whatever point it has reached (between
commits, in the middle of a bank call), then resumed, until the cycle is settled: no order paid twice,
none missed, the ledger balanced to the rial, each bank file taken once, each batch's disbursements
staged for publishing once. And the outbox relay killed between the publishes of the cycle's disbursement
batches (before publishing one, and after publishing one but before marking it) and started again: each batch
reaches a consumer's queue, once after deduplication by event id as the consumers do."""
from __future__ import annotations

import os
import random
import subprocess
import sys
import time

import pytest
import requests
import sqlalchemy as sa
from kombu import Connection, Queue
from sqlalchemy.orm import Session

from common.config import PROJECT_ROOT
from common.events.catalog import DISBURSEMENTS_PUBLISHED
from common.events.envelope import register_kombu_serializer
from common.outbox.relay import event_exchange
from fakes.bank.app import create_app, open_iban
from services.payments import budget, cycle_steps, ledger_store
from services.payments.models import Beneficiary, Enrolment
from tests.helpers import serving

KEY = "kill-test-bank-key"
PEOPLE = 120
BATCH = 7
LINE = {"code": "pension", "title_fa": "مستمری", "per_capita_rials": 23_000_000, "purpose_fa": "مستمری ماهانه",
        "legal_basis_fa": "قانون", "pays": "beneficiary", "yearly_allocation_rials": 10**13}


def national_ids(n):
    from services.payments.demo_registry import take

    return [p["national_id"] for p in take(n)]


@pytest.fixture
def bank_url():
    with serving(create_app(KEY, open_registry=True)) as server:
        yield server.url


@pytest.fixture
def cycle(db_urls):
    engine = sa.create_engine(db_urls["payments"])
    with Session(engine) as session, session.begin():
        budget.load(session, lines=[LINE])
        for nid in national_ids(PEOPLE):
            session.add(Beneficiary(national_id=nid, full_name="مددجو", household_size=1, mobile=None,
                                    province="tehran", iban=open_iban(nid), status="active",
                                    iban_verified_at=sa.func.now()))
            session.add(Enrolment(national_id=nid, line="pension", since="1391-01"))
        session.flush()
        cycle_steps.open_cycle(session, "1405-09", "pension", "finance.expert")
    with Session(engine) as session:
        with session.begin():
            cycle_steps.compute_entitlements(session, "1405-09.pension")
            cycle_steps.approve(session, "1405-09.pension", "finance.approver")
    yield engine
    engine.dispose()


def worker(db_url, bank_url):
    env = {**os.environ, "PAYMENTS_DATABASE_URL": db_url, "BANK_URL": bank_url, "BANK_SHARED_KEY": KEY,
           "PAYMENT_BATCH_SIZE": str(BATCH), "LOG_LEVEL": "WARNING",
           # a killed worker's claims on bank files run out after this; the next worker takes its files over
           # (production's default is two minutes: tests/service/test_payment_cycle_faults.py)
           "BANK_CLAIM_SECONDS": "2"}
    env.pop("DATABASE_URL", None)
    return subprocess.Popen([sys.executable, "-m", "services.payments.advance_cycle", "1405-09.pension"], cwd=PROJECT_ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stage(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT stage FROM cycles WHERE id = '1405-09.pension'")).scalar()


BATCHES = -(-PEOPLE // BATCH)
# How far the cycle got, by what the database shows: files the bank answered (0..BATCHES, the stage is
# orders_issued), then statements settled (BATCHES..2 × BATCHES, the stage is bank_file_sent).
PROGRESS = ("SELECT count(*) FILTER (WHERE status <> 'built') + count(*) FILTER (WHERE status = 'settled') "
            "FROM bank_batches")
# Kill points by progress, not by the clock: twice while files go to the bank, twice while statements come back,
# then at random points of either.
SENDING, RECONCILING = [2, 6], [BATCHES + 2, BATCHES + 6]


def progress(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(PROGRESS)).scalar()


def in_flight(engine) -> set[str]:
    """Files claimed and not answered: a worker killed now may have sent them, and the next sends them again."""
    with engine.connect() as conn:
        return set(conn.execute(sa.text("SELECT id FROM bank_batches WHERE status = 'built' "
                                        "AND claimed_by IS NOT NULL")).scalars())


def kill_when(engine, proc, reached) -> bool:
    """SIGKILL the worker as soon as the database shows it got that far (or let it be if it ended)."""
    while proc.poll() is None:
        if progress(engine) >= reached:
            proc.kill()
            proc.communicate()
            return True
        time.sleep(0.005)  # polling the database: the worker gives no other signal
    return False


def kill_at(engine, db_url, bank_url, reached) -> str | None:
    """Workers started one after another until one gets the cycle that far, then SIGKILLed: the stage it was
    killed in, or None if the cycle settled first. A worker that finds files claimed by a killed one ends early
    (the claims run out after BANK_CLAIM_SECONDS), so the next is started; each must end well."""
    deadline = time.monotonic() + 60
    while stage(engine) != "settled":
        assert time.monotonic() < deadline, f"no worker got the cycle to {reached} in a minute"
        proc = worker(db_url, bank_url)
        if kill_when(engine, proc, reached):
            return stage(engine)
        out, err = proc.communicate()
        assert proc.returncode == 0, err
        assert out.strip() in ("orders_issued", "settled"), out  # waiting for claimed files, or done
    return None


def test_a_cycle_worker_killed_at_random_points_resumes_to_the_same_settled_cycle(cycle, db_urls, bank_url):
    rng = random.Random(1405)  # the same kill points every run
    points = sorted({*SENDING, *RECONCILING, *rng.sample(range(1, 2 * BATCHES), 8)})
    kills, killed_in, maybe_twice = 0, [], []
    for reached in points:
        if progress(cycle) >= reached:
            continue  # the last killed worker got past it
        killed = kill_at(cycle, db_urls["payments"], bank_url, reached)
        if killed:
            kills += 1
            killed_in.append(killed)
            maybe_twice.extend(in_flight(cycle))
    final = worker(db_urls["payments"], bank_url)
    out, err = final.communicate(timeout=120)
    assert out.strip() == "settled", err
    assert kills >= 4 and {"orders_issued", "bank_file_sent"} <= set(killed_in), killed_in  # sending, reconciling

    with cycle.connect() as conn:
        orders = conn.execute(sa.text("SELECT status, count(*) FROM payment_orders GROUP BY status")).all()
        batches = conn.execute(sa.text("SELECT count(*) FROM bank_batches")).scalar()
        published = conn.execute(sa.text("SELECT count(*), count(DISTINCT id), "
                                         "sum(jsonb_array_length(envelope->'data'->'items')) FROM outbox "
                                         "WHERE routing_key LIKE '%disbursements%'")).one()
    assert dict(orders) == {"paid": PEOPLE}
    assert batches == BATCHES and published == (batches, batches, PEOPLE)
    at_bank = requests.get(f"{bank_url}/api/batches", timeout=10).json()
    at_bank = at_bank["batches"] if isinstance(at_bank, dict) else at_bank
    assert len(at_bank) == batches  # every file booked once at the bank
    # a file goes again only if a killed worker had it in flight (claimed, not answered): once more per such kill
    again = {b["batch_id"]: b["submissions"] - 1 for b in at_bank if b["submissions"] > 1}
    assert all(n <= maybe_twice.count(batch_id) for batch_id, n in again.items()), (again, maybe_twice)
    with Session(cycle) as session:
        assert ledger_store.check(session) == []
        assert ledger_store.balance(session, "paid:pension") == PEOPLE * LINE["per_capita_rials"]


# The outbox relay killed between the publishes of a cycle's disbursement batches -----------------------------
# A relay process that runs the real OutboxRelay, one event at a time, and dies (os._exit: no cleanup, as SIGKILL)
# at the nth event it claims: "before" publishing it, or "after" the broker confirmed it but before it is marked
# published (so the next relay publishes it again: at least once, and the consumers' inboxes drop the copy).
RELAY = """
import os, sys
from common.outbox.relay import OutboxRelay
db_url, amqp_uri, when, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
relay = OutboxRelay("payments", db_url, amqp_uri, batch_size=1)
claimed = 0
def before(rows):
    global claimed
    claimed += 1
    if when == "before" and claimed == n:
        os._exit(137)
relay.before_publish = before
publisher = relay._broker()
publish = publisher.publish_batch
def published(messages):
    returned = publish(messages)
    if when == "after" and claimed == n:
        os._exit(137)
    return returned
publisher.publish_batch = published
relay.drain()
os._exit(0)
"""
# (when, n): the cycle's events are opened, approved, 18 disbursement batches, settled; each relay starts from
# the oldest unpublished one, so every kill falls between two disbursement batches.
RELAY_KILLS = [("after", 5), ("before", 2), ("after", 4), ("before", 1), ("after", 1), ("after", 3)]


def published(engine, only=DISBURSEMENTS_PUBLISHED.type):
    """(published, staged) events in the outbox: of `only` that type, or all."""
    with engine.connect() as conn:
        return tuple(conn.execute(sa.text("SELECT count(*) FILTER (WHERE published_at IS NOT NULL), count(*) "
                                          "FROM outbox WHERE :t IS NULL OR routing_key = :t"), {"t": only}).one())


def test_a_relay_killed_between_the_disbursement_batches_delivers_each_batch_once_after_dedup(
        cycle, db_urls, bank_url, rabbit_config):
    amqp_uri = rabbit_config["AMQP_URI"]
    with Connection(amqp_uri) as conn:  # a consumer's durable queue, as transparency and notifications have
        Queue("disbursements-consumer", exchange=event_exchange(DISBURSEMENTS_PUBLISHED.exchange),
              routing_key=DISBURSEMENTS_PUBLISHED.type, durable=True)(conn.default_channel).declare()
    final = worker(db_urls["payments"], bank_url)
    assert final.communicate(timeout=120)[0].strip() == "settled"
    batches = -(-PEOPLE // BATCH)
    assert published(cycle) == (0, batches)

    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    for when, n in RELAY_KILLS:
        before = published(cycle, only=None)[0]
        died = subprocess.run([sys.executable, "-c", RELAY, db_urls["payments"], amqp_uri, when, str(n)],
                              cwd=PROJECT_ROOT, env=env, timeout=60)
        assert died.returncode == 137, (when, n)
        assert published(cycle, only=None)[0] == before + n - 1  # what it marked before it died, not the nth
    assert 0 < published(cycle)[0] < batches  # killed in the middle of the cycle's batches

    # the rest by the relay as it is run (python -m common.outbox.relay), then SIGKILLed and started again
    relay_env = {**env, "PAYMENTS_DATABASE_URL": db_urls["payments"], "AMQP_URI": amqp_uri, "METRICS_PORT": "0",
                 "OUTBOX_BATCH_SIZE": "1", "LOG_LEVEL": "WARNING"}
    relay_env.pop("DATABASE_URL", None)
    for _ in range(2):
        relay = subprocess.Popen([sys.executable, "-m", "common.outbox.relay", "payments"], cwd=PROJECT_ROOT,
                                 env=relay_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while published(cycle)[0] < batches and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            relay.kill()
            relay.wait()
    assert published(cycle) == (batches, batches)

    register_kombu_serializer()
    deliveries = []
    with Connection(amqp_uri) as conn:
        queue = Queue("disbursements-consumer", durable=True)(conn.default_channel)
        while (message := queue.get(no_ack=True, accept=["cloudevents"])) is not None:
            deliveries.append(message.decode())
    by_id = {}  # the consumers' inbox: source + id
    for event in deliveries:
        by_id.setdefault((event["source"], event["id"]), event)
    kills_after_publishing = sum(1 for when, _ in RELAY_KILLS if when == "after")
    assert len(deliveries) == batches + kills_after_publishing  # each of those was published twice
    assert len(by_id) == batches
    assert sorted(e["data"]["batch"] for e in by_id.values()) == list(range(1, batches + 1))  # each batch once
    items = [i["order_id"] for e in by_id.values() for i in e["data"]["items"]]
    assert len(items) == len(set(items)) == PEOPLE
    with cycle.connect() as conn:
        paid = set(conn.execute(sa.text("SELECT id FROM payment_orders WHERE status = 'paid'")).scalars())
    assert set(items) == paid
