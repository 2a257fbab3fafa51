"""The platform's processes as Kubernetes starts them (`python -m common.run <service>`), for the integration
tests that start, stop and kill them: their environment, waiting until one consumes, and reading what it did."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests
import sqlalchemy as sa
from kombu import Connection

from common.config import PROJECT_ROOT
from scripts.processes import free_port

SHUTDOWN_TIMEOUT = 20  # common/run.py's bound on a graceful stop (k8s: 25 s, with terminationGracePeriodSeconds above)


def wait_for(condition, timeout: float, what: str, interval: float = 0.05):
    """Poll `condition` until it is true (returns its value) or the deadline passes (fails the test).
    Polling: the other processes give this one no signal to wait on."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class Process:
    """One platform process started as Kubernetes starts it (`python -m common.run <service>`), with
    its metrics/health port, so a test can wait for /readyz instead of sleeping."""

    def __init__(self, args: list[str], env: dict, log_path=None):
        self.port = free_port()
        self.log = open(log_path, "ab") if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen([sys.executable, "-m", *args], cwd=PROJECT_ROOT,
                                     env={**env, "METRICS_PORT": str(self.port)},
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"process exited with {self.proc.returncode} while starting")
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def terminate(self, timeout: float) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.log is not subprocess.DEVNULL:
            self.log.close()


def platform_env(amqp_uri: str, db_urls: dict, sms_url: str, **extra) -> dict:
    env = {**os.environ, "AMQP_URI": amqp_uri, "SMS_PROVIDER_URL": sms_url, "SMSIR_URL": sms_url,
           "QUIET_HOURS": "", "LOG_LEVEL": "WARNING", "LOG_FORMAT": "text",
           "SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT),
           **{f"{s.upper()}_DATABASE_URL": url for s, url in db_urls.items()}, **extra}
    env.pop("DATABASE_URL", None)
    return env


def queue_state(amqp_uri: str, name: str) -> tuple[int, int]:
    """(messages ready, consumers) of a queue, from the broker itself (the management API's counts lag
    by its statistics interval); (0, 0) when the queue does not exist yet."""
    with Connection(amqp_uri) as conn:
        try:
            _, ready, consumers = conn.default_channel.queue_declare(name, passive=True)
        except conn.channel_errors:
            return 0, 0
    return ready, consumers


def consuming(amqp_uri: str, name: str, replicas: int = 1):
    """A process counts as started when it consumes: before that, events published to its exchange
    have no queue to go to (its /readyz answers as soon as its ops server is up)."""
    return lambda: queue_state(amqp_uri, name)[1] >= replicas


def rows(engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).all()
