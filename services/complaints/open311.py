"""Requests as Open311 GeoReport v2 shows them to third-party apps and aggregators (issue 20): only the kinds an app
may send (never a violation report), no personal field, the case's own id (a UUID that opens nothing) rather than
its tracking code. The tracking code is the citizen's handle to follow and act on the case, so it is never
listed; an app that registered a case holds it as the request's `token`, and asking by it also returns where the
case is about (the app sent it)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.jalali import iso
from services.complaints import domain
from services.complaints.cases import location_of
from services.complaints.models import Case, CaseHistory

WINDOW = timedelta(days=90)  # GeoReport v2: the default range, and the longest one asked
MAX_REQUESTS = 1000


def _updated():
    return select(func.max(CaseHistory.at)).where(CaseHistory.case_id == Case.id).scalar_subquery()


def _view(case: Case, updated: datetime | None, with_location: bool) -> dict:
    view = {"id": case.id, "kind": case.kind, "kind_fa": domain.KINDS[case.kind],
            "status": "closed" if case.status == "closed" else "open",
            "status_fa": domain.STATUSES_FA.get(case.status, case.status),
            "registered_at": iso(case.registered_at), "updated_at": iso(updated or case.registered_at)}
    if with_location:
        view["location"] = location_of(case)
    return view


def requests(session: Session, kinds: list[str], start: datetime, end: datetime, statuses: list[str],
             limit: int = MAX_REQUESTS) -> list[dict]:
    """The requests registered in [start, end), newest first; `kinds` and `statuses` (open, closed) narrow it."""
    kinds = [k for k in (kinds or domain.PARTNER_APP_KINDS) if k in domain.PARTNER_APP_KINDS]
    query = (select(Case, _updated()).where(Case.kind.in_(kinds), Case.registered_at >= start,
                                            Case.registered_at < end)
             .order_by(Case.registered_at.desc(), Case.id.desc()).limit(min(limit, MAX_REQUESTS)))
    if statuses and set(statuses) != {"open", "closed"}:
        query = query.where(Case.status == "closed" if statuses == ["closed"] else Case.status != "closed")
    return [_view(case, updated, with_location=False) for case, updated in session.execute(query)]


def request(session: Session, request_id: str) -> dict | None:
    """One request by its id (the listing's UUID) or by its tracking code (the app's token: then with where it
    is about); None for what no app may see."""
    try:
        query = select(Case, _updated()).where(Case.id == str(uuid.UUID(request_id)))
        by_code = False
    except ValueError:
        code = domain.normalise_tracking_code(request_id)
        if code is None:
            return None
        query, by_code = select(Case, _updated()).where(Case.tracking_code == code), True
    found = session.execute(query).first()
    if found is None or found[0].kind not in domain.PARTNER_APP_KINDS:
        return None
    return _view(found[0], found[1], with_location=by_code)
