"""The notifications service (SPEC N1, N2, C9): entrypoints only translate; case_messages.py decides
who hears what, dispatch.py does the work."""
from __future__ import annotations

from nameko.timer import timer

from common import inbox
from common.config import get_settings
from common.db import Database
from common.health import HealthRpc
from common.events.catalog import CASE_REGISTERED, CASE_STEP_EVENTS, STAFF_ACCESS_REVOKED
from common.events.handler import reliable_event_handler
from common.observability import Observability
from services.notifications import case_messages, dispatch
from services.notifications.dependencies import SmsProviderDependency
from services.notifications.models import inbox as inbox_table


def _case_step_handler(step: str):
    """The entrypoint for one case step's event; nameko names its queue after the attribute it is bound to."""
    @reliable_event_handler("complaints", CASE_STEP_EVENTS[step])
    def handle(self, event: dict) -> list[str] | None:
        return self._notify(event, case_messages.for_case_step(step, event, get_settings().public_base_url))

    handle.__name__ = f"on_case_{step}"
    return handle


class NotificationsService(HealthRpc):
    name = "notifications"

    db = Database("notifications")
    sms = SmsProviderDependency()
    observability = Observability()

    @reliable_event_handler("complaints", CASE_REGISTERED)
    def on_case_registered(self, event: dict) -> str | None:
        settings = get_settings()
        with self.db.begin():
            if not inbox.claim(self.db, inbox_table, event):
                return None  # a redelivery: the message was queued the first time
            message_id = dispatch.queue_case_registered(self.db, event, settings.public_base_url)
        if message_id:
            dispatch.deliver(self.db, self.sms, message_id, settings.sms_max_attempts)
        return message_id

    # every later step of a case (one queue each, as the catalog has one event type each)
    on_case_triaged = _case_step_handler("triaged")
    on_case_referred = _case_step_handler("referred")
    on_case_answered = _case_step_handler("answered")
    on_case_approved = _case_step_handler("approved")
    on_case_returned = _case_step_handler("returned")
    on_case_deadline_warning = _case_step_handler("deadline_warning")
    on_case_deadline_missed = _case_step_handler("deadline_missed")
    on_case_reopened = _case_step_handler("reopened")
    on_case_moved_up = _case_step_handler("moved_up")
    on_case_evidence_requested = _case_step_handler("evidence_requested")
    on_case_closed = _case_step_handler("closed")

    @reliable_event_handler("complaints", STAFF_ACCESS_REVOKED)
    def on_staff_access_revoked(self, event: dict) -> list[str] | None:
        return self._notify(event, case_messages.for_access_revoked(event))

    def _notify(self, event: dict, messages: list[case_messages.Outgoing]) -> list[str] | None:
        """Record the event and queue its messages in one transaction, then send them (the fast path;
        the sweep retries what fails). None for a redelivery."""
        with self.db.begin():
            if not inbox.claim(self.db, inbox_table, event):
                return None  # a redelivery: the messages were queued the first time
            message_ids = dispatch.queue_all(self.db, event, messages)
        dispatch.deliver_all(self.db, self.sms, message_ids, get_settings().sms_max_attempts)
        return message_ids

    @timer(interval=5)
    def send_due(self) -> int:
        return dispatch.sweep(self.db, self.sms, get_settings().sms_max_attempts)


SERVICE = NotificationsService
