"""Who is asking, and may they. Staff present a short-lived signed access token (JWT, HS256, signed with
the current key and naming it in `kid`; the previous keys still verify until removed: key rotation); the
complaints service confirms the account is still active and its credentials unchanged, and the gateway
keeps that answer until a revocation or a password change (gateway/principal_cache.py): either takes
effect on the gateway that served it at once, on every other replica within a second, never at expiry.
Routes declare the roles they allow with @requires; the services check scope again on their data."""
from __future__ import annotations

import hashlib
import time
import uuid

import jwt
from flask import current_app, g, request

from common.config import Settings
from gateway.problems import Problem
from gateway.services import complaints
from services.complaints.api import org

ALGORITHM = "HS256"
BEARER = [{"bearer": []}]
BEARER_OR_KEY = [{"bearer": []}, {"apiKey": []}]
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
               "description": "staff: POST /api/v1/auth/login gives an access token; a beneficiary: "
                              "POST /api/v1/transparency/me/session after a one-time code"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "ministry integrators: a key with scopes, issued by an administrator"},
}
ALL_STAFF = tuple(org.ROLES)
BENEFICIARY = "beneficiary"
REPORTER = "reporter"  # who proved they hold the mobile a named case was registered with (one case only)


def unauthenticated(code: str, message: str, detail: str) -> Problem:
    return Problem(401, code, "Unauthenticated", message, detail,
                   headers={"WWW-Authenticate": 'Bearer realm="behzisti"'})


def sign(claims: dict, settings: Settings) -> str:
    """A token signed with the current key, which it names in its header."""
    return jwt.encode(claims, settings.token_secret, algorithm=ALGORITHM, headers={"kid": settings.token_key_id})


def verify(token: str, settings: Settings) -> dict:
    """The claims of a token signed with one of the keys still accepted (the one its `kid` names). Raises
    jwt.ExpiredSignatureError for an expired token, jwt.InvalidTokenError for any other fault. A token without
    a kid (signed before tokens named their key) is verified with the current key only."""
    key = settings.token_keys().get(jwt.get_unverified_header(token).get("kid", settings.token_key_id))
    if key is None:
        raise jwt.InvalidTokenError("no accepted key has this kid")
    return jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "ver"]})


def access_token(principal: dict, settings: Settings) -> tuple[str, int]:
    now = int(time.time())
    claims = {"sub": principal["id"], "ver": principal["credentials_version"], "kind": "staff",
              "iat": now, "exp": now + settings.access_token_seconds, "jti": uuid.uuid4().hex}
    return sign(claims, settings), settings.access_token_seconds


def beneficiary_token(national_id: str, settings: Settings) -> tuple[str, int]:
    """A beneficiary's short session after the one-time code: it opens only their own payments."""
    now = int(time.time())
    claims = {"sub": national_id, "ver": 0, "kind": BENEFICIARY, "iat": now,
              "exp": now + settings.beneficiary_token_seconds, "jti": uuid.uuid4().hex}
    return sign(claims, settings), settings.beneficiary_token_seconds


def reporter_token(tracking_code: str, settings: Settings) -> tuple[str, int]:
    """A named case's reporter session after the one-time code: it lets its holder rate that case, report it
    again and send evidence to it (the services check the case), and opens nothing else."""
    now = int(time.time())
    claims = {"sub": tracking_code, "ver": 0, "kind": REPORTER, "iat": now,
              "exp": now + settings.reporter_token_seconds, "jti": uuid.uuid4().hex}
    return sign(claims, settings), settings.reporter_token_seconds


def reporter() -> dict | None:
    """The request's reporter session, as the actor the services check for a named case (else None)."""
    principal = g.get("principal")
    return principal if principal is not None and principal["kind"] == REPORTER else None


def identify(settings: Settings) -> None:
    """before_request: sets g.principal from a valid bearer token (None when there is none)."""
    g.principal = None
    header = request.headers.get("Authorization", "")
    api_key = request.headers.get("X-API-Key", "")
    if not api_key and request.path.startswith("/open311/") and request.method == "POST":
        api_key = request.form.get("api_key", "")  # GeoReport v2 sends the key as a form field
    if not header and api_key:
        if len(api_key) > 200:
            raise unauthenticated("invalid_api_key", "کلید دسترسی معتبر نیست.", "unknown or revoked API key")
        g.principal = complaints().api_key_principal(api_key)
        return
    if not header:
        return
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthenticated("invalid_token", "توکن دسترسی معتبر نیست.", "expected: Authorization: Bearer <token>")
    try:
        claims = verify(token, settings)
    except jwt.ExpiredSignatureError:
        raise unauthenticated("token_expired", "توکن دسترسی منقضی شده است؛ آن را تازه کنید.",
                              "the access token expired; use the refresh token") from None
    except jwt.InvalidTokenError:  # the library's text says which check failed: nothing a caller may learn
        raise unauthenticated("invalid_token", "توکن دسترسی معتبر نیست.", "the access token is not valid") from None
    if claims.get("kind") == BENEFICIARY:  # SPEC T1: a citizen who proved who they are with a one-time code
        # id: for the rate limiter's keys, which must not hold the national ID itself
        g.principal = {"kind": BENEFICIARY, "national_id": claims["sub"],
                       "id": hashlib.sha256(claims["jti"].encode()).hexdigest()[:16]}
        return
    if claims.get("kind") == REPORTER:  # a named case's reporter, proved with a one-time code (issue 18)
        g.principal = {"kind": REPORTER, "tracking_code": claims["sub"],
                       "id": hashlib.sha256(claims["jti"].encode()).hexdigest()[:16]}
        return
    # Unauthenticated from the service (revoked, credentials changed) becomes a 401 in app.py
    def confirmed() -> dict:
        return complaints().principal(claims["sub"], claims["ver"])

    principals = current_app.extensions.get("principals")
    g.principal = principals.lookup(claims["sub"], claims["ver"], confirmed) if principals else confirmed()


def forget_principal(staff_id: str) -> None:
    """This gateway changed the account (revoked it, reset or changed its password): its next request must
    not wait for the event that tells every replica (gateway/principal_cache.py)."""
    principals = current_app.extensions.get("principals")
    if principals is not None:
        principals.forget(staff_id)


def requires(*roles: str, scope: str | None = None):
    """Mark a route as open to staff in these roles, and to integrators whose key has `scope`.
    `authorize` enforces it before anything else looks at the request (401, then 403), so an
    anonymous caller learns nothing from validation errors."""
    def decorate(view):
        view.access = (roles, scope)
        return view
    return decorate


def accepts_upload(view):
    """Mark a route as taking a multipart file (up to MAX_UPLOAD_BYTES) instead of a JSON body."""
    view.body_kind = "upload"
    return view


def accepts_form(view):
    """Mark a route as taking a form or JSON body in someone else's shape (an operator's callback)."""
    view.body_kind = "form"
    return view


def authorize(view) -> None:
    """before_request: enforce the route's `requires` (flask-openapi3 keeps the mark on its wrapper)."""
    access = getattr(view, "access", None)
    if access is None:
        return  # a public route
    roles, scope = access
    principal = g.get("principal")
    if principal is None:
        raise unauthenticated("authentication_required", "برای این کار باید وارد شوید.",
                              "this route needs a bearer token" + (" or an API key" if scope else ""))
    allowed = (principal["kind"] == "staff" and principal["role"] in roles) or (
        principal["kind"] == "integrator" and scope is not None and scope in principal["scopes"]) or (
        principal["kind"] == BENEFICIARY and BENEFICIARY in roles)
    if not allowed:
        raise Problem(403, "forbidden", "Forbidden", "شما اجازهٔ این کار را ندارید.",
                      f"allowed roles: {', '.join(roles)}" + (f"; or an API key with {scope}" if scope else ""))
