"""Dates for people in the Jalali calendar, Asia/Tehran, beside ISO 8601 for machines."""
from __future__ import annotations

from datetime import date, datetime, timezone
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


def tehran_date(moment: str) -> date:
    """The day in Tehran of an ISO 8601 moment ('2026-11-26T21:00:00Z' is already 27 November there)."""
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(TEHRAN).date()


def month_fa(month: str) -> str:
    """'1405-09' (a Jalali month, as events and cycles name it) as people read it: 'آذر ۱۴۰۵'."""
    year, number = month.split("-")
    return f"{jdatetime.date.j_months_fa[int(number) - 1]} {persian_digits(year)}"
