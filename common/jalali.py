"""Dates for people in the Jalali calendar, Asia/Tehran, beside ISO 8601 for machines."""
from __future__ import annotations

import functools
import re
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import jdatetime

from common.text import normalise_digits, persian_digits

TEHRAN = ZoneInfo("Asia/Tehran")
# a day as people type it: year, month, day with / - or . between them, in any script's digits
_DAY = re.compile(r"(\d{4})\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{1,2})")
_LAST_JALALI_YEAR = 1700  # a four-digit year below this is a Jalali one (1403 is 2024)


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


@functools.lru_cache(maxsize=4096)  # pure; a history page shows a few pay days over and over (5 % of a lookup's CPU)
def day_text(day: date, persian: bool = False) -> str:
    """'1403/05/12' (ASCII digits: sorts and filters as text, as the `..._jalali` columns hold it) or, with
    persian, '۱۴۰۳/۰۵/۱۲' as people read it."""
    j = jdatetime.date.fromgregorian(date=day)
    text = f"{j.year:04d}/{j.month:02d}/{j.day:02d}"
    return persian_digits(text) if persian else text


def month_key(day: date) -> str:
    """'1403-05': the Jalali month of a day, as events, cycles and the `month` columns spell it."""
    j = jdatetime.date.fromgregorian(date=day)
    return f"{j.year:04d}-{j.month:02d}"


def month_bounds(day: date) -> tuple[date, date]:
    """The first day of the Jalali month of `day` and of the month after it (Gregorian dates)."""
    j = jdatetime.date.fromgregorian(date=day)
    following = jdatetime.date(j.year + j.month // 12, j.month % 12 + 1, 1)
    return jdatetime.date(j.year, j.month, 1).togregorian(), following.togregorian()


def year_start(year: int) -> date:
    """1 Farvardin of a Jalali year, as a Gregorian date."""
    return jdatetime.date(year, 1, 1).togregorian()


def month_name_fa(number: int) -> str:
    """The Persian name of a Jalali month (1 is فروردین)."""
    return jdatetime.date.j_months_fa[number - 1]


def month_fa(month: str) -> str:
    """'1405-09' (a Jalali month, as events and cycles name it) as people read it: 'آذر ۱۴۰۵'."""
    year, number = month.split("-")
    return f"{month_name_fa(int(number))} {persian_digits(year)}"


def typed_day(text: str) -> date | None:
    """The Gregorian day of a date as a person typed it: Jalali ('۱۴۰۳/۰۵/۱۲', '1403-5-12') or Gregorian
    ('2024-08-02', '2024/08/02'); None when it is not a real day of either calendar."""
    found = _DAY.fullmatch(normalise_digits(text.strip()))
    if not found:
        return None
    year, month, day = (int(part) for part in found.groups())
    try:
        if year < _LAST_JALALI_YEAR:
            return jdatetime.date(year, month, day).togregorian()
        return date(year, month, day)
    except ValueError:
        return None
