"""A unit's file for a dataset, read and checked without a broker or a database (services/transparency/uploads.py):
CSV and XLSX, Persian digits, Arabic letters, Jalali dates, and every error with its line and column in Persian."""
from __future__ import annotations

import io
from datetime import date, datetime

import pytest

from common.errors import Conflict, InvalidRequest
from common.jalali import typed_day
from common.text import standard_persian
from services.transparency import submissions, uploads
from services.transparency.catalog import CATALOG
from services.transparency.demo_data import demo_rows
from services.transparency.formats.csv_stream import csv_chunks
from services.transparency.formats.values import project

MANAGERS = CATALOG["managers"]
HEADER = "manager_id,full_name,position_fa,unit_fa,level,level_fa,province,province_fa,appointed_on,education_fa"
GOOD = [
    "m-1,علي كريمي,مدیرکل,اداره کل بهزیستی استان تهران,province,استان,tehran,تهران,۱۴۰۳/۰۵/۱۲,کارشناسی ارشد",
    "m-2,مریم احمدی,معاون توانبخشی,اداره کل بهزیستی استان تهران,province,استان,tehran,تهران,2024-08-02,دکتری",
]


def csv_file(*lines: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode("utf-8")


def errors_of(dataset, content: bytes) -> list[dict]:
    with pytest.raises(InvalidRequest) as raised:
        uploads.check(dataset, content)
    return raised.value.errors


def test_persian_digits_arabic_letters_and_jalali_dates_are_read_and_the_jalali_column_is_made():
    rows = uploads.check(MANAGERS, csv_file(*GOOD))
    first, second = rows
    assert first["full_name"] == "علی کریمی"  # Arabic ي ك as Persian ی ک
    assert first["appointed_on"] == second["appointed_on"] == "2024-08-02"  # ۱۴۰۳/۰۵/۱۲ is 2 August 2024
    assert first["appointed_on_jalali"] == "1403/05/12"
    assert list(first) == list(MANAGERS.column_names)  # every column, in the catalog's order


def test_an_xlsx_with_persian_titles_typed_cells_and_columns_in_another_order():
    from openpyxl import Workbook

    properties = CATALOG["properties"]
    book = Workbook()
    sheet = book.active
    columns = [c for c in uploads.handed_in(properties)][::-1]  # any order
    sheet.append([c.title_fa for c in columns])  # the Persian titles the dataset page shows
    row = next(iter(demo_rows("properties")))
    typed = {**row, "land_area_m2": "۱٬۲۵۰٫۵", "floors": 3.0, "has_title_deed": "بله", "construction_year": None,
             "status_fa": "در حال بهره‌برداری بهزیستي"}
    sheet.append([typed[c.name] for c in columns])
    sheet.append([None] * len(columns))  # the blank rows a spreadsheet keeps at its end
    out = io.BytesIO()
    book.save(out)
    [got] = uploads.check(properties, out.getvalue())
    assert got["land_area_m2"] == 1250.5 and got["floors"] == 3 and got["has_title_deed"] is True
    assert got["construction_year"] is None and got["status_fa"] == "در حال بهره‌برداری بهزیستی"
    assert got["property_code"] == row["property_code"]


def test_an_xlsx_date_cell_is_a_date():
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(HEADER.split(","))
    book.active.append(GOOD[0].split(",")[:8] + [datetime(2024, 8, 2), "دکتری"])
    out = io.BytesIO()
    book.save(out)
    [got] = uploads.check(MANAGERS, out.getvalue())
    assert (got["appointed_on"], got["appointed_on_jalali"]) == ("2024-08-02", "1403/05/12")


def test_a_wrong_type_names_its_line_and_column_in_persian():
    bad = GOOD[1].replace("2024-08-02", "۱۴۰۳/۱۳/۰۱")  # no 13th month
    [error] = errors_of(MANAGERS, csv_file(GOOD[0], bad))
    assert (error["line"], error["column"], error["code"], error["field"]) == (3, "appointed_on", "wrong_type", "file")
    assert error["message"].startswith("سطر ۳، ستون «تاریخ انتصاب (میلادی)»")
    assert "۱۴۰۳/۰۵/۱۲" in error["message"]  # says what a date looks like


def test_line_numbers_are_the_spreadsheets_even_after_a_blank_line():
    content = csv_file(GOOD[0], "", GOOD[1].replace("province,استان", "province,"))  # level_fa left empty
    [error] = errors_of(MANAGERS, content)
    assert (error["line"], error["column"], error["code"]) == (4, "level_fa", "required")


def test_a_missing_required_column_and_an_unknown_one_are_told_on_line_1():
    header = HEADER.replace(",education_fa", ",salary")
    found = {(e["line"], e.get("column"), e["code"]) for e in errors_of(MANAGERS, csv_file(*GOOD, header=header))}
    assert found == {(1, "education_fa", "missing_column"), (1, None, "unknown_column")}


def test_a_nullable_column_may_be_left_out_and_a_duplicate_column_is_an_error():
    centers = CATALOG["centers"]
    rows = [project(r, centers.column_names) for r in list(demo_rows("centers"))[:2]]
    columns = [c.name for c in centers.columns if c.name != "license_number"]
    content = ",".join(columns) + "\n" + "\n".join(",".join(str(r[c]) for c in columns) for r in rows) + "\n"
    assert [r["license_number"] for r in uploads.check(centers, content.encode())] == [None, None]
    twice = errors_of(MANAGERS, csv_file(*[line + ",x" for line in GOOD], header=HEADER + ",full_name"))
    assert [(e["line"], e["column"], e["code"]) for e in twice] == [(1, "full_name", "duplicate_column")]


def test_a_duplicate_key_names_both_lines():
    [error] = errors_of(MANAGERS, csv_file(GOOD[0], GOOD[1].replace("m-2", "m-1")))
    assert (error["line"], error["column"], error["code"]) == (3, "manager_id", "duplicate_key")
    assert "سطر ۲" in error["message"]


def test_the_same_key_in_persian_digits_is_the_same_key():
    contractors = CATALOG["contractors"]
    row = project(next(iter(demo_rows("contractors"))), contractors.column_names)
    columns = list(uploads.handed_in(contractors))
    line = ",".join("" if row[c.name] is None else str(row[c.name]) for c in columns)
    persian = line.replace(row["contractor_id"], standard_persian(row["contractor_id"]).translate(
        str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")), 1)
    content = (",".join(c.name for c in columns) + "\n" + line + "\n" + persian + "\n").encode()
    assert [e["code"] for e in errors_of(contractors, content)] == ["duplicate_key"]


def test_all_or_nothing_every_error_is_told_and_no_row_comes_back():
    lines = [GOOD[0], GOOD[1].replace("m-2", "m-1"), GOOD[1].replace("m-2", "m-3").replace("2024-08-02", "دیروز")]
    errors = errors_of(MANAGERS, csv_file(*lines))
    assert [(e["line"], e["code"]) for e in errors] == [(3, "duplicate_key"), (4, "wrong_type")]


def test_a_downloaded_csv_is_handed_in_again_as_it_is():
    """The portal's own CSV (BOM, the `_jalali` columns, apostrophes before formula characters) reads back
    into the very rows it was made of: an unchanged file makes no new version."""
    for slug in ("transactions", "financial_statements", "centers"):
        dataset = CATALOG[slug]
        rows = [project(r, dataset.column_names) for r in list(demo_rows(slug))[:300]]
        text = next(c.name for c in uploads.handed_in(dataset) if c.searchable and c.name != dataset.key)
        rows[0][text] = "-منفی"  # written '-منفی in the CSV, so that no spreadsheet runs it
        assert uploads.check(dataset, b"".join(csv_chunks(dataset, rows))) == rows, slug


def test_windows_1256_and_semicolons_as_excel_saves_them():
    """Windows-1256 has no Persian ی: Excel writes Arabic ي, which is read as ی."""
    line = "m-1;علي كريمي;مدير كل;اداره كل;province;استان;tehran;تهران;1403/05/12;دكتري"
    rows = uploads.check(MANAGERS, csv_file(line, header=HEADER.replace(",", ";")).decode().encode("cp1256"))
    assert (rows[0]["full_name"], rows[0]["education_fa"]) == ("علی کریمی", "دکتری")


@pytest.mark.parametrize("content, code", [
    (b"", "empty_file"), (HEADER.encode(), "no_rows"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old_excel"),
    (b"PK\x03\x04 not really a zip", "unreadable")])
def test_a_file_that_is_no_table_is_told_so(content, code):
    [error] = errors_of(MANAGERS, content)
    assert error["code"] == code and "line" not in error and error["message"]


def test_the_table_schema_follows_the_catalog():
    schema = uploads.table_schema(MANAGERS)
    fields = {f["name"]: f for f in schema["fields"]}
    assert "appointed_on_jalali" not in fields  # made from the date
    assert fields["manager_id"]["constraints"] == {"required": True, "unique": True}
    assert fields["appointed_on"]["type"] == "date"
    properties = {f["name"]: f for f in uploads.table_schema(CATALOG["properties"])["fields"]}
    assert "constraints" not in properties["construction_year"]  # nullable
    assert "بله" in properties["has_title_deed"]["trueValues"]


def test_a_dataset_built_from_events_takes_no_file():
    for slug in ("donations", "payment_aggregates", "complaint_statistics"):
        with pytest.raises(Conflict) as refused:
            submissions.uploadable(slug)
        assert refused.value.code == "not_handed_in"
    assert submissions.uploadable("managers") is MANAGERS


def test_typed_days_in_either_calendar():
    assert typed_day("۱۴۰۳/۰۵/۱۲") == typed_day("1403-5-12") == typed_day("2024/08/02") == date(2024, 8, 2)
    assert typed_day("١٤٠٣/١٢/٣٠") == date(2025, 3, 20)  # Arabic-Indic digits; 1403 is a leap year
    assert typed_day("1402/12/30") is None and typed_day("دیروز") is None


def test_standard_persian_keeps_hamze_and_tatweel_unlike_search():
    assert standard_persian("مسئول علي كار ۱۲٣") == "مسئول علی کار 123"
