"""CSV downloads: UTF-8 with a byte order mark, so that Excel shows Persian text correctly; one header
row with the column names (their Persian titles are in the dataset's metadata); RFC 4180 (CRLF line
ends, fields quoted when they hold a comma, a quote or a line break). Streamed in chunks of about 64 KB.

Cells: None is empty, booleans are `true`/`false`, dates ISO 8601. A text cell starting with = + - @ or
a tab is prefixed with an apostrophe so that a spreadsheet never runs it as a formula (CSV injection: a
company name in a donation comes from outside).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from services.transparency.catalog import Dataset
from services.transparency.formats.values import in_chunks, plain

BOM = "\ufeff".encode()
MEDIA_TYPE = "text/csv; charset=utf-8"
CHUNK_BYTES = 64 * 1024
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value, column_type: str) -> str:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if column_type == "string" and text.startswith(FORMULA_START):
        return "'" + text
    return text


def csv_chunks(dataset: Dataset, rows: Iterable[dict], chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The dataset's CSV: the BOM and the header in the first chunk, then the rows, in chunks of about
    `chunk_bytes` (a chunk ends after the row that reaches it)."""
    columns = [(c.name, c.type) for c in dataset.columns]
    line = io.StringIO()
    writer = csv.writer(line, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)

    def encoded(cells: list[str]) -> bytes:
        writer.writerow(cells)
        data = line.getvalue().encode("utf-8")
        line.seek(0)
        line.truncate()
        return data

    def pieces() -> Iterator[bytes]:
        yield BOM + encoded([name for name, _ in columns])
        for row in rows:
            yield encoded([_cell(row.get(name), kind) for name, kind in columns])

    return in_chunks(pieces(), chunk_bytes)
