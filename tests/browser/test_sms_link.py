"""The link in a case SMS, in a real browser against the real platform (issue 22): a citizen registers a case
with their mobile, taps the link the SMS carries (`<base>/track/<code>`, as services/notifications makes it) and
lands on the case-following page for that code, in Persian; a mistyped address is the Persian 404 page, while
the API under /api keeps answering application/problem+json."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests

from tests.browser.pages import sms_to

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

MOBILE = "09351239022"


def test_the_link_in_the_case_sms_opens_the_case_and_a_wrong_address_is_the_persian_page(web, platform):
    citizen = web.page("/web/citizen/new.html")
    citizen.get_by_label("شرح درخواست یا گزارش (الزامی)").fill("کارت توانبخشی پسرم پس از سه ماه هنوز صادر نشده است.")
    citizen.get_by_label("شمارهٔ همراه").fill(MOBILE)
    citizen.get_by_role("button", name="ثبت و دریافت کد رهگیری").click()
    code = citizen.locator("#tracking-code").get_attribute("data-code")

    sms = next(m for m in sms_to(platform, MOBILE, 1) if code in m)
    link = re.search(r"https?://\S+", sms).group(0)
    assert urlsplit(link).path == f"/track/{code}", sms  # what the notifications service sends

    phone = web.page(urlsplit(link).path)  # the citizen's phone: another browser, the SMS's address on this gateway
    phone.locator("#case-title").wait_for()
    assert phone.url.endswith(f"/web/citizen/track.html?code={code}")
    assert phone.locator("#case-status").get_attribute("data-status") == "registered"
    assert re.search(r"[۰-۹]{4}-[۰-۹]{4}-[۰-۹]{4}-[۰-۹]{4}", phone.locator("#case-title").inner_text())
    assert "ثبت شد" in phone.locator(".timeline").inner_text()
    web.check(phone, "sms-link-case")

    mistyped = web.page(f"/track-case/{code}")
    assert mistyped.locator("h1").inner_text() == "این صفحه پیدا نشد"
    assert mistyped.get_by_role("link", name="پیشخوان", exact=True).is_visible()
    web.check(mistyped, "not-found-mistyped-address")
    under_pages = web.page("/web/citizen/follow.html")
    assert under_pages.locator("h1").inner_text() == "این صفحه پیدا نشد"

    api = requests.get(f"{web.base}/api/v1/no-such-route", timeout=10)
    assert api.status_code == 404 and api.headers["Content-Type"] == "application/problem+json"
    assert api.json()["code"] == "not_found"
