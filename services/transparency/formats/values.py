"""How a cell's value is written, shared by the formats."""
from __future__ import annotations

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
