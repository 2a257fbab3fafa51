"""API keys for ministry integrators (issued and revoked by an administrator), with scopes."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.db import get_by_uuid
from common.errors import FieldError, InvalidRequest, NotFound, Unauthenticated
from services.complaints import domain
from services.complaints.models import ApiKey

SCOPES = {
    "cases:read": "read case summaries and timelines nationwide, without personal data",
    "open311:write": "create requests through Open311 GeoReport v2",
}
PREFIX = "bzk"


def issue(session: Session, actor: dict, name: str, scopes: list[str], secret: str | None = None) -> dict:
    """A new key; `secret` (from key_secret) makes a retried request answer the same key."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidRequest([FieldError("scopes", "unknown_scope", "دامنهٔ دسترسی ناشناخته است.",
                                         f"known scopes: {', '.join(SCOPES)}; unknown: {', '.join(unknown)}")])
    prefix, secret = secrets.token_hex(4), secret or secrets.token_urlsafe(32)
    key = ApiKey(id=str(uuid.uuid4()), name=name, prefix=prefix, key_hash=_digest(secret),
                 scopes=sorted(set(scopes)), created_by=actor["id"])
    session.add(key)
    session.flush()
    return {**describe(key), "key": full_key(prefix, secret)}  # shown once, never stored


def full_key(prefix: str, secret: str) -> str:
    return f"{PREFIX}_{prefix}_{secret}"


def key_secret(seed: str | None, derivation_key: str) -> str:
    return base64.urlsafe_b64encode(domain.derived_secret(seed, derivation_key, "api-key", 32)).decode().rstrip("=")


def revoke(session: Session, key_id: str) -> dict:
    key = get_by_uuid(session, ApiKey, key_id, lock=True, not_found=NotFound(
        "api_key_not_found", "کلیدی با این شناسه نیست.", "no API key has this id"))
    key.revoked_at = key.revoked_at or datetime.now(timezone.utc)
    return describe(key)


def principal_for(session: Session, raw: str) -> dict:
    parts = raw.split("_", 2)
    if len(parts) == 3 and parts[0] == PREFIX:
        key = session.scalars(select(ApiKey).where(ApiKey.prefix == parts[1])).first()
        if key is not None and key.revoked_at is None and hmac.compare_digest(key.key_hash, _digest(parts[2])):
            return {"kind": "integrator", "id": key.id, "username": key.name, "full_name": key.name,
                    "role": "integrator", "unit": "hq", "scopes": key.scopes, "credentials_version": 0}
    raise Unauthenticated("invalid_api_key", "کلید دسترسی معتبر نیست.", "unknown or revoked API key")


def describe(key: ApiKey) -> dict:
    return {"id": key.id, "name": key.name, "prefix": key.prefix, "scopes": list(key.scopes),
            "revoked": key.revoked_at is not None}


def _digest(secret: str) -> str:
    # keys carry 256 random bits: a fast hash is enough (a password hash is for guessable secrets)
    return hashlib.sha256(secret.encode()).hexdigest()
