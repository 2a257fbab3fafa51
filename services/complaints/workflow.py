"""A case's state machine (SPEC C5–C10): pure functions from a state and an action to a `Step`.

A case always has a holder: the unit whose cartable it is in. `path` is the referral chain from
inspection's operators down to the unit handling it; an answer goes back up the same chain for
approval (SPEC C6); a missed deadline pulls the case back to the top (C8); a citizen's second report
moves it one level up (C10). No I/O here: services/complaints/steps.py writes what a Step says.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from common.errors import Conflict, Forbidden
from common.jalali import to_jalali
from services.complaints import org

# Being handled by the holder (it refers, answers or asks for evidence).
HANDLING = {"registered", "referred", "returned", "escalated", "reopened"}
# Waiting on someone in the organization: each of these has an open hop with a deadline.
OPEN = HANDLING | {"awaiting_approval"}
STATUSES = OPEN | {"answered", "closed"}

REPORT_AGAIN_WINDOW = timedelta(days=7)  # after the answer reaches the citizen (SPEC C10)


@dataclass(frozen=True)
class CaseState:
    status: str
    kind: str
    path: tuple[str, ...]
    holder: str
    approver_pos: int | None = None  # while awaiting approval: whose turn it is, as an index in path
    center: str | None = None  # the center a case is about, when the reporter named one
    answered_at: datetime | None = None  # when the approved answer reached the citizen

    @classmethod
    def registered(cls, kind: str, center: str | None = None) -> CaseState:
        return cls("registered", kind, (org.INSPECTION_OPERATORS,), org.INSPECTION_OPERATORS, center=center)


@dataclass(frozen=True)
class Step:
    """What an action did: the state after it, what becomes of the hop that was open, and whether
    the new holder gets a hop (and so a deadline)."""

    action: str  # also the event name: case.<action>
    state: CaseState
    closes_hop_as: str | None = None
    opens_hop: bool = False


def conflict(code: str, message: str, detail: str) -> Conflict:
    return Conflict(code, message, detail)


def _require_holder(state: CaseState, actor_unit: str) -> None:
    if actor_unit != state.holder:
        raise Forbidden("not_your_case", "این پرونده در کارتابل واحد شما نیست.",
                        f"the case is held by {state.holder}")


def _require(state: CaseState, statuses: set[str], doing: str) -> None:
    if state.status not in statuses:
        raise conflict("wrong_stage", "این کار در مرحلهٔ کنونی پرونده ممکن نیست.",
                        f"cannot {doing} a case that is {state.status}")


def refer(state: CaseState, actor_unit: str, target: str) -> Step:
    """SPEC C5: one level down the tree, with a note kept by the caller. From inspection's operators
    this is the triage."""
    _require_holder(state, actor_unit)
    _require(state, HANDLING, "refer")
    if not org.may_refer(state.holder, target):
        raise conflict("referral_not_allowed", "ارجاع به این واحد از این سطح ممکن نیست.",
                        f"{state.holder} cannot refer to {target}")
    if state.kind == "violation_report" and state.center and org.within(target, state.center):
        raise conflict("referral_to_reported_center", "گزارش تخلف به مرکزی که گزارش دربارهٔ آن است ارجاع نمی‌شود.",
                        "a violation report is never referred to the center it is about")
    action = "triaged" if state.holder == org.INSPECTION_OPERATORS else "referred"
    new = replace(state, status="referred", path=state.path + (target,), holder=target, approver_pos=None)
    return Step(action, new, closes_hop_as=action, opens_hop=True)


def answer(state: CaseState, actor_unit: str) -> Step:
    """SPEC C6: the answer goes up the path for approval; with no one above, it reaches the citizen."""
    _require_holder(state, actor_unit)
    _require(state, HANDLING, "answer")
    if len(state.path) == 1:
        return Step("approved", _delivered(state), closes_hop_as="answered")
    pos = len(state.path) - 2
    new = replace(state, status="awaiting_approval", approver_pos=pos, holder=state.path[pos])
    return Step("answered", new, closes_hop_as="answered", opens_hop=True)


def approve(state: CaseState, actor_unit: str) -> Step:
    _require_holder(state, actor_unit)
    _require(state, {"awaiting_approval"}, "approve")
    pos = state.approver_pos - 1
    if pos < 0:
        return Step("approved", _delivered(state), closes_hop_as="approved")
    return Step("approved", replace(state, approver_pos=pos, holder=state.path[pos]),
                closes_hop_as="approved", opens_hop=True)


def _delivered(state: CaseState) -> CaseState:
    # answered_at is set by the caller, who knows the time
    return replace(state, status="answered", approver_pos=None, holder=state.path[-1])


def return_answer(state: CaseState, actor_unit: str) -> Step:
    """A superior sends the answer back to the unit that wrote it, with a note (SPEC C6)."""
    _require_holder(state, actor_unit)
    _require(state, {"awaiting_approval"}, "return")
    new = replace(state, status="returned", approver_pos=None, holder=state.path[-1])
    return Step("returned", new, closes_hop_as="returned", opens_hop=True)


def miss_deadline(state: CaseState) -> Step:
    """SPEC C8: the case returns to the central level and leaves the holder's cartable (and, with the
    path cut back, the sight of every unit below the top)."""
    _require(state, OPEN, "escalate")
    top = (org.INSPECTION_OPERATORS,)
    new = replace(state, status="escalated", path=top, holder=top[0], approver_pos=None)
    return Step("deadline_missed", new, closes_hop_as="missed", opens_hop=True)


def warn(state: CaseState) -> Step:
    _require(state, OPEN, "warn about")
    return Step("deadline_warning", state)


def extend_deadline(state: CaseState) -> Step:
    """The platform was down while the hop's time ran (outage windows): its deadline moves by the time
    lost (deadlines.extended_deadline). The case stays where it is; the hop stays open."""
    _require(state, OPEN, "extend the deadline of")
    return Step("deadline_extended", state)


# SPEC C10 "if a step is not followed up": the citizen may report again once the time C7 promises them a
# result in has passed without an answer (from registration, or from their last report again), or, after
# the answer reached them, within REPORT_AGAIN_WINDOW when the answer did not settle it. Either way the case
# goes to the unit above the one holding it on its path; at the top there is no one above, so it is not offered.
RESULT_PROMISED_WITHIN = {"urgent": timedelta(hours=3), "normal": timedelta(days=1)}  # SPEC C7


@dataclass(frozen=True)
class ReportAgainTerms:
    """When and where a report again would go: possible from `opens_at` (until `until`, after an answer) to
    `to`; or not at all, and `refusal` says why."""

    opens_at: datetime | None = None
    until: datetime | None = None
    to: str | None = None
    refusal: Conflict | None = None

    def possible_at(self, now: datetime) -> bool:
        return self.refusal is None and self.opens_at <= now and (self.until is None or now <= self.until)


def unit_above_holder(state: CaseState) -> str | None:
    """The unit above the holder on the case's path: the one that referred the case to it."""
    position = state.path.index(state.holder) if state.holder in state.path else len(state.path) - 1
    return state.path[position - 1] if position > 0 else None


def report_again_terms(state: CaseState, urgency: str, waiting_since: datetime) -> ReportAgainTerms:
    """`waiting_since`: the registration, or the citizen's last report again."""
    if state.status == "reopened":
        return ReportAgainTerms(refusal=conflict(
            "already_reported_again", "گزارش دوبارهٔ شما پیش‌تر ثبت شده و در دست رسیدگی است.",
            "the case was reported again and no one has acted since"))
    above = unit_above_holder(state)
    if above is None:
        return ReportAgainTerms(refusal=conflict(
            "report_again_at_top", "پرونده هم‌اکنون در بالاترین سطح رسیدگی، دفتر مدیریت عملکرد و بازرسی ستاد، است؛ "
            "گزارش دوباره آن را به سطح بالاتری نمی‌برد.", "the case is held at the top of its path: no unit above"))
    if state.status in ("answered", "closed"):
        if state.answered_at is None:
            return ReportAgainTerms(refusal=conflict("wrong_stage", "این کار در مرحلهٔ کنونی پرونده ممکن نیست.",
                                                     "a closed case without an answer"))
        return ReportAgainTerms(state.answered_at, state.answered_at + REPORT_AGAIN_WINDOW, above)
    return ReportAgainTerms(waiting_since + RESULT_PROMISED_WITHIN[urgency], None, above)


def report_again(state: CaseState, now: datetime, terms: ReportAgainTerms) -> Step:
    """SPEC C10: the citizen reports that a step was not followed up: the case moves to the unit above its
    holder, where the managers are told."""
    if terms.refusal is not None:
        raise terms.refusal
    if terms.until is not None and now > terms.until:
        raise conflict("report_again_window_passed", "مهلت گزارش دوباره برای این پرونده گذشته است.",
                       f"a case can be reported again up to {REPORT_AGAIN_WINDOW.days} days after its answer")
    if now < terms.opens_at:
        raise conflict("report_again_too_early",
                       f"هنوز زود است: رسیدگی به درخواست شما تا {to_jalali(terms.opens_at)} زمان دارد. اگر تا آن "
                       "زمان پاسخی نرسید، از همان هنگام می‌توانید گزارش دوباره بدهید.",
                       f"a case can be reported again from {terms.opens_at.isoformat()}")
    path = state.path[:state.path.index(terms.to) + 1]
    new = replace(state, status="reopened", path=path, holder=terms.to, approver_pos=None)
    return Step("reopened", new, closes_hop_as="reopened" if state.status in OPEN else None, opens_hop=True)


def move_up(state: CaseState) -> Step:
    """SPEC C12: the person responsible lost access; the case moves to the superior's unit."""
    _require(state, OPEN, "move")
    path = state.path[:-1] or state.path
    new = replace(state, status="referred" if len(path) > 1 else "escalated", path=path, holder=path[-1],
                  approver_pos=None)
    return Step("moved_up", new, closes_hop_as="moved", opens_hop=True)


def close(state: CaseState) -> Step:
    """The citizen rated the answer, or the window to report again passed."""
    _require(state, {"answered"}, "close")
    return Step("closed", replace(state, status="closed"))


def request_evidence(state: CaseState, actor_unit: str) -> Step:
    """SPEC C4: the holder asks the reporter for documents; the case stays where it is."""
    _require_holder(state, actor_unit)
    _require(state, HANDLING, "ask for evidence on")
    return Step("evidence_requested", state)
