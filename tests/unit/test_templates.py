import uuid
from datetime import datetime

import pytest

from common.events import schemas
from common.events.catalog import CASE_STEP_EVENTS, STAFF_ACCESS_REVOKED
from common.events.envelope import new_event
from common.jalali import to_jalali
from services.notifications import case_messages
from services.notifications import templates as t
from services.notifications.templates import CASE_REGISTERED_CITIZEN, segments

CODE = "4203917755102846"
DEADLINE = "2026-11-28T09:00:00Z"
DEADLINE_FA = "۱۴۰۵/۰۹/۰۷ ۱۲:۳۰"  # Tehran time, Jalali, Persian digits
BASE_URL = "https://behzisti.example"  # k8s/base/config.yaml's PUBLIC_BASE_URL

STATUS_AFTER = {"triaged": "referred", "referred": "referred", "answered": "awaiting_approval",
                "approved": "answered", "returned": "returned", "deadline_warning": "referred",
                "deadline_missed": "escalated", "reopened": "reopened", "moved_up": "referred",
                "evidence_requested": "referred", "closed": "closed"}


def longest_unit_name() -> str:
    from services.complaints.org import unit_names

    return max(unit_names().values(), key=len)


def sample_values() -> dict:
    return {**t.SAMPLE_VALUES, "tracking_code": CODE, "track_url": f"{BASE_URL}/track/{CODE}",
            "holder_unit_fa": longest_unit_name(), "deadline": to_jalali(datetime.fromisoformat(DEADLINE)),
            "username": "prov.sistan-baluchestan.head", "amount": "۱٬۲۵۰٬۰۰۰٬۰۰۰",
            "budget_line": "کمک‌هزینهٔ خانوارهای دارای دو فرد معلول و بیشتر"}


def case_step(step: str, mobile: str | None = "09121234567", staff: int = 0, deadline: bool = True,
              status: str | None = None, **more) -> dict:
    data = {"tracking_code": CODE, "step": step, "kind": "complaint", "urgency": "normal",
            "status": status or STATUS_AFTER[step],
            "holder_unit": "prov.tehran", "holder_unit_fa": "اداره کل بهزیستی استان تهران",
            "at": "2026-11-26T09:00:00Z", **more}
    if deadline:
        data["deadline_at"] = DEADLINE
    if mobile:
        data["reporter_mobile"] = mobile
    if staff:
        data["staff_recipients"] = [{"id": str(uuid.uuid4()), "mobile": f"0935000000{i}"} for i in range(staff)]
    event = new_event(CASE_STEP_EVENTS[step], data, subject=CODE)
    assert schemas.errors_of(event) == []
    return event


# What the reporter hears of (SPEC C9): the steps they can recognise; not the organization's review of an answer.
CITIZEN_HEARS = ["closed", "deadline_missed", "evidence_requested", "moved_up", "referred", "reopened", "triaged"]
INTERNAL_REVIEW = ["answered", "returned"]
TYPICAL_UNIT = "اداره بهزیستی شهرستان شمیرانات"  # 30 characters: most units' names are as long or shorter
LINKS = {t.CASE_REGISTERED_CITIZEN, t.CASE_ANSWER_READY_CITIZEN, t.CASE_EVIDENCE_REQUESTED_CITIZEN}


def test_segments_as_operators_count_them():
    assert segments("a" * 160) == 1
    assert segments("a" * 161) == 2
    assert segments("س" * 70) == 1
    assert segments("س" * 71) == 2  # 67 per part once split
    assert segments("س" * 134) == 2
    assert segments("س" * 135) == 3


def test_case_registered_message_carries_the_code_and_fits_two_parts():
    body = CASE_REGISTERED_CITIZEN.render(tracking_code="4203917755102846",
                                          track_url="http://localhost:8000/track/4203917755102846")
    assert "4203917755102846" in body and "کد رهگیری" in body
    assert segments(body) <= 2


@pytest.mark.parametrize("template", t.ALL, ids=lambda tpl: tpl.name)
def test_every_template_renders_short_with_the_longest_values(template):
    """Two UCS-2 parts at most, with the longest unit name of the organization."""
    body = template.render(**sample_values())
    assert "{" not in body and "}" not in body
    assert segments(body) <= 2, (len(body), body)
    assert template.audience in ("citizen", "staff") and template.name.endswith(f".{template.audience}")
    assert template.version >= 1
    if template.name.startswith("case_") and template.audience == "citizen" or "{tracking_code}" in template.text:
        assert CODE in body


def test_template_names_are_unique():
    names = [tpl.name for tpl in t.ALL]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("step", CITIZEN_HEARS)
def test_the_reporter_hears_of_each_step_they_recognise_in_one_part_with_the_tracking_code(step):
    event = case_step(step)
    event["data"]["holder_unit_fa"] = TYPICAL_UNIT
    [message] = case_messages.for_case_step(step, event, BASE_URL)
    assert message.recipient == "09121234567" and message.template.audience == "citizen"
    body = message.render()
    assert CODE in body
    assert segments(body) == (2 if message.template in LINKS else 1), (len(body), body)


@pytest.mark.parametrize("step", INTERNAL_REVIEW)
def test_the_reporter_hears_nothing_of_the_review_of_an_answer(step):
    assert [m.template.audience for m in case_messages.for_case_step(step, case_step(step, staff=1), BASE_URL)] == ["staff"]


def test_messages_with_a_link_take_two_parts_and_carry_the_code_in_it():
    for template in LINKS:
        body = template.render(**sample_values())
        assert f"{BASE_URL}/track/{CODE}" in body and segments(body) == 2, body


def test_a_unit_name_too_long_for_one_part_takes_two():
    event = case_step("referred")
    event["data"]["holder_unit_fa"] = longest_unit_name()
    [message] = case_messages.for_case_step("referred", event, BASE_URL)
    assert segments(message.render()) == 2 and longest_unit_name() in message.render()


def test_no_step_texts_an_anonymous_reporter():
    for step in CASE_STEP_EVENTS:
        assert case_messages.for_case_step(step, case_step(step, mobile=None), BASE_URL) == []


def test_a_referral_names_the_unit_and_tells_its_staff_the_deadline_in_jalali():
    event = case_step("referred", staff=2)
    citizen, *staff = case_messages.for_case_step("referred", event, BASE_URL)
    assert citizen.template is t.CASE_HANDED_CITIZEN and "اداره کل بهزیستی استان تهران" in citizen.render()
    assert [m.recipient for m in staff] == ["09350000000", "09350000001"]
    assert all(m.template is t.CASE_IN_CARTABLE_STAFF for m in staff)
    assert all(CODE in m.render() and DEADLINE_FA in m.render() for m in staff)


def test_a_deadline_warning_goes_to_staff_only():
    messages = case_messages.for_case_step("deadline_warning", case_step("deadline_warning", staff=2), BASE_URL)
    assert [m.template for m in messages] == [t.DEADLINE_WARNING_STAFF] * 2
    assert "09121234567" not in [m.recipient for m in messages]


def test_only_the_final_approval_tells_the_reporter_the_answer_is_ready():
    going_up = case_step("approved", staff=1, status="awaiting_approval", final=False)
    assert [m.template for m in case_messages.for_case_step("approved", going_up, BASE_URL)] == [
        t.CASE_AWAITING_APPROVAL_STAFF]

    final = case_step("approved", deadline=False, status="answered", final=True)
    [message] = case_messages.for_case_step("approved", final, BASE_URL)
    assert message.template is t.CASE_ANSWER_READY_CITIZEN
    assert f"{BASE_URL}/track/{CODE}" in message.render()


@pytest.mark.parametrize("step, template", [
    ("triaged", t.CASE_IN_CARTABLE_STAFF), ("answered", t.CASE_AWAITING_APPROVAL_STAFF),
    ("returned", t.CASE_IN_CARTABLE_STAFF), ("deadline_missed", t.CASE_DEADLINE_MISSED_STAFF),
    ("reopened", t.CASE_REOPENED_STAFF), ("moved_up", t.CASE_IN_CARTABLE_STAFF)])
def test_staff_hear_of_a_case_arriving_in_their_cartable(step, template):
    messages = case_messages.for_case_step(step, case_step(step, mobile=None, staff=1), BASE_URL)
    assert [m.template for m in messages] == [template]
    assert DEADLINE_FA in messages[0].render()


def test_staff_are_not_texted_a_case_without_a_deadline():
    assert case_messages.for_case_step("referred", case_step("referred", mobile=None, staff=1, deadline=False),
                                       BASE_URL) == []


@pytest.mark.parametrize("by, template", [("inactivity", t.ACCESS_REVOKED_INACTIVITY_STAFF),
                                          ("admin", t.ACCESS_REVOKED_BY_ADMIN_STAFF)])
def test_a_revoked_person_is_told_on_their_own_mobile(by, template):
    data = {"staff_id": str(uuid.uuid4()), "username": "rey.head", "unit": "prov.tehran.county.rey",
            "reason": "۴۸ ساعت کارتابل باز نشد", "by": by, "at": "2026-11-26T09:00:00Z", "cases_moved": 3}
    assert case_messages.for_access_revoked(new_event(STAFF_ACCESS_REVOKED, data)) == []
    [message] = case_messages.for_access_revoked(new_event(STAFF_ACCESS_REVOKED, {**data, "mobile": "09351112233"}))
    assert message.recipient == "09351112233" and message.template is template
    assert "rey.head" in message.render()


def test_a_template_refuses_a_missing_variable_an_unknown_name_and_a_text_too_long(monkeypatch):
    with pytest.raises(t.TemplateError, match="needs tracking_code"):
        t.CASE_HANDED_CITIZEN.render(holder_unit_fa="x")
    with pytest.raises(t.TemplateError, match="no template"):
        t.get("no_such.citizen")
    assert t.get("case_handed.citizen") is t.CASE_HANDED_CITIZEN
    long = t.Template("long.citizen", 1, "citizen", "{text}")
    assert segments(long.render(text="س" * 201)) == 3
    with pytest.raises(t.TemplateError, match="4 parts"):
        long.render(text="س" * 202)
    assert t.CASE_HANDED_CITIZEN.variables == ["holder_unit_fa", "tracking_code"]


def test_payday_sms_fits_one_part_for_every_line_month_and_amount_under_a_billion():
    from common.budget_lines import LINES_BY_CODE, SHORT_NAMES_FA

    from common.events.catalog import DISBURSEMENTS_PUBLISHED
    from common.jalali import month_fa

    longest_month = max((month_fa(f"1405-{m:02d}") for m in range(1, 13)), key=len)
    assert [code for code, line in LINES_BY_CODE.items() if line["pays"] == "beneficiary"] == list(SHORT_NAMES_FA)
    for code, short in SHORT_NAMES_FA.items():
        event = new_event(DISBURSEMENTS_PUBLISHED, {
            "cycle_id": f"1405-02.{code}", "budget_line": code, "budget_line_fa": LINES_BY_CODE[code]["title_fa"],
            "budget_line_short_fa": short, "month": "1405-02", "month_fa": longest_month, "batch": 1, "batches": 1,
            "paid_at": "2026-05-05T09:00:00Z",
            "items": [{"order_id": "o-1", "national_id": "0499370899", "mobile": "09121234567",
                       "amount_rials": 999_999_999, "province": "tehran", "account_masked": "IR** **** **** **** **** **08 99"}]})
        [message] = case_messages.for_disbursements(event)
        assert schemas.errors_of(event) == []
        body = message.render()
        assert segments(body) == 1, (code, len(body), body)
        assert short in body and "۹۹۹٬۹۹۹٬۹۹۹" in body
