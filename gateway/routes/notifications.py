"""The staff's in-app notifications (SPEC N2). One-time codes have no route of their own here: each purpose
is asked for through the route it serves (a beneficiary's: /transparency/me/code), so nobody can make the
platform text a code, or replace someone's live code, from anywhere else (issue 18)."""
from __future__ import annotations

from flask import g, jsonify, url_for
from flask_openapi3 import APIBlueprint, Tag
from pydantic import Field

from gateway.auth import ALL_STAFF, BEARER, requires
from gateway.schemas import PageQuery, Problem
from gateway.services import notifications
from services.notifications.api import MarkedRead, MarkRead, StaffNotificationPage, UnreadCount

bp = APIBlueprint("notifications", __name__, url_prefix="/api/v1",
                  abp_tags=[Tag(name="notifications", description="staff notifications")])


class NotificationsQuery(PageQuery):
    unread: bool = Field(False, description="only the notifications not read yet")


@bp.get("/staff/notifications", responses={200: StaffNotificationPage, 400: Problem, 401: Problem, 403: Problem},
        security=BEARER)
@requires(*ALL_STAFF)
def list_notifications(query: NotificationsQuery):
    """The caller's notifications, newest first (SPEC N2).

    New cases in the cartable, answers to approve, deadlines about to pass or passed, cases reported
    again, a revoked access. Follow `next` (also a Link header) for more."""
    result = notifications().staff_notifications(g.principal, query.unread, query.limit, query.after)
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
    return jsonify(notifications().staff_unread_count(g.principal))


@bp.post("/staff/notifications/read", responses={200: MarkedRead, 400: Problem, 401: Problem, 403: Problem},
         security=BEARER)
@requires(*ALL_STAFF)
def mark_read(body: MarkRead):
    """Mark some notifications read ({"ids": [...]}) or all of them ({"all": true})."""
    return jsonify(notifications().mark_notifications_read(g.principal, None if body.all else body.ids))
