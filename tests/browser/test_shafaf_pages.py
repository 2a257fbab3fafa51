"""The Shafaf pages in a real browser against the real platform: anyone finds a dataset, searches and pages
its rows, downloads it and checks every published version's Ed25519 signature and chain in the page; a
beneficiary logs in with national ID and the one-time code texted to them and sees their own payment."""
from __future__ import annotations

import json
import re

import pytest
import requests

from tests.browser.pages import staff_page
from tests.e2e.transparency import PEOPLE, _until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]


def test_anyone_finds_a_dataset_searches_its_rows_downloads_it_and_verifies_its_signatures(web, funded):
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
    page.get_by_text("صفحهٔ ۲ از").wait_for()
    assert page.locator("#rows tbody").inner_text() != first_page
    page.get_by_role("button", name="صفحهٔ قبل").click()
    page.get_by_text("صفحهٔ ۱ از").wait_for()

    page.get_by_role("button", name="بررسی امضای همهٔ نسخه‌ها").click()
    page.locator("#verify-result[data-ok='true']").wait_for()
    assert page.locator("td.verdict[data-ok='true']").count() == page.locator("#versions tbody tr").count() >= 1
    web.check(page, "shafaf-dataset")


def test_a_beneficiary_sees_their_own_payment_after_the_one_time_code(web, platform, paid):
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


GREGORIAN = re.compile(r"(?<![0-9])(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}|(?<![۰-۹])[۱۲][۹۰][۰-۹]{2}-[۰-۹]{2}-[۰-۹]{2}")
JALALI = re.compile(r"۱[۳۴][۰-۹]{2}/[۰-۹]{2}/[۰-۹]{2}")
ID_WITH_PERSIAN_DIGITS = re.compile(r"[A-Za-z][A-Za-z_:.\-]*[۰-۹]")  # emergency_۱۲۳, C۱۳۹۸-۰۰۰۰۱


def test_a_visitor_reads_jalali_dates_and_picks_persian_names_with_no_internal_codes_or_types(web, funded):
    """Issue 22: every dataset with dates shows them Jalali (the downloads keep ISO 8601); a province or a center
    type is picked by its Persian name (provinces in the order of their Persian names) and the filter still sends
    the code; no `python -m` instruction, no `string`/`integer` column types, internal ids keep their Latin digits."""
    api = f"{web.base}/api/v1/transparency"
    items = _until(lambda: requests.get(f"{api}/datasets", timeout=10).json()["items"],
                   lambda found: all(i["version"] for i in found), "every dataset published")
    details = {i["slug"]: requests.get(f"{api}/datasets/{i['slug']}", timeout=30).json() for i in items}
    dated = [slug for slug, d in details.items() if any(c["type"] == "date" for c in d["columns"])]
    assert {"contracts", "transactions", "managers", "licenses", "hiring", "research"} <= set(dated)

    for slug in dated:
        page = web.page(f"/web/shafaf/dataset.html?slug={slug}")
        page.locator("#rows-status").wait_for()
        shown = page.locator("#rows-out").inner_text()
        assert not GREGORIAN.search(shown), f"{slug}: a Gregorian date on the page"
        assert "(میلادی)" not in shown and not ID_WITH_PERSIAN_DIGITS.search(shown), slug
        if details[slug]["row_count"]:
            assert JALALI.search(shown), f"{slug}: no Jalali date"
        content = page.content()
        assert "python -m" not in content, slug
        types = set(page.locator("#columns tbody td:nth-child(2)").all_text_contents())
        assert types and types <= {"متن", "عدد صحیح", "عدد", "تاریخ", "بله یا خیر"}, (slug, types)
        if slug == "contracts":
            start = page.locator("#rows td[data-column='start_date']").first.inner_text()
            assert JALALI.fullmatch(start), start  # «تاریخ شروع»: Gregorian before, without saying so
            ids = page.locator("#rows td[data-column='contract_number']").first.inner_text()
            assert re.fullmatch(r"C[0-9]{4}-[0-9]{5}", ids), ids
            web.check(page, "shafaf-dataset-jalali")
        page.context.close()
        web.contexts.remove(page.context)

    csv = requests.get(f"{api}/datasets/contracts/download.csv", timeout=60).text
    assert re.search(r",(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2},", csv), "the download keeps ISO 8601"

    centers = web.page("/web/shafaf/dataset.html?slug=centers")
    centers.locator("#rows tbody tr").first.wait_for()
    province = centers.get_by_label("استان", exact=True)
    names = province.locator("option").all_inner_texts()[1:]
    assert len(names) == 31 and "tehran" not in " ".join(names)
    assert names == centers.evaluate("names => [...names].sort(new Intl.Collator('fa').compare)", names)
    assert names.index("آذربایجان شرقی") < names.index("اصفهان") < names.index("البرز") < names.index("تهران")
    province.select_option(label="تهران")
    centers.get_by_label("نوع مرکز", exact=True).select_option(label="مهدکودک")
    asked: list[str] = []
    centers.on("request", lambda r: asked.append(r.url) if "/rows?" in r.url else None)
    centers.get_by_role("button", name="جست‌وجو", exact=True).click()
    centers.locator("#rows-out[aria-busy='false']").wait_for()
    centers.wait_for_function("""() => [...document.querySelectorAll("#rows td[data-column='province_fa']")]
        .every((td) => td.textContent === "تهران")""")
    assert "province=tehran" in asked[-1] and "center_type=nursery" in asked[-1]  # the codes are sent
    places = centers.locator("#rows td[data-column='province_fa']").all_inner_texts()
    kinds = centers.locator("#rows td[data-column='center_type_fa']").all_inner_texts()
    assert places and set(places) == {"تهران"} and set(kinds) == {"مهدکودک"}
    web.check(centers, "shafaf-filter-persian-pickers")



UPLOAD_HEADER = "manager_id,full_name,position_fa,unit_fa,level,level_fa,province,province_fa,appointed_on,education_fa"
UPLOAD_ROWS = ["m-1,علي كريمي,مدیرکل,اداره کل بهزیستی استان تهران,province,استان,tehran,تهران,۱۴۰۳/۰۵/۱۲,کارشناسی ارشد",
               "m-2,مریم احمدی,معاون توانبخشی,اداره کل بهزیستی استان تهران,province,استان,tehran,تهران,1403/06/01,دکتری"]


def _managers_file(*rows: str) -> dict:
    return {"name": "managers.csv", "mimeType": "text/csv", "buffer": "\n".join([UPLOAD_HEADER, *rows]).encode()}


def test_a_unit_hands_in_a_dataset_reads_the_line_at_fault_fixes_it_and_another_person_publishes_it(web):
    """SPEC T10, T11: an HQ expert's file with a wrong date is refused with its line and column in Persian and
    nothing is published; fixed, it waits; the unit's head approves it and Shafaf shows the new signed version."""
    from common.text import persian_digits

    dataset = f"{web.base}/api/v1/transparency/datasets/managers"
    before = _until(lambda: requests.get(dataset, timeout=10).json(), lambda d: d["version"], "managers published")

    page = staff_page(web, "rehab.expert", "/web/staff/datasets.html")
    page.get_by_label("مجموعه‌داده", exact=True).select_option(label="مدیران")
    page.get_by_label("پرونده (CSV یا xlsx)").set_input_files(
        _managers_file(UPLOAD_ROWS[0], UPLOAD_ROWS[1].replace("1403/06/01", "1403/13/01")))
    page.get_by_role("button", name="بارگذاری و بررسی").click()
    wrong = page.locator("#upload-report li[data-line='3'][data-column='appointed_on']")
    wrong.wait_for()
    assert page.locator("#upload-report li").count() == 1
    assert wrong.inner_text().startswith("سطر ۳، ستون «تاریخ انتصاب (میلادی)»")
    web.check(page, "staff-datasets-report")
    assert requests.get(dataset, timeout=10).json()["version"] == before["version"]  # all or nothing

    page.get_by_label("مجموعه‌داده", exact=True).select_option(label="مدیران")
    page.get_by_label("پرونده (CSV یا xlsx)").set_input_files(_managers_file(*UPLOAD_ROWS))
    page.get_by_label("یادداشت (اختیاری)").fill("مدیران استان تهران")
    page.get_by_role("button", name="بارگذاری و بررسی").click()
    page.locator("#uploads li[data-status='pending']").wait_for()
    assert page.locator("#upload-report").count() == 0
    assert page.locator("#uploads li[data-status='pending'] button").count() == 0  # an expert never approves

    head = staff_page(web, "rehab.head", "/web/staff/datasets.html")
    head.locator("#uploads li[data-status='pending']").get_by_role("button", name="تأیید و انتشار").click()
    published = head.locator("#uploads li[data-status='approved']").first
    published.wait_for()
    web.check(head, "staff-datasets-approved")
    after = requests.get(dataset, timeout=10).json()
    assert (after["version"], after["row_count"]) == (before["version"] + 1, 2)
    assert "مدیران استان تهران" in after["versions"][-1]["note"]

    published.get_by_role("link", name=re.compile("در سامانهٔ شفاف")).click()
    head.locator("#rows tbody tr").first.wait_for()
    assert head.locator("#rows tbody tr").count() == 2
    names = head.locator("#rows td[data-column='full_name']").all_inner_texts()
    assert sorted(names) == ["علی کریمی", "مریم احمدی"]  # Arabic ي ك read as Persian ی ک
    assert f"(نسخهٔ {persian_digits(after['version'])})" in head.locator("#rows-status").inner_text()
