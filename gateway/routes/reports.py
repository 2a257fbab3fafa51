"""Reports for managers (SPEC C13, C15) and the organization's reference data for pickers."""
from __future__ import annotations

from flask import g, jsonify
from flask_openapi3 import APIBlueprint, Tag

from gateway.auth import BEARER, requires
from gateway.schemas import CategoryList, Dashboard, OrgUnitList, OrgUnitQuery, PeriodQuery, Problem, Scorecards
from gateway.services import complaints
from services.complaints.api import org
from common.reference_data import CATEGORIES

bp = APIBlueprint("reports", __name__, url_prefix="/api/v1",
                  abp_tags=[Tag(name="reports", description="dashboards, scorecards, and the organization tree")])

READERS = tuple(sorted(org.SEES_REPORTS))


@bp.get("/staff/reports/dashboard", security=BEARER,
        responses={200: Dashboard, 400: Problem, 401: Problem, 403: Problem})
@requires(*READERS)
def dashboard(query: PeriodQuery):
    """Cases by kind, category, center and status, on-time rates per unit and manager, misses and
    the most frequent problems of the past year, over the caller's own subtree (SPEC C15)."""
    return jsonify(complaints().dashboard(g.principal, *query.bounds()))


@bp.get("/staff/reports/scorecards", security=BEARER,
        responses={200: Scorecards, 400: Problem, 401: Problem, 403: Problem})
@requires(*READERS)
def scorecards(query: PeriodQuery):
    """Each manager's deadline record in the caller's subtree, worst first (SPEC C13)."""
    cards = complaints().scorecards(g.principal, *query.bounds())
    return jsonify({"items": cards})


@bp.get("/org/units", responses={200: OrgUnitList, 400: Problem})
def units(query: OrgUnitQuery):
    """The organization tree: HQ units, the 31 provinces, their units, counties and centers."""
    return jsonify({"items": complaints().org_units(query.kind, query.parent)})


@bp.get("/org/categories", responses={200: CategoryList})
def categories():
    """What a case can be about (the `category` of a case), for pickers."""
    return jsonify({"items": [{"code": code, "title_fa": title} for code, title in CATEGORIES.items()]})
