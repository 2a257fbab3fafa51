"""One-time codes for a citizen's login (SPEC N1): six random digits sent by SMS, valid for two
minutes, good once, five tries at most.

Only an HMAC-SHA256 of each code is stored, keyed with a key derived from the server's secret and
bound to the code's row, mobile and purpose: the table alone gives no code away, and a hash cannot be
replayed on another row. A new code for the same mobile and purpose replaces the live one (a partial
unique index keeps one live code per pair). The rate limits count the codes issued in PostgreSQL, so
every replica of the service sees the same counts; advisory locks on the mobile and the client make a
burst of concurrent requests count one after another.

Neither the code nor its hash is ever logged.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from nameko.exceptions import deserialize_to_instance
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from common.config import get_settings
from common.errors import ClientError
from services.notifications import dispatch
from services.notifications.models import OneTimeCode
from services.notifications.templates import ONE_TIME_CODE_CITIZEN

SOURCE = "/behzisti/notifications"
CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=2)  # the SMS says so: a change is a new template version
MAX_ATTEMPTS = 5  # wrong tries per code; then the code is dead
RATE_WINDOW = timedelta(minutes=10)
PER_MOBILE = 3  # codes per mobile in the window (whatever the purpose: each one is an SMS to that person)
PER_CLIENT = 20  # codes per client (the gateway's client key: a principal, else the address) in the window
_LOCK_MOBILE, _LOCK_CLIENT = 8101, 8102  # advisory lock namespaces


@deserialize_to_instance
class TooManyRequests(ClientError):
    """Too many codes asked for this mobile or by this client: HTTP 429, with when to try again."""

    def __init__(self, code: str, message: str, detail: str, retry_after: int | str = 60):
        super().__init__(code, message, detail)
        self.retry_after = int(retry_after)  # nameko sends arguments as strings
        self.args = (code, message, detail, self.retry_after)  # so it crosses RPC whole


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


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


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

    session.execute(update(OneTimeCode).where(OneTimeCode.mobile == mobile, OneTimeCode.purpose == purpose,
                                              OneTimeCode.state == "live").values(state="replaced"))
    code_id, code = str(uuid.uuid4()), new_code()
    expires_at = now + CODE_LIFETIME
    session.add(OneTimeCode(id=code_id, mobile=mobile, purpose=purpose, client=client,
                            code_hash=code_hash(code_id, mobile, purpose, code), state="live", attempts=0,
                            created_at=now, expires_at=expires_at))
    session.flush()
    cause = {"source": SOURCE, "id": code_id, "type": "otp"}
    # urgent: a code is good for two minutes, it never waits out the quiet hours
    message_id = dispatch.queue(session, cause, mobile, ONE_TIME_CODE_CITIZEN, urgent=True, code=code)
    return Issued(code_id, message_id, expires_at)


def verify(session: Session, mobile: str, purpose: str, code: str, now: datetime) -> bool:
    """True once for the live, unexpired code of this mobile and purpose (it is then used); False
    otherwise. Every try counts; after MAX_ATTEMPTS wrong ones the code is dead. In the caller's
    transaction, which must commit a False too (the try is counted)."""
    row = session.execute(
        select(OneTimeCode.id, OneTimeCode.code_hash, OneTimeCode.attempts, OneTimeCode.expires_at)
        .where(OneTimeCode.mobile == mobile, OneTimeCode.purpose == purpose, OneTimeCode.state == "live")
        .with_for_update()).first()
    if row is None:
        return False
    if row.expires_at <= now:
        session.execute(update(OneTimeCode).where(OneTimeCode.id == row.id).values(state="expired"))
        return False
    attempts = row.attempts + 1
    if hmac.compare_digest(row.code_hash, code_hash(row.id, mobile, purpose, code)):
        session.execute(update(OneTimeCode).where(OneTimeCode.id == row.id)
                        .values(attempts=attempts, state="used", used_at=now))
        return True
    session.execute(update(OneTimeCode).where(OneTimeCode.id == row.id)
                    .values(attempts=attempts, state="dead" if attempts >= MAX_ATTEMPTS else "live"))
    return False


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
