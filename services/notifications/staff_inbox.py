"""Staff in-app notifications (SPEC N2): a case arriving in the cartable, an answer waiting for
approval, a deadline about to be missed or missed, a case reported again, and a revoked access. The
same events that text staff (case_messages.py) fill each person's list here, at most once per event
and person.

`notifications_for` decides what each event says to whom: pure, no I/O. The rest reads and writes the
staff_notifications table in the caller's transaction.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from common.errors import FieldError, InvalidRequest
from common.events.catalog import CASE_STEP_EVENTS, STAFF_ACCESS_REVOKED
from common.jalali import iso, to_jalali
from common.pagination import MAX_LIMIT, decode_cursor, page
from services.notifications.models import StaffNotification

STEP_TYPES = {e.type: step for step, e in CASE_STEP_EVENTS.items()}

# The case step → the kind of notification its staff recipients get (the steps that put a case in a
# unit's cartable, or warn of its deadline). "approved" only while the answer climbs: see _kind.
KIND_OF_STEP = {
    "triaged": "case_in_cartable",
    "referred": "case_in_cartable",
    "moved_up": "case_in_cartable",
    "returned": "case_returned",
    "answered": "case_awaiting_approval",
    "approved": "case_awaiting_approval",
    "deadline_warning": "deadline_warning",
    "deadline_missed": "deadline_missed",
    "reopened": "case_reopened",
}
TITLES = {
    "case_in_cartable": "پرونده تازه در کارتابل",
    "case_awaiting_approval": "پاسخ در انتظار تأیید",
    "case_returned": "پاسخ برای اصلاح برگشت",
    "deadline_warning": "مهلت رو به پایان",
    "deadline_missed": "پرونده با مهلت گذشته",
    "case_reopened": "گزارش دوبارهٔ شهروند",
    "access_revoked": "لغو دسترسی",
}
BODIES = {
    "case_in_cartable": "پرونده {code} به کارتابل شما رسید.",
    "case_awaiting_approval": "پاسخ پرونده {code} در کارتابل شما منتظر تأیید است.",
    "case_returned": "پاسخ پرونده {code} برای اصلاح به کارتابل شما برگشت.",
    "deadline_warning": "مهلت رسیدگی به پرونده {code} رو به پایان است.",
    "deadline_missed": "مهلت پرونده {code} در واحد قبلی گذشت و پرونده برای پیگیری به کارتابل شما آمد.",
    "case_reopened": "شهروند دربارهٔ پرونده {code} دوباره گزارش داد؛ پیگیری آن با شماست.",
}
REVOKED_BODIES = {
    "inactivity": "دسترسی شما ({username}) به‌علت ۴۸ ساعت باز نکردن کارتابل لغو شد. بازگشت آن با مدیر سامانه است.",
    "admin": "دسترسی شما ({username}) را مدیر سامانه لغو کرد. بازگشت آن با مدیر سامانه است.",
}


@dataclass(frozen=True)
class Notice:
    staff_id: str
    kind: str
    title_fa: str
    body_fa: str
    tracking_code: str | None = None


def notifications_for(event: dict) -> list[Notice]:
    """What this event tells whom in the app: one notice per staff member it names."""
    data = event["data"]
    if event["type"] == STAFF_ACCESS_REVOKED.type:
        body = REVOKED_BODIES["inactivity" if data.get("by") == "inactivity" else "admin"]
        return [Notice(data["staff_id"], "access_revoked", TITLES["access_revoked"],
                       body.format(username=data["username"]))]
    step = STEP_TYPES.get(event["type"])
    kind = _kind(step, data) if step else None
    if kind is None:
        return []
    code = data["tracking_code"]
    body = BODIES[kind].format(code=code)
    if data.get("deadline_at"):
        body += f" مهلت: {to_jalali(datetime.fromisoformat(data['deadline_at']))}"
    seen, out = set(), []
    for person in data.get("staff_recipients") or ():
        if person["id"] not in seen:
            seen.add(person["id"])
            out.append(Notice(person["id"], kind, TITLES[kind], body, code))
    return out


def _kind(step: str, data: dict) -> str | None:
    if step == "approved" and (data.get("final") or data.get("status") != "awaiting_approval"):
        return None  # the last approval: the case left the cartables
    return KIND_OF_STEP.get(step)


def record(session: Session, event: dict) -> int:
    """Store the event's notifications (in the caller's transaction, beside the inbox claim); the
    number stored now. A second call for the same event stores none."""
    notices = notifications_for(event)
    if not notices:
        return 0
    stmt = (insert(StaffNotification)
            .values([{"id": str(uuid.uuid4()), "staff_id": n.staff_id, "kind": n.kind, "tracking_code": n.tracking_code,
                      "title_fa": n.title_fa, "body_fa": n.body_fa, "cause_source": event["source"],
                      "cause_id": event["id"]} for n in notices])
            .on_conflict_do_nothing(constraint="staff_notification_once_per_cause")
            .returning(StaffNotification.id))
    return len(session.execute(stmt).all())


def list_for(session: Session, staff_id: str, unread_only: bool = False, limit: int = 20,
             after: str | None = None) -> dict:
    """The person's notifications, newest first, a page at a time: {"items", "next" (a cursor)}."""
    limit = max(1, min(limit, MAX_LIMIT))
    query = select(StaffNotification).where(StaffNotification.staff_id == staff_id)
    if unread_only:
        query = query.where(StaffNotification.read_at.is_(None))
    cursor = decode_cursor(after, 2)
    if cursor:
        query = query.where(tuple_(StaffNotification.created_at, StaffNotification.id) < tuple_(*_position(cursor)))
    rows = list(session.scalars(query.order_by(StaffNotification.created_at.desc(), StaffNotification.id.desc())
                                .limit(limit + 1)))
    items, next_cursor = page(rows, limit, lambda n: (n.created_at.isoformat(), n.id))
    return {"items": [view(n) for n in items], "next": next_cursor}


def view(n: StaffNotification) -> dict:
    return {"id": n.id, "kind": n.kind, "tracking_code": n.tracking_code, "title": n.title_fa, "body": n.body_fa,
            "created_at": iso(n.created_at), "created_at_fa": to_jalali(n.created_at), "read": n.read_at is not None}


def unread_count(session: Session, staff_id: str) -> int:
    return session.execute(select(func.count()).select_from(StaffNotification).where(
        StaffNotification.staff_id == staff_id, StaffNotification.read_at.is_(None))).scalar_one()


def mark_read(session: Session, staff_id: str, ids: list[str], now: datetime | None = None) -> int:
    """Mark these of the person's notifications read (others' ids are ignored); the number marked now."""
    if not ids:
        return 0
    return _mark(session, staff_id, now, StaffNotification.id.in_(ids))


def mark_all_read(session: Session, staff_id: str, now: datetime | None = None) -> int:
    return _mark(session, staff_id, now)


def _mark(session: Session, staff_id: str, now: datetime | None, *conditions) -> int:
    result = session.execute(update(StaffNotification).where(
        StaffNotification.staff_id == staff_id, StaffNotification.read_at.is_(None), *conditions)
        .values(read_at=now or func.now()))
    return result.rowcount


def _position(cursor: list) -> tuple[datetime, str]:
    """A cursor's (created_at, id), or the InvalidRequest of a cursor that is not one of ours."""
    try:
        moment = datetime.fromisoformat(str(cursor[0]))
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, str(uuid.UUID(str(cursor[1])))
    except ValueError:
        raise InvalidRequest([FieldError("after", "invalid_cursor", "نشانگر صفحه معتبر نیست.",
                                         "use the `next` link of the previous page")]) from None
