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
from services.notifications import code_text, otp

MOBILE = "09121234567"
CLIENT = "ip:10.1.2.3"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def session(db):
    with Session(db) as s:
        yield s


def issue(session, mobile=MOBILE, purpose="beneficiary_login", client=CLIENT, now=T0) -> str:
    """Issue a code; it is written nowhere (its SMS is stored masked), so derive it as the sender does."""
    with session.begin():
        issued = otp.issue(session, mobile, purpose, client, now)
    with session.begin():
        body = session.execute(sa.text("SELECT body FROM sms_messages WHERE id = :id"),
                               {"id": issued.message_id}).scalar_one()
    code = code_text.code_for(issued.id)
    assert code_text.CODE_MASK in body and code not in body
    return code


def pin_codes(monkeypatch, *codes):
    """The codes of the next rows, in order (each row's code stays the same when asked again)."""
    given, pinned = iter(codes), {}

    def code_for(code_id):
        if code_id not in pinned:
            pinned[code_id] = next(given)
        return pinned[code_id]
    monkeypatch.setattr(code_text, "code_for", code_for)


def verify(session, code, mobile=MOBILE, purpose="beneficiary_login", now=T0) -> bool:
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
    assert row["code_hash"] == otp.code_hash(row["id"], MOBILE, "beneficiary_login", code)
    assert (row["state"], row["attempts"]) == ("live", 0)
    assert row["expires_at"] - row["created_at"] == timedelta(minutes=2)
    assert dict(sms) == {"recipient": MOBILE, "template": "one_time_code.citizen",
                         "cause_source": "/behzisti/notifications", "cause_type": "otp", "cause_id": str(row["id"])}

    assert verify(session, code, now=T0 + timedelta(seconds=30)) is True
    assert verify(session, code, now=T0 + timedelta(seconds=31)) is False  # used
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
    assert verify(session, code, purpose="citizen_login") is False
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
    pin_codes(monkeypatch, "111111", "222222")
    first = issue(session)
    second = issue(session, now=T0 + timedelta(seconds=20))
    assert verify(session, first, now=T0 + timedelta(seconds=21)) is False
    assert verify(session, second, now=T0 + timedelta(seconds=22)) is True
    with db.connect() as conn:
        states = conn.execute(sa.text("SELECT state FROM one_time_codes ORDER BY created_at")).scalars().all()
    assert states == ["replaced", "used"]


def test_three_codes_per_mobile_in_ten_minutes(session, db):
    for i in range(otp.PER_MOBILE):  # each is an SMS to the same person
        issue(session, now=T0 + timedelta(minutes=i))
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
    answer = rpc.issue_code("۰۹۱۲ ۱۲۳ ۴۵۶۷", "beneficiary_login", CLIENT)
    assert answer == {"expires_in": 120, "sent_to": "0912***4567"}
    [sms] = sms_operator.operator.messages
    assert sms["receptor"] == MOBILE and "کد ورود" in sms["message"]
    code = re.search(r"\b(\d{6})\b", sms["message"]).group(1)
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM sms_messages")).scalar() == "sent"

    persian = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert rpc.verify_code(MOBILE, "beneficiary_login", persian) == {"verified": True}
    assert rpc.verify_code(MOBILE, "beneficiary_login", code) == {"verified": False}


def test_the_rate_limit_crosses_rpc_with_when_to_retry(rpc):
    for _ in range(otp.PER_MOBILE):
        rpc.issue_code(MOBILE, "beneficiary_login", CLIENT)
    with pytest.raises(otp.TooManyRequests) as refused:
        rpc.issue_code(MOBILE, "beneficiary_login", CLIENT)
    assert refused.value.code == "too_many_codes" and 0 < refused.value.retry_after <= 601


def test_bad_input_is_refused_in_persian(rpc):
    with pytest.raises(InvalidRequest) as bad:
        rpc.issue_code("12345", "beneficiary_login", CLIENT)
    assert [e["field"] for e in bad.value.errors] == ["mobile"] and "همراه" in bad.value.errors[0]["message"]
    for purpose in ("staff_login", "citizen_login"):  # citizen_login was texted by a public route, used by nothing
        with pytest.raises(InvalidRequest) as bad:
            rpc.issue_code(MOBILE, purpose, CLIENT)
        assert [e["field"] for e in bad.value.errors] == ["purpose"]
    with pytest.raises(InvalidRequest) as bad:
        rpc.verify_code(MOBILE, "beneficiary_login", "12a456")
    assert [e["field"] for e in bad.value.errors] == ["code"] and bad.value.errors[0]["message"] == "کد تأیید باید ۶ رقم باشد."


def test_the_code_and_its_hash_never_reach_the_logs(rpc, sms_operator, db, caplog, monkeypatch):
    codes = ["804317", "593062"]
    pin_codes(monkeypatch, *codes)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.WARNING, logger="sqlalchemy")  # SQL echo shows every bound value by design
    sms_operator.operator.control["fail_next"] = 1  # a failed attempt is logged too
    rpc.issue_code(MOBILE, "beneficiary_login", CLIENT)
    rpc.issue_code(MOBILE, "beneficiary_login", CLIENT)  # replaces the first
    assert any(codes[1] in m["message"] for m in sms_operator.operator.messages)
    assert rpc.verify_code(MOBILE, "beneficiary_login", codes[0]) == {"verified": False}
    assert rpc.verify_code(MOBILE, "beneficiary_login", codes[1]) == {"verified": True}
    with db.connect() as conn:
        hashes = conn.execute(sa.text("SELECT code_hash FROM one_time_codes")).scalars().all()
    assert any("will retry" in r.getMessage() for r in caplog.records)  # the logs were captured
    logged = caplog.text + "".join(f"{r.args!r}{r.__dict__!r}" for r in caplog.records)
    assert not any(code in logged for code in codes)
    assert not any(h in logged for h in hashes)


def test_ten_wrong_tries_a_day_and_a_mobile_gets_no_more_codes_until_they_age_out(session, db):
    for i in range(otp.MAX_FAILED_PER_DAY // otp.MAX_ATTEMPTS):  # two codes, each tried five times wrong
        at = T0 + timedelta(minutes=11 * i)
        code = issue(session, now=at)
        for _ in range(otp.MAX_ATTEMPTS):
            assert verify(session, other_than(code), now=at) is False
    later = T0 + timedelta(hours=3)
    with pytest.raises(otp.TooManyRequests) as refused:
        issue(session, now=later)
    assert refused.value.code == "too_many_failed_codes" and "امروز" in refused.value.message
    assert refused.value.retry_after == int((T0 + otp.DAY - later).total_seconds()) + 1
    with db.connect() as conn:  # nothing was written for the refused request: no row, no SMS
        assert conn.execute(sa.text("SELECT count(*) FROM one_time_codes")).scalar() == 2
        assert conn.execute(sa.text("SELECT count(*) FROM sms_messages")).scalar() == 2
    another = issue(session, mobile="09351234567", now=later)  # another mobile is not touched
    assert verify(session, another, mobile="09351234567", now=later) is True

    nextday = T0 + otp.DAY + timedelta(minutes=1)  # the first code's five wrong tries left the window
    assert verify(session, issue(session, now=nextday), now=nextday) is True


def test_a_right_code_is_refused_once_the_mobile_had_ten_wrong_tries_today(session):
    tries = [4, 4, 2]  # three codes (the most in ten minutes), none dead by its own five tries
    for i, wrong in enumerate(tries):
        code = issue(session, now=T0 + timedelta(seconds=i))
        for _ in range(wrong):
            assert verify(session, other_than(code), now=T0 + timedelta(seconds=i)) is False
    assert sum(tries) == otp.MAX_FAILED_PER_DAY
    assert verify(session, code, now=T0 + timedelta(seconds=5)) is False


def test_the_stored_text_never_holds_the_code_and_a_retry_after_a_crash_still_sends_it(session, db, sms_operator):
    from common.config import get_settings
    from services.notifications import dispatch
    from services.notifications.dependencies import build_router

    code = issue(session, now=datetime.now(timezone.utc))
    with session.begin():  # as if a worker claimed it, and crashed before it could record anything
        session.execute(sa.text("UPDATE sms_messages SET status = 'sending', attempts = 1, "
                                "claimed_at = now() - interval '5 minutes'"))
    router = build_router(get_settings(), kavenegar_url=sms_operator.url, smsir_url=sms_operator.url)
    assert dispatch.sweep(session, router, 3) == 1
    [sms] = sms_operator.operator.messages
    assert sms["receptor"] == MOBILE and code in sms["message"] and code_text.CODE_MASK not in sms["message"]
    with db.connect() as conn:
        status, body = conn.execute(sa.text("SELECT status, body FROM sms_messages")).one()
        tables = " ".join(str(r) for t in ("one_time_codes", "sms_messages", "outbox")
                          for r in conn.execute(sa.text(f"SELECT * FROM {t}")))
    assert status == "sent" and code_text.CODE_MASK in body
    assert code not in tables
