"""The deadline sweeps, the inactivity sweep and the history chain, on the real PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import eventlet
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from common.metrics import DEADLINE_MISSES
from services.complaints import cases, history, sweeps
from services.complaints.models import Staff
from tests.service.complaints_helpers import REY, principal, refer_to_rey, register, scalar


def test_three_sweeps_side_by_side_escalate_each_overdue_case_exactly_once(engine):
    with Session(engine) as session:
        codes = register(session, 300)
        refer_to_rey(session, codes[0])
    later = scalar(engine, "SELECT max(deadline_at) FROM cases") + timedelta(seconds=1)

    def sweep():
        with Session(engine) as session:
            done = 0
            while n := sweeps.escalate_overdue(session, later, limit=20):
                done += n
            return done

    misses_before = DEADLINE_MISSES._value.get()
    workers = [eventlet.spawn(sweep) for _ in range(3)]
    counts = [w.wait() for w in workers]
    assert sum(counts) == 300 and all(counts)  # all three took part, and no case twice
    assert DEADLINE_MISSES._value.get() - misses_before == 300  # what the DeadlineMisses dashboard counts
    assert scalar(engine, "SELECT count(*) FROM deadline_misses") == 300
    assert scalar(engine, "SELECT count(DISTINCT hop_id) FROM deadline_misses") == 300
    assert scalar(engine, "SELECT count(*) FROM outbox WHERE routing_key LIKE '%case.deadline_missed%'") == 300
    assert scalar(engine, "SELECT count(*) FROM cases WHERE status = 'escalated' AND holder_unit_id = 'hq.inspection' "
                          "AND deadline_at > :t", t=later) == 300
    # the county that missed it no longer sees it (SPEC C8); the miss is on its manager's record
    assert scalar(engine, "SELECT count(*) FROM cases WHERE :u = ANY(visible_to)", u=REY) == 0
    assert scalar(engine, "SELECT count(*) FROM deadline_misses m JOIN staff s ON s.id = m.manager_id "
                          "WHERE m.unit_id = :u AND s.username = 'rey.head'", u=REY) == 1
    with Session(engine) as session:
        assert sweep() == 0 and history.verify(session) == []


def test_a_warning_goes_out_once_at_eighty_percent_of_the_time(engine):
    with Session(engine) as session:
        [code] = register(session, urgency="urgent")
        registered = scalar(engine, "SELECT registered_at FROM cases")
        assert sweeps.warn_due(session, registered + timedelta(hours=2, minutes=23)) == 0
        assert sweeps.warn_due(session, registered + timedelta(hours=2, minutes=25)) == 1
        assert sweeps.warn_due(session, registered + timedelta(hours=2, minutes=30)) == 0
        assert sweeps.escalate_overdue(session, registered + timedelta(hours=2, minutes=59)) == 0
    assert scalar(engine, "SELECT count(*) FROM outbox WHERE routing_key LIKE '%deadline_warning%'") == 1
    assert scalar(engine, "SELECT count(*) FROM case_hops WHERE warned_at IS NOT NULL") == 1


def test_staff_who_leave_the_cartable_unopened_for_48_hours_lose_access_and_their_cases_move_up(engine):
    with Session(engine) as session:
        [code] = register(session)
        refer_to_rey(session, code)
        now = scalar(engine, "SELECT now()")
        with session.begin():
            cases.cartable(session, principal(session, "rey.head"), 10, None)  # opened: stays
        session.execute(sa.update(Staff).where(Staff.username != "rey.head")
                        .values(last_cartable_at=now - timedelta(hours=1)))
        session.execute(sa.update(Staff).where(Staff.username == "rey.head")
                        .values(last_cartable_at=now - timedelta(hours=49)))
        session.commit()
        assert sweeps.revoke_inactive(session, now) == 1
        assert sweeps.revoke_inactive(session, now) == 0
    assert scalar(engine, "SELECT active FROM staff WHERE username = 'rey.head'") is False
    assert scalar(engine, "SELECT holder_unit_id FROM cases") == "prov.tehran"  # to the superior
    assert scalar(engine, "SELECT envelope->'data'->>'cases_moved' FROM outbox "
                          "WHERE routing_key LIKE '%staff.access_revoked%'") == "1"


def test_the_history_refuses_edits_and_verify_catches_one_that_got_past(engine):
    with Session(engine) as session:
        codes = register(session, 3)
        refer_to_rey(session, codes[1])
        assert history.verify(session) == []
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE case_history SET internal_note = 'nothing happened'"))
    with engine.begin() as conn:  # someone with the power to switch the trigger off
        conn.execute(sa.text("ALTER TABLE case_history DISABLE TRIGGER case_history_append_only"))
        conn.execute(sa.text("UPDATE case_history SET internal_note = 'nothing happened' "
                             "WHERE action = 'referred' AND unit_id = :u"), {"u": REY})
        conn.execute(sa.text("ALTER TABLE case_history ENABLE TRIGGER case_history_append_only"))
    with Session(engine) as session:
        problems = history.verify(session)
    assert len(problems) == 1 and codes[1] in problems[0] and "row 4" in problems[0]


def test_verify_catches_a_deleted_last_row(engine):
    with Session(engine) as session:
        [code] = register(session)
        refer_to_rey(session, code)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE case_history DISABLE TRIGGER case_history_append_only"))
        conn.execute(sa.text("DELETE FROM case_history WHERE n = (SELECT max(n) FROM case_history)"))
        conn.execute(sa.text("ALTER TABLE case_history ENABLE TRIGGER case_history_append_only"))
    with Session(engine) as session:
        problems = history.verify(session)
    assert len(problems) == 1 and "deleted" in problems[0]
