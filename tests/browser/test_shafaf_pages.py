"""The Shafaf pages in a real browser against the real platform: anyone finds a dataset, searches and pages
its rows, downloads it and checks every published version's Ed25519 signature and chain in the page; a
beneficiary logs in with national ID and the one-time code texted to them and sees their own payment."""
from __future__ import annotations

import json
import re

import pytest
import requests

from tests.e2e.test_payments_journey import funded  # noqa: F401  (the budget lines, funded)
from tests.e2e.test_transparency_journey import PEOPLE, _until, paid  # noqa: F401  (a month paid to PEOPLE)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]


def test_anyone_finds_a_dataset_searches_its_rows_downloads_it_and_verifies_its_signatures(web, funded):  # noqa: F811
    # the service publishes the demo datasets on its first timer ticks after the platform starts
    _until(lambda: requests.get(f"{web.base}/api/v1/transparency/datasets", timeout=10).json()["items"],
           lambda items: all(i["version"] for i in items), "every dataset published")
    page = web.page("/web/shafaf/")
    page.locator("#dataset-list li[data-slug]").first.wait_for()
    page.locator("#budget-allocation li").first.wait_for()
    web.check(page, "shafaf")
    page.get_by_label("جست‌وجو در عنوان و توضیح").fill("قراردادها")
    page.locator("#dataset-list li[data-slug='contracts']").wait_for()
    assert page.locator("#dataset-list li[data-slug='properties']").count() == 0
    csv_link = page.locator("#dataset-list li[data-slug='contracts'] a", has_text="CSV").get_attribute("href")
    download = requests.get(web.base + csv_link, timeout=60)
    assert download.status_code == 200 and download.headers["Content-Type"].startswith("text/csv")

    page.locator("#dataset-list li[data-slug='contracts'] h3 a").click()
    page.locator("#rows tbody tr").first.wait_for()
    assert page.locator("#rows tbody tr").count() == 20
    first_page = page.locator("#rows tbody").inner_text()
    page.get_by_role("button", name="صفحهٔ بعد").click()
    page.get_by_text("صفحهٔ ۲:").wait_for()
    assert page.locator("#rows tbody").inner_text() != first_page
    page.get_by_role("button", name="صفحهٔ قبل").click()
    page.get_by_text("صفحهٔ ۱:").wait_for()

    page.get_by_role("button", name="بررسی امضای همهٔ نسخه‌ها").click()
    page.locator("#verify-result[data-ok='true']").wait_for()
    assert page.locator("td.verdict[data-ok='true']").count() == page.locator("#versions tbody tr").count() >= 1
    web.check(page, "shafaf-dataset")


def test_a_beneficiary_sees_their_own_payment_after_the_one_time_code(web, platform, paid):  # noqa: F811
    base = f"{platform['base']}/api/v1/transparency"
    national_id, mobile = next(iter(PEOPLE.items()))
    _until(lambda: requests.get(f"{base}/spending?by=line", timeout=10).json(),
           lambda body: body["households"] == len(PEOPLE), "the cycle's payments at transparency")

    page = web.page("/web/shafaf/me.html")
    page.get_by_label("کد ملی (الزامی)").fill(national_id.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")))
    web.check(page, "shafaf-me")
    page.get_by_role("button", name="دریافت کد یک‌بارمصرف").click()
    code_input = page.get_by_label("کد یک‌بارمصرف (الزامی)")
    code_input.wait_for()
    sms = requests.get(f"{platform['sms']}/api/messages", params={"receptor": mobile, "wait": 30, "min": 2},
                       timeout=40).json()
    code = re.search(r"کد ورود شما (\d{6})", " ".join(m["message"] for m in sms)).group(1)

    code_input.fill("000000" if code != "000000" else "111111")  # a wrong code: the API's message beside it
    page.get_by_role("button", name="دیدن پرداخت‌ها").click()
    page.locator("#me-code .field-error").wait_for()
    assert code_input.get_attribute("aria-invalid") == "true"
    web.check(page, "shafaf-me-wrong-code")

    code_input.fill(code)
    page.get_by_role("button", name="دیدن پرداخت‌ها").click()
    page.locator("#payments tbody tr").first.wait_for()
    rows = page.locator("#payments tbody").inner_text()
    assert "مستمری خانوارهای دارای معلول" in rows
    assert re.search(r"[۰-۹]{4}/[۰-۹]{2}/[۰-۹]{2}", rows)
    assert national_id not in page.content()
    web.check(page, "shafaf-me-payments")


def test_a_transparency_api_that_is_not_there_is_a_clear_persian_message(web):
    """What the gateway answers for a route it does not have, as it would before the transparency API."""
    missing = json.dumps({"type": "urn:behzisti:problem:not_found", "title": "Not Found", "status": 404,
                          "code": "not_found", "message": "چنین نشانی‌ای در سامانه نیست.", "detail": "Not Found"})
    page = web.page(None)
    page.context.route("**/api/v1/transparency/**", lambda route: route.fulfill(
        status=404, content_type="application/problem+json", body=missing))
    page.goto("/web/shafaf/")
    page.get_by_text("سامانهٔ شفاف هنوز راه‌اندازی نشده است").first.wait_for()
    web.check(page, "shafaf-api-missing")
    page.goto("/web/shafaf/dataset.html?slug=budget")
    page.get_by_text("سامانهٔ شفاف هنوز راه‌اندازی نشده است").wait_for()
    page.goto("/web/shafaf/me.html")
    page.get_by_label("کد ملی (الزامی)").fill("0499370899")
    page.get_by_role("button", name="دریافت کد یک‌بارمصرف").click()
    page.get_by_text("سامانهٔ شفاف هنوز راه‌اندازی نشده است").wait_for()
    assert page.errors == []
