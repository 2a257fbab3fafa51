"""Staff notifications through the real gateway and processes (SPEC N2): a case referred down to Rey
shows in rey.expert's notifications until read; and no public route texts a one-time code (issue 18)."""
from __future__ import annotations

import time

import pytest
import requests

from services.complaints.demo_staff import load_demo_staff
from tests.e2e.casework import Api, down_to_rey

pytestmark = pytest.mark.e2e

MOBILE = "09351239876"


@pytest.fixture(scope="module")
def api(platform):
    load_demo_staff(platform["db"]["complaints"])
    return Api(platform["base"])


def test_no_public_route_texts_a_code_or_checks_one(platform, api):
    """Each code purpose is asked for through its own route only (a beneficiary's: /transparency/me/code):
    the old public /otp texted citizen_login codes that nothing used, and took beneficiary_login too, so
    anyone knowing a mobile could keep replacing its codes (issue 18)."""
    for purpose in ("beneficiary_login", "citizen_login"):
        asked = api.call("POST", "/api/v1/otp", json={"mobile": MOBILE, "purpose": purpose})
        assert asked.status_code == 404 and asked.headers["Content-Type"] == "application/problem+json"
        checked = api.call("POST", "/api/v1/otp/verify", json={"mobile": MOBILE, "purpose": purpose, "code": "123456"})
        assert checked.status_code == 404
    assert requests.get(f"{platform['sms']}/api/messages", params={"receptor": MOBILE}, timeout=10).json() == []
    assert "/api/v1/otp" not in api.call("GET", "/api/v1/openapi.json").json()["paths"]


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


def test_a_case_referred_to_rey_shows_in_rey_expert_s_notifications_until_read(platform, api):
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
