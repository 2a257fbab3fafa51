"""The timers' work (SPEC C7, C8, C10, C12): warn before a deadline, pull back a case whose deadline
passed, close answered cases whose window to report again is over, revoke staff who left the cartable
unopened for 48 hours.

They run in every replica at once: each batch claims its cases with FOR UPDATE SKIP LOCKED and
re-checks the condition on the locked row, so two replicas never act on the same case and a case
acted on by staff in between is left alone. Each batch is its own transaction.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from common import outbox
from common.events.catalog import STAFF_ACCESS_REVOKED
from common.events.envelope import new_event
from common.jalali import iso
from common.metrics import DEADLINE_MISSES
from services.complaints import org, staff, workflow
from services.complaints.models import Case, Staff
from services.complaints.models import outbox as outbox_table
from services.complaints.steps import CASE_COLUMNS, Change, load_policy, record, state_of

_log = logging.getLogger(__name__)

BATCH = 2000
INACTIVITY_LIMIT = timedelta(hours=48)
_COLUMNS = [getattr(Case, c) for c in CASE_COLUMNS]


def _claim(session: Session, condition, order_by, limit: int) -> list[dict]:
    query = select(*_COLUMNS).where(condition).order_by(order_by).limit(limit).with_for_update(skip_locked=True)
    return [row._asdict() for row in session.execute(query)]


def escalate_overdue(session: Session, now: datetime | None = None, limit: int = BATCH) -> int:
    """One batch of missed deadlines: back to the central level, the miss on the manager's record."""
    now = now or datetime.now(timezone.utc)
    with session.begin():
        rows = _claim(session, Case.deadline_at <= now, Case.deadline_at, limit)
        changes = [Change(row, workflow.miss_deadline(state_of(row)),
                          internal_note=f"deadline {iso(row['deadline_at'])} missed at {row['holder_unit_id']}",
                          event_data={"missed_by_unit": row["holder_unit_id"]})
                   for row in rows if row["status"] in workflow.OPEN]
        record(session, changes, now, load_policy(session))
    DEADLINE_MISSES.inc(len(changes))  # after the commit: a rolled-back batch counts nothing
    return len(changes)


def warn_due(session: Session, now: datetime | None = None, limit: int = BATCH) -> int:
    now = now or datetime.now(timezone.utc)
    with session.begin():
        rows = _claim(session, (Case.warn_at <= now) & (Case.deadline_at > now), Case.warn_at, limit)
        changes = [Change(row, workflow.warn(state_of(row))) for row in rows if row["status"] in workflow.OPEN]
        record(session, changes, now)
    return len(changes)


def close_answered(session: Session, now: datetime | None = None, limit: int = BATCH) -> int:
    now = now or datetime.now(timezone.utc)
    with session.begin():
        rows = _claim(session, (Case.status == "answered") & (Case.answered_at <= now - workflow.REPORT_AGAIN_WINDOW),
                      Case.answered_at, limit)
        changes = [Change(row, workflow.close(state_of(row)), updates={"closed_at": iso(now)},
                          event_data={"reason": "window_passed"}) for row in rows]
        record(session, changes, now)
    return len(changes)


def run_until_done(sweep, session: Session, now: datetime | None = None) -> int:
    """Batches until one comes back short: a backlog of 100,000 is worked off in one timer tick."""
    total = 0
    while True:
        done = sweep(session, now)
        total += done
        if done < BATCH:
            return total


def revoke_inactive(session: Session, now: datetime | None = None) -> int:
    """SPEC C12: 48 hours without opening the cartable and access is revoked; only an administrator
    restores it. The person's open cases move to their superior's unit."""
    now = now or datetime.now(timezone.utc)
    revoked = 0
    while True:
        with session.begin():
            person = session.scalars(
                select(Staff).where(Staff.active, Staff.role.in_(org.KEEPS_A_CARTABLE),
                                    Staff.last_cartable_at < now - INACTIVITY_LIMIT)
                .limit(1).with_for_update(skip_locked=True)).first()
            if person is None:
                return revoked
            reason = "۴۸ ساعت کارتابل باز نشد (ماده C12)"
            staff.revoke(session, person.id, reason)
            moved = move_cases_of(session, person.id, now)
            publish_revocation(session, person, reason, "inactivity", now, moved)
            _log.warning("access of %s revoked for inactivity; %d case(s) moved up", person.username, moved)
            revoked += 1


def revoke_by_admin(session: Session, staff_id: str, reason: str) -> dict:
    now = datetime.now(timezone.utc)
    principal = staff.revoke(session, staff_id, reason)
    person = session.get(Staff, principal["id"])
    publish_revocation(session, person, reason, "admin", now, move_cases_of(session, person.id, now))
    return principal


def move_cases_of(session: Session, staff_id: str, now: datetime) -> int:
    rows = [row._asdict() for row in session.execute(
        select(*_COLUMNS).where(Case.assignee_id == staff_id, Case.deadline_at.is_not(None)).with_for_update())]
    changes = [Change(row, workflow.move_up(state_of(row)), internal_note="the person responsible lost access")
               for row in rows if row["status"] in workflow.OPEN]
    record(session, changes, now)
    return len(changes)


def publish_revocation(session: Session, person: Staff, reason: str, by: str, now: datetime, moved: int) -> None:
    data = {"staff_id": person.id, "username": person.username, "unit": person.unit_id, "reason": reason,
            "by": by, "at": iso(now), "cases_moved": moved}
    if person.mobile:
        data["mobile"] = person.mobile
    outbox.add(session, outbox_table, new_event(STAFF_ACCESS_REVOKED, data, subject=person.id, time=now))
