"""Queue an SMS once per cause, send it through the operators, follow it to its receipt.

A message moves queued → sending → sent → delivered, in short transactions around each operator
call, so no database transaction waits on the network:
- a failed send goes back to `queued` with back-off, until its attempts run out;
- an `undelivered` or `expired` receipt (or no receipt in DELIVERY_TIMEOUT) is sent again, under a
  new send key (the operator keeps one message per key), until its attempts run out;
- a message whose attempts ran out is dead-lettered: listed for staff, who can replay it.
A message left in `sending` by a crash is picked up by the sweep, which first asks the operator
whether it already holds it under its send key: nothing is sent twice.
Non-urgent messages made in quiet hours wait until they end (quiet_hours.py).
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from common import outbox
from common.config import get_settings
from common.events.catalog import SMS_FAILED, SMS_SENT
from common.events.envelope import new_event
from common.identifiers import InvalidIdentifier, mask_mobile, normalise_mobile
from common.jalali import iso
from common.metrics import SMS_BY_STATE, SMS_COST, SMS_DEAD_LETTERS, SMS_MESSAGES, SMS_SEND_LATENCY
from common.pagination import MAX_LIMIT, decode_cursor, page
from services.notifications import quiet_hours
from services.notifications.models import SmsMessage
from services.notifications.models import outbox as outbox_table
from services.notifications.case_messages import Outgoing
from services.notifications.providers.base import Accepted, PartialSend, ProviderError, SmsProvider
from services.notifications.providers.base import Outgoing as ToOperator
from services.notifications.templates import CASE_REGISTERED_CITIZEN, Template, segments

_log = logging.getLogger(__name__)

STALE_SENDING = timedelta(seconds=60)  # well past the provider timeout
DELIVERY_TIMEOUT = timedelta(minutes=10)  # no receipt by then: the message counts as expired
RECEIPT_GRACE = timedelta(seconds=3)  # give the operator's callback a chance before polling
BULK_CHUNK = 500  # claimed and recorded together; the adapters split to their API's limit
RETRY_STATES = {"undelivered", "expired", "failed"}


class InvalidRecipient(ValueError):
    permanent = True  # an event naming a mobile that is not one: dead-lettered at once


# queueing ------------------------------------------------------------------------------------------------
def queue(session: Session, cause: dict, recipient: str, template: Template, urgent: bool = False,
          **values) -> str | None:
    """Queue one message for this cause, recipient and template; None when it was already queued."""
    ids = queue_all(session, cause, [Outgoing(recipient, template, values)], urgent)
    return ids[0] if ids else None


def queue_all(session: Session, cause: dict, messages, urgent: bool = False) -> list[str]:
    """Queue the messages (case_messages.Outgoing) of one cause in one statement; the ids of those queued now (a message
    already queued for the same cause, recipient and template is not queued again)."""
    if not messages:
        return []
    now = datetime.now(timezone.utc)
    not_before = now if urgent else quiet_hours.release_time(now, get_settings().quiet_hours)
    rows = []
    for m in messages:
        body = m.template.render(**m.values)  # TemplateError: permanent
        message_id = str(uuid.uuid4())
        rows.append({"id": message_id, "cause_source": cause["source"], "cause_id": cause["id"],
                     "cause_type": cause["type"], "recipient": _mobile(m.recipient), "template": m.template.name,
                     "template_version": m.template.version, "body": body, "segments": segments(body),
                     "status": "queued", "urgent": urgent, "send_key": message_id, "next_attempt_at": not_before})
    stmt = insert(SmsMessage).on_conflict_do_nothing(constraint="sms_once_per_cause").returning(SmsMessage.id)
    return list(session.scalars(stmt, rows))


def _mobile(value: str) -> str:
    try:
        return normalise_mobile(value)
    except InvalidIdentifier as exc:
        raise InvalidRecipient(f"not a mobile number: {mask_mobile(str(value))}: {exc}") from None


def queue_case_registered(session: Session, event: dict, public_base_url: str) -> str | None:
    data = event["data"]
    mobile = data.get("reporter_mobile")
    if not mobile:
        return None  # an anonymous reporter follows the case with the code alone
    code = data["tracking_code"]
    return queue(session, event, mobile, CASE_REGISTERED_CITIZEN, urgent=data["urgency"] == "urgent",
                 tracking_code=code, track_url=f"{public_base_url.rstrip('/')}/track/{code}")


# sending ------------------------------------------------------------------------------------------------
_RETURNING = ("id", "recipient", "body", "attempts", "template", "segments", "cause_source", "cause_id",
              "cause_type", "send_key")


def _claim(session: Session, condition, limit: int) -> list:
    """Mark due messages `sending` and return them as plain rows (they outlive the transaction)."""
    due = (select(SmsMessage.id).where(condition).order_by(SmsMessage.next_attempt_at)
           .limit(limit).with_for_update(skip_locked=True))
    m = SmsMessage.__table__.c
    stmt = (update(SmsMessage.__table__).where(m.id.in_(due.scalar_subquery()))
            .values(status="sending", claimed_at=datetime.now(timezone.utc), attempts=m.attempts + 1)
            .returning(*[m[c] for c in _RETURNING]))
    return list(session.execute(stmt))


def _queued_and_due(now: datetime):
    return (SmsMessage.status == "queued") & (SmsMessage.next_attempt_at <= now)


def _due_now():
    now = datetime.now(timezone.utc)
    return or_(_queued_and_due(now),
               (SmsMessage.status == "sending") & (SmsMessage.claimed_at < now - STALE_SENDING))


def deliver(session: Session, provider: SmsProvider, message_id: str, max_attempts: int) -> None:
    """Send one freshly queued message now (the fast path, right after its event)."""
    deliver_all(session, provider, [message_id], max_attempts)


def deliver_all(session: Session, provider: SmsProvider, message_ids: list[str], max_attempts: int) -> None:
    """The fast path for the messages of one event: claimed together, sent one after the other. A
    message waiting out quiet hours is not due, and stays for the sweep."""
    if not message_ids:
        return
    with session.begin():
        claimed = _claim(session, SmsMessage.id.in_(message_ids) & _queued_and_due(datetime.now(timezone.utc)),
                         len(message_ids))
    for message in claimed:
        _attempt(session, provider, message, max_attempts)


def deliver_bulk(session: Session, provider: SmsProvider, message_ids: list[str], max_attempts: int,
                 chunk: int = BULK_CHUNK) -> int:
    """Send many messages through the operators' bulk endpoints, `chunk` at a time; returns how
    many were sent. What an operator did not take is retried by the sweep."""
    sent = 0
    for start in range(0, len(message_ids), chunk):
        ids = message_ids[start:start + chunk]
        with session.begin():
            claimed = _claim(session, SmsMessage.id.in_(ids) & _queued_and_due(datetime.now(timezone.utc)), len(ids))
        if not claimed:
            continue
        started = time.perf_counter()
        try:
            accepted, failure = provider.send_bulk([ToOperator(m.recipient, m.body, m.send_key) for m in claimed]), None
        except PartialSend as exc:
            accepted, failure = exc.accepted, exc
        except ProviderError as exc:
            accepted, failure = [], exc
        failure = failure or ProviderError("the operator did not take every message of the batch")
        SMS_SEND_LATENCY.labels(_provider_of(accepted, provider), "bulk").observe(time.perf_counter() - started)
        with session.begin():
            _record_sent(session, provider, list(zip(claimed, accepted, strict=False)))
            for message in claimed[len(accepted):]:
                _record_failure(session, provider, message, failure, max_attempts)
        sent += len(accepted)
    return sent


def sweep(session: Session, provider: SmsProvider, max_attempts: int, limit: int = 100) -> int:
    """Send what is due: retries whose back-off has passed, messages whose quiet hours ended, and
    messages a crash left in `sending`. Safe in every replica at once (SKIP LOCKED)."""
    with session.begin():
        claimed = _claim(session, _due_now(), limit)
    for message in claimed:
        _attempt(session, provider, message, max_attempts)
    return len(claimed)


def _attempt(session: Session, provider: SmsProvider, message, max_attempts: int) -> None:
    started = time.perf_counter()
    try:
        accepted = provider.find_by_local_id(message.send_key) if message.attempts > 1 else None
        accepted = accepted or provider.send(message.recipient, message.body, message.send_key)
    except ProviderError as exc:
        with session.begin():
            _record_failure(session, provider, message, exc, max_attempts)
        return
    SMS_SEND_LATENCY.labels(_provider_of([accepted], provider), "single").observe(time.perf_counter() - started)
    with session.begin():
        _record_sent(session, provider, [(message, accepted)])


def _provider_of(accepted: list[Accepted], provider: SmsProvider) -> str:
    return (accepted[0].provider if accepted and accepted[0].provider else None) or provider.name


def _record_sent(session: Session, provider: SmsProvider, pairs: list) -> None:
    if not pairs:
        return
    now = datetime.now(timezone.utc)
    rows, events = [], []
    for message, accepted in pairs:
        name = accepted.provider or provider.name
        state = "sent" if accepted.status in ("queued", "sent") else accepted.status
        rows.append({"id": message.id, "status": state, "provider": name,
                     "provider_message_id": accepted.provider_message_id, "provider_status": accepted.status,
                     "cost_rials": accepted.cost_rials, "sent_at": iso(now)})
        data = {"message_id": message.id, "template": message.template,
                "recipient_masked": mask_mobile(message.recipient), "provider": name,
                "provider_message_id": accepted.provider_message_id, "segments": message.segments,
                "cause": _cause(message)}
        if accepted.cost_rials is not None:
            data["cost_rials"] = accepted.cost_rials
            SMS_COST.labels(name).inc(accepted.cost_rials)
        events.append(new_event(SMS_SENT, data, subject=message.id, time=now))
        SMS_MESSAGES.labels(name, "sent").inc()
    session.execute(text(
        "UPDATE sms_messages m SET status = v.status, provider = v.provider, "
        "provider_message_id = v.provider_message_id, provider_status = v.provider_status, "
        "cost_rials = v.cost_rials, sent_at = v.sent_at, last_error = NULL "
        "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(id uuid, status text, provider text, "
        "provider_message_id text, provider_status text, cost_rials int, sent_at timestamptz) WHERE m.id = v.id"),
        {"rows": json.dumps(rows)})
    outbox.add_many(session, outbox_table, events)


def _record_failure(session, provider, message, exc: ProviderError, max_attempts: int) -> None:
    final = not exc.retryable or message.attempts >= max_attempts
    name = getattr(exc, "provider", None) or provider.name
    if final:
        _dead_letter(session, message, "failed", str(exc), message.attempts)
    else:
        session.execute(update(SmsMessage).where(SmsMessage.id == message.id).values(
            status="queued", next_attempt_at=datetime.now(timezone.utc) + backoff(message.attempts),
            last_error=str(exc)[:500]))
        _log.warning("SMS %s attempt %d failed, will retry: %s", message.id, message.attempts, exc)
    SMS_MESSAGES.labels(name, "failed" if final else "retry").inc()


def _dead_letter(session: Session, message, state: str, reason: str, attempts: int) -> None:
    session.execute(update(SmsMessage).where(SmsMessage.id == message.id).values(
        status=state, dead_lettered_at=datetime.now(timezone.utc), last_error=reason[:500]))
    outbox.add(session, outbox_table, new_event(SMS_FAILED, {
        "message_id": message.id, "template": message.template, "recipient_masked": mask_mobile(message.recipient),
        "attempts": attempts, "reason": reason[:500], "cause": _cause(message)}, subject=message.id))
    _log.error("SMS %s given up after %d attempts (%s): %s", message.id, attempts, state, reason)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** (attempts - 1), 600))


def _cause(message) -> dict:
    return {"source": message.cause_source, "id": message.cause_id, "type": message.cause_type}


# receipts -----------------------------------------------------------------------------------------------
def apply_receipts(session: Session, provider_name: str, receipts: list[tuple[str, str]], max_attempts: int) -> int:
    """Receipts from an operator (its callback, or our polling): (its message id, platform state).
    Delivered ends the message; undelivered, expired or failed sends it again until its attempts
    run out, then dead-letters it. A receipt for a message not awaiting one changes nothing."""
    final = {pid: state for pid, state in receipts if state not in ("queued", "sent")}
    if not final:
        return 0
    now = datetime.now(timezone.utc)
    changed = 0
    with session.begin():
        rows = session.execute(
            select(SmsMessage).where(SmsMessage.provider == provider_name, SmsMessage.status == "sent",
                                     SmsMessage.provider_message_id.in_(list(final))).with_for_update(skip_locked=True)
        ).scalars().all()
        for message in rows:
            _settle(session, message, final[message.provider_message_id], now, max_attempts)
            changed += 1
    return changed


def _settle(session: Session, message: SmsMessage, state: str, now: datetime, max_attempts: int) -> None:
    message.receipt_at, message.provider_status = now, state
    SMS_MESSAGES.labels(message.provider or "unknown", state).inc()
    if state == "delivered":
        message.status, message.delivered_at = "delivered", now
    elif message.attempts >= max_attempts:
        _dead_letter(session, message, state, f"{state} after {message.attempts} attempts", message.attempts)
    else:  # send again under a new key: the operator holds the old one as undelivered
        message.status, message.send_key = "queued", f"{message.id}.{message.attempts}"
        message.next_attempt_at = now + backoff(message.attempts)


def poll_receipts(session: Session, router, max_attempts: int, limit: int = 500) -> int:
    """Ask the operators about messages sent a while ago with no receipt yet; a message with none
    after DELIVERY_TIMEOUT counts as expired."""
    now = datetime.now(timezone.utc)
    with session.begin():
        waiting = session.execute(
            select(SmsMessage.provider, SmsMessage.provider_message_id, SmsMessage.sent_at)
            .where(SmsMessage.status == "sent", SmsMessage.sent_at < now - RECEIPT_GRACE)
            .order_by(SmsMessage.sent_at).limit(limit)).all()
    by_provider: dict[str, list] = {}
    for provider, pid, sent_at in waiting:
        by_provider.setdefault(provider, []).append((pid, sent_at))
    changed = 0
    for provider, items in by_provider.items():
        try:
            states = router.statuses_for(provider, [pid for pid, _ in items])
        except (ProviderError, KeyError) as exc:
            _log.warning("could not poll %s for receipts: %s", provider, exc)
            states = {}
        receipts = [(pid, _or_expired(states.get(pid), sent_at, now)) for pid, sent_at in items]
        changed += apply_receipts(session, provider, receipts, max_attempts)
    return changed


def _or_expired(state: str | None, sent_at: datetime, now: datetime) -> str:
    """Still in flight (or unknown to the operator) after DELIVERY_TIMEOUT counts as expired."""
    if state in (None, "queued", "sent"):
        return "expired" if sent_at < now - DELIVERY_TIMEOUT else "sent"
    return state


# the dead-letter list ----------------------------------------------------------------------------------------
def dead_letters(session: Session, limit: int, after: str | None) -> dict:
    limit = max(1, min(limit, MAX_LIMIT))
    query = (select(SmsMessage).where(SmsMessage.dead_lettered_at.is_not(None))
             .order_by(SmsMessage.dead_lettered_at.desc(), SmsMessage.id.desc()))
    cursor = decode_cursor(after, 2)
    if cursor:
        query = query.where(tuple_(SmsMessage.dead_lettered_at, SmsMessage.id)
                            < tuple_(datetime.fromisoformat(cursor[0]), cursor[1]))
    rows = list(session.scalars(query.limit(limit + 1)))
    items, next_cursor = page(rows, limit, lambda m: (m.dead_lettered_at.isoformat(), m.id))
    return {"items": [{"id": m.id, "recipient_masked": mask_mobile(m.recipient), "template": m.template,
                       "template_version": m.template_version, "status": m.status, "attempts": m.attempts,
                       "replays": m.replays, "provider": m.provider, "last_error": m.last_error,
                       "cause_type": m.cause_type, "created_at": iso(m.created_at),
                       "dead_lettered_at": iso(m.dead_lettered_at)} for m in items],
            "next": next_cursor}


def replay(session: Session, message_ids: list[str]) -> list[str]:
    """Put dead-lettered messages back in the queue with fresh attempts and a new send key; the ids
    replayed (others were not dead-lettered, or are unknown)."""
    m = SmsMessage.__table__.c
    stmt = (update(SmsMessage.__table__)
            .where(m.id.in_(message_ids), m.dead_lettered_at.is_not(None))
            .values(status="queued", attempts=0, dead_lettered_at=None, replays=m.replays + 1,
                    send_key=func.concat(m.id, ".r", m.replays + 1), next_attempt_at=func.now())
            .returning(m.id))
    return [str(i) for i in session.scalars(stmt)]


def refresh_gauges(session: Session) -> None:
    with session.begin():
        counts = dict(session.execute(
            select(SmsMessage.status, func.count()).where(SmsMessage.status.in_(("queued", "sending", "sent")))
            .group_by(SmsMessage.status)).all())
        dead = session.scalar(select(func.count()).where(SmsMessage.dead_lettered_at.is_not(None)))
    for state in ("queued", "sending", "sent"):
        SMS_BY_STATE.labels(state).set(counts.get(state, 0))
    SMS_DEAD_LETTERS.set(dead or 0)
