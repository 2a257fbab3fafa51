"""How a cell's value is written, shared by the formats."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal


def plain(value):
    """A value JSON can hold: dates as ISO 8601, Decimals as int (or float when fractional)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def project(row: dict, names: tuple[str, ...]) -> dict:
    """The row with exactly the dataset's columns, in their order (a missing one is None)."""
    return {name: plain(row.get(name)) for name in names}


def in_chunks(pieces: Iterable[bytes], chunk_bytes: int) -> Iterator[bytes]:
    """The pieces joined into chunks of about `chunk_bytes` (a chunk ends after the piece that reaches it):
    a download streams without holding more than a chunk."""
    parts, size = [], 0
    for piece in pieces:
        parts.append(piece)
        size += len(piece)
        if size >= chunk_bytes:
            yield b"".join(parts)
            parts, size = [], 0
    if parts:
        yield b"".join(parts)
