"""Staff logins throttled per address and username, never locked; password resets that end every session,
force a new password and, for finance and administrator accounts, need a second administrator (issue 18).
Over RPC against the real broker and database."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from common.errors import Conflict, Forbidden, TooManyRequests, Unauthenticated
from services.complaints import login_throttle, staff, sweeps
from services.complaints.admin import ensure_staff
from services.complaints.demo_staff import DEMO_PASSWORD, load_demo_staff
from services.complaints.service import ComplaintsService
from tests.helpers import gateway_proxy

STRANGER, DESK, ELSEWHERE = "ip:203.0.113.66", "ip:198.51.100.10", "ip:2001:db8:5:6::/64"


@pytest.fixture
def engine(db_urls):
    load_demo_staff(db_urls["complaints"])
    engine = sa.create_engine(db_urls["complaints"])
    with Session(engine) as session, session.begin():
        ensure_staff(session, "admin.two", DEMO_PASSWORD, "مدیر سامانهٔ دوم", "admin", "hq")
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def still_clock(monkeypatch):
    """The login code's clock stands still: a try meant to come within the first one-second wait after five
    failures does, however slow the machine (tests/e2e covers the waits with the real clock)."""
    instant = datetime.now(timezone.utc)

    class Still(datetime):
        @classmethod
        def now(cls, tz=None):
            return instant if tz is not None else instant.replace(tzinfo=None)

    monkeypatch.setattr(staff, "datetime", Still)
    return instant


@pytest.fixture
def complaints(engine, container_factory, service_config):
    container_factory(ComplaintsService, service_config).start()
    with gateway_proxy("complaints", service_config) as proxy:
        yield proxy


def login(complaints, username, password=DEMO_PASSWORD, address=DESK):
    return complaints.login(username, password, address)


def refused(complaints, username, password="wrong", address=STRANGER):
    with pytest.raises((Unauthenticated, TooManyRequests, Forbidden)) as err:
        login(complaints, username, password, address)
    return err.value


def test_a_stranger_s_failures_slow_only_their_own_address_and_never_lock_the_account(complaints):
    assert [refused(complaints, "rey.head").code for _ in range(login_throttle.PAIR_FREE)] == \
        ["invalid_credentials"] * login_throttle.PAIR_FREE
    held = refused(complaints, "rey.head", DEMO_PASSWORD)  # even the right password waits, from there
    assert held.code == "too_many_attempts" and 1 <= held.retry_after <= 2 and "قفل نشده" in held.message
    assert login(complaints, "rey.head", address=DESK)["principal"]["username"] == "rey.head"  # the real user
    assert login(complaints, "rey.head", address=ELSEWHERE)["principal"]["username"] == "rey.head"


def test_unknown_and_known_usernames_get_the_same_answers_for_the_same_work(complaints, monkeypatch):
    verified = []

    class CountingHasher:
        def __init__(self, hasher):
            self.hasher = hasher

        def verify(self, hashed, password):
            verified.append(hashed)
            return self.hasher.verify(hashed, password)

        def __getattr__(self, name):
            return getattr(self.hasher, name)

    monkeypatch.setattr(staff, "_hasher", CountingHasher(staff._hasher))
    answers = {}
    for username in ("rey.expert", "no.such.user"):
        verified.clear()
        seen = [refused(complaints, username) for _ in range(login_throttle.PAIR_FREE + 1)]
        answers[username] = [(e.code, e.message if e.code == "invalid_credentials" else e.retry_after,
                              type(e).__name__) for e in seen]
        assert len(verified) == login_throttle.PAIR_FREE + 1  # one password hash per answer, throttled or not
    assert answers["rey.expert"] == answers["no.such.user"]
    assert answers["rey.expert"][-1][0] == "too_many_attempts"


def test_a_spread_out_attack_slows_new_addresses_but_not_the_user_s_usual_one(complaints):
    login(complaints, "tehran.head", address=DESK)  # the user's usual address
    for i in range(login_throttle.USERNAME_BUDGET):  # one try each from many addresses
        assert refused(complaints, "tehran.head", address=f"ip:192.0.2.{i + 1}").code == "invalid_credentials"
    assert refused(complaints, "tehran.head", address=STRANGER).code == "invalid_credentials"
    assert refused(complaints, "tehran.head", address=STRANGER).code == "too_many_attempts"  # after one
    for _ in range(login_throttle.PAIR_FREE - 1):  # the usual address keeps its five
        assert refused(complaints, "tehran.head", address=DESK).code == "invalid_credentials"
    assert login(complaints, "tehran.head", address=DESK)["principal"]["username"] == "tehran.head"


def test_the_throttle_keeps_no_username_or_address_and_held_back_logins_are_not_inactivity(complaints, engine):
    long_ago = datetime.now(timezone.utc) - timedelta(hours=47)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE staff SET last_cartable_at = :t WHERE username = 'rey.expert'"), {"t": long_ago})
    for _ in range(login_throttle.PAIR_FREE + 1):
        refused(complaints, "rey.expert")
    last = "SELECT last_cartable_at FROM staff WHERE username = 'rey.expert'"
    with engine.connect() as conn:
        assert conn.execute(sa.text(last)).scalar() == long_ago  # a stranger's wrong tries keep nobody alive
        stored = str(conn.execute(sa.text("SELECT * FROM login_failures")).all())
    assert "rey" not in stored and "203.0.113" not in stored

    assert refused(complaints, "rey.expert", DEMO_PASSWORD).code == "too_many_attempts"  # the person, held back
    with engine.connect() as conn:
        assert conn.execute(sa.text(last)).scalar() > datetime.now(timezone.utc) - timedelta(minutes=1)
    with Session(engine) as session:  # two hours on, the inactivity sweep does not revoke them
        sweeps.revoke_inactive(session, datetime.now(timezone.utc) + timedelta(hours=2))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT active FROM staff WHERE username = 'rey.expert'")).scalar() is True


def test_a_reset_ends_every_session_and_the_next_login_must_choose_a_password(complaints):
    admin = login(complaints, "admin")["principal"]
    session = login(complaints, "rey.expert")
    who = session["principal"]
    complaints.restore_access(admin, who["id"], "given-by-the-admin-1")
    with pytest.raises(Unauthenticated):
        complaints.refresh_session(session["refresh_token"])  # every refresh session ended
    with pytest.raises(Unauthenticated):
        complaints.principal(who["id"], who["credentials_version"])  # and every access token
    assert refused(complaints, "rey.expert", "given-by-the-admin-1", DESK).code == "password_change_required"
    with pytest.raises(Exception) as same:
        complaints.change_password("rey.expert", "given-by-the-admin-1", "given-by-the-admin-1", DESK)
    assert [e["field"] for e in same.value.errors] == ["new_password"]
    changed = complaints.change_password("rey.expert", "given-by-the-admin-1", "rey-chose-this-one", DESK)
    assert changed["principal"]["username"] == "rey.expert" and changed["refresh_token"]
    assert login(complaints, "rey.expert", "rey-chose-this-one")["principal"]["id"] == who["id"]
    assert refused(complaints, "rey.expert", "given-by-the-admin-1", DESK).code == "invalid_credentials"


def test_a_finance_approver_s_reset_waits_for_a_second_administrator(complaints):
    admin, second = login(complaints, "admin")["principal"], login(complaints, "admin.two")["principal"]
    approver = login(complaints, "finance.approver")
    target = approver["principal"]["id"]

    pending = complaints.restore_access(admin, target, "taken-over-by-admin")
    assert pending["state"] == "pending" and pending["requested_by"] == "admin"
    assert login(complaints, "finance.approver")["principal"]["id"] == target  # nothing changed yet
    assert complaints.refresh_session(approver["refresh_token"])  # the session goes on
    assert [r["id"] for r in complaints.password_resets(second)] == [pending["id"]]

    with pytest.raises(Forbidden) as err:
        complaints.approve_password_reset(admin, pending["id"])  # not the one who asked
    assert err.value.code == "second_admin_required"
    with pytest.raises(Forbidden):
        complaints.approve_password_reset(approver["principal"], pending["id"])  # not an administrator
    assert complaints.approve_password_reset(second, pending["id"])["id"] == target
    with pytest.raises(Conflict):
        complaints.approve_password_reset(second, pending["id"])  # once
    assert refused(complaints, "finance.approver", "taken-over-by-admin", DESK).code == "password_change_required"
    assert refused(complaints, "finance.approver", DEMO_PASSWORD, DESK).code == "invalid_credentials"


def test_one_administrator_cannot_take_over_another_to_approve_their_own_reset(complaints):
    admin, second = login(complaints, "admin")["principal"], login(complaints, "admin.two")["principal"]
    pending = complaints.restore_access(admin, second["id"], "now-i-am-admin-two")
    assert pending["state"] == "pending"  # an administrator's reset needs four eyes too
    with pytest.raises(Forbidden) as err:
        complaints.approve_password_reset(second, pending["id"])  # nor its subject
    assert err.value.code == "second_admin_required"
    with pytest.raises(Forbidden) as err:
        complaints.restore_access(admin, admin["id"], "my-own-new-password")
    assert err.value.code == "own_password_reset"
