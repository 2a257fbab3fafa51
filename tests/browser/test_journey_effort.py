"""Issue 22: the effort of each of the eight journeys, walked as the person would (the shortest correct path, with
the page's own controls only) in a real browser against the real platform. Each counts its clicks and submitting
key presses (tests/browser/journeys.py), times itself, writes the figures to test-artifacts/journeys.json and stays
within the clicks budget in docs/journeys.md: a change that adds clicks fails here until the docs say so.
What the staff do before or after a journey (a case referred down to the county, a cycle prepared) is set up
through the API and not counted."""
from __future__ import annotations

import re

import pytest
import requests

from services.complaints.demo_staff import DEMO_PASSWORD
from tests.browser.journeys import Journey, budgets, write
from tests.e2e.casework import down_to_rey
from tests.e2e.payments import LINE, cycle_reaches
from tests.e2e.transparency import PEOPLE, _until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

JOURNEYS = {"citizen", "whistleblower", "hotline", "staff_chain", "finance_approver", "shafaf_visitor",
            "beneficiary", "donor"}
COMPLAINT = "مستمری سه ماه گذشتهٔ مادرم واریز نشده و اداره پاسخی نمی‌دهد."
REPORT = "در این مرکز از خانواده‌ها برای پذیرش مددجو پول نقد گرفته می‌شود."
ANSWER = "مستمری سه ماه، جمعاً ۴۵٬۰۰۰٬۰۰۰ ریال، امروز به حساب مادرتان واریز شد."


def finished(journey: Journey) -> None:
    """Recorded, then held to its budget and to the generous bound on time."""
    write(journey)
    budget = budgets()[journey.key]
    assert journey.presses <= budget, (f"{journey.key}: {journey.presses} clicks and submitting keys, the budget in "
                                       f"docs/journeys.md is {budget}", journey.record())
    assert journey.seconds <= journey.bound, (journey.key, journey.record())


def test_the_docs_keep_a_budget_for_each_of_the_eight_journeys():
    assert set(budgets()) == JOURNEYS


def test_a_citizen_registers_a_complaint_and_follows_it(web):
    j = Journey("citizen")
    page = j.open(web, "/web/citizen/new.html")
    j.type(page.get_by_label("شرح درخواست یا گزارش (الزامی)"), COMPLAINT)
    j.type(page.get_by_label("شمارهٔ همراه"), "09351239101")
    j.click(page.get_by_role("button", name="ثبت و دریافت کد رهگیری"))
    code = page.locator("#tracking-code").get_attribute("data-code")
    j.click(page.get_by_role("link", name="پیگیری همین درخواست"))
    j.done(page.locator("#case-status[data-status='registered']"))
    assert code in page.url and page.locator("#case-title").is_visible()
    finished(j)


def test_a_whistleblower_reports_anonymously_and_returns_with_the_secret(web):
    j = Journey("whistleblower")
    page = j.open(web, "/web/citizen/new.html")
    j.check(page.get_by_label("گزارش تخلف"))
    j.type(page.get_by_label("شرح درخواست یا گزارش (الزامی)"), REPORT)
    j.check(page.get_by_label("بی‌نام می‌فرستم"))
    j.click(page.get_by_role("button", name="ثبت و دریافت کد رهگیری"))
    code = page.locator("#tracking-code").get_attribute("data-code")
    secret = page.locator("#case-secret").get_attribute("data-secret")

    later = j.open(web, "/web/citizen/track.html")  # days later, another browser: only what was written down
    j.type(later.get_by_label("کد رهگیری (الزامی)"), code)
    j.type(later.get_by_label("رمز پیگیری"), secret)
    j.click(later.get_by_role("button", name="پیگیری"))
    j.done(later.locator("#case-status[data-status='registered']"))
    assert later.locator("#lookup .field-error").count() == 0
    finished(j)


def test_a_hotline_operator_registers_a_call_and_finds_the_caller_s_cases(web):
    mobile = "09351239102"
    j = Journey("hotline")
    page = j.open(web, "/web/hotline/")
    j.login(page, "hotline", DEMO_PASSWORD)
    j.type(page.get_by_label("شمارهٔ همراه تماس‌گیرنده"), mobile)
    j.type(page.get_by_label("شرح تماس (الزامی)"), "تماس‌گیرنده می‌گوید مستمری این ماه پدرش واریز نشده است.")
    j.press(page.get_by_label("شرح تماس (الزامی)"), "Control+Enter")
    code = page.locator("#made-code").get_attribute("data-code")
    search = page.get_by_label("کد رهگیری یا شمارهٔ همراه")
    j.type(search, mobile)
    j.press(search, "Enter")
    j.done(page.locator("#found table"))
    assert code in page.locator("#found").inner_html()
    finished(j)


def test_county_and_province_staff_answer_from_the_cartable_and_approve_up_the_chain(web, api):
    code = api.call("POST", "/api/v1/cases", json={"kind": "complaint", "text": COMPLAINT}).json()["tracking_code"]
    down_to_rey(api, code)
    j = Journey("staff_chain")
    expert = j.open(web, "/web/staff/")
    j.login(expert, "rey.expert", DEMO_PASSWORD)
    j.click(expert.locator(f"#cartable-table tr[data-code='{code}'] a"))
    j.type(expert.get_by_label("متن پاسخ برای شهروند"), ANSWER)
    j.click(expert.get_by_role("button", name="ثبت پاسخ و فرستادن برای تأیید"))
    expert.locator(".alert.ok").wait_for()
    for approver in ("tehran.head", "rehab.head", "operator"):
        page = j.open(web, "/web/staff/")
        j.login(page, approver, DEMO_PASSWORD)
        j.click(page.locator(f"#cartable-table tr[data-code='{code}'] a"))
        j.click(page.get_by_role("button", name="تأیید", exact=True))
        page.locator(".alert.ok").wait_for()
    j.done(page.locator("#case-status[data-status='answered']"))
    assert api.call("GET", f"/api/v1/cases/{code}").json()["status"] == "answered"
    finished(j)


def test_a_finance_approver_approves_a_waiting_cycle(web, api, paid):
    opened = api.call("POST", "/api/v1/staff/payments/cycles", "finance.expert",
                      headers={"Idempotency-Key": "journey-effort-1405-08"}, json={"month": "1405-08", "line": LINE})
    assert opened.status_code == 201, opened.text
    cycle_id = opened.json()["id"]
    assert cycle_reaches(api, cycle_id, "entitlements_computed")["stage"] == "entitlements_computed"
    j = Journey("finance_approver")
    page = j.open(web, "/web/finance/")
    j.login(page, "finance.approver", DEMO_PASSWORD)
    j.click(page.locator(f"#waiting-cycles tr[data-cycle='{cycle_id}']").get_by_role("button", name="باز کردن"))
    j.click(page.get_by_role("button", name="تأیید دوره و فرستادن به بانک"))
    j.done(page.locator("#cycle .alert.ok"))
    assert page.locator("#cycle-approved-by").inner_text() == "مدیر مالی دفتر مستمری (شما)"
    finished(j)


def test_a_shafaf_visitor_finds_a_dataset_filters_it_and_downloads_it(web, funded):
    _until(lambda: requests.get(f"{web.base}/api/v1/transparency/datasets", timeout=10).json()["items"],
           lambda items: all(i["version"] for i in items), "every dataset published")
    j = Journey("shafaf_visitor")
    page = j.open(web, "/web/shafaf/")
    j.type(page.get_by_label("جست‌وجو در عنوان و توضیح"), "مراکز")
    j.click(page.locator("#dataset-list li[data-slug='centers'] h3 a"))
    j.choose(page.get_by_label("استان", exact=True), label="تهران")
    j.click(page.get_by_role("button", name="جست‌وجو", exact=True))
    page.wait_for_function("""() => { const cells = [...document.querySelectorAll("#rows td[data-column='province_fa']")];
        return cells.length > 0 && cells.every((td) => td.textContent === "تهران"); }""")
    with page.expect_download() as downloading:
        j.click(page.get_by_role("link", name="CSV", exact=True))
    j.done(page.locator("#rows tbody tr").first)  # the download has begun, the filtered rows still in sight
    assert downloading.value.suggested_filename.endswith(".csv") and downloading.value.failure() is None
    finished(j)


def test_a_beneficiary_sees_what_was_paid_to_them_with_the_one_time_code(web, platform, paid):
    national_id, mobile = next(iter(PEOPLE.items()))
    _until(lambda: requests.get(f"{platform['base']}/api/v1/transparency/spending?by=line", timeout=10).json(),
           lambda body: body["households"] == len(PEOPLE), "the cycle's payments at transparency")
    j = Journey("beneficiary")
    page = j.open(web, "/web/shafaf/me.html")
    j.type(page.get_by_label("کد ملی (الزامی)"), national_id)
    j.click(page.get_by_role("button", name="دریافت کد یک‌بارمصرف"))
    texted = _until(lambda: requests.get(f"{platform['sms']}/api/messages", params={"receptor": mobile},
                                         timeout=10).json(),
                    lambda found: any(re.search(r"کد ورود شما (\d{6})", m["message"]) for m in found), "the code texted")
    code = [re.search(r"کد ورود شما (\d{6})", m["message"]) for m in texted]
    j.type(page.get_by_label("کد یک‌بارمصرف (الزامی)"), [c for c in code if c][-1].group(1))
    j.click(page.get_by_role("button", name="دیدن پرداخت‌ها"))
    j.done(page.locator("#payments tbody tr").first)
    assert "مستمری خانوارهای دارای معلول" in page.locator("#payments tbody").inner_text()
    finished(j)


def test_a_donor_donates_and_gets_the_receipt(web, campaigns):
    j = Journey("donor")
    page = j.open(web, "/web/donate/")
    j.choose(page.get_by_label("استان (الزامی)"), label="بوشهر")
    j.check(page.get_by_label("تجهیز مراکز توان‌بخشی استان بوشهر"))
    j.click(page.get_by_role("button", name="۵۰۰٬۰۰۰ تومان"))
    with page.expect_popup() as opened:
        j.click(page.get_by_role("button", name="پرداخت از درگاه بانکی"))
    j.click(opened.value.get_by_role("button", name="پرداخت", exact=True))  # the gateway's page, then back
    j.done(page.locator("#receipt[data-status='paid'] #receipt-number"), timeout=30_000)
    assert re.fullmatch(r"[۰-۹]+", page.locator("#receipt-number").inner_text())
    assert "۵٬۰۰۰٬۰۰۰ ریال" in page.locator("#receipt-amount").inner_text()
    finished(j)
