"""Who saw a reporter's identity (SPEC C17): every time a name, mobile or national ID of a reporter is
shown to staff, or staff look cases up by a reporter's mobile, a row here says who, when, which case
and how, in the same transaction as the answer that showed it (an answer never goes out unaudited)."""
from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from services.complaints.models import Case, ReporterIdentityView, Staff

HOW = ("case_view", "cases_by_mobile", "cartable_search_by_mobile")


def record(session: Session, actor: dict, case_ids: list[str], how: str) -> None:
    assert how in HOW, how
    if not case_ids:
        case_ids = [None]  # a look-up that found nothing is still a look-up
    session.execute(insert(ReporterIdentityView), [
        {"case_id": case_id, "staff_id": actor["id"], "role": actor["role"], "unit_id": actor["unit"], "how": how}
        for case_id in case_ids])


def listing(session: Session, limit: int = 200) -> list[dict]:
    """The newest views first, for the auditor."""
    rows = session.execute(
        select(ReporterIdentityView, Case.tracking_code, Staff.username)
        .outerjoin(Case, Case.id == ReporterIdentityView.case_id)
        .join(Staff, Staff.id == ReporterIdentityView.staff_id)
        .order_by(ReporterIdentityView.id.desc()).limit(limit))
    return [{"at": v.at.isoformat(), "staff": username, "role": v.role, "unit": v.unit_id, "how": v.how,
             "tracking_code": code} for v, code, username in rows]
