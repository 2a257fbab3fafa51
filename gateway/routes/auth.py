"""Staff sessions: login, a password change, refresh (rotating), logout, and who am I."""
from __future__ import annotations

import logging

from flask import g, jsonify, request
from flask_openapi3 import APIBlueprint, Tag

from common.config import get_settings
from gateway.auth import ALL_STAFF, BEARER_OR_KEY, access_token, forget_principal, requires
from gateway.protection import address_key
from gateway.schemas import LoginBody, PasswordChangeBody, Principal, Problem, RefreshBody, TokenPair
from gateway.services import complaints

_log = logging.getLogger(__name__)
bp = APIBlueprint("auth", __name__, url_prefix="/api/v1/auth",
                  abp_tags=[Tag(name="auth", description="staff sessions")])


def _tokens(outcome: dict):
    token, lifetime = access_token(outcome["principal"], get_settings())
    return jsonify({"access_token": token, "token_type": "Bearer", "expires_in": lifetime,
                    "refresh_token": outcome["refresh_token"], "principal": outcome["principal"]})


@bp.post("/login", responses={200: TokenPair, 400: Problem, 401: Problem, 403: Problem, 429: Problem,
                               503: Problem})
def login(body: LoginBody):
    """Log in with username and password: a short-lived access token and a refresh token.

    A wrong password and an unknown username get the same 401 `invalid_credentials`. No account is ever
    locked: after 5 failures for a username from one address that address waits before its next try is
    judged (1 s, doubling, at most 15 minutes; 429 `too_many_attempts` with Retry-After), whatever the
    username; other addresses are not slowed. After an administrator's reset the answer is 403
    `password_change_required`: choose a new password with POST /api/v1/auth/password."""
    return _tokens(_logged(complaints().login, body.username, body.password))


@bp.post("/password", responses={200: TokenPair, 400: Problem, 401: Problem, 429: Problem, 503: Problem})
def change_password(body: PasswordChangeBody):
    """Change one's password with the current one (throttled like a login), and log in: every other
    session of the account ends. Required after an administrator's reset, before anything else."""
    outcome = _logged(complaints().change_password, body.username, body.password, body.new_password)
    forget_principal(outcome["principal"]["id"])
    return _tokens(outcome)


def _logged(call, username: str, *passwords: str) -> dict:
    """A login or password change (`call`, complaints' method), logged with its outcome."""
    method = call.__name__
    try:
        outcome = call(username, *passwords, address_key())
    except Exception as exc:
        if getattr(exc, "code", None) in ("invalid_credentials", "too_many_attempts", "access_revoked"):
            _log.warning("failed %s for %r from %s: %s", method, username, request.remote_addr, exc.code)
        raise
    _log.info("staff %s: %s from %s", username, method, request.remote_addr)
    return outcome


@bp.post("/refresh", responses={200: TokenPair, 400: Problem, 401: Problem, 429: Problem})
def refresh(body: RefreshBody):
    """Trade a refresh token for new tokens; each refresh token works once."""
    return _tokens(complaints().refresh_session(body.refresh_token))


@bp.post("/logout", responses={204: None, 400: Problem, 429: Problem})
def logout(body: RefreshBody):
    """End the session of this refresh token."""
    complaints().logout(body.refresh_token)
    return "", 204


@bp.get("/me", responses={200: Principal, 401: Problem, 403: Problem}, security=BEARER_OR_KEY)
@requires(*ALL_STAFF, scope="cases:read")
def me():
    """Who the access token belongs to, as the service knows them now."""
    return jsonify(g.principal)
