"""One-time codes by SMS for citizens (SPEC N1) and the staff's in-app notifications (SPEC N2)."""
from __future__ import annotations

from flask import current_app, g, jsonify, url_for
from flask_openapi3 import APIBlueprint, Tag
from pydantic import Field

from common.errors import FieldError
from gateway import problems
from gateway.auth import ALL_STAFF, BEARER, requires
from gateway.protection import client_key
from gateway.schemas import PageQuery, Problem
from services.notifications.otp import TooManyRequests
from services.notifications.schemas import (
    CodeCheck, CodeRequest, CodeSent, CodeVerified, MarkedRead, MarkRead, StaffNotificationPage, UnreadCount,
)

bp = APIBlueprint("notifications", __name__, url_prefix="/api/v1",
                  abp_tags=[Tag(name="notifications", description="one-time codes and staff notifications")])


class NotificationsQuery(PageQuery):
    unread: bool = Field(False, description="only the notifications not read yet")


@bp.post("/otp", responses={202: CodeSent, 400: Problem, 429: Problem, 503: Problem, 504: Problem})
def request_code(body: CodeRequest):
    """Text a one-time code to a mobile (SPEC N1).

    Six digits, valid for two minutes; a new code replaces the last. At most 3 codes per mobile and
    20 per client in ten minutes (429 with Retry-After).

    The gateway issues no citizen token yet: a citizen's login (and the transparency pages that
    need one) will call verify_code and then issue its own token."""
    try:
        sent = current_app.extensions["rpc"].call("notifications", "issue_code", body.mobile, body.purpose,
                                                  client_key())
    except TooManyRequests as exc:
        raise problems.Problem(429, exc.code, "Too many requests", exc.message, exc.detail,
                               headers={"Retry-After": str(exc.retry_after)}) from None
    response = jsonify(sent)
    response.status_code = 202
    return response


@bp.post("/otp/verify", responses={200: CodeVerified, 400: Problem, 401: Problem, 429: Problem, 503: Problem,
                                   504: Problem})
def verify_code(body: CodeCheck):
    """Check a one-time code.

    200 {"verified": true} once. A wrong, used, replaced or expired code is refused like a wrong
    password at login: 401 `invalid_code`, naming the field `code` (a well-formed request is never a
    400 here; a code that is not six digits is). Five wrong tries end a code.

    The gateway issues no citizen token yet: the transparency issue will use verify_code's answer
    to issue one."""
    outcome = current_app.extensions["rpc"].call("notifications", "verify_code", body.mobile, body.purpose,
                                                 body.code)
    if not outcome["verified"]:
        message = "کد تأیید درست نیست یا منقضی شده است؛ در صورت نیاز کد تازه بخواهید."
        detail = "wrong, used, replaced or expired code"
        raise problems.Problem(401, "invalid_code", "Unauthenticated", message, detail,
                               errors=[FieldError("code", "invalid_code", message, detail)])
    return jsonify(outcome)


@bp.get("/staff/notifications", responses={200: StaffNotificationPage, 400: Problem, 401: Problem, 403: Problem},
        security=BEARER)
@requires(*ALL_STAFF)
def list_notifications(query: NotificationsQuery):
    """The caller's notifications, newest first (SPEC N2).

    New cases in the cartable, answers to approve, deadlines about to pass or passed, cases reported
    again, a revoked access. Follow `next` (also a Link header) for more."""
    result = current_app.extensions["rpc"].call("notifications", "staff_notifications", g.principal, query.unread,
                                                query.limit, query.after)
    link = url_for("notifications.list_notifications", after=result["next"], limit=query.limit,
                   **({"unread": "true"} if query.unread else {})) if result["next"] else None
    response = jsonify({"items": result["items"], "next": link})
    if link:
        response.headers["Link"] = f'<{link}>; rel="next"'
    return response


@bp.get("/staff/notifications/unread-count", responses={200: UnreadCount, 401: Problem, 403: Problem},
        security=BEARER)
@requires(*ALL_STAFF)
def unread_count():
    """How many of the caller's notifications are not read yet (for the badge)."""
    return jsonify(current_app.extensions["rpc"].call("notifications", "staff_unread_count", g.principal))


@bp.post("/staff/notifications/read", responses={200: MarkedRead, 400: Problem, 401: Problem, 403: Problem},
         security=BEARER)
@requires(*ALL_STAFF)
def mark_read(body: MarkRead):
    """Mark some notifications read ({"ids": [...]}) or all of them ({"all": true})."""
    return jsonify(current_app.extensions["rpc"].call("notifications", "mark_notifications_read", g.principal,
                                                      None if body.all else body.ids))
