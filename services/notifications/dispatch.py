"""Queue an SMS once per cause, then send it through the provider, recording every outcome.

Each message moves queued → sending → sent | failed in its own short transactions around the
provider call, so no database transaction waits on the network. A message left in `sending` by a
crash is picked up by the sweep, which first asks the operator whether it already holds the message
(by our id) before sending again: nothing is sent twice.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from common import outbox
from common.events.catalog import SMS_FAILED, SMS_SENT
from common.events.envelope import new_event
from common.identifiers import mask_mobile
from common.metrics import SMS_MESSAGES
from services.notifications.models import SmsMessage
from services.notifications.models import outbox as outbox_table
from services.notifications.providers.base import Accepted, ProviderError, SmsProvider
from services.notifications.templates import CASE_REGISTERED_CITIZEN, Template, segments

_log = logging.getLogger(__name__)

STALE_SENDING = timedelta(seconds=60)  # well past the provider timeout


def queue(session: Session, cause: dict, recipient: str, template: Template, **values) -> str | None:
    """Queue one message for this cause, recipient and template; None when it was already queued."""
    body = template.render(**values)
    stmt = (
        insert(SmsMessage)
        .values(id=str(uuid.uuid4()), cause_source=cause["source"], cause_id=cause["id"],
                cause_type=cause["type"], recipient=recipient, template=template.name,
                template_version=template.version, body=body, segments=segments(body), status="queued")
        .on_conflict_do_nothing(constraint="sms_once_per_cause")
        .returning(SmsMessage.id)
    )
    return session.execute(stmt).scalar()


def queue_all(session: Session, cause: dict, messages) -> list[str]:
    """Queue each message (an Outgoing of case_messages); the ids of those queued now."""
    ids = [queue(session, cause, m.recipient, m.template, **m.values) for m in messages]
    return [i for i in ids if i]


def queue_case_registered(session: Session, event: dict, public_base_url: str) -> str | None:
    data = event["data"]
    mobile = data.get("reporter_mobile")
    if not mobile:
        return None  # an anonymous reporter follows the case with the code alone
    code = data["tracking_code"]
    return queue(session, event, mobile, CASE_REGISTERED_CITIZEN, tracking_code=code,
                 track_url=f"{public_base_url.rstrip('/')}/track/{code}")


def _claim(session: Session, condition, limit: int) -> list:
    """Mark due messages `sending` and return them as plain rows (they outlive the transaction)."""
    due = (select(SmsMessage.id).where(condition).order_by(SmsMessage.next_attempt_at)
           .limit(limit).with_for_update(skip_locked=True))
    m = SmsMessage.__table__.c
    stmt = (update(SmsMessage.__table__).where(m.id.in_(due.scalar_subquery()))
            .values(status="sending", claimed_at=datetime.now(timezone.utc), attempts=m.attempts + 1)
            .returning(m.id, m.recipient, m.body, m.attempts, m.template, m.segments,
                       m.cause_source, m.cause_id, m.cause_type))
    return list(session.execute(stmt))


def _due_now():
    now = datetime.now(timezone.utc)
    return or_(
        (SmsMessage.status == "queued") & (SmsMessage.next_attempt_at <= now),
        (SmsMessage.status == "sending") & (SmsMessage.claimed_at < now - STALE_SENDING),
    )


def deliver(session: Session, provider: SmsProvider, message_id: str, max_attempts: int) -> None:
    """Send one freshly queued message now (the fast path, right after its event)."""
    with session.begin():
        claimed = _claim(session, (SmsMessage.id == message_id) & (SmsMessage.status == "queued"), 1)
    for message in claimed:
        _attempt(session, provider, message, max_attempts)


def deliver_all(session: Session, provider: SmsProvider, message_ids: list[str], max_attempts: int) -> None:
    """The fast path for the messages of one event: claimed together, sent one after the other."""
    if not message_ids:
        return
    with session.begin():
        claimed = _claim(session, SmsMessage.id.in_(message_ids) & (SmsMessage.status == "queued"),
                         len(message_ids))
    for message in claimed:
        _attempt(session, provider, message, max_attempts)


def sweep(session: Session, provider: SmsProvider, max_attempts: int, limit: int = 100) -> int:
    """Send what is due: retries whose back-off has passed, and messages a crash left in `sending`.
    Safe in every replica at once (rows are claimed with SKIP LOCKED)."""
    with session.begin():
        claimed = _claim(session, _due_now(), limit)
    for message in claimed:
        _attempt(session, provider, message, max_attempts)
    return len(claimed)


def _attempt(session: Session, provider: SmsProvider, message, max_attempts: int) -> None:
    try:
        accepted = provider.find_by_local_id(message.id) if message.attempts > 1 else None
        accepted = accepted or provider.send(message.recipient, message.body, message.id)
    except ProviderError as exc:
        with session.begin():
            _record_failure(session, provider, message, exc, max_attempts)
        return
    with session.begin():
        _record_sent(session, provider, message, accepted)


def _record_sent(session: Session, provider: SmsProvider, message, accepted: Accepted) -> None:
    now = datetime.now(timezone.utc)
    session.execute(update(SmsMessage).where(SmsMessage.id == message.id).values(
        status="sent", provider=provider.name, provider_message_id=accepted.provider_message_id,
        provider_status=accepted.status, cost_rials=accepted.cost_rials, sent_at=now, last_error=None))
    data = {
        "message_id": message.id, "template": message.template,
        "recipient_masked": mask_mobile(message.recipient), "provider": provider.name,
        "provider_message_id": accepted.provider_message_id, "segments": message.segments,
        "cause": _cause(message),
    }
    if accepted.cost_rials is not None:
        data["cost_rials"] = accepted.cost_rials
    outbox.add(session, outbox_table, new_event(SMS_SENT, data, subject=message.id))
    SMS_MESSAGES.labels(provider.name, "sent").inc()


def _record_failure(session, provider, message, exc: ProviderError, max_attempts: int) -> None:
    final = not exc.retryable or message.attempts >= max_attempts
    values = {"last_error": str(exc)[:500], "provider": provider.name}
    if final:
        values["status"] = "failed"
        outbox.add(session, outbox_table, new_event(SMS_FAILED, {
            "message_id": message.id, "template": message.template,
            "recipient_masked": mask_mobile(message.recipient), "attempts": message.attempts,
            "reason": str(exc)[:500], "cause": _cause(message)}, subject=message.id))
        _log.error("SMS %s failed for good after %d attempts: %s", message.id, message.attempts, exc)
    else:
        values["status"] = "queued"
        values["next_attempt_at"] = datetime.now(timezone.utc) + backoff(message.attempts)
        _log.warning("SMS %s attempt %d failed, will retry: %s", message.id, message.attempts, exc)
    session.execute(update(SmsMessage).where(SmsMessage.id == message.id).values(**values))
    SMS_MESSAGES.labels(provider.name, "failed" if final else "retry").inc()


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** (attempts - 1), 600))


def _cause(message) -> dict:
    return {"source": message.cause_source, "id": message.cause_id, "type": message.cause_type}
