"""Acting on a case needs proof of being its reporter (issue 18), on the real PostgreSQL: the tracking code alone
opens a named case to anyone who has seen it (every staff member on its path, every integrator reading cases), and
rating it closes it. An anonymous report's proof is its secret; a named case's, a reporter session for that case,
which the gateway opens after a code texted to the mobile the case was registered with (reporter_case says whether
a mobile is that one, and tells nothing of an anonymous report)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from common.errors import NotFound, Unauthenticated
from services.complaints import cases, domain, evidence
from services.complaints.schemas import CaseIntake

MOBILE = "09121234567"
REPORT = "در مرکز نگهداری سالمندان با سالمندان بدرفتاری می‌شود."


@pytest.fixture
def session(db_urls):
    engine = sa.create_engine(db_urls["complaints"])
    with Session(engine) as s:
        yield s
    engine.dispose()


def named(session) -> str:
    with session.begin():
        return cases.register(session, CaseIntake(kind="complaint", mobile=MOBILE, category="pension",
                                                  text="مستمری سه ماه گذشتهٔ مادرم واریز نشده است.")).tracking_code


def session_for(code: str) -> dict:
    return {"kind": "reporter", "tracking_code": code}  # as the gateway signs it after the texted code


def test_a_named_case_is_not_acted_on_with_its_code_alone(session):
    code, other = named(session), named(session)
    for actor in (None, session_for(other), {"kind": "staff", "id": "x", "tracking_code": code}):
        with pytest.raises(Unauthenticated) as refused, session.begin():
            evidence.authorise_reporter(session, code, None, actor)
        assert refused.value.code == "reporter_proof_required"
        with pytest.raises(Unauthenticated), session.begin():
            cases.report_again(session, code, None, None, actor)
    with session.begin():
        assert evidence.authorise_reporter(session, code, None, session_for(code))["files_left"] > 0
    with session.begin():
        status = session.execute(sa.text("SELECT status FROM cases WHERE tracking_code = :c"), {"c": code}).scalar()
    assert status == "registered"  # nothing refused changed it


def test_an_anonymous_report_is_acted_on_with_its_secret_and_a_reporter_session_is_not_its_proof(session):
    secret = domain.case_secret(None, "key")
    with session.begin():
        code = cases.register(session, CaseIntake(kind="violation_report", text=REPORT), secret).tracking_code
    with session.begin():
        assert evidence.authorise_reporter(session, code, secret)["files_left"] > 0
    with pytest.raises(NotFound), session.begin():
        evidence.authorise_reporter(session, code, None, session_for(code))


def test_reporter_case_says_only_whether_the_mobile_is_the_case_s(session):
    code = named(session)
    with session.begin():
        assert cases.reporter_case(session, code, MOBILE) == code
        assert cases.reporter_case(session, code, "09351112233") is None
    secret = domain.case_secret(None, "key")
    with session.begin():
        anonymous = cases.register(session, CaseIntake(kind="violation_report", text=REPORT), secret).tracking_code
    with pytest.raises(NotFound), session.begin():  # as unknown as a code that does not exist
        cases.reporter_case(session, anonymous, MOBILE)
