"""The notifications service (SPEC N1, N2, C9): entrypoints only translate; case_messages.py decides
who hears what, dispatch.py does the work."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from nameko.timer import timer

from common import authorization, inbox
from common.config import get_settings
from common.db import Database
from common.errors import InvalidRequest, NotFound
from common.identifiers import mask_mobile
from common.retention import purge_older_than
from common.rpc import rpc
from common.validation import parse
from common.health import HealthRpc
from common.events import schemas as event_schemas
from common.events.catalog import (
    CASE_REGISTERED, CASE_STEP_EVENTS, DISBURSEMENTS_PUBLISHED, DONATION_RECEIVED, PAYMENT_FAILED,
    STAFF_ACCESS_REVOKED,
)
from common.events.handler import reliable_event_handler
from common.observability import Observability
from services.notifications import case_messages, dispatch, integrators, otp, staff_inbox, templates, webhooks
from services.notifications.dependencies import IntegratorsDependency, SmsProviderDependency
from services.notifications.models import OneTimeCode, inbox as inbox_table
from services.notifications.schemas import CodeCheck, CodeRequest, MarkRead, WebhookReplay


def _case_step_handler(step: str):
    """The entrypoint for one case step's event; nameko names its queue after the attribute it is bound to."""
    @reliable_event_handler("complaints", CASE_STEP_EVENTS[step])
    def handle(self, event: dict) -> list[str] | None:
        return self._notify(event, case_messages.for_case_step(step, event, get_settings().public_base_url))

    handle.__name__ = f"on_case_{step}"
    return handle


SMS_OPERATORS = ("admin", "hq_operator")  # who looks after the messages the platform sends
INTEGRATOR_ADMINS = "admin"  # who registers the systems that receive the platform's events


class NotificationsService(HealthRpc):
    name = "notifications"

    db = Database("notifications")
    sms = SmsProviderDependency()
    integration = IntegratorsDependency()
    observability = Observability()

    @reliable_event_handler("complaints", CASE_REGISTERED)
    def on_case_registered(self, event: dict) -> str | None:
        settings = get_settings()
        event_schemas.validate(event)  # off its contract: dead-lettered at once, nothing sent
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

    def _notify(self, event: dict, messages: list[case_messages.TemplatedMessage]) -> list[str] | None:
        """Record the event and queue its messages in one transaction, then send them (the fast path;
        the sweep retries what fails). None for a redelivery."""
        event_schemas.validate(event)  # off its contract: dead-lettered at once, nothing sent
        with self.db.begin():
            if not inbox.claim(self.db, inbox_table, event):
                return None  # a redelivery: the messages were queued the first time
            staff_inbox.record(self.db, event)  # SPEC N2: the staff it names see it in the app too
            urgent = event["data"].get("urgency") == "urgent"  # urgent cases do not wait out quiet hours
            message_ids = dispatch.queue_all(self.db, event, messages, urgent)
        dispatch.deliver_all(self.db, self.sms, message_ids, get_settings().sms_max_attempts)
        return message_ids

    @reliable_event_handler("payments", DISBURSEMENTS_PUBLISHED)
    def on_disbursements_published(self, event: dict) -> int | None:
        """SPEC P1: "your pension was paid" for a batch of a payment cycle, through the operators'
        bulk endpoints. The cycle does not wait: payments published and moved on."""
        event_schemas.validate(event)
        with self.db.begin():
            if not inbox.claim(self.db, inbox_table, event):
                return None
            bulk = dispatch.queue_bulk(self.db, event, case_messages.for_disbursements(event))
        return dispatch.send_bulk(self.db, self.sms, bulk, get_settings().sms_max_attempts)

    @reliable_event_handler("payments", PAYMENT_FAILED)
    def on_payment_failed(self, event: dict) -> list[str] | None:
        return self._notify(event, case_messages.for_payment_failure(event))

    @reliable_event_handler("payments", DONATION_RECEIVED)
    def on_donation_received(self, event: dict) -> list[str] | None:
        """SPEC P5, N1: the donor's receipt by SMS, when they gave a mobile."""
        return self._notify(event, case_messages.for_donation(event))

    @timer(interval=5)
    def send_due(self) -> int:
        return dispatch.sweep_backlog(self.db, self.sms, get_settings().sms_max_attempts)

    @timer(interval=600)
    def purge_one_time_codes(self) -> int:
        """A code's row keeps the mobile and the requester's address for the rate limits and the daily cap
        of wrong tries (otp.py), which look back a day at most: so long, no longer (docs/privacy.md)."""
        return purge_older_than(self.db, OneTimeCode.__table__, "created_at", timedelta(hours=24))

    @timer(interval=10)
    def follow_receipts(self) -> int:
        """Poll the operators for messages sent with no receipt yet; expire the silent ones."""
        changed = dispatch.poll_receipts(self.db, self.sms, get_settings().sms_max_attempts)
        dispatch.refresh_gauges(self.db)
        return changed

    # delivery receipts, dead letters, templates (SPEC N1) ---------------------------------------------
    @rpc
    def record_receipts(self, provider: str, payload: dict) -> dict:
        receipts = self.sms.parse_receipt_for(provider, payload or {})
        return {"receipts": len(receipts),
                "changed": dispatch.apply_receipts(self.db, provider, receipts, get_settings().sms_max_attempts)}

    @rpc
    def dead_letters(self, actor: dict, limit: int = 20, after: str | None = None) -> dict:
        authorization.require(actor, *SMS_OPERATORS)
        with self.db.begin():
            return dispatch.dead_letters(self.db, limit, after)

    @rpc
    def replay(self, actor: dict, ids: list) -> dict:
        authorization.require(actor, *SMS_OPERATORS)
        with self.db.begin():
            replayed = dispatch.replay(self.db, [str(i) for i in ids])
        dispatch.deliver_all(self.db, self.sms, replayed, get_settings().sms_max_attempts)
        return {"replayed": replayed}

    # integrators (issue 20): their broker users, queues, replay streams and webhooks ----------------------------
    @rpc
    def register_integrator(self, actor: dict, payload: dict) -> dict:
        authorization.require(actor, INTEGRATOR_ADMINS)
        tools = self.integration
        with self.db.begin():
            return integrators.register(self.db, tools.broker, actor, payload, tools.derivation_key, tools.production)

    @rpc
    def list_integrators(self, actor: dict) -> list:
        authorization.require(actor, INTEGRATOR_ADMINS)
        with self.db.begin():
            return integrators.listing(self.db)

    @rpc
    def rotate_integrator(self, actor: dict, integrator_id: str) -> dict:
        authorization.require(actor, INTEGRATOR_ADMINS)
        with self.db.begin():
            return integrators.rotate(self.db, self.integration.broker, integrator_id, _now(),
                                      self.integration.derivation_key)

    @rpc
    def revoke_integrator(self, actor: dict, integrator_id: str) -> dict:
        authorization.require(actor, INTEGRATOR_ADMINS)
        with self.db.begin():
            return integrators.revoke(self.db, self.integration.broker, integrator_id, _now())

    @rpc
    def webhook_dead_letters(self, actor: dict, integrator_id: str) -> list:
        authorization.require(actor, INTEGRATOR_ADMINS)
        with self.db.begin():
            integrators.find(self.db, integrator_id)
            return webhooks.dead_letters(self.db, integrator_id)

    @rpc
    def replay_webhooks(self, actor: dict, integrator_id: str, payload: dict) -> dict:
        authorization.require(actor, INTEGRATOR_ADMINS)
        replay = parse(WebhookReplay, payload)
        with self.db.begin():
            integrators.find(self.db, integrator_id)
            return {"replayed": webhooks.replay(self.db, integrator_id, replay.ids, replay.since, _now())}

    @timer(interval=2)
    def post_webhooks(self) -> int:
        """What waits in webhook integrators' queues into their deliveries, then the due ones posted."""
        webhooks.collect(self.db, self.integration.amqp_uri)
        with self.db.begin():
            return webhooks.send_due(self.db, self.integration.derivation_key, self.integration.policy, _now())

    @timer(interval=3600)
    def purge_webhook_deliveries(self) -> int:
        """Kept as long as a replay stream keeps events (integrator_access.REPLAY_MAX_AGE)."""
        with self.db.begin():
            return webhooks.purge(self.db, timedelta(days=7))

    @rpc
    def templates(self, actor: dict) -> list:
        authorization.require(actor, *SMS_OPERATORS)
        return [{"name": t.name, "version": t.version, "audience": t.audience, "variables": t.variables,
                 "text": t.text} for t in templates.ALL]

    @rpc
    def preview(self, actor: dict, name: str, values: dict | None = None) -> dict:
        authorization.require(actor, *SMS_OPERATORS)
        template = _template(name)
        try:
            body = template.render(**{**templates.SAMPLE_VALUES, **(values or {})})
        except templates.TemplateError as exc:
            raise InvalidRequest([{"field": "values", "code": "template_error", "detail": str(exc),
                                   "message": "پیام با این مقادیر ساخته نمی‌شود (متغیر کم است یا متن بلند است)."}]) from None
        return {"name": template.name, "version": template.version, "text": body, "characters": len(body),
                "segments": templates.segments(body),
                "encoding": "GSM-7" if all(ord(c) < 128 for c in body) else "UCS-2"}

    # one-time codes (SPEC N1) -------------------------------------------------------------------
    @rpc
    def issue_code(self, mobile: str, purpose: str, client: str) -> dict:
        """Text a one-time code to this mobile (replacing its live code for this purpose); `client` is
        who asks, for the rate limit. otp.TooManyRequests (HTTP 429) over a rate limit."""
        request = parse(CodeRequest, {"mobile": mobile, "purpose": purpose})
        with self.db.begin():
            issued = otp.issue(self.db, request.mobile, request.purpose, str(client or "unknown")[:200], _now())
        if issued.message_id:  # the fast path; the sweep sends it if this fails
            dispatch.deliver(self.db, self.sms, issued.message_id, get_settings().sms_max_attempts)
        return {"expires_in": int(otp.CODE_LIFETIME.total_seconds()), "sent_to": mask_mobile(request.mobile)}

    @rpc
    def verify_code(self, mobile: str, purpose: str, code: str) -> dict:
        """{"verified": true} once for the right code in time; every try counts, even a wrong one."""
        check = parse(CodeCheck, {"mobile": mobile, "purpose": purpose, "code": code})
        with self.db.begin():
            return {"verified": otp.verify(self.db, check.mobile, check.purpose, check.code, _now())}

    # staff in-app notifications (SPEC N2) ----------------------------------------------------------
    @rpc
    def staff_notifications(self, actor: dict, unread_only: bool = False, limit: int = 20,
                            after: str | None = None) -> dict:
        staff_id = authorization.require_staff_id(actor)
        with self.db.begin():
            return staff_inbox.list_for(self.db, staff_id, bool(unread_only), int(limit), after)

    @rpc
    def staff_unread_count(self, actor: dict) -> dict:
        staff_id = authorization.require_staff_id(actor)
        with self.db.begin():
            return {"unread": staff_inbox.unread_count(self.db, staff_id)}

    @rpc
    def mark_notifications_read(self, actor: dict, ids: list | None = None) -> dict:
        """These notifications (ids) of the caller, or all of them (ids None), marked read."""
        staff_id = authorization.require_staff_id(actor)
        wanted = None if ids is None else parse(MarkRead, {"ids": ids}).ids
        with self.db.begin():
            if wanted is None:
                marked = staff_inbox.mark_all_read(self.db, staff_id)
            else:
                marked = staff_inbox.mark_read(self.db, staff_id, wanted)
            return {"marked": marked, "unread": staff_inbox.unread_count(self.db, staff_id)}


def _template(name: str):
    try:
        return templates.get(name)
    except templates.TemplateError:
        raise NotFound("template_not_found", "چنین قالب پیامی نیست.", f"no template named {name!r}") from None


def _now() -> datetime:
    return datetime.now(timezone.utc)




SERVICE = NotificationsService
