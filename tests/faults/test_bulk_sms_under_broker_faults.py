"""Bulk SMS while the broker goes away three times: two graceful restarts (`rabbitmqctl stop_app` for about 8 s,
then `start_app`: clients get CONNECTION_FORCED) and one crash (`kill -9` of the node's VM, then a start on the
same data: EOF or ECONNRESET), each while the platform is sending.

The platform sends many SMS at once in one place: a payment cycle's "your pension was paid" messages. Each paid
batch is one `disbursements.published` event, staged in the payments database's outbox by
cycle_steps.publish_disbursements (what a settled bank statement runs), published by the outbox relay, and taken
by notifications, which queues the batch's messages in one statement and sends them through the operator's bulk
endpoint (Kavenegar's sendarray.json). Here batches of PER_BATCH households with a mobile are staged one after
another, every PACE seconds, for as long as the faults last, so sending is under way when each fault hits and
batches pile up in the outbox while the broker is gone.

Counted at the fake operator: each household's message arrives exactly once (per receptor and per our send key),
none is lost, none goes to a mobile no batch named; notifications gave up on none; nothing is dead-lettered; no
platform process exited; after each fault, /readyz is green within 30 s of the broker's return, and notifications
takes in batches again and the operator receives their messages within SENDING_AGAIN_WITHIN. The figures per fault
go to test-artifacts/faults/ for docs/."""
from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from types import SimpleNamespace

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fakes.bank.app import open_iban
from services.payments import budget, cycle_steps
from tests.faults.harness import (
    BROKER_FAULTS,
    GRACEFUL_DOWN,
    at_rest,
    break_broker,
    crashes,
    dead_letters_now,
    log_tail,
    reconnections,
    restarts,
    sms_count,
    time_to_ready,
    unpublished_outbox,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

PER_BATCH = 50  # households with a mobile in each paid batch (a real batch has up to 5,000, 85% with a mobile)
PACE = 0.5  # seconds between two batches staged: the rhythm of the statements, not a synchronization
MAX_BATCHES = 300  # a bound on the load: 15,000 messages (about 6,000 are staged while the faults last)
MONTH, LINE = "1405-10", "pension_elderly"
STARTED = 200  # messages at the operator before the first fault: sending is under way
SENDING_AGAIN = 100  # messages at the operator after the broker's return: sending again
READY_WITHIN = 30.0  # /readyz green within this long of the broker's return
# notifications taking in batches again, and the operator receiving their messages, within this long of the broker's
# return: more than READY_WITHIN, because /readyz is green as soon as the services answer RPC (their RPC consumer
# has its own connection), while an event consumer waits out kombu's reconnect back-off (2 s, 4 s, 6 s ... up to
# 30 s between attempts) and then consumes each of its queues again (notifications has 16): in the payment cycle's
# run, notifications' event consumer was seen still not consuming 11 s after the broker's return, /readyz green
SENDING_AGAIN_WITHIN = 45.0
DELIVER_WITHIN = 60.0  # every staged message at the operator, and the platform at rest, after the last fault

_households = itertools.count(1)


class Settlements:
    """Paid batches staged as a settled statement stages them (cycle_steps.publish_disbursements in the payments
    database), one every `pace` seconds from a thread, until stop() or `limit` batches; the relay publishes them.
    `mobiles` are the households' mobiles staged so far (each its own)."""

    def __init__(self, url: str, per_batch: int = PER_BATCH, pace: float = PACE, limit: int = MAX_BATCHES):
        self.url, self.per_batch, self.pace, self.limit = url, per_batch, pace, limit
        self.cycle = SimpleNamespace(id=f"{MONTH}.{LINE}", line=LINE, month=MONTH)
        self.mobiles: list[str] = []
        self.batches = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="settlements", daemon=True)

    def start(self) -> "Settlements":
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> bool:
        self._stop.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _batch(self) -> list:
        rows = []
        for _ in range(self.per_batch):
            n = next(_households)
            national_id = f"{n:010d}"
            rows.append(SimpleNamespace(id=f"{self.cycle.id}.{national_id}", national_id=national_id,
                                        amount_rials=23_000_000, province="tehran", iban=open_iban(national_id),
                                        mobile=f"0939{n:07d}"))
        return rows

    def _run(self) -> None:
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 10})
        try:
            with Session(engine) as session:
                while not self._stop.is_set() and self.batches < self.limit:
                    paid = self._batch()
                    with session.begin():
                        cycle_steps.publish_disbursements(session, self.cycle, f"{self.cycle.id}.{self.batches + 1}",
                                                          paid, self.limit)
                    self.batches += 1
                    self.mobiles.extend(o.mobile for o in paid)
                    self._stop.wait(self.pace)  # the next statement's settlement: load, not a synchronization
        except Exception as exc:  # noqa: BLE001 - recorded; the test asserts there is none
            self.errors.append(f"{type(exc).__name__}: {exc}"[:500])
        finally:
            engine.dispose()


def operator_messages(sms_url: str) -> list[dict]:
    response = requests.get(f"{sms_url}/api/messages", timeout=60)
    response.raise_for_status()
    return response.json()


def db_rows(url: str, sql: str) -> list:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql)))
    finally:
        engine.dispose()


def taken_in(urls: dict[str, str]) -> int:
    """The disbursement batches notifications has taken in (its inbox)."""
    return db_rows(urls["notifications"], "SELECT count(*) FROM inbox WHERE type LIKE '%disbursements.published%'")[0][0]


def test_bulk_sms_rides_out_broker_restarts(fault_platform, fault_report):
    platform = fault_platform
    node, group, base, sms = platform["broker"], platform["group"], platform["base"], platform["sms"]
    urls = platform["pg"].urls
    report = fault_report
    report.update({"scenario": "bulk SMS (a cycle's settlement messages) under broker restarts",
                   "per_batch": PER_BATCH, "pace_s": PACE, "graceful_down_s": GRACEFUL_DOWN, "broker": node.node,
                   "faults": []})
    engine = sa.create_engine(urls["payments"], poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 10})
    with Session(engine) as session, session.begin():
        budget.load(session)  # the line's title, which the batch's event carries
    engine.dispose()

    feeder = Settlements(urls["payments"]).start()
    began = time.monotonic()
    broken_at = None
    walls = []  # time.time() at each fault's start, for the processes' logs
    try:
        under_way = sms_count(sms, at_least=STARTED, wait=60) >= STARTED
        report["sending_under_way_s"] = round(time.monotonic() - began, 2) if under_way else None
        for label, kind in BROKER_FAULTS:
            figures = {"fault": label, "kind": kind, "at_s": round(time.monotonic() - began, 2),
                       "sms_at_fault": sms_count(sms), "batches_staged_at_fault": feeder.batches}
            walls.append(time.time())
            figures.update(break_broker(node, kind))
            back = time.monotonic()
            at_return, taken_at_return = sms_count(sms), taken_in(urls)
            ready_in = time_to_ready(base, group, since=back, timeout=READY_WITHIN)
            figures["time_to_ready_s"] = None if ready_in is None else round(ready_in, 2)
            figures["sending_again"] = bool(wait_until(
                lambda taken=taken_at_return, sent=at_return: taken_in(urls) > taken
                and sms_count(sms) >= sent + SENDING_AGAIN,
                max(0.0, SENDING_AGAIN_WITHIN - (time.monotonic() - back))))
            figures["time_to_sending_again_s"] = round(time.monotonic() - back, 2) if figures["sending_again"] else None
            figures.update({"sms_at_broker_return": at_return, "batches_staged_at_return": feeder.batches,
                            "processes_exited": group.exited(), "process_restarts": restarts(group),
                            "dead_letters": dead_letters_now(platform["amqp_uri"])})
            report["faults"].append(figures)
            print(f"\n{label}: {figures}")
            if group.exited() or ready_in is None:
                broken_at = label  # the rest would only repeat it: count what happened and fail
                break
    finally:
        feeder.stop()
    staged = Counter(feeder.mobiles)
    faults_over = time.monotonic()

    # the edges, once everything staged is sent and consumed
    patience = 10 if broken_at else DELIVER_WITHIN
    try:
        all_sent = sms_count(sms, at_least=len(feeder.mobiles), wait=patience) >= len(feeder.mobiles)
        report["every_message_at_the_operator_s"] = round(time.monotonic() - began, 2) if all_sent else None
        rested = wait_until(lambda: at_rest(platform, outboxes=("payments",)),
                            max(5.0, patience - (time.monotonic() - faults_over)))
        received = operator_messages(sms)
    except requests.RequestException as exc:
        rested, received = False, None
        report["sms_error"] = f"{type(exc).__name__}: {exc}"
    delivered_in = time.monotonic() - faults_over
    for n, figures in enumerate(report["faults"]):  # when each process had the broker again, from its log
        since = walls[n]
        figures["back_after_broker_return_s"] = {
            name: round(s - figures["broker_down_s"], 2) for name, s in
            reconnections(platform["logs"], since, walls[n + 1] if n + 1 < len(walls) else None).items()}
    by_receptor = Counter(m["receptor"] for m in received or [])
    by_key = Counter(m["localid"] for m in received or [] if m.get("localid"))
    lost = [m for m in staged if by_receptor.get(m, 0) < staged[m]]
    doubled = {m: by_receptor[m] for m in staged if by_receptor.get(m, 0) > staged[m]}
    strangers = {m: n for m, n in by_receptor.items() if m not in staged}
    keys_twice = {k: n for k, n in by_key.items() if n > 1}
    states = dict(db_rows(urls["notifications"], "SELECT status, count(*) FROM sms_messages GROUP BY status"))
    given_up = db_rows(urls["notifications"], "SELECT count(*) FROM sms_messages WHERE dead_lettered_at IS NOT NULL")[0][0]
    took_in = taken_in(urls)
    queues = {q["name"]: int(q["messages"] or 0) for q in node.list_queues("name", "messages", vhost=platform["vhost"])}
    dead_letters = {q: n for q, n in queues.items() if q.endswith(".dlq") and n}
    report["totals"] = {
        "batches_staged": feeder.batches, "messages_staged": len(feeder.mobiles),
        "batches_taken_in_by_notifications": took_in, "sms_by_state": states,
        "sms_received": None if received is None else len(received), "sms_lost": len(lost),
        "sms_doubled": len(doubled), "sms_to_strangers": sum(strangers.values()), "send_keys_twice": len(keys_twice),
        "sms_given_up": given_up, "delivered_after_last_fault_s": round(delivered_in, 2), "at_rest": rested,
        "event_queues_not_empty": {q: n for q, n in queues.items() if n and q.startswith("evt-")
                                   and not q.endswith(".dlq")},
        "outbox_unpublished": {s: n for s, n in unpublished_outbox(urls).items() if n},
        "dead_letters": dead_letters, "processes_exited": group.exited(), "process_restarts": restarts(group),
        "crashes": crashes(group), "feeder_errors": feeder.errors, "stopped_after": broken_at,
    }

    problems = []
    gone = dict(group.exited())
    for name in {*gone, *restarts(group)}:
        problems.append(f"platform process {name!r} exited (code {gone.get(name)}, restarts "
                        f"{restarts(group).get(name, 0)}); the end of its log ({platform['logs']}/{name}.log):\n"
                        f"{log_tail(platform['logs'], name)}")
    if report.get("sending_under_way_s") is None:
        problems.append(f"fewer than {STARTED} messages at the operator within 60s of the first batch: the sending "
                        f"never got under way (notifications:\n{log_tail(platform['logs'], 'notifications')})")
    for figures in report["faults"]:
        if figures["time_to_ready_s"] is None:
            problems.append(f"after {figures['fault']}: /readyz not green within {READY_WITHIN:.0f}s of the broker's "
                            f"return")
        elif not figures["sending_again"]:
            problems.append(f"after {figures['fault']}: notifications took in no new batch, or fewer than "
                            f"{SENDING_AGAIN} messages reached the operator, within {SENDING_AGAIN_WITHIN:.0f}s of the "
                            f"broker's return (the consumers back after: "
                            f"{figures.get('back_after_broker_return_s')})")
    if broken_at:
        problems.append(f"the scenario stopped after {broken_at}: "
                        f"{[f['fault'] for f in report['faults']]} of {[label for label, _ in BROKER_FAULTS]} were run")
    if feeder.errors:
        problems.append(f"staging the batches failed: {feeder.errors[:3]}")
    if received is None:
        problems.append(f"the fake SMS operator could not be read: {report.get('sms_error')}")
    else:
        if lost:
            problems.append(f"SMS lost: {len(lost)} of {len(staged)} households got none within {patience:.0f}s of "
                            f"the last fault, e.g. {lost[:5]}; by state at notifications {states}")
        if doubled:
            problems.append(f"SMS doubled: {len(doubled)} households got more than one, e.g. {list(doubled.items())[:5]}")
        if keys_twice:
            problems.append(f"the operator took {len(keys_twice)} send keys more than once, e.g. "
                            f"{list(keys_twice.items())[:5]}")
        if strangers:
            problems.append(f"SMS to mobiles no batch named: {list(strangers.items())[:5]}")
    if took_in != feeder.batches:
        problems.append(f"notifications took in {took_in} of the {feeder.batches} batches staged")
    if given_up:
        problems.append(f"notifications gave up on {given_up} messages (dead-lettered SMS)")
    if not rested:
        problems.append(f"the platform did not come to rest within {patience:.0f}s of the last fault: queues "
                        f"{report['totals']['event_queues_not_empty']}, outbox {report['totals']['outbox_unpublished']}")
    if dead_letters:
        problems.append(f"dead letters: {dead_letters}")
    if problems:  # one message saying all that went wrong, without this function's source around it
        pytest.fail("\n\n".join(problems), pytrace=False)
