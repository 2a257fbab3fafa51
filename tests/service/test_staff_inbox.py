"""Staff in-app notifications (SPEC N2): what each event tells whom (pure), the table in the real
PostgreSQL, and the whole way from the broker's case-step event to the RPCs in a nameko container."""
import uuid

import pytest
import sqlalchemy as sa
from nameko.testing.services import entrypoint_waiter
from sqlalchemy.orm import Session

from common.errors import Forbidden, InvalidRequest
from common.events import schemas
from common.events.catalog import CASE_STEP_EVENTS, STAFF_ACCESS_REVOKED
from common.events.envelope import new_event
from services.notifications import staff_inbox
from tests.helpers import gateway_proxy, publish

CODE = "4203917755102846"
DEADLINE_FA = "۱۴۰۵/۰۹/۰۷ ۱۲:۳۰"  # 2026-11-28T09:00:00Z in Tehran, Jalali
ALICE, BOB = str(uuid.uuid4()), str(uuid.uuid4())


def case_step(step: str, status: str, staff=(ALICE, BOB), **more) -> dict:
    data = {"tracking_code": CODE, "step": step, "kind": "complaint", "urgency": "normal", "status": status,
            "holder_unit": "prov.tehran.county.rey", "holder_unit_fa": "اداره بهزیستی شهرستان ری",
            "at": "2026-11-26T09:00:00Z", "deadline_at": "2026-11-28T09:00:00Z", "reporter_mobile": "09121234567",
            **more}
    if staff:
        data["staff_recipients"] = [{"id": s, "mobile": f"0935111000{i}"} for i, s in enumerate(staff)]
    event = new_event(CASE_STEP_EVENTS[step], data, subject=CODE)
    assert schemas.errors_of(event) == []
    return event


def access_revoked(staff_id: str = ALICE, by: str = "inactivity") -> dict:
    event = new_event(STAFF_ACCESS_REVOKED, {
        "staff_id": staff_id, "username": "rey.head", "unit": "prov.tehran.county.rey",
        "reason": "۴۸ ساعت کارتابل باز نشد", "by": by, "at": "2026-11-26T09:00:00Z"}, subject=staff_id)
    assert schemas.errors_of(event) == []
    return event


# what each event says (pure) ---------------------------------------------------------------------------------
@pytest.mark.parametrize("step, status, kind", [
    ("triaged", "referred", "case_in_cartable"),
    ("referred", "referred", "case_in_cartable"),
    ("moved_up", "referred", "case_in_cartable"),
    ("returned", "returned", "case_returned"),
    ("answered", "awaiting_approval", "case_awaiting_approval"),
    ("approved", "awaiting_approval", "case_awaiting_approval"),
    ("deadline_warning", "referred", "deadline_warning"),
    ("deadline_missed", "escalated", "deadline_missed"),
    ("reopened", "reopened", "case_reopened"),
])
def test_each_step_that_reaches_a_cartable_tells_each_named_person_once(step, status, kind):
    notices = staff_inbox.notifications_for(case_step(step, status, staff=(ALICE, BOB, ALICE)))
    assert [n.staff_id for n in notices] == [ALICE, BOB]
    for n in notices:
        assert n.kind == kind and n.tracking_code == CODE and n.title_fa == staff_inbox.TITLES[kind]
        assert CODE in n.body_fa and DEADLINE_FA in n.body_fa


def test_steps_that_leave_the_cartables_tell_no_staff():
    assert staff_inbox.notifications_for(case_step("approved", "answered", final=True)) == []
    assert staff_inbox.notifications_for(case_step("closed", "closed")) == []
    assert staff_inbox.notifications_for(case_step("evidence_requested", "referred")) == []
    assert staff_inbox.notifications_for(case_step("referred", "referred", staff=())) == []


def test_a_revoked_person_is_told_of_it():
    [notice] = staff_inbox.notifications_for(access_revoked(BOB, by="admin"))
    assert (notice.staff_id, notice.kind, notice.tracking_code) == (BOB, "access_revoked", None)
    assert "rey.head" in notice.body_fa and "مدیر سامانه" in notice.body_fa


# the table ----------------------------------------------------------------------------------------------------
@pytest.fixture
def session(db):
    with Session(db) as s:
        yield s


def test_a_referral_to_two_people_makes_two_notifications_once(session, db):
    event = case_step("referred", "referred")
    with session.begin():
        assert staff_inbox.record(session, event) == 2
    with session.begin():
        assert staff_inbox.record(session, event) == 0  # the same event again adds none
    with db.connect() as conn:
        rows = conn.execute(sa.text("SELECT staff_id::text, kind, cause_id FROM staff_notifications "
                                    "ORDER BY staff_id")).all()
    assert sorted(r[0] for r in rows) == sorted([ALICE, BOB])
    assert {(r[1], r[2]) for r in rows} == {("case_in_cartable", event["id"])}


def test_unread_count_pages_and_marking_read(session):
    with session.begin():
        for _ in range(5):
            staff_inbox.record(session, case_step("deadline_warning", "referred"))
        staff_inbox.record(session, case_step("referred", "referred", staff=(BOB,)))
    with session.begin():
        assert staff_inbox.unread_count(session, ALICE) == 5
        first = staff_inbox.list_for(session, ALICE, limit=2)
        second = staff_inbox.list_for(session, ALICE, limit=2, after=first["next"])
        third = staff_inbox.list_for(session, ALICE, limit=2, after=second["next"])
    assert [len(p["items"]) for p in (first, second, third)] == [2, 2, 1] and third["next"] is None
    ids = [n["id"] for p in (first, second, third) for n in p["items"]]
    assert len(set(ids)) == 5
    assert first["items"][0]["created_at"].endswith("Z") and first["items"][0]["created_at_fa"].startswith("۱۴")

    with session.begin():
        assert staff_inbox.mark_read(session, BOB, ids[:2]) == 0  # not Bob's to mark
        assert staff_inbox.mark_read(session, ALICE, ids[:2]) == 2
        assert staff_inbox.mark_read(session, ALICE, ids[:2]) == 0
        assert staff_inbox.unread_count(session, ALICE) == 3
        unread = staff_inbox.list_for(session, ALICE, unread_only=True)
        assert {n["id"] for n in unread["items"]} == set(ids[2:]) and not any(n["read"] for n in unread["items"])
        assert staff_inbox.mark_all_read(session, ALICE) == 3
        assert staff_inbox.unread_count(session, ALICE) == 0
        assert staff_inbox.unread_count(session, BOB) == 6  # Bob's own are untouched


def test_a_forged_cursor_is_a_bad_request(session):
    from common.pagination import encode_cursor

    for cursor in ("not-a-cursor", encode_cursor("yesterday", "x"), encode_cursor("2026-11-26T09:00:00+00:00", "x")):
        with pytest.raises(InvalidRequest) as bad, session.begin():
            staff_inbox.list_for(session, ALICE, after=cursor)
        assert bad.value.errors[0]["field"] == "after"


# through the broker and the RPCs ------------------------------------------------------------------------------
@pytest.fixture
def rpc(notifications, service_config):
    with gateway_proxy("notifications", service_config) as proxy:
        yield proxy


def staff(staff_id: str) -> dict:
    return {"kind": "staff", "id": staff_id, "role": "county_expert", "unit": "prov.tehran.county.rey"}


def test_a_case_step_event_fills_the_inbox_once_beside_its_sms(notifications, rpc, rabbit_config, sms_operator, db):
    event = case_step("referred", "referred")
    for _ in range(2):  # the broker's redelivery: the inbox knew it
        with entrypoint_waiter(notifications, "on_case_referred", timeout=10):
            publish(rabbit_config["AMQP_URI"], event)
    assert len(sms_operator.operator.messages) == 3  # the reporter and the two staff, once each
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM staff_notifications")).scalar() == 2

    assert rpc.staff_unread_count(staff(ALICE)) == {"unread": 1}
    page = rpc.staff_notifications(staff(ALICE), False, 20, None)
    [item] = page["items"]
    assert item["kind"] == "case_in_cartable" and item["tracking_code"] == CODE and item["read"] is False
    assert page["next"] is None
    assert rpc.mark_notifications_read(staff(ALICE), [item["id"]]) == {"marked": 1, "unread": 0}
    assert rpc.staff_notifications(staff(ALICE), True, 20, None)["items"] == []
    assert rpc.mark_notifications_read(staff(BOB), None) == {"marked": 1, "unread": 0}


def test_a_revoked_access_reaches_the_person_s_inbox(notifications, rpc, rabbit_config):
    with entrypoint_waiter(notifications, "on_staff_access_revoked", timeout=10):
        publish(rabbit_config["AMQP_URI"], access_revoked(BOB))
    [item] = rpc.staff_notifications(staff(BOB), True, 20, None)["items"]
    assert item["kind"] == "access_revoked" and item["tracking_code"] is None


def test_only_staff_have_notifications(rpc):
    for actor in (None, {"kind": "integrator", "id": ALICE, "scopes": ["cases:read"]}, {"kind": "staff", "id": "x"}):
        with pytest.raises(Forbidden):
            rpc.staff_unread_count(actor)
    with pytest.raises(InvalidRequest) as bad:
        rpc.mark_notifications_read(staff(ALICE), ["not-an-id"])
    assert bad.value.errors[0]["field"].startswith("ids")


def test_the_templates_and_their_preview_are_for_the_sms_operators_only(rpc):
    admin = {"kind": "staff", "id": ALICE, "role": "admin", "unit": "hq", "username": "admin"}
    assert any(t["name"] == "pension_paid.citizen" for t in rpc.templates(admin))
    assert rpc.preview(admin, "pension_paid.citizen", None)["name"] == "pension_paid.citizen"
    for actor in (staff(ALICE), None, {"kind": "integrator", "id": ALICE, "scopes": ["cases:read"]}):
        with pytest.raises(Forbidden):
            rpc.templates(actor)
        with pytest.raises(Forbidden):
            rpc.preview(actor, "pension_paid.citizen", None)
