"""The platform's processes and their commands: the same commands run in docker-compose.yml and in
the Kubernetes manifests."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

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
        "relay": [PYTHON, "-m", "common.outbox.relay", "complaints", "notifications", "payments", "transparency"],
        "gateway": [PYTHON, "-m", "gunicorn", "-c", "gateway/gunicorn.conf.py", "gateway.wsgi:app"],
    }




class ProcessGroup:
    """Start processes, prefix their output with their names, stop them all with SIGTERM."""

    def __init__(self, env: dict, cwd: str, echo=True, log_dir=None):
        self.env, self.cwd, self.echo, self.log_dir = env, cwd, echo, log_dir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str], extra_env: dict | None = None) -> subprocess.Popen:
        env = {**self.env, **(extra_env or {})}
        proc = subprocess.Popen(command, cwd=self.cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1,
                                start_new_session=True)  # Ctrl-C reaches only us; we stop them in order
        self.procs[name] = proc
        threading.Thread(target=self._pump, args=(name, proc), daemon=True).start()
        return proc

    def _pump(self, name, proc):
        log = open(os.path.join(self.log_dir, f"{name}.log"), "a") if self.log_dir else None
        for line in proc.stdout:
            if self.echo:
                sys.stdout.write(f"{name:>14} | {line}")
            if log:
                log.write(line)
                log.flush()
        if log:
            log.close()

    def exited(self) -> dict[str, int]:
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def stop(self, timeout: float = 20) -> None:
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def start_platform(amqp_uri: str, db_urls: dict[str, str], ports: dict[str, int], cwd: str,
                   log_dir: str | None = None, echo: bool = False, threads: int = 8,
                   only: set[str] | None = None, extra_env: dict | None = None) -> ProcessGroup:
    """Every process of the platform on the given broker and databases, each on its own ports
    (`ports` names sms-operator, gateway and each process's metrics port). Used by the end-to-end
    tests and the benchmarks."""
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
    group = ProcessGroup(env, cwd, echo=echo, log_dir=log_dir)
    for name, command in platform_processes(ports["sms-operator"], ports["bank"], ports["ipg"]).items():
        if only is not None and name not in only:
            continue
        group.start(name, command, {"METRICS_PORT": str(ports[f"metrics:{name}"])})
    return group


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, group: ProcessGroup, timeout: float = 90, any_answer: bool = False) -> None:
    """Wait until `url` answers 200 (or answers at all, with any_answer)."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if group.exited():
            raise RuntimeError(f"a process stopped while starting: {group.exited()}")
        try:
            if requests.get(url, timeout=5).status_code == 200 or any_answer:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)  # polling another process's readiness endpoint: it has no event to wait on
    raise RuntimeError(f"not ready at {url} within {timeout:.0f}s")
