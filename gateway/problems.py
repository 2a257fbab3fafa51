"""Errors as application/problem+json (RFC 9457): a stable code, a Persian message for people, an
English detail for developers, the fields at fault, and the request id to quote to support."""
from __future__ import annotations

from flask import Response, json, request

from common.logs import request_id_var

PROBLEM_TYPE = "application/problem+json"


class Problem(Exception):
    def __init__(self, status: int, code: str, title: str, message: str, detail: str,
                 errors: list | None = None, headers: dict | None = None, extra: dict | None = None):
        super().__init__(detail)
        self.status, self.code, self.title = status, code, title
        self.message, self.detail = message, detail
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra or {}

    def response(self) -> Response:
        body = {
            "type": f"urn:behzisti:problem:{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "detail": self.detail,
            "instance": request.path if request else None,
            "request_id": request_id_var.get(),
        }
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        resp = Response(json.dumps(body, ensure_ascii=False), status=self.status, mimetype=PROBLEM_TYPE)
        resp.headers.update(self.headers)
        return resp


def invalid(errors: list) -> Problem:
    return Problem(400, "validation_failed", "Invalid request",
                   "اطلاعات فرستاده‌شده کامل یا درست نیست؛ موارد مشخص‌شده را اصلاح کنید.",
                   "; ".join(f"{e['field']}: {e['detail']}" for e in errors), errors)


def not_found(code: str, message: str, detail: str) -> Problem:
    return Problem(404, code, "Not found", message, detail)


# What a 503 or 504 says about a request that creates or changes something (it carries an
# Idempotency-Key: the client's, or one the gateway made for it and sends back in the header).
OUTCOME_UNKNOWN_FA = ("معلوم نیست درخواست شما انجام شده است یا نه. همین درخواست را با همان «کلید تکرار» "
                      "(Idempotency-Key) دوباره بفرستید؛ دو بار انجام نمی‌شود و همان پاسخ نخست را می‌گیرید.")
NOT_DONE_FA = "درخواست شما انجام نشد؛ کمی بعد آن را با همان «کلید تکرار» (Idempotency-Key) دوباره بفرستید."


def _outcome(detail: str, idempotency_key: str | None, outcome_unknown: bool) -> tuple[str | None, str, dict]:
    """(Persian message or None, detail, extra fields) for a failure of a request with a key."""
    if idempotency_key is None:
        return None, detail, {}
    if outcome_unknown:
        return OUTCOME_UNKNOWN_FA, (f"{detail}. The outcome is unknown: the request may have been carried out. "
                                    f"Send it again with the header Idempotency-Key: {idempotency_key}; it is "
                                    "not done twice and the answer is the first one's."), \
            {"outcome": "unknown", "idempotency_key": idempotency_key}
    return NOT_DONE_FA, (f"{detail}. Nothing was done. Send it again later, with the header "
                         f"Idempotency-Key: {idempotency_key}."), \
        {"outcome": "not_done", "idempotency_key": idempotency_key}


def unavailable(detail: str, retry_after: int = 5, idempotency_key: str | None = None,
                outcome_unknown: bool = False) -> Problem:
    message, detail, extra = _outcome(detail, idempotency_key, outcome_unknown)
    return Problem(503, "service_unavailable", "Service unavailable",
                   message or "سامانه موقتاً در دسترس نیست؛ چند دقیقهٔ دیگر دوباره تلاش کنید.", detail,
                   headers={"Retry-After": str(retry_after)}, extra=extra)


def timeout(detail: str, idempotency_key: str | None = None) -> Problem:
    message, detail, extra = _outcome(detail, idempotency_key, True)
    return Problem(504, "service_timeout", "Service timeout",
                   message or "سامانه به‌موقع پاسخ نداد؛ لطفاً دوباره تلاش کنید.", detail,
                   headers={"Retry-After": "5"}, extra=extra)


def internal() -> Problem:
    return Problem(500, "internal_error", "Internal error",
                   "خطایی در سامانه رخ داد؛ لطفاً دوباره تلاش کنید.", "unexpected error; see the logs")
