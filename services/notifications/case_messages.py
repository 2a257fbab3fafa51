"""Who hears what of a case's steps and of a revoked access (SPEC C9, N2): pure functions from an event
to the messages it causes. dispatch.queue_all makes each one at most once.

- The reporter, when they gave a mobile, hears of each step they can recognise: registered (queued apart),
  handed to a unit (triaged, referred, moved up), the answer ready (the last approval, `final`), a missed
  deadline that moved the case, their report again, a request for evidence, closed. Not of the organization's
  review of an answer: the answer written and waiting for approval, each approval on the way up, a return.
- The staff the event names (`staff_recipients`, the people of the unit now holding the case) hear of
  a case arriving in their cartable with its deadline, and of a deadline about to be missed.
- A person whose access was revoked hears of it on their own mobile.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from common.jalali import to_jalali
from common.text import persian_digits
from services.notifications import templates as t
from services.notifications.templates import Template

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TemplatedMessage:
    """A message to queue: to whom, which template, with what values (providers.base.Outgoing is what goes to
    an operator: the rendered text and its send key)."""
    recipient: str
    template: Template
    values: dict = field(default_factory=dict)

    def render(self) -> str:
        return self.template.render(**self.values)


CITIZEN = {  # the case step → what the reporter reads; "approved" only when final, see _citizen_template
    "triaged": t.CASE_HANDED_CITIZEN,
    "referred": t.CASE_HANDED_CITIZEN,
    "moved_up": t.CASE_HANDED_CITIZEN,
    "approved": t.CASE_ANSWER_READY_CITIZEN,
    "deadline_missed": t.CASE_DEADLINE_MISSED_CITIZEN,
    "reopened": t.CASE_REOPENED_CITIZEN,
    "evidence_requested": t.CASE_EVIDENCE_REQUESTED_CITIZEN,
    "closed": t.CASE_CLOSED_CITIZEN,
}
# The steps that put a case in a unit's cartable with a new deadline → what its staff read.
# An answer (or a not-yet-final approval) waits for approval: status awaiting_approval, see _staff_template.
STAFF = {
    "triaged": t.CASE_IN_CARTABLE_STAFF,
    "referred": t.CASE_IN_CARTABLE_STAFF,
    "answered": t.CASE_AWAITING_APPROVAL_STAFF,
    "approved": t.CASE_AWAITING_APPROVAL_STAFF,
    "returned": t.CASE_IN_CARTABLE_STAFF,
    "deadline_missed": t.CASE_DEADLINE_MISSED_STAFF,
    "reopened": t.CASE_REOPENED_STAFF,
    "moved_up": t.CASE_IN_CARTABLE_STAFF,
    "deadline_warning": t.DEADLINE_WARNING_STAFF,
}


def for_case_step(step: str, event: dict, public_base_url: str) -> list[TemplatedMessage]:
    data = event["data"]
    code = data["tracking_code"]
    out = []
    citizen = _citizen_template(step, data)
    if citizen and data.get("reporter_mobile"):
        out.append(TemplatedMessage(data["reporter_mobile"], citizen, {
            "tracking_code": code, "holder_unit_fa": data["holder_unit_fa"],
            "track_url": f"{public_base_url.rstrip('/')}/track/{code}"}))
    staff = _staff_template(step, data)
    if staff and data.get("staff_recipients"):
        if data.get("deadline_at"):
            deadline = to_jalali(datetime.fromisoformat(data["deadline_at"]))
            out.extend(TemplatedMessage(person["mobile"], staff, {"tracking_code": code, "deadline": deadline})
                       for person in data["staff_recipients"])
        else:
            _log.warning("%s %s names staff to tell but no deadline: staff not texted", event["type"], event["id"])
    return out


def _citizen_template(step: str, data: dict) -> Template | None:
    if step == "approved" and not data.get("final"):
        return None  # approved at one level, on its way to the next: the organization's own review
    return CITIZEN.get(step)


def _staff_template(step: str, data: dict) -> Template | None:
    if step == "approved" and (data.get("final") or data.get("status") != "awaiting_approval"):
        return None  # the last approval: the case left the cartables
    return STAFF.get(step)


def for_access_revoked(event: dict) -> list[TemplatedMessage]:
    data = event["data"]
    if not data.get("mobile"):
        return []
    template = t.ACCESS_REVOKED_INACTIVITY_STAFF if data["by"] == "inactivity" else t.ACCESS_REVOKED_BY_ADMIN_STAFF
    return [TemplatedMessage(data["mobile"], template, {"username": data["username"]})]


def for_disbursements(event: dict) -> list[TemplatedMessage]:
    """SPEC P1: each paid beneficiary the registry has a mobile for hears that the money is in."""
    data = event["data"]
    return [TemplatedMessage(item["mobile"], t.PENSION_PAID_CITIZEN, {
        "budget_line": data.get("budget_line_short_fa") or data["budget_line_fa"], "month": data["month_fa"],
        "amount": persian_digits(f"{item['amount_rials']:,}").replace(",", "٬")})
        for item in data["items"] if item.get("mobile")]


def for_payment_failure(event: dict) -> list[TemplatedMessage]:
    data = event["data"]
    if not data.get("mobile"):
        return []
    return [TemplatedMessage(data["mobile"], t.PAYMENT_FAILED_CITIZEN, {"budget_line": data["line_fa"], "month": data["month_fa"]})]


def for_donation(event: dict) -> list[TemplatedMessage]:
    """SPEC P5, N1: a donor who gave a mobile gets the receipt number by SMS."""
    data = event["data"]
    if not data.get("mobile"):
        return []
    purpose = data["purpose_fa"]
    if len(purpose) > t.PURPOSE_CHARS:
        purpose = purpose[:t.PURPOSE_CHARS - 1].rstrip() + "…"
    return [TemplatedMessage(data["mobile"], t.DONATION_RECEIPT_CITIZEN, {
        "amount": persian_digits(f"{data['amount_rials']:,}").replace(",", "٬"), "purpose": purpose,
        "province": data["province_fa"], "receipt_number": data["receipt_number"]})]
