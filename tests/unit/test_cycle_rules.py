"""The rules of a cycle's way under faults, without a database: a stage only moves forward, and a cycle that
failed on its own waits longer after each failure, up to an hour."""
from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.errors import Conflict
from services.payments import cycles

stages = st.sampled_from(cycles.STAGES + ("stopped",))


def test_each_stage_may_move_to_any_later_one_or_stop():
    for i, current in enumerate(cycles.STAGES[:-1]):
        for later in cycles.STAGES[i + 1:]:
            cycles.check_forward(current, later)
        cycles.check_forward(current, "stopped")


@given(stages, stages)
def test_a_stage_is_never_written_backwards_nor_again_and_nothing_leaves_the_ends(current, new):
    forward = current not in cycles.FINAL and (
        new == "stopped" or cycles.STAGES.index(new) > cycles.STAGES.index(current))
    if forward:
        cycles.check_forward(current, new)
    else:
        with pytest.raises(Conflict) as refused:
            cycles.check_forward(current, new)
        assert refused.value.code == "stage_backwards"


def test_the_worker_moves_bank_file_sent_to_statement_received_but_never_back():
    cycles.check_forward("bank_file_sent", "statement_received")
    for behind in ("orders_issued", "bank_file_sent"):
        with pytest.raises(Conflict):
            cycles.check_forward("statement_received", behind)
    with pytest.raises(Conflict):
        cycles.check_forward("settled", "stopped")


def test_a_failed_cycle_waits_30_seconds_then_twice_as_long_each_time_up_to_an_hour():
    assert [cycles.retry_delay(n) for n in range(1, 6)] == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480)]
    assert cycles.retry_delay(0) == timedelta(seconds=30)
    assert cycles.retry_delay(8) == timedelta(hours=1)  # 30 s * 2**7 = 64 minutes: capped
    assert cycles.retry_delay(10_000) == timedelta(hours=1)  # no overflow however many


@given(st.integers(min_value=1, max_value=500))
def test_the_delay_never_shrinks_with_more_failures(failures):
    assert cycles.retry_delay(failures) <= cycles.retry_delay(failures + 1) <= cycles.RETRY_MAX
