"""Every event type of the platform: the contract with integrators.

The routing key is the event type; each publishing service has one topic exchange, `<service>.events`,
as nameko names it. A breaking change is a new type (…v2) with a new schema, never an edit.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    publisher: str
    name: str  # e.g. case.registered
    version: int = 1

    @property
    def type(self) -> str:
        return f"ir.behzisti.{self.publisher}.{self.name}.v{self.version}"

    @property
    def exchange(self) -> str:
        return exchange_of(self.publisher)

    def __str__(self) -> str:
        return self.type


def exchange_of(service: str) -> str:
    return f"{service}.events"


CASE_REGISTERED = EventType("complaints", "case.registered")
# Every later step of a case (SPEC C5-C10), one type per step, all with the case-step shape; the
# key is the workflow's action name (services/complaints/workflow.py).
CASE_STEP_EVENTS = {
    step: EventType("complaints", f"case.{step}")
    for step in ("triaged", "referred", "answered", "approved", "returned", "deadline_warning", "deadline_missed",
                 "reopened", "moved_up", "evidence_requested", "closed")
}
STAFF_ACCESS_REVOKED = EventType("complaints", "staff.access_revoked")
# a staff account's password was changed or reset: every token issued before stops working (the
# gateway drops the account's cached principal on this and on staff.access_revoked)
STAFF_CREDENTIALS_CHANGED = EventType("complaints", "staff.credentials_changed")
STATISTICS_PUBLISHED = EventType("complaints", "statistics.published")
# payments publishes a cycle's disbursements in batches (DESIGN: "disbursements published (in batches)")
DISBURSEMENTS_PUBLISHED = EventType("payments", "disbursements.published")
CYCLE_OPENED = EventType("payments", "cycle.opened")
CYCLE_APPROVED = EventType("payments", "cycle.approved")
CYCLE_SETTLED = EventType("payments", "cycle.settled")
PAYMENT_FAILED = EventType("payments", "payment.failed")
# a donation paid at the gateway and verified (SPEC P5, P6): the receipt, and the transparency portal
DONATION_RECEIVED = EventType("payments", "donation.received")
# a year's budget lines as payments loaded them (SPEC T9, P3), each change a new version: the budget dataset
BUDGET_LINES_PUBLISHED = EventType("payments", "budget_lines.published")
# a new immutable, signed version of a Shafaf dataset (SPEC T): integrators harvest it
DATASET_PUBLISHED = EventType("transparency", "dataset.published")
SMS_SENT = EventType("notifications", "sms.sent")
SMS_FAILED = EventType("notifications", "sms.failed")

ALL = (CASE_REGISTERED, *CASE_STEP_EVENTS.values(), STAFF_ACCESS_REVOKED, STAFF_CREDENTIALS_CHANGED,
       STATISTICS_PUBLISHED, DISBURSEMENTS_PUBLISHED, CYCLE_OPENED, CYCLE_APPROVED, CYCLE_SETTLED, PAYMENT_FAILED, DONATION_RECEIVED,
       BUDGET_LINES_PUBLISHED, SMS_SENT, SMS_FAILED, DATASET_PUBLISHED)
BY_TYPE = {e.type: e for e in ALL}
