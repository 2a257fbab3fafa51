"""Staff accounts: login, sessions and their revocation (SPEC C11, C12). On a session the caller
owns; the caller commits."""
from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from common.db import get_by_uuid
from common.errors import Forbidden, InvalidRequest, NotFound, Unauthenticated
from services.complaints import org
from services.complaints.models import OrgUnit, RefreshToken, Staff

_log = logging.getLogger(__name__)
_hasher = PasswordHasher()

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
REFRESH_LIFETIME = timedelta(hours=12)



def _wrong_login() -> Unauthenticated:
    return Unauthenticated("invalid_credentials", "نام کاربری یا گذرواژه درست نیست.", "wrong username or password")


def _session_ended() -> Unauthenticated:
    return Unauthenticated("session_ended", "نشست شما پایان یافته است؛ دوباره وارد شوید.",
                           "the session was revoked, expired or its credentials changed")


_DUMMY_HASH = _hasher.hash("timing-equaliser")


def principal_of(staff: Staff) -> dict:
    """What the gateway and the services need to know about who is asking."""
    return {"kind": "staff", "id": staff.id, "username": staff.username, "full_name": staff.full_name,
            "role": staff.role, "unit": staff.unit_id, "credentials_version": staff.credentials_version}


def create(session: Session, username: str, password: str, full_name: str, role: str, unit: str,
           mobile: str | None = None) -> Staff:
    if role not in org.ROLES or session.get(OrgUnit, unit) is None:
        raise InvalidRequest([{"field": "role" if role not in org.ROLES else "unit", "code": "unknown",
                               "message": "نقش یا واحد ناشناخته است.", "detail": "unknown role or unit"}])
    staff = Staff(id=str(uuid.uuid4()), username=username.lower(), full_name=full_name,
                  password_hash=_hasher.hash(password), role=role, unit_id=unit, mobile=mobile)
    session.add(staff)
    session.flush()
    return staff


def authenticate(session: Session, username: str, password: str) -> dict | Unauthenticated:
    """{"principal", "refresh_token"} for a right password, else the Unauthenticated to raise once
    the transaction is committed: failures are counted per account, which is locked for a while
    after MAX_FAILED_LOGINS."""
    now = datetime.now(timezone.utc)
    staff = session.scalars(select(Staff).where(Staff.username == username.lower()).with_for_update()).first()
    if staff is None:
        _equalise_time(password)
        return _wrong_login()
    if staff.locked_until and staff.locked_until > now:
        return Unauthenticated("account_locked", "به‌دلیل تلاش‌های ناموفق، حساب موقتاً قفل شده است.",
                               f"locked until {staff.locked_until.isoformat()}")
    try:
        _hasher.verify(staff.password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        staff.failed_logins += 1
        if staff.failed_logins >= MAX_FAILED_LOGINS:
            staff.locked_until, staff.failed_logins = now + LOCKOUT, 0
            _log.warning("staff account %s locked after %d failed logins", staff.username, MAX_FAILED_LOGINS)
        return _wrong_login()
    if not staff.active:
        return Unauthenticated("access_revoked", "دسترسی شما لغو شده است؛ با مدیر سامانه تماس بگیرید.",
                               staff.revoked_reason or "access revoked")
    staff.failed_logins, staff.locked_until = 0, None
    return {"principal": principal_of(staff), "refresh_token": _new_refresh_token(session, staff, now)}


def _equalise_time(password: str) -> None:
    """An unknown username takes as long as a wrong password, so usernames cannot be probed."""
    try:
        _hasher.verify(_DUMMY_HASH, password + "x")
    except VerifyMismatchError:
        pass


def refresh(session: Session, raw: str) -> dict | Unauthenticated:
    """Rotate a refresh token: {"principal", "refresh_token"}, else the Unauthenticated to raise
    after commit. A token used twice means it was stolen: every session of that account ends."""
    now = datetime.now(timezone.utc)
    token = session.scalars(select(RefreshToken).where(RefreshToken.token_hash == _digest(raw))
                            .with_for_update()).first()
    if token is None or token.revoked_at or token.expires_at <= now:
        return _session_ended()
    staff = session.get(Staff, token.staff_id)
    if token.used_at is not None:
        _log.warning("refresh token reused for %s: ending every session", staff.username)
        end_sessions(session, staff.id)
        return _session_ended()
    if not staff.active:
        return _session_ended()
    token.used_at = now
    return {"principal": principal_of(staff), "refresh_token": _new_refresh_token(session, staff, now)}


def logout(session: Session, raw: str) -> None:
    session.execute(update(RefreshToken).where(RefreshToken.token_hash == _digest(raw))
                    .values(revoked_at=datetime.now(timezone.utc)))


def current_principal(session: Session, staff_id: str, credentials_version: int) -> dict:
    """The principal now, for a token issued at `credentials_version`; SESSION_ENDED if the account
    was revoked or its credentials changed since."""
    staff = session.get(Staff, staff_id)
    if staff is None or not staff.active or staff.credentials_version != credentials_version:
        raise _session_ended()
    return principal_of(staff)


def revoke(session: Session, staff_id: str, reason: str) -> dict:
    """SPEC C12: the account stops working on its next request; only an administrator restores it."""
    staff = _get(session, staff_id)
    staff.active, staff.revoked_reason = False, reason
    staff.credentials_version += 1
    end_sessions(session, staff.id)
    return principal_of(staff)


def restore(session: Session, staff_id: str, new_password: str) -> dict:
    staff = _get(session, staff_id)
    staff.active, staff.revoked_reason = True, None
    staff.password_hash = _hasher.hash(new_password)
    staff.credentials_version += 1
    staff.failed_logins, staff.locked_until = 0, None
    staff.last_cartable_at = datetime.now(timezone.utc)  # or the inactivity sweep would revoke again at once
    return principal_of(staff)


def end_sessions(session: Session, staff_id: str) -> None:
    session.execute(update(RefreshToken).where(RefreshToken.staff_id == staff_id,
                                               RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=datetime.now(timezone.utc)))


def _get(session: Session, staff_id: str) -> Staff:
    return get_by_uuid(session, Staff, staff_id, lock=True, not_found=NotFound(
        "staff_not_found", "کاربری با این شناسه نیست.", "no staff member has this id"))


def _new_refresh_token(session: Session, staff: Staff, now: datetime) -> str:
    raw = secrets.token_urlsafe(32)
    session.add(RefreshToken(id=str(uuid.uuid4()), staff_id=staff.id, token_hash=_digest(raw),
                             expires_at=now + REFRESH_LIFETIME))
    return raw


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def require_role(actor: dict, *roles: str) -> None:
    """The services check again what the gateway checked: the gateway is not the only guard."""
    if not actor or actor.get("kind") != "staff" or actor.get("role") not in roles:
        raise Forbidden("forbidden", "شما اجازهٔ این کار را ندارید.", f"needs one of the roles {', '.join(roles)}")


def listing(session: Session, only_revoked: bool) -> list[dict]:
    query = select(Staff).order_by(Staff.unit_id, Staff.username)
    if only_revoked:
        query = query.where(Staff.active.is_(False))
    return [{"id": s.id, "username": s.username, "full_name": s.full_name, "role": s.role, "unit": s.unit_id,
             "active": s.active, "revoked_reason": s.revoked_reason,
             "last_cartable_at": s.last_cartable_at.isoformat() if s.last_cartable_at else None}
            for s in session.scalars(query)]
