"""Staff work: a case in the cartable (within the unit's scope), and the administrator's revocation
and restoration of access (SPEC C12)."""
from __future__ import annotations

from flask import current_app, g, jsonify
from flask_openapi3 import APIBlueprint, Tag

from gateway.auth import ALL_STAFF, BEARER, requires
from gateway.schemas import Principal, Problem, RestoreBody, RevokeBody, StaffAccountPath, TrackingCodePath
from services.complaints.schemas import StaffCaseView

bp = APIBlueprint("staff", __name__, url_prefix="/api/v1/staff",
                  abp_tags=[Tag(name="staff", description="the cartable and staff administration")],
                  abp_security=BEARER)


@bp.get("/cases/<tracking_code>", responses={200: StaffCaseView, 401: Problem, 403: Problem, 404: Problem})
@requires(*ALL_STAFF)
def get_case(path: TrackingCodePath):
    """A case, if it is within the caller's unit (else 404: its existence is not disclosed)."""
    return jsonify(current_app.extensions["rpc"].call("complaints", "get_case_for_staff", g.principal,
                                                      path.tracking_code))


@bp.post("/accounts/<staff_id>/revoke", responses={200: Principal, 400: Problem, 401: Problem, 403: Problem,
                                                   404: Problem})
@requires("admin")
def revoke(path: StaffAccountPath, body: RevokeBody):
    """Revoke a staff member's access: every session ends on its next request."""
    return jsonify(current_app.extensions["rpc"].call("complaints", "revoke_access", g.principal,
                                                      path.staff_id, body.reason))


@bp.post("/accounts/<staff_id>/restore", responses={200: Principal, 400: Problem, 401: Problem,
                                                    403: Problem, 404: Problem})
@requires("admin")
def restore(path: StaffAccountPath, body: RestoreBody):
    """Restore access with a new password (only an administrator can)."""
    return jsonify(current_app.extensions["rpc"].call("complaints", "restore_access", g.principal,
                                                      path.staff_id, body.new_password))
