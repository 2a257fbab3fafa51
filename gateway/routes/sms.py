"""SMS operations (SPEC N1, C9): the operators' delivery receipts, the dead-letter list that staff see
and replay, and the message templates with a preview."""
from __future__ import annotations

import hmac
from typing import Literal

from flask import g, jsonify, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from common.config import get_settings
from gateway.auth import BEARER, accepts_form, requires
from gateway.problems import Problem as ProblemError
from gateway.schemas import PageQuery, Problem
from gateway.services import notifications
from services.notifications.api import (
    DeadLetterPage, Preview, PreviewBody, ReceiptsTaken, Replay, Replayed, TemplateList, TemplatePath,
)

bp = APIBlueprint("sms", __name__, url_prefix="/api/v1",
                  abp_tags=[Tag(name="sms", description="receipts, dead letters and templates of the SMS")])

OPERATORS = ("admin", "hq_operator")  # who looks after the messages the platform sends



class ReceiptPath(BaseModel):
    provider: Literal["kavenegar", "smsir"]
    secret: str = Field(min_length=8, max_length=200, description="the operator's receipt secret")


@bp.post("/sms/receipts/<provider>/<secret>",
         responses={200: ReceiptsTaken, 400: Problem, 401: Problem, 404: Problem})
@accepts_form
def receipt(path: ReceiptPath):
    """Where an operator posts delivery receipts (form or JSON, in its own shape), at the URL set in its
    panel. Neither operator signs receipts or can add a header, so the URL carries the operator's own
    secret (KAVENEGAR_RECEIPT_SECRET, SMSIR_RECEIPT_SECRET) in its path, which no log writes: the access
    log is off and the metrics name the route's rule."""
    expected = get_settings().receipt_secret(path.provider) or ""
    if not hmac.compare_digest(path.secret.encode(), expected.encode()):
        raise ProblemError(401, "invalid_receipt_secret", "Unauthenticated", "نشانی بازگشت معتبر نیست.",
                           f"not the receipt secret of {path.provider}")
    payload = request.get_json(silent=True) if request.is_json else request.form.to_dict(flat=True)
    return jsonify(notifications().record_receipts(path.provider, payload or {}))


@bp.get("/staff/sms/dead-letters", security=BEARER,
        responses={200: DeadLetterPage, 400: Problem, 401: Problem, 403: Problem})
@requires(*OPERATORS)
def dead_letters(query: PageQuery):
    """Messages given up on after their attempts (refused, undelivered, expired), newest first."""
    return jsonify(notifications().dead_letters(g.principal, query.limit, query.after))


@bp.post("/staff/sms/dead-letters/replay", security=BEARER,
         responses={200: Replayed, 400: Problem, 401: Problem, 403: Problem})
@requires(*OPERATORS)
def replay(body: Replay):
    """Send these messages again, with fresh attempts."""
    return jsonify(notifications().replay(g.principal, body.ids))


@bp.get("/staff/sms/templates", security=BEARER, responses={200: TemplateList, 401: Problem, 403: Problem})
@requires(*OPERATORS)
def templates():
    """Every message template with its version, audience and variables."""
    return jsonify({"items": notifications().templates(g.principal)})


@bp.post("/staff/sms/templates/<name>/preview", security=BEARER,
         responses={200: Preview, 400: Problem, 401: Problem, 403: Problem, 404: Problem})
@requires(*OPERATORS)
def preview(path: TemplatePath, body: PreviewBody):
    """A template rendered with sample data (and any values given), with its length and SMS parts."""
    return jsonify(notifications().preview(g.principal, path.name, body.values))
