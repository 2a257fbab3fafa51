"""Four eyes nobody can bypass, logins that never lock, and what the public may not choose, through the real
gateway and processes (issue 18)."""
from __future__ import annotations

import re
import uuid

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.complaints.admin import ensure_staff
from services.complaints.demo_staff import DEMO_PASSWORD
from tests.e2e.casework import Api

pytestmark = pytest.mark.e2e

PERSIAN = re.compile(r"[\u0600-\u06ff]")


@pytest.fixture(scope="module")
def api(platform):
    from services.complaints.demo_staff import load_demo_staff

    load_demo_staff(platform["db"]["complaints"])
    engine = sa.create_engine(platform["db"]["complaints"])
    with Session(engine) as session, session.begin():
        ensure_staff(session, "admin.two", DEMO_PASSWORD, "مدیر سامانهٔ دوم", "admin", "hq")
    engine.dispose()
    return Api(platform["base"])


def until_held_back(api, username, most=10):
    """Wrong passwords until the throttle holds one back (429): five are judged, then each waits twice as
    long as the last, so by the tenth a try comes within its wait however slow the machine."""
    seen = []
    while len(seen) < most and (not seen or seen[-1].status_code != 429):
        seen.append(login(api, username, "not-the-password"))
    return seen


def login(api, username, password=DEMO_PASSWORD):
    return requests.post(f"{api.base}/api/v1/auth/login", json={"username": username, "password": password},
                         timeout=20)


def scalar(platform, sql, **params):
    engine = sa.create_engine(platform["db"]["complaints"])
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()
    finally:
        engine.dispose()


def test_the_administrator_neither_opens_nor_approves_a_payment_cycle(api):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    opened = api.call("POST", "/api/v1/staff/payments/cycles", "admin", headers=key,
                      json={"month": "1405-09", "line": "pension"})
    assert opened.status_code == 403, opened.text
    approved = api.call("POST", "/api/v1/staff/payments/cycles/1405-09.pension/approve", "admin",
                        headers={"Idempotency-Key": str(uuid.uuid4())})
    assert approved.status_code == 403, approved.text
    assert api.call("GET", "/api/v1/staff/payments/cycles", "admin").status_code == 200  # reading stays


def test_logins_are_throttled_the_same_for_every_username_and_no_account_locks(platform, api):
    answers = {}
    for username in ("shemiranat.expert", "nobody.at.all"):
        seen = until_held_back(api, username)
        answers[username] = [(r.status_code, r.json()["code"], re.sub("[0-9\u06f0-\u06f9]", "", r.json()["message"]))
                             for r in seen]
        assert seen[-1].headers["Content-Type"] == "application/problem+json"
        assert 1 <= int(seen[-1].headers["Retry-After"]) <= 2 ** (len(seen) - 5) and PERSIAN.search(seen[-1].json()["message"])
    # the same codes and messages, word for word; past the fifth failure a try is judged only once the
    # doubling wait has passed (1 s, 2 s …), which a loaded machine may take between two tries
    assert answers["shemiranat.expert"][:5] + answers["shemiranat.expert"][-1:] \
        == answers["nobody.at.all"][:5] + answers["nobody.at.all"][-1:]
    for tries in answers.values():
        assert len(tries) >= 6
        assert [a[:2] for a in tries] == [(401, "invalid_credentials")] * (len(tries) - 1) + [(429, "too_many_attempts")]
    assert scalar(platform, "SELECT active FROM staff WHERE username = 'shemiranat.expert'") is True
    stored = scalar(platform, "SELECT string_agg(key, ' ') FROM login_failures")
    assert "shemiranat" not in stored and "127.0.0.1" not in stored  # keyed hashes only


def test_a_reset_ends_the_sessions_forces_a_new_password_and_a_finance_reset_needs_a_second_admin(api):
    accounts = {a["username"]: a["id"] for a in api.call("GET", "/api/v1/staff/accounts?revoked=false",
                                                         "admin").json()["items"]}
    before = login(api, "rey.head").json()
    reset = api.call("POST", f"/api/v1/staff/accounts/{accounts['rey.head']}/restore", "admin",
                     json={"new_password": "given-by-admin-123"})
    assert reset.status_code == 200, reset.text
    stale = requests.get(f"{api.base}/api/v1/auth/me", headers={"Authorization": f"Bearer {before['access_token']}"},
                         timeout=20)
    assert stale.status_code == 401
    assert requests.post(f"{api.base}/api/v1/auth/refresh", json={"refresh_token": before["refresh_token"]},
                         timeout=20).status_code == 401
    must = login(api, "rey.head", "given-by-admin-123")
    assert must.status_code == 403 and must.json()["code"] == "password_change_required" and "access_token" not in must.text
    changed = requests.post(f"{api.base}/api/v1/auth/password", timeout=20, json={
        "username": "rey.head", "password": "given-by-admin-123", "new_password": "rey-head-chose-this"})
    assert changed.status_code == 200 and changed.json()["access_token"]
    assert login(api, "rey.head", "rey-head-chose-this").status_code == 200

    pending = api.call("POST", f"/api/v1/staff/accounts/{accounts['finance.approver']}/restore", "admin",
                       json={"new_password": "taken-over-by-admin"})
    assert pending.status_code == 202 and pending.json()["state"] == "pending", pending.text
    assert login(api, "finance.approver").status_code == 200  # nothing changed yet
    listed = api.call("GET", "/api/v1/staff/password-resets", "admin.two").json()["items"]
    assert [r["id"] for r in listed] == [pending.json()["id"]]
    own = api.call("POST", f"/api/v1/staff/password-resets/{pending.json()['id']}/approve", "admin")
    assert own.status_code == 403 and own.json()["code"] == "second_admin_required"
    second = api.call("POST", f"/api/v1/staff/password-resets/{pending.json()['id']}/approve", "admin.two")
    assert second.status_code == 200, second.text
    assert login(api, "finance.approver").status_code == 401
    assert login(api, "finance.approver", "taken-over-by-admin").json()["code"] == "password_change_required"


@pytest.mark.parametrize("field,value", [("urgency", "urgent"), ("channel", "hotline")])
def test_the_public_cannot_choose_the_channel_or_the_urgency(platform, api, field, value):
    count = "SELECT count(*) FROM cases"
    before = scalar(platform, count)
    sent = api.call("POST", "/api/v1/cases", json={"kind": "complaint", field: value,
                                                   "text": "سالمند تنها در خانه مانده و مرکز پاسخ نمی‌دهد."})
    assert sent.status_code == 400 and sent.headers["Content-Type"] == "application/problem+json"
    [error] = sent.json()["errors"]
    assert error["field"] == field and PERSIAN.search(error["message"])
    assert scalar(platform, count) == before  # nothing registered


def test_staff_registering_for_a_caller_set_the_urgency(platform, api):
    made = api.call("POST", "/api/v1/staff/cases", "hotline", json={
        "kind": "complaint", "urgency": "urgent", "text": "تماس‌گیرنده می‌گوید سالمند تنها در خانه مانده است."})
    assert made.status_code == 201, made.text
    code = made.json()["tracking_code"]
    assert scalar(platform, "SELECT urgency || '/' || channel FROM cases WHERE tracking_code = :c", c=code) == \
        "urgent/hotline"
    public = api.call("POST", "/api/v1/cases", json={"kind": "complaint", "text": "نوبت ویزیت مرکز داده نمی‌شود."})
    assert public.status_code == 201
    assert scalar(platform, "SELECT urgency || '/' || channel FROM cases WHERE tracking_code = :c",
                  c=public.json()["tracking_code"]) == "normal/web"
