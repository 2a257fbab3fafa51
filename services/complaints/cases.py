"""The case use cases (SPEC C1–C10, C17) on a session the caller owns (the caller commits): register,
the citizen's and the staff's views, the cartable, and every action on a case. The rules are in
workflow.py; steps.py writes what they decide."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

from sqlalchemy import select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from common import authorization, outbox
from common.errors import Forbidden, InvalidRequest, NotFound, Unauthenticated
from common.events.catalog import CASE_REGISTERED
from common.events.envelope import new_event
from common.jalali import iso, stamp
from common.pagination import MAX_LIMIT, decode_cursor, page
from services.complaints import cartable as cartable_search
from services.complaints import domain, identity_audit, org, timeline, workflow
from services.complaints.models import Case, CaseFile, CaseHistory, Staff
from services.complaints.models import outbox as outbox_table
from services.complaints.schemas import CaseIntake
from services.complaints.org import unit_names
from services.complaints.steps import CASE_COLUMNS, Change, record, state_of

_log = logging.getLogger(__name__)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


# registration ----------------------------------------------------------------------------------------
def register(session: Session, intake: CaseIntake, secret: str | None = None, actor: dict | None = None) -> Case:
    """Store the case, its first hop at inspection's operators, its first history row and the
    `case.registered` event in one transaction. An anonymous report keeps the hash of `secret`."""
    now = now_utc()
    anonymous = domain.is_anonymous_report(intake.kind, intake.name, intake.mobile, intake.national_id)
    state = workflow.CaseState.registered(intake.kind, intake.center)
    for _ in range(5):  # a tracking-code collision is a 1-in-10^15 event; retry rather than fail
        case = Case(
            id=str(uuid.uuid4()), tracking_code=domain.new_tracking_code(), kind=intake.kind,
            channel=intake.channel, urgency=intake.urgency, status=state.status, text=intake.text,
            category=intake.category, center_id=intake.center, reporter_name=intake.name,
            reporter_mobile=intake.mobile, reporter_national_id=intake.national_id, registered_at=now,
            lat=intake.lat, long=intake.long, address=intake.address_string, media_url=intake.media_url,
            holder_unit_id=state.holder, path=list(state.path), visible_to=org.visible_to(state.path),
            history_count=0, secret_hash=domain.secret_hash(secret) if anonymous and secret else None,
        )
        try:
            with session.begin_nested():
                session.add(case)
                session.flush()
            break
        except IntegrityError as exc:
            if getattr(exc.orig.diag, "constraint_name", None) != "cases_tracking_code_key":
                raise
            continue
    else:
        raise RuntimeError("could not allocate a unique tracking code")
    who = _staff_actor(actor) if actor else {"kind": "citizen", "id": None, "name": None}
    record(session, [Change(_columns(case), workflow.Step("registered", state, opens_hop=True), who,
                            internal_note=f"channel: {intake.channel}")], now)
    data = {"tracking_code": case.tracking_code, "kind": case.kind, "channel": case.channel,
            "urgency": case.urgency, "status": case.status, "registered_at": iso(now)}
    if case.reporter_mobile:
        data["reporter_mobile"] = case.reporter_mobile
    outbox.add(session, outbox_table, new_event(CASE_REGISTERED, data, subject=case.tracking_code))
    _log.info("case registered", extra={"tracking_code": case.tracking_code, "kind": case.kind,
                                        "channel": case.channel})
    session.expire(case)
    return case


def _columns(case: Case) -> dict:
    return {c: getattr(case, c) for c in CASE_COLUMNS}


# finding a case ----------------------------------------------------------------------------------------
def find(session: Session, tracking_code: str) -> Case:
    code = domain.normalise_tracking_code(tracking_code)
    case = None
    if code is not None:
        case = session.scalars(select(Case).where(Case.tracking_code == code)
                               .options(selectinload(Case.history)).execution_options(populate_existing=True)).first()
    if case is None:
        raise _not_found()
    return case


def find_for_citizen(session: Session, tracking_code: str, secret: str | None) -> Case:
    """A case by its code, and for an anonymous report by its code and secret: without the right
    secret it is as unknown as a code that does not exist."""
    case = find(session, tracking_code)
    if case.secret_hash and not domain.secret_matches(case.secret_hash, secret):
        raise _not_found()
    return case


REPORTER_PROOF_FA = ("برای این کار باید نشان دهید شمارهٔ همراهی را که پرونده با آن ثبت شده است دارید: کد تأییدی را که "
                     "به آن شماره پیامک می‌شود بخواهید و وارد کنید.")


def find_for_reporter(session: Session, tracking_code: str, secret: str | None, actor: dict | None) -> Case:
    """The case a citizen acts on (rates, reports again, sends evidence to). An anonymous report: by its code
    and secret (find_for_citizen). A named case: only for who proved they hold the mobile it was registered
    with, in the gateway's reporter session (an actor {"kind": "reporter", "tracking_code": …}, which the
    gateway signs). The code alone is not enough: every staff member on the case's path and every integrator
    that reads cases sees it, and rating closes the case (issue 18)."""
    case = find_for_citizen(session, tracking_code, secret)
    if case.secret_hash:
        return case
    if not authorization.is_reporter_of(actor, case.tracking_code):
        raise Unauthenticated("reporter_proof_required", REPORTER_PROOF_FA,
                              "a named case is acted on only in a reporter session "
                              "(POST /api/v1/cases/{tracking_code}/reporter/code, then /reporter/session)")
    return case


def reporter_case(session: Session, tracking_code: str, mobile: str) -> str | None:
    """The named case's tracking code if `mobile` is the one it was registered with (where the code that
    proves the reporter may be texted), else None. An anonymous report, whose secret is its proof, is as
    unknown here as a code that does not exist (404)."""
    case = find_for_citizen(session, tracking_code, None)
    return case.tracking_code if case.reporter_mobile is not None and case.reporter_mobile == mobile else None


def find_for_staff(session: Session, actor: dict, tracking_code: str) -> Case:
    """Within the caller's sight only (a role that reads cases, at a unit on the case's path or above
    one); outside it a case is as unknown as one that does not exist (404, so existence is not leaked)."""
    case = find(session, tracking_code)
    if not may_see(actor, case.visible_to):
        raise _not_found()
    return case


def may_see(actor: dict, visible_to: list[str]) -> bool:
    if actor.get("role") not in org.READS_CASES:
        return False
    return org.sees_everything(actor["unit"]) or actor["unit"] in visible_to


def _not_found() -> NotFound:
    return NotFound("case_not_found", "پرونده‌ای با این کد رهگیری پیدا نشد.", "no case has this tracking code")


def lock(session: Session, case: Case) -> dict:
    """The case's row, locked for this transaction, as the plain values steps.record needs."""
    row = session.execute(select(*[getattr(Case, c) for c in CASE_COLUMNS]).where(Case.id == case.id)
                          .with_for_update()).one()
    return row._asdict()


# views ----------------------------------------------------------------------------------------------
def public_view(case: Case) -> dict:
    """What anyone holding the tracking code may see: the stage and the timeline, without staff
    names or internal notes (SPEC C3)."""
    view = {
        "tracking_code": case.tracking_code,
        "tracking_code_display": domain.display_tracking_code(case.tracking_code),
        "kind": case.kind, "kind_fa": domain.KINDS[case.kind],
        "channel": case.channel, "urgency": case.urgency,
        "status": case.status, "status_fa": domain.STATUSES_FA.get(case.status, case.status),
        "registered_at": stamp(case.registered_at),
        "anonymous": case.secret_hash is not None,
        "timeline": [_public_step(h) for h in timeline.public_steps(case.history)],
    }
    if case.status in ("answered", "closed") and case.answer_text:
        view["answer"] = {"text": case.answer_text, "at": stamp(case.answered_at)}
    terms = report_again_terms(case)
    if terms.refusal is None:
        view["report_again_from"] = stamp(terms.opens_at)
        view["report_again_to_fa"] = unit_names().get(terms.to, terms.to)
        if terms.until:
            view["report_again_until"] = stamp(terms.until)
    if case.rating:
        view["rating"] = case.rating
    return view


def _public_step(h: CaseHistory) -> dict:
    step = {"stage": h.action, "stage_fa": domain.STAGES.get(h.action, h.action), "at": stamp(h.at),
            "note": h.public_note}
    if h.action in domain.STEPS_NAMING_A_UNIT and h.unit_id:
        step["unit_fa"] = unit_names().get(h.unit_id, h.unit_id)
    return step


def staff_view(session: Session, actor: dict, tracking_code: str) -> dict:
    """A case as staff see it: text, path, deadline and the whole history with names and internal
    notes. The reporter's identity only for inspection roles, never for the unit or center concerned
    (SPEC C17), and each time it is shown an audit row says who saw it."""
    case = find_for_staff(session, actor, tracking_code)
    view = {**public_view(case), "text": case.text, "holder_unit": case.holder_unit_id,
            "holder_unit_fa": unit_names().get(case.holder_unit_id), "path": list(case.path),
            "category": case.category, "center": case.center_id,
            "deadline_at": stamp(case.deadline_at) if case.deadline_at else None,
            "pending_answer": case.answer_text if case.status in ("awaiting_approval", "returned") else None,
            "history": [{"n": h.n, "action": h.action, "at": stamp(h.at), "actor": h.actor_name or h.actor_kind,
                         "unit": h.unit_id, "public_note": h.public_note, "internal_note": h.internal_note}
                        for h in case.history],
            "files": [file_view(f) for f in _files(session, case.id)]}
    if location_of(case):
        view["location"] = location_of(case)
    if actor["role"] in org.SEES_REPORTER:
        view["reporter"] = {"name": case.reporter_name, "mobile": case.reporter_mobile,
                            "national_id": case.reporter_national_id}
        identity_audit.record(session, actor, [case.id], "case_view")
    return view


def location_of(case: Case) -> dict | None:
    """Where the case is about (Open311's lat, long, address_string, media_url), when an app said."""
    location = {"lat": case.lat, "long": case.long, "address": case.address, "media_url": case.media_url}
    return {k: v for k, v in location.items() if v is not None} or None


def caller_view(session: Session, tracking_code: str) -> dict:
    """What the hotline tells a caller about a case: what the caller could read with the code, and
    which unit holds it. An anonymous report is followed only with its secret, on the web: to the
    hotline it is as unknown as a code that does not exist."""
    case = find(session, tracking_code)
    if case.secret_hash:
        raise _not_found()
    return {**public_view(case), "holder_unit": case.holder_unit_id,
            "holder_unit_fa": unit_names().get(case.holder_unit_id)}


def _files(session: Session, case_id: str) -> list[CaseFile]:
    return list(session.scalars(select(CaseFile).where(CaseFile.case_id == case_id).order_by(CaseFile.uploaded_at)))


def file_view(f: CaseFile) -> dict:
    return {"id": f.id, "purpose": f.purpose, "filename": f.filename, "content_type": f.content_type,
            "size": f.size, "sha256": f.sha256, "uploaded_at": stamp(f.uploaded_at)}


def summary(case: Case) -> dict:
    return {"tracking_code": case.tracking_code, "tracking_code_display": domain.display_tracking_code(case.tracking_code),
            "kind": case.kind, "kind_fa": domain.KINDS[case.kind], "urgency": case.urgency, "status": case.status,
            "status_fa": domain.STATUSES_FA.get(case.status, case.status), "registered_at": stamp(case.registered_at),
            "holder_unit": case.holder_unit_id, "category": case.category,
            "deadline_at": stamp(case.deadline_at) if case.deadline_at else None}


def list_for_staff(session: Session, actor: dict, limit: int, after: str | None, mobile: str | None = None) -> dict:
    """Every case within the caller's sight, newest first, a page at a time (keyset); optionally
    only those one mobile reported."""
    limit = max(1, min(limit, MAX_LIMIT))
    query = select(Case).order_by(Case.registered_at.desc(), Case.id.desc())
    if mobile:
        query = query.where(Case.reporter_mobile == mobile)
    elif authorization.is_staff(actor, set(org.ROLES) - set(org.READS_CASES)):  # integrators with cases:read may
        raise Forbidden("cases_not_in_your_work", "فهرست پرونده‌ها فقط برای کارکنانی است که به پرونده‌ها رسیدگی می‌کنند.",
                        "this role reads no cases (need to know); the hotline finds a caller's cases by mobile")
    if not org.sees_everything(actor["unit"]):
        query = query.where(Case.visible_to.contains([actor["unit"]]))
    cursor = decode_cursor(after, 2)
    if cursor:
        query = query.where(tuple_(Case.registered_at, Case.id) < tuple_(datetime.fromisoformat(cursor[0]), cursor[1]))
    rows = list(session.scalars(query.limit(limit + 1)))
    items, next_cursor = page(rows, limit, lambda c: (c.registered_at.isoformat(), c.id))
    if mobile:
        identity_audit.record(session, actor, [c.id for c in items], "cases_by_mobile")
    return {"items": [summary(c) for c in items], "next": next_cursor}


def cartable(session: Session, actor: dict, limit: int, after: str | None, filters: dict | None = None) -> dict:
    """SPEC C14: the cases waiting on the caller's unit, nearest deadline first (or newest first), searched
    and filtered (services/complaints/cartable.py). Opening it is what keeps an account alive (SPEC C12)."""
    now = now_utc()
    session.execute(update(Staff).where(Staff.id == actor["id"]).values(last_cartable_at=now))
    items, next_cursor = cartable_search.cartable_page(session, actor, limit, after, filters or {}, now)
    if cartable_search.searches_by_mobile((filters or {}).get("q")):
        identity_audit.record(session, actor, [c.id for c in items], "cartable_search_by_mobile")
    return {"items": [{**summary(c), "excerpt": cartable_search.excerpt(c.text), "overdue": c.deadline_at <= now,
                       "seconds_left": int((c.deadline_at - now).total_seconds())} for c in items],
            "next": next_cursor}


# staff actions ----------------------------------------------------------------------------------------------
def _staff_actor(actor: dict) -> dict:
    return {"kind": "staff", "id": actor["id"], "name": actor.get("full_name") or actor.get("username")}


def _act(session: Session, actor: dict, tracking_code: str, roles: set[str], decide, change_for=None) -> dict:
    """Lock the case, let the workflow decide the step, and record it. `change_for(step, case)`
    gives the notes, column updates and event fields of the Change."""
    authorization.require(actor, *roles)
    case = find_for_staff(session, actor, tracking_code)
    row = lock(session, case)
    step = decide(state_of(row), row)
    extra = change_for(step, case) if change_for else {}
    record(session, [Change(row, step, _staff_actor(actor), **extra)], now_utc())
    return staff_view(session, actor, tracking_code)


def _delivery(step: workflow.Step, answer_text: str) -> dict:
    """When a step delivers the answer to the citizen: it shows on their timeline (SPEC C6)."""
    if step.state.status != "answered":
        return {"event_data": {"final": False}} if step.action == "approved" else {}
    return {"public_note": answer_text, "updates": {"answered_at": iso(now_utc())}, "event_data": {"final": True}}


def refer(session: Session, actor: dict, tracking_code: str, target: str, note: str) -> dict:
    if target not in unit_names():
        raise InvalidRequest([{"field": "unit", "code": "unknown_unit", "message": "این واحد در سازمان نیست.",
                               "detail": f"no unit {target!r}"}])
    return _act(session, actor, tracking_code, org.ACTS_ON_CASES,
                lambda state, _: workflow.refer(state, actor["unit"], target),
                lambda step, case: {"internal_note": note})


def answer(session: Session, actor: dict, tracking_code: str, text: str, attachments: list[str]) -> dict:
    def decide(state, row):
        _check_attachments(session, row["id"], attachments)
        return workflow.answer(state, actor["unit"])

    def change_for(step, case):
        delivery = _delivery(step, text)
        return {**delivery, "updates": {"answer_text": text, **delivery.get("updates", {})}}

    return _act(session, actor, tracking_code, org.ACTS_ON_CASES, decide, change_for)


def _check_attachments(session: Session, case_id: str, ids: list[str]) -> None:
    known = set(session.scalars(select(CaseFile.id).where(CaseFile.case_id == case_id, CaseFile.purpose == "answer")))
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise InvalidRequest([{"field": "attachments", "code": "unknown_attachment",
                               "message": "پیوست انتخاب‌شده برای این پرونده بارگذاری نشده است.",
                               "detail": f"not attachments of this case: {', '.join(unknown)}"}])


def approve(session: Session, actor: dict, tracking_code: str, note: str | None) -> dict:
    return _act(session, actor, tracking_code, org.MANAGERS,
                lambda state, _: workflow.approve(state, actor["unit"]),
                lambda step, case: {"internal_note": note, **_delivery(step, case.answer_text)})


def return_answer(session: Session, actor: dict, tracking_code: str, note: str) -> dict:
    return _act(session, actor, tracking_code, org.MANAGERS,
                lambda state, _: workflow.return_answer(state, actor["unit"]),
                lambda step, case: {"internal_note": note})


def request_evidence(session: Session, actor: dict, tracking_code: str, note: str) -> dict:
    """SPEC C4: the note is addressed to the reporter and shown on the public timeline."""
    return _act(session, actor, tracking_code, org.ACTS_ON_CASES,
                lambda state, _: workflow.request_evidence(state, actor["unit"]),
                lambda step, case: {"public_note": note})


# the citizen's actions ------------------------------------------------------------------------------------
def report_again(session: Session, tracking_code: str, secret: str | None, note: str | None,
                 actor: dict | None = None) -> dict:
    """SPEC C10: one level up; the managers of every unit left on the path are told."""
    case = find_for_reporter(session, tracking_code, secret, actor)
    row = lock(session, case)
    step = workflow.report_again(state_of(row), now_utc(), report_again_terms(case, state_of(row)))
    managers = _manager_recipients(session, step.state.path)
    record(session, [Change(row, step, {"kind": "citizen", "id": None, "name": None}, public_note=note,
                            event_data={"managers_told": list(step.state.path),
                                        **({"staff_recipients": managers} if managers else {})})], now_utc())
    return public_view(find(session, tracking_code))


def report_again_terms(case: Case, state: workflow.CaseState | None = None) -> workflow.ReportAgainTerms:
    """SPEC C10 for this case: the time it waits since its registration or the citizen's last report again."""
    reports = [h.at for h in case.history if h.action == "reopened"]
    state = state or workflow.CaseState(case.status, case.kind, tuple(case.path), case.holder_unit_id,
                                        case.approver_pos, case.center_id, case.answered_at)
    return workflow.report_again_terms(state, case.urgency, max([case.registered_at, *reports]))


def rate(session: Session, tracking_code: str, secret: str | None, score: int, actor: dict | None = None) -> dict:
    case = find_for_reporter(session, tracking_code, secret, actor)
    row = lock(session, case)
    step = workflow.close(state_of(row))
    now = now_utc()
    record(session, [Change(row, step, {"kind": "citizen", "id": None, "name": None},
                            updates={"rating": score, "closed_at": iso(now)},
                            event_data={"rating": score, "reason": "rated"})], now)
    return public_view(find(session, tracking_code))


def _manager_recipients(session: Session, units) -> list[dict]:
    rows = session.execute(select(Staff.id, Staff.mobile).where(
        Staff.unit_id.in_(list(units)), Staff.active, Staff.role.in_(org.MANAGERS), Staff.mobile.is_not(None)))
    return [{"id": staff_id, "mobile": mobile} for staff_id, mobile in rows]
