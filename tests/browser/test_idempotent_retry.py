"""A creating request whose answer is lost or refused with 503/504 has an unknown outcome: the pages send it
again with the SAME Idempotency-Key (never a new one), honour Retry-After, tell the person in Persian that the
result is not known yet and that pressing again is safe, and the thing is created once.

The gateway is made to fail with a Playwright route in front of the real platform: the first request reaches
the platform (the case is registered) but the browser gets a 504 instead of the answer; or every automatic
attempt gets a 503 until the person presses again."""
from __future__ import annotations

import json
import re
import time
import uuid

import pytest
import sqlalchemy as sa

from tests.browser.pages import staff_page

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UNAVAILABLE = {"type": "urn:behzisti:problem:service_unavailable", "title": "Service Unavailable", "status": 503,
               "code": "service_unavailable", "message": "سامانه موقتاً در دسترس نیست."}
TIMEOUT = {"type": "urn:behzisti:problem:service_timeout", "title": "Gateway Timeout", "status": 504,
           "code": "service_timeout", "message": "پاسخ سامانه به‌موقع نرسید."}


def cases_with_text(platform, text: str) -> list[str]:
    engine = sa.create_engine(platform["db"]["complaints"])
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT tracking_code FROM cases WHERE text = :t"), {"t": text}).scalars())
    finally:
        engine.dispose()


class Flaky:
    """A route in front of one creating API path: records each POST's Idempotency-Key and time, and answers
    the first `lose` of them with a 504 after letting them through (the effect happened, the answer is lost),
    or every one with a 503 (never let through) while `down` is set."""

    def __init__(self, lose: int = 0, retry_after: str = "1"):
        self.lose, self.retry_after, self.down = lose, retry_after, False
        self.keys: list[str | None] = []
        self.times: list[float] = []
        self.lost_answers: list[dict] = []

    def __call__(self, route):
        request = route.request
        if request.method != "POST":
            route.fallback()
            return
        self.keys.append(request.headers.get("idempotency-key"))
        self.times.append(time.monotonic())
        if self.down:
            route.fulfill(status=503, content_type="application/problem+json",
                          headers={"Retry-After": self.retry_after, "Idempotency-Key": self.keys[-1] or ""},
                          body=json.dumps(UNAVAILABLE))
        elif len(self.lost_answers) < self.lose:
            answer = route.fetch()  # it reaches the platform: the thing is created
            self.lost_answers.append({"status": answer.status, "body": answer.json()})
            route.fulfill(status=504, content_type="application/problem+json",
                          headers={"Retry-After": self.retry_after, "Idempotency-Key": self.keys[-1] or ""},
                          body=json.dumps(TIMEOUT))
        else:
            route.fallback()


def test_a_lost_answer_is_sent_again_with_the_same_key_after_retry_after_and_the_case_is_registered_once(web, platform):
    text = f"مستمری این ماه واریز نشده است؛ پاسخ گم‌شده {uuid.uuid4().hex[:8]}."
    flaky = Flaky(lose=1, retry_after="2")
    page = web.page(None)
    page.context.route("**/api/v1/cases", flaky)
    page.goto("/web/citizen/new.html")
    page.get_by_label("شرح درخواست یا گزارش (الزامی)").fill(text)
    page.get_by_role("button", name="ثبت و دریافت کد رهگیری").click()

    notice = page.locator("#intake .retry-note")
    notice.wait_for()  # while it waits for Retry-After, the person is told
    said = notice.inner_text()
    assert "معلوم نیست" in said and "همان شناسه" in said and "دو بار ثبت نمی‌شود" in said
    assert page.get_by_role("button", name="در حال ثبت…").is_disabled()  # double clicks still do nothing

    code = page.locator("#tracking-code").get_attribute("data-code")
    assert flaky.lost_answers[0]["status"] == 201
    assert code == flaky.lost_answers[0]["body"]["tracking_code"], "the retry got the first answer"
    assert len(flaky.keys) == 2 and flaky.keys[0] == flaky.keys[1] and UUID.match(flaky.keys[0])
    assert flaky.times[1] - flaky.times[0] >= 1.9, "Retry-After: 2 was honoured"
    assert cases_with_text(platform, text) == [code], "registered once"
    assert page.locator(".retry-note").count() == 0
    assert page.errors == []


def test_when_the_retries_run_out_the_person_is_told_pressing_again_is_safe_and_it_is_registered_once(web, platform):
    text = f"مستمری این ماه واریز نشده است؛ سامانه در دسترس نیست {uuid.uuid4().hex[:8]}."
    flaky = Flaky(retry_after="0")
    flaky.down = True
    page = web.page(None)
    page.context.route("**/api/v1/cases", flaky)
    page.goto("/web/citizen/new.html")
    page.get_by_label("شرح درخواست یا گزارش (الزامی)").fill(text)
    submit = page.get_by_role("button", name="ثبت و دریافت کد رهگیری")
    submit.click()

    summary = page.locator("#intake .form-errors")
    summary.wait_for()
    said = summary.inner_text()
    assert "نتیجهٔ درخواست هنوز معلوم نیست" in said
    assert "زدن دوبارهٔ همان دکمه بی‌خطر است" in said and "دو بار ثبت نمی‌شود" in said
    assert flaky.keys[0] in said  # the request's key, to quote to support
    assert len(flaky.keys) == 4 and len(set(flaky.keys)) == 1 and UUID.match(flaky.keys[0]), "bounded, one key"
    assert submit.is_enabled()
    web.check(page, "citizen-new-outcome-unknown")
    assert cases_with_text(platform, text) == []

    flaky.down = False  # the platform is back: the person presses again, the form unchanged
    submit.click()
    code = page.locator("#tracking-code").get_attribute("data-code")
    assert len(flaky.keys) == 5 and flaky.keys[4] == flaky.keys[0], "pressing again sends the same key"
    assert cases_with_text(platform, text) == [code]


def test_the_hotline_sends_a_lost_registration_again_with_its_key_and_a_changed_call_gets_another(web, platform):
    text = f"تماس‌گیرنده می‌پرسد مستمری کی واریز می‌شود {uuid.uuid4().hex[:8]}."
    flaky = Flaky(lose=1, retry_after="1")
    page = staff_page(web, "hotline", "/web/hotline/")
    page.context.route("**/api/v1/staff/cases", flaky)
    page.get_by_label("شرح تماس (الزامی)").fill(text)
    page.get_by_role("button", name="ثبت تماس").click()
    made = page.locator("#made-code")
    made.wait_for()
    code = made.get_attribute("data-code")
    assert code == flaky.lost_answers[0]["body"]["tracking_code"]
    assert len(flaky.keys) == 2 and flaky.keys[0] == flaky.keys[1] and UUID.match(flaky.keys[0])
    assert cases_with_text(platform, text) == [code]

    page.get_by_label("شرح تماس (الزامی)").fill(text + " دوباره")  # another call: another action, another key
    page.get_by_role("button", name="ثبت تماس").click()
    page.locator(f"#made-code:not([data-code='{code}'])").wait_for()
    assert len(flaky.keys) == 3 and flaky.keys[2] != flaky.keys[0] and UUID.match(flaky.keys[2])
