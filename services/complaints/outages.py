"""Recorded unavailability of the platform: outages do not count against people (issue 17 item 6; DESIGN
"Delivery under faults"). The sweeps (sweeps.py) stop the clock of every deadline (SPEC C7, C8, C13) and of
every person's 48 hours of inactivity (C12) during these windows, by deadlines.extended_deadline.

A window comes from one of two sources:
- `operator`: an administrator records it, after the fact (record_by_operator): a start and an end in the
  past, at most MAX_OPERATOR_WINDOW long, and the reason. Who recorded it, when and why are kept, and the
  row can never be changed or deleted (a trigger refuses it): the table is its own audit trail.
- `detected`: the platform records what it can see of its own outages. The deadline sweep's timer, in
  every replica, beats a pulse in the database by the database's clock at each tick and after each batch
  (`pulse`). A pulse that finds the previous one more than OUTAGE_GAP_FACTOR sweep intervals old (and
  never less than OUTAGE_GAP_MIN) records the whole silence as a window: no replica of complaints reached
  its database in it, so nobody could act on a case, and no sweep ran. What it cannot see (the gateway or
  the network down while complaints ran) is for an administrator to record.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from common.errors import InvalidRequest
from common.jalali import iso, stamp
from common.metrics import OUTAGES_DETECTED
from services.complaints import deadlines
from services.complaints.models import OutageWindow, Staff, SweepPulse

_log = logging.getLogger(__name__)

MAX_OPERATOR_WINDOW = timedelta(days=14)
DEADLINE_PULSE = "deadline_sweep"


def db_now(session: Session) -> datetime:
    """The database's clock (the start of the current transaction): the one clock every replica shares."""
    return session.execute(text("SELECT now()")).scalar_one()


def pulse(session: Session, name: str, interval: timedelta, now: datetime | None = None) -> deadlines.Window | None:
    """Beat `name`'s pulse in a transaction of its own; record and return the window of silence since the
    last beat when it was long enough to be an outage (deadlines.detected_outage). Replicas beating at once
    take turns on the row, so a silence is recorded once."""
    with session.begin():
        now = now or db_now(session)
        last = session.scalar(select(SweepPulse.last_at).where(SweepPulse.name == name).with_for_update())
        window = deadlines.detected_outage(last, now, interval)
        if window:
            session.add(OutageWindow(starts_at=window[0], ends_at=window[1], source="detected",
                                     reason=f"no replica's {name} reached the database from {iso(window[0])} "
                                            f"to {iso(window[1])}"))
        session.execute(insert(SweepPulse).values(name=name, last_at=now).on_conflict_do_update(
            index_elements=["name"], set_={"last_at": text("greatest(sweep_pulses.last_at, excluded.last_at)")}))
    if window:
        OUTAGES_DETECTED.inc()
        _log.warning("the platform was not working from %s to %s (the %s pulse was silent): deadlines and "
                     "inactivity running through it are extended", iso(window[0]), iso(window[1]), name)
    return window


def windows_since(session: Session, since: datetime | None) -> list[deadlines.Window]:
    """Every window that ended after `since` (all of them when None), merged: those that can still move a
    deadline given at `since` or later."""
    query = select(OutageWindow.starts_at, OutageWindow.ends_at)
    if since is not None:
        query = query.where(OutageWindow.ends_at > since)
    return deadlines.merge_windows(tuple(row) for row in session.execute(query))


def record_by_operator(session: Session, actor: dict, starts_at: datetime, ends_at: datetime, reason: str) -> dict:
    now = db_now(session)
    problems = []
    if ends_at > now:
        problems.append(("ends_at", "in_future", "پایان بازه نمی‌تواند در آینده باشد؛ بازه را پس از پایان قطعی ثبت کنید.",
                         "a window is recorded after it ended: ends_at must not be in the future"))
    if ends_at - starts_at > MAX_OPERATOR_WINDOW:
        problems.append(("ends_at", "too_long", "بازهٔ قطعی بیش از ۱۴ روز ثبت نمی‌شود.",
                         f"a window is at most {MAX_OPERATOR_WINDOW.days} days long"))
    if problems:
        raise InvalidRequest([{"field": f, "code": c, "message": m, "detail": d} for f, c, m, d in problems])
    window = OutageWindow(starts_at=starts_at, ends_at=ends_at, source="operator", reason=reason,
                          recorded_by=actor["id"], recorded_at=now)
    session.add(window)
    session.flush()
    _log.warning("outage window %s to %s recorded by %s (%s): deadlines and inactivity running through it are "
                 "extended", iso(starts_at), iso(ends_at), actor.get("username"), reason,
                 extra={"outage_window": window.id, "actor": actor["id"]})
    return _view(window, actor.get("username"))


def listing(session: Session, limit: int = 200) -> list[dict]:
    rows = session.execute(select(OutageWindow, Staff.username).outerjoin(Staff, Staff.id == OutageWindow.recorded_by)
                           .order_by(OutageWindow.starts_at.desc(), OutageWindow.id.desc()).limit(limit))
    return [_view(window, username) for window, username in rows]


def _view(window: OutageWindow, username: str | None) -> dict:
    return {"id": window.id, "starts_at": stamp(window.starts_at), "ends_at": stamp(window.ends_at),
            "minutes": round((window.ends_at - window.starts_at).total_seconds() / 60, 1),
            "source": window.source, "reason": window.reason, "recorded_by": username,
            "recorded_at": stamp(window.recorded_at)}
