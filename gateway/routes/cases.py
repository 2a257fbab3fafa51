"""Cases for citizens: registration, following a case by its tracking code, evidence, reporting again
and rating the answer (SPEC C1, C3, C4, C10)."""
from __future__ import annotations

import base64

from flask import current_app, jsonify, request, url_for
from flask_openapi3 import APIBlueprint, Tag
from pydantic import ValidationError

from common.validation import field_errors
from gateway import problems

from gateway.auth import accepts_upload
from gateway.protection import idempotency
from gateway.schemas import CaseSecretHeader, IdempotencyHeader, Problem, TrackingCodePath, UploadForm
from services.complaints.schemas import CaseView, CitizenCaseIntake, FileView, Rating, RegisteredCase, ReportAgain

bp = APIBlueprint("cases", __name__, url_prefix="/api/v1/cases",
                  abp_tags=[Tag(name="cases", description="Didehban: register and follow a case")])


@bp.post("", responses={201: RegisteredCase, 400: Problem, 413: Problem, 422: Problem, 429: Problem, 503: Problem,
                        504: Problem})
def register_case(body: CitizenCaseIntake, header: IdempotencyHeader):
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


@bp.before_request
def authorise_evidence_before_its_body():
    """An upload is authorised before its body is read (issue 18): the code, an anonymous report's
    secret, the case's state and quota are checked with a small RPC, so a stranger's 10 MB costs the
    platform nothing but that. flask-openapi3 reads the form only when it calls the view, after this."""
    if request.endpoint != "cases.add_evidence":
        return None
    try:
        path = TrackingCodePath.model_validate(request.view_args or {})
        header = CaseSecretHeader.model_validate({"X-Case-Secret": request.headers.get("X-Case-Secret")})
    except ValidationError as exc:
        return problems.invalid(field_errors(exc)).response()
    current_app.extensions["rpc"].call("complaints", "authorise_evidence", path.tracking_code, header.case_secret)
    return None


@bp.post("/<tracking_code>/evidence", responses={201: FileView, 400: Problem, 404: Problem, 409: Problem, 413: Problem,
                                                 429: Problem, 503: Problem, 504: Problem})
@accepts_upload
def add_evidence(path: TrackingCodePath, header: CaseSecretHeader, form: UploadForm):
    """Send evidence for a case, at registration or when inspection asks (SPEC C4): PDF, image,
    audio or MP4, at most 10 MB each, 10 files and 40 MB per case. The type is read from the content;
    an image is kept without its metadata (EXIF, GPS). The code and secret are checked before the
    file is read."""
    saved = current_app.extensions["rpc"].call("complaints", "add_evidence", path.tracking_code, header.case_secret,
                                               form.file.filename, base64.b64encode(form.file.read()).decode())
    response = jsonify(saved)
    response.status_code = 201
    return response


@bp.post("/<tracking_code>/report-again", responses={200: CaseView, 400: Problem, 404: Problem, 409: Problem,
                                                     429: Problem, 503: Problem, 504: Problem})
def report_again(path: TrackingCodePath, header: CaseSecretHeader, body: ReportAgain):
    """Report that a step was not followed up (SPEC C10): the case moves to the unit above the one
    holding it and the managers there are told. Possible once the result the citizen was promised
    (SPEC C7: urgent 3 hours, normal 1 day from registration or the last report again) is late, or
    within 7 days after the answer; never at the top of the path. `report_again_from` in the case
    says when; too early is a 409 `report_again_too_early` that says until when."""
    return jsonify(current_app.extensions["rpc"].call("complaints", "report_again", path.tracking_code,
                                                      header.case_secret, body.model_dump(exclude_none=True)))


@bp.post("/<tracking_code>/rating", responses={200: CaseView, 400: Problem, 404: Problem, 409: Problem,
                                               429: Problem, 503: Problem, 504: Problem})
def rate(path: TrackingCodePath, header: CaseSecretHeader, body: Rating):
    """Rate the answer from 1 to 5; this closes the case (it can still be reported again within 7
    days of the answer)."""
    return jsonify(current_app.extensions["rpc"].call("complaints", "rate_answer", path.tracking_code,
                                                      header.case_secret, body.model_dump()))
