"""The pages check before sending, and a 429 says how long to wait (issue 22), in a real browser against the real
platform. A second gateway on the same broker keeps the production rate limits (10 registrations and 5 logins a
minute per client; the platform of the other browser tests lifts them), so that what a person meets is the real
429 and its real Retry-After:

- a citizen who makes and fixes one mistake after another sends nothing until the form is right: eleven presses
  of the button and the case is still registered, the budget untouched;
- when the registration budget is spent all the same (others behind the same address), the page says in Persian,
  with Persian digits, how many seconds to wait;
- six colleagues logging in from one office: the sixth is told to wait so many seconds, and that the account is
  not locked; an empty login sends nothing and names each field once;
- a beneficiary's national ID with a wrong check digit and a donation's impossible amount are refused on the page;
- a fourth code asked for one national ID from another device is told to wait, not «sent»."""
from __future__ import annotations

import re

import pytest
import requests

from common.config import PROJECT_ROOT
from scripts.processes import free_port, start_platform, wait_ready
from services.complaints.demo_staff import DEMO_PASSWORD
from tests.browser.pages import login, posts_to
from tests.helpers import PLATFORM_READY_SECONDS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

TEXT = "مستمری این ماه مادرم به حساب او واریز نشده است."
REQUIRED = "این مورد الزامی است و خالی مانده است؛ آن را وارد کنید."
PERSIAN_NUMBER = re.compile(r"[۰-۹]+")
LATIN_DIGIT = re.compile(r"[0-9]")
COLLEAGUES = ["operator", "inspector", "hotline", "tehran.head", "rey.expert"]


@pytest.fixture(scope="module")
def limited(platform, module_vhost, tmp_path_factory):
    """A gateway with production's per-minute counts (config.py) spread over ten minutes, on the platform's broker
    with its own in-memory counts: on a slow machine the five logins before the sixth took over a minute, and
    a one-minute window let the sixth in."""
    ports = {"gateway": free_port(), "metrics:gateway": free_port(),
             "sms-operator": int(platform["sms"].rsplit(":", 1)[1])}
    logs = tmp_path_factory.mktemp("limited-gateway")
    group = start_platform(module_vhost, platform["db"], ports, str(PROJECT_ROOT), log_dir=str(logs), only={"gateway"},
                           extra_env={"RATE_LIMIT_REGISTER": "10 per 10 minutes", "RATE_LIMIT_LOGIN": "5 per 10 minutes"})
    base = f"http://127.0.0.1:{ports['gateway']}"
    try:
        wait_ready(f"{base}/readyz", group, timeout=PLATFORM_READY_SECONDS)
        yield base
    finally:
        group.stop(timeout=3)  # the graceful stop has tests of its own (tests/integration/test_sigterm.py)


def answers_to(page, path: str) -> list[dict]:
    """Every answer the page gets from `path`: its status and Retry-After (read from the event, no round trip)."""
    got: list[dict] = []
    page.on("response", lambda r: got.append({"status": r.status, "retry_after": r.headers.get("retry-after")})
            if r.url.endswith(path) else None)
    return got


def press(page, form: str, button: str) -> None:
    """Press the form's button and wait for its answer on the page: the list of problems beside the fields."""
    page.get_by_role("button", name=button).click()
    page.locator(f"{form} .form-errors").wait_for()


def shown_wait(page, form: str, retry_after: int) -> int:
    """The seconds the page says to wait, as shown (Persian digits), checked against Retry-After."""
    message = page.locator(f"{form} .wait-message")
    assert message.get_attribute("data-seconds") == str(retry_after)
    text = message.inner_text()
    assert "ثانیه" in text and not LATIN_DIGIT.search(text), text
    seconds = int(PERSIAN_NUMBER.search(text).group(0).translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789")))
    assert retry_after - 3 <= seconds <= retry_after, (text, retry_after)
    return seconds


def test_a_citizen_s_mistakes_are_told_on_the_page_and_spend_no_registration(web, limited):
    page = web.page(None)
    sent = posts_to(page, "/api/v1/cases")
    page.goto(f"{limited}/web/citizen/new.html")
    text = page.get_by_label("شرح درخواست یا گزارش (الزامی)")
    mobile = page.get_by_label("شمارهٔ همراه")
    national_id = page.get_by_label("کد ملی")

    press(page, "#intake", "ثبت و دریافت کد رهگیری")  # nothing written
    assert page.locator("#intake .field-error").first.inner_text().endswith(REQUIRED)
    assert text.get_attribute("aria-invalid") == "true"
    assert "شرح درخواست یا گزارش: " + REQUIRED in page.locator("#intake .form-errors").inner_text()
    web.check(page, "checks-citizen-empty")

    text.fill("کوتاه")
    press(page, "#intake", "ثبت و دریافت کد رهگیری")
    short = page.locator("#intake .field-error").first.inner_text()
    assert "۱۰" in short and not LATIN_DIGIT.search(short)

    text.fill(TEXT)
    mobile.fill("۰۹۱۲۱۲۳")  # a digit short
    press(page, "#intake", "ثبت و دریافت کد رهگیری")
    assert mobile.get_attribute("aria-invalid") == "true" and text.get_attribute("aria-invalid") is None

    mobile.fill("۰۹۱۲۱۲۳۴۵۶۷")
    national_id.fill("0499370898")  # the check digit is wrong
    for _ in range(8):  # pressed again and again, as people do
        press(page, "#intake", "ثبت و دریافت کد رهگیری")
    error = page.locator("#intake .field-error").first.inner_text()
    assert national_id.get_attribute("aria-invalid") == "true"
    assert "۱۰ رقم" in error and "رقم کنترل" in error
    web.check(page, "checks-citizen-national-id")
    assert sent == [], "a mistake found on the page sent a registration"

    national_id.fill("۰۴۹۹۳۷۰۸۹۹")
    page.get_by_role("button", name="ثبت و دریافت کد رهگیری").click()
    page.locator("#tracking-code").wait_for()  # eleven presses, and the registration is still accepted
    assert len(sent) == 1
    web.check(page, "checks-citizen-registered")


def test_when_the_registration_budget_is_spent_the_page_says_how_many_seconds_to_wait(web, limited):
    # others behind the same address (a family, an internet café) spend the budget first
    for _ in range(12):
        answer = requests.post(f"{limited}/api/v1/cases", json={"kind": "question", "text": TEXT}, timeout=30)
        if answer.status_code == 429:
            break
        assert answer.status_code == 201, answer.text
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) >= 1

    page = web.page(None)
    answers = answers_to(page, "/api/v1/cases")
    page.goto(f"{limited}/web/citizen/new.html")
    page.get_by_label("شرح درخواست یا گزارش (الزامی)").fill(TEXT)
    page.get_by_role("button", name="ثبت و دریافت کد رهگیری").click()
    page.locator("#intake .wait-message").wait_for()
    assert [a["status"] for a in answers] == [429]
    assert "کمی صبر کنید" in page.locator("#intake .form-errors").inner_text()
    shown_wait(page, "#intake", int(answers[0]["retry_after"]))
    web.check(page, "checks-citizen-rate-limited")


def test_an_office_s_sixth_login_is_told_to_wait_and_that_the_account_is_not_locked(web, limited):
    empty = web.page(None)
    sent = posts_to(empty, "/api/v1/auth/login")
    empty.goto(f"{limited}/web/staff/")
    press(empty, "#content form", "ورود")
    items = empty.locator("#content .form-errors li").all_inner_texts()
    assert items == [f"نام کاربری: {REQUIRED}", f"گذرواژه: {REQUIRED}"], "each field named once"
    assert sent == []
    web.check(empty, "checks-login-empty")

    for username in COLLEAGUES:  # five colleagues in one office, one after another
        colleague = web.page(None)
        colleague.goto(f"{limited}/web/staff/")
        login(colleague, username)
        colleague.locator("#who button").wait_for()

    sixth = web.page(None)
    answers = answers_to(sixth, "/api/v1/auth/login")
    sixth.goto(f"{limited}/web/staff/")
    login(sixth, "shemiranat.expert", DEMO_PASSWORD)
    sixth.locator("#content .wait-message").wait_for()
    assert [a["status"] for a in answers] == [429]
    summary = sixth.locator("#content .form-errors").inner_text()
    assert "کمی صبر کنید" in summary and "قفل شدن حساب" in summary  # «… به معنی قفل شدن حساب … نیست»
    hint = sixth.locator("#content .field .hint").last.inner_text()
    assert "حساب شما قفل نشده است" in hint
    shown_wait(sixth, "#content", int(answers[0]["retry_after"]))
    web.check(sixth, "checks-login-rate-limited")


def test_a_wrong_check_digit_and_an_impossible_amount_are_refused_on_the_page(web, campaigns):
    me = web.page(None)
    sent = posts_to(me, "/api/v1/transparency/me/code")
    me.goto("/web/shafaf/me.html")
    me.get_by_label("کد ملی (الزامی)").fill("۰۴۹۹۳۷۰۸۹۸")
    me.get_by_role("button", name="دریافت کد یک‌بارمصرف").click()
    error = me.locator("#me-id .field-error")
    error.wait_for()
    assert "رقم کنترل" in error.inner_text() and sent == []
    web.check(me, "checks-shafaf-me-national-id")

    donate = web.page(None)
    sent = posts_to(donate, "/api/v1/donations")
    donate.goto("/web/donate/")
    donate.get_by_label("استان (الزامی)").select_option(label="بوشهر")
    donate.get_by_label("تجهیز مراکز توان‌بخشی استان بوشهر").check()
    amount = donate.get_by_label("مبلغ به ریال (الزامی)")
    for wrong in ("۰", "12.5", "2000000000000"):
        amount.fill(wrong)
        press(donate, "#donation", "پرداخت از درگاه بانکی")
        assert amount.get_attribute("aria-invalid") == "true"
    message = donate.locator("#donation .field-error").first.inner_text()
    assert "۱٬۰۰۰٬۰۰۰٬۰۰۰٬۰۰۰ ریال" in message and not LATIN_DIGIT.search(message)
    assert sent == [] and len(donate.context.pages) == 1, "no request, no payment window"
    web.check(donate, "checks-donate-amount")


def test_a_code_asked_again_from_another_device_is_told_to_wait_not_sent(web, limited):
    """A beneficiary asked for three codes on the phone (the server texts no more than three a mobile in ten
    minutes); on the computer the page has asked nothing and said «sent» for a fourth request the server dropped.
    The gateway counts a national ID's requests from every device, whether or not the ID is paid: the page says
    no new code was sent and counts down the seconds the gateway gave."""
    national_id = "1234567024"  # paid or not, every answer is the same
    for _ in range(3):  # on the phone
        phone = requests.post(f"{limited}/api/v1/transparency/me/code", json={"national_id": national_id}, timeout=10)
        assert phone.status_code == 202, phone.text

    computer = web.page(None)
    answers = answers_to(computer, "/api/v1/transparency/me/code")
    computer.goto(f"{limited}/web/shafaf/me.html")
    computer.get_by_label("کد ملی (الزامی)").fill(national_id)
    computer.get_by_role("button", name="دریافت کد یک‌بارمصرف").click()
    computer.locator("#code-note .alert.warn").wait_for()
    assert [a["status"] for a in answers] == [429]
    assert "کد تازه‌ای فرستاده نشد" in computer.locator("#code-note").inner_text()
    assert "پیامک شد" not in computer.locator("#content").inner_text()
    wait = int(computer.locator("#resend-status").get_attribute("data-seconds"))
    assert int(answers[0]["retry_after"]) - 3 <= wait <= int(answers[0]["retry_after"])
    assert computer.get_by_role("button", name="فرستادن دوبارهٔ کد").get_attribute("aria-disabled") == "true"
    web.check(computer, "checks-shafaf-me-code-other-device")
