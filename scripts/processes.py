"""The platform's processes and their commands: the same commands run in docker-compose.yml and in
the Kubernetes manifests."""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from typing import NamedTuple

PYTHON = sys.executable


def platform_processes(sms_port: int = 8025, bank_port: int = 8026, ipg_port: int = 8027) -> dict[str, list[str]]:
    return {
        "sms-operator": [PYTHON, "-m", "fakes.sms_operator", "--port", str(sms_port)],
        # the fake bank knows every demo account: a Sheba ending in a valid national ID is that person's
        "bank": [PYTHON, "-m", "fakes.bank", "--port", str(bank_port), "--open"],
        # the fake internet payment gateway of the donation portal (SPEC P5)
        "ipg": [PYTHON, "-m", "fakes.ipg", "--port", str(ipg_port)],
        "complaints": [PYTHON, "-m", "common.run", "complaints"],
        "notifications": [PYTHON, "-m", "common.run", "notifications"],
        "payments": [PYTHON, "-m", "common.run", "payments"],
        "transparency": [PYTHON, "-m", "common.run", "transparency"],
        "transparency-feeds": [PYTHON, "-m", "common.run", "transparency-feeds"],
        "relay": [PYTHON, "-m", "common.outbox.relay", "complaints", "notifications", "payments", "transparency"],
        "gateway": [PYTHON, "-m", "gunicorn", "-c", "gateway/gunicorn.conf.py", "gateway.wsgi:app"],
    }


class Crash(NamedTuple):
    """One exit of a supervised process: what the banner said."""
    name: str
    code: int
    uptime: float  # seconds it had been up
    restart: int  # the restart it led to: 1 for the first
    backoff: float  # seconds waited before that restart


class ProcessGroup:
    """Start processes, prefix their output with their names, stop them all with SIGTERM.

    With `restart=True` the group supervises them as Kubernetes' restartPolicy Always does: a process
    that exits is announced loudly (its exit code, the restart count, the back-off and its last lines
    of output) and started again after a back-off that doubles from `backoff` up to `max_backoff`
    (CrashLoopBackOff, shorter), and is back at `backoff` once a process had stayed up `reset_after`
    seconds. Each process has its own supervising thread; `stop()` ends them before stopping the
    processes, so nothing is started again once stopping began."""

    def __init__(self, env: dict, cwd: str, echo=True, log_dir=None, restart: bool = False,
                 backoff: float = 1.0, max_backoff: float = 60.0, reset_after: float = 60.0,
                 tail_lines: int = 20, clock=time.monotonic):
        self.env, self.cwd, self.echo, self.log_dir = env, cwd, echo, log_dir
        self.restart, self.backoff, self.max_backoff, self.reset_after = restart, backoff, max_backoff, reset_after
        self.tail_lines, self.clock = tail_lines, clock
        self.procs: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, int] = {}
        self.crashes: list[Crash] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # notified on every exit and (re)start
        self._stopping = threading.Event()
        self._started: dict[str, float] = {}
        self._tails: dict[str, deque] = {}
        self._pumps: dict[str, threading.Thread] = {}
        self._supervisors: list[threading.Thread] = []

    def start(self, name: str, command: list[str], extra_env: dict | None = None) -> subprocess.Popen:
        with self._lock:
            if self._stopping.is_set():
                raise RuntimeError(f"not starting {name}: the group is stopping")
            proc = self._spawn(name, command, extra_env)
            self.restarts.setdefault(name, 0)
        if self.restart:
            supervisor = threading.Thread(target=self._supervise, args=(name, command, extra_env),
                                          name=f"supervise {name}", daemon=True)
            self._supervisors.append(supervisor)
            supervisor.start()
        return proc

    def _spawn(self, name: str, command: list[str], extra_env: dict | None) -> subprocess.Popen:
        """Start one incarnation of `name`; the caller holds the lock."""
        env = {**self.env, **(extra_env or {})}
        proc = subprocess.Popen(command, cwd=self.cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1,
                                start_new_session=True)  # Ctrl-C reaches only us; we stop them in order
        self.procs[name] = proc
        self._started[name] = self.clock()
        self._tails[name] = tail = deque(maxlen=self.tail_lines)
        self._pumps[name] = pump = threading.Thread(target=self._pump, args=(name, proc, tail), daemon=True)
        pump.start()
        self._changed.notify_all()
        return proc

    def _pump(self, name, proc, tail):
        log = open(os.path.join(self.log_dir, f"{name}.log"), "a") if self.log_dir else None
        for line in proc.stdout:
            tail.append(line)
            if self.echo:
                sys.stdout.write(f"{name:>14} | {line}")
            if log:
                log.write(line)
                log.flush()
        if log:
            log.close()

    def _supervise(self, name: str, command: list[str], extra_env: dict | None) -> None:
        delay = self.backoff
        while True:
            with self._lock:
                proc, pump, started, tail = self.procs[name], self._pumps[name], self._started[name], self._tails[name]
            code = proc.wait()
            if self._stopping.is_set():
                return
            pump.join(2)  # its last lines (bounded: a child it left behind may hold the pipe open)
            uptime = self.clock() - started
            if uptime >= self.reset_after:
                delay = self.backoff  # it had been running well: this is a new failure, not a crash loop
            with self._lock:
                crash = Crash(name, code, uptime, self.restarts[name] + 1, delay)
                self.crashes.append(crash)
                self._changed.notify_all()
            self._announce(crash, list(tail.copy()))
            if self._stopping.wait(delay):
                return
            with self._lock:
                if self._stopping.is_set():  # stop() sets it holding the lock: no restart after it began
                    return
                self._spawn(name, command, extra_env)
                self.restarts[name] += 1
            delay = min(delay * 2, self.max_backoff)

    def _announce(self, crash: Crash, tail: list[str]) -> None:
        if crash.code < 0:
            try:
                how = f"was killed by {signal.Signals(-crash.code).name}"
            except ValueError:
                how = f"was killed by signal {-crash.code}"
        else:
            how = f"exited with code {crash.code}"
        bar = "!" * 100
        lines = [bar,
                 f"!! PROCESS DIED: {crash.name} {how} after {crash.uptime:.1f}s up; "
                 f"restart #{crash.restart} in {crash.backoff:g}s (back-off doubles up to {self.max_backoff:g}s)",
                 f"!! its last {len(tail)} lines of output:" if tail else "!! it wrote no output",
                 *(f"!!   {crash.name} | {line.rstrip()}" for line in tail),
                 bar]
        text = "\n".join(lines)
        if getattr(sys.stderr, "isatty", lambda: False)():
            text = f"\033[1;31m{text}\033[0m"
        sys.stderr.write(text + "\n")  # one write: the other processes' lines do not cut into it
        sys.stderr.flush()

    def wait_for(self, predicate, timeout: float) -> bool:
        """Wait until `predicate()` holds, re-checked on every exit and (re)start; False on timeout."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def exited(self) -> dict[str, int]:
        """The processes that are down now (with restart: those waiting out their back-off)."""
        return {n: p.returncode for n, p in list(self.procs.items()) if p.poll() is not None}

    def last_lines(self) -> str:
        """The last lines each stopped process wrote: why it stopped."""
        stopped = [name for name, proc in list(self.procs.items()) if proc.poll() is not None]
        for name in stopped:
            self._pumps[name].join(2)  # it may still be reading the last lines
        return "\n".join(f"{name} | {line.rstrip()}" for name in stopped for line in list(self._tails[name]))

    def stop(self, timeout: float = 20) -> None:
        with self._lock:
            self._stopping.set()  # under the lock: a supervisor about to restart sees it and does not
            self._changed.notify_all()
            procs = list(self.procs.values())
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for supervisor in self._supervisors:
            supervisor.join(5)


def start_platform(amqp_uri: str, db_urls: dict[str, str], ports: dict[str, int], cwd: str,
                   log_dir: str | None = None, echo: bool = False, threads: int = 8,
                   only: set[str] | None = None, extra_env: dict | None = None,
                   restart: bool = False) -> ProcessGroup:
    """Every process of the platform on the given broker and databases, each on its own ports
    (`ports` names sms-operator, gateway and each process's metrics port). Used by the end-to-end
    tests and the benchmarks; with `restart`, a process that exits is started again (ProcessGroup)."""
    ports.setdefault("bank", free_port())
    ports.setdefault("metrics:bank", free_port())
    ports.setdefault("ipg", free_port())
    ports.setdefault("metrics:ipg", free_port())
    env = {**os.environ, "AMQP_URI": amqp_uri, "LOG_FORMAT": "json", "BANK_URL": f"http://127.0.0.1:{ports['bank']}",
           "IPG_URL": f"http://127.0.0.1:{ports['ipg']}",
           "DONATION_CALLBACK_BASE_URL": f"http://127.0.0.1:{ports['gateway']}",
           "SMS_PROVIDER_URL": f"http://127.0.0.1:{ports['sms-operator']}",
           "SMSIR_URL": f"http://127.0.0.1:{ports['sms-operator']}",  # the fake speaks both APIs
           "GATEWAY_PORT": str(ports["gateway"]), "GATEWAY_THREADS": str(threads),
           **{f"{s.upper()}_DATABASE_URL": url for s, url in db_urls.items()}, **(extra_env or {})}
    env.pop("DATABASE_URL", None)
    group = ProcessGroup(env, cwd, echo=echo, log_dir=log_dir, restart=restart)
    for name, command in platform_processes(ports["sms-operator"], ports["bank"], ports["ipg"]).items():
        if only is not None and name not in only:
            continue
        group.start(name, command, {"METRICS_PORT": str(ports.setdefault(f"metrics:{name}", free_port()))})
    return group


_handed_out: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def _slice(first: int, end: int) -> tuple[int, int]:
    """FREE_PORT_SLICE=i/n (scripts/run_tests.py, one per pytest process): the i-th of n equal parts of the
    range, so that processes side by side never hand out the same port."""
    try:
        part, parts = (int(x) for x in os.environ.get("FREE_PORT_SLICE", "0/1").split("/"))
    except ValueError:
        return first, end
    if not 0 <= part < parts:
        return first, end
    size = (end - first) // parts
    return first + part * size, first + (part + 1) * size


def free_port() -> int:
    """A port free now for a process to listen on a moment later. Taken below the kernel's ephemeral
    range: a port from that range (bind to 0) can be handed to another process's outgoing connection
    in between, and the listener then exits with EADDRINUSE."""
    low, _ = _ephemeral_range()
    first = 20000 if low > 21000 else 1024
    first, low = _slice(first, low)
    for _ in range(200):
        port = random.randrange(first, low)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port between {first} and {low}")


def wait_ready(url: str, group: ProcessGroup, timeout: float = 90, any_answer: bool = False,
               cancelled=lambda: False) -> None:
    """Wait until `url` answers 200 (or answers at all, with any_answer). A process that exits fails
    the start at once, unless the group restarts it: then it has until `timeout` to come back.
    `cancelled()` true (Ctrl-C) ends the wait."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cancelled():
            raise RuntimeError("stopped while starting")
        if group.exited() and not group.restart:
            raise RuntimeError(f"a process stopped while starting: {group.exited()}\n{group.last_lines()}")
        try:
            if requests.get(url, timeout=5).status_code == 200 or any_answer:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)  # polling another process's readiness endpoint: it has no event to wait on
    down, restarted = group.exited(), {n: c for n, c in group.restarts.items() if c}
    detail = f" (restarts: {restarted}, down now: {down})" if restarted or down else ""
    raise RuntimeError(f"not ready at {url} within {timeout:.0f}s{detail}")
