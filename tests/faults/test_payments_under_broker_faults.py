"""A month's pensions for more than 50,000 households while the broker goes away three times: two graceful
restarts (`rabbitmqctl stop_app` for about 8 s, then `start_app`) and one crash (`kill -9` of the node's VM, then
a start on the same data), each placed by the cycle's own progress (read in the databases and at the fake SMS
operator): while its files go to the bank; once its paid batches' events reach the consumers; while the
settlement SMS go out. The cycle itself needs no broker (its steps talk to PostgreSQL and the bank), so the
faults fall on what carries its results: the outbox relay, transparency and notifications.

The cycle, its staff at the gateway and the counts at the edges are tests/faults/payments.py's: every cycle
settles; each order paid exactly once; each file at the bank once; each disbursement batch once at
transparency; the ledger balanced; one SMS per paid household with a mobile; no process exited; nothing
dead-lettered. The figures go to test-artifacts/faults/ for docs/."""
from __future__ import annotations

import time

import pytest

from tests.faults.harness import (
    BROKER_FAULTS,
    GRACEFUL_DOWN,
    Sampler,
    break_broker,
    dead_letters_now,
    reconnections,
    restarts,
    time_to_ready,
    wait_until,
)
from tests.faults.payments import (
    Progress,
    check_cycle,
    fail_with,
    latest,
    open_and_approve,
    settle_and_deliver,
    timeline,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]

READY_WITHIN = 30.0  # /readyz green within this long of the broker's return
MILESTONE_WITHIN = 90.0  # the cycle reaches the point where the next fault is placed within this long
SETTLE_WITHIN = 120.0  # every cycle settled, after the last fault
DELIVER_WITHIN = 120.0  # then every event consumed and every SMS at the operator


def milestones(texts: int) -> list:
    """The point of the cycle each fault waits for (a condition on Progress), in BROKER_FAULTS' order: the files
    going to the bank; the paid batches' events on their way to the consumers; the settlement SMS going out."""
    return [
        ("files going to the bank", lambda p: p["files_answered_by_bank"] >= 1),
        ("disbursement batches published and being consumed",
         lambda p: p["batches_at_transparency"] + p["batches_at_notifications"] >= 1),
        ("settlement SMS going out", lambda p: p["sms"] >= 0.4 * texts),
    ]


def test_a_payment_cycle_of_50000_households_rides_out_broker_restarts(fault_platform, fault_report):
    platform = fault_platform
    node, group, base = platform["broker"], platform["group"], platform["base"]
    report = fault_report
    report.update({"scenario": "payment cycle under broker restarts", "graceful_down_s": GRACEFUL_DOWN,
                   "broker": node.node, "faults": []})
    staff, expected, texts, approved = open_and_approve(platform, report)

    progress = Progress(platform)
    sampler = Sampler(progress, interval=0.5, name="cycle progress").start()
    broken_at = None
    walls = []  # time.time() at each fault's start, for the processes' logs
    try:
        for (label, kind), (where, reached) in zip(BROKER_FAULTS, milestones(texts), strict=True):
            seen = wait_until(lambda reached=reached: (p := latest(sampler)) is not None and reached(p),
                              MILESTONE_WITHIN)
            fault_began = time.monotonic()
            figures = {"fault": label, "kind": kind, "placed": where, "milestone_reached": bool(seen),
                       "at_s": round(fault_began - approved, 2), "progress_at_fault": progress()}
            walls.append(time.time())
            figures.update(break_broker(node, kind))
            back = time.monotonic()
            ready_in = time_to_ready(base, group, since=back, timeout=READY_WITHIN)
            figures["time_to_ready_s"] = None if ready_in is None else round(ready_in, 2)
            figures.update({"progress_when_ready": progress(), "processes_exited": group.exited(),
                            "process_restarts": restarts(group), "dead_letters": dead_letters_now(platform["amqp_uri"])})
            report["faults"].append(figures)
            print(f"\n{label}: {figures}")
            if group.exited() or ready_in is None:
                broken_at = label  # the rest would only repeat it: count what happened and fail
                break

        # the edges, once the platform has settled and delivered
        consumed_now = settle_and_deliver(platform, sampler, texts, 10 if broken_at else SETTLE_WITHIN,
                                          10 if broken_at else DELIVER_WITHIN)
        report["time_to_consumed_s"] = round(time.monotonic() - approved, 2) if consumed_now else None
    finally:
        sampler.stop()
        progress.close()
    final = latest(sampler)
    report["times_from_approval_s"] = timeline(sampler, approved, texts)
    report["time_to_settle_s"] = report["times_from_approval_s"]["every_cycle_settled"]
    for n, figures in enumerate(report["faults"]):  # when each process had the broker again, from its log
        figures["back_after_broker_return_s"] = {
            name: round(s - figures["broker_down_s"], 2) for name, s in
            reconnections(platform["logs"], walls[n], walls[n + 1] if n + 1 < len(walls) else None).items()}

    problems = check_cycle(platform, report, staff, expected, texts, final)
    report["totals"]["stopped_after"] = broken_at
    for figures in report["faults"]:
        if not figures["milestone_reached"]:
            problems.append(f"{figures['fault']}: the cycle did not reach '{figures['placed']}' within "
                            f"{MILESTONE_WITHIN:.0f}s (progress {figures['progress_at_fault']})")
        if figures["time_to_ready_s"] is None:
            problems.append(f"after {figures['fault']}: /readyz not green within {READY_WITHIN:.0f}s of the broker's "
                            f"return")
    if broken_at:
        problems.append(f"the scenario stopped after {broken_at}: "
                        f"{[f['fault'] for f in report['faults']]} of {[label for label, _ in BROKER_FAULTS]} were run")
    if not consumed_now:
        problems.append(f"the cycle's events not all consumed within {DELIVER_WITHIN:.0f}s of its settling: "
                        f"{final}; event queues {report['totals']['event_queues_not_empty']}, "
                        f"outbox {report['totals']['outbox_unpublished']}")
    fail_with(problems)
