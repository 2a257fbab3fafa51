"""The platform's processes and their commands: the same commands run in docker-compose.yml and in
the Kubernetes manifests."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

PYTHON = sys.executable


def platform_processes(sms_port: int = 8025) -> dict[str, list[str]]:
    return {
        "sms-operator": [PYTHON, "-m", "fakes.sms_operator", "--port", str(sms_port)],
        "complaints": [PYTHON, "-m", "common.run", "complaints"],
        "notifications": [PYTHON, "-m", "common.run", "notifications"],
        "payments": [PYTHON, "-m", "common.run", "payments"],
        "transparency": [PYTHON, "-m", "common.run", "transparency"],
        "relay": [PYTHON, "-m", "common.outbox.relay", "complaints", "notifications", "payments", "transparency"],
        "gateway": [PYTHON, "-m", "gunicorn", "-c", "gateway/gunicorn.conf.py", "gateway.wsgi:app"],
    }


METRICS_PORTS = {"complaints": 9101, "notifications": 9102, "payments": 9103, "transparency": 9104,
                 "relay": 9110, "gateway": 9100}


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
