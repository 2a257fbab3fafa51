"""One-time codes (SPEC N1): issued, texted, verified once, against the real PostgreSQL; the RPCs in a
nameko container with the fake SMS operator over HTTP. Time is passed in, never slept."""
import logging
import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy.orm import Session

from common.errors import InvalidRequest
from services.notifications import otp

MOBILE = "09121234567"
CLIENT = "ip:10.1.2.3"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def session(db):
    with Session(db) as s:
        yield s


def issue(session, mobile=MOBILE, purpose="citizen_login", client=CLIENT, now=T0) -> str:
    """Issue a code and read it back from its queued SMS (the only place it is written)."""
    with session.begin():
        issued = otp.issue(session, mobile, purpose, client, now)
    with session.begin():
        body = session.execute(sa.text("SELECT body FROM sms_messages WHERE id = :id"),
                               {"id": issued.message_id}).scalar_one()
    return re.search(r"\b(\d{6})\b", body).group(1)


def verify(session, code, mobile=MOBILE, purpose="citizen_login", now=T0) -> bool:
    with session.begin():
        return otp.verify(session, mobile, purpose, code, now)


def other_than(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def test_a_code_is_texted_stored_only_as_an_hmac_and_good_once(session, db):
    code = issue(session)
    with db.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM one_time_codes")).mappings().one()
        sms = conn.execute(sa.text("SELECT recipient, template, cause_source, cause_type, cause_id "
                                   "FROM sms_messages")).mappings().one()
    assert code not in str(dict(row))
    assert row["code_hash"] == otp.code_hash(row["id"], MOBILE, "citizen_login", code)
    assert (row["state"], row["attempts"]) == ("live", 0)
    assert row["expires_at"] - row["created_at"] == timedelta(minutes=2)
    assert dict(sms) == {"recipient": MOBILE, "template": "one_time_code.citizen",
                         "cause_source": "/behzisti/notifications", "cause_type": "otp", "cause_id": str(row["id"])}

    assert verify(session, code, now=T0 + timedelta(seconds=30)) is True
    assert verify(session, code, now=T0 + timedelta(seconds=31)) is False  # used
    assert verify(session, code, purpose="beneficiary_login") is False  # for its own purpose only
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT state FROM one_time_codes")).scalar() == "used"


def test_a_code_never_waits_out_the_quiet_hours(session, db, monkeypatch):
    from common.config import get_settings

    monkeypatch.setattr(get_settings(), "quiet_hours", "00:00-23:59")  # quiet all day long
    issue(session)
    with db.connect() as conn:
        urgent, waits = conn.execute(sa.text("SELECT urgent, next_attempt_at > now() + interval '1 minute' "
                                             "FROM sms_messages")).one()
    assert urgent is True and waits is False


def test_a_code_is_good_for_its_own_purpose_and_mobile_only(session):
    code = issue(session)
    assert verify(session, code, purpose="beneficiary_login") is False
    assert verify(session, code, mobile="09351234567") is False
    assert verify(session, code) is True


def test_a_code_expires_after_two_minutes(session):
    code = issue(session)
    assert verify(session, code, now=T0 + otp.CODE_LIFETIME) is False
    assert verify(session, code, now=T0 + timedelta(seconds=10)) is False  # an expired code stays dead

    fresh = issue(session, now=T0 + timedelta(minutes=3))
    assert verify(session, fresh, now=T0 + timedelta(minutes=3) + otp.CODE_LIFETIME - timedelta(seconds=1)) is True


def test_five_wrong_tries_end_a_code(session, db):
    code = issue(session)
    for _ in range(otp.MAX_ATTEMPTS - 1):
        assert verify(session, other_than(code)) is False
    assert verify(session, code) is True  # the fifth try may still be the right one

    code = issue(session, now=T0 + timedelta(seconds=1))
    for _ in range(otp.MAX_ATTEMPTS):
        assert verify(session, other_than(code)) is False
    assert verify(session, code) is False  # dead after five wrong ones
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT state, attempts FROM one_time_codes ORDER BY created_at DESC")
                            ).first() == ("dead", otp.MAX_ATTEMPTS)


def test_a_newer_code_replaces_the_last(session, db, monkeypatch):
    codes = iter(["111111", "222222"])
    monkeypatch.setattr(otp, "new_code", lambda: next(codes))
    first = issue(session)
    second = issue(session, now=T0 + timedelta(seconds=20))
    assert verify(session, first, now=T0 + timedelta(seconds=21)) is False
    assert verify(session, second, now=T0 + timedelta(seconds=22)) is True
    with db.connect() as conn:
        states = conn.execute(sa.text("SELECT state FROM one_time_codes ORDER BY created_at")).scalars().all()
    assert states == ["replaced", "used"]


def test_a_new_code_for_another_purpose_leaves_the_first_alone(session):
    login = issue(session, purpose="citizen_login")
    issue(session, purpose="beneficiary_login", now=T0 + timedelta(seconds=5))
    assert verify(session, login, now=T0 + timedelta(seconds=6)) is True


def test_three_codes_per_mobile_in_ten_minutes(session, db):
    for i in range(otp.PER_MOBILE):  # the purposes count together: each is an SMS to the same person
        issue(session, purpose=("citizen_login", "beneficiary_login")[i % 2], now=T0 + timedelta(minutes=i))
    with pytest.raises(otp.TooManyRequests) as refused:
        issue(session, now=T0 + timedelta(minutes=5))
    assert refused.value.code == "too_many_codes" and "شماره" in refused.value.message
    assert refused.value.retry_after == 5 * 60 + 1  # until the first code leaves the window
    issue(session, mobile="09351234567", now=T0 + timedelta(minutes=5))  # another mobile has its own
    issue(session, now=T0 + timedelta(minutes=10, seconds=1))  # the first code left the window
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM sms_messages")).scalar() == otp.PER_MOBILE + 2


def test_twenty_codes_per_client_in_ten_minutes(session):
    for i in range(otp.PER_CLIENT):
        issue(session, mobile=f"0912000{i:04d}", now=T0 + timedelta(seconds=i))
    with pytest.raises(otp.TooManyRequests) as refused:
        issue(session, mobile="09129999999", now=T0 + timedelta(minutes=1))
    assert refused.value.retry_after > 0 and "client" in refused.value.detail
    issue(session, mobile="09129999999", client="ip:10.9.9.9", now=T0 + timedelta(minutes=1))


@pytest.fixture
def rpc(notifications, service_config):
    with ServiceRpcProxy("notifications", service_config) as proxy:
        yield proxy


def test_the_code_reaches_the_operator_and_verifies_once_over_rpc(rpc, sms_operator, db):
    answer = rpc.issue_code("۰۹۱۲ ۱۲۳ ۴۵۶۷", "citizen_login", CLIENT)
    assert answer == {"expires_in": 120, "sent_to": "0912***4567"}
    [sms] = sms_operator.operator.messages
    assert sms["receptor"] == MOBILE and "کد ورود" in sms["message"]
    code = re.search(r"\b(\d{6})\b", sms["message"]).group(1)
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM sms_messages")).scalar() == "sent"

    persian = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert rpc.verify_code(MOBILE, "citizen_login", persian) == {"verified": True}
    assert rpc.verify_code(MOBILE, "citizen_login", code) == {"verified": False}


def test_the_rate_limit_crosses_rpc_with_when_to_retry(rpc):
    for _ in range(otp.PER_MOBILE):
        rpc.issue_code(MOBILE, "citizen_login", CLIENT)
    with pytest.raises(otp.TooManyRequests) as refused:
        rpc.issue_code(MOBILE, "citizen_login", CLIENT)
    assert refused.value.code == "too_many_codes" and 0 < refused.value.retry_after <= 601


def test_bad_input_is_refused_in_persian(rpc):
    with pytest.raises(InvalidRequest) as bad:
        rpc.issue_code("12345", "citizen_login", CLIENT)
    assert [e["field"] for e in bad.value.errors] == ["mobile"] and "همراه" in bad.value.errors[0]["message"]
    with pytest.raises(InvalidRequest) as bad:
        rpc.issue_code(MOBILE, "staff_login", CLIENT)
    assert [e["field"] for e in bad.value.errors] == ["purpose"]
    with pytest.raises(InvalidRequest) as bad:
        rpc.verify_code(MOBILE, "citizen_login", "12a456")
    assert [e["field"] for e in bad.value.errors] == ["code"] and bad.value.errors[0]["message"] == "کد تأیید باید ۶ رقم باشد."


def test_the_code_and_its_hash_never_reach_the_logs(rpc, sms_operator, db, caplog, monkeypatch):
    codes = ["804317", "593062"]
    issued = iter(codes)
    monkeypatch.setattr(otp, "new_code", lambda: next(issued))
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.WARNING, logger="sqlalchemy")  # SQL echo shows every bound value by design
    sms_operator.operator.control["fail_next"] = 1  # a failed attempt is logged too
    rpc.issue_code(MOBILE, "citizen_login", CLIENT)
    rpc.issue_code(MOBILE, "citizen_login", CLIENT)  # replaces the first
    assert any(codes[1] in m["message"] for m in sms_operator.operator.messages)
    assert rpc.verify_code(MOBILE, "citizen_login", codes[0]) == {"verified": False}
    assert rpc.verify_code(MOBILE, "citizen_login", codes[1]) == {"verified": True}
    with db.connect() as conn:
        hashes = conn.execute(sa.text("SELECT code_hash FROM one_time_codes")).scalars().all()
    assert any("will retry" in r.getMessage() for r in caplog.records)  # the logs were captured
    logged = caplog.text + "".join(f"{r.args!r}{r.__dict__!r}" for r in caplog.records)
    assert not any(code in logged for code in codes)
    assert not any(h in logged for h in hashes)
