"""Cases: registration by anyone, and following a case by its tracking code (SPEC C1, C3)."""
from __future__ import annotations

from flask import current_app, jsonify, url_for
from flask_openapi3 import APIBlueprint, Tag

from gateway.protection import idempotency
from gateway.schemas import CaseSecretHeader, IdempotencyHeader, Problem, TrackingCodePath
from services.complaints.schemas import CaseIntake, CaseView, RegisteredCase

bp = APIBlueprint("cases", __name__, url_prefix="/api/v1/cases",
                  abp_tags=[Tag(name="cases", description="Didehban: register and follow a case")])


@bp.post("", responses={201: RegisteredCase, 400: Problem, 413: Problem, 422: Problem, 429: Problem, 503: Problem,
                        504: Problem})
def register_case(body: CaseIntake, header: IdempotencyHeader):
    """Register a complaint, report or request. Checked here for the citizen, and again by the service."""
    case = current_app.extensions["rpc"].call("complaints", "register_case", body.model_dump(exclude_none=True),
                                              idempotency(header))
    response = jsonify(case)
    response.status_code = 201
    response.headers["Location"] = url_for("cases.get_case", tracking_code=case["tracking_code"])
    return response


@bp.get("/<tracking_code>", responses={200: CaseView, 404: Problem, 503: Problem, 504: Problem})
def get_case(path: TrackingCodePath, header: CaseSecretHeader):
    """A case's stage and timeline, by its tracking code (and an anonymous report's secret, in
    X-Case-Secret). No personal data."""
    return jsonify(current_app.extensions["rpc"].call("complaints", "get_case", path.tracking_code,
                                                      header.case_secret))
