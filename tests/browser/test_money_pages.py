"""The money pages in a real browser against the real platform: a donor chooses a province and a purpose,
pays at the fake payment gateway (its own window) and comes back to the receipt; finance staff prepare a
month's cycle, another person approves it, and both follow its progress to settlement."""
from __future__ import annotations

import re

import pytest
import requests

from fakes.bank.app import open_iban
from tests.browser.pages import staff_page
from tests.e2e.payments import LINE, PEOPLE

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

DONOR_MOBILE = "09123334499"


def test_a_donor_pays_at_the_gateway_and_comes_back_to_a_receipt(web, platform, campaigns):
    page = web.page("/web/donate/")
    page.locator("#donation").wait_for()
    web.check(page, "donate")
    page.get_by_label("استان (الزامی)").select_option(label="بوشهر")
    page.get_by_label("تجهیز مراکز توان‌بخشی استان بوشهر").check()
    page.get_by_role("button", name="۵۰۰٬۰۰۰ تومان").click()
    assert page.get_by_label("مبلغ به ریال (الزامی)").input_value() == "5000000"
    assert "۵۰۰٬۰۰۰ تومان" in page.locator("#amount-words").inner_text()
    page.get_by_label("شمارهٔ همراه برای پیامک رسید (اختیاری)").fill(DONOR_MOBILE)

    # a company with a wrong national ID: the API's Persian message beside that field
    page.get_by_label("شرکت (از محل مسئولیت اجتماعی)").check()
    page.get_by_label("نام شرکت (الزامی)").fill("شرکت نمونه")
    company_id = page.get_by_label("شناسهٔ ملی شرکت (الزامی)")
    company_id.fill("12345678901")
    page.get_by_role("button", name="پرداخت از درگاه بانکی").click()
    page.locator("#donation .field-error").wait_for()
    assert company_id.get_attribute("aria-invalid") == "true"
    assert "شناسهٔ ملی شرکت" in page.locator("#donation .field-error").inner_text()
    web.check(page, "donate-problem")

    page.get_by_label("شخص", exact=True).check()
    with page.expect_popup() as opened:
        page.get_by_role("button", name="پرداخت از درگاه بانکی").click()
    gateway = opened.value
    gateway.get_by_role("button", name="پرداخت", exact=True).click()  # the bank's page, then back to the callback
    receipt = page.locator("#receipt[data-status='paid']")
    receipt.wait_for(timeout=30_000)
    number = page.locator("#receipt-number").inner_text()
    assert re.fullmatch(r"[۰-۹]+", number)
    assert "۵٬۰۰۰٬۰۰۰ ریال" in page.locator("#receipt-amount").inner_text()
    assert re.fullmatch(r"[۰-۹]{4}/[۰-۹]{2}/[۰-۹]{2} [۰-۹]{2}:[۰-۹]{2}", page.locator("#receipt-date").inner_text())
    assert "بوشهر" in receipt.inner_text()
    assert page.locator("#receipt-title").evaluate("node => node === document.activeElement")
    web.check(page, "donate-paid")

    page.get_by_role("link", name="نشانی ماندگار این رسید").click()
    page.locator("#receipt[data-status='paid']").wait_for()
    web.check(page, "donate-receipt")
    latin = number.translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789"))
    sms = requests.get(f"{platform['sms']}/api/messages", params={"receptor": DONOR_MOBILE, "wait": 30},
                       timeout=40).json()
    assert any(latin in m["message"] for m in sms)


def test_finance_staff_prepare_approve_and_follow_a_cycle_to_settlement(web, api, funded):
    for national_id, mobile in PEOPLE.items():
        enrolled = api.call("POST", "/api/v1/staff/payments/beneficiaries", "finance.expert", json={
            "national_id": national_id, "full_name": "مددجوی نمونه", "household_size": 2, "province": "tehran",
            "iban": open_iban(national_id), "lines": [LINE], **({"mobile": mobile} if mobile else {})})
        assert enrolled.status_code == 200, enrolled.text

    expert = staff_page(web, "finance.expert", "/web/finance/")
    expert.locator("#budget-lines").wait_for()
    web.check(expert, "finance")
    expert.get_by_label("ردیف بودجه", exact=True).select_option(LINE)  # this Jalali month is chosen already
    expert.get_by_role("button", name="آماده‌سازی دوره").click()
    expert.locator("#cycle-card[data-stage='entitlements_computed']").wait_for()
    assert expert.locator("#cycle-beneficiaries").inner_text() == "۳"
    assert expert.locator("#approve-cycle").count() == 0  # four eyes: not the one who prepared it
    web.check(expert, "finance-prepared")

    approver = staff_page(web, "finance.approver", "/web/finance/")
    approver.locator("#budget-lines").wait_for()
    approver.get_by_label("ردیف بودجه", exact=True).select_option(LINE)
    approver.get_by_role("button", name="نمایش دوره").click()
    approver.get_by_role("button", name="تأیید دوره و فرستادن به بانک").click()
    approver.locator("#cycle-card[data-stage='settled']").wait_for(timeout=90_000)
    assert approver.locator("#cycle-orders tr[data-state='paid'] td").inner_text() == "۳"
    assert approver.locator("#cycle-progress").get_attribute("value") == "7"
    assert approver.locator("#cycle-paid").inner_text() == "۳ از ۳"
    approver.get_by_role("button", name="بررسی تراز دفتر").click()
    approver.get_by_text("دفتر تراز است").wait_for()
    web.check(approver, "finance-settled")

    auditor = staff_page(web, "auditor", "/web/finance/")
    auditor.locator("#budget-lines").wait_for()
    assert auditor.get_by_role("button", name="آماده‌سازی دوره").count() == 0
