"""Failover between SMS operators against the fake operator run as its own process, as in the local platform:
the router over both of its APIs, and the notifications service wired by its container config (SPEC N1)."""
from __future__ import annotations

import subprocess
import sys
import threading

import pytest
import requests
import sqlalchemy as sa
from nameko.testing.services import entrypoint_waiter

from common.config import PROJECT_ROOT
from scripts.processes import free_port
from services.notifications.providers.kavenegar import KavenegarProvider
from services.notifications.providers.smsir import SmsIrProvider
from services.notifications.routing import ProviderRouter
from tests.helpers import case_registered, publish

MOBILE = "09121234567"


@pytest.fixture(scope="module")
def fake_operator():
    """python -m fakes.sms_operator on a free port; ready once it says it is running."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "fakes.sms_operator", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready = threading.Event()

    def watch():
        for line in proc.stdout:
            if "Running on" in line:
                ready.set()

    threading.Thread(target=watch, daemon=True).start()
    try:
        assert ready.wait(20), "the fake SMS operator did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def fake(fake_operator):
    requests.delete(f"{fake_operator}/api/messages").raise_for_status()
    return fake_operator


def control(url: str, **settings) -> dict:
    response = requests.post(f"{url}/api/control", json=settings)
    response.raise_for_status()
    return response.json()


def test_the_router_fails_over_to_smsir_and_stops_asking_the_down_operator(fake):
    control(fake, down=["kavenegar"])
    router = ProviderRouter([KavenegarProvider(fake, "demo-api-key", "10001482", timeout=2),
                             SmsIrProvider(fake, "demo-smsir-key", "30001482", timeout=2)], fail_max=2)
    sent = [router.send(MOBILE, f"پیام {i}", f"local-{i}") for i in range(4)]
    assert {a.provider for a in sent} == {"smsir"}
    received = requests.get(f"{fake}/api/messages", params={"receptor": MOBILE, "wait": 10, "min": 4}).json()
    assert [m["api"] for m in received] == ["smsir"] * 4
    assert requests.get(f"{fake}/api/requests").json() == {"kavenegar": 2, "smsir": 4}
    assert router.health() == {"kavenegar": "open", "smsir": "closed"}


def test_the_service_sends_through_smsir_when_kavenegar_is_down(container_factory, service_config, rabbit_config,
                                                                 engine_of, fake):
    from services.notifications.service import NotificationsService

    control(fake, down=["kavenegar"])
    container = container_factory(NotificationsService, {**service_config, "SMS_PROVIDER_URL": fake,
                                                         "SMSIR_URL": fake})
    container.start()
    with entrypoint_waiter(container, "on_case_registered", timeout=15) as result:
        publish(rabbit_config["AMQP_URI"], case_registered(mobile=MOBILE))
    message_id = result.get()

    received = requests.get(f"{fake}/api/messages", params={"receptor": MOBILE, "wait": 10}).json()
    assert [m["api"] for m in received] == ["smsir"]
    with engine_of("notifications").connect() as conn:
        status, provider_message_id, cost = conn.execute(sa.text(
            "SELECT status, provider_message_id, cost_rials FROM sms_messages WHERE id = :id"),
            {"id": message_id}).one()
    assert status == "sent" and provider_message_id == str(received[0]["messageid"]) and cost > 0
