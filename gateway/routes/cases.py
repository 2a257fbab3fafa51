"""Cases for citizens: registration, following a case by its tracking code, evidence, reporting again
and rating the answer (SPEC C1, C3, C4, C10).

Following a case needs its tracking code (and an anonymous report's secret). Acting on it (evidence, report
again, rating, which closes it) needs a proof of being its reporter: an anonymous report's secret, or for a
named case a reporter session, opened with a one-time code texted to the mobile it was registered with
(issue 18: every staff member on the case's path and every integrator reading cases sees the code)."""
from __future__ import annotations

import base64

from flask import jsonify, request, url_for
from flask_openapi3 import APIBlueprint, Tag
from pydantic import ValidationError

from common.validation import field_errors
from gateway import problems

from common.config import get_settings
from common.errors import FieldError
from gateway.auth import accepts_upload, reporter, reporter_token
from gateway.protection import client_key, idempotency
from gateway.schemas import CaseSecretHeader, IdempotencyHeader, Problem, TrackingCodePath, UploadForm
from gateway.services import complaints, notifications
from services.complaints.api import (
    REPORTER_CODE_SENT_FA,
    CaseView,
    CitizenCaseIntake,
    FileView,
    Rating,
    RegisteredCase,
    ReportAgain,
    ReporterCodeAccepted,
    ReporterCodeRequest,
    ReporterSession,
    ReporterSessionRequest,
)

bp = APIBlueprint("cases", __name__, url_prefix="/api/v1/cases",
                  abp_tags=[Tag(name="cases", description="Didehban: register and follow a case")])
REPORTER_PURPOSE = "case_reporter"  # the one-time code's purpose (services/notifications/schemas.py)
NOBODY = "09000000000"  # a mobile no one has: a wrong mobile's code check costs what a right one's does


@bp.post("", responses={201: RegisteredCase, 400: Problem, 413: Problem, 422: Problem, 429: Problem, 503: Problem,
                        504: Problem})
def register_case(body: CitizenCaseIntake, header: IdempotencyHeader):
    """Register a complaint, report or request. Checked here for the citizen, and again by the service. A named
    case's answer holds a reporter session for whoever registered it (evidence may follow at once)."""
    case = complaints().register_case(body.model_dump(exclude_none=True), idempotency(header))
    if not case.get("secret"):  # whoever registered a named case is its reporter: evidence may follow at once
        token, seconds = reporter_token(case["tracking_code"], get_settings())
        case["reporter_session"] = {"token": token, "token_type": "Bearer", "expires_in": seconds}
    response = jsonify(case)
    response.status_code = 201
    response.headers["Location"] = url_for("cases.get_case", tracking_code=case["tracking_code"])
    return response


@bp.get("/<tracking_code>", responses={200: CaseView, 404: Problem, 503: Problem, 504: Problem})
def get_case(path: TrackingCodePath, header: CaseSecretHeader):
    """A case's stage and timeline, by its tracking code (and an anonymous report's secret, in
    X-Case-Secret). No personal data."""
    return jsonify(complaints().get_case(path.tracking_code, header.case_secret))


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
    complaints().authorise_evidence(path.tracking_code, header.case_secret, actor=reporter())
    return None


@bp.post("/<tracking_code>/evidence", responses={201: FileView, 400: Problem, 404: Problem, 409: Problem, 413: Problem,
                                                 429: Problem, 503: Problem, 504: Problem})
@accepts_upload
def add_evidence(path: TrackingCodePath, header: CaseSecretHeader, form: UploadForm):
    """Send evidence for a case, at registration or when inspection asks (SPEC C4): PDF, image,
    audio or MP4, at most 10 MB each, 10 files and 40 MB per case. The type is read from the content;
    an image is kept without its metadata (EXIF, GPS). The code and secret are checked before the
    file is read."""
    saved = complaints().add_evidence(path.tracking_code, header.case_secret,
                                      form.file.filename, base64.b64encode(form.file.read()).decode(),
                                      actor=reporter())
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
    return jsonify(complaints().report_again(path.tracking_code,
                                             header.case_secret, body.model_dump(exclude_none=True),
                                             actor=reporter()))


@bp.post("/<tracking_code>/rating", responses={200: CaseView, 400: Problem, 404: Problem, 409: Problem,
                                               429: Problem, 503: Problem, 504: Problem})
def rate(path: TrackingCodePath, header: CaseSecretHeader, body: Rating):
    """Rate the answer from 1 to 5; this closes the case (it can still be reported again within 7
    days of the answer)."""
    return jsonify(complaints().rate_answer(path.tracking_code,
                                            header.case_secret, body.model_dump(), actor=reporter()))


# the reporter of a named case proves it (issue 18) ------------------------------------------------------------
@bp.post("/<tracking_code>/reporter/code", responses={202: ReporterCodeAccepted, 400: Problem, 404: Problem,
                                                      429: Problem, 503: Problem, 504: Problem})
def request_reporter_code(path: TrackingCodePath, body: ReporterCodeRequest):
    """Ask for a one-time code to act on a named case (rate it, report it again, send evidence): it is texted
    to the given mobile only if the case was registered with it, and the answer is the same either way. An
    anonymous report is acted on with its secret (and is unknown here without it: 404)."""
    if complaints().reporter_case(path.tracking_code, body.mobile):
        notifications().issue_code(body.mobile, REPORTER_PURPOSE, client_key())
    else:  # the same one publish to the broker, so that the time does not tell either
        notifications().health_sent()
    response = jsonify({"accepted": True, "message_fa": REPORTER_CODE_SENT_FA})
    response.status_code = 202
    return response


@bp.post("/<tracking_code>/reporter/session", responses={200: ReporterSession, 400: Problem, 401: Problem,
                                                         404: Problem, 429: Problem, 503: Problem, 504: Problem})
def open_reporter_session(path: TrackingCodePath, body: ReporterSessionRequest):
    """Trade the mobile and its one-time code for a short reporter session (a bearer token) that lets its holder
    rate this case, report it again and send evidence to it, and nothing else. A wrong mobile or code: 401."""
    tracking_code = complaints().reporter_case(path.tracking_code, body.mobile)
    verified = notifications().verify_code(body.mobile if tracking_code else NOBODY, REPORTER_PURPOSE,
                                           body.code)["verified"]
    if not (verified and tracking_code):
        message = "شمارهٔ همراه یا کد تأیید درست نیست یا کد منقضی شده است؛ در صورت نیاز کد تازه بخواهید."
        detail = "wrong mobile, or a wrong, used or expired one-time code"
        raise problems.Problem(401, "invalid_code", "Unauthenticated", message, detail,
                               errors=[FieldError("code", "invalid_code", message, detail)])
    token, seconds = reporter_token(tracking_code, get_settings())
    response = jsonify({"token": token, "token_type": "Bearer", "expires_in": seconds})
    response.headers["Cache-Control"] = "no-store"
    return response
