"""Who may come in and what each may see, through the real gateway: sessions, roles, scope and
revocation that takes effect on the next request."""
from __future__ import annotations

import time
import uuid

import jwt
import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from common.config import get_settings
from scripts.processes import free_port, platform_processes, wait_ready
from tests.helpers import PLATFORM_READY_SECONDS
from services.complaints import org
from services.complaints.admin import ensure_staff
from services.complaints.demo_staff import DEMO_PASSWORD, load_demo_staff

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api(platform):
    load_demo_staff(platform["db"]["complaints"])
    base = platform["base"]

    class Api:
        def login(self, username, password=DEMO_PASSWORD):
            return requests.post(f"{base}/api/v1/auth/login", json={"username": username, "password": password},
                                 timeout=10)

        def token(self, username):
            response = self.login(username)
            assert response.status_code == 200, response.text
            return response.json()

        def get(self, path, token=None):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return requests.get(f"{base}{path}", headers=headers, timeout=10)

        def post(self, path, body, token=None):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return requests.post(f"{base}{path}", json=body, headers=headers, timeout=10)

    return Api()


def case_held_by(platform, unit):
    response = requests.post(f"{platform['base']}/api/v1/cases", json={
        "kind": "complaint", "text": "اداره شهرستان به درخواست مستمری پاسخ نمی‌دهد.", "mobile": "09351112233"},
        timeout=10)
    code = response.json()["tracking_code"]
    engine = sa.create_engine(platform["db"]["complaints"])
    path = ["hq.inspection", "hq.rehabilitation", org.parent_of(unit), unit]
    with engine.begin() as conn:  # as if referred there (tests/e2e/test_case_journey.py refers for real)
        conn.execute(sa.text("UPDATE cases SET holder_unit_id = :u, path = :p, visible_to = :v WHERE tracking_code = :c"),
                     {"u": unit, "p": path, "v": org.visible_to(path), "c": code})
    engine.dispose()
    return code


def test_login_gives_tokens_and_me_tells_who(api):
    tokens = api.token("rey.expert")
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == get_settings().access_token_seconds
    me = api.get("/api/v1/auth/me", tokens["access_token"])
    assert me.status_code == 200 and me.json()["unit"] == "prov.tehran.county.rey"


def test_a_wrong_password_is_a_401_problem(api):
    response = api.login("rey.expert", "not-the-password")
    assert response.status_code == 401 and response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_credentials" and "Bearer" in response.headers["WWW-Authenticate"]


def test_staff_routes_need_a_session_and_the_right_role(api):
    assert api.get("/api/v1/auth/me").status_code == 401
    assert api.get("/api/v1/auth/me", "not.a.jwt").json()["code"] == "invalid_token"
    forged = jwt.encode({"sub": "x", "ver": 1, "exp": int(time.time()) + 60}, "an-attacker-secret-of-thirty-two-bytes!!", algorithm="HS256")
    assert api.get("/api/v1/auth/me", forged).status_code == 401
    expert = api.token("rey.expert")["access_token"]
    response = api.post("/api/v1/staff/accounts/00000000-0000-0000-0000-000000000000/revoke",
                        {"reason": "trying"}, expert)
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


def test_an_expired_token_is_refused_and_the_refresh_token_renews_it(api):
    tokens = api.token("operator")
    expired = jwt.encode({"sub": tokens["principal"]["id"], "ver": 1, "exp": int(time.time()) - 1},
                         get_settings().token_secret, algorithm="HS256")
    assert api.get("/api/v1/auth/me", expired).json()["code"] == "token_expired"
    renewed = api.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert renewed.status_code == 200
    assert api.get("/api/v1/auth/me", renewed.json()["access_token"]).status_code == 200


def test_a_county_user_asking_for_another_countys_case_gets_404_not_403(api, platform):
    code = case_held_by(platform, "prov.tehran.county.rey")
    own = api.get(f"/api/v1/staff/cases/{code}", api.token("rey.expert")["access_token"])
    assert own.status_code == 200 and own.json()["holder_unit"] == "prov.tehran.county.rey"
    assert "reporter" not in own.json()
    other = api.get(f"/api/v1/staff/cases/{code}", api.token("shemiranat.expert")["access_token"])
    assert other.status_code == 404 and other.json()["code"] == "case_not_found"
    province = api.get(f"/api/v1/staff/cases/{code}", api.token("tehran.head")["access_token"])
    assert province.status_code == 200
    inspector = api.get(f"/api/v1/staff/cases/{code}", api.token("inspector")["access_token"])
    assert inspector.json()["reporter"]["mobile"] == "09351112233"


def test_revocation_takes_effect_on_the_next_request(api):
    admin = api.token("admin")["access_token"]
    victim = api.token("hotline")
    token = victim["access_token"]
    assert api.get("/api/v1/auth/me", token).status_code == 200
    revoked = api.post(f"/api/v1/staff/accounts/{victim['principal']['id']}/revoke",
                       {"reason": "کارتابل ۴۸ ساعت باز نشده است"}, admin)
    assert revoked.status_code == 200
    after = api.get("/api/v1/auth/me", token)  # the same, unexpired token
    assert after.status_code == 401 and after.json()["code"] == "session_ended"
    assert api.post("/api/v1/auth/refresh", {"refresh_token": victim["refresh_token"]}).status_code == 401
    assert api.login("hotline").json()["code"] == "access_revoked"
    restored = api.post(f"/api/v1/staff/accounts/{victim['principal']['id']}/restore",
                        {"new_password": "another-long-password"}, admin)
    assert restored.status_code == 200
    # a reset password is the administrator's: the next login must choose one first (issue 18)
    assert api.login("hotline", "another-long-password").json()["code"] == "password_change_required"
    changed = api.post("/api/v1/auth/password", {"username": "hotline", "password": "another-long-password",
                                                 "new_password": DEMO_PASSWORD})
    assert changed.status_code == 200, changed.text
    assert api.login("hotline").status_code == 200


@pytest.fixture(scope="module")
def second_gateway(platform):
    """Another gateway process on the same broker and databases, as a second replica in Kubernetes."""
    port, metrics = free_port(), free_port()
    platform["group"].start("gateway-2", platform_processes()["gateway"],
                            {"GATEWAY_PORT": str(port), "METRICS_PORT": str(metrics)})
    base = f"http://127.0.0.1:{port}"
    wait_ready(f"{base}/readyz", platform["group"], timeout=PLATFORM_READY_SECONDS)
    return {"base": base, "metrics": f"http://127.0.0.1:{metrics}/metrics"}


def cache_hits(metrics_url: str) -> float:
    text = requests.get(metrics_url, timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith('gateway_principal_cache_total{result="hit"}'))


def refused_within(base: str, token: str, seconds: float) -> float:
    """Ask `base` who the token is until it says 401 (polling: the other gateway sends no signal); the
    seconds that took."""
    started = time.monotonic()
    while (answer := requests.get(f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"},
                                  timeout=5)).status_code == 200:
        assert time.monotonic() - started < seconds, f"still accepted after {seconds} s"
    assert answer.status_code == 401 and answer.json()["code"] == "session_ended", answer.text
    return time.monotonic() - started


def test_every_gateway_reuses_a_confirmed_session_and_drops_it_within_a_second_of_a_change(
        api, platform, second_gateway):
    """issue 21: a staff request costs no principal RPC while nothing changed; a revocation or a password
    change made through one gateway is refused by the other within a second."""
    engine = sa.create_engine(platform["db"]["complaints"])
    with Session(engine) as session, session.begin():
        for username in ("cache.revoked", "cache.password"):
            ensure_staff(session, username, DEMO_PASSWORD, "کارشناس آزمون", "county_expert", "prov.tehran.county.rey")
    engine.dispose()
    admin = api.token("admin")["access_token"]
    other = second_gateway["base"]
    me = {}
    for username in ("cache.revoked", "cache.password"):
        token = api.token(username)["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        # the first answer is kept once the gateway consumes the revocation events (it starts with its worker)
        waited = time.monotonic() + 10
        before = cache_hits(second_gateway["metrics"])
        while cache_hits(second_gateway["metrics"]) == before:
            assert requests.get(f"{other}/api/v1/auth/me", headers=headers, timeout=5).status_code == 200
            assert time.monotonic() < waited, "the second gateway never reused a confirmed principal"
        before = cache_hits(second_gateway["metrics"])
        for _ in range(3):
            answer = requests.get(f"{other}/api/v1/auth/me", headers=headers, timeout=5)
            assert answer.status_code == 200 and answer.json()["username"] == username
        assert cache_hits(second_gateway["metrics"]) - before == 3  # no principal RPC
        me[username] = (token, answer.json()["id"])

    token, staff_id = me["cache.revoked"]
    assert all(api.get("/api/v1/auth/me", token).status_code == 200 for _ in range(3))  # cached here too
    assert api.post(f"/api/v1/staff/accounts/{staff_id}/revoke", {"reason": "آزمون"}, admin).status_code == 200
    assert api.get("/api/v1/auth/me", token).status_code == 401  # the gateway that revoked: at once
    revoked_after = refused_within(other, token, 1.0)

    token, _ = me["cache.password"]
    changed = api.post("/api/v1/auth/password", {"username": "cache.password", "password": DEMO_PASSWORD,
                                                 "new_password": "a-new-long-password-1405"})
    assert changed.status_code == 200, changed.text
    changed_after = refused_within(other, token, 1.0)
    fresh = requests.get(f"{other}/api/v1/auth/me", timeout=5,
                         headers={"Authorization": f"Bearer {changed.json()['access_token']}"})
    assert fresh.status_code == 200 and fresh.json()["username"] == "cache.password"
    print(f"refused by the other gateway after {revoked_after * 1000:.0f} ms (revocation), "
          f"{changed_after * 1000:.0f} ms (password change)")


def test_staff_list_their_cases_a_page_at_a_time_within_scope(api, platform):
    codes = [case_held_by(platform, "prov.isfahan.county.kashan") for _ in range(5)]
    token = api.token("inspector")["access_token"]  # HQ: sees all
    seen, url = [], "/api/v1/staff/cases?limit=2"
    while url:
        page = api.get(url, token)
        assert page.status_code == 200
        body = page.json()
        assert len(body["items"]) <= 2
        seen += [c["tracking_code"] for c in body["items"]]
        assert (body["next"] is not None) == ("Link" in page.headers)
        url = body["next"]
    assert set(codes) <= set(seen) and len(seen) == len(set(seen))  # every case once, none twice
    rey = api.get("/api/v1/staff/cases?limit=100", api.token("rey.expert")["access_token"]).json()
    assert not set(codes) & {c["tracking_code"] for c in rey["items"]}  # Kashan's cases are not Rey's
    for bad in ("!!not-a-cursor", "abc", "W10"):  # not base64; not JSON; the wrong shape
        response = api.get(f"/api/v1/staff/cases?after={bad}", token)
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == "after"


def test_an_integrators_key_reads_within_its_scope_until_revoked(api, platform):
    admin = api.token("admin")["access_token"]
    issued = api.post("/api/v1/staff/api-keys", {"name": "سامانهٔ پایش وزارت", "scopes": ["cases:read"]}, admin)
    assert issued.status_code == 201
    key = issued.json()["key"]
    headers = {"X-API-Key": key}
    listed = requests.get(f"{platform['base']}/api/v1/staff/cases?limit=5", headers=headers, timeout=10)
    assert listed.status_code == 200
    assert all("reporter" not in c and "text" not in c for c in listed.json()["items"])
    code = listed.json()["items"][0]["tracking_code"]
    one = requests.get(f"{platform['base']}/api/v1/staff/cases/{code}", headers=headers, timeout=10)
    assert one.status_code == 403  # the cartable's full case is for staff, not for this scope
    assert api.post("/api/v1/staff/api-keys", {"name": "x-key", "scopes": ["cases:read"]},
                    api.token("operator")["access_token"]).status_code == 403  # admins only
    assert api.post(f"/api/v1/staff/api-keys/{issued.json()['id']}/revoke", {}, admin).status_code == 200
    refused = requests.get(f"{platform['base']}/api/v1/staff/cases", headers=headers, timeout=10)
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_api_key"
    forged = requests.get(f"{platform['base']}/api/v1/staff/cases",
                          headers={"X-API-Key": key[:-4] + "abcd"}, timeout=10)
    assert forged.status_code == 401


def test_open311_offers_no_whistleblowing_and_returns_no_personal_field(api, platform):
    base = f"{platform['base']}/open311/v2"
    services = requests.get(f"{base}/services.json", timeout=10).json()
    codes = {s["service_code"] for s in services}
    assert "complaint" in codes and "violation_report" not in codes

    form = {"service_code": "complaint", "description": "نوبت مشاوره تلفنی داده نمی‌شود.", "first_name": "علی",
            "phone": "09121234567", "lat": "35.7", "long": "51.4", "address_string": "تهران، خیابان انقلاب، پلاک ۱۲",
            "media_url": "https://app.example/photos/ramp.jpg"}
    anonymous = requests.post(f"{base}/requests.json", data=form, timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()[0]["code"] == 401  # GeoReport's error shape

    admin = api.token("admin")["access_token"]
    key = api.post("/api/v1/staff/api-keys", {"name": "برنامهٔ شهروندی", "scopes": ["open311:write"]}, admin).json()["key"]
    created = requests.post(f"{base}/requests.json", data={**form, "api_key": key}, timeout=10)
    assert created.status_code == 201
    request_id, token = created.json()[0]["service_request_id"], created.json()[0]["token"]
    assert uuid.UUID(request_id) and token.isdigit() and len(token) == 16  # the case's id; its tracking code
    shown = requests.get(f"{base}/requests/{request_id}.json", timeout=10).json()[0]
    assert shown["status"] == "open" and shown["service_code"] == "complaint" and shown["service_request_id"] == request_id
    assert "09121234567" not in str(shown) and "علی" not in str(shown) and "description" not in shown
    assert "lat" not in shown and token not in str(shown)  # by its id: no place, no tracking code
    mine = requests.get(f"{base}/requests/{token}.json", timeout=10).json()[0]  # by its token: the place the app sent
    assert (mine["lat"], mine["long"], mine["address"], mine["media_url"]) == (
        35.7, 51.4, "تهران، خیابان انقلاب، پلاک ۱۲", "https://app.example/photos/ramp.jpg")
    assert requests.get(f"{base}/tokens/{token}.json", timeout=10).json()[0]["service_request_id"] == request_id
    staff_view = api.get(f"/api/v1/staff/cases/{token}", api.token("operator")["access_token"]).json()
    assert staff_view["location"] == {"lat": 35.7, "long": 51.4, "address": "تهران، خیابان انقلاب، پلاک ۱۲",
                                      "media_url": "https://app.example/photos/ramp.jpg"}

    listed = requests.get(f"{base}/requests.json", timeout=10)  # the standard's listing: the last 90 days
    assert listed.status_code == 200 and request_id in [r["service_request_id"] for r in listed.json()]
    assert token not in listed.text and "09121234567" not in listed.text and "lat" not in listed.text
    for narrower in ({"status": "closed"}, {"service_code": "question"},
                     {"start_date": "2020-01-01T00:00:00Z", "end_date": "2020-03-01T00:00:00Z"}):
        assert request_id not in requests.get(f"{base}/requests.json", params=narrower, timeout=10).text, narrower
    outside = requests.post(f"{base}/requests.json", data={**form, "lat": "48.85", "long": "2.35"},
                            headers={"X-API-Key": key}, timeout=10)
    assert outside.status_code == 400 and outside.json()[0]["description"].startswith("lat")  # not in Iran

    bad = requests.post(f"{base}/requests.json", data={**form, "phone": "12"}, headers={"X-API-Key": key}, timeout=10)
    assert bad.status_code == 400 and bad.json()[0]["description"].startswith("phone")
    hidden = requests.post(f"{base}/requests.json", data={**form, "service_code": "violation_report"},
                           headers={"X-API-Key": key}, timeout=10)
    assert hidden.status_code == 404

    report = requests.post(f"{platform['base']}/api/v1/cases", json={
        "kind": "violation_report", "text": "در مرکز نگهداری کودکان تخلف رخ داده است."}, timeout=10).json()
    assert requests.get(f"{base}/requests/{report['tracking_code']}.json", timeout=10).status_code == 404
    assert report["tracking_code"] not in requests.get(f"{base}/requests.json", timeout=10).text
    assert requests.get(f"{base}/requests.json", params={"service_request_id": report["tracking_code"]},
                        timeout=10).json() == []


def test_issuing_a_key_twice_with_one_idempotency_key_issues_one_key_and_stores_no_secret(api, platform):
    admin = api.token("admin")["access_token"]
    body, headers = {"name": "سامانهٔ آمار وزارت", "scopes": ["cases:read"]}, {"Idempotency-Key": "issue-key-7a3b9c"}

    def issue():
        return requests.post(f"{platform['base']}/api/v1/staff/api-keys", json=body,
                             headers={**headers, "Authorization": f"Bearer {admin}"}, timeout=10)

    first, retry = issue(), issue()
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()  # the same key, though only its hash is kept
    key = first.json()["key"]
    assert requests.get(f"{platform['base']}/api/v1/staff/cases", headers={"X-API-Key": key}, timeout=10).status_code == 200
    engine = sa.create_engine(platform["db"]["complaints"])
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM api_keys WHERE name = :n"), {"n": body["name"]}).scalar() == 1
        # records keep a keyed hash of client and key, not the key: search every record whole
        kept = conn.execute(sa.text("SELECT string_agg(r::text, ' ') FROM idempotency_keys r")).scalar()
    engine.dispose()
    assert key.split("_", 2)[2] not in kept


def test_an_open311_request_retried_with_its_idempotency_key_is_one_request(api, platform):
    admin = api.token("admin")["access_token"]
    key = api.post("/api/v1/staff/api-keys", {"name": "برنامهٔ همراه", "scopes": ["open311:write"]}, admin).json()["key"]
    form = {"service_code": "question", "description": "ساعت کاری اداره بهزیستی شهرستان چیست؟"}
    headers = {"X-API-Key": key, "Idempotency-Key": "open311-retry-5e6f"}
    first = requests.post(f"{platform['base']}/open311/v2/requests.json", data=form, headers=headers, timeout=10)
    retry = requests.post(f"{platform['base']}/open311/v2/requests.json", data=form, headers=headers, timeout=10)
    assert first.status_code == retry.status_code == 201
    assert first.json()[0]["service_request_id"] == retry.json()[0]["service_request_id"]


def test_administrators_record_outages_and_see_the_rows_the_sweeps_set_aside(api, platform):
    from datetime import datetime, timedelta, timezone

    admin, county = api.token("admin")["access_token"], api.token("rey.head")["access_token"]
    ended = datetime.now(timezone.utc) - timedelta(minutes=5)
    body = {"starts_at": (ended - timedelta(hours=2)).isoformat(), "ends_at": ended.isoformat(),
            "reason": "قطع سراسری اینترنت؛ کارشناسان به سامانه دسترسی نداشتند"}
    assert api.post("/api/v1/staff/outages", body).status_code == 401
    assert api.post("/api/v1/staff/outages", body, county).status_code == 403

    def record():
        return requests.post(f"{platform['base']}/api/v1/staff/outages", json=body, timeout=10,
                             headers={"Authorization": f"Bearer {admin}", "Idempotency-Key": "outage-2b7e41d0"})

    first, retry = record(), record()
    assert first.status_code == retry.status_code == 201 and retry.json() == first.json()
    assert first.json()["minutes"] == 120 and first.json()["recorded_by"] == "admin"
    future = api.post("/api/v1/staff/outages", {**body, "ends_at": (ended + timedelta(hours=1)).isoformat()}, admin)
    assert future.status_code == 400 and future.json()["errors"][0]["code"] == "in_future"
    listed = api.get("/api/v1/staff/outages", county)  # managers see why their deadlines moved
    assert listed.status_code == 200 and [w["id"] for w in listed.json()["items"]].count(first.json()["id"]) == 1

    assert api.get("/api/v1/staff/sweeps/failures", county).status_code == 403
    failures = api.get("/api/v1/staff/sweeps/failures", admin)
    assert failures.status_code == 200 and failures.json()["items"] == []
    missing = api.post("/api/v1/staff/sweeps/failures/escalate_overdue/00000000-0000-0000-0000-000000000000/retry",
                       {}, admin)
    assert missing.status_code == 404 and missing.json()["code"] == "sweep_failure_not_found"


# need to know (issue 18): finance, audit, administration and the hotline sit at HQ but read no case
NO_CASEWORK = ["finance.expert", "finance.approver", "auditor", "admin", "hotline"]


def test_roles_without_casework_meet_case_contents_as_unknown(api, platform):
    code = case_held_by(platform, "prov.tehran.county.rey")
    assert api.get(f"/api/v1/staff/cases/{code}", api.token("rey.expert")["access_token"]).status_code == 200
    for username in NO_CASEWORK:
        token = api.token(username)["access_token"]
        seen = api.get(f"/api/v1/staff/cases/{code}", token)
        assert seen.status_code == 404, (username, seen.text)
        assert seen.json()["code"] == "case_not_found"
        assert api.get(f"/api/v1/staff/cases/{code}/files/00000000-0000-4000-8000-000000000000", token).status_code == 404
        listed = api.get("/api/v1/staff/cases", token)
        assert listed.status_code == 403, (username, listed.text)


def test_the_hotline_reads_what_the_caller_could_and_never_an_anonymous_report(api, platform):
    hotline = api.token("hotline")["access_token"]
    code = case_held_by(platform, "prov.tehran.county.rey")
    told = api.get(f"/api/v1/staff/calls/cases/{code}", hotline)
    assert told.status_code == 200, told.text
    assert told.json()["holder_unit"] == "prov.tehran.county.rey" and told.json()["timeline"]
    assert not {"text", "history", "files", "reporter", "path"} & told.json().keys()
    anonymous = requests.post(f"{platform['base']}/api/v1/cases", json={
        "kind": "violation_report", "text": "مسئول مرکز از خانواده‌ها پول نقد می‌گیرد و رسید نمی‌دهد."}, timeout=10).json()
    assert anonymous["anonymous"]
    assert api.get(f"/api/v1/staff/calls/cases/{anonymous['tracking_code']}", hotline).status_code == 404
    # the caller's own cases, by the mobile the caller gives
    mine = api.get("/api/v1/staff/cases?mobile=09351112233", hotline)
    assert mine.status_code == 200 and code in [c["tracking_code"] for c in mine.json()["items"]]
    # what works cases is not the hotline's
    assert api.get(f"/api/v1/staff/calls/cases/{code}", api.token("rey.expert")["access_token"]).status_code == 403


def test_every_view_of_a_reporter_s_identity_leaves_a_row_the_auditor_reads(api, platform):
    reported = requests.post(f"{platform['base']}/api/v1/cases", json={
        "kind": "violation_report", "text": "کارمند اداره برای پروندهٔ مستمری رشوه خواسته است.",
        "name": "گزارش‌دهندهٔ آزمون", "mobile": "09351117788"}, timeout=10).json()
    code = reported["tracking_code"]
    auditor = api.token("auditor")["access_token"]

    def views():
        answer = api.get("/api/v1/staff/reporter-identity-views", auditor)
        assert answer.status_code == 200, answer.text
        return [(v["staff"], v["how"], v["tracking_code"]) for v in answer.json()["items"]]

    before = views()
    seen = api.get(f"/api/v1/staff/cases/{code}", api.token("operator")["access_token"]).json()
    assert seen["reporter"]["mobile"] == "09351117788"
    after = views()
    assert len(after) == len(before) + 1 and after[0] == ("operator", "case_view", code)
    assert api.get(f"/api/v1/staff/cases/{code}", api.token("inspector")["access_token"]).json()["reporter"]
    assert views()[0] == ("inspector", "case_view", code)
    api.get("/api/v1/staff/cases?mobile=09351117788", api.token("hotline")["access_token"])
    assert views()[0] == ("hotline", "cases_by_mobile", code)
    # those who see identities do not read who saw them
    for username in ("operator", "inspector", "admin"):
        assert api.get("/api/v1/staff/reporter-identity-views", api.token(username)["access_token"]).status_code == 403
