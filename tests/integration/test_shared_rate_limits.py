"""Two gateway processes (gunicorn, as the platform runs them) on one Redis share one rate-limit budget,
as the replicas of production do: what one process allowed, the other does not allow again. The test
runs its own Redis server (redis-server from the machine's packages) on a free port."""
from __future__ import annotations

import shutil
import subprocess
import threading

import pytest
import redis
import requests

from common.config import PROJECT_ROOT
from scripts.processes import free_port, start_platform, wait_ready

BUDGET = 6


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    server = shutil.which("redis-server")
    assert server, "redis-server is needed (Debian: apt-get install redis-server)"
    port = free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path_factory.mktemp("redis"))], stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:  # its own word that it is ready
            if "Ready to accept connections" in line:
                break
        else:
            raise AssertionError(f"redis-server exited with {proc.wait()}")
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep its pipe drained
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def two_gateways(module_vhost, redis_url, tmp_path_factory):
    groups, bases = [], []
    try:
        for i in range(2):
            ports = {"gateway": free_port(), "metrics:gateway": free_port(), "sms-operator": free_port()}
            group = start_platform(module_vhost, {}, ports, str(PROJECT_ROOT),
                                   log_dir=str(tmp_path_factory.mktemp(f"gateway{i}")), only={"gateway"},
                                   extra_env={"RATE_LIMIT_STORAGE": redis_url,
                                              "RATE_LIMIT_REGISTER": f"{BUDGET}/minute"})
            groups.append(group)
            bases.append(f"http://127.0.0.1:{ports['gateway']}")
        for base, group in zip(bases, groups, strict=True):
            wait_ready(f"{base}/healthz", group, timeout=60)
        yield bases
    finally:
        for group in groups:
            group.stop()


def test_two_gateways_spend_one_budget_then_both_refuse(two_gateways, redis_url):
    first, second = two_gateways
    answers = []
    for i in range(BUDGET + 2):
        base = (first, second)[i % 2]
        answer = requests.post(f"{base}/api/v1/cases", json={"kind": "nope"}, timeout=10)  # refused: no service call
        answers.append((base, answer.status_code))
    assert [status for _, status in answers] == [400] * BUDGET + [429, 429]
    assert {base for base, status in answers if status == 400} == {first, second}  # both spent of it
    assert {base for base, status in answers if status == 429} == {first, second}  # both refuse now
    keys = redis.Redis.from_url(redis_url).keys("*")
    assert any(b"ip:127.0.0.1" in key for key in keys), keys  # the budget lives in Redis, per address
