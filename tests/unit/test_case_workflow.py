"""The case state machine and the deadline arithmetic, without a broker or a database."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import Conflict, Forbidden
from services.complaints import deadlines, org, workflow
from services.complaints.workflow import CaseState

T0 = datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc)
REY = "prov.tehran.county.rey"
CENTER = "prov.tehran.county.rey.center.ghoncheh"


def down_to_rey(state: CaseState) -> CaseState:
    for unit in ("hq.rehabilitation", "prov.tehran", REY):
        state = workflow.refer(state, state.holder, unit).state
    return state


def test_a_case_goes_down_the_tree_and_its_answer_comes_back_up_for_approval():
    state = CaseState.registered("complaint")
    step = workflow.refer(state, org.INSPECTION_OPERATORS, "hq.rehabilitation")
    assert step.action == "triaged" and step.opens_hop and step.closes_hop_as == "triaged"
    state = down_to_rey(state)
    assert state.path == ("hq.inspection", "hq.rehabilitation", "prov.tehran", REY) and state.holder == REY

    step = workflow.answer(state, REY)
    assert step.state.status == "awaiting_approval" and step.state.holder == "prov.tehran"
    returned = workflow.return_answer(step.state, "prov.tehran")
    assert returned.state.status == "returned" and returned.state.holder == REY
    state = workflow.answer(returned.state, REY).state
    for approver in ("prov.tehran", "hq.rehabilitation"):
        state = workflow.approve(state, approver).state
        assert state.status == "awaiting_approval"
    last = workflow.approve(state, "hq.inspection")
    assert last.state.status == "answered" and not last.opens_hop and last.state.holder == REY


def test_referral_follows_the_tree_one_level_at_a_time():
    state = CaseState.registered("complaint")
    with pytest.raises(Conflict) as error:
        workflow.refer(state, org.INSPECTION_OPERATORS, REY)  # skipping levels
    assert error.value.code == "referral_not_allowed"
    state = workflow.refer(state, "hq.inspection", "hq.social").state
    state = workflow.refer(state, "hq.social", "prov.isfahan").state
    with pytest.raises(Conflict):
        workflow.refer(state, "prov.isfahan", REY)  # another province's county
    state = workflow.refer(state, "prov.isfahan", "prov.isfahan.unit.social").state
    assert workflow.refer(state, "prov.isfahan.unit.social", "prov.isfahan.county.kashan").state.holder.endswith("kashan")


def test_only_the_holder_acts_and_only_at_the_right_stage():
    state = down_to_rey(CaseState.registered("complaint"))
    with pytest.raises(Forbidden):
        workflow.answer(state, "prov.tehran.county.shemiranat")
    with pytest.raises(Conflict) as error:
        workflow.approve(state, REY)
    assert error.value.code == "wrong_stage"


def test_a_violation_report_is_never_referred_to_the_center_it_is_about():
    state = down_to_rey(CaseState.registered("violation_report", center=CENTER))
    with pytest.raises(Conflict) as error:
        workflow.refer(state, REY, CENTER)
    assert error.value.code == "referral_to_reported_center"
    complaint = down_to_rey(CaseState.registered("complaint", center=CENTER))
    assert workflow.refer(complaint, REY, CENTER).state.holder == CENTER


def test_a_missed_deadline_pulls_the_case_back_to_the_top_and_out_of_the_county_s_sight():
    state = down_to_rey(CaseState.registered("complaint"))
    step = workflow.miss_deadline(state)
    assert step.state.holder == org.INSPECTION_OPERATORS and step.state.status == "escalated"
    assert step.closes_hop_as == "missed" and step.opens_hop
    assert REY not in org.visible_to(step.state.path) and REY in org.visible_to(state.path)


def again(state: CaseState, now: datetime, since: datetime = T0, urgency: str = "normal") -> workflow.Step:
    return workflow.report_again(state, now, workflow.report_again_terms(state, urgency, since))


def test_reporting_again_is_too_early_until_the_result_promised_is_late_and_says_until_when():
    state = down_to_rey(CaseState.registered("complaint"))
    with pytest.raises(Conflict) as error:
        again(state, T0 + timedelta(minutes=1))
    assert error.value.code == "report_again_too_early"
    assert "۱۴۰۵/۰۹/۰۶ ۰۹:۳۰" in error.value.message  # a day after T0, Tehran time, Persian digits
    with pytest.raises(Conflict):
        again(state, T0 + timedelta(hours=4), urgency="normal")
    assert again(state, T0 + timedelta(hours=3), urgency="urgent").state.holder == "prov.tehran"
    step = again(state, T0 + timedelta(days=1))
    assert step.state.holder == "prov.tehran" and step.state.status == "reopened"
    assert step.state.path == ("hq.inspection", "hq.rehabilitation", "prov.tehran")
    with pytest.raises(Conflict) as error:
        again(step.state, T0 + timedelta(days=2))
    assert error.value.code == "already_reported_again"


def test_reporting_again_goes_to_the_unit_above_the_one_holding_the_case_never_the_same():
    at_province = workflow.answer(down_to_rey(CaseState.registered("complaint")), REY).state
    assert at_province.holder == "prov.tehran" and at_province.status == "awaiting_approval"
    step = again(at_province, T0 + timedelta(days=1))
    assert step.state.holder == "hq.rehabilitation" and step.closes_hop_as == "reopened"
    at_the_top = [CaseState.registered("complaint"), workflow.miss_deadline(down_to_rey(CaseState.registered("complaint"))).state]
    for state in at_the_top:
        assert workflow.unit_above_holder(state) is None
        with pytest.raises(Conflict) as error:
            again(state, T0 + timedelta(days=3))
        assert error.value.code == "report_again_at_top" and "بالاترین سطح" in error.value.message


def test_after_the_answer_the_citizen_may_report_again_at_once_within_the_window():
    answered = workflow.answer(down_to_rey(CaseState.registered("complaint")), REY).state
    for approver in ("prov.tehran", "hq.rehabilitation", "hq.inspection"):
        answered = workflow.approve(answered, approver).state
    answered = CaseState(**{**answered.__dict__, "answered_at": T0 + timedelta(days=2)})
    assert answered.holder == REY
    step = again(answered, T0 + timedelta(days=2, minutes=1))  # the answer did not settle it
    assert step.state.holder == "prov.tehran" and step.closes_hop_as is None and step.opens_hop
    closed = workflow.close(answered).state
    assert again(closed, T0 + timedelta(days=8)).state.holder == "prov.tehran"
    with pytest.raises(Conflict) as error:
        again(answered, T0 + timedelta(days=2) + workflow.REPORT_AGAIN_WINDOW + timedelta(seconds=1))
    assert error.value.code == "report_again_window_passed"


def test_deadlines_come_from_the_policy_by_class_and_level():
    policy = deadlines.default_policy()
    urgent = deadlines.deadline_for(policy, "urgent", "county", T0)
    assert urgent.due_at == T0 + timedelta(hours=3) and urgent.warn_at == T0 + timedelta(hours=2, minutes=24)
    normal = deadlines.deadline_for(policy, "normal", "center", T0)
    assert normal.due_at == T0 + timedelta(days=1)
    policy[("urgent", "county")] = deadlines.Rule(60, 0.5)
    assert deadlines.deadline_for(policy, "urgent", "county", T0).warn_at == T0 + timedelta(minutes=30)
    assert not deadlines.is_missed(urgent.due_at, urgent.due_at - timedelta(microseconds=1))
    assert deadlines.is_missed(urgent.due_at, urgent.due_at)
    with pytest.raises(ValueError):
        deadlines.Rule(60, 1.0)


# Property: whatever happens to a case, in any order, it is never lost and never without a holder.
ACTIONS = ("refer", "answer", "approve", "return", "miss", "report_again", "move_up", "close", "warn")
UNITS = [u["id"] for u in org.units() if u["id"].startswith(("hq", "prov.tehran", "prov.isfahan"))]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 1000)), max_size=40),
       st.sampled_from(["complaint", "violation_report"]))
def test_no_sequence_of_actions_loses_a_case_or_leaves_it_without_a_holder(actions, kind):
    state = CaseState.registered(kind, center=CENTER if kind == "violation_report" else None)
    hop_open = True
    for action, pick in actions:
        try:
            step = _apply(state, action, pick)
        except (Conflict, Forbidden):
            continue  # refused: nothing changed
        state = step.state
        if step.closes_hop_as:
            hop_open = False
        if step.opens_hop:
            hop_open = True
        assert state.status in workflow.STATUSES
        assert state.holder and state.holder in state.path  # always held, by a unit on its path
        assert state.path[0] == org.INSPECTION_OPERATORS
        assert all(org.may_refer(a, b) for a, b in zip(state.path, state.path[1:], strict=False))
        # a case waiting on the organization always has a running deadline; an answered one has none
        assert hop_open == (state.status in workflow.OPEN)
        if state.status == "awaiting_approval":
            assert state.holder == state.path[state.approver_pos]
        elif state.status in workflow.HANDLING:
            assert state.holder == state.path[-1]


def _apply(state, action, pick):
    if action == "refer":  # mostly to a unit the tree allows, now and then to any unit at all
        allowed = [u for u in UNITS if org.may_refer(state.holder, u)] if pick % 7 else UNITS
        return workflow.refer(state, state.holder, (allowed or UNITS)[pick % len(allowed or UNITS)])
    if action == "answer":
        return workflow.answer(state, state.holder)
    if action == "approve":
        return workflow.approve(state, state.holder)
    if action == "return":
        return workflow.return_answer(state, state.holder)
    if action == "miss":
        return workflow.miss_deadline(state)
    if action == "report_again":
        step = again(CaseState(**{**state.__dict__, "answered_at": T0}), T0 + timedelta(days=1))
        assert step.state.holder != state.holder  # always a unit above, never the same
        return step
    if action == "move_up":
        return workflow.move_up(state)
    if action == "warn":
        return workflow.warn(state)
    return workflow.close(state)
