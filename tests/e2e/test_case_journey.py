"""A case's whole way through the organization, through the real gateway and processes (SPEC C3–C10,
C17): down three levels, a missed deadline that pulls it back, referred again, answered, returned
once, approved up the chain, rated and closed; the citizen gets an SMS at every step they can
recognise (not of the review of the answer up the chain)."""
from __future__ import annotations

import base64
import re
import uuid

import pytest
import requests
import sqlalchemy as sa

from tests.e2e.casework import REY, down_to_rey

pytestmark = pytest.mark.e2e
PLATFORM_ENV = {"DEADLINE_SWEEP_SECONDS": "1"}  # the missed deadline is found within a second (the platform's fixture)

GHONCHEH = "prov.tehran.county.rey.center.ghoncheh"
MOBILE = "09351230001"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def texts_to(platform, mobile, at_least):
    """The fake operator's messages to `mobile`, once there are at least `at_least` of them."""
    messages = requests.get(f"{platform['sms']}/api/messages",
                            params={"receptor": mobile, "wait": 30, "min": at_least}, timeout=40).json()
    assert len(messages) >= at_least, [m["message"] for m in messages]
    return messages


REPORTER_CODE = re.compile(r"کد تأیید پرونده شما (\d{6})")


def reporter_session(platform, api, code: str, mobile: str, already: int) -> dict:
    """Prove being the named case's reporter as its page does (issue 18): the code alone is refused; a code is
    texted only to the case's own mobile (a wrong one hears the same answer); a wrong code is refused; the right
    one opens a reporter session for this case only. Its Authorization header. `already`: the SMS the mobile
    has had so far."""
    alone = api.call("POST", f"/api/v1/cases/{code}/rating", json={"score": 1})
    assert alone.status_code == 401 and alone.json()["code"] == "reporter_proof_required", alone.text
    texts_to(platform, mobile, already)  # every earlier SMS is in: the next one is the code
    wrong = api.call("POST", f"/api/v1/cases/{code}/reporter/code", json={"mobile": "09390000000"})
    right = api.call("POST", f"/api/v1/cases/{code}/reporter/code", json={"mobile": mobile})
    assert wrong.status_code == right.status_code == 202 and wrong.json() == right.json()
    texted = REPORTER_CODE.search(texts_to(platform, mobile, already + 1)[already]["message"]).group(1)
    assert texts_to(platform, "09390000000", 0) == []
    refused = api.call("POST", f"/api/v1/cases/{code}/reporter/session",
                       json={"mobile": mobile, "code": "000000" if texted != "000000" else "111111"})
    assert refused.status_code == 401 and refused.json()["errors"][0]["field"] == "code"
    opened = api.call("POST", f"/api/v1/cases/{code}/reporter/session", json={"mobile": mobile, "code": texted})
    assert opened.status_code == 200 and opened.json()["expires_in"] == 1800
    header = {"Authorization": f"Bearer {opened.json()['token']}"}
    assert api.call("GET", "/api/v1/staff/cases", headers=header).status_code == 403  # it opens nothing else
    return header


def as_if_the_deadline_passed(platform, code):
    engine = sa.create_engine(platform["db"]["complaints"])
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE case_hops SET due_at = now() - interval '1 second' "
                             "WHERE id = (SELECT current_hop_id FROM cases WHERE tracking_code = :c)"), {"c": code})
        conn.execute(sa.text("UPDATE cases SET deadline_at = now() - interval '1 second' WHERE tracking_code = :c"),
                     {"c": code})
    engine.dispose()


def status_becomes(api, code, status, timeout=30):
    """Follow the case as the citizen does until it reaches `status` (the sweep runs on its own)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        case = api.call("GET", f"/api/v1/cases/{code}").json()
        if case["status"] == status or time.monotonic() > deadline:
            return case
        time.sleep(0.2)  # polling the public API: the sweep gives no other signal to a citizen


def test_a_case_goes_down_misses_its_deadline_comes_back_and_is_answered_approved_and_closed(platform, api):
    registered = api.call("POST", "/api/v1/cases", json={
        "kind": "complaint", "mobile": MOBILE, "category": "pension",
        "text": "مستمری سه ماه گذشته به حساب پدرم واریز نشده و اداره پاسخی نمی‌دهد."})
    assert registered.status_code == 201, registered.text
    code = registered.json()["tracking_code"]
    sent = 1
    texts_to(platform, MOBILE, sent)

    seen = down_to_rey(api, code)
    sent += 3
    assert seen["holder_unit"] == REY and seen["deadline_at"]
    cartable = api.call("GET", "/api/v1/staff/cartable", "rey.expert").json()["items"]
    assert [c["tracking_code"] for c in cartable] == [code] and cartable[0]["seconds_left"] > 0
    texts_to(platform, MOBILE, sent)

    as_if_the_deadline_passed(platform, code)
    assert status_becomes(api, code, "escalated")["status"] == "escalated"
    sent += 1
    assert api.call("GET", f"/api/v1/staff/cases/{code}", "rey.expert").status_code == 404  # out of its sight
    assert api.call("GET", "/api/v1/staff/cartable", "rey.expert").json()["items"] == []
    scorecards = api.call("GET", "/api/v1/staff/reports/scorecards", "tehran.head").json()["items"]
    assert any(card["missed"] == 1 for card in scorecards if card["unit"] == REY)

    down_to_rey(api, code)
    sent += 3
    attachment = api.call("POST", f"/api/v1/staff/cases/{code}/attachments", "rey.expert",
                          files={"file": ("واریز.pdf", PDF, "application/pdf")})
    assert attachment.status_code == 201, attachment.text
    first = api.act("rey.expert", code, "answer", {"text": "مستمری واریز شد.", "attachments": [attachment.json()["id"]]})
    assert first["status"] == "awaiting_approval" and first["holder_unit"] == "prov.tehran"
    api.act("tehran.head", code, "return", {"note": "مبلغ و تاریخ واریز را بنویسید."})
    api.act("rey.expert", code, "answer", {"text": "مستمری سه ماه، جمعاً ۴۵٬۰۰۰٬۰۰۰ ریال، امروز واریز شد."})
    for approver in ("tehran.head", "rehab.head"):  # the organization's own review: no SMS to the citizen
        assert api.act(approver, code, "approve", {})["status"] == "awaiting_approval"
    done = api.act("operator", code, "approve", {"note": "تأیید نهایی"})
    sent += 1  # the answer is ready
    assert done["status"] == "answered"

    citizen = api.call("GET", f"/api/v1/cases/{code}").json()
    assert citizen["answer"]["text"].startswith("مستمری سه ماه")
    page = str(citizen)
    for hidden in ("مبلغ و تاریخ واریز", "شهرستان ری رسیدگی کند", "کارشناس بهزیستی ری", "رئیس", "تأیید نهایی"):
        assert hidden not in page  # internal notes and staff names stay inside
    token = reporter_session(platform, api, code, MOBILE, sent)  # the code alone does not rate someone's case
    sent += 1  # the one-time code
    rated = api.call("POST", f"/api/v1/cases/{code}/rating", json={"score": 5}, headers=token)
    assert rated.status_code == 200 and rated.json()["status"] == "closed"
    sent += 1

    stages = [s["stage"] for s in rated.json()["timeline"]]
    assert stages == ["registered", "triaged", "referred", "referred", "deadline_missed", "triaged", "referred",
                      "referred", "answered", "approved", "closed"]  # each public step once: the review folded
    messages = [m for m in texts_to(platform, MOBILE, sent) if not REPORTER_CODE.search(m["message"])]
    assert len(messages) == sent - 1 == len(stages) - 1  # one SMS per step the citizen recognises, none twice
    assert all(code in m["message"] or code[-4:] in m["message"] for m in messages)


def test_one_county_cannot_read_or_act_on_another_s_case(platform, api):
    code = api.call("POST", "/api/v1/cases", json={
        "kind": "complaint", "text": "نوبت ویزیت مرکز توانبخشی داده نمی‌شود."}).json()["tracking_code"]
    down_to_rey(api, code)
    assert api.call("GET", f"/api/v1/staff/cases/{code}", "shemiranat.expert").status_code == 404
    refused = api.call("POST", f"/api/v1/staff/cases/{code}/answer", "shemiranat.expert", json={"text": "پاسخ داده شد."})
    assert refused.status_code == 404
    assert api.act("rey.expert", code, "answer", {"text": "نوبت داده شد."})["holder_unit"] == "prov.tehran"


def test_the_reported_center_never_sees_the_reporter(platform, api):
    report = api.call("POST", "/api/v1/cases", headers={"Idempotency-Key": str(uuid.uuid4())}, json={
        "kind": "violation_report", "center": GHONCHEH, "name": "گزارشگر", "mobile": "09351230002",
        "text": "در مهدکودک به کودکان غذای مانده داده می‌شود."}).json()
    code = report["tracking_code"]
    down_to_rey(api, code)
    refused = api.call("POST", f"/api/v1/staff/cases/{code}/refer", "rey.head", json={"unit": GHONCHEH, "note": "بررسی"})
    assert refused.status_code == 409 and refused.json()["code"] == "referral_to_reported_center"
    assert api.call("GET", f"/api/v1/staff/cases/{code}", "ghoncheh.head").status_code == 404
    assert "reporter" not in api.call("GET", f"/api/v1/staff/cases/{code}", "rey.expert").json()
    assert api.call("GET", f"/api/v1/staff/cases/{code}", "inspector").json()["reporter"]["mobile"] == "09351230002"

    complaint = api.call("POST", "/api/v1/cases", json={
        "kind": "complaint", "center": GHONCHEH, "name": "شاکی", "mobile": "09351230003",
        "text": "ساعت کار مهدکودک بدون اطلاع تغییر کرده است."}).json()["tracking_code"]
    down_to_rey(api, complaint)
    api.act("rey.head", complaint, "refer", {"unit": GHONCHEH, "note": "مرکز پاسخ دهد"})
    seen = api.call("GET", f"/api/v1/staff/cases/{complaint}", "ghoncheh.head").json()
    assert seen["holder_unit"] == GHONCHEH and "reporter" not in seen


def test_evidence_is_checked_by_content_and_downloads_only_for_those_allowed(platform, api):
    report = api.call("POST", "/api/v1/cases", headers={"Idempotency-Key": str(uuid.uuid4())}, json={
        "kind": "violation_report", "text": "در این مرکز از مددجویان پول گرفته می‌شود."}).json()
    code, secret = report["tracking_code"], report["secret"]
    upload = f"/api/v1/cases/{code}/evidence"
    assert api.call("POST", upload, files={"file": ("a.pdf", PDF)}).status_code == 404  # no secret: unknown
    fake = api.call("POST", upload, headers={"X-Case-Secret": secret},
                    files={"file": ("photo.jpg", b"MZ\x90\x00" + bytes(100), "image/jpeg")})
    assert fake.status_code == 400 and fake.json()["errors"][0]["field"] == "file"
    saved = api.call("POST", upload, headers={"X-Case-Secret": secret}, files={"file": ("رسید.pdf", PDF)})
    assert saved.status_code == 201 and saved.json()["content_type"] == "application/pdf"
    file_id = saved.json()["id"]

    got = api.call("GET", f"/api/v1/staff/cases/{code}/files/{file_id}", "inspector")
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["Digest"] == "sha-256=" + base64.b64encode(bytes.fromhex(saved.json()["sha256"])).decode()
    assert api.call("GET", f"/api/v1/staff/cases/{code}/files/{file_id}", "rehab.expert").status_code == 403
    timeline = api.call("GET", f"/api/v1/cases/{code}", headers={"X-Case-Secret": secret}).json()["timeline"]
    assert [s["stage"] for s in timeline] == ["registered", "evidence_added"]


def test_the_hotline_finds_a_caller_s_cases_by_mobile_and_others_may_not(platform, api):
    code = api.call("POST", "/api/v1/staff/cases", "hotline", json={
        "kind": "question", "mobile": "09351230009", "text": "تماس‌گیرنده می‌پرسد مستمری کی واریز می‌شود."}).json()
    assert code["channel"] == "hotline"  # registered on the caller's behalf (SPEC C1)
    found = api.call("GET", "/api/v1/staff/cases?mobile=09351230009", "hotline").json()["items"]
    assert [c["tracking_code"] for c in found] == [code["tracking_code"]]
    assert api.call("GET", "/api/v1/staff/cases?mobile=09351230009", "rey.expert").status_code == 403


def test_administrators_set_deadline_policies_and_see_revoked_accounts(platform, api):
    rule = {"urgency": "urgent", "level": "center", "minutes": 120, "warn_fraction": 0.75}
    assert api.call("PUT", "/api/v1/staff/deadline-policies", "rey.head", json={"items": [rule]}).status_code == 403
    saved = api.call("PUT", "/api/v1/staff/deadline-policies", "admin", json={"items": [rule]})
    assert saved.status_code == 200 and rule in saved.json()["items"]
    assert rule in api.call("GET", "/api/v1/staff/deadline-policies", "rey.head").json()["items"]
    bad = api.call("PUT", "/api/v1/staff/deadline-policies", "admin", json={"items": [{**rule, "warn_fraction": 1.5}]})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"].endswith("warn_fraction")
    revoked = api.call("GET", "/api/v1/staff/accounts?revoked=true", "admin").json()["items"]
    assert all(not a["active"] for a in revoked)


def test_an_integrator_registered_through_the_api_consumes_is_refused_other_types_and_replays(platform, api):
    """Issue 20: registered by an administrator, an integrator reads its types with its own credentials, cannot
    take another type, goes offline, finds what it missed in its queue, and replays its stream from the start."""
    from amqp.exceptions import AccessRefused

    from common.broker_admin import ManagementApi
    from common.config import get_settings
    from common.events.catalog import CASE_REGISTERED, CASE_STEP_EVENTS, SMS_SENT
    from tests.helpers import as_integrator, take

    name = f"e2e-{uuid.uuid4().hex[:8]}"
    body = {"name": name, "title": "سامانهٔ پایش وزارت", "event_types": [CASE_REGISTERED.type, SMS_SENT.type]}
    refused = api.call("POST", "/api/v1/staff/integrators", "admin", json=body)
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "event_types"  # personal data
    assert api.call("POST", "/api/v1/staff/integrators", "rey.expert", json=body).status_code == 403
    registered = api.call("POST", "/api/v1/staff/integrators", "admin", json={
        **body, "personal_data": True, "legal_basis": "تفاهم‌نامهٔ تبادل داده با وزارت، ۱۴۰۵"})
    assert registered.status_code == 201, registered.text
    credentials = registered.json()["amqp"]
    try:
        def register_case() -> str:
            response = api.call("POST", "/api/v1/cases", json={
                "kind": "complaint", "mobile": "09351230077", "category": "pension",
                "text": "مستمری این ماه مادرم هنوز واریز نشده است."})
            assert response.status_code == 201, response.text
            return response.json()["tracking_code"]

        first = register_case()
        with as_integrator(credentials) as connection:
            got = take(connection.channel(), credentials["queue"], 2)  # its case.registered and its sms.sent
            assert {e["type"] for e in got} == {CASE_REGISTERED.type, SMS_SENT.type}
            assert [e["data"]["tracking_code"] for e in got if e["type"] == CASE_REGISTERED.type] == [first]
        with as_integrator(credentials) as connection, pytest.raises(AccessRefused):
            triaged = CASE_STEP_EVENTS["triaged"]
            connection.channel().queue_bind(credentials["queue"], triaged.exchange, triaged.type)

        second = register_case()  # offline meanwhile: its queue keeps them
        with as_integrator(credentials) as connection:
            missed = take(connection.channel(), credentials["queue"], 2)
            assert [e["data"]["tracking_code"] for e in missed if e["type"] == CASE_REGISTERED.type] == [second]
        with as_integrator(credentials) as connection:  # and replays everything from its stream
            replayed = take(connection.channel(), credentials["replay_stream"], 4, {"x-stream-offset": "first"})
            assert [e["id"] for e in replayed] == [e["id"] for e in got + missed]
    finally:
        revoked = api.call("POST", f"/api/v1/staff/integrators/{registered.json()['id']}/revoke", "admin")
        assert revoked.status_code == 200 and revoked.json()["revoked"] is True
        ManagementApi(get_settings().broker_admin_url).delete_user(f"integrator.{name}")
