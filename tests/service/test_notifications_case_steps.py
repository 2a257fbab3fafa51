"""SPEC C9 and N2 through the notifications service in a nameko container: the case-step and revoked-access
events from the real broker, the messages in the real PostgreSQL and at the fake SMS operator over HTTP."""
import uuid

import pytest
import sqlalchemy as sa
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.testing.services import entrypoint_waiter

from common.events import schemas
from common.events.catalog import CASE_STEP_EVENTS, STAFF_ACCESS_REVOKED
from common.events.envelope import new_event
from common.events.handler import ReliableEventHandler
from services.notifications.service import NotificationsService
from tests.helpers import publish

CODE = "4203917755102846"
REPORTER = "09121234567"
STAFF = ["09351110001", "09351110002"]
DEADLINE_FA = "۱۴۰۵/۰۹/۰۷ ۱۲:۳۰"  # 2026-11-28T09:00:00Z in Tehran, Jalali


def case_step(step: str, status: str, mobile: str | None = REPORTER, staff: list[str] = (), **more) -> dict:
    data = {"tracking_code": CODE, "step": step, "kind": "complaint", "urgency": "normal", "status": status,
            "holder_unit": "prov.tehran", "holder_unit_fa": "اداره کل بهزیستی استان تهران",
            "at": "2026-11-26T09:00:00Z", "deadline_at": "2026-11-28T09:00:00Z", **more}
    if mobile:
        data["reporter_mobile"] = mobile
    if staff:
        data["staff_recipients"] = [{"id": str(uuid.uuid4()), "mobile": m} for m in staff]
    event = new_event(CASE_STEP_EVENTS[step], data, subject=CODE)
    assert schemas.errors_of(event) == []
    return event


@pytest.fixture
def handle(notifications, rabbit_config):
    """Publish an event and wait until its handler has finished with it (queued and sent)."""
    def run(event, entrypoint):
        with entrypoint_waiter(notifications, entrypoint, timeout=10) as result:
            publish(rabbit_config["AMQP_URI"], event)
        return result.get()

    return run


def received(sms_operator) -> dict[str, list[str]]:
    out = {}
    for m in sms_operator.operator.messages:
        out.setdefault(m["receptor"], []).append(m["message"])
    return out


def test_every_case_step_and_a_revoked_access_have_one_handler_each():
    handled = {}
    for name in dir(NotificationsService):
        for entrypoint in getattr(getattr(NotificationsService, name), ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(entrypoint, ReliableEventHandler):
                handled.setdefault(entrypoint.event_type, []).append(name)
    for step, event_type in CASE_STEP_EVENTS.items():
        assert handled[event_type.type] == [f"on_case_{step}"]
    assert handled[STAFF_ACCESS_REVOKED.type] == ["on_staff_access_revoked"]


def test_a_referral_texts_the_reporter_and_each_staff_member_once(handle, sms_operator, db):
    event = case_step("referred", "referred", staff=STAFF)
    message_ids = handle(event, "on_case_referred")
    assert len(message_ids) == 3

    messages = received(sms_operator)
    assert sorted(messages) == sorted([REPORTER, *STAFF]) and all(len(v) == 1 for v in messages.values())
    [citizen] = messages[REPORTER]
    assert CODE in citizen and "اداره کل بهزیستی استان تهران" in citizen
    for mobile in STAFF:
        assert CODE in messages[mobile][0] and DEADLINE_FA in messages[mobile][0]

    assert handle(event, "on_case_referred") is None  # the broker's redelivery: the inbox knew it
    assert len(sms_operator.operator.messages) == 3
    with db.connect() as conn:
        rows = conn.execute(sa.text("SELECT template, status FROM sms_messages ORDER BY template")).all()
        sent_events = conn.execute(sa.text("SELECT envelope FROM outbox")).scalars().all()
        assert conn.execute(sa.text("SELECT count(*) FROM inbox")).scalar() == 1
    assert rows == [("case_handed.citizen", "sent")] + [("case_in_cartable.staff", "sent")] * 2
    assert len(sent_events) == 3 and all(schemas.errors_of(e) == [] for e in sent_events)
    assert {e["data"]["cause"]["id"] for e in sent_events} == {event["id"]}


def test_a_reporter_who_is_also_staff_gets_both_messages(handle, sms_operator):
    """One message per (event, recipient, template): the citizen's and the staff member's both go."""
    handle(case_step("referred", "referred", staff=[REPORTER]), "on_case_referred")
    assert len(received(sms_operator)[REPORTER]) == 2


def test_a_deadline_warning_goes_to_staff_only(handle, sms_operator):
    handle(case_step("deadline_warning", "referred", staff=STAFF), "on_case_deadline_warning")
    messages = received(sms_operator)
    assert sorted(messages) == STAFF
    assert all("رو به پایان" in m[0] and CODE in m[0] for m in messages.values())


def test_the_reporter_hears_only_of_the_final_approval_as_the_answer_ready(handle, sms_operator):
    going_up = case_step("approved", "awaiting_approval", staff=STAFF[:1], final=False)
    assert len(handle(going_up, "on_case_approved")) == 1
    messages = received(sms_operator)
    assert set(messages) == {STAFF[0]} and "منتظر تأیید" in messages[STAFF[0]][0]  # the review is not the citizen's

    final = case_step("approved", "answered", final=True)
    del final["data"]["deadline_at"]
    handle(final, "on_case_approved")
    [ready] = received(sms_operator)[REPORTER]
    assert "پاسخ درخواست شما آماده است" in ready and f"/track/{CODE}" in ready


def test_one_failed_send_does_not_hold_back_the_others_and_is_retried(handle, notifications, sms_operator, db):
    sms_operator.operator.control["fail_next"] = 1
    assert len(handle(case_step("moved_up", "referred", staff=STAFF), "on_case_moved_up")) == 3
    assert len(sms_operator.operator.messages) == 2

    with entrypoint_waiter(notifications, "send_due", callback=lambda wc, result, exc_info: result == 1,
                           timeout=15):
        with db.begin() as conn:  # the back-off has passed
            conn.execute(sa.text("UPDATE sms_messages SET next_attempt_at = now() - interval '1 second' "
                                 "WHERE status = 'queued'"))
    assert sorted(received(sms_operator)) == sorted([REPORTER, *STAFF])
    assert len(sms_operator.operator.messages) == 3


def test_a_revoked_person_is_told_on_their_own_mobile(handle, sms_operator):
    data = {"staff_id": str(uuid.uuid4()), "username": "rey.head", "unit": "prov.tehran.county.rey",
            "reason": "۴۸ ساعت کارتابل باز نشد", "by": "inactivity", "at": "2026-11-26T09:00:00Z", "cases_moved": 2}
    assert handle(new_event(STAFF_ACCESS_REVOKED, data, subject=data["staff_id"]), "on_staff_access_revoked") == []
    event = new_event(STAFF_ACCESS_REVOKED, {**data, "mobile": STAFF[0]}, subject=data["staff_id"])
    assert schemas.errors_of(event) == []
    handle(event, "on_staff_access_revoked")
    messages = received(sms_operator)
    assert list(messages) == STAFF[:1] and "rey.head" in messages[STAFF[0]][0] and "لغو" in messages[STAFF[0]][0]
