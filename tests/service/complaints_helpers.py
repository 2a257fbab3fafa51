"""Casework on the complaints database as the service tests (and a browser test) set it up: a staff member's
principal, cases registered, a case referred down the chain to Rey county, and one value read with SQL."""
from __future__ import annotations

import sqlalchemy as sa

from services.complaints import cases
from services.complaints.models import Staff
from services.complaints.schemas import CaseIntake

REY = "prov.tehran.county.rey"


def principal(session, username):
    person = session.scalars(sa.select(Staff).where(Staff.username == username)).one()
    return {"kind": "staff", "id": person.id, "full_name": person.full_name, "role": person.role,
            "unit": person.unit_id, "username": username}


def register(session, n=1, urgency="normal", kind="complaint"):
    with session.begin():
        return [cases.register(session, CaseIntake(kind=kind, urgency=urgency, mobile="09121234567",
                                                   text="مستمری این ماه هنوز واریز نشده است.")).tracking_code
                for _ in range(n)]


def refer_to_rey(session, code):
    for username, unit in [("operator", "hq.rehabilitation"), ("rehab.expert", "prov.tehran"), ("tehran.head", REY)]:
        with session.begin():
            cases.refer(session, principal(session, username), code, unit, "پیگیری شود")


def scalar(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()
