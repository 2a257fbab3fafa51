"""The cycle worker: the payments timer, in every replica, moves each open cycle on by itself, so one cycle that
fails never stops the others (issue 17 item 3).

A cycle that fails on its own (its data, the bank refusing or unreachable, a statement that cannot be read) gets
its failure recorded on its row: how many in a row, the error, when, and when it is tried again
(cycles.retry_delay: 30 s, doubling, at most an hour). Until then every replica's worker leaves it; the others go
on. It is counted (payment_cycle_failures_total), shown (payment_cycles_failing, alert PaymentCycleFailing; the
cycle's own view), and cleared by its next run that does not fail. An infrastructure error (common.transient: the
database gone, a timeout, a lost race) is not the cycle's: nothing is recorded, and the next run tries again.
"""
from __future__ import annotations

import logging

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from common.metrics import PAYMENT_CYCLE_FAILURES
from common.transient import is_transient
from services.payments import cycle_steps, cycles
from services.payments.models import Cycle

_log = logging.getLogger(__name__)

MOVING = tuple(cycle_steps.AUTOMATIC) + tuple(cycle_steps.WITH_BANK)
ERROR_CHARS = 1000


def due(session: Session) -> list[str]:
    """The cycles the worker has steps for, less those waiting for their retry (by the database's clock)."""
    return list(session.scalars(select(Cycle.id).where(
        Cycle.stage.in_(MOVING), or_(Cycle.retry_at.is_(None), Cycle.retry_at <= text("now()"))).order_by(Cycle.id)))


def run(session: Session, bank) -> dict[str, str]:
    """Each due cycle moved on by itself: {cycle id: the stage it reached, or "failed", or "waiting"}."""
    with session.begin():
        moving = due(session)
    return {cycle_id: run_one(session, cycle_id, bank) for cycle_id in moving}


def run_one(session: Session, cycle_id: str, bank) -> str:
    try:
        stage = cycle_steps.advance(session, cycle_id, bank)
    except Exception as exc:  # noqa: BLE001 - whatever it is, it is this cycle's alone
        session.rollback()
        if is_transient(exc):
            _log.warning("cycle %s waits for the database: %s", cycle_id, exc)
            return "waiting"
        _record_failure(session, cycle_id, exc)
        return "failed"
    with session.begin():  # a run that did not fail ends the cycle's failures (one statement, usually no row)
        session.execute(text("UPDATE cycles SET failures = 0, last_error = NULL, failed_at = NULL, retry_at = NULL "
                             "WHERE id = :c AND failures > 0"), {"c": cycle_id})
    return stage


def describe(exc: BaseException) -> str:
    detail = getattr(exc, "detail", None) or str(exc)  # a ClientError's English detail, else the message
    return f"{type(exc).__name__}: {detail}"[:ERROR_CHARS]


def _record_failure(session: Session, cycle_id: str, exc: BaseException) -> None:
    error = describe(exc)
    try:
        with session.begin():
            row = session.execute(text("SELECT stage, failures FROM cycles WHERE id = :c FOR UPDATE"),
                                  {"c": cycle_id}).first()
            if row is None:
                return
            failures = row.failures + 1
            session.execute(text("""
                UPDATE cycles SET failures = :n, last_error = :error, failed_at = now(),
                                  retry_at = now() + make_interval(secs => :delay) WHERE id = :c"""),
                            {"n": failures, "error": error, "c": cycle_id,
                             "delay": cycles.retry_delay(failures).total_seconds()})
    except Exception as again:  # noqa: BLE001 - the database went away too: the next run tries the cycle again
        _log.warning("cycle %s failed (%s) and its failure could not be recorded: %s", cycle_id, error, again)
        return
    PAYMENT_CYCLE_FAILURES.labels(row.stage).inc()
    _log.error("cycle %s failed in %s (%d in a row), tried again in %s: %s", cycle_id, row.stage, failures,
               cycles.retry_delay(failures), error, exc_info=exc)
