"""The first path through the real platform: real processes (services, relay, fake SMS operator,
gunicorn gateway), real RabbitMQ and PostgreSQL. A citizen registers a case at the gateway and
receives the SMS with the tracking code; every event that crossed the broker keeps its contract."""
from __future__ import annotations

import json
import time

import pytest
import requests
import sqlalchemy as sa

from common.config import SERVICES, SPLIT_PROCESSES, service_of
from common.events import schemas

pytestmark = pytest.mark.e2e

CASE = {"kind": "complaint", "text": "مستمری این ماه به حساب مادرم واریز نشده است.",
        "mobile": "۰۹۱۲ ۱۲۳ ۴۵۶۷", "national_id": "0499370899", "name": "مریم احمدی"}


def tapped_until(tap, event_type, timeout=20):
    """Consume the tap until an event of `event_type` arrives (blocking on the broker)."""
    deadline = time.monotonic() + timeout
    while not any(e["type"] == event_type for e in tap["seen"]):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {event_type} within {timeout}s; saw {[e['type'] for e in tap['seen']]}")
        try:
            message = tap["queue"].get(block=True, timeout=remaining)
        except tap["queue"].Empty:
            continue
        message.ack()
        tap["seen"].append(message.decode())
        body = message.body if isinstance(message.body, bytes) else message.body.encode("utf-8")
        tap["raw"].append((message.content_type, dict(message.headers or {}), body))
    return tap["seen"]


def count_cases(platform) -> int:
    engine = sa.create_engine(platform["db"]["complaints"])
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM cases")).scalar()
    engine.dispose()
    return n


def test_a_citizen_registers_a_case_and_receives_the_tracking_code_by_sms(platform):
    response = requests.post(f"{platform['base']}/api/v1/cases", json=CASE, timeout=10)
    assert response.status_code == 201, response.text
    case = response.json()
    code = case["tracking_code"]
    assert response.headers["Location"] == f"/api/v1/cases/{code}"
    assert response.headers["X-Request-Id"]

    sms = requests.get(f"{platform['sms']}/api/messages",
                       params={"receptor": "09121234567", "wait": 20}, timeout=30).json()
    assert len(sms) == 1
    assert code in sms[0]["message"] and "کد رهگیری" in sms[0]["message"]

    followed = requests.get(f"{platform['base']}/api/v1/cases/{code}", timeout=10)
    assert followed.status_code == 200
    body = followed.json()
    assert body["status"] == "registered" and body["status_fa"] == "ثبت شده، در انتظار بررسی"
    assert [step["stage"] for step in body["timeline"]] == ["registered"]
    assert body["registered_at"]["jalali"].startswith("۱۴")
    assert "0499370899" not in followed.text and "09121234567" not in followed.text


def test_every_event_that_crossed_the_broker_keeps_its_contract(platform):
    seen = tapped_until(platform["tap"], "ir.behzisti.notifications.sms.sent.v1")
    types = {e["type"] for e in seen}
    assert {"ir.behzisti.complaints.case.registered.v1", "ir.behzisti.notifications.sms.sent.v1"} <= types
    for event in seen:
        assert schemas.errors_of(event) == [], event


def test_every_event_that_crossed_the_broker_reads_with_the_cloudevents_sdk(platform):
    """As an integrator's consumer would read them: the CloudEvents SDK's RabbitMQ binding takes each message as
    it came off the broker (structured mode, by its content type) and finds every attribute the envelope has."""
    from cloudevents.core.bindings.rabbitmq import RabbitMQMessage, from_rabbitmq
    from cloudevents.core.formats.json import JSONFormat

    tapped_until(platform["tap"], "ir.behzisti.notifications.sms.sent.v1")
    assert platform["tap"]["raw"]
    for content_type, headers, body in platform["tap"]["raw"]:
        assert content_type == "application/cloudevents+json"
        event = from_rabbitmq(RabbitMQMessage(headers={k: str(v) for k, v in headers.items()},
                                              content_type=content_type, body=body), JSONFormat())
        envelope = json.loads(body)
        assert event.get_specversion() == "1.0"
        assert (event.get_id(), event.get_source(), event.get_type(), event.get_subject()) == (
            envelope["id"], envelope["source"], envelope["type"], envelope.get("subject"))
        assert event.get_time().isoformat().replace("+00:00", "Z")[:19] == envelope["time"][:19]
        assert (event.get_datacontenttype(), event.get_dataschema()) == ("application/json", envelope["dataschema"])
        assert event.get_data() == envelope["data"]


@pytest.mark.parametrize("body, content_type, field, code", [
    ({"text": "مستمری این ماه واریز نشده است."}, "application/json", "kind", "missing"),
    ({"kind": "rumour", "text": "مستمری این ماه واریز نشده است."}, "application/json", "kind", "literal_error"),
    ({"kind": "complaint"}, "application/json", "text", "missing"),
    ({"kind": "complaint", "text": "ا" * 4001}, "application/json", "text", "string_too_long"),
    ({**CASE, "mobile": "0912"}, "application/json", "mobile", "invalid_mobile"),
    ({**CASE, "national_id": "0499370898"}, "application/json", "national_id", "invalid_national_id"),
    ('{"kind": "complaint", "text": ', "application/json", "body", "malformed_json"),
    ('kind=complaint&text=hello', "application/x-www-form-urlencoded", "Content-Type", "unsupported_content_type"),
    ('[1, 2]', "application/json", "body", "model_type"),
])
def test_bad_input_is_a_persian_problem_naming_the_field_and_changes_nothing(platform, body, content_type,
                                                                            field, code):
    before = count_cases(platform)
    data = body if isinstance(body, str) else requests.models.complexjson.dumps(body)
    response = requests.post(f"{platform['base']}/api/v1/cases", data=data.encode("utf-8"),
                             headers={"Content-Type": content_type}, timeout=10)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400 and problem["code"] == "validation_failed"
    assert problem["request_id"] == response.headers["X-Request-Id"]
    errors = {e["field"]: e for e in problem["errors"]}
    assert errors[field]["code"] == code
    assert any("\u0600" <= ch <= "\u06ff" for ch in errors[field]["message"])
    assert count_cases(platform) == before


def test_an_unknown_or_malformed_tracking_code_is_not_found(platform):
    for code in ("4203917755102846", "12345", "۴۲۰۳۹۱۷۷۵۵۱۰۲۸۴۶"):
        response = requests.get(f"{platform['base']}/api/v1/cases/{code}", timeout=10)
        assert response.status_code == 404
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "case_not_found"


def test_health_readiness_and_metrics_of_every_process(platform):
    assert requests.get(f"{platform['base']}/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(f"{platform['base']}/readyz", timeout=10).json()
    assert ready["status"] == "ok" and set(ready["checks"]) == {"broker", *(f"service:{s}" for s in SERVICES)}
    expected = {
        "gateway": 'http_requests_total{method="POST",route="/api/v1/cases",status="201"}',
        "complaints": 'rpc_calls_total{method="register_case",outcome="ok",service="complaints"}',
        "notifications": 'events_handled_total{handler="on_case_registered",outcome="ok",service="notifications"}',
        "relay": 'outbox_published_total{service="complaints"}',
    }
    for process, metric in expected.items():
        text = requests.get(f"http://127.0.0.1:{platform['metrics'][process]}/metrics", timeout=5).text
        assert metric in text, (process, metric)
    for process in (*SERVICES, *SPLIT_PROCESSES):
        ready = requests.get(f"http://127.0.0.1:{platform['metrics'][process]}/readyz", timeout=10)
        service = service_of(process)
        assert ready.status_code == 200 and ready.json()["checks"][f"db:{service}"] == "ok", process


def test_oversized_bodies_and_unknown_routes_are_problems_too(platform):
    big = requests.post(f"{platform['base']}/api/v1/cases", data=b"x" * 70_000,
                        headers={"Content-Type": "application/json"}, timeout=10)
    assert big.status_code == 413 and big.headers["Content-Type"] == "application/problem+json"
    missing = requests.get(f"{platform['base']}/api/v1/nothing-here", timeout=10)
    assert missing.status_code == 404 and missing.json()["message"]


def test_a_retried_registration_with_its_idempotency_key_creates_one_case(platform):
    before = count_cases(platform)
    headers = {"Idempotency-Key": "9b2e6f0c-5d1a-4e7b-8c3f-2a6d9e1b7c40"}
    first = requests.post(f"{platform['base']}/api/v1/cases", json=CASE, headers=headers, timeout=10)
    retry = requests.post(f"{platform['base']}/api/v1/cases", json=CASE, headers=headers, timeout=10)
    assert first.status_code == retry.status_code == 201
    assert retry.json()["tracking_code"] == first.json()["tracking_code"]
    assert count_cases(platform) == before + 1
    changed = requests.post(f"{platform['base']}/api/v1/cases", json={**CASE, "kind": "question"},
                            headers=headers, timeout=10)
    assert changed.status_code == 422 and changed.json()["code"] == "idempotency_key_reused"
    assert count_cases(platform) == before + 1


def test_the_request_id_reaches_the_services_logs(platform):
    request_id = "e2e-trace-5f2c9d1a7b"
    response = requests.post(f"{platform['base']}/api/v1/cases", json=CASE, headers={"X-Request-Id": request_id},
                             timeout=10)
    assert response.headers["X-Request-Id"] == request_id
    code = response.json()["tracking_code"]
    deadline, registered = time.monotonic() + 10, []
    while not registered and time.monotonic() < deadline:  # the log pump writes the file a moment later
        lines = [json.loads(line) for line in (platform["logs"] / "complaints.log").read_text().splitlines()
                 if line.startswith("{")]
        registered = [line for line in lines if line.get("tracking_code") == code]
        if not registered:
            time.sleep(0.05)  # a file has no event to wait on
    assert registered and registered[0]["request_id"] == request_id
    assert registered[0]["process_kind"] == "complaints"
    assert "09121234567" not in json.dumps(registered)  # no personal data in the logs


def test_an_anonymous_report_is_followed_with_its_code_and_its_secret(platform):
    report = {"kind": "violation_report", "text": "در مرکز نگهداری کودکان بدون سرپرست تخلف رخ داده است."}
    headers = {"Idempotency-Key": "anon-7d1e2f3a-4b5c"}
    first = requests.post(f"{platform['base']}/api/v1/cases", json=report, headers=headers, timeout=10).json()
    assert first["anonymous"] is True and len(first["secret"]) == 16
    retry = requests.post(f"{platform['base']}/api/v1/cases", json=report, headers=headers, timeout=10).json()
    assert retry["tracking_code"] == first["tracking_code"] and retry["secret"] == first["secret"]

    url = f"{platform['base']}/api/v1/cases/{first['tracking_code']}"
    assert requests.get(url, timeout=10).status_code == 404  # the code alone reveals nothing
    assert requests.get(url, headers={"X-Case-Secret": "A" * 16}, timeout=10).status_code == 404
    followed = requests.get(url, headers={"X-Case-Secret": first["secret"].lower()}, timeout=10)
    assert followed.status_code == 200 and "secret" not in followed.json()

    engine = sa.create_engine(platform["db"]["complaints"])
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT secret_hash FROM cases WHERE tracking_code = :c"),
                              {"c": first["tracking_code"]}).scalar()
        # records keep a keyed hash of client and key, not the key: search every record whole
        kept = conn.execute(sa.text("SELECT string_agg(r::text, ' ') FROM idempotency_keys r")).scalar()
    engine.dispose()
    assert stored and first["secret"] not in stored and first["secret"] not in kept  # never stored

    named = requests.post(f"{platform['base']}/api/v1/cases", json={**report, "mobile": "09121234567"},
                          timeout=10).json()
    assert named["anonymous"] is False and "secret" not in named
    assert requests.get(f"{platform['base']}/api/v1/cases/{named['tracking_code']}", timeout=10).status_code == 200
