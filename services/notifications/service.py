"""The notifications service (SPEC N1, C9): entrypoints only translate; dispatch.py does the work."""
from __future__ import annotations

from nameko.timer import timer

from common import inbox
from common.config import get_settings
from common.db import Database
from common.health import HealthRpc
from common.events.catalog import CASE_REGISTERED
from common.events.handler import reliable_event_handler
from common.observability import Observability
from services.notifications import dispatch
from services.notifications.dependencies import SmsProviderDependency
from services.notifications.models import inbox as inbox_table


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

    @timer(interval=5)
    def send_due(self) -> int:
        return dispatch.sweep(self.db, self.sms, get_settings().sms_max_attempts)


SERVICE = NotificationsService
