"""Errors as application/problem+json (RFC 9457): a stable code, a Persian message for people, an
English detail for developers, the fields at fault, and the request id to quote to support."""
from __future__ import annotations

from flask import Response, json, request

from common.logs import request_id_var

PROBLEM_TYPE = "application/problem+json"


class Problem(Exception):
    def __init__(self, status: int, code: str, title: str, message: str, detail: str,
                 errors: list | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.code, self.title = status, code, title
        self.message, self.detail = message, detail
        self.errors = errors or []
        self.headers = headers or {}

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
        resp = Response(json.dumps(body, ensure_ascii=False), status=self.status, mimetype=PROBLEM_TYPE)
        resp.headers.update(self.headers)
        return resp


def invalid(errors: list) -> Problem:
    return Problem(400, "validation_failed", "Invalid request",
                   "اطلاعات فرستاده‌شده کامل یا درست نیست؛ موارد مشخص‌شده را اصلاح کنید.",
                   "; ".join(f"{e['field']}: {e['detail']}" for e in errors), errors)


def not_found(code: str, message: str, detail: str) -> Problem:
    return Problem(404, code, "Not found", message, detail)


def unavailable(detail: str, retry_after: int = 5) -> Problem:
    return Problem(503, "service_unavailable", "Service unavailable",
                   "سامانه موقتاً در دسترس نیست؛ چند دقیقهٔ دیگر دوباره تلاش کنید.", detail,
                   headers={"Retry-After": str(retry_after)})


def timeout(detail: str) -> Problem:
    return Problem(504, "service_timeout", "Service timeout",
                   "سامانه به‌موقع پاسخ نداد؛ لطفاً دوباره تلاش کنید.", detail, headers={"Retry-After": "5"})


def internal() -> Problem:
    return Problem(500, "internal_error", "Internal error",
                   "خطایی در سامانه رخ داد؛ لطفاً دوباره تلاش کنید.", "unexpected error; see the logs")
