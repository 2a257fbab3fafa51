"""What a citizen hears of one complaint (SPEC C9) and sees on its timeline (C3), measured end to end on the real
PostgreSQL and broker: the complaints rules walk the case (referred down to Rey, answered, returned once, answered
again, approved up the chain, rated), every event it wrote to its outbox goes to the notifications service as the
relay would send it, and the fake SMS operator counts the messages and their parts (docs/people.md has the figures)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from nameko.testing.services import entrypoint_waiter
from sqlalchemy.orm import Session

from services.complaints import cases
from services.complaints.demo_staff import load_demo_staff
from services.complaints.schemas import CaseIntake
from tests.helpers import publish
from tests.service.complaints_helpers import principal, refer_to_rey

MOBILE = "09121234567"
REY = "prov.tehran.county.rey"


@pytest.fixture
def complaints_db(db_urls):
    load_demo_staff(db_urls["complaints"])
    engine = sa.create_engine(db_urls["complaints"])
    yield engine
    engine.dispose()


def act(session, username, do, *args):
    with session.begin():
        return do(session, principal(session, username), *args)


def walk_one_complaint(session) -> str:
    with session.begin():
        code = cases.register(session, CaseIntake(kind="complaint", mobile=MOBILE, category="pension",
                                                  text="مستمری سه ماه گذشتهٔ مادرم واریز نشده است.")).tracking_code
    refer_to_rey(session, code)
    act(session, "rey.expert", cases.answer, code, "مستمری واریز شد.", [])
    act(session, "tehran.head", cases.return_answer, code, "مبلغ و تاریخ واریز را بنویسید.")
    act(session, "rey.expert", cases.answer, code, "مستمری سه ماه، ۴۵٬۰۰۰٬۰۰۰ ریال، امروز واریز شد.", [])
    for approver in ("tehran.head", "rehab.head", "operator"):
        act(session, approver, cases.approve, code, None)
    with session.begin():
        cases.rate(session, code, None, 4, {"kind": "reporter", "tracking_code": code})  # in a reporter session
    return code


def relay(engine, notifications, rabbit_config) -> list[str]:
    """Every event of the outbox, in order, to the notifications service; each waited on until handled."""
    with engine.connect() as conn:
        envelopes = conn.execute(sa.text("SELECT envelope FROM outbox ORDER BY seq")).scalars().all()
    steps = []
    for envelope in envelopes:
        step = envelope["type"].split(".")[-2]
        with entrypoint_waiter(notifications, f"on_case_{step}", timeout=15):
            publish(rabbit_config["AMQP_URI"], envelope)
        steps.append(step)
    return steps


def test_a_complaint_answered_and_approved_up_the_chain_texts_its_citizen_once_per_step_they_recognise(
        complaints_db, notifications, sms_operator, rabbit_config):
    with Session(complaints_db) as session:
        code = walk_one_complaint(session)
        timeline = [s["stage_fa"] for s in cases.public_view(cases.find(session, code))["timeline"]]
    steps = relay(complaints_db, notifications, rabbit_config)
    assert steps == ["registered", "triaged", "referred", "referred", "answered", "returned", "answered",
                     "approved", "approved", "approved", "closed"]

    to_citizen = [m for m in sms_operator.operator.messages if m["receptor"] == MOBILE]
    texts = [m["message"] for m in to_citizen]
    assert len(texts) == 6, texts  # registered, handed to three units, the answer ready, closed
    assert all(code in text for text in texts)
    assert "ثبت شد" in texts[0] and "پاسخ درخواست شما آماده است" in texts[4] and "بسته شد" in texts[5]
    assert [t for t in texts if "ارجاع شد" in t] == texts[1:4]
    assert not any("تأیید" in t or "بازبینی" in t or "دوباره" in t for t in texts)  # no review loop
    parts = [m["segments"] for m in to_citizen]
    assert parts == [2, 1, 1, 1, 2, 1], texts  # the two messages with a link take two parts
    assert sum(m["cost"] for m in to_citizen) == sum(parts) * sms_operator.operator.cost_per_part

    assert timeline.count("پاسخ تأیید شد") == 1
    assert timeline == ["ثبت شد", "بررسی اولیه شد و به واحد ستادی ارجاع شد", "ارجاع شد", "ارجاع شد",
                        "پاسخ تهیه شد و در دست تأیید است", "پاسخ تأیید شد", "بسته شد"]
