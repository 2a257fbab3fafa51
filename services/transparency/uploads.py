"""A unit's file for a dataset (SPEC T10, T11): read (CSV or XLSX), normalised as people type and checked
against the dataset's Table Schema with frictionless. Every error names the line the person sees in their
spreadsheet (the header is line 1), the column, and says in Persian what is wrong. All or nothing: the rows
come back only when there is no error at all.

What a file carries: a header of column names (or their Persian titles, as the dataset page shows them) in
any order, then one row per line; blank lines are skipped. A nullable column may be left out. The
`..._jalali` columns are not needed: they are made from their dates, and ignored when present, so that a
downloaded CSV can be edited and handed in again as it is (unchanged, it makes no new version).

As people type: Arabic ي ك are Persian ی ک everywhere; Persian and Arabic digits are ASCII in numbers,
dates and codes, while Persian text keeps its digits as typed (the pages show them Persian either way); a
date is Jalali (۱۴۰۳/۰۵/۱۲, 1403-5-12) or Gregorian; numbers may be grouped (۱٬۲۰۰٬۰۰۰) or have a Persian
decimal point; yes/no is بله/خیر. Codes and their Persian names (`province`, `province_fa`) are not checked
against each other here."""
from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime

from frictionless import Resource, Schema

from common.errors import FieldError, InvalidRequest
from common.jalali import day_text, typed_day
from common.text import normalise, persian_digits, persian_letters, standard_persian
from services.transparency.catalog import Column, Dataset
from services.transparency.formats.csv_stream import FORMULA_START
from services.transparency.formats.values import plain

MAX_ERRORS = 100  # past these, the person fixes what they have and hands the file in again
TRUE_WORDS = ["true", "True", "TRUE", "1", "بله", "آری", "دارد"]
FALSE_WORDS = ["false", "False", "FALSE", "0", "خیر", "نه", "ندارد"]
_THOUSANDS = str.maketrans("", "", ",٬ ")  # 1,200,000 and ۱٬۲۰۰٬۰۰۰
_DECIMAL = str.maketrans({"٫": ".", "/": "."})  # ۱۲٫۵ and ۱۲/۵, as Persian keyboards write a decimal point
_SAME_AS = re.compile(r"position (\d+)")
XLSX_MAGIC, OLD_EXCEL_MAGIC = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"


def derived(dataset: Dataset) -> dict[str, str]:
    """The `..._jalali` columns made from a date column beside them: {jalali column: date column}."""
    dates = {c.name for c in dataset.columns if c.type == "date"}
    return {c.name: c.name[:-len("_jalali")] for c in dataset.columns
            if c.name.endswith("_jalali") and c.name[:-len("_jalali")] in dates}


def handed_in(dataset: Dataset) -> tuple[Column, ...]:
    """The columns a file carries (every column but the derived ones)."""
    made = derived(dataset)
    return tuple(c for c in dataset.columns if c.name not in made)


def field_of(column: Column, key: str) -> dict:
    """A catalog column as a Table Schema field: its type, required unless nullable, the key unique."""
    field = {"name": column.name, "title": column.title_fa, "type": column.type}
    constraints = {"required": True} if not column.nullable else {}
    if column.name == key:
        constraints["unique"] = True
    if constraints:
        field["constraints"] = constraints
    if column.type == "boolean":
        field.update(trueValues=TRUE_WORDS, falseValues=FALSE_WORDS)
    return field


def table_schema(dataset: Dataset, columns: tuple[Column, ...] | None = None) -> dict:
    """The Table Schema (frictionless) of the columns a file carries, in the given order."""
    return {"fields": [field_of(c, dataset.key) for c in (columns or handed_in(dataset))], "missingValues": [""]}


class _Report:
    """The errors found so far, each with its line and column, in Persian."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.errors: list[dict] = []

    def add(self, line: int | None, column: str | None, code: str, message: str, detail: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            where = []
            if line:
                where.append(f"سطر {persian_digits(line)}")
            if column:
                where.append(f"ستون «{self.title(column)}»")
            text = f"{'، '.join(where)}: {message}" if where else message
            located = {**({"line": line} if line else {}), **({"column": column} if column else {})}
            self.errors.append({**FieldError("file", code, text, detail), **located})

    def title(self, column: str) -> str:
        try:
            return self.dataset.column(column).title_fa
        except KeyError:
            return column

    def raise_if_any(self) -> None:
        if self.errors:
            raise InvalidRequest(self.errors)


def check(dataset: Dataset, content: bytes) -> list[dict]:
    """Every row of the file as the dataset publishes it (derived columns made), or InvalidRequest naming
    every error (the first MAX_ERRORS)."""
    report = _Report(dataset)
    lines = _read(content, report)
    report.raise_if_any()
    numbered = [(n, [_text(cell) for cell in cells]) for n, cells in enumerate(lines, start=1)]
    numbered = [(n, cells) for n, cells in numbered if any(cells)]  # blank lines are skipped, their numbers kept
    if not numbered:
        report.add(None, None, "empty_file", "پرونده خالی است؛ سطر نخست سرستون‌ها و سطرهای بعد داده‌ها باشد.",
                   "the file has no header")
        report.raise_if_any()
    (_, header), body = numbered[0], numbered[1:]
    while not header[-1]:  # a spreadsheet's empty columns at the end
        header = header[:-1]
    positions = _header(dataset, header, report)
    if not body:
        report.add(None, None, "no_rows", "پرونده جز سرستون‌ها سطری ندارد.", "the file has a header and no rows")
    report.raise_if_any()
    columns = tuple(dataset.column(name) for name in positions)
    table = [list(positions)]
    for n, cells in body:
        for extra in range(len(header), len(cells)):
            if cells[extra]:
                report.add(n, None, "extra_cell", f"خانهٔ «{cells[extra]}» زیر هیچ سرستونی نیست.",
                           f"a value in column {extra + 1}, past the header")
        table.append([_typed(dataset.column(name), dataset.key, cells[i] if i < len(cells) else "")
                      for name, i in positions.items()])
    rows = _validated(dataset, columns, table, [n for n, _ in body], report)
    report.raise_if_any()
    return [_published(dataset, row) for row in rows]


def _read(content: bytes, report: _Report) -> list[list]:
    if content.startswith(XLSX_MAGIC):
        return _read_xlsx(content, report)
    if content.startswith(OLD_EXCEL_MAGIC):
        report.add(None, None, "old_excel", "پروندهٔ Excel قدیمی (xls) پذیرفته نیست؛ آن را با قالب xlsx یا CSV "
                                            "ذخیره کنید.", "legacy .xls is not read; save as .xlsx or .csv")
        return []
    return _read_csv(content, report)


def _read_csv(content: bytes, report: _Report) -> list[list]:
    for encoding in ("utf-8-sig", "cp1256"):  # Excel in Persian Windows saves CSV as Windows-1256
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        report.add(None, None, "unreadable", "متن پرونده خوانده نشد؛ آن را با قالب CSV UTF-8 ذخیره کنید.",
                   "neither UTF-8 nor Windows-1256")
        return []
    if "\x00" in text:
        report.add(None, None, "not_a_table", "این پرونده CSV یا xlsx نیست.", "binary content")
        return []
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return list(csv.reader(io.StringIO(text, newline=""), dialect))


def _read_xlsx(content: bytes, report: _Report) -> list[list]:
    from openpyxl import load_workbook

    try:
        sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).worksheets[0]
        return [list(values) for values in sheet.iter_rows(values_only=True)]
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, IndexError) as exc:
        report.add(None, None, "unreadable", "پروندهٔ xlsx خوانده نشد؛ آن را دوباره با Excel ذخیره کنید.",
                   f"not a readable xlsx: {exc.__class__.__name__}")
        return []


def _text(cell) -> str:
    """A cell as text, whatever the file made of it (XLSX cells come typed)."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, datetime):
        return cell.date().isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _is_code(column: Column, key: str) -> bool:
    """A code or an identifier (the key, or a column not searched as text) rather than Persian text: its
    digits are ASCII."""
    return column.name == key or not column.searchable


def _typed(column: Column, key: str, text: str) -> str:
    """A cell's text as its column's type reads it: digits grouped or with a Persian decimal point, dates
    Jalali or Gregorian (a date that is no real day stays as typed: frictionless names it), text as the
    CSV download wrote it."""
    if not text:
        return text
    if column.type == "string" and text.startswith("'") and text[1:2] and text[1] in FORMULA_START:
        text = text[1:]  # the apostrophe our own CSV download puts before a formula's first character
    if column.type == "string" and not _is_code(column, key):
        return persian_letters(text)  # Persian text keeps its digits as typed (the pages show them Persian)
    text = standard_persian(text)
    if column.type in ("integer", "number"):
        text = text.translate(_THOUSANDS)
        return text.translate(_DECIMAL) if column.type == "number" else text
    if column.type == "date":
        day = typed_day(text)
        return day.isoformat() if day else text
    return text


def _header(dataset: Dataset, header: list[str], report: _Report) -> dict[str, int]:
    """{column name: its position in the file} for the columns the file carries; errors for the others."""
    names = {c.name: c.name for c in dataset.columns}
    names.update({normalise(c.title_fa): c.name for c in dataset.columns})
    made = derived(dataset)
    positions: dict[str, int] = {}
    for i, label in enumerate(header):
        name = names.get(label) or names.get(normalise(label))
        if not label:
            report.add(1, None, "blank_label", f"ستون {persian_digits(i + 1)} سرستون ندارد.",
                       f"column {i + 1} has no label")
        elif name is None:
            report.add(1, None, "unknown_column", f"ستون «{label}» در این مجموعه‌داده نیست؛ نام ستون‌ها را از "
                                                  "فهرست ستون‌های مجموعه‌داده بردارید.", f"no column {label!r}")
        elif name in positions:
            report.add(1, name, "duplicate_column", "این ستون دو بار آمده است.", f"{name} appears twice")
        elif name not in made:
            positions[name] = i
    for column in handed_in(dataset):
        if column.name not in positions and not column.nullable:
            report.add(1, column.name, "missing_column", "این ستون الزامی در سرستون‌ها نیست.",
                       f"the required column {column.name} is missing")
    order = [c.name for c in handed_in(dataset) if c.name in positions]
    return {name: positions[name] for name in order}


_TYPE_FA = {
    "integer": "عدد صحیح نیست؛ عددی مانند ۱۲۵۰۰۰۰ بنویسید.",
    "number": "عدد نیست؛ عددی مانند ۱۲۵٫۵ بنویسید.",
    "date": "تاریخ درستی نیست؛ تاریخ شمسی مانند ۱۴۰۳/۰۵/۱۲ یا میلادی مانند 2024-08-02 بنویسید.",
    "boolean": "بله یا خیر نیست؛ «بله» یا «خیر» بنویسید.",
    "string": "متن درستی نیست.",
}


def _validated(dataset: Dataset, columns: tuple[Column, ...], table: list[list], lines: list[int],
               report: _Report) -> list[dict]:
    """frictionless's check of the table; its row numbers (the header is 1) turned back into the file's lines."""
    schema = Schema.from_descriptor(table_schema(dataset, columns))
    rows: list[dict] = []
    result = Resource(data=table, schema=schema).validate(on_row=lambda row: rows.append(row.to_dict()),
                                                          limit_errors=MAX_ERRORS)

    def line(row_number: int) -> int:
        return lines[row_number - 2]

    for error in result.tasks[0].errors if result.tasks else result.errors:
        kind, cell, name = error.type, getattr(error, "cell", ""), getattr(error, "field_name", None)
        if kind == "type-error":
            column = dataset.column(name)
            report.add(line(error.row_number), name, "wrong_type", f"«{cell}» {_TYPE_FA[column.type]}",
                       f"{cell!r} is not a {column.type}")
        elif kind == "constraint-error":
            report.add(line(error.row_number), name, "required", "این خانه خالی است و پر کردن آن الزامی است.",
                       f"{name} is required")
        elif kind == "unique-error":
            first = _SAME_AS.search(error.note)
            earlier = f" (همان سطر {persian_digits(line(int(first.group(1))))})" if first else ""
            report.add(line(error.row_number), name, "duplicate_key",
                       f"«{cell}» پیش‌تر آمده است{earlier}؛ هر مقدار این ستون کلید است و فقط یک بار می‌آید.",
                       f"duplicate key {cell!r}: {error.note}")
        else:  # nothing else is expected of a table built as above; still told, never dropped
            row_number = getattr(error, "row_number", None)
            report.add(line(row_number) if row_number else None, name, kind, "این خانه یا سطر درست نیست.",
                       error.message)
    return rows


def _published(dataset: Dataset, row: dict) -> dict:
    """A checked row as publication keeps it: every column, in order, each derived Jalali date made."""
    made = {jalali: day_text(row[day]) if row.get(day) else None for jalali, day in derived(dataset).items()}
    for column in dataset.columns:  # a number stays a float (939.0), as the hash of an unchanged row needs
        if column.type == "number" and row.get(column.name) is not None:
            row[column.name] = float(row[column.name])
    return {c.name: plain(made[c.name] if c.name in made else row.get(c.name)) for c in dataset.columns}
