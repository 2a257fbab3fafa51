from datetime import datetime, timezone

import pytest

from common.jalali import TEHRAN
from services.notifications.quiet_hours import release_time


def tehran(hour, minute=0, day=26):
    return datetime(2026, 11, day, hour, minute, tzinfo=TEHRAN).astimezone(timezone.utc)


@pytest.mark.parametrize("made, goes", [
    (tehran(21, 59), tehran(21, 59)),  # before the quiet hours: at once
    (tehran(22, 0), tehran(7, 0, day=27)),  # at 22:00 sharp it waits until 07:00 next morning
    (tehran(23, 30), tehran(7, 0, day=27)),
    (tehran(3, 15), tehran(7, 0)),  # after midnight: the same morning
    (tehran(7, 0), tehran(7, 0)),
    (tehran(12, 0), tehran(12, 0)),
])
def test_non_urgent_messages_wait_out_the_night_in_tehran(made, goes):
    assert release_time(made, "22:00-07:00") == goes
    assert release_time(made, "22:00-07:00").tzinfo == timezone.utc


def test_a_daytime_window_and_none():
    assert release_time(tehran(13, 0), "12:30-14:00") == tehran(14, 0)
    assert release_time(tehran(14, 0), "12:30-14:00") == tehran(14, 0)
    assert release_time(tehran(23, 0), "") == tehran(23, 0)
