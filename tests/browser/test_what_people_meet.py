"""Issue 22, second part, in a real browser against the real platform: what people met on the pages and what they
meet now.

- Shafaf on a phone: a dataset's rows fit the screen (no row wider than its box), the address column is seen at
  1280 px, no internal id with its digits turned Persian, one unit of money a page, the licence's and the account's
  lines aligned right to left; the next page keeps the reader's place (focus and scroll on the rows) and says how
  many rows there are.
- An anonymous report: a reload of the follow page keeps working (the secret in this tab's sessionStorage, never in
  the address nor in localStorage); a secret typed in groups, with spaces or in lower case opens it; the hotline
  shows the secret in groups of four, spelled in Persian.
- What a citizen did is confirmed on the page: evidence sent, a rating, a report again. The finance approver has
  the list of cycles waiting for approval, with colleagues named in Persian. After three code requests the
  beneficiary page counts down to the next one instead of saying "sent".
- The donation page stops waiting for an abandoned gateway window (closed: at once; left open: after a minute) and
  offers to check again or start over; a 1-rial donation and a punctuation-only complaint are refused on the page
  and by the API; a hotline search that fails leaves no stale results."""
from __future__ import annotations

import re

import pytest
import requests
import sqlalchemy as sa

from common.validation import NO_LETTERS_FA
from tests.browser.reporter_proof import prove_reporter
from tests.browser.pages import posts_to, staff_page
from tests.e2e.payments import LINE, cycle_reaches
from tests.e2e.transparency import PEOPLE, _until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

FA = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ID_WITH_PERSIAN_DIGITS = re.compile(r"[A-Za-z][A-Za-z_:.\-]*[۰-۹]")  # emergency_۱۲۳, C۱۳۹۸-۰۰۰۰۱, monthly:۱۴۰۵
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
REPORT = "در این مرکز از خانواده‌ها برای پذیرش مددجو پول نقد گرفته می‌شود."

WIDEST_ROW = """() => {
  const box = document.querySelector("#rows-out .table-wrap");
  const rows = [...document.querySelectorAll("#rows tbody tr")];
  return { box: box.clientWidth, widest: Math.max(...rows.map((r) => Math.ceil(r.getBoundingClientRect().width))),
           scroll: box.scrollWidth - box.clientWidth };
}"""

# The right edge of a line's text (a Range over it): in a right-to-left page, a term and its value start on the right.
RIGHT_EDGES = """([term, value]) => {
  const edge = (node) => { const r = document.createRange(); r.selectNodeContents(node);
                           return Math.round(r.getBoundingClientRect().right); };
  return [edge(document.querySelector(term)), edge(document.querySelector(value))];
}"""


def published(web) -> dict[str, dict]:
    api = f"{web.base}/api/v1/transparency"
    items = _until(lambda: requests.get(f"{api}/datasets", timeout=10).json()["items"],
                   lambda found: all(i["version"] for i in found), "every dataset published")
    return {i["slug"]: requests.get(f"{api}/datasets/{i['slug']}", timeout=30).json() for i in items}


def test_shafaf_rows_fit_a_phone_and_paging_keeps_the_reader_s_place(web, funded):
    details = published(web)
    for slug in details:
        page = web.page(f"/web/shafaf/dataset.html?slug={slug}")
        page.locator("#rows-status").wait_for()
        shown = page.locator("main").inner_text()
        assert not ID_WITH_PERSIAN_DIGITS.search(shown), (slug, ID_WITH_PERSIAN_DIGITS.search(shown).group(0))
        assert "monthly:" not in shown and "weekly:" not in shown, slug  # a period by its Persian name
        if slug == "centers":
            web.check(page, "shafaf-centers")
        page.set_viewport_size({"width": 360, "height": 780})
        if page.locator("#rows tbody tr").count():
            fit = page.evaluate(WIDEST_ROW)
            assert fit["widest"] <= fit["box"] and fit["scroll"] <= 1, (slug, fit)  # 527 px rows in 302 px before
        term, licence = page.evaluate(RIGHT_EDGES, ["#about-title ~ dl dt:nth-of-type(2)", "#licence"])
        assert abs(term - licence) <= 2, ("the licence's line starts where its term does", slug, term, licence)
        assert "CC-BY-4.0" in page.locator("#licence").inner_text()
        page.context.close()
        web.contexts.remove(page.context)

    wide = web.page("/web/shafaf/dataset.html?slug=centers")  # 1280 px: the address is there, not cut off
    wide.locator("#rows tbody tr").first.wait_for()
    seen = wide.evaluate("""() => {
      const box = document.querySelector("#rows-out .table-wrap").getBoundingClientRect();
      const cell = document.querySelector("#rows td[data-column='address']").getBoundingClientRect();
      const wrap = document.querySelector("#rows-out .table-wrap");
      return { inside: cell.left >= box.left - 1 && cell.right <= box.right + 1, width: cell.width,
               scroll: wrap.scrollWidth - wrap.clientWidth };
    }""")
    assert seen["inside"] and seen["width"] >= 120 and seen["scroll"] <= 1, seen  # every column in sight

    contracts = web.page("/web/shafaf/dataset.html?slug=contracts", width=360, height=780)  # a phone
    contracts.locator("#rows tbody tr").first.wait_for()
    total = f"{details['contracts']['row_count']:,}".replace(",", "٬").translate(FA)
    assert f"از {total} ردیف" in contracts.locator("#rows-status").inner_text()
    contracts.get_by_role("button", name="صفحهٔ بعد").click()
    contracts.get_by_text("صفحهٔ ۲ از").wait_for()
    assert "ردیف‌های ۲۱ تا ۴۰" in contracts.locator("#rows-status").inner_text()
    place = contracts.evaluate("""() => ({
      focus: Boolean(document.activeElement?.closest("#rows-out")),
      top: Math.round(document.querySelector("#rows-title").getBoundingClientRect().top) })""")
    assert place["focus"], "the focus stays on the rows, not the page's body"
    assert 0 <= place["top"] <= 40, place  # scrolled to the rows' heading, not left at the bottom of the page
    web.check(contracts, "shafaf-contracts-page-2")
    # a search says how many rows it finds in all, as the API counts them, not only "of the rows found"
    found = requests.get(f"{web.base}/api/v1/transparency/datasets/contracts/rows", params={"q": "تهران", "limit": 20},
                         timeout=30).json()
    assert found["matched"] > 20 and not found["matched_capped"], found.get("matched")
    contracts.get_by_label("جست‌وجو", exact=True).fill("تهران")
    contracts.get_by_role("button", name="جست‌وجو", exact=True).click()
    matched = f"{found['matched']:,}".replace(",", "٬").translate(FA)
    contracts.get_by_text(f"از {matched} ردیف یافته").wait_for()

    home = web.page("/web/shafaf/")
    home.locator("#spending-out figure").wait_for()
    home.locator("#budget-allocation li").first.wait_for()
    money = home.locator("#budget").evaluate("node => node.parentElement.innerText")
    assert "ریال" in money and "تومان" not in money  # one unit on the page, and it says which
    assert home.locator("#money-unit").inner_text() == "همهٔ مبلغ‌های این بخش به ریال است."
    web.check(home, "shafaf-one-unit")


def test_after_three_codes_the_beneficiary_page_counts_down_and_sends_no_fourth(web, platform, paid):
    national_id, mobile = list(PEOPLE.items())[1]
    _until(lambda: requests.get(f"{platform['base']}/api/v1/transparency/spending?by=line", timeout=10).json(),
           lambda body: body["households"] == len(PEOPLE), "the cycle's payments at transparency")
    page = web.page(None, width=360, height=780)
    page.clock.install()  # the page's clock: a minute between requests passes at once
    asked = posts_to(page, "/api/v1/transparency/me/code")
    page.goto("/web/shafaf/me.html")
    page.get_by_label("کد ملی (الزامی)").fill(national_id)
    page.get_by_role("button", name="دریافت کد یک‌بارمصرف").click()
    resend = page.get_by_role("button", name="فرستادن دوبارهٔ کد")
    resend.wait_for()
    assert resend.get_attribute("aria-disabled") == "true"
    assert "کد تازه را" in page.locator("#resend-status").inner_text()  # a countdown, in Persian digits
    web.check(page, "shafaf-me-code-countdown")
    for n in (2, 3):
        page.clock.fast_forward("01:01")
        page.wait_for_function("() => !document.querySelector('#resend-code').hasAttribute('aria-disabled')")
        resend.click()
        page.wait_for_function("""() => !document.querySelector("#resend-code").hasAttribute("aria-busy")
            && Number(document.querySelector("#resend-status").dataset.seconds) > 0""")  # answered; counting again
        page.locator("#code-note .alert.ok").wait_for()
        assert "کد تازه خواسته شد" in page.locator("#code-note").inner_text() and len(asked) == n

    page.clock.fast_forward("01:01")  # the page knows the server's limit: three a mobile in ten minutes
    status = page.locator("#resend-status")
    assert "سقف ۳ کد" in status.inner_text() and resend.get_attribute("aria-disabled") == "true"
    assert 300 < int(status.get_attribute("data-seconds")) < 600
    resend.dispatch_event("click")  # pressed all the same: nothing is sent
    assert len(asked) == 3 and "کد تازه خواسته شد" in page.locator("#code-note").inner_text()
    web.check(page, "shafaf-me-code-limit")

    page.reload()  # the tab remembers what it asked: a reload sends no fourth request either
    page.get_by_label("کد ملی (الزامی)").fill(national_id)
    page.get_by_role("button", name="دریافت کد یک‌بارمصرف").click()
    page.locator("#code-note .alert.warn").wait_for()
    assert "کد تازه‌ای فرستاده نشد" in page.locator("#code-note").inner_text() and len(asked) == 3
    assert "سقف ۳ کد" in page.locator("#resend-status").inner_text()
    assert national_id not in page.evaluate("() => JSON.stringify(sessionStorage)")
    web.check(page, "shafaf-me-code-limit-after-reload")

    codes = _until(lambda: [re.search(r"کد ورود شما (\d{6})", m["message"]) for m in requests.get(
        f"{platform['sms']}/api/messages", params={"receptor": mobile}, timeout=10).json()],
        lambda found: len([c for c in found if c]) >= 3, "three codes texted")
    codes = [c.group(1) for c in codes if c]
    assert len(codes) == 3
    page.get_by_label("کد یک‌بارمصرف (الزامی)").fill(codes[-1])
    page.get_by_role("button", name="دیدن پرداخت‌ها").click()
    account = page.locator("#payments td[data-label='حساب']").first
    account.wait_for()
    assert account.evaluate("td => getComputedStyle(td).direction") == "rtl"
    term, value = account.evaluate("""td => {
      const r = document.createRange(); r.selectNodeContents(td.querySelector('bdi'));
      return [Math.round(td.getBoundingClientRect().right), Math.round(r.getClientRects()[0].right)]; }""")
    assert term - value >= 100, "the account's first line comes after its label («حساب»), on the left of it"
    web.check(page, "shafaf-me-payments-phone")


def test_an_anonymous_report_survives_a_reload_and_its_secret_is_read_in_groups(web):
    registered = requests.post(f"{web.base}/api/v1/cases", json={"kind": "violation_report", "text": REPORT},
                               timeout=20)
    assert registered.status_code == 201, registered.text
    code, secret = registered.json()["tracking_code"], registered.json()["secret"]
    grouped = "-".join(secret[i:i + 4] for i in range(0, 16, 4))
    for typed in (grouped, grouped.lower().replace("-", " ")):  # the API reads it as the page does
        assert requests.get(f"{web.base}/api/v1/cases/{code}", headers={"X-Case-Secret": typed},
                            timeout=10).status_code == 200, typed

    page = web.page("/web/citizen/track.html")
    page.get_by_label("کد رهگیری (الزامی)").fill(code)
    page.get_by_label("رمز پیگیری").fill(f" {grouped.lower().replace('-', ' ')} ")
    page.get_by_role("button", name="پیگیری").click()
    page.locator("#case-title").wait_for()
    page.reload()  # before: «پرونده‌ای با این کد پیدا نشد»
    page.locator("#case-title").wait_for()
    assert page.locator("#lookup .field-error").count() == 0
    assert secret not in page.url and secret.lower() not in page.url
    assert secret not in page.evaluate("JSON.stringify(localStorage)")
    assert secret in page.evaluate("JSON.stringify(sessionStorage)")
    assert page.get_by_label("رمز پیگیری").input_value() == grouped
    web.check(page, "citizen-track-anonymous-reloaded")

    other = web.page(f"/web/citizen/track.html?code={code}")  # another tab knows nothing of it
    other.locator("#lookup .field-error").wait_for()
    other.get_by_label("رمز پیگیری").fill(grouped)
    other.get_by_role("button", name="پیگیری").click()
    other.locator("#case-title").wait_for()

    hotline = staff_page(web, "hotline", "/web/hotline/")
    hotline.get_by_label("نوع (الزامی)").select_option(label="گزارش تخلف")
    hotline.get_by_label("شرح تماس (الزامی)").fill(REPORT)
    hotline.get_by_role("button", name="ثبت تماس").click()
    shown = hotline.locator("#made-secret")
    shown.wait_for()
    assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", shown.inner_text())
    assert shown.inner_text().replace("-", "") == shown.get_attribute("data-secret")
    spelled = hotline.locator("#made-secret-spelled").inner_text()
    assert spelled.count(" — ") == 3 and not re.search(r"[A-Z]", spelled.split(":", 1)[1])
    web.check(hotline, "hotline-anonymous-secret")


def _answered(api, text: str, mobile: str) -> str:
    """A case answered by the rehabilitation unit and approved by inspection: a report again goes above it."""
    registered = requests.post(f"{api.base}/api/v1/cases", json={"kind": "complaint", "text": text, "mobile": mobile},
                               timeout=20)
    assert registered.status_code == 201, registered.text
    code = registered.json()["tracking_code"]
    api.act("operator", code, "refer", {"unit": "hq.rehabilitation", "note": "مربوط به معاونت توانبخشی"})
    api.act("rehab.expert", code, "answer", {"text": "مستمری این ماه امروز به حساب شما واریز شد."})
    assert api.act("operator", code, "approve", {})["status"] == "answered"
    return code


def test_what_a_citizen_does_is_confirmed_on_the_page(web, api, platform):
    code = _answered(api, "مستمری این ماه به حساب من واریز نشده است.", "09351239201")
    page = web.page(f"/web/citizen/track.html?code={code}", width=360, height=780)
    page.locator("#case-title").wait_for()
    assert page.locator("#rating").count() == page.locator("#evidence").count() == 0  # the code alone: no action
    web.check(page, "citizen-track-reporter-proof")
    prove_reporter(page, platform["sms"], "09351239201")
    assert "شمارهٔ همراه تأیید شد" in page.locator("#result > .alert.ok").inner_text()
    page.get_by_label("فایل").set_input_files([{"name": "رسید.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.get_by_role("button", name="فرستادن مدرک").click()
    done = page.locator("#done")
    done.wait_for()
    assert "مدرک فرستاده شد" in done.inner_text() and "رسید.pdf" in done.inner_text() and done.is_visible()
    assert done.evaluate("node => node === document.activeElement")
    web.check(page, "citizen-track-evidence-sent")

    page.get_by_label("۴ — راضی‌ام").check()
    page.get_by_role("button", name="ثبت امتیاز").click()
    page.locator("#case-status[data-status='closed']").wait_for()
    assert "امتیاز شما ثبت شد" in done.inner_text() and "۴ از ۵" in done.inner_text() and done.is_visible()
    web.check(page, "citizen-track-rated")

    again = _answered(api, "کمک هزینهٔ درمان فرزندم پرداخت نشده است.", "09351239202")
    page = web.page(f"/web/citizen/track.html?code={again}")
    page.locator("#case-title").wait_for()
    prove_reporter(page, platform["sms"], "09351239202")
    page.get_by_label("توضیح (اختیاری)").fill("پاسخ داده شد اما هنوز چیزی واریز نشده است.")
    page.get_by_role("button", name="گزارش دوباره", exact=True).click()
    page.get_by_role("button", name="بله، گزارش دوباره بده").click()
    page.locator("#done").wait_for()
    assert "گزارش دوبارهٔ شما ثبت شد" in page.locator("#done").inner_text()
    web.check(page, "citizen-track-reported-again")


def test_punctuation_alone_is_not_a_complaint_on_the_page_nor_at_the_api(web):
    refused = requests.post(f"{web.base}/api/v1/cases", json={"kind": "complaint", "text": "؟؟؟؟؟!!!!!!......"},
                            timeout=20)
    assert refused.status_code == 400 and refused.json()["errors"][0]["code"] == "no_letters"
    page = web.page("/web/citizen/new.html")
    sent = posts_to(page, "/api/v1/cases")
    page.get_by_label("شرح درخواست یا گزارش (الزامی)").fill("؟؟؟؟؟!!!!!!......")
    page.get_by_role("button", name="ثبت و دریافت کد رهگیری").click()
    error = page.locator("#intake .field-error")
    error.wait_for()
    assert error.inner_text() == NO_LETTERS_FA and sent == []
    web.check(page, "citizen-new-punctuation-only")


@pytest.fixture
def hundred_newer_cycles(platform):
    """100 settled cycles of later months: the waiting one is not among the newest 100 cycles."""
    engine = sa.create_engine(platform["db"]["payments"])
    months = [f"{1406 + i // 12}-{i % 12 + 1:02d}" for i in range(100)]
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO cycles (id, month, line, stage, prepared_by, beneficiaries, total_rials) "
                             "VALUES (:id, :month, :line, 'settled', 'finance.expert', 0, 0)"),
                     [{"id": f"{m}.{LINE}", "month": m, "line": LINE} for m in months])
    yield
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM cycles WHERE id = ANY(:ids)"), {"ids": [f"{m}.{LINE}" for m in months]})
    engine.dispose()


def test_the_approver_sees_the_cycles_waiting_and_colleagues_by_name(web, api, paid, hundred_newer_cycles):
    opened = api.call("POST", "/api/v1/staff/payments/cycles", "finance.expert",
                      headers={"Idempotency-Key": "people-waiting-1405-08"}, json={"month": "1405-08", "line": LINE})
    assert opened.status_code == 201, opened.text
    cycle_id = opened.json()["id"]
    assert cycle_reaches(api, cycle_id, "entitlements_computed")["stage"] == "entitlements_computed"
    newest = api.call("GET", "/api/v1/staff/payments/cycles", "finance.approver").json()["items"]
    assert len(newest) == 100 and cycle_id not in {c["id"] for c in newest}  # older than the newest 100

    page = staff_page(web, "finance.approver", "/web/finance/")
    row = page.locator(f"#waiting-cycles tr[data-cycle='{cycle_id}']")
    row.wait_for()
    assert "آبان ۱۴۰۵" in row.inner_text() and page.locator("#waiting-cycles tbody tr").count() == 1
    web.check(page, "finance-waiting-for-approval")
    row.get_by_role("button", name="باز کردن").click()
    page.locator("#cycle-card[data-stage='entitlements_computed']").wait_for()
    prepared = page.locator("#cycle-prepared-by").inner_text()
    assert prepared != "finance.expert" and prepared.startswith("همکار با نام کاربری")
    page.get_by_role("button", name="تأیید دوره و فرستادن به بانک").click()
    page.locator("#cycle .alert.ok").wait_for()
    assert page.locator("#cycle-approved-by").inner_text() == "مدیر مالی دفتر مستمری (شما)"
    page.locator("#waiting-none").wait_for()
    web.check(page, "finance-approved-none-waiting")


def test_the_donation_page_stops_waiting_for_an_abandoned_gateway_window(web, campaigns):
    page = web.page(None)
    page.clock.install()
    sent = posts_to(page, "/api/v1/donations")
    page.goto("/web/donate/")
    page.get_by_label("استان (الزامی)").select_option(label="بوشهر")
    page.get_by_label("تجهیز مراکز توان‌بخشی استان بوشهر").check()
    amount = page.get_by_label("مبلغ به ریال (الزامی)")
    amount.fill("1")
    page.get_by_role("button", name="پرداخت از درگاه بانکی").click()
    error = page.locator("#donation .field-error")
    error.wait_for()
    assert "دست‌کم ۱۰٬۰۰۰ ریال" in error.inner_text() and sent == [] and len(page.context.pages) == 1
    web.check(page, "donate-one-rial")

    amount.fill("5000000")
    with page.expect_popup() as opened:
        page.get_by_role("button", name="پرداخت از درگاه بانکی").click()
    page.locator("#waiting").wait_for()
    page.clock.fast_forward("01:05")  # the window left open, nothing paid: a minute, not ten
    page.locator("#check-again").wait_for()
    assert "پاسخی از درگاه نرسید" in page.locator("#waiting-out").inner_text() and not opened.value.is_closed()
    web.check(page, "donate-gateway-silent")
    page.get_by_role("button", name="شروع دوباره").click()
    page.locator("#donation").wait_for()
    assert opened.value.is_closed()

    page.get_by_label("استان (الزامی)").select_option(label="بوشهر")
    page.get_by_label("تجهیز مراکز توان‌بخشی استان بوشهر").check()
    page.get_by_label("مبلغ به ریال (الزامی)").fill("5000000")
    with page.expect_popup() as opened:
        page.get_by_role("button", name="پرداخت از درگاه بانکی").click()
    page.locator("#waiting").wait_for()
    opened.value.close()  # the donor gives up at the gateway: told at once, not after a minute
    page.get_by_text("پنجرهٔ درگاه بسته شد و پرداختی ثبت نشد").wait_for(timeout=10_000)
    page.get_by_role("button", name="دوباره بررسی کن").click()
    page.get_by_text("همین حالا دوباره بررسی شد").wait_for()
    web.check(page, "donate-gateway-closed")
    assert len(sent) == 2  # a new donation after «شروع دوباره», none while waiting


def test_a_failed_hotline_search_leaves_no_stale_results(web, api):
    mobile = "09351239021"
    registered = requests.post(f"{web.base}/api/v1/cases", json={"kind": "complaint", "mobile": mobile,
                                                                "text": "مستمری این ماه پدرم واریز نشده است."},
                               timeout=20)
    assert registered.status_code == 201, registered.text
    page = staff_page(web, "hotline", "/web/hotline/")
    query = page.get_by_label("کد رهگیری یا شمارهٔ همراه")
    query.fill(mobile)
    query.press("Enter")
    page.locator("#found table").wait_for()

    query.fill("۱۲۳")  # not a code nor a mobile: told beside the field, and the last results go
    query.press("Enter")
    page.locator("#find .field-error").wait_for()
    assert page.locator("#found table").count() == 0

    query.fill(mobile)
    query.press("Enter")
    page.locator("#found table").wait_for()
    page.route("**/api/v1/staff/cases?mobile=*", lambda route: route.fulfill(
        status=500, content_type="application/problem+json",
        body='{"code": "internal", "message": "خطای سامانه؛ دوباره تلاش کنید.", "status": 500}'))
    query.press("Enter")
    page.locator("#find .form-errors").wait_for()
    assert page.locator("#found").inner_text().strip() == ""
    web.check(page, "hotline-search-error")
