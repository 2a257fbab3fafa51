"""An SMS operator's API key never leaves its adapter (services/notifications/providers/base.py): with the
operator unreachable, Kavenegar's key (which its API puts in every URL's path) is in none of the logs, the
sms_messages rows, the outbox (the events the relay publishes, sms.failed among them), the dead-letter list
staff see, nor the error and traceback the adapter raises."""
from __future__ import annotations

import logging
import traceback
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from common.config import Settings
from scripts.processes import free_port
from services.notifications import dispatch
from services.notifications.dependencies import build_router
from services.notifications.providers.base import ProviderError
from services.notifications.providers.kavenegar import KavenegarProvider
from services.notifications.providers.smsir import SmsIrProvider
from services.notifications.templates import CASE_CLOSED_CITIZEN

MAX = 2


@pytest.fixture
def session(db_urls):
    engine = sa.create_engine(db_urls["notifications"])
    with Session(engine) as s:
        yield s
    engine.dispose()


def test_the_api_key_of_an_unreachable_operator_is_in_no_log_row_event_or_error(session, caplog):
    key = f"kavenegar-key-{uuid.uuid4().hex}"
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: every request is refused
    router = build_router(Settings(sms_api_key=key, sms_providers="kavenegar", sms_breaker_fail_max=100),
                          kavenegar_url=closed)
    caplog.set_level(logging.DEBUG)
    with session.begin():
        message_id = dispatch.queue(session, {"source": "/behzisti/test", "id": str(uuid.uuid4()), "type": "test"},
                                    "09121234567", CASE_CLOSED_CITIZEN, urgent=True, tracking_code="4203917755102846")
    for _ in range(MAX):
        with session.begin():
            session.execute(sa.text("UPDATE sms_messages SET next_attempt_at = now() WHERE id = :i"), {"i": message_id})
        dispatch.sweep(session, router, MAX)

    with session.begin():
        message = session.execute(sa.text("SELECT m::text AS row, last_error, dead_lettered_at FROM sms_messages m "
                                          "WHERE id = :i"), {"i": message_id}).one()
        outbox = session.execute(sa.text("SELECT o::text FROM outbox o")).scalars().all()
        listed = dispatch.dead_letters(session, 10, None)["items"]
    assert message.dead_lettered_at is not None and "ConnectionError" in message.last_error  # it did fail
    assert any("sms.failed" in event for event in outbox)
    assert [m["id"] for m in listed] == [message_id] and listed[0]["last_error"]
    assert "kavenegar" in caplog.text and "ConnectionError" in caplog.text  # the failures were logged
    for where, text in {"logs": caplog.text, "sms_messages": message.row, "outbox": "\n".join(outbox),
                        "dead letters": repr(listed)}.items():
        assert key not in text, where

    with pytest.raises(ProviderError) as failed:
        KavenegarProvider(closed, key, "10001482", timeout=2).send("09121234567", "آزمایش", "local-1")
    told = "".join(traceback.format_exception(failed.value))
    assert "/v1/[redacted]/sms/send.json" in told and key not in told
    assert failed.value.__cause__ is None and not failed.value.ambiguous  # refused: it never reached the operator


@pytest.mark.parametrize("make", [
    lambda url, key: KavenegarProvider(url, key, "10001482", timeout=2),
    lambda url, key: SmsIrProvider(url, key, "30001482", timeout=2),
], ids=["kavenegar", "smsir"])
def test_every_call_of_every_adapter_redacts_any_exception(make, monkeypatch):
    """Whatever raises inside an adapter (here the HTTP session itself, with the key in its text), the
    error that leaves it is redacted and cut from its cause, and keeps its kind."""
    key = f"key/with+odd chars-{uuid.uuid4().hex}"
    adapter = make("http://127.0.0.1:1", key)

    def leaky(*args, **kwargs):
        raise RuntimeError(f"boom at /v1/{key}/x and {uuid.uuid4()} {key}")
    monkeypatch.setattr(adapter.http, "request", leaky)
    for call in (lambda: adapter.send("09121234567", "x", "l"), lambda: adapter.statuses(["1"])):
        with pytest.raises(RuntimeError) as raised:
            call()
        assert key not in "".join(traceback.format_exception(raised.value)) and "[redacted]" in str(raised.value)
    with pytest.raises(ValueError) as not_a_receipt:  # a receipt the adapter cannot read stays a ValueError
        adapter.parse_receipt({"entries": [{key: 1}], key: 2})
    assert key not in str(not_a_receipt.value)


def test_the_http_library_s_debug_log_of_a_request_holds_no_key(sms_operator, caplog):
    """urllib3 writes each request line, Kavenegar's key in its path, at DEBUG."""
    caplog.set_level(logging.DEBUG)
    key = sms_operator.operator.api_key
    KavenegarProvider(sms_operator.url, key, "10001482", timeout=2).send("09121234567", "آزمایش", "local-2")
    ours = [r for r in caplog.records if not r.name.startswith("werkzeug")]  # werkzeug: the fake operator's own
    assert any("/sms/send.json" in r.getMessage() for r in ours)
    assert not [r.getMessage() for r in ours if key in r.getMessage()]
