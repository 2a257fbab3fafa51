"""The scenario both the broker's and the database's faults are run through: citizens register cases at
the gateway (the `load` fixture) while faults happen one after another; then everything is counted at
the edges and every broken promise listed.

    problems = ride_out(platform, citizens, faults, report)   # faults: [(label, kind, break_fn)]

`break_fn()` makes the fault and returns once the broken part is back (its figures as a dict). After
each: /readyz green within READY_WITHIN, cases answered again, the cases it caught in flight finished.
At the end: no platform process exited, every case answered 201 and readable, exactly one SMS per case
at the fake operator, no dead letter, every outbox published, every event queue drained."""
from __future__ import annotations

import time

from services.notifications import dispatch
from tests.faults.harness import (
    crashes,
    log_tail,
    read_cases,
    restarts,
    sms_to_each,
    sms_lost_and_doubled,
    sms_per_receptor,
    time_to_ready,
    unpublished_outbox,
    wait_until,
)

READY_WITHIN = 30.0  # /readyz green within this long of the broken part's return
SERVING_AGAIN = 8  # cases answered after the return: the platform serves again

# How long after the faults every citizen's SMS must have arrived: a message caught in `sending` by the fault
# is taken up again once its claim is STALE_SENDING old, asked about once SETTLE has passed since, and sent by
# the sweep's next tick (every 5 s) — the bound the dispatcher promises (services/notifications/dispatch.py).
SMS_SETTLED_WITHIN = max(60.0, (dispatch.STALE_SENDING + dispatch.SETTLE).total_seconds() + 2 * 5)


def settled(platform) -> bool:
    """Every event consumed (the event queues empty, nothing unacknowledged) and every outbox published."""
    queues = platform["broker"].list_queues("name", "messages", vhost=platform["vhost"])
    return all(int(q["messages"] or 0) == 0 for q in queues if q["name"].startswith("evt-")) \
        and not any(unpublished_outbox(platform["pg"].urls).values())


def ride_out(platform, citizens, faults, report: dict) -> list[str]:
    node, group, base = platform["broker"], platform["group"], platform["base"]
    report.setdefault("faults", [])
    assert citizens.wait_for_answers(2 * citizens.clients, timeout=60), \
        f"no steady load before the faults: {citizens.figures(citizens.started_at, time.monotonic())}"
    windows = []  # (label, start, end) of each fault: the cases first tried then are that fault's
    broken_at = None
    for label, kind, break_it in faults:
        began = time.monotonic()
        figures = {"fault": label, "kind": kind, **break_it()}
        back = time.monotonic()
        ready_in = time_to_ready(base, group, since=back, timeout=READY_WITHIN)
        figures["time_to_ready_s"] = None if ready_in is None else round(ready_in, 2)
        figures["serving_again"] = ready_in is not None and not group.exited() and \
            citizens.wait_for_answers(SERVING_AGAIN, since=back, timeout=READY_WITHIN)
        # the cases this fault caught in flight finish (their clients honour Retry-After) before the next fault
        figures["in_flight_finished"] = figures["serving_again"] and citizens.wait_for_in_flight(back, READY_WITHIN)
        end = time.monotonic()
        figures.update(citizens.figures(began, end))
        failed_at = [when for c in citizens.cases for when, _, _ in c.failures if began <= when < end]
        figures["last_failure_after_return_s"] = round(max(failed_at) - back, 2) if failed_at else None
        figures.update({"processes_exited": group.exited(), "process_restarts": restarts(group),
                        "dead_letters": {q: n for q, n in node.dead_letters(platform["vhost"]).items() if n}})
        report["faults"].append(figures)
        windows.append((label, began, end))
        print(f"\n{label}: {figures}")
        if group.exited() or ready_in is None:
            broken_at = label  # the rest would only repeat it: count what happened and fail
            break

    citizens.stop()  # no new cases; those in flight go on retrying with their keys until answered
    broken = bool(group.exited()) or broken_at is not None
    patience = 5 if broken else SMS_SETTLED_WITHIN
    citizens.join(timeout=patience + 10)
    citizens.abort()
    answered = citizens.answered()

    # at the edges: the citizens' SMS, the cases they can follow, the dead-letter queues
    try:
        sms_to_each(platform["sms"], {c.mobile for c in answered}, wait=patience)
        wait_until(lambda: settled(platform), patience)
        received = sms_per_receptor(platform["sms"])  # after settling: a second SMS would show as doubled
    except Exception as exc:  # noqa: BLE001 - the operator or the database is gone with the platform
        received = None
        report["sms_error"] = f"{type(exc).__name__}: {exc}"
    readable = read_cases(base, [c.tracking_code for c in answered], timeout=patience)
    dead_letters = {q: n for q, n in node.dead_letters(platform["vhost"]).items() if n}

    for (_label, start, end), figures in zip(windows, report["faults"], strict=True):
        mine = [c for c in answered if start <= c.first_try < end]
        if received is not None:
            lost, doubled = sms_lost_and_doubled(mine, received)
            figures.update({"sms_lost": len(lost), "sms_doubled": len(doubled)})
    lost, doubled = sms_lost_and_doubled(answered, received or {})
    unanswered = citizens.unanswered()
    unreadable = {code: status for code, status in readable.items() if status != 200}
    report["totals"] = {
        "cases": len(citizens.cases), "answered_201": len(answered),
        "unanswered": {c.mobile: c.outcome for c in unanswered},
        "failed_attempts_retried": sum(len(c.failures) for c in citizens.cases),
        "longest_client_wait_s": round(max((c.wait() for c in citizens.cases), default=0.0), 2),
        "sms_received": None if received is None else sum(received.values()),
        "sms_lost": len(lost) if received is not None else None, "sms_doubled": len(doubled),
        "sms_to_unanswered_cases": None if received is None else
        {c.mobile: received[c.mobile] for c in unanswered if received.get(c.mobile)},
        "cases_unreadable": unreadable, "dead_letters": dead_letters,
        "processes_exited": group.exited(), "process_restarts": restarts(group), "crashes": crashes(group),
        "load_errors": citizens.errors, "stopped_after": broken_at,
    }

    problems = []
    gone = dict(group.exited())
    for name in {*gone, *restarts(group)}:
        problems.append(f"platform process {name!r} exited (code {gone.get(name)}, restarts "
                        f"{restarts(group).get(name, 0)}); the end of its log ({platform['logs']}/{name}.log):\n"
                        f"{log_tail(platform['logs'], name)}")
    for figures in report["faults"]:
        if figures["time_to_ready_s"] is None:
            problems.append(f"after {figures['fault']}: /readyz not green within {READY_WITHIN:.0f}s of the return")
        elif not figures["serving_again"]:
            problems.append(f"after {figures['fault']}: /readyz green but fewer than {SERVING_AGAIN} cases answered "
                            f"within {READY_WITHIN:.0f}s")
        elif not figures["in_flight_finished"]:
            problems.append(f"after {figures['fault']}: cases caught in flight still unanswered {READY_WITHIN:.0f}s "
                            f"after /readyz was green; the slowest: {figures['slowest_case']}")
    if broken_at:
        problems.append(f"the scenario stopped after {broken_at}: "
                        f"{[f['fault'] for f in report['faults']]} of {[label for label, _, _ in faults]} were run")
    if citizens.errors:
        problems.append(f"the load generator itself failed: {citizens.errors[:3]}")
    if unanswered:
        problems.append(f"{len(unanswered)} of {len(citizens.cases)} cases never answered 201, e.g. "
                        f"{[c.outcome for c in unanswered[:3]]}")
    if unreadable:
        problems.append(f"{len(unreadable)} cases answered 201 cannot be followed, e.g. {list(unreadable.items())[:3]}")
    if received is None:
        problems.append(f"the fake SMS operator could not be read: {report.get('sms_error')}")
    else:
        if lost:
            problems.append(f"SMS lost: {len(lost)} of {len(answered)} citizens with a case got none, e.g. {lost[:5]}")
        if doubled:
            problems.append(f"SMS doubled: {len(doubled)} citizens got more than one, e.g. {list(doubled.items())[:5]}")
    if dead_letters:
        problems.append(f"dead letters: {dead_letters}")
    return problems
