"""What guards the door before any route runs: CORS for configured origins, security headers, rate
limits per client and per route (429 with Retry-After), and the client address behind proxies.

The limits are checked first, before any credential is looked up (app.py registers them before
`identify`), in RATE_LIMIT_STORAGE: redis:// shares one budget across the gateway's replicas. A request
is counted under the credential it presents (a bucket's name only: a forged token is refused in
process, and refused API keys are counted per address) or else its address: IPv4 per address, IPv6 per
/64. A registration with a mobile is also counted per mobile, so the per-address budget can be wide
enough for a town behind one carrier-grade NAT address. A beneficiary's code request is also counted per
national ID, whether or not that ID is paid (so the count says nothing of it): the same budget as the
service's codes a mobile, so that a fourth request from another tab or device hears how long to wait
instead of a «sent» that sends nothing. A named case's reporter code requests are counted per case the
same way."""
from __future__ import annotations

import hashlib
import ipaddress
import re
import time
import uuid

from flask import Flask, g, request
from flask_cors import CORS
from flask_limiter import Limit, Limiter, RateLimitExceeded
from werkzeug.middleware.proxy_fix import ProxyFix

from common.config import Settings
from common.identifiers import InvalidIdentifier, normalise_mobile, normalise_national_id
from common.text import normalise_digits, persian_digits
from gateway import problems

# Per route, per client; any route not named here gets the default. Registration is stricter
# than reading: a case is a message to the organization, not a page view.
ROUTE_LIMITS = {
    "cases.register_case": "rate_limit_register",
    "cases.add_evidence": "rate_limit_register",  # a citizen's writes: the registration limit
    "cases.report_again": "rate_limit_register",
    "cases.rate": "rate_limit_register",
    "casework.register_for_caller": "rate_limit_register",
    "transparency.hand_in": "rate_limit_register",  # a whole dataset's file, read and checked line by line
    "open311.create_request": "rate_limit_register",
    "auth.login": "rate_limit_login",
    "auth.change_password": "rate_limit_login",
    "auth.refresh": "rate_limit_login",
    "transparency.request_code": "rate_limit_login",
    "transparency.open_session": "rate_limit_login",
    "cases.request_reporter_code": "rate_limit_login",
    "cases.open_reporter_session": "rate_limit_login",
}

API_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Cache-Control": "no-store",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=()",
}
# The Swagger UI page needs its own scripts and styles (served from this origin, never a CDN).
DOCS_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
DOCS_PAGES = {"openapi.openapi", "openapi.static"}  # flask-openapi3's index of the UIs and its files


# A silent store must not hold requests: past these, the limits fall back to the process's memory.
STORE_TIMEOUTS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
# A citizen's registrations, counted also per mobile (the body's, when it has a valid one).
PER_MOBILE = {"cases.register_case"}
# A beneficiary's code requests, counted also per national ID (the body's, when it has a valid one).
PER_NATIONAL_ID = {"transparency.request_code"}
# A named case's reporter code requests, counted also per case (the path's tracking code).
PER_CASE = {"cases.request_reporter_code"}


def client_key() -> str:
    """Who the request is from, once identified: the idempotency records' client."""
    principal = g.get("principal")
    if principal is not None:
        return f"{principal['kind']}:{principal['id']}"
    return address_key()


def address_key() -> str:
    """The address as the limits count it: IPv4 per address; IPv6 per /64, one subscriber's network,
    in which a host takes any address it likes."""
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return f"ip:{request.remote_addr}"
    if address.version == 6 and address.ipv4_mapped is not None:
        return f"ip:{address.ipv4_mapped}"
    if address.version == 6:
        return f"ip:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"ip:{address}"


def presented_api_key() -> str | None:
    """The API key the request carries, unverified (as `identify` reads it)."""
    api_key = request.headers.get("X-API-Key", "")
    if not api_key and request.path.startswith("/open311/") and request.method == "POST":
        api_key = request.form.get("api_key", "")  # GeoReport v2 sends the key as a form field
    return api_key or None


def presented_credential() -> str | None:
    """The bearer token (checked in process: a forged one costs no lookup) or else the API key."""
    return request.headers.get("Authorization") or presented_api_key()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]  # no token, key or mobile kept in the store


def limit_key() -> str:
    """Whose budget a request spends, known before any lookup: its credential's, or its address's."""
    credential = presented_credential()
    return f"credential:{_digest(credential)}" if credential else address_key()


def _body_identifier(field: str, normalise) -> str | None:
    body = request.get_json(silent=True) if request.is_json else None
    value = body.get(field) if isinstance(body, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return normalise(value)
    except InvalidIdentifier:
        return None  # refused by the route's validation, counted per address


def _mobile() -> str | None:
    return _body_identifier("mobile", normalise_mobile)


def _national_id() -> str | None:
    return _body_identifier("national_id", normalise_national_id)


def mobile_key() -> str:
    return f"mobile:{_digest(_mobile() or '')}"


def national_id_key() -> str:
    return f"national-id:{_digest(_national_id() or '')}"


def case_key() -> str:
    """The path's tracking code as digits (however it was typed), hashed."""
    code = re.sub(r"\D", "", normalise_digits(str((request.view_args or {}).get("tracking_code", ""))))
    return f"case:{_digest(code)}"


def idempotency(header) -> dict:
    """The RPC's idempotency argument from a route's IdempotencyHeader: keys are per client. A request
    sent without a key gets one made here, so that the service does it once even when the broker
    delivers the request twice, and so that a 503 or 504 can tell the client which key to retry with
    (the answer carries it in its Idempotency-Key header)."""
    g.idempotency_key = header.idempotency_key or g.get("idempotency_key") or str(uuid.uuid4())
    return {"client": client_key(), "key": g.idempotency_key}


def _answered(response) -> bool:
    """Did the platform answer (anything but its own 5xx: an outage, a timeout)?"""
    return response.status_code < 500


def protect(app: Flask, settings: Settings) -> Limiter:
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)

    CORS(app, resources={r"/api/*": {"origins": settings.cors_origin_list()}},
         allow_headers=["Content-Type", "Authorization", "Idempotency-Key", "X-Request-Id", "X-API-Key"],
         expose_headers=["X-Request-Id", "Retry-After", "Location", "Idempotency-Key"],
         max_age=600)

    def route_limit() -> str:
        return getattr(settings, ROUTE_LIMITS.get(request.endpoint or "", "rate_limit_default"))

    def only_for(applies, setting: str):
        """The limit named `setting` for the requests `applies` to, and none for the others: a limit of
        "" gives flask-limiter nothing to parse, check or count (an exempt one is still resolved)."""
        return lambda: getattr(settings, setting) if applies() else ""

    limits = [
        Limit(route_limit),
        # a flood of made-up API keys (each one a lookup) ends here, before the lookup
        Limit(only_for(lambda: presented_api_key() is not None, "rate_limit_bad_api_keys"), key_function=address_key,
              shared=True, scope="bad-api-keys", deduct_when=lambda response: response.status_code == 401),
        # A person's own budgets count what the platform answered, not its own failures: a registration
        # retried with its key through an outage (503 after 503) must not spend the citizen's ten an hour.
        Limit(only_for(lambda: request.endpoint in PER_MOBILE and _mobile() is not None, "rate_limit_register_mobile"),
              key_function=mobile_key, deduct_when=_answered),
        Limit(only_for(lambda: request.endpoint in PER_NATIONAL_ID and _national_id() is not None,
                       "rate_limit_code_national_id"), key_function=national_id_key, deduct_when=_answered),
        Limit(only_for(lambda: request.endpoint in PER_CASE, "rate_limit_code_case"), key_function=case_key,
              deduct_when=_answered),
    ]
    # No X-RateLimit-* headers on every answer: writing them reads each limit's window back after counting it,
    # 24 Redis commands a request where the count is 5, 0.4 ms of the gateway's time in process (docs/benchmarks.md
    # §3). Only the 429 says how long to wait (Retry-After, below).
    limiter = Limiter(limit_key, app=app, default_limits=limits, headers_enabled=False,
                      storage_uri=settings.rate_limit_storage, strategy="moving-window",
                      key_prefix="gateway", enabled=settings.rate_limits_enabled,
                      storage_options=STORE_TIMEOUTS if settings.rate_limit_storage.startswith("redis") else {},
                      in_memory_fallback_enabled=True)  # the store down: each replica counts alone

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(exc: RateLimitExceeded):
        current = limiter.current_limit
        wait = max(1, int(current.reset_at - time.time())) if current else 60
        return problems.Problem(
            429, "rate_limited", "Too many requests",
            f"تعداد درخواست‌های شما بیش از حد مجاز است؛ {persian_digits(wait)} ثانیهٔ دیگر دوباره تلاش کنید.",
            f"limit {exc.limit.limit} exceeded for this client",
            headers={"Retry-After": str(wait)}).response()
    limiter.exempt(app.view_functions["health.healthz"])  # /readyz keeps the default budget

    @app.after_request
    def security_headers(response):
        for header, value in API_HEADERS.items():
            response.headers.setdefault(header, value)
        if request.endpoint in DOCS_PAGES or (request.endpoint or "").startswith("swagger."):  # none in production
            response.headers["Content-Security-Policy"] = DOCS_CSP
            response.headers["Cache-Control"] = "public, max-age=300"
        return response

    return limiter
