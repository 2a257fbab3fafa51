"""Cases: registration by anyone, and following a case by its tracking code (SPEC C1, C3)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, url_for

from common.validation import parse
from gateway.requests import json_object
from services.complaints.schemas import CaseIntake

bp = Blueprint("cases", __name__, url_prefix="/api/v1/cases")


@bp.post("")
def register_case():
    intake = parse(CaseIntake, json_object())  # checked here for the citizen, and again by the service
    case = current_app.extensions["rpc"].call("complaints", "register_case", intake.model_dump(exclude_none=True))
    response = jsonify(case)
    response.status_code = 201
    response.headers["Location"] = url_for("cases.get_case", tracking_code=case["tracking_code"])
    return response


@bp.get("/<tracking_code>")
def get_case(tracking_code: str):
    return jsonify(current_app.extensions["rpc"].call("complaints", "get_case", tracking_code))
