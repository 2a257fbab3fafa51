"""Staff work: a case in the cartable (within the unit's scope), the administrator's revocation and
restoration of access (SPEC C12), the platform's recorded outages (which deadlines and inactivity do not
count) and the rows the sweeps set aside."""
from __future__ import annotations

from flask import g, jsonify, url_for
from flask_openapi3 import APIBlueprint, Tag

from gateway.auth import ALL_STAFF, BEARER, BEARER_OR_KEY, forget_principal, requires
from gateway.protection import idempotency
from gateway.schemas import (
    AccountsQuery, ApiKeyBody, ApiKeyPath, ApiKeyView, CaseListQuery, DeadlinePolicies, IdempotencyHeader, IssuedApiKey,
    PasswordResetPath, PendingReset, PendingResetList, Principal, StaffAccountList, Problem, RestoreBody, RevokeBody,
    StaffAccountPath, SweepFailurePath, TrackingCodePath,
)
from gateway.services import complaints
from services.complaints.api import org
from services.complaints.api import (
    CallerCaseView, OutageIntake, OutageList, OutageView, ReporterIdentityViewList, StaffCasePage, StaffCaseView, SweepFailureList, SweepFailureView,
)

bp = APIBlueprint("staff", __name__, url_prefix="/api/v1/staff",
                  abp_tags=[Tag(name="staff", description="the cartable and staff administration")],
                  abp_security=BEARER)


@bp.get("/cases", responses={200: StaffCasePage, 400: Problem, 401: Problem, 403: Problem},
        security=BEARER_OR_KEY)
@requires(*ALL_STAFF, scope="cases:read")
def list_cases(query: CaseListQuery):
    """The cases within the caller's sight (nationwide for HQ and for integrators' keys with
    cases:read), newest first, without personal data; follow `next` (also a Link header) for more."""
    result = complaints().list_cases_for_staff(g.principal, query.limit, query.after, query.mobile)
    response = jsonify({"items": result["items"], "next": next_link(result["next"], query.limit)})
    if result["next"]:
        response.headers["Link"] = f'<{next_link(result["next"], query.limit)}>; rel="next"'
    return response


def next_link(cursor: str | None, limit: int) -> str | None:
    return url_for("staff.list_cases", after=cursor, limit=limit) if cursor else None


@bp.get("/cases/<tracking_code>", responses={200: StaffCaseView, 401: Problem, 403: Problem, 404: Problem})
@requires(*ALL_STAFF)
def get_case(path: TrackingCodePath):
    """A case, if it is within the caller's unit (else 404: its existence is not disclosed)."""
    return jsonify(complaints().get_case_for_staff(g.principal, path.tracking_code))


@bp.get("/calls/cases/<tracking_code>", responses={200: CallerCaseView, 401: Problem, 403: Problem, 404: Problem})
@requires(*sorted(org.ANSWERS_CALLERS))
def get_case_for_caller(path: TrackingCodePath):
    """For the hotline (1482): what to tell a caller about a case: what the caller could read with the
    code, and which unit holds it. An anonymous report is unknown here (404): its reporter follows it
    on the web with the secret."""
    return jsonify(complaints().get_case_for_caller(g.principal, path.tracking_code))


@bp.get("/reporter-identity-views", responses={200: ReporterIdentityViewList, 401: Problem, 403: Problem})
@requires("auditor")
def reporter_identity_views():
    """For the auditor: who was shown a reporter's identity, or looked cases up by a reporter's
    mobile, newest first (SPEC C17)."""
    return jsonify({"items": complaints().reporter_identity_views(g.principal)})


@bp.get("/accounts", responses={200: StaffAccountList, 400: Problem, 401: Problem, 403: Problem})
@requires("admin")
def accounts(query: AccountsQuery):
    """Staff accounts, to find those whose access was revoked (SPEC C12) and restore them."""
    return jsonify({"items": complaints().list_staff(g.principal, query.revoked)})


@bp.get("/deadline-policies", responses={200: DeadlinePolicies, 401: Problem, 403: Problem})
@requires(*ALL_STAFF)
def deadline_policies():
    """How long each level has, by class (SPEC C7); a hop keeps the deadline it was given."""
    return jsonify({"items": complaints().deadline_policies()})


@bp.put("/deadline-policies", responses={200: DeadlinePolicies, 400: Problem, 401: Problem, 403: Problem})
@requires("admin")
def set_deadline_policies(body: DeadlinePolicies):
    """Change some rules; they apply to hops opened from now on."""
    return jsonify({"items": complaints().set_deadline_policies(g.principal, body.model_dump()["items"])})


@bp.post("/accounts/<staff_id>/revoke", responses={200: Principal, 400: Problem, 401: Problem, 403: Problem,
                                                   404: Problem})
@requires("admin")
def revoke(path: StaffAccountPath, body: RevokeBody):
    """Revoke a staff member's access: every session ends on its next request."""
    revoked = complaints().revoke_access(g.principal, path.staff_id, body.reason)
    forget_principal(revoked["id"])  # the id as complaints spells it, as tokens carry it
    return jsonify(revoked)


@bp.post("/accounts/<staff_id>/restore", responses={200: Principal, 202: PendingReset, 400: Problem, 401: Problem,
                                                    403: Problem, 404: Problem})
@requires("admin")
def restore(path: StaffAccountPath, body: RestoreBody):
    """Give an account a new password and its access back (only an administrator can). Every session of
    the account ends, and its next login must choose a new password (403 `password_change_required`).
    A finance or administrator account's reset waits for a second administrator: 202 with the pending
    reset, which another administrator (not its subject) approves."""
    outcome = complaints().restore_access(g.principal, path.staff_id, body.new_password)
    response = jsonify(outcome)
    if outcome.get("state") == "pending":
        response.status_code = 202
    else:
        forget_principal(outcome["id"])
    return response


@bp.get("/password-resets", responses={200: PendingResetList, 401: Problem, 403: Problem})
@requires("admin")
def password_resets():
    """Resets waiting for a second administrator (each lapses after 24 hours)."""
    return jsonify({"items": complaints().password_resets(g.principal)})


@bp.post("/password-resets/<reset_id>/approve", responses={200: Principal, 401: Problem, 403: Problem,
                                                           404: Problem, 409: Problem})
@requires("admin")
def approve_password_reset(path: PasswordResetPath):
    """Approve another administrator's reset: it is applied now. Neither the administrator who asked for
    it nor its subject may approve it (403 `second_admin_required`)."""
    reset = complaints().approve_password_reset(g.principal, path.reset_id)
    forget_principal(reset["id"])
    return jsonify(reset)


@bp.post("/api-keys", responses={201: IssuedApiKey, 400: Problem, 401: Problem, 403: Problem, 422: Problem})
@requires("admin")
def issue_api_key(body: ApiKeyBody, header: IdempotencyHeader):
    """Issue an integrator's API key with scopes. The key is in this answer only; keep it safe."""
    response = jsonify(complaints().issue_api_key(g.principal, body.name, body.scopes, idempotency(header)))
    response.status_code = 201
    return response


@bp.post("/api-keys/<key_id>/revoke", responses={200: ApiKeyView, 401: Problem, 403: Problem, 404: Problem})
@requires("admin")
def revoke_api_key(path: ApiKeyPath):
    """Revoke an API key: refused from the next request on."""
    return jsonify(complaints().revoke_api_key(g.principal, path.key_id))


@bp.get("/outages", responses={200: OutageList, 401: Problem, 403: Problem})
@requires(*sorted(org.SEES_REPORTS))
def outages():
    """The windows in which the platform was unavailable, newest first: recorded by an administrator, or
    detected by the platform (its deadline sweep's pulse was silent). Deadlines and the 48 hours of
    inactivity that ran through a window are extended by it (SPEC C8, C12, C13)."""
    return jsonify({"items": complaints().list_outages(g.principal)})


@bp.post("/outages", responses={201: OutageView, 400: Problem, 401: Problem, 403: Problem, 422: Problem})
@requires("admin")
def record_outage(body: OutageIntake, header: IdempotencyHeader):
    """Record a time the platform was unavailable, after it ended (at most 14 days): who, when and why are
    kept, and a window is never changed or deleted. Deadlines not yet acted on that ran through it are
    extended; escalations and revocations already made stand."""
    response = jsonify(complaints().record_outage(g.principal, body.model_dump(mode="json"), idempotency(header)))
    response.status_code = 201
    return response


@bp.get("/sweeps/failures", responses={200: SweepFailureList, 401: Problem, 403: Problem})
@requires("admin")
def sweep_failures():
    """Rows a sweep could not act on (a case it could not escalate, warn about or close; a staff member it
    could not revoke), set aside with their error while the rest went on; each is tried again alone at its
    `retry_at` (an hour after it failed, doubling up to a day)."""
    return jsonify({"items": complaints().list_sweep_failures(g.principal)})


@bp.post("/sweeps/failures/<sweep>/<subject_id>/retry", responses={200: SweepFailureView, 401: Problem,
                                                                  403: Problem, 404: Problem})
@requires("admin")
def retry_sweep_failure(path: SweepFailurePath):
    """The cause is fixed: try the row again, alone, at the sweep's next run."""
    return jsonify(complaints().retry_sweep_failure(g.principal, path.sweep, path.subject_id))
