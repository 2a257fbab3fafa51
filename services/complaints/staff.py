"""Staff accounts: login, sessions, their revocation and password resets (SPEC C11, C12; issue 18). On a
session the caller owns; the caller commits."""
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

from common import outbox
from common.db import get_by_uuid
from common.errors import ClientError, Conflict, Forbidden, InvalidRequest, NotFound, Unauthenticated
from common.events.catalog import STAFF_CREDENTIALS_CHANGED
from common.events.envelope import new_event
from common.jalali import iso
from services.complaints import login_throttle, org
from services.complaints.models import OrgUnit, PasswordReset, RefreshToken, Staff
from services.complaints.models import outbox as outbox_table

_log = logging.getLogger(__name__)
_hasher = PasswordHasher()

REFRESH_LIFETIME = timedelta(hours=12)
# Whose password one administrator alone cannot reset (four eyes): who moves money, and the administrators,
# or one administrator could reset another's and then approve as them.
RESET_NEEDS_SECOND_ADMIN = {"finance_expert", "finance_approver", "admin"}
RESET_PENDING_FOR = timedelta(hours=24)


def _wrong_login() -> Unauthenticated:
    return Unauthenticated("invalid_credentials", "نام کاربری یا گذرواژه درست نیست.", "wrong username or password")


def _session_ended() -> Unauthenticated:
    return Unauthenticated("session_ended", "نشست شما پایان یافته است؛ دوباره وارد شوید.",
                           "the session was revoked, expired or its credentials changed")


def _must_change_password() -> Forbidden:
    return Forbidden("password_change_required",
                     "گذرواژهٔ شما را مدیر سامانه تازه کرده است؛ پیش از هر کاری گذرواژهٔ تازه‌ای برگزینید.",
                     "an administrator reset this password: POST /api/v1/auth/password with a new one first")


_DUMMY_HASH = _hasher.hash("timing-equaliser")


def principal_of(staff: Staff) -> dict:
    """What the gateway and the services need to know about who is asking."""
    return {"kind": "staff", "id": staff.id, "username": staff.username, "full_name": staff.full_name,
            "role": staff.role, "unit": staff.unit_id, "credentials_version": staff.credentials_version}


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create(session: Session, username: str, password: str, full_name: str, role: str, unit: str,
           mobile: str | None = None, password_hash: str | None = None) -> Staff:
    """A new account; `password_hash` (of `password`) when the caller hashed it already (demo accounts
    share one: each hash costs about 0.2 s of CPU by design)."""
    if role not in org.ROLES or session.get(OrgUnit, unit) is None:
        raise InvalidRequest([{"field": "role" if role not in org.ROLES else "unit", "code": "unknown",
                               "message": "نقش یا واحد ناشناخته است.", "detail": "unknown role or unit"}])
    staff = Staff(id=str(uuid.uuid4()), username=username.lower(), full_name=full_name,
                  password_hash=password_hash or _hasher.hash(password), role=role, unit_id=unit, mobile=mobile)
    session.add(staff)
    session.flush()
    return staff


def authenticate(session: Session, username: str, password: str, address: str | None = None,
                 new_password: str | None = None) -> dict | ClientError:
    """{"principal", "refresh_token"} for a right password, else the error to raise once the transaction
    is committed (so failures are counted). Never a lockout: failures slow the (address, username) pair
    they come from (login_throttle.py). Unknown and known usernames get the same answers in the same
    time: the password is always checked against a hash, even while throttled. With `new_password` the
    password is changed too, which an administrator's reset requires before anything else."""
    now = datetime.now(timezone.utc)
    name = username.lower()
    staff = session.scalars(select(Staff).where(Staff.username == name).with_for_update()).first()
    wait = login_throttle.wait_seconds(session, name, address, now)
    right = _password_matches(staff, password)
    if wait:
        if right and staff.active:
            # the person came with the right password and was held back: that is not inactivity (SPEC C12)
            staff.last_cartable_at = max(staff.last_cartable_at, now)
        return login_throttle.throttled(wait)
    if not right:
        login_throttle.record_failure(session, name, address, now)
        return _wrong_login()
    login_throttle.record_success(session, name, address, now)
    if not staff.active:
        return Unauthenticated("access_revoked", "دسترسی شما لغو شده است؛ با مدیر سامانه تماس بگیرید.",
                               staff.revoked_reason or "access revoked")
    if new_password is not None:
        if new_password == password:
            return InvalidRequest([{"field": "new_password", "code": "same_password",
                                    "message": "گذرواژهٔ تازه باید با گذرواژهٔ کنونی فرق داشته باشد.",
                                    "detail": "the new password must differ from the current one"}])
        _set_password(session, staff, _hasher.hash(new_password), must_change=False, change="password_changed")
    elif staff.must_change_password:
        return _must_change_password()
    return {"principal": principal_of(staff), "refresh_token": _new_refresh_token(session, staff, now)}


def _password_matches(staff: Staff | None, password: str) -> bool:
    """An unknown username takes as long as a wrong password, so usernames cannot be probed."""
    try:
        return _hasher.verify(staff.password_hash if staff else _DUMMY_HASH, password if staff else password + "x")
    except (VerifyMismatchError, InvalidHashError):
        return False


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


def restore(session: Session, actor: dict, staff_id: str, new_password: str) -> dict:
    """An administrator gives an account a new password (and its access back, SPEC C12). Every session of
    the account ends and its next login must choose a password of its own. For RESET_NEEDS_SECOND_ADMIN
    roles the reset waits for a second administrator ({"state": "pending", …}); else the principal."""
    staff = _get(session, staff_id)
    if staff.id == actor["id"]:
        raise Forbidden("own_password_reset", "گذرواژهٔ خودتان را از این راه نمی‌توانید تازه کنید.",
                        "an administrator changes their own password with POST /api/v1/auth/password")
    password_hash = _hasher.hash(new_password)
    if staff.role not in RESET_NEEDS_SECOND_ADMIN:
        _reinstate(session, staff, password_hash)
        return principal_of(staff)
    now = datetime.now(timezone.utc)
    session.execute(update(PasswordReset).where(PasswordReset.staff_id == staff.id, PasswordReset.state == "pending")
                    .values(state="replaced"))
    reset = PasswordReset(id=str(uuid.uuid4()), staff_id=staff.id, password_hash=password_hash,
                          requested_by=actor["id"], requested_at=now, expires_at=now + RESET_PENDING_FOR,
                          state="pending")
    session.add(reset)
    session.flush()
    _log.warning("password reset of %s (%s) requested by %s: waits for a second administrator",
                 staff.username, staff.role, actor.get("username"))
    return reset_view(session, reset)


def approve_reset(session: Session, actor: dict, reset_id: str) -> dict:
    """The second administrator applies a pending reset: not the one who asked, nor its subject."""
    reset = get_by_uuid(session, PasswordReset, reset_id, lock=True, not_found=NotFound(
        "reset_not_found", "درخواست بازنشانی با این شناسه نیست.", "no password reset has this id"))
    now = datetime.now(timezone.utc)
    if reset.state != "pending" or reset.expires_at <= now:
        raise Conflict("reset_not_pending", "این درخواست بازنشانی دیگر در انتظار تأیید نیست.",
                       f"the reset is {reset.state if reset.state != 'pending' else 'expired'}")
    if actor["id"] in (reset.requested_by, reset.staff_id):
        raise Forbidden("second_admin_required", "بازنشانی را باید مدیر سامانهٔ دیگری تأیید کند.",
                        "neither the administrator who asked for the reset nor its subject may approve it")
    reset.state, reset.approved_by, reset.approved_at = "applied", actor["id"], now
    staff = _get(session, reset.staff_id)
    _reinstate(session, staff, reset.password_hash)
    _log.warning("password reset of %s approved by %s", staff.username, actor.get("username"))
    return principal_of(staff)


def pending_resets(session: Session) -> list[dict]:
    now = datetime.now(timezone.utc)
    return [reset_view(session, r) for r in session.scalars(
        select(PasswordReset).where(PasswordReset.state == "pending", PasswordReset.expires_at > now)
        .order_by(PasswordReset.requested_at))]


def reset_view(session: Session, reset: PasswordReset) -> dict:
    subject, asker = session.get(Staff, reset.staff_id), session.get(Staff, reset.requested_by)
    return {"id": reset.id, "state": reset.state, "staff_id": subject.id, "username": subject.username,
            "full_name": subject.full_name, "role": subject.role, "requested_by": asker.username,
            "requested_at": reset.requested_at.isoformat(), "expires_at": reset.expires_at.isoformat()}


def _reinstate(session: Session, staff: Staff, password_hash: str) -> None:
    staff.active, staff.revoked_reason = True, None
    _set_password(session, staff, password_hash, must_change=True, change="password_reset")
    staff.last_cartable_at = datetime.now(timezone.utc)  # or the inactivity sweep would revoke again at once


def _set_password(session: Session, staff: Staff, password_hash: str, must_change: bool, change: str) -> None:
    """Every token issued before stops working, and every refresh session ends; the event tells the
    gateways to drop what they cached of the account (gateway/principal_cache.py)."""
    staff.password_hash, staff.must_change_password = password_hash, must_change
    staff.credentials_version += 1
    end_sessions(session, staff.id)
    now = datetime.now(timezone.utc)
    data = {"staff_id": staff.id, "username": staff.username, "credentials_version": staff.credentials_version,
            "change": change, "at": iso(now)}
    outbox.add(session, outbox_table, new_event(STAFF_CREDENTIALS_CHANGED, data, subject=staff.id, time=now))


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


def listing(session: Session, only_revoked: bool) -> list[dict]:
    query = select(Staff).order_by(Staff.unit_id, Staff.username)
    if only_revoked:
        query = query.where(Staff.active.is_(False))
    return [{"id": s.id, "username": s.username, "full_name": s.full_name, "role": s.role, "unit": s.unit_id,
             "active": s.active, "revoked_reason": s.revoked_reason,
             "last_cartable_at": s.last_cartable_at.isoformat() if s.last_cartable_at else None}
            for s in session.scalars(query)]
