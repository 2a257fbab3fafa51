"""PostgreSQL stops for 12 s in the middle of a deadline sweep (services/complaints/sweeps.py), twice: a fast
shutdown, then an immediate one (a crash), each caught while a batch of escalations is being written.

3,000 cases whose deadline passed an hour before are put in the database; the sweep (every 5 s here, so the
module stays short) takes them 2,000 to a batch, each batch one transaction; the outage rolls back the batch
in flight and the sweep does it again once the database answers. An infrastructure error sets nothing aside
(sweep_failures stays empty). Outages do not count against people (outages.py): a silence of the sweep's
pulse longer than OUTAGE_GAP_MIN (60 s) is recorded as a window that extends the deadlines running through
it; 12 s is below it, so none is recorded, and these deadlines, an hour before any outage, would be moved by
no window anyway. So each of these cases is escalated exactly once: one miss on the ledger per hop, one
`deadline_missed` row in its history, one `case.deadline_missed` event in the outbox and one (by event id)
at an integrator's queue bound to complaints.events; no dead letters."""
from __future__ import annotations

import json
import time
from collections import Counter

import psycopg2
import pytest
from kombu import Connection, Exchange, Queue

from common.events.catalog import CASE_STEP_EVENTS
from services.complaints import org
from tests.faults.conftest import platform_on
from tests.faults.harness import at_rest, event_redeliveries, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]

OVERDUE = 3000
DOWN = 12.0  # seconds PostgreSQL stays stopped
SWEEP_SECONDS = 5
# 3,000 escalation events published and consumed after the return: a slow two-core machine under the whole
# suite's load took over 60 s (what is promised here is once each, not how fast)
SETTLE_WITHIN = 150.0
MISSED = CASE_STEP_EVENTS["deadline_missed"].type
COUNTY = "prov.tehran.county.rey"
PATH = ["hq.inspection", "hq.rehabilitation", "prov.tehran", COUNTY]

FILL = [
    """INSERT INTO cases (id, tracking_code, kind, channel, urgency, status, text, registered_at, holder_unit_id,
                          path, visible_to, deadline_at, warn_at, history_count)
       SELECT md5(%(prefix)s || i)::uuid, (%(first)s + i)::text, 'complaint', 'web', 'normal', 'referred',
              'مستمری این ماه واریز نشده است.', now() - interval '1 day', %(unit)s, %(path)s, %(visible)s,
              now() - interval '1 hour', NULL, 0
       FROM generate_series(1, %(n)s) AS i""",
    """INSERT INTO case_hops (case_id, unit_id, purpose, opened_at, due_at)
       SELECT id, %(unit)s, 'handle', now() - interval '1 day', deadline_at FROM cases
       WHERE current_hop_id IS NULL AND tracking_code::bigint > %(first)s""",
    """UPDATE cases SET current_hop_id = h.id FROM case_hops h
       WHERE h.case_id = cases.id AND cases.current_hop_id IS NULL""",
]


def query(url: str, sql: str, params=None) -> list[tuple]:
    conn = psycopg2.connect(url, connect_timeout=5)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def fill(url: str, round_: int) -> tuple[int, int]:
    """OVERDUE cases whose hop's deadline passed an hour ago; their tracking codes' range (first, last]."""
    first = 4_100_000_000_000_000 + round_ * 1_000_000
    conn = psycopg2.connect(url, connect_timeout=5)
    try:
        with conn, conn.cursor() as cur:
            for statement in FILL:
                cur.execute(statement, {"prefix": f"sweep-fault-{round_}-", "first": first, "n": OVERDUE,
                                        "unit": COUNTY, "path": PATH, "visible": org.visible_to(PATH)})
    finally:
        conn.close()
    return first, first + OVERDUE


WRITING = """SELECT count(*) FROM pg_locks WHERE pid <> pg_backend_pid() AND mode = 'RowExclusiveLock'
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND relation IN ('deadline_misses'::regclass, 'case_history'::regclass)"""
ESCALATED = """SELECT count(*) FROM deadline_misses m JOIN cases c ON c.id = m.case_id
               WHERE c.tracking_code::bigint > %s AND c.tracking_code::bigint <= %s"""


def catch_a_batch(url: str, codes: tuple[int, int], timeout: float = 40) -> int | None:
    """Wait until a sweep's batch is writing its escalations (its transaction open, holding row locks on the
    ledger or the history); how many of these cases were escalated (committed) then. None on timeout."""
    conn = psycopg2.connect(url, connect_timeout=5)
    conn.autocommit = True
    deadline = time.monotonic() + timeout
    try:
        with conn.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute(WRITING)
                if cur.fetchone()[0]:
                    cur.execute(ESCALATED, codes)
                    return cur.fetchone()[0]
                time.sleep(0.02)  # polling another process's transaction: it offers nothing to wait on
    finally:
        conn.close()
    return None


def per_case(url: str, codes: tuple[int, int]) -> dict[str, Counter]:
    """{what: Counter(tracking code: count)} of the escalations of these cases, where each is written."""
    between = "c.tracking_code::bigint > %s AND c.tracking_code::bigint <= %s"
    counts = {
        "ledger": f"SELECT c.tracking_code, count(m.id) FROM cases c LEFT JOIN deadline_misses m ON m.case_id = c.id "
                  f"WHERE {between} GROUP BY 1",
        "history": f"SELECT c.tracking_code, count(h.id) FROM cases c LEFT JOIN case_history h ON h.case_id = c.id "
                   f"AND h.action = 'deadline_missed' WHERE {between} GROUP BY 1",
        "outbox": f"SELECT c.tracking_code, count(o.id) FROM cases c LEFT JOIN outbox o ON o.routing_key = '{MISSED}' "
                  f"AND o.envelope->>'subject' = c.tracking_code WHERE {between} GROUP BY 1",
        "extended": f"SELECT c.tracking_code, count(h.id) FROM cases c JOIN case_history h ON h.case_id = c.id "
                    f"AND h.action = 'deadline_extended' WHERE {between} GROUP BY 1",
    }
    return {what: Counter(dict(query(url, sql, codes))) for what, sql in counts.items()}


@pytest.fixture(scope="module")
def platform(request, fault_broker, fault_pg, tmp_path_factory):
    with platform_on(request.module.__name__, fault_broker, fault_pg, tmp_path_factory.mktemp("sweep-logs"),
                     extra_env={"DEADLINE_SWEEP_SECONDS": str(SWEEP_SECONDS)}) as platform:
        yield platform


@pytest.fixture
def tap(platform):
    """An integrator's queue bound to the escalations, declared before any is published."""
    conn = Connection(platform["amqp_uri"], connect_timeout=10)
    channel = conn.channel()
    queue = Queue(f"sweep-fault-tap-{int(time.time())}", durable=True, auto_delete=False,
                  exchange=Exchange("complaints.events", type="topic", durable=True), routing_key=MISSED)(channel)
    queue.declare()

    def drain() -> list[dict]:
        got = []
        while (message := queue.get(no_ack=True)) is not None:
            got.append(json.loads(message.body))
        return got

    yield drain
    queue.delete()
    conn.release()


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_every_overdue_case_is_escalated_once_across_a_database_outage_mid_sweep(platform, tap, mode, fault_report):
    pg, url = platform["pg"], platform["pg"].urls["complaints"]
    round_ = {"fast": 1, "immediate": 2}[mode]
    fault_report.update({"scenario": f"PostgreSQL {mode} shutdown for {DOWN:.0f}s mid deadline sweep",
                         "overdue_cases": OVERDUE, "sweep_every_s": SWEEP_SECONDS})
    redelivered_before = event_redeliveries(platform)
    codes = fill(url, round_)
    escalated_before = catch_a_batch(url, codes)
    assert escalated_before is not None, "no sweep batch was seen writing escalations within 40 s"
    began = time.monotonic()
    stopping = pg.stop(mode)
    time.sleep(DOWN)  # the length of the outage, not a synchronization
    starting = pg.start()
    back = time.monotonic()
    all_done = wait_until(lambda: query(url, ESCALATED, codes)[0][0] >= OVERDUE, 90)
    escalated_in = time.monotonic() - back
    settled = wait_until(lambda: at_rest(platform), SETTLE_WITHIN)
    published = tap()
    counts = per_case(url, codes)
    set_aside = query(url, "SELECT sweep, count(*) FROM sweep_failures GROUP BY 1")
    windows = query(url, "SELECT source, starts_at::text, ends_at::text FROM outage_windows")
    dead_letters = {q: n for q, n in platform["broker"].dead_letters(platform["vhost"]).items() if n}
    redelivered = event_redeliveries(platform)

    codes_seen = Counter(e.get("subject") for e in published)
    ids_seen = Counter(e.get("id") for e in published)
    ours = {str(c) for c in range(codes[0] + 1, codes[1] + 1)}
    figures = {
        "escalated_before_the_outage": escalated_before, "database_stopping_s": round(stopping, 2),
        "database_starting_s": round(starting, 2), "database_down_s": round(back - began, 2),
        "all_escalated_after_return_s": round(escalated_in, 2) if all_done else None, "settled": bool(settled),
        "escalated": {what: sum(1 for code in ours if c[code] >= 1) for what, c in counts.items()},
        "doubled": {what: sum(1 for code in ours if c[code] > 1) for what, c in counts.items()},
        "events_at_integrator": sum(1 for code in ours if codes_seen[code]),
        "events_at_integrator_redelivered": sum(n - 1 for n in ids_seen.values() if n > 1),
        "events_at_integrator_doubled": sum(1 for code in ours if len({e["id"] for e in published
                                                                        if e.get("subject") == code}) > 1),
        "sweep_failures": dict(set_aside), "outage_windows": windows, "dead_letters": dead_letters,
        "messages_redelivered": {k: v - redelivered_before.get(k, 0) if isinstance(v, int) else v
                                 for k, v in redelivered.items()},
        "processes_exited": platform["group"].exited(),
    }
    fault_report["figures"] = figures
    print(f"\n{mode}: {figures}")

    problems = []
    if escalated_before >= OVERDUE:
        problems.append(f"the outage did not come mid-sweep: all {OVERDUE} were escalated before it")
    if not all_done:
        problems.append(f"not every overdue case escalated within 90 s of the return: {figures['escalated']}")
    for what in ("ledger", "history", "outbox"):
        if figures["escalated"][what] != OVERDUE or figures["doubled"][what]:
            problems.append(f"{what}: {figures['escalated'][what]} of {OVERDUE} escalated, "
                            f"{figures['doubled'][what]} twice")
    if figures["escalated"]["extended"]:
        problems.append(f"deadlines an hour past were extended by an outage of {DOWN:.0f}s: {windows}")
    if [w for w in windows if w[0] == "detected"]:
        problems.append(f"an outage of {DOWN:.0f}s (below OUTAGE_GAP_MIN) was recorded as a window: {windows}")
    if figures["events_at_integrator"] != OVERDUE or figures["events_at_integrator_doubled"]:
        problems.append(f"integrator's queue: {figures['events_at_integrator']} of {OVERDUE} cases' events, "
                        f"{figures['events_at_integrator_doubled']} cases with two different events")
    if set_aside:
        problems.append(f"rows set aside in sweep_failures by an outage: {set_aside}")
    if dead_letters or figures["messages_redelivered"].get("dead_lettered"):
        problems.append(f"dead letters: {dead_letters}, {figures['messages_redelivered']}")
    if not settled:
        problems.append(f"outboxes not published or event queues not drained within {SETTLE_WITHIN:.0f} s")
    if figures["processes_exited"]:
        problems.append(f"platform processes exited: {figures['processes_exited']}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
