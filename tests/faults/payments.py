"""A month's pensions for more than 50,000 households, as the fault tests of a payment cycle run it
(test_payments_under_broker_faults.py, test_payments_under_database_outage.py): finance staff at the gateway,
the cycle's progress read in the databases and at the fake SMS operator, and the counts at the edges once it is
over. The fault itself is each test's own.

The demo registry's first PEOPLE households are loaded into the payments database with COPY (as
bench/payment_cycle.py does); finance staff open the four pension lines' cycles at the gateway and a second
person approves them; the payments service's timer moves them on (files to the fake bank, its statements,
reconciliation), the outbox relay publishes each paid batch as one `disbursements.published` event, transparency
records it and notifications texts each paid household that has a mobile.

Counted at the edges (`check_cycle`): every cycle settles; each order is paid exactly once (orders, the ledger,
the bank's own books); each file reached the bank once (the fake bank's submissions per batch id; a test may allow
named files more, see `check_cycle`); each disbursement batch is recorded once at transparency (its inbox holds one
event per batch, its public totals count each household once); the ledger balances (the gateway's ledger check);
each paid household with a mobile got one SMS; no platform process exited; nothing is dead-lettered."""
from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest
import requests
import sqlalchemy as sa

from services.complaints.demo_staff import DEMO_PASSWORD, load_demo_staff
from services.payments import demo_load
from common.budget_lines import LINES_BY_CODE, PENSION_LINES
from tests.faults.harness import (
    Sampler,
    at_rest,
    crashes,
    log_tail,
    restarts,
    sms_count,
    sms_per_receptor,
    unpublished_outbox,
    wait_until,
)

PEOPLE = 52_000  # the first people of the demo registry: 50,396 of them active, so paid (the floor is 50,000)
HOUSEHOLDS = 50_000
MONTH = "1405-09"
DISBURSEMENTS = "ir.behzisti.payments.disbursements.published.v1"


# --- finance staff at the gateway --------------------------------------------------------------------------


class Staff:
    """Finance staff at the gateway, as the finance pages do: a login per user; a call answered 503, 504, 429 or
    not at all is sent again with its Idempotency-Key after Retry-After (or a short back-off), until `patience`."""

    def __init__(self, base: str):
        self.base, self.tokens, self.http = base, {}, requests.Session()
        self.retried: list[tuple[str, str]] = []  # (call, why) of each retry

    def _token(self, user: str) -> str:
        if user not in self.tokens:
            answer = self.http.post(f"{self.base}/api/v1/auth/login", json={"username": user, "password": DEMO_PASSWORD},
                                    timeout=15)
            answer.raise_for_status()
            self.tokens[user] = answer.json()["access_token"]
        return self.tokens[user]

    def call(self, method: str, path: str, user: str, json=None, key: str | None = None,
             patience: float = 60) -> requests.Response:
        deadline = time.monotonic() + patience
        backoff = 0.25
        while True:
            wait = None
            try:
                headers = {"Authorization": f"Bearer {self._token(user)}", **({"Idempotency-Key": key} if key else {})}
                answer = self.http.request(method, f"{self.base}{path}", json=json, headers=headers, timeout=30)
            except requests.RequestException as exc:
                why = f"no answer: {type(exc).__name__}"
                self.http.close()  # a fresh connection for the retry
            else:
                if answer.status_code == 401:
                    self.tokens.pop(user, None)  # expired: log in again
                    why = "401"
                elif answer.status_code not in (429, 502, 503, 504):
                    return answer
                else:
                    why = str(answer.status_code)
                    try:
                        wait = float(answer.headers.get("Retry-After", ""))
                    except ValueError:
                        wait = None
            self.retried.append((f"{method} {path}", why))
            if time.monotonic() >= deadline:
                raise AssertionError(f"{method} {path} as {user}: still {why} after {patience:.0f}s")
            time.sleep(min(wait if wait is not None else backoff, 5))  # Retry-After: a client's manners
            backoff = min(backoff * 2, 2.0)


# --- what the databases say --------------------------------------------------------------------------------

def db_rows(url: str, sql: str, **params) -> list:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))
    finally:
        engine.dispose()


def expected_orders(url: str) -> dict[str, int]:
    """Per pension line, the households its cycle must pay: active, account confirmed, enrolled by MONTH."""
    rows = db_rows(url, """
        SELECT e.line, count(*) FROM enrolments e JOIN beneficiaries b ON b.national_id = e.national_id
        WHERE e.line = ANY(:lines) AND e.since <= :month AND b.status = 'active' AND b.iban_verified_at IS NOT NULL
        GROUP BY e.line""", lines=list(PENSION_LINES), month=MONTH)
    return {line: 0 for line in PENSION_LINES} | {line: n for line, n in rows}


class Progress:
    """Where the cycles are, read from the services' databases and from the fake SMS operator (a read while the
    database or the broker is away raises; a Sampler keeps it as an error sample)."""

    def __init__(self, platform):
        self.urls, self.sms = platform["pg"].urls, platform["sms"]
        self.engines = {s: sa.create_engine(self.urls[s], poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 10})
                        for s in ("payments", "transparency", "notifications")}

    def close(self) -> None:
        for engine in self.engines.values():
            engine.dispose()

    def _one(self, service: str, sql: str, **params):
        with self.engines[service].connect() as conn:
            return conn.execute(sa.text(sql), params).one()

    def __call__(self) -> dict:
        files, at_bank, settled_files, cycles_settled = self._one("payments", """
            SELECT (SELECT count(*) FROM bank_batches), (SELECT count(*) FROM bank_batches WHERE status <> 'built'),
                   (SELECT count(*) FROM bank_batches WHERE status = 'settled'),
                   (SELECT count(*) FROM cycles WHERE stage = 'settled')""")
        staged, published = self._one("payments", "SELECT count(*), count(published_at) FROM outbox "
                                                  "WHERE routing_key = :t", t=DISBURSEMENTS)
        (recorded,) = self._one("transparency", "SELECT count(*) FROM inbox WHERE type = :t", t=DISBURSEMENTS)
        (texted,) = self._one("notifications", "SELECT count(*) FROM inbox WHERE type = :t", t=DISBURSEMENTS)
        return {"files": files, "files_answered_by_bank": at_bank, "files_settled": settled_files,
                "cycles_settled": cycles_settled, "batches_staged": staged, "batches_published": published,
                "batches_at_transparency": recorded, "batches_at_notifications": texted, "sms": sms_count(self.sms)}


def first(sampler: Sampler, condition, since: float) -> float | None:
    """Seconds from `since` to the first progress sample that meets `condition`."""
    sample = sampler.first(lambda v: isinstance(v, dict) and condition(v), since)
    return None if sample is None else round(sample.started - since, 2)


def latest(sampler: Sampler) -> dict | None:
    """The last progress sample, if it was read (not an error)."""
    value = sampler.samples[-1].value if sampler.samples else None
    return value if isinstance(value, dict) else None


# --- the cycle -------------------------------------------------------------------------------------------


def open_and_approve(platform, report: dict) -> tuple[Staff, dict[str, int], int, float]:
    """The registry and the budget loaded with COPY (not on the scenario's clock), then the four pension lines'
    cycles opened by a finance expert and approved by a finance approver at the gateway. Returns (staff, the
    households to pay per line, SMS to expect, time.monotonic() at the approval); the figures go to `report`."""
    urls = platform["pg"].urls
    began = time.monotonic()
    load_demo_staff(urls["complaints"])
    loaded = demo_load.load_demo(urls["payments"], PEOPLE)
    expected = expected_orders(urls["payments"])
    households = sum(expected.values())
    report["load"] = {"beneficiaries": loaded["beneficiaries"], "enrolments": loaded["enrolments"],
                      "seconds": round(time.monotonic() - began, 2)}
    texts = db_rows(urls["payments"], """
        SELECT count(*) FROM enrolments e JOIN beneficiaries b ON b.national_id = e.national_id
        WHERE e.line = ANY(:lines) AND e.since <= :month AND b.status = 'active' AND b.iban_verified_at IS NOT NULL
          AND b.mobile IS NOT NULL""", lines=list(PENSION_LINES), month=MONTH)[0][0]
    report.update({"people_loaded": PEOPLE, "month": MONTH, "households_to_pay": households,
                   "households_by_line": expected, "sms_to_send": texts})
    assert households >= HOUSEHOLDS, f"the registry's first {PEOPLE} people give only {households} households"

    staff = Staff(platform["base"])
    started = time.monotonic()
    opened = {}
    for line in PENSION_LINES:
        answer = staff.call("POST", "/api/v1/staff/payments/cycles", "finance.expert",
                            json={"month": MONTH, "line": line}, key=str(uuid.uuid4()))
        assert answer.status_code == 201, f"opening {line}: {answer.status_code} {answer.text[:500]}"
        cycle = answer.json()
        assert cycle["stage"] == "entitlements_computed" and cycle["beneficiaries"] == expected[line], cycle
        opened[line] = cycle["id"]
    for cycle_id in opened.values():
        answer = staff.call("POST", f"/api/v1/staff/payments/cycles/{cycle_id}/approve", "finance.approver",
                            key=str(uuid.uuid4()))
        assert answer.status_code == 200, f"approving {cycle_id}: {answer.status_code} {answer.text[:500]}"
    approved = time.monotonic()
    report["open_and_approve_s"] = round(approved - started, 2)
    return staff, expected, texts, approved


def settle_and_deliver(platform, sampler: Sampler, texts: int, settle_within: float, deliver_within: float) -> bool:
    """Wait until every cycle is settled (within `settle_within`), then every batch recorded at transparency and
    notifications, every SMS at the operator and the outboxes and event queues empty (within `deliver_within`)."""
    all_settled = wait_until(lambda: (p := latest(sampler)) is not None and p["cycles_settled"] == len(PENSION_LINES),
                             settle_within)

    def delivered():
        p = latest(sampler)
        return p is not None and p["cycles_settled"] == len(PENSION_LINES) \
            and p["batches_at_transparency"] == p["files"] and p["batches_at_notifications"] == p["files"] \
            and p["sms"] >= texts and at_rest(platform, outboxes=("payments", "transparency"))

    return bool(all_settled and wait_until(delivered, deliver_within))


def timeline(sampler: Sampler, approved: float, texts: int) -> dict:
    """Seconds from the approval until each stage was complete, from the progress sampled every 0.5 s."""
    final = latest(sampler)
    files = final["files"] if final else -1  # every line's, once all were issued
    return {
        "every_file_answered_by_bank": first(sampler, lambda p: p["files_answered_by_bank"] == files, approved),
        "every_cycle_settled": first(sampler, lambda p: p["cycles_settled"] == len(PENSION_LINES), approved),
        "every_batch_published": first(sampler, lambda p: p["batches_published"] == files, approved),
        "every_batch_at_transparency": first(sampler, lambda p: p["batches_at_transparency"] == files, approved),
        "every_batch_at_notifications": first(sampler, lambda p: p["batches_at_notifications"] == files, approved),
        "every_sms_at_the_operator": first(sampler, lambda p: p["sms"] >= texts, approved),
    }


def check_cycle(platform, report: dict, staff: Staff, expected: dict[str, int], texts: int,
                final: dict | None, resubmittable: Counter | None = None) -> list[str]:
    """The counts at the edges once the cycle is over, into report["totals"]; what is wrong, as sentences.

    At the bank each file is submitted exactly once, except a file named in `resubmittable` (batch id: how many
    times a fault cut off its answer before we recorded it), which may be submitted once more per cut: what
    cycle_steps.send_batches promises (the bank takes a batch id once; a file whose answer was not recorded is
    sent again, with the same id, when its claim runs out)."""
    urls, group, node = platform["pg"].urls, platform["group"], platform["broker"]
    bank = f"http://127.0.0.1:{platform['ports']['bank']}"
    households = sum(expected.values())
    resubmittable = resubmittable or Counter()
    mobiles = Counter(m for (m,) in db_rows(urls["payments"], """
        SELECT b.mobile FROM payment_orders p JOIN beneficiaries b ON b.national_id = p.national_id
        WHERE p.status = 'paid' AND b.mobile IS NOT NULL"""))
    (orders, paid, distinct_people, in_batches) = db_rows(urls["payments"], """
        SELECT count(*), count(*) FILTER (WHERE status = 'paid'), count(DISTINCT (cycle_id, national_id)),
               count(DISTINCT batch_id) FROM payment_orders""")[0]
    paid_by_line = dict(db_rows(urls["payments"], """
        SELECT c.line, count(*) FROM payment_orders p JOIN cycles c ON c.id = p.cycle_id WHERE p.status = 'paid'
        GROUP BY c.line"""))
    stages = dict(db_rows(urls["payments"], "SELECT line, stage FROM cycles"))
    spent = dict((line, int(amount)) for line, amount in db_rows(urls["payments"], """
        SELECT substr(account, 6), sum(amount_rials) FROM ledger_lines WHERE account LIKE 'paid:%' GROUP BY account"""))
    batches = {b for (b,) in db_rows(urls["payments"], "SELECT id FROM bank_batches")}
    events = db_rows(urls["payments"], """
        SELECT envelope->'data'->>'cycle_id', (envelope->'data'->>'batch')::int,
               jsonb_array_length(envelope->'data'->'items'), published_at IS NOT NULL
        FROM outbox WHERE routing_key = :t""", t=DISBURSEMENTS)
    ledger = staff.call("GET", "/api/v1/staff/payments/ledger/check", "auditor").json()
    at_bank = requests.get(f"{bank}/api/batches", timeout=60).json()
    submissions = {b["batch_id"]: b["submissions"] for b in at_bank}
    t_inbox = Counter(t for (t,) in db_rows(urls["transparency"], "SELECT type FROM inbox"))
    event_ids = {i for (i,) in db_rows(urls["payments"], "SELECT id::text FROM outbox WHERE routing_key = :t",
                                           t=DISBURSEMENTS)}
    t_event_ids = {i for (i,) in db_rows(urls["transparency"], "SELECT event_id FROM inbox WHERE type = :t",
                                             t=DISBURSEMENTS)}
    t_rows, t_paid, t_people = db_rows(urls["transparency"], """
        SELECT count(*), count(*) FILTER (WHERE status = 'paid'), count(DISTINCT national_id)
        FROM beneficiary_payments WHERE month = :m""", m=MONTH)[0]
    t_totals = dict((line, int(n)) for line, n in db_rows(urls["transparency"], """
        SELECT budget_line, sum(households) FROM payment_totals WHERE month = :m GROUP BY budget_line""", m=MONTH))
    n_inbox = Counter(t for (t,) in db_rows(urls["notifications"], "SELECT type FROM inbox"))
    sms_dead = db_rows(urls["notifications"], "SELECT count(*) FROM sms_messages "
                                                  "WHERE dead_lettered_at IS NOT NULL")[0][0]
    try:
        received = sms_per_receptor(platform["sms"])
    except requests.RequestException as exc:
        received, report["sms_error"] = None, f"{type(exc).__name__}: {exc}"
    queues = {q["name"]: int(q["messages"] or 0) for q in node.list_queues("name", "messages", vhost=platform["vhost"])}
    dead_letters = {q: n for q, n in queues.items() if q.endswith(".dlq") and n}

    lost = doubled = strangers = {}
    if received is not None:
        lost = {m: n - received.get(m, 0) for m, n in mobiles.items() if received.get(m, 0) < n}
        doubled = {m: received[m] for m, n in mobiles.items() if received.get(m, 0) > n}
        strangers = {m: n for m, n in received.items() if m not in mobiles}
    events_by_batch = Counter((cycle_id, batch) for cycle_id, batch, _, _ in events)
    report["totals"] = {
        "households": households, "orders": orders, "paid": paid, "paid_by_line": paid_by_line, "stages": stages,
        "files": len(batches), "files_at_bank": len(submissions),
        "file_submissions": dict(Counter(submissions.values())),
        "files_resubmitted": {b: n for b, n in submissions.items() if n > 1},
        "files_whose_answer_a_fault_cut_off": dict(resubmittable),
        "ledger_check": ledger, "spent_rials_by_line": spent,
        "disbursement_events": len(events), "disbursement_items": sum(n for _, _, n, _ in events),
        "disbursement_events_published": sum(1 for *_, p in events if p),
        "transparency_events": dict(t_inbox), "transparency_payment_rows": t_rows, "transparency_paid": t_paid,
        "transparency_households_by_line": t_totals, "notifications_events": dict(n_inbox),
        "sms_expected": sum(mobiles.values()), "sms_received": None if received is None else sum(received.values()),
        "sms_lost": sum(lost.values()), "sms_doubled": len(doubled), "sms_to_strangers": sum(strangers.values()),
        "sms_dead_lettered": sms_dead, "final_progress": final,
        "event_queues_not_empty": {q: n for q, n in queues.items() if n and q.startswith("evt-")
                                   and not q.endswith(".dlq")},
        "outbox_unpublished": {s: n for s, n in unpublished_outbox(urls).items() if n},
        "gateway_retries": dict(Counter(why for _, why in staff.retried)),
        "dead_letters": dead_letters, "processes_exited": group.exited(), "process_restarts": restarts(group),
        "crashes": crashes(group),
    }

    problems = []
    gone = dict(group.exited())
    for name in {*gone, *restarts(group)}:
        problems.append(f"platform process {name!r} exited (code {gone.get(name)}, restarts "
                        f"{restarts(group).get(name, 0)}); the end of its log ({platform['logs']}/{name}.log):\n"
                        f"{log_tail(platform['logs'], name)}")
    if set(stages.values()) != {"settled"} or len(stages) != len(PENSION_LINES):
        problems.append(f"not every cycle settled: {stages} "
                        f"(logs in {platform['logs']}; payments:\n{log_tail(platform['logs'], 'payments')})")
    if not (orders == paid == distinct_people == households) or paid_by_line != {k: v for k, v in expected.items() if v}:
        problems.append(f"orders not each paid once: {orders} orders, {paid} paid, {distinct_people} distinct "
                        f"households, {households} to pay; paid by line {paid_by_line}, expected {expected}")
    wrong_spent = {line: spent.get(line) for line, n in expected.items()
                   if spent.get(line, 0) != n * LINES_BY_CODE[line]["per_capita_rials"]}
    if wrong_spent:
        problems.append(f"the ledger's paid accounts do not match the households paid: {wrong_spent}")
    if ledger != {"balanced": True, "problems": []}:
        problems.append(f"the ledger check: {ledger}")
    too_often = {b: n for b, n in submissions.items() if n != 1 and not 1 <= n <= 1 + resubmittable[b]}
    if set(submissions) != batches or too_often or in_batches != len(batches):
        problems.append(f"files at the bank: {len(submissions)} batch ids there, {len(batches)} here, "
                        f"missing {sorted(batches - set(submissions))[:5]}, unknown {sorted(set(submissions) - batches)[:5]}, "
                        f"submitted more often than once (plus once per fault that cut off its answer "
                        f"{dict(resubmittable)}): {dict(list(too_often.items())[:5])}")
    accepted_at_bank = sum(b["accepted"] for b in at_bank)
    if accepted_at_bank != paid:
        problems.append(f"the bank accepted {accepted_at_bank} payments, {paid} orders are paid")
    if len(events) != len(batches) or len(events_by_batch) != len(batches) \
            or sum(n for _, _, n, _ in events) != paid:
        problems.append(f"disbursement events: {len(events)} for {len(batches)} batches "
                        f"({sum(n for _, _, n, _ in events)} items for {paid} paid orders); "
                        f"twice: {[k for k, n in events_by_batch.items() if n > 1][:5]}")
    if t_inbox.get(DISBURSEMENTS, 0) != len(batches) or t_event_ids != event_ids:
        problems.append(f"transparency recorded {t_inbox.get(DISBURSEMENTS, 0)} disbursement batches of {len(batches)}; "
                        f"events it does not have {sorted(event_ids - t_event_ids)[:3]}, it has and payments did not "
                        f"publish {sorted(t_event_ids - event_ids)[:3]}")
    if t_rows != paid or t_paid != paid or t_people != paid or sum(t_totals.values()) != paid:
        problems.append(f"transparency's rows: {t_rows} payments ({t_paid} paid, {t_people} people), households in "
                        f"its totals {t_totals} (sum {sum(t_totals.values())}); {paid} paid")
    if n_inbox.get(DISBURSEMENTS, 0) != len(batches):
        problems.append(f"notifications took in {n_inbox.get(DISBURSEMENTS, 0)} disbursement batches of {len(batches)}")
    if received is None:
        problems.append(f"the fake SMS operator could not be read: {report.get('sms_error')}")
    else:
        if lost:
            problems.append(f"SMS lost: {sum(lost.values())} of {texts} paid households with a mobile got none, "
                            f"e.g. {list(lost)[:5]}")
        if doubled:
            problems.append(f"SMS doubled: {len(doubled)} mobiles got more than their households' SMS, "
                            f"e.g. {list(doubled.items())[:5]}")
        if strangers:
            problems.append(f"SMS to mobiles of no paid household: {list(strangers.items())[:5]}")
    if sms_dead:
        problems.append(f"{sms_dead} SMS dead-lettered by notifications")
    if dead_letters:
        problems.append(f"dead letters: {dead_letters}")
    return problems


def fail_with(problems: list[str]) -> None:
    if problems:  # one message saying all that went wrong, without the test's source around it
        pytest.fail("\n\n".join(problems), pytrace=False)
