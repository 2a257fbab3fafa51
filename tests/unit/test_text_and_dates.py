from datetime import datetime, timezone

import pytest

from common.jalali import stamp, to_jalali
from common.text import normalise, persian_digits


def test_arabic_letters_and_digits_normalise_to_persian_and_ascii():
    assert normalise("علي  كريمي ۱۲۳ ٤٥٦") == "علی کریمی 123 456"
    assert normalise("مهدكودك") == normalise("مهدکودک")


def test_persian_digits_for_display():
    assert persian_digits("1405/09/05") == "۱۴۰۵/۰۹/۰۵"


def test_jalali_is_in_tehran_time():
    moment = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)  # 12:30 in Tehran
    assert to_jalali(moment) == "۱۴۰۵/۰۹/۰۵ ۱۲:۳۰"
    assert stamp(moment) == {"iso": "2026-11-26T09:00:00Z", "jalali": "۱۴۰۵/۰۹/۰۵ ۱۲:۳۰"}


def test_nowruz_boundary():
    assert to_jalali(datetime(2025, 3, 20, 21, 0, tzinfo=timezone.utc), with_time=False) == "۱۴۰۴/۰۱/۰۱"
    assert to_jalali(datetime(2025, 3, 20, 20, 0, tzinfo=timezone.utc), with_time=False) == "۱۴۰۳/۱۲/۳۰"


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        to_jalali(datetime(2026, 1, 1))
