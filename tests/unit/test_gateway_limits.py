"""The gateway's limits, in process (the services are stand-ins that count their calls): IPv6 counted
per /64, the limits checked before any API key is looked up, a citizen's registrations counted per
mobile beside the address and a beneficiary's code requests per national ID, a cached /readyz that names what is down and never why, and at most five
Open311 ids a request. tests/integration/test_shared_rate_limits.py shares one budget across two
gateway processes through Redis."""
from __future__ import annotations

import threading

import pytest

from common.config import Settings
from common.errors import NotFound, Unauthenticated
from gateway.app import create_app
from gateway.routes.health import READY_CACHE_SECONDS, Readiness
from gateway.rpc import RpcClient
from services.complaints.domain import new_tracking_code

INVALID_CASE = {"kind": "nope"}  # refused by validation: counted, and no service is called


class CountingRpc(RpcClient):
    """Counts each call; knows no API key and no case."""

    def __init__(self):
        super().__init__(config={"AMQP_URI": "amqp://guest:guest@127.0.0.1:1/"}, timeout=1)
        self.calls: list[tuple] = []

    def call(self, service, method, *args, **kwargs):
        self.calls.append((service, method))
        if method == "api_key_principal":
            raise Unauthenticated("invalid_api_key", "کلید دسترسی معتبر نیست.", "unknown or revoked API key")
        if method == "get_case":
            raise NotFound("case_not_found", "پرونده‌ای نیست.", "no such case")
        if method == "request_code":
            return None  # the service answers the same whether or not the ID is paid or a code was sent
        if method == "open311_request":
            return None  # no such request
        raise AssertionError(f"unexpected call {service}.{method}")


def app_with(**limits):
    rpc = CountingRpc()
    settings = Settings(**{"rate_limit_default": "1000/minute", **limits})
    return create_app(rpc, settings).test_client(), rpc


def register(client, address: str, body=None):
    return client.post("/api/v1/cases", json=body or INVALID_CASE, environ_base={"REMOTE_ADDR": address})


def test_ipv6_clients_share_a_budget_per_64_and_ipv4_clients_have_one_each():
    client, _ = app_with(rate_limit_register="2/minute")
    assert register(client, "2001:db8:1:2::10").status_code == 400
    assert register(client, "2001:db8:1:2:ffff:eeee:dddd:cccc").status_code == 400
    assert register(client, "2001:db8:1:2::99").status_code == 429  # the same /64: one subscriber
    assert register(client, "2001:db8:1:3::10").status_code == 400  # the next /64 is someone else
    assert register(client, "::ffff:192.0.2.7").status_code == 400  # IPv4 mapped: the IPv4 address
    assert register(client, "192.0.2.7").status_code == 400
    assert register(client, "192.0.2.7").status_code == 429
    assert register(client, "192.0.2.8").status_code == 400  # the neighbour's own budget


def test_made_up_api_keys_end_at_the_limit_before_they_are_looked_up():
    client, rpc = app_with(rate_limit_bad_api_keys="3/minute")
    answers = [client.get("/api/v1/staff/cases", headers={"X-API-Key": f"bzk_made_up_{i}"},
                          environ_base={"REMOTE_ADDR": "198.51.100.4"}).status_code for i in range(8)]
    assert answers == [401, 401, 401, 429, 429, 429, 429, 429]
    assert rpc.calls == [("complaints", "api_key_principal")] * 3  # a refused request costs no lookup
    other = client.get("/api/v1/staff/cases", headers={"X-API-Key": "bzk_x"}, environ_base={"REMOTE_ADDR": "198.51.100.5"})
    assert other.status_code == 401  # another address still has its own budget


def test_a_key_over_its_route_budget_is_refused_before_its_lookup():
    client, rpc = app_with(rate_limit_default="2/minute")
    answers = [client.get("/api/v1/staff/cases", headers={"X-API-Key": "bzk_one_key"}).status_code for _ in range(4)]
    assert answers == [401, 401, 429, 429]
    assert len(rpc.calls) == 2


def test_a_forged_bearer_token_costs_no_lookup():
    client, rpc = app_with()
    answer = client.get("/api/v1/staff/cases", headers={"Authorization": "Bearer not.a.token"})
    assert answer.status_code == 401 and rpc.calls == []


def test_registrations_count_per_mobile_beside_the_wide_address_budget():
    client, _ = app_with(rate_limit_register="100/minute", rate_limit_register_mobile="2/hour")
    same_person = ["09121234567", "۰۹۱۲ ۱۲۳ ۴۵۶۷", "+989121234567"]  # one mobile, however it is typed
    answers = [register(client, "203.0.113.9", {**INVALID_CASE, "mobile": m}).status_code for m in same_person]
    assert answers == [400, 400, 429]
    assert register(client, "203.0.113.9", {**INVALID_CASE, "mobile": "09351112233"}).status_code == 400
    assert register(client, "203.0.113.9").status_code == 400  # no mobile: the address's budget only
    assert register(client, "203.0.113.9", {**INVALID_CASE, "mobile": "0912"}).status_code == 400  # not a mobile


def test_a_beneficiary_s_code_requests_count_per_national_id_from_any_device():
    """Three codes a national ID in ten minutes (the service's codes a mobile): a fourth request from another
    tab or device hears how long to wait instead of a «sent» that sends nothing. The gateway does not know whether
    the ID is paid, so the count cannot tell it either."""
    client, rpc = app_with(rate_limit_login="100/minute")

    def ask(national_id, address):
        return client.post("/api/v1/transparency/me/code", json={"national_id": national_id},
                           environ_base={"REMOTE_ADDR": address})

    same_person = ["1234567008", "۱۲۳۴۵۶۷۰۰۸", "1234567008"]  # however it is typed
    answers = [ask(n, f"198.51.100.{i}") for i, n in enumerate(same_person + ["1234567008"])]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    wait = int(answers[3].headers["Retry-After"])
    assert 0 < wait <= 600 and "ثانیهٔ دیگر" in answers[3].get_json()["message"]
    assert ask("1234567016", "198.51.100.1").status_code == 202  # another person's own budget
    assert ask("12345", "198.51.100.1").status_code == 400  # not a national ID: the address's budget only
    assert rpc.calls == [("transparency", "request_code")] * 4


def test_the_national_id_budget_for_codes_is_the_service_s_codes_a_mobile():
    import limits

    from services.notifications import otp

    budget = limits.parse(Settings().rate_limit_code_national_id)
    assert (budget.amount, budget.get_expiry()) == (otp.PER_MOBILE, otp.RATE_WINDOW.total_seconds())


def test_the_address_budget_for_registrations_is_wide_enough_for_a_town_behind_one_address():
    budget = Settings().rate_limit_register
    assert budget.startswith("60/minute") and "1000/hour" in budget  # was 10/minute;100/hour
    assert Settings().rate_limit_register_mobile == "10/hour;30/day"


def test_the_limits_fall_back_to_each_process_when_the_shared_store_is_down():
    client, _ = app_with(rate_limit_register="2/minute", rate_limit_storage="redis://127.0.0.1:1/0")
    assert [register(client, "192.0.2.50").status_code for _ in range(3)] == [400, 400, 429]


class ReadyRpc(RpcClient):
    """call_each answers what it is told, and can be held until released."""

    def __init__(self, results: dict):
        super().__init__(config={"AMQP_URI": "amqp://guest:guest@127.0.0.1:1/"}, timeout=1)
        self.results, self.checks = results, 0
        self.entered, self.release = threading.Event(), threading.Event()
        self.release.set()

    def call_each(self, calls, timeout):
        self.checks += 1
        self.entered.set()
        assert self.release.wait(10)
        return {name: self.results.get(name, "ok") for name in calls}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def ready():
    rpc = ReadyRpc({"service:payments": "unavailable: OperationalError: connection to "
                                        "postgresql://payments:s3cret@db.internal:5432 refused"})
    app = create_app(rpc, Settings(rate_limit_default="1000/minute"))
    clock = Clock()
    app.extensions["readiness"] = Readiness(rpc, clock=clock)
    return app.test_client(), rpc, clock


def test_readyz_names_the_dependency_down_and_never_its_exception_text(ready):
    client, rpc, _ = ready
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json()["checks"]["service:payments"] == "unavailable"
    assert answer.get_json()["checks"]["service:complaints"] == "ok"
    assert "s3cret" not in answer.get_data(as_text=True) and "OperationalError" not in answer.get_data(as_text=True)


def test_readyz_reuses_its_answer_for_a_couple_of_seconds(ready):
    client, rpc, clock = ready
    for _ in range(5):
        client.get("/readyz")
    assert rpc.checks == 1
    clock.now += READY_CACHE_SECONDS
    client.get("/readyz")
    assert rpc.checks == 2


def test_while_one_thread_checks_the_others_answer_with_the_last_result(ready):
    client, rpc, clock = ready
    client.get("/readyz")
    clock.now += READY_CACHE_SECONDS
    rpc.release.clear()
    rpc.entered.clear()
    slow = threading.Thread(target=client.get, args=("/readyz",))
    slow.start()
    assert rpc.entered.wait(10)  # the one thread is checking now
    others = [client.get("/readyz").status_code for _ in range(5)]
    rpc.release.set()
    slow.join(10)
    assert others == [503] * 5 and rpc.checks == 2  # the last answer, no second check meanwhile


def test_readyz_is_rate_limited():
    rpc = ReadyRpc({})
    client = create_app(rpc, Settings(rate_limit_default="3/minute")).test_client()
    assert [client.get("/readyz").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert client.get("/healthz").status_code == 200  # liveness is never limited


def test_open311_takes_at_most_five_ids_and_names_the_field():
    client, rpc = app_with()
    five = ",".join(new_tracking_code() for _ in range(5))
    assert client.get(f"/open311/v2/requests.json?service_request_id={five}").status_code == 200
    assert len(rpc.calls) == 5
    six = f"{five},{new_tracking_code()}"
    answer = client.get(f"/open311/v2/requests.json?service_request_id={six}")
    assert answer.status_code == 400 and len(rpc.calls) == 5  # refused before any look-up
    [error] = answer.get_json()
    assert error["code"] == 400 and error["description"].startswith("service_request_id ")
    assert "at most 5" in error["description"]


def test_a_shafaf_search_of_too_many_words_is_refused_before_any_call():
    client, rpc = app_with()
    answer = client.get("/api/v1/transparency/datasets/managers/rows", query_string={"q": "یک دو سه چهار پنج شش"})
    assert answer.status_code == 400 and answer.headers["Content-Type"] == "application/problem+json"
    [error] = answer.get_json()["errors"]
    assert error["field"] == "q" and error["code"] == "too_many_terms" and "۵" in error["message"]
    assert rpc.calls == []


def test_every_limit_names_a_route_the_gateway_has():
    """A renamed route must not quietly fall back to the default budget (issue 19)."""
    from gateway.protection import PER_CASE, PER_MOBILE, PER_NATIONAL_ID, ROUTE_LIMITS

    client, _ = app_with()
    endpoints = set(client.application.view_functions)
    named = set(ROUTE_LIMITS) | PER_MOBILE | PER_NATIONAL_ID | PER_CASE
    assert named - endpoints == set()
    assert all(hasattr(Settings(), setting) for setting in ROUTE_LIMITS.values())


def test_a_registration_the_platform_could_not_take_spends_none_of_the_person_s_budget():
    """Retried with its key through an outage, a registration is answered 503 again and again: that is the
    platform's failure, not the citizen's try, so the per-mobile budget counts only what was answered."""
    from gateway.rpc import ServiceUnavailable

    class Down(CountingRpc):
        def call(self, service, method, *args, **kwargs):
            self.calls.append((service, method))
            raise ServiceUnavailable(service, "the broker refused the request (nack)", retry_after=2)

    rpc = Down()
    client = create_app(rpc, Settings(rate_limit_default="1000/minute", rate_limit_register="1000/minute",
                                      rate_limit_register_mobile="2/hour")).test_client()
    case = {"kind": "complaint", "text": "مستمری این ماه واریز نشده است.", "mobile": "09121234567"}
    outage = [client.post("/api/v1/cases", json=case, headers={"Idempotency-Key": "retry-5f2a9c1e"}).status_code
              for _ in range(5)]
    assert outage == [503] * 5 and len(rpc.calls) == 5
    refused = [register(client, "203.0.113.9", {**INVALID_CASE, "mobile": "09121234567"}).status_code
               for _ in range(3)]
    assert refused == [400, 400, 429]  # what the platform answered is counted
