"""The staff's work on cases (SPEC C1, C4–C6, C14): the cartable, registering on a caller's behalf,
referral, answers and their approval, evidence requests, attachments and file downloads."""
from __future__ import annotations

import base64

from typing import Literal

from flask import Response, g, jsonify
from flask_openapi3 import APIBlueprint, Tag
from pydantic import Field

from gateway.auth import ALL_STAFF, BEARER, accepts_upload, requires
from gateway.protection import idempotency
from gateway.schemas import CaseFilePath, IdempotencyHeader, PageQuery, Problem, TrackingCodePath, UploadForm
from gateway.services import complaints
from common.validation import FreeText
from services.complaints.api import org
from services.complaints.api import (
    Answer, CartablePage, Category, Kind, Urgency, StaffCaseIntake, FileView, Note, Referral, RegisteredCase, RequiredNote, StaffCaseView,
)

bp = APIBlueprint("casework", __name__, url_prefix="/api/v1/staff",
                  abp_tags=[Tag(name="casework", description="Didehban: the cartable and the work on a case")],
                  abp_security=BEARER)

ACTING = tuple(sorted(org.ACTS_ON_CASES))
MANAGING = tuple(sorted(org.MANAGERS))
REGISTERING = ("hotline_operator", "hq_operator", *ACTING)
ACTION_ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem}


class CartableQuery(PageQuery):
    q: FreeText(1, 100) | None = Field(None, description="a tracking code (or 4 or more of its digits), the reporter's "
                                                         "mobile (inspection only, SPEC C17) or words of the text")
    kind: Kind | None = None
    urgency: Urgency | None = None
    category: Category | None = None
    due: Literal["overdue", "today", "later"] | None = Field(None, description="the deadline: passed, later today "
                                                                               "(Tehran), or after today")
    order: Literal["deadline", "newest"] = Field("deadline", description="nearest deadline first, or newest first")


@bp.get("/cartable", responses={200: CartablePage, 400: Problem, 401: Problem, 403: Problem})
@requires(*ACTING)
def cartable(query: CartableQuery):
    """The cases waiting on the caller's unit, nearest deadline first (SPEC C14), a keyset page at a
    time (follow `next` with the same filters), searched and filtered. Opening it keeps the account
    alive: 48 hours without it and access is revoked (SPEC C12)."""
    filters = query.model_dump(include={"q", "kind", "urgency", "category", "due", "order"}, exclude_none=True)
    return jsonify(complaints().cartable(g.principal, query.limit, query.after, filters))


@bp.post("/cases", responses={201: RegisteredCase, 422: Problem, **ACTION_ERRORS})
@requires(*REGISTERING)
def register_for_caller(body: StaffCaseIntake, header: IdempotencyHeader):
    """A hotline operator (1482) or a staff member registers a case on a caller's behalf (SPEC C1);
    the channel says which (`hotline` or `staff`), and the history names who registered it."""
    response = jsonify(complaints().register_case(body.model_dump(exclude_none=True), idempotency(header), g.principal))
    response.status_code = 201
    return response


def _act(act, path: TrackingCodePath, body) -> Response:
    """One of complaints' actions on a case (`act`), by the staff member asking."""
    return jsonify(act(g.principal, path.tracking_code, body.model_dump(exclude_none=True)))


@bp.post("/cases/<tracking_code>/refer", responses={200: StaffCaseView, **ACTION_ERRORS})
@requires(*ACTING)
def refer(path: TrackingCodePath, body: Referral):
    """Refer the case one level down (SPEC C5); from inspection's operators this is the triage."""
    return _act(complaints().refer_case, path, body)


@bp.post("/cases/<tracking_code>/answer", responses={200: StaffCaseView, **ACTION_ERRORS})
@requires(*ACTING)
def answer(path: TrackingCodePath, body: Answer):
    """Answer the case; the answer goes up the referral path for approval (SPEC C6)."""
    return _act(complaints().answer_case, path, body)


@bp.post("/cases/<tracking_code>/approve", responses={200: StaffCaseView, **ACTION_ERRORS})
@requires(*MANAGING)
def approve(path: TrackingCodePath, body: Note):
    """Approve the answer; the last approval sends it to the citizen."""
    return _act(complaints().approve_answer, path, body)


@bp.post("/cases/<tracking_code>/return", responses={200: StaffCaseView, **ACTION_ERRORS})
@requires(*MANAGING)
def return_answer(path: TrackingCodePath, body: RequiredNote):
    """Return the answer to the unit that wrote it, with a note saying what to change."""
    return _act(complaints().return_answer, path, body)


@bp.post("/cases/<tracking_code>/evidence-request", responses={200: StaffCaseView, **ACTION_ERRORS})
@requires(*ACTING)
def request_evidence(path: TrackingCodePath, body: RequiredNote):
    """Ask the reporter for documents (SPEC C4); the note is shown on the citizen's timeline."""
    return _act(complaints().request_evidence, path, body)


@bp.post("/cases/<tracking_code>/attachments", responses={201: FileView, 413: Problem, **ACTION_ERRORS})
@requires(*ACTING)
@accepts_upload
def attach(path: TrackingCodePath, form: UploadForm):
    """Upload a file to attach to the answer (PDF, image, audio or MP4; at most 10 MB)."""
    response = jsonify(complaints().add_attachment(g.principal, path.tracking_code, form.file.filename,
                                                   base64.b64encode(form.file.read()).decode()))
    response.status_code = 201
    return response


@bp.get("/cases/<tracking_code>/files/<file_id>",
        responses={200: {"description": "the file", "content": {"application/octet-stream": {
            "schema": {"type": "string", "format": "binary", "examples": ["%PDF-1.4 …"]}}}}, 401: Problem, 403: Problem, 404: Problem})
@requires(*ALL_STAFF)
def download(path: CaseFilePath):
    """A file of the case, for staff who can see it; a violation report's evidence only for
    inspection roles (SPEC C17)."""
    got = complaints().get_file(g.principal, path.tracking_code, path.file_id)
    response = Response(base64.b64decode(got["content_b64"]), mimetype=got["content_type"])
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quote(got['filename'])}"
    response.headers["Digest"] = f"sha-256={base64.b64encode(bytes.fromhex(got['sha256'])).decode()}"
    response.headers["Cache-Control"] = "no-store"
    return response


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
