"""Failed staff logins slow down where they come from, never the account (issue 18).

- Per (address, username): PAIR_FREE failures, then each try waits twice as long as the last (1 s, 2 s,
  4 s … up to MAX_WAIT). A stranger's failures from their address never slow the real user at another.
- Per username, from every address: past USERNAME_BUDGET failures in WINDOW (a spread-out guessing
  attack), addresses this username has not logged in from get PAIR_FREE_UNDER_ATTACK failures before the
  back-off starts; addresses it has logged in from keep PAIR_FREE. So the real user at their usual desk
  is never slowed by anyone else, and from a new place they wait seconds, not hours.
- Everything is keyed by a keyed hash of the username as typed (lower case), known or not: an unknown
  username is throttled exactly as a known one, so throttling tells nothing about which usernames exist.
  No address and no username is stored. The address is the gateway's bucket of it (IPv6 by its /64:
  gateway.protection.address_key).
"""
from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from common.config import get_settings
from common.errors import TooManyRequests
from common.text import persian_digits
from services.complaints.models import LoginFailures, LoginKnownAddress

PAIR_FREE = 5
PAIR_FREE_UNDER_ATTACK = 1
USERNAME_BUDGET = 20
WINDOW = timedelta(hours=1)
MAX_WAIT = timedelta(minutes=15)
FORGET_AFTER = timedelta(days=1)  # a pair's failures are forgotten after a day without one
KNOWN_FOR = timedelta(days=90)


def _hash(*parts: str) -> str:
    key = hmac.new(get_settings().secret_derivation_key.encode(), b"login-throttle", hashlib.sha256).digest()
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


class _Keys:
    def __init__(self, username: str, address: str | None):
        self.username = _hash("user", username)
        self.address = _hash("address", address or "unknown")
        self.pair = _hash("pair", username, address or "unknown")


def wait_seconds(session: Session, username: str, address: str | None, now: datetime) -> int:
    """How long this (address, username) must wait before a try is judged; 0: now."""
    keys = _Keys(username, address)
    rows = {r.key: r for r in session.scalars(select(LoginFailures).where(
        LoginFailures.key.in_((keys.pair, keys.username))))}
    pair, user = rows.get(keys.pair), rows.get(keys.username)
    if pair is None or pair.last_failed_at < now - FORGET_AFTER:
        return 0
    known = session.scalar(select(LoginKnownAddress.last_login_at).where(
        LoginKnownAddress.username_key == keys.username, LoginKnownAddress.address_key == keys.address))
    attacked = user is not None and user.last_failed_at >= now - WINDOW and user.failures >= USERNAME_BUDGET
    free = PAIR_FREE_UNDER_ATTACK if attacked and not (known and known >= now - KNOWN_FOR) else PAIR_FREE
    if pair.failures < free:
        return 0
    wait = min(timedelta(seconds=2 ** min(pair.failures - free, 20)), MAX_WAIT)
    return max(0, math.ceil((pair.last_failed_at + wait - now).total_seconds()))


def record_failure(session: Session, username: str, address: str | None, now: datetime) -> None:
    keys = _Keys(username, address)
    _count(session, keys.pair, now, FORGET_AFTER)
    _count(session, keys.username, now, WINDOW)
    session.execute(delete(LoginFailures).where(LoginFailures.last_failed_at < now - FORGET_AFTER))
    session.execute(delete(LoginKnownAddress).where(LoginKnownAddress.last_login_at < now - KNOWN_FOR))


def record_success(session: Session, username: str, address: str | None, now: datetime) -> None:
    """The pair starts afresh and the address becomes one this username is known at. The username's
    count stays: a spread-out attack goes on whether or not the real user logged in."""
    keys = _Keys(username, address)
    session.execute(delete(LoginFailures).where(LoginFailures.key == keys.pair))
    session.execute(insert(LoginKnownAddress).values(username_key=keys.username, address_key=keys.address,
                                                     last_login_at=now)
                    .on_conflict_do_update(index_elements=["username_key", "address_key"],
                                           set_={"last_login_at": now}))


def _count(session: Session, key: str, now: datetime, forget_after: timedelta) -> None:
    table = LoginFailures.__table__
    stale = table.c.last_failed_at < now - forget_after
    session.execute(insert(LoginFailures).values(key=key, failures=1, last_failed_at=now).on_conflict_do_update(
        index_elements=["key"], set_={"failures": case((stale, 1), else_=table.c.failures + 1), "last_failed_at": now}))


def throttled(wait: int) -> TooManyRequests:
    return TooManyRequests("too_many_attempts",
                           f"تلاش‌های ورود از این نشانی با این نام کاربری زیاد بوده است؛ {persian_digits(wait)} ثانیهٔ دیگر دوباره "
                           "تلاش کنید. حساب قفل نشده است.",
                           f"too many failed logins for this username from this address; try again in {wait} s",
                           wait)
