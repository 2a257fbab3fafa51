"""The platform at several replicas, as Kubernetes runs it: two of each consumer (notifications,
transparency) and three of each timer (complaints' deadline sweeps, payments' cycle worker, the outbox
relay), each a real process (`python -m common.run <service>`, `python -m common.outbox.relay`) on a
real RabbitMQ (quorum queues, the platform's policies) and PostgreSQL, under a stream of work: cases
registered by RPC, deadlines passing, a payment cycle run to the end. Then: no event lost (every
consumer recorded every event of its types, every outbox row was published), and no effect doubled
(each event published once, each miss escalated once, each order paid once, each SMS sent once)."""
from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
import requests
import sqlalchemy as sa
from kombu import Connection, Queue
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy.orm import Session

from common.config import SERVICES, get_settings
from common.events.envelope import register_kombu_serializer
from common.outbox.relay import event_exchange
from scripts.rabbitmq_policies import apply as apply_policies
from tests.helpers import serving
from tests.integration.processes import Process, consuming, platform_env, queue_state, wait_for

CASES, OVERDUE, PEOPLE, BATCH = 30, 10, 24, 6
BANK_KEY = "replicas-test-bank-key"
LINE = {"code": "pension", "title_fa": "مستمری", "per_capita_rials": 23_000_000, "purpose_fa": "مستمری ماهانه",
        "legal_basis_fa": "قانون", "pays": "beneficiary", "yearly_allocation_rials": 10**13}
# transparency's RPC process is not among them: it has no consumer nor timer (its feeds process has them)
REPLICAS = {"complaints": 3, "notifications": 2, "payments": 3, "transparency-feeds": 2}
RELAYS = 2  # like k8s/base/relay.yaml; each holds two connections per database
EXCHANGES = ["complaints.events", "notifications.events", "payments.events", "transparency.events"]


@pytest.fixture
def engines(db_urls):
    made = {s: sa.create_engine(url) for s, url in db_urls.items()}
    yield made
    for engine in made.values():
        engine.dispose()


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def rows(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


@pytest.fixture
def tap(rabbit_config):
    """A queue bound to every event exchange, as an integrator would bind one: it sees each publish."""
    conn = Connection(rabbit_config["AMQP_URI"])
    channel = conn.channel()
    queue = Queue("integrator-tap", durable=True, queue_arguments={"x-queue-type": "quorum"})(channel)
    queue.declare()
    for name in EXCHANGES:
        exchange = event_exchange(name)(channel)
        exchange.declare()
        queue.bind_to(exchange=name, routing_key="#")
    register_kombu_serializer()

    def drain() -> list[dict]:
        got = []
        while (message := queue.get(no_ack=True, accept=["cloudevents", "json"])) is not None:
            got.append(message.decode())
        return got

    yield drain
    conn.release()


def open_cycle(engine) -> None:
    from fakes.bank.app import open_iban
    from services.payments import budget, cycle_steps
    from services.payments.demo_registry import take
    from services.payments.models import Beneficiary, Enrolment

    with Session(engine) as session, session.begin():
        budget.load(session, lines=[LINE])
        for i, person in enumerate(take(PEOPLE)):
            nid = person["national_id"]
            session.add(Beneficiary(national_id=nid, full_name="مددجو", household_size=1, mobile=f"0935{i:07d}",
                                    province="tehran", iban=open_iban(nid), status="active",
                                    iban_verified_at=sa.func.now()))
            session.add(Enrolment(national_id=nid, line="pension", since="1391-01"))
        session.flush()
        cycle_steps.open_cycle(session, "1405-09", "pension", "finance.expert")


def approve_cycle(engine) -> None:
    from services.payments import cycle_steps

    with Session(engine) as session, session.begin():
        cycle_steps.approve(session, "1405-09.pension", "finance.approver")


def register_cases(amqp_uri: str, at_once: int = 4) -> list[str]:
    """CASES cases by RPC, a few at a time (the replicas share one PostgreSQL server with other tests:
    its connections are the scarce thing here)."""
    config = {**get_settings().nameko_config(), "AMQP_URI": amqp_uri}
    codes = []
    with ClusterRpcProxy(config, timeout=30) as rpc:
        for start in range(0, CASES, at_once):
            replies = [rpc.complaints.register_case.call_async(
                {"kind": "complaint", "text": "مستمری این ماه هنوز واریز نشده است.", "mobile": f"0912{i:07d}"})
                for i in range(start, min(start + at_once, CASES))]
            codes += [reply.result()["tracking_code"] for reply in replies]
    return codes


def metric(process: Process, name: str, **labels) -> float:
    """The sum of a metric's samples in one process whose labels include `labels`."""
    total = 0.0
    for line in requests.get(f"http://127.0.0.1:{process.port}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def consumers_of(process: str) -> dict[str, str]:
    """{queue: event type} of a process's event handlers, from its service class."""
    from common.service_classes import handler_queues, process_class

    return handler_queues(process_class(process))


def test_replicas_side_by_side_lose_no_event_and_double_no_effect(db_urls, engines, rabbit_config, sms_operator, tap,
                                                                 tmp_path):
    from fakes.bank.app import create_app as fake_bank

    amqp_uri = rabbit_config["AMQP_URI"]
    apply_policies(amqp_uri)  # as ./dev up and k8s do: quorum event queues get at-least-once dead-lettering
    open_cycle(engines["payments"])
    with serving(fake_bank(BANK_KEY, open_registry=True)) as bank:
        env = platform_env(amqp_uri, db_urls, sms_operator.url, BANK_URL=bank.url, BANK_SHARED_KEY=BANK_KEY,
                           PAYMENT_BATCH_SIZE=str(BATCH), DEADLINE_SWEEP_SECONDS="1", CYCLE_RUN_SECONDS="1",
                           OUTBOX_POLL_INTERVAL="0.5", TRANSPARENCY_DEMO_DATA="false")
        processes: dict[str, list[Process]] = {
            service: [Process(["common.run", service], env, tmp_path / f"{service}-{i}.log") for i in range(n)]
            for service, n in REPLICAS.items()}
        everyone = [p for group in processes.values() for p in group]
        try:
            for service, n in REPLICAS.items():
                if service in SERVICES:  # a feeds process answers no RPC
                    wait_for(consuming(amqp_uri, f"rpc-{service}", n), 60, f"{n} replicas of {service} to consume")
                for queue in consumers_of(service):
                    wait_for(consuming(amqp_uri, queue, n), 30, f"{n} consumers on {queue}")
            # the relays once every consumer's queue is bound: the budget lines open_cycle loaded are staged already
            processes["relay"] = [Process(["common.outbox.relay", "complaints", "notifications", "payments",
                                           "transparency"], env, tmp_path / f"relay-{i}.log") for i in range(RELAYS)]
            everyone += processes["relay"]
            for process in everyone:  # broker and databases reachable from each (their readiness probe)
                wait_for(process.ready, 30, "every process to be ready")

            # the stream of work: cases come in by RPC while the cycle worker and the sweeps run
            registering = threading.Thread(target=lambda: codes.extend(register_cases(amqp_uri)))
            codes: list[str] = []
            registering.start()
            wait_for(lambda: scalar(engines["payments"], "SELECT stage FROM cycles") == "entitlements_computed",
                     30, "a payments replica to compute the entitlements")
            approve_cycle(engines["payments"])  # the approver's four eyes; the replicas go on from here
            registering.join(60)
            assert len(codes) == CASES
            with engines["complaints"].begin() as conn:  # their deadlines pass
                conn.execute(sa.text("UPDATE cases SET deadline_at = now() - interval '1 second', "
                                     "warn_at = now() - interval '2 seconds' WHERE tracking_code = ANY(:codes)"),
                             {"codes": codes[:OVERDUE]})

            def settled():
                return (scalar(engines["payments"], "SELECT stage FROM cycles") == "settled"
                        and scalar(engines["complaints"], "SELECT count(*) FROM deadline_misses") >= OVERDUE
                        and all(scalar(e, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
                                for e in engines.values()))
            wait_for(settled, 60, "the cycle settled, the misses escalated, every outbox published")

            def consumed():
                return all(queue_state(amqp_uri, q)[0] == 0 for s in REPLICAS for q in consumers_of(s)) and \
                    scalar(engines["notifications"], "SELECT count(*) FROM sms_messages WHERE status NOT IN "
                                                      "('sent', 'delivered')") == 0
            wait_for(consumed, 60, "every event consumed and every SMS sent")
            work = {p: (metric(p, "events_handled_total") + metric(p, "timer_runs_total", outcome="ok"),
                        metric(p, "timer_runs_total", outcome="error")) for p in everyone if p not in processes["relay"]}
        finally:
            for process in everyone:
                process.kill()

        published = tap()
        at_bank = requests.get(f"{bank.url}/api/batches", timeout=10).json()

    # no event lost: every outbox row reached the broker once, and every consumer recorded every event of its types
    outbox_ids = Counter(str(r[0]) for e in engines.values() for r in rows(e, "SELECT id FROM outbox"))
    assert set(outbox_ids.values()) == {1}
    assert Counter(e["id"] for e in published) == outbox_ids, "an event published twice, or never"
    by_type = Counter(e["type"] for e in published)
    for service, process in (("notifications", "notifications"), ("transparency", "transparency-feeds")):
        recorded = dict(rows(engines[service], "SELECT type, count(*) FROM inbox GROUP BY type"))
        assert recorded == {t: by_type[t] for t in set(consumers_of(process).values()) if by_type[t]}, service
    for service in REPLICAS:
        for queue in consumers_of(service):
            assert queue_state(amqp_uri, queue + ".dlq")[0] == 0, f"dead letters in {queue}.dlq"

    # no effect doubled: each overdue hop escalated once, each order paid once, each file taken once
    complaints = engines["complaints"]
    assert scalar(complaints, "SELECT count(*) FROM deadline_misses") == OVERDUE
    assert scalar(complaints, "SELECT count(DISTINCT hop_id) FROM deadline_misses") == OVERDUE
    assert by_type["ir.behzisti.complaints.case.deadline_missed.v1"] == OVERDUE
    assert by_type["ir.behzisti.complaints.case.registered.v1"] == CASES
    payments = engines["payments"]
    assert rows(payments, "SELECT status, count(*) FROM payment_orders GROUP BY status") == [("paid", PEOPLE)]
    batches = -(-PEOPLE // BATCH)
    assert scalar(payments, "SELECT count(*) FROM bank_batches") == batches
    assert len(at_bank["batches"] if isinstance(at_bank, dict) else at_bank) == batches
    assert by_type["ir.behzisti.payments.disbursements.published.v1"] == batches
    from services.payments import ledger_store

    with Session(payments) as session:
        assert ledger_store.check(session) == []
        assert ledger_store.balance(session, "paid:pension") == PEOPLE * LINE["per_capita_rials"]

    # each SMS sent once: one to each citizen who registered, one to each beneficiary paid
    notifications = engines["notifications"]
    sent = scalar(notifications, "SELECT count(*) FROM sms_messages WHERE provider_message_id IS NOT NULL")
    assert len(sms_operator.operator.messages) == sent
    to = Counter(m["receptor"] for m in sms_operator.operator.messages)
    assert all(to[f"0912{i:07d}"] >= 1 for i in range(CASES)) and all(to[f"0935{i:07d}"] == 1 for i in range(PEOPLE))
    registered_sms = rows(notifications, "SELECT recipient, count(*) FROM sms_messages WHERE cause_type = "
                                         "'ir.behzisti.complaints.case.registered.v1' GROUP BY recipient")
    assert len(registered_sms) == CASES and {n for _, n in registered_sms} == {1}

    # and the work was shared: every replica did some, none failed a timer run
    assert all(done > 0 for done, _ in work.values()), json.dumps({p.port: w for p, w in work.items()})
    assert all(errors == 0 for _, errors in work.values())


def test_the_relay_waits_until_every_consumer_queue_exists(rabbit_config):
    """A topic exchange drops an event no queue is bound for: on a first install the relay's
    initContainer (`python -m common.health wait-for-queues`) holds it until the consumers have
    declared their queues."""
    from common.events.handler import DEAD_LETTER_EXCHANGE
    from common.health import event_queues, missing_queues, wait_for_queues

    amqp_uri = rabbit_config["AMQP_URI"]
    names = event_queues()
    assert set(names) == {q for s in REPLICAS for q in consumers_of(s)}
    assert missing_queues(amqp_uri, names) == names
    assert wait_for_queues(amqp_uri, names, timeout=0.2, interval=0.1) is False
    with Connection(amqp_uri) as conn:
        for name in names:  # as the consumers declare them (common/events/handler.py)
            Queue(name, durable=True, queue_arguments={
                "x-queue-type": "quorum", "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE})(conn.default_channel).declare()
    assert missing_queues(amqp_uri, names) == []
    assert wait_for_queues(amqp_uri, names, timeout=5) is True
