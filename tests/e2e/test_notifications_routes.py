"""One-time codes and staff notifications through the real gateway and processes (SPEC N1, N2): a
citizen asks for a code, reads it from the fake operator and verifies it once; a case referred down
to Rey shows in rey.expert's notifications until read."""
from __future__ import annotations

import time

import pytest
import requests

from services.complaints.demo_staff import load_demo_staff
from tests.e2e.test_case_journey import Api, down_to_rey
from tests.e2e.test_first_path import platform  # noqa: F401  (the module's running platform)

pytestmark = pytest.mark.e2e

MOBILE = "09351239876"
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


@pytest.fixture(scope="module")
def api(platform):  # noqa: F811
    load_demo_staff(platform["db"]["complaints"])
    return Api(platform["base"])


def codes_sent(platform, mobile, at_least):  # noqa: F811
    messages = requests.get(f"{platform['sms']}/api/messages",
                            params={"receptor": mobile, "wait": 20, "min": at_least}, timeout=30).json()
    assert len(messages) >= at_least, messages
    return [m["message"].split("کد ورود شما ")[1][:6] for m in messages]


def test_a_citizen_gets_a_code_by_sms_and_it_verifies_once(platform, api):  # noqa: F811
    asked = api.call("POST", "/api/v1/otp", json={"mobile": MOBILE.translate(PERSIAN), "purpose": "citizen_login"})
    assert asked.status_code == 202, asked.text
    assert asked.json() == {"expires_in": 120, "sent_to": "0935***9876"}
    [code] = codes_sent(platform, MOBILE, 1)
    assert code.isdigit()

    verify = {"mobile": MOBILE, "purpose": "citizen_login", "code": code.translate(PERSIAN)}
    first = api.call("POST", "/api/v1/otp/verify", json=verify)
    assert first.status_code == 200 and first.json() == {"verified": True}
    again = api.call("POST", "/api/v1/otp/verify", json=verify)  # used: refused like a wrong password
    assert again.status_code == 401 and again.headers["Content-Type"] == "application/problem+json"
    assert again.json()["code"] == "invalid_code"
    [error] = again.json()["errors"]
    assert error["field"] == "code" and error["message"].startswith("کد تأیید")

    bad = api.call("POST", "/api/v1/otp/verify", json={**verify, "code": "12"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "code"


def test_a_fourth_code_in_ten_minutes_is_refused_with_when_to_retry(platform, api):  # noqa: F811
    mobile = "09351239877"
    for _ in range(3):
        assert api.call("POST", "/api/v1/otp", json={"mobile": mobile}).status_code == 202
    refused = api.call("POST", "/api/v1/otp", json={"mobile": mobile})
    assert refused.status_code == 429 and refused.json()["code"] == "too_many_codes"
    assert 0 < int(refused.headers["Retry-After"]) <= 601
    assert len(codes_sent(platform, mobile, 3)) == 3


def unread_of(api, username) -> int:
    response = api.call("GET", "/api/v1/staff/notifications/unread-count", username)
    assert response.status_code == 200, response.text
    return response.json()["unread"]


def unread_becomes(api, username, at_least, timeout=30) -> int:
    """The event reaches the notifications service through the relay and the broker, on its own."""
    deadline = time.monotonic() + timeout
    while (n := unread_of(api, username)) < at_least and time.monotonic() < deadline:
        time.sleep(0.2)
    return n


def test_a_case_referred_to_rey_shows_in_rey_expert_s_notifications_until_read(platform, api):  # noqa: F811
    assert api.call("GET", "/api/v1/staff/notifications/unread-count").status_code == 401
    before = unread_of(api, "rey.expert")
    registered = api.call("POST", "/api/v1/cases", json={
        "kind": "complaint", "text": "پرونده توانبخشی پدرم ماه‌هاست بی‌پاسخ مانده است."})
    assert registered.status_code == 201, registered.text
    code = registered.json()["tracking_code"]
    down_to_rey(api, code)

    assert unread_becomes(api, "rey.expert", before + 1) == before + 1
    page = api.call("GET", "/api/v1/staff/notifications?unread=true&limit=100", "rey.expert").json()
    [mine] = [n for n in page["items"] if n["tracking_code"] == code]
    assert mine["kind"] == "case_in_cartable" and code in mine["body"] and mine["read"] is False

    marked = api.call("POST", "/api/v1/staff/notifications/read", "rey.expert", json={"ids": [mine["id"]]})
    assert marked.status_code == 200 and marked.json() == {"marked": 1, "unread": before}
    assert unread_of(api, "rey.expert") == before
    everything = api.call("POST", "/api/v1/staff/notifications/read", "rey.expert", json={"all": True})
    assert everything.status_code == 200 and everything.json()["unread"] == 0
    neither = api.call("POST", "/api/v1/staff/notifications/read", "rey.expert", json={})
    assert neither.status_code == 400
