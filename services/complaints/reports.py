"""Reports (SPEC C13, C15, C16) on a session the caller owns: a manager's dashboard over their own
subtree, the managers' deadline scorecards, and the public statistics published each Iranian week
and each Jalali month. Every figure is an aggregate computed by PostgreSQL.

The deadline ledger is `case_hops`: a hop is on time when it closed, not as `missed`, by its due time;
the rate of a set of hops is on time / closed (a hop still open counts in `hops` only)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, case, desc, extract, func, or_, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from common import outbox
from common.errors import InvalidRequest
from common.events.catalog import STATISTICS_PUBLISHED
from common.events.envelope import new_event
from common.jalali import TEHRAN, day_text, iso, month_bounds, month_fa, month_key
from common.suppression import THRESHOLD, published_total, suppress
from services.complaints import domain, org
from services.complaints.models import Case, CaseHop, DeadlineMiss, Staff, StatisticsPublication
from services.complaints.models import outbox as outbox_table
from common.reference_data import CATEGORIES, PROVINCES

TOP_CENTERS, TOP_PROBLEMS = 20, 10
PROBLEM_WINDOW = timedelta(days=365)
MISS_PENALTY = 5  # score points per missed deadline (SPEC C13)
PERIODS = ("weekly", "monthly")
# a period is published this long after it ends, so that a case registered in its last moment and
# committed just after is counted
PUBLISH_GRACE = timedelta(minutes=10)
SATURDAY = 5  # date.weekday()

_CLOSED = CaseHop.closed_at.is_not(None)
_MISSED = CaseHop.outcome == "missed"
_ON_TIME = and_(_CLOSED, CaseHop.outcome != "missed", CaseHop.closed_at <= CaseHop.due_at)
_LEDGER = (func.count().label("hops"), func.count().filter(_ON_TIME).label("on_time"),
           func.count().filter(_MISSED).label("missed"), func.count().filter(_CLOSED).label("closed"))


# scope ---------------------------------------------------------------------------------------------
def _cases_in(scope: str):
    """Cases the scope can see now, and cases any unit of the scope was ever asked to act on: a
    county's report still counts the case it let slip, after the miss took it out of its sight."""
    if org.sees_everything(scope):
        return true()
    handled = select(CaseHop.id).where(CaseHop.case_id == Case.id, _units_in(CaseHop.unit_id, scope)).exists()
    return or_(Case.visible_to.contains([scope]), handled)


def _units_in(column, scope: str):
    """The unit itself and every unit below it (HQ: all). Ids are paths, so a prefix test."""
    if org.sees_everything(scope):
        return true()
    return or_(column == scope, column.startswith(scope + ".", autoescape=True))


def _check_period(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise InvalidRequest([{"field": "from", "code": "bad_period", "message": "بازهٔ زمانی درست نیست.",
                               "detail": "from and to need a time zone, and from must come before to"}])


def _counts(session: Session, key, *where, limit: int | None = None) -> list[tuple[str, int]]:
    """[(key, count)] most frequent first."""
    query = (select(key.label("key"), func.count().label("n")).where(*where)
             .group_by("key").order_by(desc("n"), "key").limit(limit))
    return [tuple(row) for row in session.execute(query)]


def _labelled(rows, labels: dict) -> list[dict]:
    return [{"key": key, "label_fa": labels.get(key, key), "count": n} for key, n in rows]


def _rate(on_time: int, closed: int) -> float | None:
    return round(on_time / closed, 4) if closed else None


# SPEC C15 ----------------------------------------------------------------------------------------------
def dashboard(session: Session, actor: dict, start: datetime, end: datetime) -> dict:
    """The caller's subtree over [start, end): the cases registered in it that the caller's unit may
    see, the deadline ledger of the units under it, and the most frequent problems of the last year."""
    _check_period(start, end)
    scope, names = actor["unit"], org.unit_names()
    cases_in = (_cases_in(scope), Case.registered_at >= start, Case.registered_at < end)
    hops_in = (_units_in(CaseHop.unit_id, scope), CaseHop.opened_at >= start, CaseHop.opened_at < end)
    category = func.coalesce(Case.category, "other")

    by_unit = session.execute(select(CaseHop.unit_id, *_LEDGER).where(*hops_in)
                              .group_by(CaseHop.unit_id).order_by(CaseHop.unit_id))
    by_manager = session.execute(
        select(Staff.id, Staff.full_name, Staff.unit_id, *_LEDGER).join(Staff, Staff.id == CaseHop.manager_id)
        .where(*hops_in).group_by(Staff.id).order_by(Staff.full_name, Staff.id))
    misses = _counts(session, DeadlineMiss.unit_id, _units_in(DeadlineMiss.unit_id, scope),
                     DeadlineMiss.due_at >= start, DeadlineMiss.due_at < end)
    problems = _counts(session, category, _cases_in(scope), Case.registered_at >= end - PROBLEM_WINDOW,
                       Case.registered_at < end, limit=TOP_PROBLEMS)
    return {
        "scope": scope, "scope_fa": names.get(scope, scope), "from": iso(start), "to": iso(end),
        "total": session.scalar(select(func.count()).select_from(Case).where(*cases_in)),
        "by_kind": _labelled(_counts(session, Case.kind, *cases_in), domain.KINDS),
        "by_category": _labelled(_counts(session, category, *cases_in), CATEGORIES),
        "by_center": _labelled(_counts(session, Case.center_id, *cases_in, Case.center_id.is_not(None),
                                       limit=TOP_CENTERS), names),
        "by_status": _labelled(_counts(session, Case.status, *cases_in), domain.STATUSES_FA),
        "on_time_by_unit": [{"unit": r.unit_id, "unit_fa": names.get(r.unit_id, r.unit_id), "hops": r.hops,
                             "on_time": r.on_time, "missed": r.missed, "rate": _rate(r.on_time, r.closed)}
                            for r in by_unit],
        "on_time_by_manager": [{"manager_id": r.id, "name": r.full_name, "unit": r.unit_id, "hops": r.hops,
                                "on_time": r.on_time, "missed": r.missed, "rate": _rate(r.on_time, r.closed)}
                               for r in by_manager],
        "misses": {"count": sum(n for _, n in misses),
                   "by_unit": [{"unit": u, "unit_fa": names.get(u, u), "count": n} for u, n in misses]},
        "top_problems": [{"category": key, "label_fa": CATEGORIES.get(key, key), "count": n} for key, n in problems],
    }


# SPEC C13 ----------------------------------------------------------------------------------------------
def scorecards(session: Session, actor: dict, start: datetime, end: datetime) -> list[dict]:
    """One card per manager answerable for hops of the caller's subtree opened in [start, end), worst
    first (a manager with nothing closed yet, and so no score, last).

    - `on_time`: hops closed (not as missed) by their due time; `missed`: hops whose deadline passed;
      `late`: hops closed after their due time before the sweep noticed.
    - `rate` = on_time / closed hops (on_time + missed + late); null when none closed.
    - `score` = round(100 × rate) − 5 per missed deadline, floored at 0; null when none closed. With no
      late hops this is round(100 × on_time / (on_time + missed)) − 5 × missed.
    - `avg_minutes`: mean time from a hop opening to its closing, over the closed hops not missed."""
    _check_period(start, end)
    avg_minutes = func.avg(extract("epoch", CaseHop.closed_at - CaseHop.opened_at) / 60).filter(
        _CLOSED, CaseHop.outcome != "missed")
    rows = session.execute(
        select(Staff.id, Staff.full_name, Staff.role, Staff.unit_id, *_LEDGER, avg_minutes.label("avg_minutes"))
        .join(Staff, Staff.id == CaseHop.manager_id)
        .where(_units_in(CaseHop.unit_id, actor["unit"]), CaseHop.opened_at >= start, CaseHop.opened_at < end)
        .group_by(Staff.id))
    names = org.unit_names()
    cards = []
    for r in rows:
        rate = _rate(r.on_time, r.closed)
        cards.append({
            "manager_id": r.id, "name": r.full_name, "role": r.role, "unit": r.unit_id,
            "unit_fa": names.get(r.unit_id, r.unit_id), "hops": r.hops, "on_time": r.on_time, "missed": r.missed,
            "late": r.closed - r.on_time - r.missed,
            "avg_minutes": round(float(r.avg_minutes), 1) if r.avg_minutes is not None else None,
            "rate": rate, "score": None if rate is None else max(0, round(100 * rate) - MISS_PENALTY * r.missed)})
    return sorted(cards, key=lambda c: (c["score"] is None, c["score"] or 0, c["name"]))


# SPEC C16: periods ---------------------------------------------------------------------------------------
def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=TEHRAN)


def week_of(moment: datetime) -> tuple[datetime, datetime]:
    """The Iranian week around `moment`: Saturday 00:00 to the next Saturday 00:00, Tehran time."""
    day = moment.astimezone(TEHRAN).date()
    saturday = day - timedelta(days=(day.weekday() - SATURDAY) % 7)
    return _midnight(saturday), _midnight(saturday + timedelta(days=7))


def month_of(moment: datetime) -> tuple[datetime, datetime]:
    """The Jalali month around `moment`, from its first day 00:00 to the next month's, Tehran time."""
    first, following = month_bounds(moment.astimezone(TEHRAN).date())
    return _midnight(first), _midnight(following)


def period_bounds(kind: str, moment: datetime) -> tuple[datetime, datetime]:
    if kind not in PERIODS:
        raise ValueError(f"unknown period kind {kind!r}")
    return (week_of if kind == "weekly" else month_of)(moment)


def last_completed(kind: str, now: datetime) -> tuple[datetime, datetime]:
    current, _ = period_bounds(kind, now)
    return period_bounds(kind, current - timedelta(days=1))


def period_of(kind: str, start: datetime) -> tuple[str, str]:
    """(key, Persian label) of the period starting at `start`: ("weekly:2026-11-21", "هفتهٔ ۱۴۰۵/۰۸/۳۰ تا
    ۱۴۰۵/۰۹/۰۶") or ("monthly:1405-09", "آذر ۱۴۰۵")."""
    day = start.astimezone(TEHRAN).date()
    if kind == "weekly":
        first, last = (day_text(d, persian=True) for d in (day, day + timedelta(days=6)))
        return f"weekly:{day.isoformat()}", f"هفتهٔ {first} تا {last}"
    return f"monthly:{month_key(day)}", month_fa(month_key(day))


# SPEC C16: statistics --------------------------------------------------------------------------------------
def public_statistics(session: Session, kind: str, start: datetime, end: datetime, threshold: int = THRESHOLD) -> dict:
    """The data of `statistics.published` for [start, end): national counts only, no personal data.
    A case's province is that of its center, or else of the deepest unit on its path (as
    org.province_of reads it); "national" when that is an HQ unit."""
    _check_period(start, end)
    period, label = period_of(kind, start)
    registered = (Case.registered_at >= start, Case.registered_at < end)
    about = func.coalesce(Case.center_id, Case.path[func.cardinality(Case.path)])
    province = case((about.like("prov.%"), func.split_part(about, ".", 2)), else_="national")
    outcome = case((Case.status.in_(("answered", "closed")), "answered"), else_="in_progress")
    received = session.scalar(select(func.count()).select_from(Case).where(*registered))
    ledger = session.execute(select(*_LEDGER).where(CaseHop.closed_at >= start, CaseHop.closed_at < end)).one()

    def dimension(key, keys) -> dict:
        counts = {k: 0 for k in keys} | dict(_counts(session, key, *registered))
        return suppress(counts, received, threshold)

    return {
        "period": period, "kind": kind, "from": iso(start), "to": iso(end), "label_fa": label,
        "threshold": threshold, "received": published_total(received, threshold),
        "by_kind": dimension(Case.kind, domain.KINDS),
        "by_province": dimension(province, [*PROVINCES, "national"]),
        "by_outcome": dimension(outcome, ("answered", "in_progress")),
        "on_time_rate": _rate(ledger.on_time, ledger.closed),
    }


def publish_due_statistics(session: Session, now: datetime | None = None) -> list[str]:
    """Publish the last completed week and Jalali month if no replica has yet: the period's row and
    its event commit together, and `ON CONFLICT DO NOTHING` lets only one replica claim a period.
    Returns the periods this call published."""
    now = now or datetime.now(timezone.utc)
    published = []
    for kind in PERIODS:
        start, end = last_completed(kind, now - PUBLISH_GRACE)
        period, _ = period_of(kind, start)
        with session.begin():
            claimed = session.scalar(insert(StatisticsPublication).values(period=period)
                                     .on_conflict_do_nothing().returning(StatisticsPublication.period))
            if claimed:
                data = public_statistics(session, kind, start, end)
                outbox.add(session, outbox_table, new_event(STATISTICS_PUBLISHED, data, subject=period))
                published.append(period)
    return published
