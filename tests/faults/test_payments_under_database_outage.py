"""A month's pensions for more than 50,000 households while the platform's PostgreSQL goes away twice for 12 s,
each placed by the cycle's own progress: a fast shutdown (clients are told and disconnected) while the files go to
the bank, then an immediate one (a crash: crash recovery at the next start) while the bank's statements are settled
(the first batches' SMS going out meanwhile).
Every service's database is on that server, so each outage falls on the cycle's steps (payments' timer), the
outbox relay, transparency and notifications at once.

A file whose answer the outage cut off (the bank had it, our commit of its answer did not happen) is sent again
with the same batch id once its claim runs out (cycle_steps.send_batches): the only resubmission allowed. The
claim runs out after BANK_CLAIM_SECONDS, 5 s here (production: at least 2 min, for replicas that may still hold
a file); the platform runs one payments process whose timer runs one worker at a time, so no live worker holds a
file past it. The cycle, its staff and the counts at the edges are tests/faults/payments.py's.

An outage cuts the bulk sends in flight short: the messages they left go out through notifications' sweep (about
90 a second); one placed after every batch reached notifications leaves tens of thousands to it, about five
minutes, so the outages come before that.

Per outage: /readyz red during it and green again, the cycle moving again (its progress past where it stood at
the return), events tried again or redelivered, dead letters, the files whose answer it cut off."""
from __future__ import annotations

import time
from collections import Counter

import pytest
import requests

from gateway.routes.health import READY_CACHE_SECONDS
from tests.faults.conftest import platform_on
from tests.faults.harness import (
    Sampler,
    dead_letters_now,
    event_redeliveries,
    ready,
    restarts,
    time_to_ready,
    wait_until,
)
from tests.faults.payments import (
    Progress,
    check_cycle,
    db_rows,
    fail_with,
    first,
    latest,
    open_and_approve,
    settle_and_deliver,
    timeline,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]

DOWN = 12.0  # seconds PostgreSQL stays stopped
CLAIM_SECONDS = 5
READY_WITHIN = 30.0  # /readyz green within this long of PostgreSQL's return
MILESTONE_WITHIN = 90.0  # the cycle reaches the point where the next outage is placed within this long
SETTLE_WITHIN = 120.0  # every cycle settled, after the last outage
# then every event consumed and every SMS at the operator: after a crash mid bulk SMS the messages left go out
# through notifications' sweep (500 every 5 s; a chunk cut short by the crash after STALE_SENDING, 60 s)
DELIVER_WITHIN = 200.0


def outages() -> list:
    """(shutdown mode, where, condition on Progress) of each outage, in order."""
    return [
        ("fast", "files going to the bank", lambda p: p["files_answered_by_bank"] >= 2),
        ("immediate", "statements being settled", lambda p: p["files_settled"] >= 6),
    ]


def moved(p: dict) -> int:
    """One number that grows with every step of the cycle and its delivery."""
    return sum(p[k] for k in ("files_answered_by_bank", "files_settled", "cycles_settled", "batches_staged",
                              "batches_published", "batches_at_transparency", "batches_at_notifications", "sms"))


def recorded_files(platform) -> set[str]:
    """The files whose answer from the bank is recorded. Read before a stop: a file built after the read may
    still reach the bank, and have its answer cut off, before the database stops (which takes a second)."""
    return {b for (b,) in db_rows(platform["pg"].urls["payments"], "SELECT id FROM bank_batches WHERE status <> 'built'")}


def files_at_bank(platform) -> set[str]:
    answer = requests.get(f"http://127.0.0.1:{platform['ports']['bank']}/api/batches", timeout=30)
    answer.raise_for_status()
    return {b["batch_id"] for b in answer.json()}


def progress_once_back(progress: Progress, timeout: float = 10) -> dict | None:
    """Progress read as soon as the database answers again (it accepts connections when start() returns)."""
    def read():
        try:
            return progress()
        except Exception:  # noqa: BLE001 - not yet: asked again
            return None
    return wait_until(read, timeout)


@pytest.fixture(scope="module")
def platform(request, fault_broker, fault_pg, tmp_path_factory):
    with platform_on(request.module.__name__, fault_broker, fault_pg, tmp_path_factory.mktemp("payments-pg-logs"),
                     extra_env={"BANK_CLAIM_SECONDS": str(CLAIM_SECONDS)}) as platform:
        yield platform


def test_a_payment_cycle_of_50000_households_rides_out_database_outages(platform, fault_report):
    pg, group, base = platform["pg"], platform["group"], platform["base"]
    report = fault_report
    report.update({"scenario": "payment cycle under PostgreSQL outages", "down_s": DOWN,
                   "bank_claim_seconds": CLAIM_SECONDS, "faults": []})
    staff, expected, texts, approved = open_and_approve(platform, report)

    progress = Progress(platform)
    sampler = Sampler(progress, interval=0.5, name="cycle progress").start()
    cut_off: Counter = Counter()  # batch id: outages that cut off its answer
    returns = []  # time.monotonic() at each return of PostgreSQL
    broken_at = None
    try:
        for mode, where, reached in outages():
            seen = wait_until(lambda reached=reached: (p := latest(sampler)) is not None and reached(p),
                              MILESTONE_WITHIN)
            redelivered_before = event_redeliveries(platform)
            recorded = recorded_files(platform)
            at_fault = progress()
            began = time.monotonic()
            stopping = pg.stop(mode)
            # red within the readiness answer's reuse (READY_CACHE_SECONDS) and one health check: a single probe
            # at once may still read the answer given just before the stop
            red = wait_until(lambda: not ready(base), READY_CACHE_SECONDS + 5.0)
            time.sleep(DOWN)  # the length of the outage, not a synchronization
            cut = files_at_bank(platform) - recorded  # the bank has them, we have not recorded its answer
            starting = pg.start()
            back = time.monotonic()
            at_return = progress_once_back(progress)
            ready_in = time_to_ready(base, group, since=back, timeout=READY_WITHIN)
            cut_off.update(cut)
            figures = {"fault": f"PostgreSQL {mode} shutdown", "mode": mode, "placed": where,
                       "milestone_reached": bool(seen), "at_s": round(began - approved, 2),
                       "progress_at_fault": at_fault, "database_stopping_s": round(stopping, 2),
                       "database_starting_s": round(starting, 2), "database_down_s": round(back - began, 2),
                       "readyz_red_during_outage": red,
                       "time_to_ready_s": None if ready_in is None else round(ready_in, 2),
                       "progress_at_return": at_return, "files_whose_answer_it_cut_off": sorted(cut),
                       "processes_exited": group.exited(), "process_restarts": restarts(group)}
            returns.append(back)
            report["faults"].append(figures)
            if group.exited() or ready_in is None or at_return is None:
                broken_at = figures["fault"]  # the rest would only repeat it: count what happened and fail
                break
            # the cycle moving again before the next outage: its figures are this one's alone
            stood = moved(at_return)
            wait_until(lambda stood=stood: (p := latest(sampler)) is not None and moved(p) > stood, 30)
            figures["messages_redelivered"] = {k: v - redelivered_before.get(k, 0) if isinstance(v, int) else v
                                               for k, v in event_redeliveries(platform).items()}
            figures["dead_letters"] = dead_letters_now(platform["amqp_uri"])
            print(f"\nPostgreSQL {mode}: {figures}")

        consumed_now = settle_and_deliver(platform, sampler, texts, 10 if broken_at else SETTLE_WITHIN,
                                          10 if broken_at else DELIVER_WITHIN)
        report["time_to_consumed_s"] = round(time.monotonic() - approved, 2) if consumed_now else None
    finally:
        sampler.stop()
        progress.close()
    final = latest(sampler)
    report["times_from_approval_s"] = timeline(sampler, approved, texts)
    report["time_to_settle_s"] = report["times_from_approval_s"]["every_cycle_settled"]
    for figures, back in zip(report["faults"], returns, strict=True):
        base_line = moved(figures["progress_at_return"]) if figures["progress_at_return"] else None
        figures["cycle_moving_again_s"] = None if base_line is None else \
            first(sampler, lambda p, b=base_line: moved(p) > b, back)
        figures["every_sms_at_the_operator_after_return_s"] = first(sampler, lambda p: p["sms"] >= texts, back)

    problems = check_cycle(platform, report, staff, expected, texts, final, resubmittable=cut_off)
    report["totals"]["stopped_after"] = broken_at
    report["totals"]["messages_redelivered"] = event_redeliveries(platform)
    for figures in report["faults"]:
        name = figures["fault"]
        if not figures["milestone_reached"]:
            problems.append(f"{name}: the cycle did not reach '{figures['placed']}' within {MILESTONE_WITHIN:.0f}s "
                            f"(progress {figures['progress_at_fault']})")
        if not figures["readyz_red_during_outage"]:
            problems.append(f"{name}: /readyz answered 200 while PostgreSQL was stopped")
        if figures["time_to_ready_s"] is None:
            problems.append(f"after {name}: /readyz not green within {READY_WITHIN:.0f}s of PostgreSQL's return")
        if figures["cycle_moving_again_s"] is None:
            problems.append(f"after {name}: the cycle did not move on from {figures['progress_at_return']}")
        if figures.get("dead_letters") or figures.get("messages_redelivered", {}).get("dead_lettered"):
            problems.append(f"after {name}: dead letters {figures.get('dead_letters')}, "
                            f"{figures.get('messages_redelivered')}")
    if broken_at:
        problems.append(f"the scenario stopped after {broken_at}: {len(report['faults'])} of 2 outages were run")
    if not consumed_now:
        problems.append(f"the cycle's events not all consumed within {DELIVER_WITHIN:.0f}s of its settling: "
                        f"{final}; event queues {report['totals']['event_queues_not_empty']}, "
                        f"outbox {report['totals']['outbox_unpublished']}")
    fail_with(problems)
