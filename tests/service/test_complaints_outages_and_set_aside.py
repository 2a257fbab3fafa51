"""Issue 17, items 5 and 6, on the real PostgreSQL: one bad row never stops a sweep (it is set aside with
its error, visible, counted, tried again), outages do not count against people (deadlines and inactivity
are extended by the windows they ran through), and the sweeps take their time from the database's clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from tests.helpers import gateway_proxy
from sqlalchemy.orm import Session

from common.errors import Forbidden, InvalidRequest, NotFound
from common.metrics import DEADLINE_MISSES, OUTAGES_DETECTED, SWEEP_ROWS_FAILED, SWEEP_ROWS_SET_ASIDE
from services.complaints import history, outages, sweeps
from services.complaints.models import Staff
from services.complaints.service import ComplaintsService
from tests.service.complaints_helpers import principal, register, scalar


@pytest.fixture
def poison(engine):
    """poison(code): every history row written for that case fails (a row that fails on write)."""
    codes = []
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE poisoned_cases (tracking_code text PRIMARY KEY)"))
        conn.execute(sa.text(
            "CREATE FUNCTION poison_history() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF EXISTS (SELECT 1 FROM poisoned_cases p JOIN cases c ON c.tracking_code = p.tracking_code "
            "WHERE c.id = NEW.case_id) THEN RAISE EXCEPTION 'poisoned row of case %', NEW.case_id; END IF; "
            "RETURN NEW; END $$"))
        conn.execute(sa.text("CREATE TRIGGER poison_history BEFORE INSERT ON case_history "
                             "FOR EACH ROW EXECUTE FUNCTION poison_history()"))

    def add(code):
        codes.append(code)
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO poisoned_cases VALUES (:c)"), {"c": code})

    add.cure = lambda: _cure(engine)
    yield add
    _cure(engine)


def _cure(engine):
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER IF EXISTS poison_history ON case_history"))
        conn.execute(sa.text("DROP FUNCTION IF EXISTS poison_history()"))
        conn.execute(sa.text("DROP TABLE IF EXISTS poisoned_cases"))


def db_now(engine):
    return scalar(engine, "SELECT now()")


def misses_of(engine, code):
    return scalar(engine, "SELECT count(*) FROM deadline_misses m JOIN cases c ON c.id = m.case_id "
                          "WHERE c.tracking_code = :c", c=code)


def set_aside(engine):
    with engine.connect() as conn:
        return {r.tracking_code: r for r in conn.execute(sa.text(
            "SELECT c.tracking_code, f.* FROM sweep_failures f JOIN cases c ON c.id = f.subject_id "
            "WHERE f.sweep = 'escalate_overdue'"))}


# item 5: no head-of-line blocking --------------------------------------------------------------------------
def test_a_poisoned_case_is_set_aside_with_its_error_and_every_other_case_is_escalated_exactly_once(engine, poison):
    with Session(engine) as session:
        codes = register(session, 40)
    wrong_state, fails_on_write = codes[0], codes[1]
    # the two bad ones are the first any claim takes (earliest deadlines): without isolation every batch
    # would claim them again and fail, forever
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE cases SET deadline_at = deadline_at - interval '1 hour' "
                             "WHERE tracking_code = ANY(:c)"), {"c": [wrong_state, fails_on_write]})
        # a case whose row says it is answered while its hop is still open: the transition refuses it
        conn.execute(sa.text("UPDATE cases SET status = 'answered' WHERE tracking_code = :c"), {"c": wrong_state})
    poison(fails_on_write)
    later = scalar(engine, "SELECT max(deadline_at) FROM cases") + timedelta(seconds=1)
    misses_before, failed_before = DEADLINE_MISSES._value.get(), SWEEP_ROWS_FAILED.labels("escalate_overdue")._value.get()

    with Session(engine) as session:
        escalated, batches = 0, 0
        while batches < 20:  # a stuck sweep would claim the same two rows each time and never finish
            batches += 1
            done = sweeps.escalate_overdue(session, later, limit=7)
            escalated += done
            if done.claimed < 7:
                break
        assert escalated == 38 and batches == 6  # 40 cases, 2 set aside in the first batch, 38 in batches of 7
        assert sweeps.run_until_done(sweeps.escalate_overdue, session, later) == 0  # nothing left, nothing twice

    assert DEADLINE_MISSES._value.get() - misses_before == 38
    assert SWEEP_ROWS_FAILED.labels("escalate_overdue")._value.get() - failed_before == 2
    assert scalar(engine, "SELECT count(*) FROM deadline_misses") == 38
    assert scalar(engine, "SELECT count(DISTINCT case_id) FROM deadline_misses") == 38
    assert scalar(engine, "SELECT count(*) FROM outbox WHERE routing_key LIKE '%case.deadline_missed%'") == 38
    assert misses_of(engine, wrong_state) == misses_of(engine, fails_on_write) == 0

    aside = set_aside(engine)
    assert set(aside) == {wrong_state, fails_on_write}
    assert "wrong_stage" in aside[wrong_state].error and "answered" in aside[wrong_state].error
    assert "poisoned row of case" in aside[fails_on_write].error
    for row in aside.values():
        assert row.attempts == 1 and row.first_failed_at == row.last_failed_at == later
        assert row.retry_at == later + timedelta(hours=1)

    with Session(engine) as session:  # visible to operators: the listing, the gauge
        with session.begin():
            listed = sweeps.failures(session)
        assert {(f["sweep"], f["subject"]) for f in listed} == {("escalate_overdue", wrong_state),
                                                                 ("escalate_overdue", fails_on_write)}
        assert all(f["error"] and f["retry_at"]["iso"] for f in listed)
        assert sweeps.refresh_set_aside_gauge(session) == {"escalate_overdue": 2}
    assert SWEEP_ROWS_SET_ASIDE.labels("escalate_overdue")._value.get() == 2
    assert SWEEP_ROWS_SET_ASIDE.labels("warn_due")._value.get() == 0

    # the cause of one is fixed and an administrator asks for it again: it goes through at the next run, once
    poison.cure()
    with Session(engine) as session:
        with session.begin():
            admin = principal(session, "admin")
            retried = sweeps.retry_now(session, admin, "escalate_overdue", str(aside[fails_on_write].subject_id))
        assert retried["attempts"] == 1 and retried["subject"] == fails_on_write
        assert sweeps.run_until_done(sweeps.escalate_overdue, session, later) == 1
    assert misses_of(engine, fails_on_write) == 1 and set(set_aside(engine)) == {wrong_state}

    # the other, still broken, is tried again by itself once its hour is up, fails, and waits twice as long
    with Session(engine) as session:
        assert sweeps.run_until_done(sweeps.escalate_overdue, session, later + timedelta(minutes=59)) == 0
        assert set_aside(engine)[wrong_state].attempts == 1  # not yet due: not even tried
        assert sweeps.run_until_done(sweeps.escalate_overdue, session, later + timedelta(hours=1)) == 0
    again = set_aside(engine)[wrong_state]
    assert again.attempts == 2 and again.first_failed_at == later
    assert again.retry_at == later + timedelta(hours=1) + timedelta(hours=2)

    # someone puts the case right (it really was answered: its hop closed, no deadline): it leaves the table
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE cases SET deadline_at = NULL, warn_at = NULL WHERE tracking_code = :c"),
                     {"c": wrong_state})
    with Session(engine) as session:
        assert sweeps.run_until_done(sweeps.escalate_overdue, session, later + timedelta(hours=4)) == 0
        assert sweeps.refresh_set_aside_gauge(session) == {}
        assert sweeps.failures(session) == [] and history.verify(session) == []
    assert SWEEP_ROWS_SET_ASIDE.labels("escalate_overdue")._value.get() == 0
    assert scalar(engine, "SELECT max(n) FROM (SELECT count(*) AS n FROM deadline_misses GROUP BY case_id) m") == 1


def test_a_staff_member_whose_revocation_fails_is_set_aside_and_the_others_are_revoked(engine):
    with engine.begin() as conn:
        now = conn.execute(sa.text("SELECT now()")).scalar()
        conn.execute(sa.update(Staff).values(last_cartable_at=now - timedelta(hours=1)))
        conn.execute(sa.update(Staff).where(Staff.username.in_(["rey.head", "rey.expert", "shemiranat.expert"]))
                     .values(last_cartable_at=now - timedelta(hours=50)))
        # revoking rey.expert fails on write: its revocation event cannot be stored
        conn.execute(sa.text(
            "CREATE FUNCTION refuse_revocation() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.envelope->'data'->>'username' = 'rey.expert' THEN RAISE EXCEPTION 'cannot store this event'; "
            "END IF; RETURN NEW; END $$"))
        conn.execute(sa.text("CREATE TRIGGER refuse_revocation BEFORE INSERT ON outbox FOR EACH ROW "
                             "EXECUTE FUNCTION refuse_revocation()"))
    try:
        with Session(engine) as session:
            assert sweeps.revoke_inactive(session) == 2
            assert sweeps.revoke_inactive(session) == 0  # the one set aside is not taken again
            [failure] = sweeps.failures(session)
        assert failure["sweep"] == "revoke_inactive" and failure["subject"] == "rey.expert"
        assert "cannot store this event" in failure["error"]
        with engine.connect() as conn:
            active = dict(conn.execute(sa.text("SELECT username, active FROM staff WHERE username IN "
                                               "('rey.head', 'rey.expert', 'shemiranat.expert')")).all())
        assert active == {"rey.head": False, "rey.expert": True, "shemiranat.expert": False}
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TRIGGER IF EXISTS refuse_revocation ON outbox"))
            conn.execute(sa.text("DROP FUNCTION IF EXISTS refuse_revocation()"))


# item 6: outages do not count against people ------------------------------------------------------------------
def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def test_a_deadline_that_ran_through_an_outage_is_extended_and_the_case_escalated_once_after_it(engine):
    with Session(engine) as session:
        [code, untouched, late_anyway] = register(session, 3)
    now = db_now(engine)
    # the first hop was opened 30 hours ago for 24 hours: its deadline passed 6 hours ago
    with engine.begin() as conn:
        for c, opened in ((code, now - hours(30)), (untouched, now - hours(60)), (late_anyway, now - hours(40))):
            conn.execute(sa.text(
                "UPDATE case_hops SET opened_at = :o, due_at = :o + interval '24 hours' "
                "WHERE id = (SELECT current_hop_id FROM cases WHERE tracking_code = :c)"), {"o": opened, "c": c})
            conn.execute(sa.text("UPDATE cases SET deadline_at = :o + interval '24 hours', "
                                 "warn_at = :o + interval '19 hours 12 minutes' WHERE tracking_code = :c"),
                         {"o": opened, "c": c})
    given = now - hours(6)
    with Session(engine) as session, session.begin():  # 9 hours down, 28 to 19 hours ago (recorded afterwards)
        admin = principal(session, "admin")
        window = outages.record_by_operator(session, admin, now - hours(28), now - hours(19), "قطع برق مرکز داده")
    assert window["source"] == "operator" and window["recorded_by"] == "admin" and window["minutes"] == 540

    with Session(engine) as session:
        # a deadline that passed (36 hours ago) before the window began is not moved: escalated;
        # one that passed 16 hours ago moves by the 9 hours, to 7 hours ago: escalated against that, at once
        assert sweeps.run_until_done(sweeps.escalate_overdue, session) == 2
    assert misses_of(engine, untouched) == misses_of(engine, late_anyway) == 1 and misses_of(engine, code) == 0
    with engine.connect() as conn:
        missed = {r.tracking_code: r for r in conn.execute(sa.text(
            "SELECT c.tracking_code, m.due_at, h.due_at AS hop_due, h.given_due_at FROM deadline_misses m "
            "JOIN cases c ON c.id = m.case_id JOIN case_hops h ON h.id = m.hop_id"))}
    assert missed[untouched].due_at == missed[untouched].hop_due == now - hours(36)
    assert missed[untouched].given_due_at is None
    assert missed[late_anyway].due_at == missed[late_anyway].hop_due == now - hours(7)
    assert missed[late_anyway].given_due_at == now - hours(16)
    extended = given + hours(9)
    with engine.connect() as conn:
        case = conn.execute(sa.text("SELECT c.deadline_at, c.warn_at, c.status, h.due_at, h.given_due_at, "
                                    "h.given_warn_at FROM cases c JOIN case_hops h ON h.id = c.current_hop_id "
                                    "WHERE c.tracking_code = :c"), {"c": code}).one()
        notes = conn.execute(sa.text("SELECT h.action, h.internal_note FROM case_history h JOIN cases c "
                                     "ON c.id = h.case_id WHERE c.tracking_code = :c ORDER BY n"), {"c": code}).all()
    assert case.status == "registered" and case.deadline_at == case.due_at == extended
    assert case.given_due_at == given and case.given_warn_at == now - hours(30) + hours(19.2)
    assert case.warn_at == now - hours(30) + hours(19.2) + hours(9)  # the warning moved by as much
    assert notes[-1].action == "deadline_extended" and "540 minute(s)" in notes[-1].internal_note

    with Session(engine) as session:
        assert sweeps.warn_due(session) == 1 and sweeps.warn_due(session) == 0  # the moved warning is due now
        assert sweeps.escalate_overdue(session, extended - timedelta(seconds=1)) == 0
        assert sweeps.escalate_overdue(session, extended) == 1
        assert sweeps.run_until_done(sweeps.escalate_overdue, session, extended + hours(1)) == 0
        assert history.verify(session) == []
    assert misses_of(engine, code) == 1
    assert scalar(engine, "SELECT m.due_at FROM deadline_misses m JOIN cases c ON c.id = m.case_id "
                          "WHERE c.tracking_code = :c", c=code) == extended  # the manager missed the extended one
    with Session(engine) as session, session.begin():  # a later window recorded again changes nothing twice
        outages.record_by_operator(session, admin, now - hours(28), now - hours(19), "ثبت دوباره")
    with Session(engine) as session:
        assert sweeps.run_until_done(sweeps.escalate_overdue, session, extended + hours(2)) == 0


def test_the_platform_records_its_own_outage_and_deadlines_in_it_wait_for_the_time_lost(engine):
    with Session(engine) as session:
        [code] = register(session)
    now = db_now(engine)
    # the sweep's last pulse was 10 minutes ago; the hop's deadline fell 5 minutes ago, inside the silence
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO sweep_pulses (name, last_at) VALUES (:n, :t)"),
                     {"n": outages.DEADLINE_PULSE, "t": now - timedelta(minutes=10)})
        conn.execute(sa.text("UPDATE case_hops SET opened_at = :o WHERE id = (SELECT current_hop_id FROM cases "
                             "WHERE tracking_code = :c)"), {"o": now - hours(24) - timedelta(minutes=5), "c": code})
        conn.execute(sa.text("UPDATE cases SET deadline_at = :d, warn_at = NULL WHERE tracking_code = :c"),
                     {"d": now - timedelta(minutes=5), "c": code})
    detected_before = OUTAGES_DETECTED._value.get()
    with Session(engine) as session:
        window = outages.pulse(session, outages.DEADLINE_PULSE, timedelta(seconds=15))
        assert outages.pulse(session, outages.DEADLINE_PULSE, timedelta(seconds=15)) is None  # once
        assert window[0] == now - timedelta(minutes=10) and window[1] > now
        assert sweeps.run_until_done(sweeps.escalate_overdue, session) == 0
    assert OUTAGES_DETECTED._value.get() - detected_before == 1
    assert scalar(engine, "SELECT count(*) FROM outage_windows WHERE source = 'detected' AND recorded_by IS NULL") == 1
    # 5 minutes of its time were left when the platform went silent: they count from the silence's end
    extended = window[1] + timedelta(minutes=5)
    assert scalar(engine, "SELECT deadline_at FROM cases WHERE tracking_code = :c", c=code) == extended
    with Session(engine) as session:
        assert sweeps.escalate_overdue(session, extended - timedelta(seconds=1)) == 0
        assert sweeps.escalate_overdue(session, extended) == 1
        assert sweeps.escalate_overdue(session, extended + hours(1)) == 0
    assert misses_of(engine, code) == 1
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):  # what was recorded stays recorded
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM outage_windows"))


def test_a_staff_member_inactive_across_an_outage_is_not_revoked_until_48_hours_of_the_platform_up(engine):
    now = db_now(engine)
    with engine.begin() as conn:
        conn.execute(sa.update(Staff).values(last_cartable_at=now - hours(1)))
        conn.execute(sa.update(Staff).where(Staff.username.in_(["rey.head", "rey.expert"]))
                     .values(last_cartable_at=now - hours(49)))
    with Session(engine) as session, session.begin():
        outages.record_by_operator(session, principal(session, "admin"), now - hours(30), now - hours(27),
                                   "قطع سراسری اینترنت")
    with Session(engine) as session:
        assert sweeps.revoke_inactive(session, limit=1) == 0  # both claimed, one batch each, neither revoked
        assert sweeps.revoke_inactive(session, now + hours(2) - timedelta(seconds=1)) == 0  # 47:59:59 up
        assert sweeps.revoke_inactive(session, now + hours(2)) == 2
    assert scalar(engine, "SELECT count(*) FROM staff WHERE NOT active") == 2
    assert scalar(engine, "SELECT count(*) FROM outbox WHERE routing_key LIKE '%staff.access_revoked%'") == 2


# every sweep uses the database's clock ---------------------------------------------------------------------------
def test_the_sweeps_take_their_time_from_the_database_not_from_the_replica(engine):
    with Session(engine) as session:
        [code] = register(session)
    with engine.connect() as conn:
        outer = conn.begin()
        db_clock = conn.execute(sa.text("SELECT now()")).scalar()  # this transaction's clock stays here
        with engine.begin() as other:  # committed after that moment: the deadline and 48 hours pass now
            deadline = other.execute(sa.text(
                "UPDATE cases SET deadline_at = clock_timestamp(), warn_at = NULL WHERE tracking_code = :c "
                "RETURNING deadline_at"), {"c": code}).scalar()
            other.execute(sa.update(Staff).values(last_cartable_at=sa.text("clock_timestamp() - interval '1 hour'")))
            other.execute(sa.update(Staff).where(Staff.username == "rey.head")
                          .values(last_cartable_at=sa.text("clock_timestamp() - interval '48 hours'")))
        assert db_clock < deadline < datetime.now(timezone.utc)  # by this replica's clock both are due
        with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
            assert sweeps.escalate_overdue(session) == 0
            assert sweeps.revoke_inactive(session) == 0
            assert outages.pulse(session, outages.DEADLINE_PULSE, timedelta(seconds=15)) is None
            assert session.scalar(sa.text("SELECT last_at FROM sweep_pulses")) == db_clock
        outer.rollback()
    before = db_now(engine)
    with Session(engine) as session:
        assert sweeps.escalate_overdue(session) == 1 and sweeps.revoke_inactive(session) == 1
    after = db_now(engine)
    detected = scalar(engine, "SELECT detected_at FROM deadline_misses")
    revoked_at = scalar(engine, "SELECT (envelope->'data'->>'at')::timestamptz FROM outbox "
                                "WHERE routing_key LIKE '%staff.access_revoked%'")
    assert before <= detected <= after
    assert before.replace(microsecond=0) <= revoked_at <= after  # the event's time is to the second


# operators: the RPCs behind the gateway's routes -----------------------------------------------------------------
@pytest.fixture
def complaints(container_factory, service_config, engine):
    container = container_factory(ComplaintsService, service_config)
    container.start()
    with gateway_proxy("complaints", service_config) as proxy:
        yield proxy


def test_administrators_record_outages_once_per_key_and_see_what_the_sweeps_set_aside(complaints, engine):
    with Session(engine) as session:
        admin, county = principal(session, "admin"), principal(session, "rey.head")
    now = db_now(engine)
    body = {"starts_at": (now - hours(3)).isoformat(), "ends_at": (now - hours(1)).isoformat(),
            "reason": "به‌روزرسانی پایگاه داده بیش از برنامه طول کشید"}
    with pytest.raises(Forbidden):
        complaints.record_outage(county, body)
    with pytest.raises(InvalidRequest) as refused:
        complaints.record_outage(admin, {**body, "ends_at": (now + hours(1)).isoformat()})
    assert refused.value.errors[0]["code"] == "in_future"
    with pytest.raises(InvalidRequest) as refused:
        complaints.record_outage(admin, {**body, "ends_at": body["starts_at"]})
    assert refused.value.errors[0]["code"] == "ends_before_start"
    key = {"client": f"staff:{admin['id']}", "key": "6a0f1c8e-outage"}
    first = complaints.record_outage(admin, body, key)
    assert complaints.record_outage(admin, body, key) == first  # a retry with its key: one window
    assert scalar(engine, "SELECT count(*) FROM outage_windows") == 1
    assert scalar(engine, "SELECT recorded_by::text FROM outage_windows") == admin["id"]  # who, when, why: kept
    assert first["minutes"] == 120 and first["reason"] == body["reason"] and first["recorded_by"] == "admin"
    assert [w["id"] for w in complaints.list_outages(county)] == [first["id"]]  # managers see why deadlines moved

    assert complaints.list_sweep_failures(admin) == []
    with pytest.raises(Forbidden):
        complaints.list_sweep_failures(county)
    with pytest.raises(NotFound):
        complaints.retry_sweep_failure(admin, "escalate_overdue", "not-a-uuid")
    with pytest.raises(NotFound):
        complaints.retry_sweep_failure(admin, "escalate_overdue", county["id"])
