"""What guards the door before any route runs: CORS for configured origins, security headers, rate
limits per client and per route (429 with Retry-After), and the client address behind proxies."""
from __future__ import annotations

import time
import uuid

from flask import Flask, g, request
from flask_cors import CORS
from flask_limiter import HeaderNames, Limiter, RateLimitExceeded
from werkzeug.middleware.proxy_fix import ProxyFix

from common.config import Settings
from common.text import persian_digits
from gateway import problems

# Per route, per client; any route not named here gets the default. Registration is stricter
# than reading: a case is a message to the organization, not a page view.
ROUTE_LIMITS = {
    "cases.register_case": "rate_limit_register",
    "cases.add_evidence": "rate_limit_register",  # a citizen's writes: the registration limit
    "cases.report_again": "rate_limit_register",
    "cases.rate": "rate_limit_register",
    "casework.register_for_caller": "rate_limit_register",
    "open311.create_request": "rate_limit_register",
    "auth.login": "rate_limit_login",
    "auth.refresh": "rate_limit_login",
    "notifications.request_code": "rate_limit_login",
    "transparency.request_code": "rate_limit_login",
    "transparency.open_session": "rate_limit_login",
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


def client_key() -> str:
    principal = g.get("principal")
    if principal is not None:
        return f"{principal['kind']}:{principal['id']}"
    return f"ip:{request.remote_addr}"


def idempotency(header) -> dict:
    """The RPC's idempotency argument from a route's IdempotencyHeader: keys are per client. A request
    sent without a key gets one made here, so that the service does it once even when the broker
    delivers the request twice, and so that a 503 or 504 can tell the client which key to retry with
    (the answer carries it in its Idempotency-Key header)."""
    g.idempotency_key = header.idempotency_key or g.get("idempotency_key") or str(uuid.uuid4())
    return {"client": client_key(), "key": g.idempotency_key}


def protect(app: Flask, settings: Settings) -> Limiter:
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)

    CORS(app, resources={r"/api/*": {"origins": settings.cors_origin_list()}},
         allow_headers=["Content-Type", "Authorization", "Idempotency-Key", "X-Request-Id", "X-API-Key"],
         expose_headers=["X-Request-Id", "Retry-After", "Location", "Idempotency-Key", "RateLimit-Limit", "RateLimit-Remaining",
                         "RateLimit-Reset"],
         max_age=600)

    def route_limit() -> str:
        return getattr(settings, ROUTE_LIMITS.get(request.endpoint or "", "rate_limit_default"))

    # The limiter's own Retry-After would land on every answer (a 503's included); only the 429 says it.
    limiter = Limiter(client_key, app=app, default_limits=[route_limit], headers_enabled=True,
                      header_name_mapping={HeaderNames.RETRY_AFTER: "RateLimit-Retry-After"},
                      storage_uri=settings.rate_limit_storage, strategy="moving-window",
                      enabled=settings.rate_limits_enabled)

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(exc: RateLimitExceeded):
        current = limiter.current_limit
        wait = max(1, int(current.reset_at - time.time())) if current else 60
        return problems.Problem(
            429, "rate_limited", "Too many requests",
            f"تعداد درخواست‌های شما بیش از حد مجاز است؛ {persian_digits(wait)} ثانیهٔ دیگر دوباره تلاش کنید.",
            f"limit {exc.limit.limit} exceeded for this client",
            headers={"Retry-After": str(wait)}).response()
    for name in ("health.healthz", "health.readyz"):
        limiter.exempt(app.view_functions[name])

    @app.after_request
    def security_headers(response):
        for header, value in API_HEADERS.items():
            response.headers.setdefault(header, value)
        if request.path.startswith("/api/v1/swagger") or request.path.endswith("/api/v1/"):
            response.headers["Content-Security-Policy"] = DOCS_CSP
            response.headers["Cache-Control"] = "public, max-age=300"
        return response

    return limiter
