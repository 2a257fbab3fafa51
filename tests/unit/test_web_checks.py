"""The pages check before sending (web/assets/js/checks.js) with the API's own rules: the same values are
accepted and refused by the page as by common/identifiers.py and common/validation.py, so that a mistake is
told at once and never spends the rate limits, and nothing the API would take is refused by the page. Run under
Node (skipped where it is not installed), with the modules checks.js imports."""
from __future__ import annotations

import json
import random
import re
import shutil
import subprocess

import pytest

from pydantic import BaseModel

from common.config import PROJECT_ROOT
from common.errors import InvalidRequest
from common.identifiers import InvalidIdentifier, is_valid_national_id, normalise_mobile, normalise_national_id
from common.validation import NO_LETTERS_FA, FreeText, parse
from services.complaints import domain
from services.notifications import otp
from services.payments.donation_schemas import AMOUNT_FA, DonationIn, is_valid_company_id

JS = PROJECT_ROOT / "web" / "assets" / "js"

HARNESS = r"""
globalThis.sessionStorage = { getItem: () => null, setItem() {}, removeItem() {} };
const checks = await import(process.argv[2]);
const input = JSON.parse(process.argv[3]);
const out = {
  nationalIds: input.nationalIds.map((v) => checks.normaliseNationalId(v)),
  mobiles: input.mobiles.map((v) => checks.normaliseMobile(v)),
  companies: input.companies.map((v) => checks.isValidCompanyId(v)),
  texts: input.texts.map(([text, min, max, required]) => checks.textProblem(text, { min, max, required })),
  amounts: input.amounts.map((v) => checks.amountProblem(v)),
  letters: input.letters.map((text) => checks.textProblem(text, { min: 10, max: 4000 })),
  secrets: input.secrets.map((v) => [checks.normaliseSecret(v), checks.secretGroups(v)]),
  waits: input.waits.map(([asked, now]) => checks.codeRequestWait(asked, now)),
  ONE_TIME_CODE: checks.ONE_TIME_CODE,
  problem: checks.localProblem([{ field: "text", message: "x" }, { field: "mobile", message: null }, null]),
  none: checks.localProblem([{ field: "text", message: null }]),
  TEXT: { required: checks.TEXT.required, nationalId: checks.TEXT.nationalId, noLetters: checks.TEXT.noLetters,
    amount: checks.TEXT.amount(checks.MIN_DONATION_RIALS, checks.MAX_DONATION_RIALS) },
};
out.problem = { status: out.problem.status, errors: out.problem.fieldErrors, message: out.problem.message };
console.log(JSON.stringify(out));
"""


def _national_id(payload: str) -> str:
    total = sum(int(payload[i]) * (10 - i) for i in range(9)) % 11
    return payload + str(total if total < 2 else 11 - total)


def _company_id(payload: str) -> str:
    return next(payload + d for d in "0123456789" if is_valid_company_id(payload + d))


@pytest.fixture(scope="module")
def cases():
    rng = random.Random(22)
    valid = [_national_id(f"{rng.randrange(10 ** 9):09d}") for _ in range(60)]
    national_ids = valid + [v[:9] + str((int(v[9]) + 1) % 10) for v in valid[:30]] + [
        "0499370899", "۰۴۹۹۳۷۰۸۹۹", "049-937-0899", "499370899", "1111111111", "12345", "", "04993708990"]
    mobiles = ["09121234567", "۰۹۱۲۱۲۳۴۵۶۷", "+98 912 123 4567", "0098-912-123-4567", "9121234567", "989121234567",
               "0912123456", "08121234567", "091212345678", "+989121234567", "٠٩١٢١٢٣٤٥٦٧", "abc"]
    companies = [_company_id(f"{rng.randrange(10 ** 10):010d}") for _ in range(30)] + ["12345678901", "10100834460",
                                                                                      "00000000000", "1010083446"]
    texts = [["", 10, 4000, True], ["   \n ", 10, 4000, True], ["کوتاه", 10, 4000, True],
             ["مستمری واریز نشده است.", 10, 4000, True], ["ا" * 4001, 10, 4000, True], ["", 2, 2000, False],
             ["ب", 2, 2000, False], ["a b c d e f g h i j", 10, 4000, True]]
    amounts = ["5000000", "۵۰۰۰۰۰۰", "5,000,000", "0", "-5", "12.5", "", "1000000000001", "1000000000000",
               "1", "9999", "10000", "۱۰٬۰۰۰"]
    letters = [".......... ....", "؟؟؟؟؟!!!!!!", "!!!!!!!!!!!!?", "— — — — — — — — — — —", "😡😡😡😡😡😡😡😡😡😡",
               "«»«»«»«»«»«»", "۱۲۳۴۵۶۷۸۹۰", "..........ب", "مستمری واریز نشده است!!!", "a.........."]
    secrets = ["HKDCTG6VJE2UBM5E", "HKDC-TG6V-JE2U-BM5E", "hkdc tg6v je2u bm5e", "  hkdc-tg۶v-je۲u-bm۵e ",
               "HKDC‌TG6V‌JE2U‌BM5E", "HKDC_TG6V.JE2U/BM5E", "H0DC-1G8V", "", "----"]
    minute, start = 60_000, 1_700_000_000_000
    waits = [[[], start], [[start], start + 10_000], [[start], start + minute],
             [[start, start + minute], start + 2 * minute + 1_000],
             [[start, start + minute, start + 2 * minute], start + 2 * minute + 10_000],
             [[start, start + minute, start + 2 * minute], start + 10 * minute],
             [[start - 11 * minute, start - 10 * minute, start], start + 2 * minute]]
    return {"nationalIds": national_ids, "mobiles": mobiles, "companies": companies, "texts": texts,
            "amounts": amounts, "letters": letters, "secrets": secrets, "waits": waits}


@pytest.fixture(scope="module")
def page_run(cases, tmp_path_factory):
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        pytest.skip("Node is not installed (apt-get install nodejs): the pages' checks are not run")
    folder = tmp_path_factory.mktemp("web-checks")
    shutil.copytree(JS, folder / "js")
    (folder / "package.json").write_text('{"type": "module"}', encoding="utf-8")
    (folder / "harness.mjs").write_text(HARNESS, encoding="utf-8")
    done = subprocess.run([node, str(folder / "harness.mjs"), (folder / "js" / "checks.js").as_uri(),
                           json.dumps(cases)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _server_national_id(value: str) -> str | None:
    try:
        return normalise_national_id(value)
    except InvalidIdentifier:
        return None


def _server_mobile(value: str) -> str | None:
    try:
        return normalise_mobile(value)
    except InvalidIdentifier:
        return None


def test_national_ids_are_checked_with_the_check_digit_as_the_api_does(cases, page_run):
    assert page_run["nationalIds"] == [_server_national_id(v) for v in cases["nationalIds"]]
    assert sum(bool(v) for v in page_run["nationalIds"]) >= 60 and page_run["nationalIds"].count(None) >= 30
    assert all(is_valid_national_id(v) for v in page_run["nationalIds"] if v)


def test_mobiles_and_company_ids_are_read_as_the_api_reads_them(cases, page_run):
    assert page_run["mobiles"] == [_server_mobile(v) for v in cases["mobiles"]]
    assert page_run["companies"] == [is_valid_company_id(v) for v in cases["companies"]]
    assert page_run["companies"].count(True) >= 30


def test_texts_are_required_and_measured_as_the_api_measures_them(page_run):
    required, blank, short, fine, long, optional, one, latin = page_run["texts"]
    assert required == blank == page_run["TEXT"]["required"]
    assert "۱۰" in short and fine is None and "۴۰۰۰" in long
    assert optional is None and "۲" in one and latin is None
    assert not re.search(r"[0-9]", "".join(m for m in page_run["texts"] if m))


def test_amounts_are_whole_positive_rials_up_to_the_api_s_maximum(page_run):
    fine, persian, grouped, zero, negative, fraction, empty, too_much, most = page_run["amounts"][:9]
    assert fine is persian is grouped is most is None
    assert zero == negative == fraction == too_much == page_run["TEXT"]["amount"]
    assert empty == page_run["TEXT"]["required"]
    assert "۱٬۰۰۰٬۰۰۰٬۰۰۰٬۰۰۰" in page_run["TEXT"]["amount"]


def _server_amount(value: int | None) -> str | None:
    try:
        parse(DonationIn, {"province": "tehran", "purpose": {"kind": "line", "code": "child_support"},
                           "amount_rials": value})
        return None
    except InvalidRequest as refused:
        return refused.errors[0]["message"]


def test_a_donation_below_the_minimum_is_refused_by_the_page_and_the_server_with_one_persian_message(cases, page_run):
    """Issue 22: a 1-rial donation was accepted. The minimum is 10,000 rials (1,000 toman), on both sides."""
    amounts = dict(zip(cases["amounts"], page_run["amounts"], strict=True))
    assert amounts["1"] == amounts["9999"] == page_run["TEXT"]["amount"] == AMOUNT_FA
    assert amounts["10000"] is None and amounts["۱۰٬۰۰۰"] is None
    for typed, number in [("1", 1), ("9999", 9999), ("10000", 10_000), ("5000000", 5_000_000), ("0", 0)]:
        assert amounts[typed] == _server_amount(number), typed
    assert "۱۰٬۰۰۰ ریال" in AMOUNT_FA and not re.search(r"[0-9]", AMOUNT_FA)


class Complaint(BaseModel):
    text: FreeText(10, 4000)


def _server_text(text: str) -> str | None:
    try:
        parse(Complaint, {"text": text})
        return None
    except InvalidRequest as refused:
        return refused.errors[0]["message"]


def test_text_without_a_letter_or_a_digit_is_refused_by_the_page_and_the_server(cases, page_run):
    """Issue 22: «؟؟؟؟؟!!!!!!» was registered as a complaint. Punctuation, dashes, quotes or emoji alone are
    refused with one message; a digit or a letter of any script is enough."""
    refused = {text: message for text, message in zip(cases["letters"], page_run["letters"], strict=True)}
    assert [text for text, message in refused.items() if message] == cases["letters"][:6]
    assert all(message == NO_LETTERS_FA == page_run["TEXT"]["noLetters"] for message in list(refused.values())[:6])
    for text, message in refused.items():
        assert message == _server_text(text), text


def test_a_secret_typed_in_groups_or_lowercase_or_persian_digits_is_read_as_the_server_reads_it(cases, page_run):
    """Issue 22: `HKDC-TG6V-JE2U-BM5E` was refused. The page and services/complaints normalise it the same way; a
    secret is shown in groups of four."""
    for typed, (normalised, grouped) in zip(cases["secrets"], page_run["secrets"], strict=True):
        assert normalised == domain.normalise_secret(typed), typed
        assert grouped.replace("-", "") == normalised
    assert page_run["secrets"][0] == ["HKDCTG6VJE2UBM5E", "HKDC-TG6V-JE2U-BM5E"]
    assert {n for n, _ in page_run["secrets"][:6]} == {"HKDCTG6VJE2UBM5E"}
    assert page_run["secrets"][6][0] == "HODCIGBV"  # 0, 1, 8 are not in the alphabet: read as O, I, B
    secret = domain.case_secret(None, "unit-key")
    stored = domain.secret_hash(secret)
    grouped = "-".join(secret[i:i + 4] for i in range(0, 16, 4))
    assert domain.secret_matches(stored, grouped) and domain.secret_matches(stored, f" {grouped.lower()} ")
    assert not domain.secret_matches(stored, grouped[:-1]) and not domain.secret_matches(stored, "----")


def test_the_page_asks_for_a_code_only_when_the_server_would_send_one(page_run):
    """Issue 22: after three code requests the page still said "sent" and no SMS came (otp.py: three a mobile in ten
    minutes; the API's answer is the same either way). The page waits a minute between requests, and after three
    until the oldest leaves the server's window."""
    limits = page_run["ONE_TIME_CODE"]
    assert limits["perMobile"] == otp.PER_MOBILE
    assert limits["windowSeconds"] == otp.RATE_WINDOW.total_seconds()
    assert limits["lifetimeSeconds"] == otp.CODE_LIFETIME.total_seconds()
    nothing, just_asked, a_minute_on, two, three, ten_minutes_on, older = page_run["waits"]
    assert nothing == 0 and just_asked == 50 and a_minute_on == 0 and two == 0
    assert three == 10 * 60 - 130  # until the first of the three leaves the window, as otp._check_limit counts
    assert ten_minutes_on == 0 and older == 0


def test_problems_found_become_an_api_like_problem_for_the_form(page_run):
    problem = page_run["problem"]
    assert problem["status"] == 400 and problem["errors"] == [{"field": "text", "message": "x"}]
    assert "فرستاده نشده" in problem["message"]
    assert page_run["none"] is None
