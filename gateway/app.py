"""The gateway: the only HTTP door into the platform (SPEC G1). It validates, maps errors and calls
services by RPC; it holds no business rules."""
from __future__ import annotations

import logging
import re
import time
import uuid

from flask import g, request
from nameko.exceptions import RemoteError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from common.broker_admin import BrokerAdminUnavailable
from common.config import Settings, get_settings
from common.errors import Conflict, Forbidden, InvalidRequest, NotFound, TooManyRequests, Unauthenticated
from common.idempotency import IdempotencyConflict
from common.logs import request_id_var
from common.metrics import HTTP_LATENCY, HTTP_REQUESTS
from common.transient import DATABASE_UNAVAILABLE
from gateway import pages, problems
from gateway.auth import authorize, identify, unauthenticated
from gateway.openapi import GatewayOpenAPI, make_app
from gateway.principal_cache import PrincipalCache
from gateway.protection import protect
from gateway.requests import json_object
from gateway.routes import auth, casework, cases, events, health, notifications, open311, payments, reports, sms, staff
from gateway.routes import donations, integrators, transparency
from gateway.rpc import RpcClient, ServiceTimeout, ServiceUnavailable
from gateway.services import Services

_log = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def create_app(rpc: RpcClient | None = None, settings: Settings | None = None,
               principals: PrincipalCache | None = None) -> GatewayOpenAPI:
    """The gateway. With no `rpc` (the deployed one), its own RPC client and, unless PRINCIPAL_CACHE_SECONDS
    is 0, its principal cache; a test that passes its own client passes a cache too if it wants one."""
    settings = settings or get_settings()
    if rpc is None and principals is None and settings.principal_cache_seconds > 0:
        rpc = RpcClient()
        principals = PrincipalCache(rpc.amqp_uri, settings.principal_cache_seconds, settings.rpc_connect_timeout)
    app = make_app(__name__, swagger_ui=not settings.is_production)
    app.json.ensure_ascii = False
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.extensions["rpc"] = rpc or RpcClient()
    app.extensions["services"] = Services(app.extensions["rpc"])
    app.extensions["principals"] = principals

    for blueprint in (health.bp, cases.bp, events.bp, auth.bp, staff.bp, casework.bp, reports.bp, open311.bp,
                      notifications.bp, sms.bp, payments.bp, donations.bp, transparency.bp, integrators.bp):
        app.register_api(blueprint)

    @app.before_request
    def start():
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request_id_var.set(g.request_id)
        g.started = time.perf_counter()

    # the rate limits first: a request over its budget costs no credential lookup, nor the body's checks
    app.extensions["limiter"] = protect(app, settings)

    @app.before_request
    def who():
        identify(settings)
        if request.routing_exception is None:
            authorize(app.view_functions.get(request.endpoint))
    pages.register(app)  # the web pages (web/), outside the OpenAPI document

    @app.before_request
    def check_body():
        body_kind = getattr(app.view_functions.get(request.endpoint), "body_kind", "json")
        if body_kind == "upload":
            request.max_content_length = settings.max_upload_bytes  # a file, not JSON
        if body_kind != "json":
            return
        has_body = request.content_length or request.headers.get("Content-Type")
        json_route = request.path.startswith("/api/")  # Open311 posts forms, as its specification says
        if request.routing_exception is None and request.method in ("POST", "PUT", "PATCH") and has_body and json_route:
            json_object()  # the body is JSON, well formed, an object: else a 400 naming what is wrong

    @app.after_request
    def finish(response):
        if request.path.startswith("/open311/"):
            open311.as_open311_error(response)
        response.headers["X-Request-Id"] = g.get("request_id", "")
        if g.get("idempotency_key"):  # the key the request was done under: the client's, or one made for it
            response.headers["Idempotency-Key"] = g.idempotency_key
        route = request.url_rule.rule if request.url_rule else "unmatched"
        if "started" in g:
            HTTP_LATENCY.labels(request.method, route).observe(time.perf_counter() - g.started)
        HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        return response

    @app.errorhandler(problems.Problem)
    def on_problem(problem: problems.Problem):
        return problem.response()

    @app.errorhandler(InvalidRequest)
    def on_invalid(exc: InvalidRequest):
        return problems.invalid(exc.errors).response()

    @app.errorhandler(IdempotencyConflict)
    def on_conflict(exc: IdempotencyConflict):
        return problems.Problem(422, "idempotency_key_reused", "Idempotency key reused",
                                "این شناسهٔ تکرار پیش‌تر با درخواست دیگری به کار رفته است.",
                                "this Idempotency-Key was used with a different body").response()

    @app.errorhandler(Unauthenticated)
    def on_unauthenticated(exc: Unauthenticated):
        return unauthenticated(exc.code, exc.message, exc.detail).response()

    @app.errorhandler(Forbidden)
    def on_forbidden(exc: Forbidden):
        return problems.Problem(403, exc.code, "Forbidden", exc.message, exc.detail).response()

    @app.errorhandler(Conflict)
    def on_state_conflict(exc: Conflict):
        return problems.Problem(409, exc.code, "Conflict", exc.message, exc.detail).response()

    @app.errorhandler(TooManyRequests)
    def on_too_many(exc: TooManyRequests):
        return problems.Problem(429, exc.code, "Too many requests", exc.message, exc.detail,
                                headers={"Retry-After": str(exc.retry_after)}).response()

    @app.errorhandler(NotFound)
    def on_not_found(exc: NotFound):
        return problems.not_found(exc.code, exc.message, exc.detail).response()

    @app.errorhandler(ServiceUnavailable)
    def on_unavailable(exc: ServiceUnavailable):
        _log.warning("service unavailable: %s", exc)
        return problems.unavailable(f"the {exc.service} service is unavailable: {exc.reason}", exc.retry_after,
                                    g.get("idempotency_key"), exc.outcome_unknown).response()

    @app.errorhandler(ServiceTimeout)
    def on_timeout(exc: ServiceTimeout):
        _log.warning("service timeout: %s", exc)
        return problems.timeout(str(exc), g.get("idempotency_key")).response()

    @app.errorhandler(RequestEntityTooLarge)
    def on_too_large(exc):
        return problems.Problem(413, "payload_too_large", "Payload too large",
                                "حجم درخواست بیش از حد مجاز است.",
                                f"the body is larger than {request.max_content_length} bytes").response()

    @app.errorhandler(HTTPException)
    def on_http(exc: HTTPException):
        if exc.code == 404 and pages.is_page_path(request.path):
            return pages.not_found_page()  # a person's browser: the Persian page; the API keeps problem+json
        messages = {404: "چنین نشانی‌ای در سامانه نیست.", 405: "این روش درخواست برای این نشانی مجاز نیست."}
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}  # e.g. Allow
        return problems.Problem(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"),
                                exc.name, messages.get(exc.code, "درخواست پذیرفته نشد."),
                                exc.description or exc.name, headers=headers).response()

    @app.errorhandler(Exception)
    def on_error(exc: Exception):
        if isinstance(exc, (ConnectionError, OSError)):
            _log.warning("broker unreachable: %s", exc)
            return problems.unavailable("the message broker is unreachable", 5, g.get("idempotency_key"),
                                        True).response()
        if isinstance(exc, RemoteError) and exc.exc_type in (DATABASE_UNAVAILABLE, BrokerAdminUnavailable.__name__):
            _log.warning("service unavailable: %s", exc)
            # the transaction may have committed before the connection broke: the outcome is unknown
            return problems.unavailable(f"{exc.value}; try again", 5, g.get("idempotency_key"), True).response()
        if isinstance(exc, RemoteError):
            _log.error("service error: %s", exc)
        else:
            _log.exception("unhandled error")
        return problems.internal().response()

    return app
