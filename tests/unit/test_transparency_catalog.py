"""The Shafaf catalogue and its demo set (SPEC T2-T12): every dataset described in Persian, the demo rows
at the real sizes, of the declared types, unique on their key, the same on every run, and free of
anything that looks like a national ID or a mobile number."""
import hashlib
import json
import itertools
import re
from datetime import date

import jdatetime
import pytest

from common.config import get_settings
from common.text import normalise_digits
from common.reference_data import CENTERS, PROVINCES
from common.budget_lines import BUDGET_LINES
from services.transparency.catalog import (
    CATALOG,
    LICENCE,
    PUBLISHER,
    SOURCES,
    TYPES,
    complaint_statistics_rows,
    describe,
    donation_row,
)
from services.transparency.demo_data import demo_rows

PERSIAN = re.compile(r"[\u0600-\u06FF]")
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
NATIONAL_ID_LIKE = re.compile(r"(?<!\d)\d{10}(?!\d)")
MOBILE_LIKE = re.compile(r"(?<!\d)(?:\+98|0098|98|0)?9\d{9}(?!\d)")
PERSONAL_COLUMNS = ("national_id", "mobile", "phone", "sheba", "iban", "card", "account", "postal_code")
EU_THEMES = {"AGRI", "ECON", "EDUC", "ENER", "ENVI", "GOVE", "HEAL", "INTR", "JUST", "REGI", "SOCI", "TECH", "TRAN"}
PY_TYPES = {"string": str, "integer": int, "number": (int, float), "date": str, "boolean": bool}
DEMO = [slug for slug, dataset in CATALOG.items() if dataset.source == "demo"]

# Every dataset the issue names (SPEC T2-T12), under the slug the catalogue gives it.
ISSUE_DATASETS = {"properties", "contracts", "contractors", "donations", "service_recipients", "centers",
                  "financial_statements", "budget", "payment_aggregates", "transactions", "managers", "licenses",
                  "hiring", "plans", "research", "complaint_statistics"}


def test_every_dataset_of_the_issue_is_in_the_catalogue():
    assert ISSUE_DATASETS <= set(CATALOG)
    assert {CATALOG[s].source for s in ("donations", "payment_aggregates", "budget", "complaint_statistics")} == {"events"}


@pytest.mark.parametrize("slug", list(CATALOG))
def test_a_dataset_is_described_in_persian_with_typed_columns_and_a_key(slug):
    dataset = CATALOG[slug]
    assert dataset.slug == slug
    assert PERSIAN.search(dataset.title_fa) and PERSIAN.search(dataset.description_fa)
    assert len(dataset.description_fa) > 60
    assert dataset.title_en and dataset.keywords_fa
    assert dataset.source in SOURCES and dataset.theme in EU_THEMES
    assert re.fullmatch(r"[TC]\d+(, [TP]\d+)*", dataset.spec)
    names = dataset.column_names
    assert names and len(set(names)) == len(names)
    assert dataset.key in names and not dataset.column(dataset.key).nullable
    for column in dataset.columns:
        assert SNAKE.match(column.name), column.name
        assert column.type in TYPES
        assert PERSIAN.search(column.title_fa), column.name
        assert not any(word in column.name for word in PERSONAL_COLUMNS), column.name
    assert any(column.searchable for column in dataset.columns)


def test_publisher_and_licence():
    assert PERSIAN.search(PUBLISHER["name_fa"]) and PUBLISHER["name_en"]
    assert PUBLISHER["homepage"].startswith("https://") and "@" in PUBLISHER["email"]
    assert LICENCE["id"] == "CC-BY-4.0" and LICENCE["url"] == "https://creativecommons.org/licenses/by/4.0/"
    assert PERSIAN.search(LICENCE["title_fa"])


def test_describe_gives_version_and_publication_date_in_iso_and_jalali():
    from datetime import datetime, timezone

    meta = describe(CATALOG["contracts"], version=3, published_at=datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc),
                    sha256="ab" * 32)
    assert meta["version"] == 3 and meta["sha256"] == "ab" * 32
    assert meta["published_at"] == {"iso": "2026-11-26T09:00:00Z", "jalali": "۱۴۰۵/۰۹/۰۵ ۱۲:۳۰"}
    assert meta["licence"]["id"] == "CC-BY-4.0" and meta["publisher"]["name_fa"] == PUBLISHER["name_fa"]
    assert [c["name"] for c in meta["columns"]] == list(CATALOG["contracts"].column_names)


def _check_row(dataset, row, failures):
    """The row has exactly the dataset's columns, each of its type, None only where nullable."""
    if list(row) != list(dataset.column_names):
        failures.append(f"{dataset.slug}: columns {list(row)}")
        return
    for column in dataset.columns:
        value = row[column.name]
        if value is None:
            if not column.nullable:
                failures.append(f"{dataset.slug}.{column.name} is None")
            continue
        if not isinstance(value, PY_TYPES[column.type]) or (column.type in ("integer", "number")
                                                            and isinstance(value, bool)):
            failures.append(f"{dataset.slug}.{column.name}: {value!r} is not {column.type}")
        elif column.type == "date":
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                failures.append(f"{dataset.slug}.{column.name}: {value!r}")
            date.fromisoformat(value)
        elif column.name.endswith("_jalali") and not re.fullmatch(r"1[34]\d\d/(0[1-9]|1[0-2])/[0-3]\d", value):
            failures.append(f"{dataset.slug}.{column.name}: {value!r}")


def _identifiers_in(row) -> list[str]:
    found = []
    for value in row.values():
        if isinstance(value, str):
            text = normalise_digits(value)
            found += NATIONAL_ID_LIKE.findall(text) + MOBILE_LIKE.findall(text)
    return found


@pytest.fixture(scope="module")
def demo_summary():
    """One pass over every demo dataset: counts, failures, keys, identifier-like values, a digest."""
    summary = {}
    for slug in DEMO:
        dataset = CATALOG[slug]
        failures, keys, identifiers, jalali_mismatch = [], set(), [], []
        digest = hashlib.sha256()
        count = 0
        for count, row in enumerate(demo_rows(slug), 1):
            _check_row(dataset, row, failures)
            keys.add(row[dataset.key])
            identifiers += _identifiers_in(row)
            digest.update(json.dumps(row, ensure_ascii=False, sort_keys=True).encode())
            if count % 7 == 0:  # jdatetime is slow: every 7th row is enough to catch a conversion error
                for name in dataset.column_names:
                    if name.endswith("_jalali") and row[name] is not None:
                        gregorian = date.fromisoformat(row[name[: -len("_jalali")]])
                        if row[name] != jdatetime.date.fromgregorian(date=gregorian).strftime("%Y/%m/%d"):
                            jalali_mismatch.append((row[name], gregorian))
        summary[slug] = {"count": count, "failures": failures[:20], "keys": len(keys),
                         "identifiers": identifiers[:20], "digest": digest.hexdigest(), "jalali": jalali_mismatch[:5]}
    return summary


def test_demo_sizes_are_the_real_ones(demo_summary):
    counts = {slug: s["count"] for slug, s in demo_summary.items()}
    assert counts["properties"] == 2_800  # seed 000
    assert counts["contracts"] == 22_000  # seed 000
    assert 100 <= counts["contractors"] < 1_000  # hundreds
    assert counts["centers"] == sum(len(c) for c in CENTERS.values()) == 427
    assert counts["service_recipients"] == 10 * 31 * 13
    assert all(count > 0 for count in counts.values())


def test_demo_rows_conform_to_their_columns(demo_summary):
    assert {slug: s["failures"] for slug, s in demo_summary.items() if s["failures"]} == {}
    assert {slug: s["jalali"] for slug, s in demo_summary.items() if s["jalali"]} == {}


def test_demo_keys_are_unique(demo_summary):
    assert {slug: (s["keys"], s["count"]) for slug, s in demo_summary.items() if s["keys"] != s["count"]} == {}


def test_demo_rows_hold_nothing_like_a_national_id_or_a_mobile(demo_summary):
    assert {slug: s["identifiers"] for slug, s in demo_summary.items() if s["identifiers"]} == {}


def test_demo_rows_are_the_same_on_every_run(demo_summary):
    for slug in DEMO:
        digest = hashlib.sha256()
        for row in demo_rows(slug):
            digest.update(json.dumps(row, ensure_ascii=False, sort_keys=True).encode())
        assert digest.hexdigest() == demo_summary[slug]["digest"], slug


def test_the_identifier_scan_catches_what_it_looks_for():
    assert _identifiers_in({"a": "کد ملی ۰۴۹۹۳۷۰۸۹۹", "b": "تلفن 09121234567", "c": "+989121234567"}) == \
        ["0499370899", "09121234567", "+989121234567"]
    assert _identifiers_in({"a": "C1402-00457", "b": "01-1365-9481", "c": "BHZ-P-00001"}) == []


def test_demo_reaches_every_province_and_the_years_of_the_portal():
    contracts = list(demo_rows("contracts"))
    assert {r["province"] for r in contracts} == {*PROVINCES, "national"}
    assert {r["year"] for r in contracts} == set(range(1391, 1406))
    assert {r["province"] for r in demo_rows("properties")} == set(PROVINCES)
    assert max(r["signed_on"] for r in contracts) <= "2026-11-21"
    kinds = {r["kind"] for r in contracts}
    assert kinds == {"contract", "agreement", "memorandum"}


def test_contractor_totals_add_up_to_the_contracts():
    contractors = list(demo_rows("contractors"))
    contracts = list(demo_rows("contracts"))
    assert sum(r["contracts_count"] for r in contractors) == len(contracts)
    assert sum(r["contracts_amount_rials"] for r in contractors) == sum(r["amount_rials"] for r in contracts)
    assert {r["contractor_id"] for r in contracts} <= {r["contractor_id"] for r in contractors}


def test_licence_on_time_rates_are_the_seeds():
    national = {r["year"]: r for r in demo_rows("license_timeliness") if r["province"] == "all"}
    assert national[1403]["on_time_rate"] == 0.98  # seed 003
    assert national[1402]["on_time_rate"] == 0.36
    licenses = [r for r in demo_rows("licenses") if r["year"] == 1403]
    assert len(licenses) == national[1403]["issued"]
    assert sum(r["on_time"] for r in licenses) == national[1403]["on_time"]
    assert all((r["issued_on"] <= r["due_on"]) == r["on_time"] for r in licenses)


def test_budget_rows_carry_the_lines_payments_announced_and_what_was_spent():
    from services.transparency.event_rows import budget_rows

    rows = list(budget_rows(1405, BUDGET_LINES, {"pension_disability": 5_000}))
    assert [r["code"] for r in rows] == [line["code"] for line in BUDGET_LINES]
    assert rows[0]["spent_rials"] == 5_000 and rows[1]["spent_rials"] == 0
    assert all(r["year"] == 1405 and r["yearly_allocation_rials"] > 0 and r["per_capita_rials"] > 0 for r in rows)
    assert {r["pays_fa"] for r in rows} == {"واریز به حساب مددجو", "پرداخت به مرکز، بیمه‌گر یا مجری خدمت"}
    assert list(budget_rows(1405, [])) == []


def test_demo_rows_refuse_datasets_built_from_events():
    for slug in ("donations", "budget"):
        with pytest.raises(ValueError):
            demo_rows(slug)
    with pytest.raises(KeyError):
        demo_rows("no_such_dataset")


def _schema_examples(event_type):
    from common.config import PROJECT_ROOT

    path = PROJECT_ROOT / "contracts" / "events" / f"{event_type}.json"
    return json.loads(path.read_text(encoding="utf-8"))["examples"]


def test_a_donation_event_becomes_a_row_without_the_donor():
    person, company = _schema_examples("ir.behzisti.payments.donation.received.v1")
    failures = []
    for data in (person, company):
        row = donation_row(data)
        _check_row(CATALOG["donations"], row, failures)
        assert data["mobile" if data["donor_kind"] == "person" else "company_national_id"] not in \
            json.dumps(row, ensure_ascii=False)
    assert failures == []
    assert donation_row(person)["company_name"] is None
    assert donation_row(company)["company_name"] == "شرکت پتروشیمی نمونه"
    assert donation_row(person)["paid_on_jalali"] == "1405/09/05" and donation_row(person)["month"] == "1405-09"


def test_a_statistics_event_becomes_rows_with_suppressed_cells_flagged():
    data = {"period": "monthly:1405-08", "kind": "monthly", "from": "2026-10-22T20:30:00Z",
            "to": "2026-11-21T20:30:00Z", "label_fa": "آبان ۱۴۰۵", "threshold": 5, "received": 120,
            "by_kind": {"complaint": 100, "question": None, "idea": None, "other": 12},
            "by_province": {"tehran": 80, "national": 40}, "by_outcome": {"answered": 90, "in_progress": 30},
            "on_time_rate": 0.93}
    rows = complaint_statistics_rows(data)
    failures = []
    for row in rows:
        _check_row(CATALOG["complaint_statistics"], row, failures)
    assert failures == []
    assert len({r["row_id"] for r in rows}) == len(rows) == 1 + 4 + 2 + 2
    total = rows[0]
    assert (total["dimension"], total["count"], total["on_time_rate"]) == ("total", 120, 0.93)
    assert (total["from_date"], total["to_date"]) == ("2026-10-23", "2026-11-22")
    question = next(r for r in rows if r["category"] == "question")
    assert question["count"] is None and question["suppressed"] is True and question["category_fa"] == "پرسش"


def test_a_scaled_demo_is_the_first_rows_of_the_whole_and_its_payments_pay_its_own_contracts(monkeypatch):
    # the test platforms publish a tenth (tests/helpers.py TEST_PLATFORM_ENV): the same rows, fewer of them
    whole = {slug: list(itertools.islice(demo_rows(slug), 50)) for slug in ("properties", "contracts", "transactions")}
    monkeypatch.setenv("TRANSPARENCY_DEMO_SCALE", "0.1")
    get_settings.cache_clear()
    try:
        scaled = {slug: list(demo_rows(slug)) for slug in ("properties", "contracts", "transactions", "centers")}
        assert {slug: len(rows) for slug, rows in scaled.items()} == {
            "properties": 280, "contracts": 2_200, "transactions": 1_200, "centers": 427}
        assert all(scaled[slug][:50] == rows for slug, rows in whole.items() if slug != "transactions")
        contracts = {c["contract_number"] for c in scaled["contracts"]}
        paid = {t["contract_number"] for t in scaled["transactions"] if t["contract_number"]}
        assert paid and paid <= contracts
    finally:
        monkeypatch.delenv("TRANSPARENCY_DEMO_SCALE")
        get_settings.cache_clear()
