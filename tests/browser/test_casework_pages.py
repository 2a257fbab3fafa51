"""Issue 22, in a real browser against the real platform: the county's cartable past a hundred cases (pages, search by
code and text, filters by urgency and deadline, an excerpt per row, the case registered a minute ago reached);
«گزارش دوباره» offered only once it means something, with a confirmation, to the unit above the holder; and one
complaint answered and approved up the chain: one «پاسخ تأیید شد» on its timeline and one SMS per step the citizen
recognises (six, counted at the fake operator)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from common.config import get_settings
from gateway.auth import reporter_token
from services.complaints import cases
from services.complaints.cartable import end_of_today
from services.complaints.schemas import CaseIntake
from tests.browser.reporter_proof import CODE, prove_reporter
from tests.browser.pages import sms_to, staff_page
from tests.e2e.casework import REY, down_to_rey
from tests.service.complaints_helpers import refer_to_rey

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

SEEDED = 105
NEWEST_TEXT = "همین الان ثبت شد: مستمری پدرم از این ماه قطع شده و کسی پاسخ نمی‌دهد."


def seed_rey(platform, n):
    """n cases in Rey's cartable, written as the service writes them (the API's rate limits are not the point)."""
    engine = sa.create_engine(platform["db"]["complaints"])
    with Session(engine) as session:
        codes = []
        for i in range(n):
            with session.begin():
                codes.append(cases.register(session, CaseIntake(kind="complaint", text=f"پروندهٔ آزمایشی شمارهٔ {i} دربارهٔ نوبت توانبخشی.")).tracking_code)
            refer_to_rey(session, codes[-1])
    engine.dispose()
    return codes


def rows(page):
    return page.locator("#cartable-table tbody tr")


def test_the_county_cartable_pages_searches_and_filters_past_a_hundred_cases(web, api, platform):
    seeded = seed_rey(platform, SEEDED)
    urgent = api.call("POST", "/api/v1/staff/cases", "hotline", json={"kind": "complaint", "urgency": "urgent",
                                                      "text": "سالمند تنها در خانه مانده و مرکز پاسخ نمی‌دهد."}).json()
    down_to_rey(api, urgent["tracking_code"])
    newest = api.call("POST", "/api/v1/cases", json={"kind": "complaint", "text": NEWEST_TEXT}).json()["tracking_code"]
    down_to_rey(api, newest)
    engine = sa.create_engine(platform["db"]["complaints"])
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:  # one of them due before midnight in Tehran; the others are due tomorrow
        conn.execute(sa.text("UPDATE cases SET deadline_at = :due WHERE tracking_code = :c"),
                     {"c": seeded[0], "due": max(now + timedelta(seconds=30),
                                                 min(now + timedelta(minutes=10), end_of_today(now) - timedelta(seconds=30)))})
        # the urgent case's few hours would end before midnight too when the test runs early in the day
        conn.execute(sa.text("UPDATE cases SET deadline_at = :due WHERE tracking_code = :c"),
                     {"c": urgent["tracking_code"], "due": end_of_today(now) + timedelta(hours=2)})
    engine.dispose()
    total = SEEDED + 2

    page = staff_page(web, "rey.expert")
    rows(page).first.wait_for()
    assert rows(page).count() == 50
    more = page.get_by_role("button", name="پرونده‌های بیشتر")
    web.check(page, "staff-cartable-first-page")
    while more.is_visible():
        shown = rows(page).count()
        more.click()
        page.wait_for_function("n => document.querySelectorAll('#cartable-table tbody tr').length > n", arg=shown)
    codes = [rows(page).nth(i).get_attribute("data-code") for i in range(rows(page).count())]
    assert len(codes) == len(set(codes)) == total and newest in codes
    assert "۱۰۷ پرونده" in page.locator("#cartable-caption").inner_text()

    # the case registered a minute ago: by its code, and first when the newest come first
    page.get_by_label("جست‌وجو", exact=True).fill("-".join(newest[i:i + 4] for i in range(0, 16, 4)))
    page.get_by_role("button", name="جست‌وجو", exact=True).click()
    page.wait_for_function("() => document.querySelectorAll('#cartable-table tbody tr').length === 1")
    assert rows(page).first.get_attribute("data-code") == newest
    assert rows(page).first.locator("td.excerpt").inner_text() == NEWEST_TEXT
    web.check(page, "staff-cartable-search-code")
    page.get_by_label("جست‌وجو", exact=True).fill("")
    page.get_by_label("ترتیب").select_option(label="تازه‌ترین ثبت نخست")
    page.get_by_role("button", name="جست‌وجو", exact=True).click()
    page.wait_for_function("code => document.querySelector('#cartable-table tbody tr')?.dataset.code === code", arg=newest)

    # words of the text, and the pickers of Persian names
    page.get_by_label("جست‌وجو", exact=True).fill("سالمند تنها")
    page.get_by_role("button", name="جست‌وجو", exact=True).click()
    page.wait_for_function("() => document.querySelectorAll('#cartable-table tbody tr').length === 1")
    assert rows(page).first.get_attribute("data-code") == urgent["tracking_code"]
    page.get_by_label("جست‌وجو", exact=True).fill("")
    page.get_by_label("فوریت").select_option(label="فوری")
    page.get_by_role("button", name="جست‌وجو", exact=True).click()
    page.wait_for_function("code => { const r = document.querySelectorAll('#cartable-table tbody tr');"
                           " return r.length === 1 && r[0].dataset.code === code; }", arg=urgent["tracking_code"])
    assert "فوری" in rows(page).first.inner_text()
    web.check(page, "staff-cartable-filter-urgent")
    page.get_by_label("فوریت").select_option(label="همه")
    page.get_by_label("مهلت", exact=True).select_option(label="مهلت تا پایان امروز")
    page.get_by_role("button", name="جست‌وجو", exact=True).click()
    page.wait_for_function("code => { const r = document.querySelectorAll('#cartable-table tbody tr');"
                           " return r.length === 1 && r[0].dataset.code === code; }", arg=seeded[0])
    web.check(page, "staff-cartable-due-today")
    page.get_by_label("جست‌وجو", exact=True).fill("واژه‌ای که در هیچ پرونده‌ای نیست")
    page.get_by_role("button", name="جست‌وجو", exact=True).click()
    page.locator("#cartable-empty").wait_for()
    web.check(page, "staff-cartable-nothing-found")

    bad = api.call("GET", "/api/v1/staff/cartable?due=tomorrow", "rey.expert")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "due"


def test_report_again_waits_for_the_promised_time_asks_for_confirmation_and_goes_above_the_holder(web, api, platform):
    registered = api.call("POST", "/api/v1/cases", json={"kind": "complaint", "mobile": "09351239031",
                                                          "text": "کارت توانبخشی پسرم پس از سه ماه هنوز صادر نشده است."})
    code = registered.json()["tracking_code"]
    down_to_rey(api, code)
    reporter = {"Authorization": f"Bearer {reporter_token(code, get_settings())[0]}"}  # as after the texted code
    early = api.call("POST", f"/api/v1/cases/{code}/report-again", json={}, headers=reporter)
    assert early.status_code == 409 and early.json()["code"] == "report_again_too_early"
    assert re.search(r"[۰-۹]{4}/[۰-۹]{2}/[۰-۹]{2}", early.json()["message"])

    citizen = web.page(f"/web/citizen/track.html?code={code}")
    later = citizen.locator("#report-again-later")
    later.wait_for()
    assert citizen.locator("#report-again").count() == 0  # not offered a minute after registering
    assert "اداره کل بهزیستی استان تهران" in later.inner_text() and re.search(r"[۰-۹]{4}/[۰-۹]{2}/[۰-۹]{2}", later.inner_text())
    web.check(citizen, "citizen-track-report-again-later")

    engine = sa.create_engine(platform["db"]["complaints"])
    with engine.begin() as conn:  # as if the day promised (SPEC C7) had passed without an answer
        conn.execute(sa.text("UPDATE cases SET registered_at = registered_at - interval '25 hours' WHERE tracking_code = :c"),
                     {"c": code})
    engine.dispose()
    citizen.reload()
    prove_reporter(citizen, platform["sms"], "09351239031")  # the code alone opens no action (issue 18)
    citizen.locator("#report-again").wait_for()
    citizen.get_by_label("توضیح (اختیاری)").fill("یک روز گذشته و هنوز کسی تماس نگرفته است.")
    citizen.get_by_role("button", name="گزارش دوباره", exact=True).click()
    confirm = citizen.locator("#report-again-confirm")
    confirm.wait_for()
    assert "اداره کل بهزیستی استان تهران" in confirm.inner_text()
    assert api.call("GET", f"/api/v1/cases/{code}").json()["status"] == "referred"  # nothing sent before confirming
    web.check(citizen, "citizen-track-report-again-confirm")
    citizen.get_by_role("button", name="بله، گزارش دوباره بده").click()
    citizen.locator("#case-status[data-status='reopened']").wait_for()
    seen = api.call("GET", f"/api/v1/staff/cases/{code}", "tehran.head").json()
    assert seen["holder_unit"] == "prov.tehran" and seen["holder_unit"] != REY  # the unit above, never the same
    assert citizen.locator("#report-again").count() == 0
    web.check(citizen, "citizen-track-reported-again")


def test_one_complaint_answered_up_the_chain_shows_one_approval_and_texts_six_times(web, api, platform):
    mobile = "09351239041"
    code = api.call("POST", "/api/v1/cases", json={"kind": "complaint", "mobile": mobile, "category": "pension",
                                                    "text": "مستمری سه ماه گذشتهٔ مادرم واریز نشده است."}).json()["tracking_code"]
    down_to_rey(api, code)
    api.act("rey.expert", code, "answer", {"text": "مستمری واریز شد."})
    api.act("tehran.head", code, "return", {"note": "مبلغ را بنویسید."})
    api.act("rey.expert", code, "answer", {"text": "مستمری سه ماه، ۴۵٬۰۰۰٬۰۰۰ ریال، امروز واریز شد."})
    for approver in ("tehran.head", "rehab.head", "operator"):
        api.act(approver, code, "approve", {})

    citizen = web.page(f"/web/citizen/track.html?code={code}")
    citizen.locator("#answer-text").wait_for()
    timeline = citizen.locator(".timeline").inner_text()
    assert timeline.count("پاسخ تأیید شد") == 1 and "برگشت" not in timeline
    web.check(citizen, "citizen-track-answered-once")
    prove_reporter(citizen, platform["sms"], mobile)
    citizen.get_by_label("۴ — راضی‌ام").check()
    citizen.get_by_role("button", name="ثبت امتیاز").click()
    citizen.locator("#case-status[data-status='closed']").wait_for()

    texts = [t for t in sms_to(platform, mobile, 7) if not CODE.search(t)]  # and the one-time code
    assert len(texts) == 6 and "بسته شد" in texts[-1], texts  # registered, three handings, answer ready, closed
    assert not any("تأیید" in t for t in texts)
