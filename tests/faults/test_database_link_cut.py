"""The link between the platform and its PostgreSQL is cut for 30 s while 8 citizens register cases: every
process reaches the database through a TCP proxy of the test's (tests/faults/proxy.py) that stops forwarding
and drops every packet either way, keeping the connections open, the way a partition looks to a client.

A cut link announces nothing: the platform has to find it dead by the bounds on every connection
(common/db.py): a new connection gives up after the connect timeout, one waiting on an answer after the
TCP user timeout, an idle one after its keepalives. So within that bound of the cut the services answer
DatabaseUnavailable, and readiness is red. Every request during the cut is answered within the gateway's
own deadline (RPC_TIMEOUT) with 503 or 504 and Retry-After, never left to hang; once the link is found
dead, with 503 at once (the service answers DatabaseUnavailable, or the gateway's circuit, opened by the
timeouts, answers for it). After the link is back: everything
resumes by itself, each Idempotency-Key one case, one SMS per case, no dead letters, and no transaction
of a connection lost in the cut is left holding its locks (tests/faults/registrations.py counts the rest).
The test's own reads and counts go to the database directly, never through the proxy."""
from __future__ import annotations

import time
import uuid
from collections import Counter
from urllib.parse import urlsplit

import psycopg2
import pytest
import requests

from common.config import get_settings
from tests.faults.conftest import platform_on
from tests.faults.harness import CASE_TEXT, Sampler, event_redeliveries, next_mobile
from tests.faults.proxy import DeadableLink, TcpProxy, link_unavailable
from tests.faults.registrations import ride_out

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

CLIENTS = 6  # the gateway has 8 threads: 6 citizens, the reader and the readiness probe
CUT = 30.0  # seconds the link forwards nothing
SLACK = 3.0  # seconds beyond a bound: the sampling interval, a busy machine


def detection_bound() -> float:
    """Seconds within which every connection of a cut link is found dead (common/db.py's bounds): a new one
    by its connect timeout, one awaiting an answer by the TCP user timeout, an idle one by its keepalives
    (idle, then 3 probes 3 s apart; the user timeout also ends the probing), plus the time a check of
    readiness takes to ask."""
    s = get_settings()
    idle = max(s.db_keepalives_idle + 3 * 3, s.db_tcp_user_timeout_ms / 1000)
    return max(s.db_connect_timeout, s.db_tcp_user_timeout_ms / 1000, idle) + SLACK


def through(url: str, host: str, port: int) -> str:
    """The libpq URL of the same database and user, reached at host:port."""
    parts = urlsplit(url)
    return f"postgresql://{parts.username}@{host}:{port}{parts.path}"


@pytest.fixture(scope="module")
def proxy(fault_pg):
    if why := link_unavailable():
        pytest.skip(why)
    if not fault_pg.running():
        fault_pg.start()
    with DeadableLink() as link, TcpProxy(("unix", fault_pg.socket_path()), link) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def platform(request, fault_broker, fault_pg, proxy, tmp_path_factory):
    host, port = proxy.address
    urls = {service: through(url, host, port) for service, url in fault_pg.urls.items()}
    with platform_on(request.module.__name__, fault_broker, fault_pg, tmp_path_factory.mktemp("link-cut-logs"),
                     db_urls=urls) as platform:
        yield {**platform, "proxy": proxy}


def read_case(base: str, code: str) -> tuple[int, str | None, bool]:
    """(status, Retry-After, whether the answer says the database is unreachable) of a citizen's read."""
    response = requests.get(f"{base}/api/v1/cases/{code}", timeout=60)
    return response.status_code, response.headers.get("Retry-After"), "database is unreachable" in response.text


def one_case(base: str) -> str:
    response = requests.post(f"{base}/api/v1/cases", json={"kind": "complaint", "text": CASE_TEXT,
                                                           "mobile": next_mobile()},
                             headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()["tracking_code"]


def held_transactions(pg, older_than: float) -> list[tuple]:
    """Transactions of the services' databases idle for longer than `older_than` seconds:
    what a connection lost in the cut would leave, holding its locks."""
    conn = psycopg2.connect(pg.url, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT datname, pid, state, round(extract(epoch FROM now() - xact_start)), left(query, 80) "
                        "FROM pg_stat_activity WHERE datname LIKE 'fault\\_%%' AND state LIKE 'idle in transaction%%' "
                        "AND pid <> pg_backend_pid() AND now() - xact_start > make_interval(secs => %s)",
                        (older_than,))
            return cur.fetchall()
    finally:
        conn.close()


def test_a_cut_link_to_the_database_is_found_dead_within_its_bounds_and_recovered_from(platform, load, fault_report):
    base, proxy = platform["base"], platform["proxy"]
    bound, rpc_timeout = detection_bound(), get_settings().rpc_timeout
    fault_report.update({"scenario": "the link to PostgreSQL cut (proxy blackholes, packets dropped) under load",
                         "clients": CLIENTS, "cut_s": CUT, "detection_bound_s": bound})
    code = one_case(base)
    reads = Sampler(lambda: read_case(base, code), interval=0.5, name="citizen-read").start()
    readyz = Sampler(lambda: requests.get(f"{base}/readyz", timeout=60).status_code, name="readyz").start()
    redelivered_before = event_redeliveries(platform)
    cut = {}

    def cut_link() -> dict:
        cut["at"] = time.monotonic()
        proxy.blackhole()
        time.sleep(CUT)  # the length of the cut, not a synchronization
        before = proxy.figures()
        proxy.restore()
        cut["back"] = time.monotonic()
        return {"link_cut_s": round(cut["back"] - cut["at"], 2), "proxy_during_cut": before}

    problems = ride_out(platform, load(base, clients=CLIENTS), [(f"link cut {CUT:.0f} s", "link", cut_link)],
                        fault_report)
    reads.stop()
    readyz.stop()
    redelivered_after = event_redeliveries(platform)

    during = reads.between(cut["at"], cut["back"])
    answered_then = [s for s in during if isinstance(s.value, tuple)]
    found_dead = next((s.started + s.seconds - cut["at"] for s in during
                       if isinstance(s.value, tuple) and s.value[2]), None)
    red = readyz.first(lambda status: status != 200, cut["at"])
    late = [(round(s.started - cut["at"], 1), s.value) for s in during if s.started >= cut["at"] + bound]
    figures = fault_report["faults"][0]
    figures.update({
        "database_unavailable_first_after_s": None if found_dead is None else round(found_dead, 2),
        "readyz_red_after_s": None if red is None or red.started >= cut["back"] else round(red.started - cut["at"], 2),
        "reads_during_cut": dict(Counter(f"{status} Retry-After {after}{' database unreachable' if db else ''}"
                                         for status, after, db in (s.value for s in answered_then))),
        "slowest_read_during_cut_s": round(max((s.seconds for s in during), default=0), 2),
        "messages_redelivered": {k: v - redelivered_before.get(k, 0) if isinstance(v, int) else v
                                 for k, v in redelivered_after.items()},
        "proxy": proxy.figures(),
    })
    # a transaction whose client was lost in the cut ends by the server's bounds (common/db.py): its keepalives
    # (here the proxy's client side, tests/faults/proxy.py), at the latest idle_in_transaction_session_timeout
    deadline = time.monotonic() + get_settings().db_idle_in_transaction_timeout_ms / 1000 + SLACK
    while (held := held_transactions(platform["pg"], older_than=10)) and time.monotonic() < deadline:
        time.sleep(1)  # polling the server's own state, not a synchronization
    fault_report["transactions_held_after"] = [list(map(str, row)) for row in held]
    print(f"\nlink cut: {figures}")

    if figures["readyz_red_after_s"] is None or figures["readyz_red_after_s"] > bound:
        problems.append(f"/readyz not red within {bound:.0f}s of the cut: {figures['readyz_red_after_s']}")
    unanswered = [s for s in during if not isinstance(s.value, tuple)]
    if unanswered:
        problems.append(f"reads during the cut got no answer: {[s.value for s in unanswered[:3]]}")
    wrong = {s.value for s in answered_then if s.value[0] not in (503, 504) or not s.value[1]}
    if wrong:
        problems.append(f"reads during the cut answered other than 503/504 with Retry-After: {wrong}")
    slow = [round(s.seconds, 1) for s in during if s.seconds > rpc_timeout + SLACK]
    if slow:
        problems.append(f"reads during the cut hung past the gateway's deadline ({rpc_timeout:.0f}s): {slow}")
    if any(not isinstance(v, tuple) or v[:1] != (503,) for _, v in late):
        problems.append(f"once the link was found dead (after {bound:.0f}s), reads still not answered 503 at once: "
                        f"{late[:5]}")
    kinds = figures.get("failed_attempts_by_kind", {})
    if any(k.startswith(("500", "no answer")) for k in kinds):
        problems.append(f"registrations during the cut got a 500 or no answer within the client's timeout: {kinds}")
    if held:
        problems.append(f"transactions of connections lost in the cut still open (holding their locks): {held[:5]}")
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
