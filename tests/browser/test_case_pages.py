"""The Didehban pages in a real browser against the real platform: a citizen registers a case (a problem
from the API shown beside its field first) and follows it; staff refer it down to Rey county from their
cartables; the county expert answers, the province head returns it once with a note, then the answer is
approved up the chain; the citizen sees the answer and rates it. Also: an anonymous report and its secret,
the hotline console from the keyboard, the dashboards and scorecards, an administrator restoring access."""
from __future__ import annotations

import re
import time

import pytest
import requests

from tests.browser.pages import login, sms_to, staff_page
from tests.e2e.casework import down_to_rey

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

MOBILE = "09351239001"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
CASE_TEXT = "مستمری سه ماه گذشتهٔ مادرم واریز نشده و اداره پاسخی نمی‌دهد."
ANSWER = "مستمری سه ماه، جمعاً ۴۵٬۰۰۰٬۰۰۰ ریال، امروز به حساب مادرتان واریز شد."


def open_from_cartable(page, code: str):
    page.locator(f"#cartable-table tr[data-code='{code}'] a").click()
    page.locator("#case-title").wait_for()
    assert code in page.url


def refer(web, username: str, code: str, unit: str, note: str, shot: str | None = None):
    page = staff_page(web, username)
    open_from_cartable(page, code)
    if shot:
        web.check(page, shot)
    page.get_by_label("واحد مقصد").select_option(label=unit)
    page.get_by_label("یادداشت ارجاع").fill(note)
    page.get_by_role("button", name="ارجاع", exact=True).click()
    assert f"ارجاع شد به «{unit}»" in page.locator(".alert.ok").inner_text()
    assert page.locator("#holder").inner_text() == unit
    return page


def test_the_home_page_serves_the_local_persian_font(web):
    page = web.page("/")
    assert page.locator("html").get_attribute("dir") == "rtl" and page.locator("html").get_attribute("lang") == "fa"
    page.evaluate("document.fonts.ready.then(() => true)")
    assert page.evaluate("document.fonts.check('16px Vazirmatn')")
    assert any(url.endswith("/web/assets/fonts/vazirmatn-33.0.3-variable.woff2") for url in web.requests)
    assert page.locator("a[aria-current=page]").inner_text() == "خانه"
    web.check(page, "home")
    login_form = web.page("/web/staff/")
    web.check(login_form, "staff-login", wait_for="#content form")
    missing = web.page("/web/no-such-page.html")
    assert missing.locator("h1").inner_text() == "این صفحه پیدا نشد"
    web.check(missing, "not-found")


def test_a_citizen_registers_and_follows_a_case_that_is_answered_and_approved_up_the_chain(web, api, platform):
    citizen = web.page("/web/citizen/new.html")
    web.check(citizen, "citizen-new", wait_for="#intake")

    # the API's Persian problem, beside the field it names
    citizen.get_by_label("شرح درخواست یا گزارش (الزامی)").fill("کوتاه")
    citizen.get_by_role("button", name="ثبت و دریافت کد رهگیری").click()
    text = citizen.get_by_label("شرح درخواست یا گزارش (الزامی)")
    error = citizen.locator("#intake .field-error").first
    error.wait_for()
    assert text.get_attribute("aria-invalid") == "true"
    assert error.get_attribute("id") in text.get_attribute("aria-describedby").split()
    assert re.search(r"[\u0600-\u06ff]", error.inner_text())
    assert citizen.locator("#intake .form-errors").evaluate("node => node === document.activeElement")
    web.check(citizen, "citizen-new-problem")

    text.fill(CASE_TEXT)
    citizen.get_by_label("موضوع (اختیاری)").select_option("pension")
    citizen.get_by_label("شمارهٔ همراه").fill("۰۹۳۵۱۲۳۹۰۰۱")  # Persian digits, as a phone keyboard types them
    citizen.get_by_label("پیوست مدارک (اختیاری)").set_input_files(
        [{"name": "فیش-واریز.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    citizen.get_by_role("button", name="ثبت و دریافت کد رهگیری").click()
    code = citizen.locator("#tracking-code").get_attribute("data-code")
    assert re.fullmatch(r"[0-9]{16}", code)
    assert re.fullmatch(r"[۰-۹]{4}-[۰-۹]{4}-[۰-۹]{4}-[۰-۹]{4}", citizen.locator("#tracking-code").inner_text())
    assert "۱ از ۱ پیوست فرستاده شد" in citizen.locator("#content").inner_text()
    web.check(citizen, "citizen-new-registered")
    assert any(code in m for m in sms_to(platform, MOBILE, 1))

    citizen.get_by_role("link", name="پیگیری همین درخواست").click()
    citizen.locator("#case-title").wait_for()
    assert citizen.locator("#case-status").get_attribute("data-status") == "registered"
    timeline = citizen.locator(".timeline").inner_text()
    assert "ثبت شد" in timeline and "مدارک افزوده شد" in timeline
    assert re.search(r"[۰-۹]{4}/[۰-۹]{2}/[۰-۹]{2}", timeline)  # Jalali, Persian digits
    web.check(citizen, "citizen-track")

    # down the tree, each from their own cartable
    first = staff_page(web, "operator")
    web.check(first, "staff-cartable-operator", wait_for=f"tr[data-code='{code}']")
    refer(web, "operator", code, "معاونت توانبخشی", "مستمری؛ معاونت توانبخشی پیگیری کند.", shot="staff-case-operator")
    refer(web, "rehab.expert", code, "اداره کل بهزیستی استان تهران", "استان تهران پیگیری کند.")
    refer(web, "tehran.head", code, "اداره بهزیستی شهرستان ری", "شهرستان ری امروز پاسخ دهد.")

    # the county expert: the case in the cartable with a live countdown, a notification, the answer
    expert = staff_page(web, "rey.expert")
    countdown = expert.locator(f"tr[data-code='{code}'] .countdown")
    before = countdown.inner_text()
    assert "مانده" in before and re.search(r"[۰-۹]{2}:[۰-۹]{2}:[۰-۹]{2}", before)
    expert.wait_for_function("([node, before]) => node.textContent !== before", arg=[countdown.element_handle(), before])
    deadline = time.monotonic() + 20
    while "پرونده تازه در کارتابل" not in expert.locator("#notifications-list").inner_text():
        assert time.monotonic() < deadline, "no notification of the new case"
        expert.reload()
        expert.locator("#notifications-list li").first.wait_for()
    web.check(expert, "staff-cartable", wait_for="#unread-badge.badge")
    expert.get_by_role("button", name="همه خوانده شد").click()
    expert.locator("#unread-badge.hint").wait_for()
    open_from_cartable(expert, code)
    assert expert.locator("#deadline-countdown").inner_text().endswith("مانده)")
    expert.get_by_label("متن پاسخ برای شهروند").fill("مستمری واریز شد.")
    expert.get_by_label("پیوست‌ها (اختیاری)").set_input_files(
        [{"name": "رسید-بانک.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    expert.get_by_role("button", name="ثبت پاسخ و فرستادن برای تأیید").click()
    expert.locator(".alert.ok").wait_for()
    assert expert.locator("#holder").inner_text() == "اداره کل بهزیستی استان تهران"
    web.check(expert, "staff-case-answered")

    # the province head returns it with a note; the expert answers again
    head = staff_page(web, "tehran.head")
    open_from_cartable(head, code)
    assert head.locator("#pending-answer").inner_text() == "مستمری واریز شد."
    web.check(head, "staff-case-approval")
    head.get_by_label("یادداشت بازنگری (الزامی)").fill("مبلغ و تاریخ واریز را بنویسید.")
    head.get_by_role("button", name="برگرداندن", exact=True).click()
    head.locator(".alert.ok").wait_for()
    expert = staff_page(web, "rey.expert")
    open_from_cartable(expert, code)
    assert "مبلغ و تاریخ واریز را بنویسید." in expert.locator("#history").inner_text()
    expert.get_by_label("متن پاسخ برای شهروند").fill(ANSWER)
    expert.get_by_role("button", name="ثبت پاسخ و فرستادن برای تأیید").click()
    expert.locator(".alert.ok").wait_for()

    # approved up the chain: province, national unit, inspection's operators
    for approver in ("tehran.head", "rehab.head", "operator"):
        page = staff_page(web, approver)
        open_from_cartable(page, code)
        page.get_by_role("button", name="تأیید", exact=True).click()
        page.locator(".alert.ok").wait_for()
    assert page.locator("#case-status").get_attribute("data-status") == "answered"

    # the citizen sees the answer, and no internal note
    citizen.reload()
    citizen.locator("#answer-text").wait_for()
    assert citizen.locator("#answer-text").inner_text() == ANSWER
    assert citizen.locator("#case-status").get_attribute("data-status") == "answered"
    shown = citizen.locator("#content").inner_text()
    assert "مبلغ و تاریخ واریز را بنویسید." not in shown and "شهرستان ری امروز پاسخ دهد." not in shown
    web.check(citizen, "citizen-track-answered")
    citizen.get_by_label("۵ — کاملاً راضی‌ام").check()
    citizen.get_by_role("button", name="ثبت امتیاز").click()
    citizen.locator("#case-status[data-status='closed']").wait_for()
    assert "۵ از ۵" in citizen.locator("#content").inner_text()


def test_an_anonymous_report_keeps_its_secret_and_evidence_is_checked_by_content(web):
    page = web.page("/web/citizen/new.html")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_label("گزارش تخلف").check()
    page.get_by_label("شرح درخواست یا گزارش (الزامی)").fill("در این مرکز از خانواده‌ها برای پذیرش پول گرفته می‌شود.")
    page.get_by_label("بی‌نام می‌فرستم").check()
    assert page.locator("#identity").is_hidden()
    page.get_by_role("button", name="ثبت و دریافت کد رهگیری").click()
    secret = page.locator("#case-secret").get_attribute("data-secret")
    code = page.locator("#tracking-code").get_attribute("data-code")
    assert re.fullmatch(r"[A-Z2-7]{16}", secret)
    page.get_by_role("button", name="کپی رمز پیگیری").click()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    web.check(page, "citizen-new-anonymous")

    track = web.page(f"/web/citizen/track.html?code={code}")  # another browser: the code alone shows nothing
    track.locator("#lookup .field-error").wait_for()
    assert "رمز پیگیری" in track.locator("#lookup .field-error").inner_text()
    assert track.get_by_label("کد رهگیری (الزامی)").get_attribute("aria-invalid") == "true"
    track.get_by_label("رمز پیگیری").fill(secret.lower())
    track.get_by_role("button", name="پیگیری").click()
    track.locator("#case-title").wait_for()
    track.get_by_label("فایل").set_input_files([{"name": "photo.jpg", "mimeType": "image/jpeg",
                                                "buffer": b"MZ\x90\x00" + bytes(100)}])
    track.get_by_role("button", name="فرستادن مدرک").click()
    error = track.locator("#evidence .field-error")
    error.wait_for()
    assert track.get_by_label("فایل").get_attribute("aria-invalid") == "true"
    assert re.search(r"[\u0600-\u06ff]", error.inner_text())
    web.check(track, "citizen-track-evidence-problem")


def test_the_hotline_registers_a_call_from_the_keyboard_and_finds_the_caller_s_cases(web):
    page = staff_page(web, "hotline", "/web/hotline/")
    mobile = page.get_by_label("شمارهٔ همراه تماس‌گیرنده")
    assert mobile.evaluate("node => node === document.activeElement")
    page.keyboard.type("09351239009")
    page.keyboard.press("Tab")
    page.keyboard.type("علی رضایی")
    page.keyboard.press("Tab")  # national ID: left empty
    page.keyboard.press("Tab")  # kind: complaint → violation report → question
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    for _ in range(3):  # urgency, category, the text
        page.keyboard.press("Tab")
    page.keyboard.type("تماس‌گیرنده می‌پرسد مستمری این ماه کی واریز می‌شود.")
    page.keyboard.press("Control+Enter")
    made = page.locator("#made-code")
    made.wait_for()
    code = made.get_attribute("data-code")
    assert page.locator("#made-title").evaluate("node => node === document.activeElement")
    web.check(page, "hotline-registered")

    page.keyboard.press("Alt+Shift+F")
    assert page.get_by_label("کد رهگیری یا شمارهٔ همراه").evaluate("node => node === document.activeElement")
    page.keyboard.type("۰۹۳۵۱۲۳۹۰۰۹")
    page.keyboard.press("Enter")
    page.locator("#found table").wait_for()
    assert code in page.locator("#found").inner_html()
    page.get_by_label("کد رهگیری یا شمارهٔ همراه").fill(code)
    page.keyboard.press("Enter")
    page.locator("#seen-title").wait_for()
    assert "پرسش" in page.locator("#seen-title").inner_text()
    page.keyboard.press("Alt+Shift+N")
    assert mobile.evaluate("node => node === document.activeElement") and mobile.input_value() == ""
    web.check(page, "hotline")


def test_managers_see_dashboards_and_scorecards_and_the_administrator_restores_access(web, api):
    accounts = api.call("GET", "/api/v1/staff/accounts", "admin").json()["items"]
    target = next(a for a in accounts if a["username"] == "shemiranat.expert")
    revoked = api.call("POST", f"/api/v1/staff/accounts/{target['id']}/revoke", "admin",
                       json={"reason": "کارتابل ۴۸ ساعت باز نشد"})
    assert revoked.status_code == 200, revoked.text

    page = web.page("/web/staff/admin.html")
    login(page, "admin", "not-the-password")
    summary = page.locator("form .form-errors")
    summary.wait_for()
    assert re.search(r"[\u0600-\u06ff]", summary.inner_text())
    login(page, "admin")
    card = page.locator("li[data-username='shemiranat.expert']")
    card.wait_for()
    assert "کارتابل ۴۸ ساعت باز نشد" in card.inner_text()
    web.check(page, "staff-admin")
    new_password = card.get_by_label(re.compile("گذرواژهٔ تازه")).input_value()
    card.get_by_role("button", name="بازگرداندن دسترسی").click()
    page.locator("#admin-status .alert.ok").wait_for()
    assert page.locator("#no-revoked").is_visible()
    again = requests.post(f"{web.base}/api/v1/auth/login", json={"username": "shemiranat.expert",
                                                                 "password": new_password}, timeout=10)
    assert again.status_code == 403 and again.json()["code"] == "password_change_required", again.text
    page = web.page("/web/staff/")  # the person chooses a password of their own, then works
    login(page, "shemiranat.expert", new_password)
    page.get_by_label("گذرواژهٔ تازه", exact=True).fill("shemiranat-own-pass")
    page.get_by_label("تکرار گذرواژهٔ تازه").fill("shemiranat-own-pass")
    page.get_by_role("button", name="ثبت گذرواژه و ورود").click()
    page.locator("#who button").wait_for()
    assert requests.post(f"{web.base}/api/v1/auth/login", json={"username": "shemiranat.expert",
                                                                 "password": "shemiranat-own-pass"},
                         timeout=10).status_code == 200

    registered = api.call("POST", "/api/v1/cases", json={"kind": "complaint", "category": "pension",
                                                          "text": "نوبت ویزیت مرکز توانبخشی داده نمی‌شود."})
    down_to_rey(api, registered.json()["tracking_code"])  # a case in Tehran's subtree, for the charts
    reports = staff_page(web, "tehran.head", "/web/staff/reports.html")
    reports.locator("#by-kind li").first.wait_for()
    assert "تهران" in reports.locator("#scope").inner_text()
    assert "شکایت" in reports.locator("#by-kind").inner_text()
    assert "مستمری" in reports.locator("#top-problems").inner_text()
    assert reports.locator("#on-time-units li").count() >= 1
    for chart in ("#by-kind", "#by-status", "#on-time-units", "#on-time-managers", "#misses", "#top-problems"):
        assert reports.locator(chart).is_visible()
    reports.get_by_label("بازه", exact=True).select_option("365")
    reports.get_by_role("button", name="نمایش").click()
    reports.locator("#report[aria-busy='false'] #by-kind").wait_for()
    web.check(reports, "staff-reports")

    hotline = staff_page(web, "hotline", "/web/staff/reports.html")  # not a manager: told so, no data
    assert "این صفحه برای نقش شما نیست" in hotline.locator("#content").inner_text()
