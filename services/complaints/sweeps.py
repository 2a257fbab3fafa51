"""The timers' work (SPEC C7, C8, C10, C12): warn before a deadline, pull back a case whose deadline
passed, close answered cases whose window to report again is over, revoke staff who left the cartable
unopened for 48 hours.

They run in every replica at once: each batch claims its rows with FOR UPDATE SKIP LOCKED and re-checks
the condition on the locked row, so two replicas never act on the same case and a case acted on by staff
in between is left alone. Each batch is its own transaction, and takes its time from the database's clock
(SELECT now(), once per batch): the replicas' clocks may disagree, the database's is one.

One bad row never stops the others (issue 17 item 5). A batch is written set-based under a savepoint; if
that fails on anything but the infrastructure (common.transient: the database gone, a timeout, a lost
race), it is done again row by row, each row under its own savepoint, and a row that fails alone is set
aside in `sweep_failures` with its error. Every later claim of that sweep skips it, so the rest of its
batch and every later batch go on. It is counted (sweep_row_failures_total), shown (sweep_rows_set_aside,
alert SweepRowsSetAside; GET /api/v1/staff/sweeps/failures) and tried again alone, in a batch of set-aside
rows at the start of each run, once its `retry_at` comes: RETRY_FIRST after it failed, doubling with each
failure up to RETRY_MAX, or at the next tick when an administrator asks (retry_now). A row that succeeds on
its retry, or that no longer needs the sweep (someone acted on the case), leaves the table. An
infrastructure error sets nothing aside: the batch rolls back and the next tick does it again.

Outages do not count against people (issue 17 item 6, outages.py): before a warning, a deadline or 48
hours of inactivity is acted on, it is extended by the outage windows it ran through
(deadlines.extended_deadline), from the ones its hop was first given. The hop's due_at becomes the extended
deadline (the manager is judged on it, C13) and keeps the given ones beside it. A case whose extended
deadline (or warning) is still ahead gets it written instead, with a `deadline_extended` row in its history,
and is acted on only when it comes; one already past is acted on at once. A person is revoked only after 48
hours in which the platform was up.
"""
from __future__ import annotations

import gc
import logging
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from sqlalchemy import Text, cast, delete, func, select, tuple_, type_coerce, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
from sqlalchemy.types import NullType
from sqlalchemy.orm import Session

from common import outbox
from common.errors import ClientError, NotFound
from common.events.catalog import STAFF_ACCESS_REVOKED
from common.events.envelope import new_event
from common.jalali import iso, stamp
from common.metrics import DEADLINE_MISSES, SWEEP_ROWS_FAILED, SWEEP_ROWS_SET_ASIDE
from common.transient import is_transient
from services.complaints import deadlines, org, outages, staff, workflow
from services.complaints.models import Case, CaseHop, Staff, SweepFailure
from services.complaints.models import outbox as outbox_table
from services.complaints.steps import CASE_COLUMNS, Change, extend_hops, load_policy, record, state_of, step_of

_log = logging.getLogger(__name__)

BATCH = 2000
STAFF_BATCH = 200
RETRY_BATCH = 100  # set-aside rows tried again per sweep and run
INACTIVITY_LIMIT = timedelta(hours=48)
INACTIVITY_REASON = "۴۸ ساعت کارتابل باز نشد (ماده C12)"
RETRY_FIRST = timedelta(hours=1)
RETRY_MAX = timedelta(hours=24)
SWEEPS = ("warn_due", "escalate_overdue", "close_answered", "revoke_inactive")
_COLUMNS = [getattr(Case, c) for c in CASE_COLUMNS]
# what a deadline sweep reads of a case: the writer's columns, the warning, and the open hop's opening and
# first-given times (to extend the deadline by the outages it ran through)
_CLAIMED = [*_COLUMNS, Case.warn_at, CaseHop.opened_at.label("hop_opened_at"), CaseHop.given_due_at,
            CaseHop.given_warn_at]


def _as_driver_gives(column):
    """The column as psycopg2 gives it, without SQLAlchemy's processing of each value (a sweep reads
    thousands of rows): a uuid as its text, an array as the driver's list."""
    if isinstance(column.type, UUID):
        return cast(column, Text).label(column.key)
    if isinstance(column.type, ARRAY):
        return type_coerce(column, NullType()).label(column.key)
    return column


_CLAIMED_PLAIN = [_as_driver_gives(c) for c in _CLAIMED]


def retry_delay(attempts: int) -> timedelta:
    """How long a row set aside after its `attempts`-th failure waits before it is tried again."""
    return min(RETRY_FIRST * 2 ** min(max(attempts - 1, 0), 10), RETRY_MAX)


class Done(int):
    """How many rows a batch acted on (escalated, warned, closed, revoked); `claimed`: how many it took
    (those, and the ones it extended or set aside), so a caller knows whether more may be waiting."""

    claimed: int
    last: dict | None

    def __new__(cls, done: int, claimed: int = 0, last: dict | None = None):
        value = super().__new__(cls, done)
        value.claimed, value.last = claimed, last
        return value


# the batches ---------------------------------------------------------------------------------------------
def escalate_overdue(session: Session, now: datetime | None = None, limit: int = BATCH,
                     retrying: bool = False) -> Done:
    """One batch of missed deadlines: back to the central level, the miss on the manager's record (C8, C13)."""
    policy, steps = [], {}

    def act(rows: list[dict], now: datetime, windows: list) -> int:
        changes, hops, missed = [], [], 0
        for row, case, moved in _with_outages(rows, windows):
            if moved:
                hops.append(_hop_extension(row, case))
            if case["deadline_at"] > now:  # the outage moved it ahead: not missed yet
                changes.append(_extension(row, case))
                continue
            missed += 1
            changes.append(Change(case, step_of(workflow.miss_deadline, case, steps),
                                  internal_note=f"deadline {iso(case['deadline_at'])} missed at {case['holder_unit_id']}"
                                                + (f" (given {iso(row['deadline_at'])}, extended by outages)"
                                                   if moved else ""),
                                  event_data={"missed_by_unit": case["holder_unit_id"]}))
        if missed and not policy:
            policy.append(load_policy(session))
        record(session, changes, now, policy[0] if policy else None)
        extend_hops(session, hops)
        return missed

    done = _batch(session, "escalate_overdue", Case, now, retrying, _still_overdue,
                  _case_claim(session, _still_overdue, Case.deadline_at, limit), act)
    DEADLINE_MISSES.inc(done)  # after the commit: a rolled-back batch counts nothing
    return done


def warn_due(session: Session, now: datetime | None = None, limit: int = BATCH, retrying: bool = False) -> Done:
    def act(rows: list[dict], now: datetime, windows: list) -> int:
        changes, hops, warned = [], [], 0
        for row, case, moved in _with_outages(rows, windows):
            if moved:
                hops.append(_hop_extension(row, case))
            if case["warn_at"] > now:  # the outage moved it ahead
                changes.append(_extension(row, case))
                continue
            warned += 1
            changes.append(Change(case, workflow.warn(state_of(case)),
                                  updates={"deadline_at": case["deadline_at"].isoformat()} if moved else {}))
        record(session, changes, now)
        extend_hops(session, hops)
        return warned

    return _batch(session, "warn_due", Case, now, retrying, _warning_due,
                  _case_claim(session, _warning_due, Case.warn_at, limit), act)


def close_answered(session: Session, now: datetime | None = None, limit: int = BATCH,
                   retrying: bool = False) -> Done:
    def act(rows: list[dict], now: datetime, windows: list) -> int:
        changes = [Change(row, workflow.close(state_of(row)), updates={"closed_at": iso(now)},
                          event_data={"reason": "window_passed"}) for row in rows]
        record(session, changes, now)
        return len(changes)

    return _batch(session, "close_answered", Case, now, retrying, _to_close,
                  _case_claim(session, _to_close, Case.answered_at, limit), act, uses_windows=False)


def _still_overdue(now: datetime):
    return Case.deadline_at <= now


def _warning_due(now: datetime):
    return (Case.warn_at <= now) & (Case.deadline_at > now)


def _to_close(now: datetime):
    return (Case.status == "answered") & (Case.answered_at <= now - workflow.REPORT_AGAIN_WINDOW)


def run_until_done(sweep, session: Session, now: datetime | None = None, between=None) -> int:
    """The set-aside rows due again (one batch, alone), then batches until one comes back short: a
    backlog of 100,000 is worked off in one timer tick. `between()` runs after each batch (the pulse)."""
    total = sweep(session, now, RETRY_BATCH, retrying=True)
    while True:
        done = sweep(session, now)
        total += done
        if between is not None:
            between()
        if getattr(done, "claimed", done) < BATCH:
            return int(total)


def _batch(session: Session, sweep: str, model, now: datetime | None, retrying: bool, still_due, claim, act,
           uses_windows: bool = True) -> Done:
    """One batch in one transaction: claim the rows (those set aside skipped, or only those due again when
    `retrying`), act on them all at once or else row by row, set aside the rows that fail alone."""
    with _cyclic_gc_paused(), session.begin():
        now = now or outages.db_now(session)
        if retrying:
            _forget_resolved(session, sweep, model, still_due(now), now)
        rows = claim(now, _set_aside(sweep, model.id, retry_due=now if retrying else None))
        windows = outages.windows_since(session, min((r["since"] for r in rows if r.get("since")), default=None)) \
            if rows and uses_windows else []
        done, failed, succeeded = _isolated(session, sweep, rows, lambda part: act(part, now, windows))
        if failed:
            _record_failures(session, sweep, failed, now)
        if retrying and succeeded:
            session.execute(delete(SweepFailure).where(SweepFailure.sweep == sweep,
                                                       SweepFailure.subject_id.in_([r["id"] for r in succeeded])))
    if failed:
        SWEEP_ROWS_FAILED.labels(sweep).inc(len(failed))
    if retrying and succeeded:
        _log.info("%d row(s) set aside by %s went through on their retry", len(succeeded), sweep)
    return Done(done, len(rows), rows[-1] if rows else None)


@contextmanager
def _cyclic_gc_paused():
    """A batch makes tens of thousands of containers (rows, changes, history links, events) that reference
    counting frees; Python's cyclic collector, run every 700 allocations, would walk them and the process's
    long-lived objects over and over (a sixth of a sweep's Python time, by the profile). It waits for the
    batch to end; the batch that found it running starts it again."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _case_claim(session: Session, condition, order_by, limit: int):
    def claim(now: datetime, which) -> list[dict]:
        query = (select(*_CLAIMED_PLAIN).select_from(Case).outerjoin(CaseHop, CaseHop.id == Case.current_hop_id)
                 .where(condition(now), which).order_by(order_by).limit(limit)
                 .with_for_update(of=Case, skip_locked=True))
        result = session.connection().execute(query)  # plain rows: nothing for the ORM to load
        keys = list(result.keys())
        opened = keys.index("hop_opened_at")
        return [dict(zip(keys, row, strict=True), since=row[opened]) for row in result.all()]
    return claim


def _isolated(session: Session, sweep: str, rows: list[dict], act) -> tuple[int, list, list]:
    """(done, [(row, error)] of the rows that failed alone, the rows that went through)."""
    if not rows:
        return 0, [], []
    try:
        with session.begin_nested():
            return act(rows), [], rows
    except Exception as exc:
        if is_transient(exc):
            raise
        if len(rows) == 1:
            return 0, [(rows[0], exc)], []
        _log.warning("a batch of %d rows of %s failed (%s); doing it again row by row", len(rows), sweep,
                     error_text(exc))
    done, failed, succeeded = 0, [], []
    for row in rows:
        try:
            with session.begin_nested():
                done += act([row])
            succeeded.append(row)
        except Exception as exc:
            if is_transient(exc):
                raise
            failed.append((row, exc))
    return done, failed, succeeded


# rows set aside --------------------------------------------------------------------------------------------
def _set_aside(sweep: str, id_column, retry_due: datetime | None = None):
    """The claim's filter: rows not set aside by this sweep; or, with `retry_due`, only those due again."""
    failures = select(SweepFailure.subject_id).where(SweepFailure.sweep == sweep, SweepFailure.subject_id == id_column)
    if retry_due is None:
        return ~failures.exists()
    return failures.where(SweepFailure.retry_at <= retry_due).exists()


def _record_failures(session: Session, sweep: str, failed: list, now: datetime) -> None:
    ids = [row["id"] for row, _ in failed]
    attempts = dict(session.execute(select(SweepFailure.subject_id, SweepFailure.attempts)
                                    .where(SweepFailure.sweep == sweep, SweepFailure.subject_id.in_(ids))).all())
    values = []
    for row, exc in failed:
        n = attempts.get(row["id"], 0) + 1
        values.append({"sweep": sweep, "subject_id": row["id"], "error": error_text(exc), "first_failed_at": now,
                       "last_failed_at": now, "attempts": n, "retry_at": now + retry_delay(n)})
        _log.error("%s could not act on %s (failure %d: %s); set aside until %s, the rest go on", sweep,
                   row.get("tracking_code") or row.get("username") or row["id"], n, values[-1]["error"],
                   iso(values[-1]["retry_at"]))
    upsert = insert(SweepFailure).values(values)
    session.execute(upsert.on_conflict_do_update(
        index_elements=["sweep", "subject_id"],
        set_={c: upsert.excluded[c] for c in ("error", "last_failed_at", "attempts", "retry_at")}))


def _forget_resolved(session: Session, sweep: str, model, still_due, now: datetime) -> None:
    """Set-aside rows due again that the sweep no longer needs to act on (a person acted on the case, the
    staff member opened the cartable) leave the table."""
    subject = select(model.id).where(model.id == SweepFailure.subject_id, still_due).exists()
    session.execute(delete(SweepFailure).where(SweepFailure.sweep == sweep, SweepFailure.retry_at <= now, ~subject))


def error_text(exc: BaseException) -> str:
    """What the operator reads: the database's own message (never the statement or its parameters, which
    may hold personal data), or the rule's code and detail."""
    if isinstance(exc, ClientError):
        text = f"{type(exc).__name__}: {exc.code}: {exc.detail}"
    else:
        orig = getattr(exc, "orig", None) or exc
        text = f"{type(orig).__name__}: {orig}"
    return " ".join(text.split())[:2000]


def refresh_set_aside_gauge(session: Session) -> dict[str, int]:
    with session.begin():
        counts = dict(session.execute(select(SweepFailure.sweep, func.count()).group_by(SweepFailure.sweep)).all())
    for name in set(SWEEPS) | set(counts):
        SWEEP_ROWS_SET_ASIDE.labels(name).set(counts.get(name, 0))
    return counts


def failures(session: Session) -> list[dict]:
    """Every row set aside, oldest first, for operators (GET /api/v1/staff/sweeps/failures)."""
    rows = session.execute(
        select(SweepFailure, Case.tracking_code, Staff.username)
        .outerjoin(Case, Case.id == SweepFailure.subject_id).outerjoin(Staff, Staff.id == SweepFailure.subject_id)
        .order_by(SweepFailure.first_failed_at, SweepFailure.sweep, SweepFailure.subject_id))
    return [_failure_view(f, code, username) for f, code, username in rows]


def retry_now(session: Session, actor: dict, sweep: str, subject_id: str) -> dict:
    """An administrator fixed the cause: the row is tried again, alone, at the sweep's next run."""
    try:
        subject_id = str(uuid.UUID(subject_id))
    except (TypeError, ValueError):
        subject_id = None
    failure = None
    if sweep in SWEEPS and subject_id:
        failure = session.scalars(update(SweepFailure).where(SweepFailure.sweep == sweep,
                                                             SweepFailure.subject_id == subject_id)
                                  .values(retry_at=func.now()).returning(SweepFailure)).first()
    if failure is None:
        raise NotFound("sweep_failure_not_found", "چنین مورد کنارگذاشته‌ای نیست.",
                       "no row of this sweep is set aside with this id")
    _log.warning("%s asked %s to try %s again", actor.get("username"), sweep, subject_id)
    [shown] = [f for f in failures(session) if f["sweep"] == sweep and f["subject_id"] == subject_id]
    return shown


def _failure_view(f: SweepFailure, tracking_code: str | None, username: str | None) -> dict:
    return {"sweep": f.sweep, "subject_id": f.subject_id,
            "subject": tracking_code or username, "error": f.error, "attempts": f.attempts,
            "first_failed_at": stamp(f.first_failed_at), "last_failed_at": stamp(f.last_failed_at),
            "retry_at": stamp(f.retry_at)}


# outages: a deadline extended by the windows it ran through ----------------------------------------------
def _with_outages(rows: list[dict], windows: list):
    """(row as claimed, the row with its deadline and warning extended by `windows`, whether they moved)."""
    for row in rows:
        due, warn = effective_deadline(row, windows) if windows else (row["deadline_at"], row["warn_at"])
        if (due, warn) == (row["deadline_at"], row["warn_at"]):
            yield row, row, False
        else:
            yield row, {**row, "deadline_at": due, "warn_at": warn}, True


def effective_deadline(row: dict, windows: list) -> tuple[datetime, datetime | None]:
    """The case's deadline and warning (None once given) with the clock stopped during `windows`, from
    the ones its hop was first given."""
    opened = row.get("hop_opened_at")
    if opened is None or row["deadline_at"] is None:
        return row["deadline_at"], row["warn_at"]
    due = deadlines.extended_deadline(opened, row["given_due_at"] or row["deadline_at"], windows)
    warn = None
    if row["warn_at"] is not None:
        warn = deadlines.extended_deadline(opened, row["given_warn_at"] or row["warn_at"], windows)
    return due, warn


def _extension(row: dict, case: dict) -> Change:
    """The case keeps its place; its deadline and warning move (stored to the microsecond: computed again
    from the given ones, they must compare equal)."""
    lost = case["deadline_at"] - row["deadline_at"]
    return Change(row, workflow.extend_deadline(state_of(row)),
                  internal_note=f"deadline {iso(row['deadline_at'])} extended to {iso(case['deadline_at'])}: the "
                                f"platform was unavailable for {round(lost.total_seconds() / 60)} minute(s) of the "
                                "time allowed",
                  updates={"deadline_at": case["deadline_at"].isoformat(),
                           "warn_at": case["warn_at"].isoformat() if case["warn_at"] else None})


def _hop_extension(row: dict, case: dict) -> dict:
    given_warn = row["given_warn_at"] or row["warn_at"]
    return {"id": row["current_hop_id"], "due_at": case["deadline_at"].isoformat(),
            "given_due_at": (row["given_due_at"] or row["deadline_at"]).isoformat(),
            "given_warn_at": given_warn.isoformat() if given_warn else None}


# SPEC C12 ----------------------------------------------------------------------------------------------------
def revoke_inactive(session: Session, now: datetime | None = None, limit: int = STAFF_BATCH) -> int:
    """SPEC C12: 48 hours without opening the cartable, not counting outages, and access is revoked; only
    an administrator restores it. The person's open cases move to their superior's unit."""
    revoked = 0
    for retrying in (True, False):
        after = None
        while True:
            done = _batch(session, "revoke_inactive", Staff, now, retrying, _inactive,
                          _staff_claim(session, limit, after), lambda rows, now, windows: _revoke(session, rows, now,
                                                                                                   windows))
            revoked += done
            if done.claimed < limit:
                break
            after = (done.last["last_cartable_at"], done.last["id"])
    return revoked


def _inactive(now: datetime):
    return Staff.active & Staff.role.in_(org.KEEPS_A_CARTABLE) & (Staff.last_cartable_at < now - INACTIVITY_LIMIT)


def _staff_claim(session: Session, limit: int, after: tuple | None):
    """Candidates by their last opening (keyset: one run walks past those an outage keeps)."""
    def claim(now: datetime, which) -> list[dict]:
        query = (select(Staff.id, Staff.username, Staff.last_cartable_at).where(_inactive(now), which)
                 .order_by(Staff.last_cartable_at, Staff.id).limit(limit).with_for_update(skip_locked=True))
        if after is not None:
            query = query.where(tuple_(Staff.last_cartable_at, Staff.id) > after)
        return [{**row._asdict(), "since": row.last_cartable_at} for row in session.execute(query)]
    return claim


def _revoke(session: Session, rows: list[dict], now: datetime, windows: list) -> int:
    due = [row for row in rows if deadlines.extended_deadline(
        row["last_cartable_at"], row["last_cartable_at"] + INACTIVITY_LIMIT, windows) <= now]
    for row in due:
        staff.revoke(session, row["id"], INACTIVITY_REASON)
        person = session.get(Staff, row["id"])
        moved = move_cases_of(session, person.id, now)
        publish_revocation(session, person, INACTIVITY_REASON, "inactivity", now, moved)
        _log.warning("access of %s revoked for inactivity; %d case(s) moved up", person.username, moved)
    return len(due)


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
