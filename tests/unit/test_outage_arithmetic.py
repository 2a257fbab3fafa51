"""Outages do not count against people (issue 17 item 6): the deadline arithmetic with outage windows, and
when a set-aside row is tried again. Pure functions, no broker, no database."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.complaints import deadlines
from services.complaints.deadlines import detected_outage, extended_deadline, merge_windows
from services.complaints.sweeps import RETRY_FIRST, RETRY_MAX, effective_deadline, error_text, retry_delay

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=timezone.utc)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_without_windows_a_deadline_stays_where_it_was():
    assert extended_deadline(h(0), h(24), []) == h(24)


def test_a_window_inside_the_time_allowed_moves_the_deadline_by_its_length():
    assert extended_deadline(h(0), h(24), [(h(2), h(5))]) == h(27)


def test_a_deadline_that_fell_in_a_window_gets_the_window_s_overlap():
    # opened at 0, due at 3; the platform was down from 2 to 10: one hour was left when it went down
    assert extended_deadline(h(0), h(3), [(h(2), h(10))]) == h(11)


def test_windows_before_the_hop_opened_or_after_its_deadline_change_nothing():
    windows = [(h(-10), h(-1)), (h(24), h(30)), (h(25), h(26))]
    assert extended_deadline(h(0), h(24), windows) == h(24)


def test_a_window_that_covers_the_opening_starts_the_clock_at_its_end():
    assert extended_deadline(h(0), h(3), [(h(-1), h(2))]) == h(5)


def test_a_moved_deadline_that_runs_into_a_later_window_moves_again():
    # first window pushes the deadline from 3 to 5, right into the second one (4..8): 1 hour was left at 4
    assert extended_deadline(h(0), h(3), [(h(1), h(3)), (h(4), h(8))]) == h(9)


def test_overlapping_and_repeated_windows_count_once():
    once = extended_deadline(h(0), h(24), [(h(2), h(5))])
    assert extended_deadline(h(0), h(24), [(h(2), h(4)), (h(3), h(5)), (h(2), h(5))]) == once
    assert merge_windows([(h(3), h(5)), (h(2), h(4)), (h(6), h(6)), (h(5), h(7))]) == [(h(2), h(7))]


def test_the_rule_is_the_time_the_platform_was_up():
    windows = [(h(1), h(2)), (h(3.5), h(4)), (h(7), h(9))]
    due = extended_deadline(h(0), h(5), windows)
    down = sum((min(e, due) - max(s, h(0)) for s, e in merge_windows(windows) if s < due), timedelta(0))
    assert due - h(0) - down == timedelta(hours=5) and due == h(6.5)


def test_no_time_allowed_is_not_extended():
    assert extended_deadline(h(5), h(4), [(h(0), h(10))]) == h(4)


def test_inactivity_counts_only_time_the_platform_was_up():
    last_seen = h(0)
    limit = timedelta(hours=48)
    revoke_at = extended_deadline(last_seen, last_seen + limit, [(h(20), h(23))])
    assert revoke_at == h(51)  # 49 hours after the last opening it is not yet 48 hours of the platform up


@pytest.mark.parametrize("silence,interval,outage", [
    (timedelta(seconds=30), timedelta(seconds=15), False),  # under the 60 s floor
    (timedelta(seconds=61), timedelta(seconds=15), True),
    (timedelta(seconds=59), timedelta(seconds=1), False),  # a fast sweep still needs a minute of silence
    (timedelta(minutes=5), timedelta(minutes=2), False),  # under 4 intervals
    (timedelta(minutes=9), timedelta(minutes=2), True),
])
def test_a_silent_pulse_is_an_outage_past_four_intervals_and_a_minute(silence, interval, outage):
    window = detected_outage(h(0), h(0) + silence, interval)
    assert (window == (h(0), h(0) + silence)) if outage else window is None
    assert deadlines.OUTAGE_GAP_FACTOR == 4 and deadlines.OUTAGE_GAP_MIN == timedelta(seconds=60)


def test_no_earlier_pulse_is_no_outage():
    assert detected_outage(None, h(100), timedelta(seconds=15)) is None


def test_a_case_s_deadline_and_warning_are_computed_from_the_ones_first_given():
    row = {"hop_opened_at": h(0), "deadline_at": h(24), "warn_at": h(19.2), "given_due_at": None,
           "given_warn_at": None}
    windows = [(h(2), h(4))]
    assert effective_deadline(row, windows) == (h(26), h(21.2))
    # once extended, the row holds the extended times and the hop the given ones: computing again gives the same
    extended = {**row, "deadline_at": h(26), "warn_at": h(21.2), "given_due_at": h(24), "given_warn_at": h(19.2)}
    assert effective_deadline(extended, windows) == (h(26), h(21.2))
    # a second window recorded later adds to the first, from the given deadline (never counted twice)
    assert effective_deadline(extended, windows + [(h(10), h(11))]) == (h(27), h(22.2))
    warned = {**extended, "warn_at": None}  # the warning went out: it is not given again
    assert effective_deadline(warned, windows) == (h(26), None)


def test_a_set_aside_row_waits_an_hour_then_twice_as_long_up_to_a_day():
    assert [retry_delay(n) for n in (1, 2, 3, 4, 5, 6, 40)] == [
        RETRY_FIRST, 2 * RETRY_FIRST, 4 * RETRY_FIRST, 8 * RETRY_FIRST, 16 * RETRY_FIRST, RETRY_MAX, RETRY_MAX]
    assert RETRY_FIRST == timedelta(hours=1) and RETRY_MAX == timedelta(hours=24)


def test_the_error_an_operator_reads_names_the_rule_and_never_the_statement():
    from sqlalchemy.exc import IntegrityError

    from common.errors import Conflict

    assert error_text(Conflict("wrong_stage", "…", "cannot escalate a case that is answered")) == (
        "Conflict: wrong_stage: cannot escalate a case that is answered")

    class Orig(Exception):
        pass

    wrapped = IntegrityError("INSERT INTO case_history … 09121234567", {"mobile": "09121234567"},
                             Orig('duplicate key value violates unique constraint "case_history_case_id_n_key"\n'))
    text = error_text(wrapped)
    assert text == 'Orig: duplicate key value violates unique constraint "case_history_case_id_n_key"'
    assert "0912" not in text
