"""The broker refuses publishes under load: a memory alarm (`set_vm_memory_high_watermark` far below
what the node uses) for about ALARM seconds, then a disk alarm (`set_disk_free_limit` above the free
space), on the suite's own node, while 8 citizens register cases at the gateway, each retrying with its
one Idempotency-Key on no answer or a 5xx (issue 16, items 3 and 7; docs/operations.md, "Broker faults").
Probes beside them, every few hundred milliseconds: a creating POST of a case of their own, GET /readyz,
and the gauge broker_blocked of the gateway and the relay at their metrics endpoints.

Asserted for each alarm:
- the gateway answers within ANSWER_BOUND (the RPC confirm timeout and a margin), never a frozen thread
  pool: every creating POST begun during the alarm, a 503 with Retry-After and the request's `outcome`
  in its problem+json; the citizens' requests time out past that bound, and none did;
- /readyz turns red (503, the broker reported "blocked") within READY_RED_WITHIN of the command, and GET
  /readyz itself answers within READYZ_BOUND all along;
- broker_blocked{process="gateway"} reads 1 during the alarm and stays 1, so the expression the
  BrokerBlocked alert of deploy/prometheus/alerts.yml fires on (max by (job, instance)
  (broker_blocked) > 0) holds for as long as the alarm lasts (its `for: 1m` needs an alarm that long);
- once cleared, by itself (no process restarted): /readyz green within READY_WITHIN, the gauge 0 again
  at the gateway and the relay, and cases answered again.
At the end: no platform process exited or restarted; every case answered 201 (the citizens' and the
probe's) can be followed; exactly one SMS per answered case at the fake operator; no dead letters;
every outbox published. The figures per alarm go to test-artifacts/faults/ for docs/."""
from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from itertools import pairwise

import pytest
import requests
import yaml

from common.config import PROJECT_ROOT, get_settings
from gateway.routes.health import READY_TIMEOUT
from tests.faults.harness import (
    Case,
    Sampler,
    crashes,
    log_tail,
    metric,
    next_mobile,
    read_cases,
    restarts,
    sms_to_each,
    sms_lost_and_doubled,
    sms_per_receptor,
    time_to_ready,
    unpublished_outbox,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

CLIENTS = 8
ALARM = 8.0  # seconds from the command raising an alarm to the one clearing it (at least ALARM / 2 after the
# node reports it: rabbitmqctl is slow on a busy machine)
SETTINGS = get_settings()  # the platform's processes run with the same environment (scripts.processes)
CONFIRM_TIMEOUT = SETTINGS.rpc_confirm_timeout  # the broker's publisher confirm (503 past it)
MARGIN = 4.0  # for a busy 2-core machine: the gateway's own work, its thread pool's queue, the client's
# every answer of the gateway while an alarm is raised comes within this: at worst a publish whose confirm
# never comes (503, outcome unknown); the citizens' requests time out past it (a failure "no answer")
ANSWER_BOUND = CONFIRM_TIMEOUT + MARGIN
READYZ_BOUND = READY_TIMEOUT + MARGIN  # GET /readyz: its health RPCs wait at most READY_TIMEOUT
READY_RED_WITHIN = 15.0  # /readyz red within this long of the command raising the alarm
READY_WITHIN = 30.0  # /readyz green, the gauges 0 and cases answered within this long of the command clearing it
SERVING_AGAIN = 8  # cases of the citizens answered after the alarm cleared: the platform serves again
ALARMS = [("memory alarm", "memory"), ("disk alarm", "disk")]
ALERTS = PROJECT_ROOT / "deploy" / "prometheus" / "alerts.yml"


def broker_blocked_rule() -> dict:
    """The BrokerBlocked alert rule of deploy/prometheus/alerts.yml."""
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return next(rule for group in groups for rule in group["rules"] if rule.get("alert") == "BrokerBlocked")


def readyz(base: str) -> dict:
    response = requests.get(f"{base}/readyz", timeout=60)
    checks = response.json().get("checks", {})
    return {"status": response.status_code, "broker": checks.get("broker")}


def register(base: str) -> dict:
    """One creating POST of a new case (its own mobile and Idempotency-Key): what came back."""
    mobile, key = next_mobile(), str(uuid.uuid4())
    response = requests.post(f"{base}/api/v1/cases", json={"kind": "complaint", "mobile": mobile,
                                                             "text": "مستمری این ماه به حساب پدرم واریز نشده است."},
                             headers={"Idempotency-Key": key}, timeout=60)
    try:
        body = response.json()
    except ValueError:
        body = {}
    return {"status": response.status_code, "mobile": mobile, "key": key,
            "tracking_code": body.get("tracking_code") if response.status_code == 201 else None,
            "content_type": response.headers.get("Content-Type", ""), "retry_after": response.headers.get("Retry-After"),
            "code": body.get("code"), "outcome": body.get("outcome"), "detail": str(body.get("detail", ""))[:160]}


def gauge(url: str, process: str):
    value = metric(url, "broker_blocked", {"process": process})
    return None if value is None else int(value)


def refusal_problems(label: str, answer: dict) -> list[str]:
    """What is wrong with the answer to a creating POST during an alarm: a 503 problem+json with
    Retry-After and the request's outcome (the problem says whether it may have been done)."""
    wrong = []
    if answer["status"] != 503:
        return wrong  # a request that got through, or a 504 of one caught in flight: judged by its time
    if not answer["content_type"].startswith("application/problem+json"):
        wrong.append(f"Content-Type {answer['content_type']!r}")
    if answer["code"] != "service_unavailable":
        wrong.append(f"code {answer['code']!r}")
    if not (answer["retry_after"] or "").isdigit():
        wrong.append(f"Retry-After {answer['retry_after']!r}")
    if answer["outcome"] not in ("unknown", "not_done"):
        wrong.append(f"outcome {answer['outcome']!r}")
    return [f"{label}: a 503 to a creating POST with {', '.join(wrong)}"] if wrong else []


def one_alarm(label: str, kind: str, platform: dict, citizens, probes: dict) -> tuple[dict, list[str], tuple]:
    """Raise the alarm for ALARM seconds under the load, clear it, and wait for the platform to serve
    again; (figures, problems, (began, clearing, end))."""
    node, group, base = platform["broker"], platform["group"], platform["base"]
    set_alarm = node.set_memory_alarm if kind == "memory" else node.set_disk_alarm
    began = time.monotonic()
    set_alarm(True)  # returns once the node reports the alarm
    on = time.monotonic()
    time.sleep(max(0.0, max(began + ALARM, on + ALARM / 2) - time.monotonic()))  # the alarm's length, not a sync
    clearing = time.monotonic()
    cleared: list = []  # the command's time, or what it raised
    clearer = threading.Thread(target=lambda: cleared.append(timed(set_alarm, False)), daemon=True)
    clearer.start()  # the recovery is watched meanwhile: the alarm is gone before the command has checked it is
    ready_in = time_to_ready(base, group, since=clearing, timeout=READY_WITHIN)
    unflagged = {p: wait_until(lambda p=p: probes[p].first(lambda v: v == 0, clearing), READY_WITHIN)
                 for p in ("gateway", "relay")}
    serving = ready_in is not None and citizens.wait_for_answers(SERVING_AGAIN, since=clearing, timeout=READY_WITHIN)
    served = probes["post"].first(lambda v: isinstance(v, dict) and v["status"] == 201, clearing)
    clearer.join(60)
    end = time.monotonic()

    def first(probe, condition):
        sample = probes[probe].first(condition, began)
        return sample if sample is not None and sample.started < clearing else None

    red = first("readyz", lambda v: isinstance(v, dict) and v["status"] == 503 and "blocked" in str(v["broker"]))
    flagged = first("gateway", lambda v: v == 1)
    posts = probes["post"].between(began, clearing)  # creating POSTs begun while the alarm was being raised or on
    answers = [s.value for s in posts if isinstance(s.value, dict)]
    statuses = Counter(str(a["status"]) for a in answers)
    after = {p: (None if not s else round(s.started + s.seconds - clearing, 2)) for p, s in unflagged.items()}
    figures = {
        "alarm": label, "raising_s": round(on - began, 2), "raised_for_s": round(clearing - began, 2),
        "clearing_s": cleared[0] if cleared and isinstance(cleared[0], float) else cleared,
        "readyz_red_after_s": None if not red else round(red.started + red.seconds - began, 2),
        "readyz_during_alarm": dict(Counter(str(s.value["status"] if isinstance(s.value, dict) else s.value)
                                            for s in probes["readyz"].between(on, clearing))),
        "readyz_slowest_s": round(max((s.seconds for s in probes["readyz"].between(began, end)), default=0.0), 2),
        "gateway_gauge_1_after_s": None if not flagged else round(flagged.started + flagged.seconds - began, 2),
        "gateway_gauge_during_alarm": dict(Counter(str(s.value) for s in probes["gateway"].between(
            flagged.started if flagged else on, clearing))),
        "relay_gauge_during_alarm": dict(Counter(str(s.value) for s in probes["relay"].between(on, clearing))),
        "creating_posts_during_alarm": dict(statuses),
        "creating_post_outcomes": dict(Counter(str(a["outcome"]) for a in answers if a["status"] >= 500)),
        "creating_post_slowest_s": round(max((s.seconds for s in posts), default=0.0), 2),
        "time_to_ready_s": None if ready_in is None else round(ready_in, 2),
        "gauge_0_after_s": after,
        "first_201_after_s": None if not served else round(served.started + served.seconds - clearing, 2),
        "serving_again": serving,
        **citizens.figures(began, end),
        "processes_exited": group.exited(), "process_restarts": restarts(group),
    }

    problems = []
    if not cleared or not isinstance(cleared[0], float):
        problems.append(f"{label}: clearing the alarm failed: {cleared}")
    slow = [(round(s.seconds, 2), s.value) for s in posts if s.seconds > ANSWER_BOUND]
    if slow:
        problems.append(f"{label}: {len(slow)} creating POSTs begun during the alarm were answered after more than "
                        f"{ANSWER_BOUND:.0f}s (a frozen thread?), e.g. {slow[:3]}")
    unanswered = [s.value for s in posts if not isinstance(s.value, dict)]
    if unanswered:
        problems.append(f"{label}: creating POSTs got no answer: {unanswered[:3]}")
    if not statuses.get("503"):
        problems.append(f"{label}: no creating POST was refused with a 503 during the alarm: {dict(statuses)}")
    for answer in answers:
        problems += refusal_problems(label, answer)
    hung = [(round(when - began, 2), what) for c in citizens.cases for when, what, _ in c.failures
            if began <= when < clearing + ANSWER_BOUND and what.startswith("no answer")]
    if hung:
        problems.append(f"{label}: {len(hung)} requests of the citizens got no answer within {ANSWER_BOUND:.0f}s, "
                        f"(seconds after the alarm, what): {hung[:5]}")
    if not red:
        problems.append(f"{label}: /readyz not red (503, broker blocked) during the alarm: "
                        f"{figures['readyz_during_alarm']}")
    elif figures["readyz_red_after_s"] > READY_RED_WITHIN:
        problems.append(f"{label}: /readyz red only {figures['readyz_red_after_s']}s after the alarm was raised")
    if figures["readyz_slowest_s"] > READYZ_BOUND:
        problems.append(f"{label}: GET /readyz took {figures['readyz_slowest_s']}s (bound {READYZ_BOUND:.0f}s)")
    if not flagged:
        problems.append(f"{label}: broker_blocked{{process=\"gateway\"}} never read 1 during the alarm: the "
                        f"BrokerBlocked alert would not fire")
    elif set(figures["gateway_gauge_during_alarm"]) != {"1"}:  # the alert's `for` needs it to stay 1
        problems.append(f"{label}: broker_blocked{{process=\"gateway\"}} did not stay 1 during the alarm: "
                        f"{figures['gateway_gauge_during_alarm']}")
    if ready_in is None:
        problems.append(f"{label}: /readyz not green within {READY_WITHIN:.0f}s of the alarm's clearing")
    for process, seconds in after.items():
        if seconds is None:
            problems.append(f"{label}: broker_blocked{{process=\"{process}\"}} not back to 0 within "
                            f"{READY_WITHIN:.0f}s of the alarm's clearing")
    if ready_in is not None and not serving:
        problems.append(f"{label}: /readyz green but fewer than {SERVING_AGAIN} cases answered within "
                        f"{READY_WITHIN:.0f}s of the alarm's clearing")
    return figures, problems, (began, clearing, end)


def timed(function, *args) -> float | str:
    began = time.monotonic()
    try:
        function(*args)
    except Exception as exc:  # noqa: BLE001 - reported by the caller
        return f"{type(exc).__name__}: {exc}"
    return round(time.monotonic() - began, 2)


def test_publishers_are_refused_at_once_and_resume_by_themselves_after_a_broker_alarm(fault_platform, load,
                                                                                     fault_report):
    platform = fault_platform
    node, group, base = platform["broker"], platform["group"], platform["base"]
    ports = platform["ports"]
    rule = broker_blocked_rule()
    report = fault_report
    report.update({"scenario": "broker alarms under load", "clients": CLIENTS, "alarm_s": ALARM,
                   "broker": node.node, "bounds_s": {"creating_post_during_alarm": ANSWER_BOUND,
                                                     "readyz": READYZ_BOUND, "readyz_red": READY_RED_WITHIN,
                                                     "readyz_green": READY_WITHIN},
                   "alert": {"name": "BrokerBlocked", "expr": rule["expr"].strip(), "for": rule.get("for")},
                   "alarms": []})
    problems = []
    if not re.search(r"max by \(job, instance\) \(broker_blocked\) > 0", rule["expr"]):
        problems.append(f"the BrokerBlocked alert does not fire on broker_blocked > 0: {rule['expr']!r}")

    citizens = load(base, clients=CLIENTS, request_timeout=ANSWER_BOUND)
    probes = {"readyz": Sampler(lambda: readyz(base), 0.3, "readyz-probe"),
              "post": Sampler(lambda: register(base), 0.5, "post-probe"),
              **{process: Sampler(lambda p=process: gauge(f"http://127.0.0.1:{ports[f'metrics:{p}']}/metrics", p),
                                  0.25, f"{process}-gauge") for process in ("gateway", "relay")}}
    windows = []
    phases = {"started": time.monotonic()}
    for probe in probes.values():
        probe.start()
    try:
        assert citizens.wait_for_answers(CLIENTS, timeout=60), \
            f"no steady load before the alarms: {citizens.figures(citizens.started_at, time.monotonic())}"
        phases["steady load"] = time.monotonic()
        for label, kind in ALARMS:
            figures, found, window = one_alarm(label, kind, platform, citizens, probes)
            report["alarms"].append(figures)
            windows.append(window)
            problems += found
            print(f"\n{label}: {figures}")
            if group.exited() or figures["time_to_ready_s"] is None:
                break  # the rest would only repeat it: count what happened and fail
    finally:
        for probe in probes.values():
            probe.stop()

    phases["alarms"] = time.monotonic()
    citizens.stop()  # no new cases; those in flight go on retrying with their keys until answered
    patience = 10 if group.exited() or problems else 60
    citizens.join(timeout=patience + 10)
    citizens.abort()
    answered = citizens.answered()
    probed = [Case(mobile=s.value["mobile"], key=s.value["key"], status=201, tracking_code=s.value["tracking_code"])
              for s in probes["post"].samples if isinstance(s.value, dict) and s.value["status"] == 201]
    everyone = answered + probed

    # at the edges: the citizens' SMS, the cases they can follow, the dead-letter queues, the outboxes
    try:
        sms_to_each(platform["sms"], {c.mobile for c in everyone}, wait=patience)
        wait_until(lambda: not any(unpublished_outbox(platform["pg"].urls).values()), patience)
        received = sms_per_receptor(platform["sms"])
    except Exception as exc:  # noqa: BLE001 - the operator or the database is gone with the platform
        received = None
        report["sms_error"] = f"{type(exc).__name__}: {exc}"
    readable = read_cases(base, [c.tracking_code for c in everyone], timeout=patience)
    dead_letters = {q: n for q, n in node.dead_letters(platform["vhost"]).items() if n}
    unpublished = {s: n for s, n in unpublished_outbox(platform["pg"].urls).items() if n}
    phases["counts at the edges"] = time.monotonic()

    for (began, clearing, end), figures in zip(windows, report["alarms"], strict=True):
        caught = [c for c in citizens.cases if any(began <= when < clearing for when, _, _ in c.failures)]
        figures["cases_caught_answered_after_clearing_s"] = round(max(
            (c.answered_at - clearing for c in caught if c.answered), default=0.0), 2)
        if received is not None:
            lost, doubled = sms_lost_and_doubled([c for c in answered if began <= c.first_try < end], received)
            figures.update({"sms_lost": len(lost), "sms_doubled": len(doubled)})
    lost, doubled = sms_lost_and_doubled(everyone, received or Counter())
    unanswered = citizens.unanswered()
    unreadable = {code: status for code, status in readable.items() if status != 200}
    report["totals"] = {
        "cases": len(citizens.cases), "answered_201": len(answered), "probe_cases_answered_201": len(probed),
        "unanswered": {c.mobile: c.outcome for c in unanswered},
        "failed_attempts_retried": sum(len(c.failures) for c in citizens.cases),
        "longest_client_wait_s": round(max((c.wait() for c in citizens.cases), default=0.0), 2),
        "sms_received": None if received is None else sum(received.values()),
        "sms_lost": len(lost) if received is not None else None, "sms_doubled": len(doubled),
        "cases_unreadable": unreadable, "dead_letters": dead_letters, "outbox_unpublished": unpublished,
        "processes_exited": group.exited(), "process_restarts": restarts(group), "crashes": crashes(group),
        "load_errors": citizens.errors,
        "phases_s": {name: round(phases[name] - phases[before], 2) for before, name in pairwise(phases)},
    }

    gone = dict(group.exited())
    for name in {*gone, *restarts(group)}:
        problems.append(f"platform process {name!r} exited (code {gone.get(name)}, restarts "
                        f"{restarts(group).get(name, 0)}); the end of its log ({platform['logs']}/{name}.log):\n"
                        f"{log_tail(platform['logs'], name)}")
    if len(report["alarms"]) < len(ALARMS):
        problems.append(f"the scenario stopped after {report['alarms'][-1]['alarm']}: "
                        f"{[f['alarm'] for f in report['alarms']]} of {[label for label, _ in ALARMS]} were run")
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
            problems.append(f"SMS lost: {len(lost)} of {len(everyone)} citizens with a case got none, e.g. {lost[:5]}")
        if doubled:
            problems.append(f"SMS doubled: {len(doubled)} citizens got more than one, e.g. {list(doubled.items())[:5]}")
    if dead_letters:
        problems.append(f"dead letters: {dead_letters}")
    if unpublished:
        problems.append(f"outbox rows still unpublished {patience}s after the load stopped: {unpublished}")
    if problems:  # one message saying all that went wrong, without this function's source around it
        pytest.fail("\n\n".join(problems), pytrace=False)
