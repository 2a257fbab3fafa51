"""The gateway's door, in process (no service is called): rate limits, CORS, security headers,
request ids, and problem bodies for what never reaches a route."""
import pytest

from common.config import Settings
from gateway.app import create_app
from gateway.rpc import RpcClient


class NoRpc(RpcClient):
    def call(self, service, method, *args, **kwargs):  # these tests never get past validation
        raise AssertionError("no RPC expected")


@pytest.fixture
def client():
    settings = Settings(rate_limit_register="3/minute", rate_limit_default="1000/minute",
                        cors_origins="https://portal.behzisti.example")
    return create_app(NoRpc(config={}, timeout=1), settings).test_client()


def test_registration_is_rate_limited_per_client_with_retry_after(client):
    for _ in range(3):
        assert client.post("/api/v1/cases", json={"kind": "nope"}).status_code == 400
    response = client.post("/api/v1/cases", json={"kind": "nope"})
    assert response.status_code == 429
    assert response.headers["Content-Type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
    assert response.get_json()["code"] == "rate_limited" and response.get_json()["message"]
    wait = response.headers["Retry-After"].translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert f"{wait} ثانیه" in response.get_json()["message"]  # how long to wait, in Persian digits
    other = client.post("/api/v1/cases", json={"kind": "nope"}, environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 400  # another client has its own allowance


def test_reading_has_its_own_allowance(client):
    for _ in range(4):
        client.post("/api/v1/cases", json={"kind": "nope"})
    assert client.get("/api/v1/events/schemas").status_code == 200


def test_cors_only_for_configured_origins(client):
    allowed = client.options("/api/v1/cases", headers={
        "Origin": "https://portal.behzisti.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type, Idempotency-Key"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://portal.behzisti.example"
    assert "idempotency-key" in allowed.headers["Access-Control-Allow-Headers"].lower()
    stranger = client.get("/api/v1/events/schemas", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_security_headers_on_every_answer(client):
    for response in (client.get("/api/v1/events/schemas"), client.post("/api/v1/cases", json={})):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "no-store"
    docs = client.get("/api/v1/swagger")
    assert docs.status_code == 200 and "script-src 'self'" in docs.headers["Content-Security-Policy"]


def test_request_ids_are_echoed_or_made(client):
    mine = client.get("/healthz", headers={"X-Request-Id": "frontend-1234abcd"})
    assert mine.headers["X-Request-Id"] == "frontend-1234abcd"
    forged = client.get("/healthz", headers={"X-Request-Id": "<script>"})
    assert forged.headers["X-Request-Id"] != "<script>" and len(forged.headers["X-Request-Id"]) == 32


def test_what_never_reaches_a_route_is_a_problem_too(client):
    unknown = client.get("/api/v1/nowhere")
    assert unknown.status_code == 404 and unknown.headers["Content-Type"] == "application/problem+json"
    wrong_method = client.delete("/api/v1/cases")
    assert wrong_method.status_code == 405 and "POST" in wrong_method.headers["Allow"]
    too_big = client.post("/api/v1/cases", data=b"{" + b" " * 70_000 + b"}", content_type="application/json")
    assert too_big.status_code == 413 and too_big.get_json()["code"] == "payload_too_large"


PUBLIC = {"health.healthz", "health.readyz", "cases.register_case", "cases.get_case", "cases.add_evidence",
          "cases.report_again", "cases.rate", "cases.request_reporter_code", "cases.open_reporter_session",
          "reports.units", "events.list_schemas",
          "events.get_schema", "auth.login", "auth.change_password", "auth.refresh", "auth.logout", "static",
          "open311.services", "open311.discovery", "open311.service_definition", "open311.get_requests", "open311.get_request",
          "open311.get_token", "sms.receipt", "payments.budget_lines",
          "donations.purposes", "donations.start", "donations.callback", "donations.receipt", "donations.dataset",
          "reports.categories", "pages.home", "pages.web_root", "pages.asset", "pages.track",
          *(f"transparency.{name}" for name in (
              "datasets", "dataset", "rows", "version", "public_key", "spending", "download_csv", "download_json",
              "contracts_ocds", "budget_datapackage", "catalog", "request_code", "open_session"))}


def test_every_route_is_public_by_decision_or_declares_who_may_call_it():
    app = create_app(NoRpc(config={}, timeout=1), Settings())
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("openapi") or rule.endpoint.endswith(".static") or "swagger" in rule.endpoint:
            continue
        view = app.view_functions[rule.endpoint]
        assert rule.endpoint in PUBLIC or getattr(view, "access", None), rule.endpoint


def test_an_anonymous_call_to_a_guarded_route_is_401_before_any_validation(client):
    response = client.post("/api/v1/staff/accounts/x/revoke", data="not json", content_type="text/plain")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")


def test_every_route_in_the_document_has_schemas_and_examples():
    doc = create_app(NoRpc(config={}, timeout=1), Settings()).api_doc
    components = doc["components"]["schemas"]

    def resolved(schema):
        return components[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema

    missing = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for media in op.get("requestBody", {}).get("content", {}).values():
                if "examples" not in resolved(media["schema"]):
                    missing.append(f"{method.upper()} {path} request")
            for status, response in op["responses"].items():
                for media in response.get("content", {}).values():
                    if str(status).startswith("2") and "examples" not in resolved(media["schema"]):
                        missing.append(f"{method.upper()} {path} {status}")
    assert missing == []


def test_every_example_keeps_its_own_schema():
    from jsonschema import Draft202012Validator

    from gateway.openapi import _models

    checked = 0
    for name, model in _models().items():
        schema = model.model_json_schema()
        for example in schema.get("examples", []):
            assert list(Draft202012Validator(schema).iter_errors(example)) == [], name
            checked += 1
    assert checked >= 20


def test_an_answer_costs_the_limits_store_one_count_per_limit_and_no_read_of_the_windows(monkeypatch):
    """The limits' state is read back only for a 429's Retry-After: X-RateLimit-* headers on every answer
    read each limit's window after counting it (24 Redis commands a request where 5 count it)."""
    settings = Settings(rate_limit_default="1000/minute", rate_limit_register="3/minute")
    app = create_app(NoRpc(config={}, timeout=1), settings)
    storage = app.extensions["limiter"].storage
    reads = []
    window = storage.get_moving_window
    monkeypatch.setattr(storage, "get_moving_window", lambda *a, **k: reads.append(a) or window(*a, **k))
    client = app.test_client()
    answers = [client.post("/api/v1/cases", json={"kind": "nope"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [400, 400, 400, 429]
    assert not any(h.lower().startswith(("x-ratelimit", "ratelimit")) for a in answers for h in a.headers.keys())
    assert int(answers[3].headers["Retry-After"]) > 0
    assert len(reads) <= 1  # the 429's wait, and nothing for the three answered
