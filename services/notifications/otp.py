"""One-time codes for a beneficiary's login to their own payments (SPEC N1, T1): six digits sent by SMS,
valid for two minutes, good once, five tries at most, and at most MAX_FAILED_PER_DAY wrong tries a mobile
in a day, whatever its codes. Each purpose is asked for through its own route only (beneficiary_login:
the transparency service's /transparency/me/code; case_reporter: complaints' /cases/{code}/reporter/code, to
the mobile a named case was registered with); there is no public "text me a code" route.

No table holds a code: it is derived from its row's id with the server's secret (code_text.py); the row
keeps an HMAC-SHA256 of it bound to the row, mobile and purpose, and the queued SMS keeps its text with
the code masked, filled in when it is handed to an operator. A new code for the same mobile and purpose
replaces the live one (a partial unique index keeps one live code per pair). The rate limits count the
codes issued in PostgreSQL, so every replica of the service sees the same counts; advisory locks on the
mobile and the client make a burst of concurrent requests count one after another.

Neither the code nor its hash is ever logged.
"""
from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from common.config import get_settings
from common.errors import TooManyRequests
from services.notifications import code_text, dispatch
from services.notifications.models import OneTimeCode
from services.notifications.templates import ONE_TIME_CODE_CASE, ONE_TIME_CODE_CITIZEN

SOURCE = "/behzisti/notifications"
CODE_LIFETIME = timedelta(minutes=2)  # the SMS says so: a change is a new template version
MAX_ATTEMPTS = 5  # wrong tries per code; then the code is dead
RATE_WINDOW = timedelta(minutes=10)
PER_MOBILE = 3  # codes per mobile in the window (whatever the purpose: each one is an SMS to that person)
PER_CLIENT = 20  # codes per client (the gateway's client key: a principal, else the address) in the window
MAX_FAILED_PER_DAY = 10  # wrong tries per mobile in DAY, over all its codes: then no code works or is sent
DAY = timedelta(hours=24)
_LOCK_MOBILE, _LOCK_CLIENT = 8101, 8102  # advisory lock namespaces
TEMPLATES = {"beneficiary_login": ONE_TIME_CODE_CITIZEN, "case_reporter": ONE_TIME_CODE_CASE}


@dataclass(frozen=True)
class Issued:
    id: str
    message_id: str | None  # the SMS to send on the fast path, after commit
    expires_at: datetime


def _key() -> bytes:
    """The HMAC key: derived from the server's secret for this use alone."""
    return hmac.new(get_settings().secret_derivation_key.encode(), b"one-time-code", hashlib.sha256).digest()


def code_hash(code_id: str, mobile: str, purpose: str, code: str) -> str:
    message = f"{code_id}\x1f{mobile}\x1f{purpose}\x1f{code}".encode()
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()




def issue(session: Session, mobile: str, purpose: str, client: str, now: datetime) -> Issued:
    """Make a code for this mobile and purpose, replacing the live one, and queue its SMS; in the
    caller's transaction. Raises TooManyRequests over a rate limit (nothing is written then)."""
    _lock(session, _LOCK_MOBILE, mobile)  # always the mobile first, then the client: no deadlock
    _lock(session, _LOCK_CLIENT, client)
    since = now - RATE_WINDOW
    _check_limit(session, OneTimeCode.mobile == mobile, since, now, PER_MOBILE, "mobile",
                 "برای این شماره چند کد پشت سر هم فرستاده شده است؛ چند دقیقهٔ دیگر دوباره بخواهید.")
    _check_limit(session, OneTimeCode.client == client, since, now, PER_CLIENT, "client",
                 "تعداد درخواست‌های کد از سوی شما بیش از حد مجاز است؛ چند دقیقهٔ دیگر دوباره تلاش کنید.")
    failed, oldest = _failed_today(session, mobile, now)
    if failed >= MAX_FAILED_PER_DAY:
        retry_after = max(1, int((oldest + DAY - now).total_seconds()) + 1)
        raise TooManyRequests("too_many_failed_codes",
                              "برای این شماره امروز کد نادرست زیادی وارد شده است؛ فردا دوباره کد بخواهید.",
                              f"at most {MAX_FAILED_PER_DAY} wrong codes per mobile in 24 hours; "
                              f"try again in {retry_after} seconds", retry_after)

    session.execute(update(OneTimeCode).where(OneTimeCode.mobile == mobile, OneTimeCode.purpose == purpose,
                                              OneTimeCode.state == "live").values(state="replaced"))
    code_id = str(uuid.uuid4())
    code = code_text.code_for(code_id)
    expires_at = now + CODE_LIFETIME
    session.add(OneTimeCode(id=code_id, mobile=mobile, purpose=purpose, client=client,
                            code_hash=code_hash(code_id, mobile, purpose, code), state="live", attempts=0,
                            created_at=now, expires_at=expires_at))
    session.flush()
    cause = {"source": SOURCE, "id": code_id, "type": code_text.CAUSE_TYPE}
    # urgent: a code is good for two minutes, it never waits out the quiet hours
    # the SMS is stored with the code masked; dispatch puts it back when it hands the text to an operator
    message_id = dispatch.queue(session, cause, mobile, TEMPLATES[purpose], urgent=True, code=code_text.CODE_MASK)
    return Issued(code_id, message_id, expires_at)


def verify(session: Session, mobile: str, purpose: str, code: str, now: datetime) -> bool:
    """True once for the live, unexpired code of this mobile and purpose (it is then used); False
    otherwise. Every try counts; after MAX_ATTEMPTS wrong ones the code is dead, and once the mobile has had
    MAX_FAILED_PER_DAY wrong tries in a day, every code of it is. In the caller's transaction, which must
    commit a False too (the try is counted)."""
    row = session.execute(
        select(OneTimeCode.id, OneTimeCode.code_hash, OneTimeCode.attempts, OneTimeCode.expires_at)
        .where(OneTimeCode.mobile == mobile, OneTimeCode.purpose == purpose, OneTimeCode.state == "live")
        .with_for_update()).first()
    if row is None:
        return False
    if row.expires_at <= now:
        session.execute(update(OneTimeCode).where(OneTimeCode.id == row.id).values(state="expired"))
        return False
    if _failed_today(session, mobile, now)[0] >= MAX_FAILED_PER_DAY:
        session.execute(update(OneTimeCode).where(OneTimeCode.id == row.id).values(state="dead"))
        return False
    attempts = row.attempts + 1
    if hmac.compare_digest(row.code_hash, code_hash(row.id, mobile, purpose, code)):
        session.execute(update(OneTimeCode).where(OneTimeCode.id == row.id)
                        .values(attempts=attempts, state="used", used_at=now))
        return True
    session.execute(update(OneTimeCode).where(OneTimeCode.id == row.id)
                    .values(attempts=attempts, state="dead" if attempts >= MAX_ATTEMPTS else "live"))
    return False


def _failed_today(session: Session, mobile: str, now: datetime) -> tuple[int, datetime | None]:
    """Wrong tries at this mobile's codes of the last DAY (a used code's last try was right), and the
    oldest of those codes' time."""
    failed, oldest = session.execute(
        select(func.coalesce(func.sum(OneTimeCode.attempts), 0) - func.count().filter(OneTimeCode.state == "used"),
               func.min(OneTimeCode.created_at))
        .where(OneTimeCode.mobile == mobile, OneTimeCode.created_at > now - DAY, OneTimeCode.attempts > 0)).one()
    return int(failed), oldest


def _lock(session: Session, namespace: int, key: str) -> None:
    session.execute(text("SELECT pg_advisory_xact_lock(:ns, hashtext(:key))"), {"ns": namespace, "key": key})


def _check_limit(session, condition, since: datetime, now: datetime, limit: int, what: str, message_fa: str):
    count, oldest = session.execute(
        select(func.count(), func.min(OneTimeCode.created_at)).where(condition, OneTimeCode.created_at > since)).one()
    if count >= limit:
        retry_after = max(1, int((oldest + RATE_WINDOW - now).total_seconds()) + 1)
        raise TooManyRequests("too_many_codes", message_fa,
                              f"at most {limit} codes per {what} in {int(RATE_WINDOW.total_seconds() // 60)} "
                              f"minutes; try again in {retry_after} seconds", retry_after)
