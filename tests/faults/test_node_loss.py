"""A RabbitMQ node is lost under load (issue 16, item 6): three nodes of the installed server clustered
by RabbitMQ's own clustering (scripts/rabbit_nodes.py: each its own name with this test process's pid,
its own ports and data directory), the platform's quorum queues on them as the production overlay has
them (event queues, their .dlq and rpc-<service> declared quorum by the code, the policies of
scripts/rabbitmq_policies.py on the vhost, every queue with a member on each node: 3.10 gives a quorum
queue declared after the cluster formed a member on every node, which the test checks), and every process
of the platform given AMQP_URI as a `;` list of the three nodes, which kombu tries in turn (each process's
list starts at another node: FIRST_NODE).

While 8 citizens register cases at the gateway (each retrying with its one Idempotency-Key on no answer
or a 5xx), two nodes are lost one after the other, each time the one that leads what a registration
needs: first `rabbitmqctl stop_app` of the node leading `rpc-complaints` (a graceful stop: the node
closes its clients' connections), then, once it is back, `kill -9` of the node leading the notifications'
queue of `case.registered` (the SMS path; its clients get EOF or ECONNRESET). With the node still down: cases are
answered 201 again and /readyz is green within SERVING_WITHIN, the notifications service handles events
(a case registered after the loss gets its SMS). Then the node is started again and must rejoin (every
quorum queue has its three members online). Counted at the edges at the end: every case answered 201 can
be followed, exactly one SMS per such case at the fake operator, no dead letters, no platform process
exited. The figures go to test-artifacts/faults/ for docs/."""
from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from common.config import PROJECT_ROOT, SERVICES, SPLIT_PROCESSES
from gateway.principal_cache import QUEUE_PREFIX
from scripts.processes import free_port, platform_processes, start_platform, wait_ready
from scripts.rabbit_nodes import RabbitNode, RabbitNodeError
from tests.conftest import empty_databases
from tests.helpers import PLATFORM_READY_SECONDS, TEST_PLATFORM_ENV
from tests.faults.conftest import LIFTED_LIMITS
from tests.faults.harness import (
    crashes,
    log_tail,
    read_cases,
    restarts,
    sms_to_each,
    sms_lost_and_doubled,
    sms_per_receptor,
    ready,
    sms_to,
    unpublished_outbox,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

CLIENTS = 8
SERVING_WITHIN = 20.0  # cases answered 201 again, /readyz green, with the node still down
SMS_WITHIN = 30.0  # a case registered after the loss has its SMS this long after the loss
REJOIN_WITHIN = 60.0  # the node started again is running in the cluster with every queue member online
SERVING_AGAIN = 8  # cases answered after the loss: the platform serves again
RPC_QUEUE = "rpc-complaints"
VHOST = "node-loss"
# Which of the three nodes each process's AMQP_URI lists first (the others follow in turn), so clients are
# spread over the nodes as behind a load-balanced Service, and a lost node takes some processes' connections
# and other queues' leaders. A quorum queue's leader is the node of the connection that declared it:
# rpc-complaints starts on node 1 with complaints, payments and the gateway; the notifications' queues on
# node 2 with notifications and transparency (both its processes); the relay, on node 3, keeps its
# connection through both losses while the queues it publishes to elect new leaders.
FIRST_NODE = {"notifications": 1, "transparency": 1, "transparency-feeds": 1, "relay": 2}


def sms_queue() -> str:
    """The notifications' queue of case.registered: the event that sends the citizen's SMS."""
    from common.health import event_queues

    return next(q for q in event_queues(["notifications"]) if ".case.registered." in q)


def _discard(node: RabbitNode) -> None:
    """The end of a throw-away node: kill -9 (its data is removed right after), then its directory."""
    pid = node.os_pid()
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait_until(lambda: node.os_pid() is None, 10, 0.05)
    shutil.rmtree(node.base_dir, ignore_errors=True)


def join_all(nodes: list[RabbitNode], timeout: float = 60) -> None:
    """scripts.rabbit_nodes.cluster, with nodes 2..n joining node 1 at once (each join is five rabbitmqctl
    calls of a few seconds on a busy machine); a join that fails is tried again alone, then cluster()'s
    check that all of them run in one cluster."""
    with ThreadPoolExecutor(len(nodes) - 1) as pool:
        joined = list(pool.map(lambda n: _joined(n, nodes[0], timeout), nodes[1:]))
    failed = [node for node, ok in zip(nodes[1:], joined, strict=True) if not ok]
    for node in failed:
        node.join(nodes[0], timeout)
    want = sorted(n.node for n in nodes)
    if not wait_until(lambda: nodes[0].running_nodes() == want, timeout, 0.5):
        raise RabbitNodeError(f"cluster of {want} not formed: {nodes[0].node} sees {nodes[0].running_nodes()}")


def _joined(node: RabbitNode, first: RabbitNode, timeout: float) -> bool:
    try:
        node.join(first, timeout)
        return True
    except RabbitNodeError:
        return False


def queue_table(node: RabbitNode) -> dict[str, dict]:
    """{queue: {type, leader, members, online}} of the vhost, as `node` sees it (one rabbitmqctl call)."""
    rows = node.list_queues("name", "type", "leader", "members", "online", "messages", vhost=VHOST)
    return {row["name"]: row for row in rows}


def replicated(table: dict[str, dict]) -> dict[str, str]:
    """The platform's replicated queues (quorum and stream) and their members: every one must be on each
    node; {queue: what is missing} for those that are not. A process's own exclusive queues (RPC replies, the
    gateway's revocation events) go with its connection and are declared again with it."""
    return {name: f"{row.get('type')} queue, members {row.get('members')}" for name, row in table.items()
            if not name.startswith(("rpc.reply-", QUEUE_PREFIX)) and (row.get("type") not in ("quorum", "stream")
                                                        or len(row.get("members") or []) != 3)}


def offline_members(table: dict[str, dict]) -> dict[str, list]:
    """{queue: members not online} of every quorum and stream queue."""
    return {name: sorted(set(row.get("members") or []) - set(row.get("online") or []))
            for name, row in table.items() if row.get("type") in ("quorum", "stream")
            and set(row.get("members") or []) - set(row.get("online") or [])}


@pytest.fixture(scope="module")
def cluster_platform(fault_pg, tmp_path_factory):
    """Three clustered nodes of the suite's own (names with this process's pid: two sessions never
    collide), the platform's policies on a vhost, and every process of the platform on that vhost with
    AMQP_URI listing the three nodes, on the suite's emptied databases, ready."""
    from common.health import event_queues, missing_queues

    nodes = [RabbitNode(f"welfare-nodeloss-{os.getpid()}-{i}") for i in (1, 2, 3)]
    group = None
    setup: dict = {}
    began = time.monotonic()
    try:
        with ThreadPoolExecutor(3) as pool:  # a node boots in ~5-10 s; three at once
            list(pool.map(lambda node: node.start(), nodes))
        setup["nodes_started_s"] = round(time.monotonic() - began, 1)
        join_all(nodes)
        setup["cluster_formed_s"] = round(time.monotonic() - began, 1)
        nodes[0].add_vhost(VHOST)
        nodes[0].set_policies(VHOST)
        amqp_uri = ";".join(node.amqp_uri_for(VHOST) for node in nodes)
        first_node = {name: FIRST_NODE.get(name, 0) for name in platform_processes()}
        uris = {name: ";".join(nodes[(first + i) % 3].amqp_uri_for(VHOST) for i in range(3))
                for name, first in first_node.items()}
        if not fault_pg.running():
            fault_pg.start()
        empty_databases(fault_pg.urls)
        ports = {name: free_port() for name in ("sms-operator", "gateway")}
        ports.update({f"metrics:{name}": free_port() for name in platform_processes()})
        logs = tmp_path_factory.mktemp("node-loss-logs")
        on_first = {name for name, first in first_node.items() if first == 0}
        group = start_platform(amqp_uri, fault_pg.urls, ports, str(PROJECT_ROOT), log_dir=str(logs),
                               only=on_first, extra_env={**TEST_PLATFORM_ENV, **LIFTED_LIMITS,
                                                         "LOG_LEVEL": os.environ.get("FAULTS_LOG_LEVEL", "INFO")})
        commands = platform_processes(ports["sms-operator"], ports["bank"], ports["ipg"])
        for name in commands.keys() - on_first:  # the same processes, their node list starting elsewhere
            group.start(name, commands[name], {"METRICS_PORT": str(ports[f"metrics:{name}"]), "AMQP_URI": uris[name]})
        base = f"http://127.0.0.1:{ports['gateway']}"
        try:
            wait_ready(f"{base}/readyz", group, timeout=PLATFORM_READY_SECONDS)
        except RuntimeError as exc:
            tails = "\n".join(f"--- {name} ---\n{log_tail(logs, name, 15)}" for name in group.exited())
            raise AssertionError(f"the platform did not start: {exc}; logs in {logs}\n{tails}") from None
        queues = event_queues()
        if not wait_until(lambda: not missing_queues(amqp_uri, queues), 30):
            raise AssertionError(f"event queues not declared within 30s: {missing_queues(amqp_uri, queues)}")
        setup["platform_ready_s"] = round(time.monotonic() - began, 1)
        yield {"base": base, "sms": f"http://127.0.0.1:{ports['sms-operator']}", "group": group, "logs": logs,
               "nodes": nodes, "amqp_uri": amqp_uri, "first_node": {n: nodes[i].node for n, i in first_node.items()
                                                                   if n in (*SERVICES, "relay", "gateway")}, "pg": fault_pg, "ports": ports, "setup": setup}
    finally:
        if group is not None:
            group.stop()
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(_discard, nodes))


def live(nodes: list[RabbitNode], but: RabbitNode | None = None) -> RabbitNode:
    """A node to ask (its app running), other than `but`."""
    for node in nodes:
        if node is not but and node.listening():
            return node
    raise RabbitNodeError(f"no node of {[n.node for n in nodes]} runs")


def processes_ready(platform, names) -> dict[str, int | str]:
    """{process: status of its own /readyz} (a service's: its consumers connected, the broker taking a
    confirmed publish, its database reached)."""
    found = {}
    for name in names:
        try:
            found[name] = requests.get(f"http://127.0.0.1:{platform['ports'][f'metrics:{name}']}/readyz",
                                       timeout=5).status_code
        except requests.RequestException as exc:
            found[name] = type(exc).__name__
    return found


def settled(platform, node: RabbitNode) -> bool:
    """Every event consumed (the event queues empty) and every outbox published."""
    queues = node.list_queues("name", "messages", vhost=VHOST)
    return all(int(q["messages"] or 0) == 0 for q in queues if q["name"].startswith("evt-")) \
        and not any(unpublished_outbox(platform["pg"].urls).values())


def first_new_case(citizens, lost: float):
    """The first case tried after the loss that was answered 201 (None yet)."""
    new = [c for c in citizens.answered() if c.first_try >= lost]
    return min(new, key=lambda c: c.answered_at) if new else None


def readiness_after(platform, since: float, timeout: float) -> dict[str, float | None]:
    """Seconds from `since` until the gateway's /readyz, and each service's and the relay's own, first
    answered 200 (None: not within `timeout` of `since`, or a process exited meanwhile)."""
    first: dict[str, float | None] = {"gateway": None, **{name: None for name in (*SERVICES, *SPLIT_PROCESSES, "relay")}}

    def all_ready() -> bool:
        if platform["group"].exited():
            return True
        waiting = [name for name, seconds in first.items() if seconds is None]
        status = processes_ready(platform, [n for n in waiting if n != "gateway"])
        if "gateway" in waiting and ready(platform["base"]):
            status["gateway"] = 200
        for name, code in status.items():
            if code == 200:
                first[name] = round(time.monotonic() - since, 2)
        return all(seconds is not None for seconds in first.values())
    wait_until(all_ready, max(0.5, since + timeout - time.monotonic()))
    return first


def lose_node(platform, citizens, target: RabbitNode, kind: str, watched: dict[str, str]) -> dict:
    """Lose `target` (kind "stop_app" or "kill -9") under the load and measure how the platform serves
    without it (bring_back starts it again). The figures."""
    nodes, group = platform["nodes"], platform["group"]
    other = live(nodes, but=target)
    figures: dict = {"kind": kind, "node": target.node,
                     "it_led": sorted(q for q, leader in watched.items() if leader == target.node)}
    began = time.monotonic()
    if kind == "stop_app":
        target.stop_app()
    else:
        figures["killed_pid"] = target.kill9()
    lost, lost_wall = time.monotonic(), time.time()  # the operator stamps an SMS with time.time()
    figures["stopping_s"] = round(lost - began, 2)

    # with the node down: answers, readiness (the gateway's /readyz and each process's own), events
    ready_in = readiness_after(platform, lost, SERVING_WITHIN)
    figures["time_to_ready_s"] = ready_in.pop("gateway")
    figures["processes_ready_s"] = ready_in
    figures["serving_again"] = citizens.wait_for_answers(SERVING_AGAIN, since=lost,
                                                         timeout=max(0.5, lost + SERVING_WITHIN - time.monotonic()))
    wait_until(lambda: first_new_case(citizens, lost), max(0.5, lost + SERVING_WITHIN - time.monotonic()), 0.05)
    after = sorted((c for c in citizens.answered() if c.answered_at >= lost), key=lambda c: c.answered_at)
    figures["first_answer_after_loss_s"] = round(after[0].answered_at - lost, 2) if after else None
    new = first_new_case(citizens, lost)
    figures["first_new_case_answered_s"] = round(new.answered_at - lost, 2) if new else None
    figures["sms_for_new_case_s"] = None  # its SMS at the operator: the notifications handle events
    if new:
        try:
            sent = sms_to(platform["sms"], new.mobile, wait=max(1.0, lost + SMS_WITHIN - time.monotonic()))
            if sent:
                figures["sms_for_new_case_s"] = round(min(m["date"] for m in sent) - lost_wall, 2)
        except requests.RequestException as exc:
            figures["sms_error"] = f"{type(exc).__name__}: {exc}"
    figures["in_flight_finished"] = citizens.wait_for_in_flight(lost, SERVING_WITHIN)
    table = queue_table(other)
    figures["leaders_without_it"] = {q: table.get(q, {}).get("leader") for q in watched}
    figures["dead_letters_while_down"] = {q: int(r.get("messages") or 0) for q, r in table.items()
                                          if q.endswith(".dlq") and int(r.get("messages") or 0)}
    down_end = time.monotonic()
    figures["down_s"] = round(down_end - lost, 2)

    figures.update({"processes_exited": group.exited(), "process_restarts": restarts(group)})
    figures["window"] = [began, lost, down_end]  # and, once back, when it had rejoined
    return figures


def bring_back(platform, target: RabbitNode, kind: str, figures: dict) -> None:
    """Start the lost node again and wait until it has rejoined: every quorum and stream queue has its three
    members online again (which needs the node running in the cluster, checked too)."""
    began = time.monotonic()
    try:
        other = live(platform["nodes"], but=target)
        figures["node_starting_s"] = round(target.start_app() if kind == "stop_app" else target.start(), 2)
        seen: dict = {}

        def all_online() -> bool:
            seen.update(queue_table(other))
            return not offline_members(seen)
        rejoined = wait_until(all_online, REJOIN_WITHIN, 0.5)
        figures["_table"] = seen  # where the queues' leaders are now: the next fault's target (not reported)
        want = sorted(n.node for n in platform["nodes"])
        running = other.running_nodes()
        figures["rejoined"] = bool(rejoined) and running == want
        if not figures["rejoined"]:
            figures["running_nodes"] = running
            figures["offline_members"] = dict(list(offline_members(seen).items())[:5])
    except Exception as exc:  # noqa: BLE001 - recorded: the test fails with it among the other problems
        figures["rejoined"] = False
        figures["back_error"] = f"{type(exc).__name__}: {exc}"[:500]
    figures["rejoined_s"] = round(time.monotonic() - began, 2)
    figures["window"].append(time.monotonic())


def test_the_platform_rides_out_the_loss_of_a_leading_node(cluster_platform, load, fault_report):
    platform = cluster_platform
    nodes, group, base = platform["nodes"], platform["group"], platform["base"]
    report = fault_report
    watched_queues = (RPC_QUEUE, sms_queue())
    report.update({"scenario": "a RabbitMQ node lost under load (3-node cluster)", "clients": CLIENTS,
                   "nodes": [n.node for n in nodes], "amqp_uri_nodes": len(nodes), "setup": platform["setup"],
                   "watched_queues": list(watched_queues), "first_node_of": platform["first_node"], "faults": []})
    problems = []

    table = queue_table(nodes[0])
    report["queues"] = {"quorum": sum(1 for r in table.values() if r.get("type") == "quorum"),
                        "stream": sum(1 for r in table.values() if r.get("type") == "stream"),
                        "classic (replies)": sum(1 for r in table.values() if r.get("type") == "classic")}
    unreplicated = replicated(table)
    report["queues"]["member_on_each_node"] = not unreplicated
    if unreplicated:
        problems.append(f"queues not replicated on the three nodes: {unreplicated}")
    for queue in watched_queues:
        if queue not in table:
            problems.append(f"no queue {queue} on the cluster")
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)

    citizens = load(base, clients=CLIENTS)
    assert citizens.wait_for_answers(2 * CLIENTS, timeout=60), \
        f"no steady load before the faults: {citizens.figures(citizens.started_at, time.monotonic())}"

    by_name = {n.node: n for n in nodes}
    lost_before: set[str] = set()
    broken_at = None
    returning = None  # the last node lost comes back while the end is counted
    kinds = ("stop_app", "kill -9")
    for kind in kinds:
        table = report["faults"][-1].pop("_table", None) if report["faults"] else table
        table = table or queue_table(live(nodes))
        watched = {q: str(table[q].get("leader")) for q in watched_queues}
        # first the node leading rpc-complaints; then the one leading the SMS path (another node: the first
        # came back as a follower), else any node not lost yet
        order = [watched[RPC_QUEUE], watched[watched_queues[1]]] if kind == "stop_app" else \
            [watched[watched_queues[1]], watched[RPC_QUEUE]]
        name = next((n for n in order if n not in lost_before),
                    next(n.node for n in nodes if n.node not in lost_before))
        lost_before.add(name)
        figures = lose_node(platform, citizens, by_name[name], kind, watched)
        figures["leaders_before"] = watched
        report["faults"].append(figures)
        if group.exited():
            broken_at = f"{kind} of {name}"  # the rest would only repeat it
        if kind == kinds[-1] or broken_at:
            returning = threading.Thread(target=bring_back, args=(platform, by_name[name], kind, figures),
                                         name="node-return", daemon=True)
            returning.start()
            break
        bring_back(platform, by_name[name], kind, figures)
        print(f"\n{kind} of {name}: { {k: v for k, v in figures.items() if k != 'slowest_case'} }")
        if not figures["rejoined"]:
            broken_at = f"{kind} of {name}"  # losing another node would lose the majority
            break

    last_lost = by_name[name]
    citizens.stop()  # no new cases; those in flight go on retrying with their keys until answered
    broken = bool(group.exited()) or broken_at is not None
    patience = 5 if broken else 45
    citizens.join(timeout=patience + 10)
    citizens.abort()
    answered = citizens.answered()
    asker = live(nodes, but=last_lost)  # the last one lost may be coming back meanwhile
    try:
        sms_to_each(platform["sms"], {c.mobile for c in answered}, wait=patience)
        wait_until(lambda: settled(platform, asker), patience)
        received = sms_per_receptor(platform["sms"])
    except Exception as exc:  # noqa: BLE001 - the operator or the database is gone with the platform
        received = None
        report["sms_error"] = f"{type(exc).__name__}: {exc}"
    readable = read_cases(base, [c.tracking_code for c in answered], timeout=patience)
    dead_letters = {q: n for q, n in asker.dead_letters(VHOST).items() if n}
    if returning is not None:
        returning.join(REJOIN_WITHIN + 90)  # bring_back's own waits are bounded: this only guards them
        if returning.is_alive():
            report["faults"][-1].update(rejoined=False, back_error="still starting")
        print(f"\n{kind} of {name}: { {k: v for k, v in report['faults'][-1].items() if k != 'slowest_case'} }")

    for figures in report["faults"]:
        figures.pop("_table", None)
        began, lost_at, _down_end, *back = figures.pop("window")
        end = back[0] if back else time.monotonic()
        figures.update(citizens.figures(began, end))  # from the loss until the node had rejoined
        failed_at = [when for c in citizens.cases for when, _, _ in c.failures if began <= when < end]
        figures["last_failure_after_loss_s"] = round(max(failed_at) - lost_at, 2) if failed_at else None
        mine = [c for c in answered if began <= c.first_try < end]
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

    gone = dict(group.exited())
    for name in {*gone, *restarts(group)}:
        problems.append(f"platform process {name!r} exited (code {gone.get(name)}, restarts "
                        f"{restarts(group).get(name, 0)}); the end of its log ({platform['logs']}/{name}.log):\n"
                        f"{log_tail(platform['logs'], name)}")
    for f in report["faults"]:
        what = f"after {f['kind']} of {f['node']} (it led {f['it_led'] or 'none of ' + str(list(watched_queues))})"
        if not f["serving_again"]:
            problems.append(f"{what}: fewer than {SERVING_AGAIN} cases answered 201 within {SERVING_WITHIN:.0f}s "
                            f"with the node down (first answer after {f['first_answer_after_loss_s']}s)")
        if f["time_to_ready_s"] is None:
            problems.append(f"{what}: /readyz not green within {SERVING_WITHIN:.0f}s with the node down")
        if (late := [name for name, seconds in f["processes_ready_s"].items() if seconds is None]):
            problems.append(f"{what}: the /readyz of {late} not green within {SERVING_WITHIN:.0f}s with the node "
                            f"down (seconds to ready: {f['processes_ready_s']})")
        if f["sms_for_new_case_s"] is None:
            problems.append(f"{what}: no SMS within {SMS_WITHIN:.0f}s of the loss for the first case registered "
                            f"after it (events not handled?) {f.get('sms_error', '')}")
        if not f["in_flight_finished"]:
            problems.append(f"{what}: cases caught in flight still unanswered {SERVING_WITHIN:.0f}s after the loss; "
                            f"the slowest: {f['slowest_case']}")
        if f["dead_letters_while_down"]:
            problems.append(f"{what}: dead letters while it was down: {f['dead_letters_while_down']}")
        if not f.get("rejoined"):
            problems.append(f"{what}: not back in the cluster with every queue member online within "
                            f"{REJOIN_WITHIN:.0f}s of its start: running {f.get('running_nodes')}, offline members "
                            f"{f.get('offline_members')} {f.get('back_error', '')}")
    if broken_at:
        problems.append(f"the scenario stopped after {broken_at}")
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
    if problems:  # one message saying all that went wrong, without this function's source around it
        pytest.fail("\n\n".join(problems), pytrace=False)
