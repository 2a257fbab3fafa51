"""Case registration and the citizen's view of a case: the service's use cases, on a session the
caller owns (the caller commits)."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

from sqlalchemy import or_, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from common import outbox
from common.errors import NotFound
from common.pagination import MAX_LIMIT, decode_cursor, page
from common.events.catalog import CASE_REGISTERED
from common.events.envelope import new_event
from common.jalali import iso, stamp
from services.complaints import domain, org
from services.complaints.models import Case, CaseStep
from services.complaints.models import outbox as outbox_table
from services.complaints.schemas import CaseIntake

_log = logging.getLogger(__name__)


def register(session: Session, intake: CaseIntake, secret: str | None = None) -> Case:
    """Store the case, its first timeline step and the `case.registered` event in one transaction.
    An anonymous report keeps the hash of `secret`."""
    now = datetime.now(timezone.utc)
    anonymous = domain.is_anonymous_report(intake.kind, intake.name, intake.mobile, intake.national_id)
    for _ in range(5):  # a tracking-code collision is a 1-in-10^15 event; retry rather than fail
        case = Case(
            id=str(uuid.uuid4()), tracking_code=domain.new_tracking_code(), kind=intake.kind,
            channel=intake.channel, urgency=intake.urgency, status="registered", text=intake.text,
            reporter_name=intake.name, reporter_mobile=intake.mobile,
            reporter_national_id=intake.national_id, registered_at=now,
            steps=[CaseStep(stage="registered", at=now)],
            secret_hash=domain.secret_hash(secret) if anonymous and secret else None,
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
    data = {
        "tracking_code": case.tracking_code, "kind": case.kind, "channel": case.channel,
        "urgency": case.urgency, "status": case.status, "registered_at": iso(now),
    }
    if case.reporter_mobile:
        data["reporter_mobile"] = case.reporter_mobile
    outbox.add(session, outbox_table, new_event(CASE_REGISTERED, data, subject=case.tracking_code))
    _log.info("case registered", extra={"tracking_code": case.tracking_code, "kind": case.kind,
                                        "channel": case.channel})
    return case


def find_for_citizen(session: Session, tracking_code: str, secret: str | None) -> Case:
    """A case by its code, and for an anonymous report by its code and secret: without the right
    secret it is as unknown as a code that does not exist."""
    case = find(session, tracking_code)
    if case.secret_hash and not domain.secret_matches(case.secret_hash, secret):
        raise _not_found()
    return case


def find(session: Session, tracking_code: str) -> Case:
    code = domain.normalise_tracking_code(tracking_code)
    case = None
    if code is not None:
        case = session.scalars(
            select(Case).where(Case.tracking_code == code).options(selectinload(Case.steps))
        ).first()
    if case is None:
        raise _not_found()
    return case


def _not_found() -> NotFound:
    return NotFound("case_not_found", "پرونده‌ای با این کد رهگیری پیدا نشد.", "no case has this tracking code")


def public_view(case: Case) -> dict:
    """What anyone holding the tracking code may see: stage and timeline, no personal data."""
    return {
        "tracking_code": case.tracking_code,
        "tracking_code_display": domain.display_tracking_code(case.tracking_code),
        "kind": case.kind,
        "kind_fa": domain.KINDS[case.kind],
        "channel": case.channel,
        "urgency": case.urgency,
        "status": case.status,
        "status_fa": domain.STAGES.get(case.status, case.status),
        "registered_at": stamp(case.registered_at),
        "anonymous": case.secret_hash is not None,
        "timeline": [
            {"stage": s.stage, "stage_fa": domain.STAGES.get(s.stage, s.stage), "at": stamp(s.at),
             "note": s.note}
            for s in case.steps
        ],
    }


def staff_view(session: Session, actor: dict, tracking_code: str) -> dict:
    """A case as staff see it in their cartable, only within their unit's subtree (a case outside
    it is as unknown as one that does not exist: 404, so existence is not leaked). The reporter's
    identity only for inspection roles (SPEC C17)."""
    case = find(session, tracking_code)
    if not org.within(case.holder_unit_id, actor["unit"]):
        raise _not_found()
    view = {**public_view(case), "text": case.text, "holder_unit": case.holder_unit_id}
    if actor["role"] in org.SEES_REPORTER:
        view["reporter"] = {"name": case.reporter_name, "mobile": case.reporter_mobile,
                            "national_id": case.reporter_national_id}
    return view


def list_for_staff(session: Session, actor: dict, limit: int, after: str | None) -> dict:
    """The cases within the caller's unit, newest first, a page at a time (keyset on
    registration time and id)."""
    limit = max(1, min(limit, MAX_LIMIT))
    query = select(Case).options(selectinload(Case.steps)).order_by(Case.registered_at.desc(), Case.id.desc())
    scope = actor["unit"]
    if not org.sees_everything(scope):
        query = query.where(or_(Case.holder_unit_id == scope, Case.holder_unit_id.startswith(scope + ".")))
    cursor = decode_cursor(after, 2)
    if cursor:
        query = query.where(tuple_(Case.registered_at, Case.id) < tuple_(datetime.fromisoformat(cursor[0]), cursor[1]))
    rows = list(session.scalars(query.limit(limit + 1)))
    items, next_cursor = page(rows, limit, lambda c: (c.registered_at.isoformat(), c.id))
    return {"items": [{**public_view(c), "holder_unit": c.holder_unit_id} for c in items], "next": next_cursor}
