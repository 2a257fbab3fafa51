"""Dates for people in the Jalali calendar, Asia/Tehran, beside ISO 8601 for machines."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import jdatetime

from common.text import persian_digits

TEHRAN = ZoneInfo("Asia/Tehran")


def to_jalali(moment: datetime, with_time: bool = True) -> str:
    """'۱۴۰۵/۰۹/۰۵ ۱۲:۳۰' in Tehran time, Persian digits."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the platform stores every moment with its time zone")
    local = jdatetime.datetime.fromgregorian(datetime=moment.astimezone(TEHRAN))
    return persian_digits(local.strftime("%Y/%m/%d %H:%M" if with_time else "%Y/%m/%d"))


def stamp(moment: datetime) -> dict:
    """A moment as the API shows it: ISO 8601 (UTC) and Jalali (Tehran)."""
    return {"iso": iso(moment), "jalali": to_jalali(moment)}


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
