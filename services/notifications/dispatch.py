"""Queue an SMS once per cause, send it through the operators, follow it to its receipt.

A message moves queued → sending → sent → delivered, in short transactions around each operator
call, so no database transaction waits on the network (a bulk batch's first chunk is queued already `sending`,
queue_bulk: one write of each row fewer); each step is one statement for a whole batch, its rows passed as one
JSON parameter:
- a send that surely failed (the operator refused, or the request never reached it) goes back to `queued`
  with back-off, until its attempts run out;
- an operator's own final state, `undelivered`, `expired` or `failed` (by receipt or by polling), is sent
  again, under a new send key (the operator keeps one message per key), until its attempts run out;
- a message whose attempts ran out is dead-lettered: listed for staff, who can replay it.

Exactly once under ambiguity: a message is never sent again while an operator may hold it.
- An attempt that ended without a sure answer (a timeout, a dropped connection, a 5xx: routing.py asks the
  operator at once) leaves the message `queued` but held by that operator (`held_by`, since
  `in_doubt_since`): the sweep asks it again (by our send key, in bulk) once SETTLE has passed, and sends the
  message only when it says it does not hold it; while it cannot be asked, the message waits (back-off), and
  is never sent elsewhere.
- A message or a bulk chunk left in `sending` by a crash is held by every operator ("*"): the sweep asks them
  all, in bulk, and sends only what none of them holds.
- A sent message without a final state stays `sent` and its operator is asked again, less often as it ages
  (`next_attempt_at`); it is never sent again for want of an answer. One whose state has been unknown, or
  that has been in doubt, for UNRESOLVED_AFTER shows in the sms_messages_by_state{state="unresolved"} gauge
  and its alert (docs/operations.md, SmsOutcomeUnknown).
- No request to an operator starts later than SEND_BUDGET after its messages were claimed, so a claim is
  taken for a crash's (STALE_SENDING) only when its worker is surely gone.
Non-urgent messages made in quiet hours wait until they end (quiet_hours.py).
"""
from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter, namedtuple
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import case, func, or_, select, text, tuple_, update
from sqlalchemy.orm import Session

from common import outbox
from common.config import get_settings
from common.events.catalog import SMS_FAILED, SMS_SENT
from common.events.envelope import new_event, random_ids
from common.identifiers import InvalidIdentifier, mask_mobile, normalise_mobile
from common.jalali import iso
from common.metrics import SMS_BY_STATE, SMS_COST, SMS_DEAD_LETTERS, SMS_MESSAGES, SMS_SEND_LATENCY
from common.pagination import MAX_LIMIT, decode_cursor, page
from services.notifications import code_text, quiet_hours
from services.notifications.models import SmsMessage
from services.notifications.models import outbox as outbox_table
from services.notifications.case_messages import TemplatedMessage
from services.notifications.providers.base import FINAL_STATES, Accepted, ProviderError, SmsProvider
from services.notifications.providers.base import Outgoing as ToOperator
from services.notifications.routing import ProviderRouter
from services.notifications.templates import CASE_REGISTERED_CITIZEN, Template, segments

_log = logging.getLogger(__name__)

STALE_SENDING = timedelta(seconds=60)  # a claim this old was cut short by a crash (see SEND_BUDGET)
# seconds after a claim (or its renewal) past which no request to an operator starts; the last one, with the
# lookup after an ambiguous failure (routing.ASK_BUDGET) and the operators' timeouts, ends well within
# STALE_SENDING
SEND_BUDGET = 20.0
ASK_BUDGET = 20.0  # seconds the sweep spends asking operators about messages in doubt
SETTLE = timedelta(seconds=30)  # an operator that timed out may act on the request meanwhile: "not held" counts after
ASK_BACKOFF_MAX = timedelta(minutes=10)  # an operator that cannot be asked is asked again at most this far apart
RECEIPT_GRACE = timedelta(seconds=3)  # give the operator's callback a chance before polling
POLL_BACKOFF_MAX = timedelta(hours=1)  # a sent message's state is asked at most this far apart
UNRESOLVED_AFTER = timedelta(hours=1)  # in doubt, or its state unknown, this long: the unresolved gauge counts it
BULK_CHUNK = 500  # claimed and recorded together; the adapters split to their API's limit
SWEEP_BUDGET = 4.0  # seconds one tick of the sweep (every 5 s) keeps taking full chunks of a backlog
RETRY_STATES = {"undelivered", "expired", "failed"}


class InvalidRecipient(ValueError):
    permanent = True  # an event naming a mobile that is not one: dead-lettered at once


# queueing ------------------------------------------------------------------------------------------------
def queue(session: Session, cause: dict, recipient: str, template: Template, urgent: bool = False,
          **values) -> str | None:
    """Queue one message for this cause, recipient and template; None when it was already queued."""
    ids = queue_all(session, cause, [TemplatedMessage(recipient, template, values)], urgent)
    return ids[0] if ids else None


def queue_all(session: Session, cause: dict, messages, urgent: bool = False) -> list[str]:
    """Queue the messages (case_messages.TemplatedMessage) of one cause in one statement; the ids of those queued now (a message
    already queued for the same cause, recipient and template is not queued again), in the order given."""
    return [row.id for row in _insert(session, cause, messages, urgent)[0]]


@dataclass(frozen=True)
class Bulk:
    """The messages of one cause queued for the bulk endpoints (queue_bulk): `claimed`, the first chunk, claimed
    as they were queued (plain rows, as _claim returns them), and `queued`, the ids of the rest."""
    claimed: list
    queued: list[str]
    since: float  # time.monotonic() before the claim: SEND_BUDGET counts from here


def queue_bulk(session: Session, cause: dict, messages, urgent: bool = False, chunk: int = BULK_CHUNK) -> Bulk:
    """queue_all for the bulk endpoints (send_bulk): in the same statement, the first `chunk` messages, when they
    are due now, are claimed (`sending`, their first attempt) as _claim would claim them right after, so that
    each row is written twice (queued and claimed at once, then sent), not three times. Committed with the
    caller's transaction; a crash after it leaves them `sending`, to be asked about and sent by the sweep, as a
    crash after any claim does."""
    since = time.monotonic()
    rows, claimed = _insert(session, cause, messages, urgent, claim=chunk)
    return Bulk([r for r in rows if r.id in claimed], [r.id for r in rows if r.id not in claimed], since)


def send_bulk(session: Session, provider: SmsProvider, bulk: Bulk, max_attempts: int,
              chunk: int = BULK_CHUNK) -> int:
    """Send what queue_bulk queued: the chunk it claimed at once, the rest as deliver_bulk does; how many were
    sent."""
    router = _router(provider)
    sent = _send(session, router, bulk.claimed, max_attempts, bulk.since + SEND_BUDGET, "bulk") if bulk.claimed else 0
    return sent + deliver_bulk(session, router, bulk.queued, max_attempts, chunk)


def _insert(session: Session, cause: dict, messages, urgent: bool, claim: int = 0) -> tuple[list, set[str]]:
    """Insert the messages of one cause, the first `claim` of them (when due now) claimed; the rows inserted (a
    message already queued for the same cause, recipient and template is not queued again), in the order given,
    as _claim returns rows, and the ids of those claimed."""
    if not messages:
        return [], set()
    now = datetime.now(timezone.utc)
    not_before = now if urgent else quiet_hours.release_time(now, get_settings().quiet_hours)
    if not_before > now:
        claim = 0  # waits out quiet hours: for the sweep
    rows = []
    bodies = _Bodies()
    for m, message_id in zip(messages, random_ids(len(messages)), strict=True):
        body, parts = bodies.render(m.template, m.values)  # TemplateError: permanent
        rows.append({"id": message_id, "recipient": _mobile(m.recipient), "template": m.template.name,
                     "template_version": m.template.version, "body": body, "segments": parts})
    # one statement whatever the count: the rows travel as one JSON parameter, and the columns every message of
    # the cause shares as scalars (not a bind parameter per column per row). A claim's time is the statement's
    # start, after `since` (queue_bulk): SEND_BUDGET holds from it.
    inserted = dict(session.execute(text(
        "INSERT INTO sms_messages (id, cause_source, cause_id, cause_type, recipient, template, template_version, "
        "body, segments, status, attempts, claimed_at, urgent, send_key, next_attempt_at, replays) "
        "SELECT v.id, :source, :cause_id, :cause_type, v.recipient, v.template, v.template_version, v.body, "
        "v.segments, CASE WHEN v.ordinality <= :claim THEN 'sending' ELSE 'queued' END, "
        "CASE WHEN v.ordinality <= :claim THEN 1 ELSE 0 END, "
        "CASE WHEN v.ordinality <= :claim THEN statement_timestamp() END, :urgent, v.id::text, :not_before, 0 "
        "FROM ROWS FROM (jsonb_to_recordset(CAST(:rows AS jsonb)) AS (id uuid, recipient text, template text, "
        "template_version int, body text, segments int)) WITH ORDINALITY AS v ORDER BY v.ordinality "
        "ON CONFLICT ON CONSTRAINT sms_once_per_cause DO NOTHING RETURNING id::text, status = 'sending'"),
        {"source": cause["source"], "cause_id": cause["id"], "cause_type": cause["type"], "urgent": urgent,
         "not_before": not_before, "claim": claim, "rows": json.dumps(rows, ensure_ascii=False)}).all())
    queued = [_Claimed(r["id"], r["recipient"], r["body"], 1 if inserted[r["id"]] else 0, r["template"],
                       r["segments"], cause["source"], cause["id"], cause["type"], r["id"], None, None, None)
              for r in rows if r["id"] in inserted]
    return queued, {i for i, claimed in inserted.items() if claimed}


class _Bodies:
    """Templates rendered for one batch: a payment batch tells hundreds of people the same amount, so each text
    (and its count of parts) is made once and reused."""

    def __init__(self):
        self.made: dict = {}

    def render(self, template: Template, values: dict) -> tuple[str, int]:
        try:
            key = (template.name, template.version, tuple(sorted(values.items())))
            hash(key)
        except TypeError:  # a value that cannot be a key: rendered each time
            body = template.render(**values)
            return body, segments(body)
        made = self.made.get(key)
        if made is None:
            body = template.render(**values)
            made = self.made[key] = (body, segments(body))
        return made


_CANONICAL_MOBILE = re.compile(r"09[0-9]{9}")


def _mobile(value: str) -> str:
    if isinstance(value, str) and _CANONICAL_MOBILE.fullmatch(value):
        return value  # already as normalise_mobile writes it
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
              "cause_type", "send_key", "held_by", "in_doubt_since", "claimed_at")
# a row as _claim returns it, made by _insert for the messages it inserts (claimed_at: None, as only a message held
# by an operator, which a fresh one is not, needs it)
_Claimed = namedtuple("_Claimed", _RETURNING)


def _claim(session: Session, condition, limit: int) -> list:
    """Mark due messages `sending` and return them as plain rows (they outlive the transaction). A message
    still `sending` (a claim a crash cut short) is held by every operator from its claim on: where its attempt
    went, nobody knows. Asking about a message in doubt is not a new attempt."""
    due = (select(SmsMessage.id).where(condition).order_by(SmsMessage.next_attempt_at)
           .limit(limit).with_for_update(skip_locked=True))
    m = SmsMessage.__table__.c
    crashed = m.status == "sending"
    stmt = (update(SmsMessage.__table__).where(m.id.in_(due.scalar_subquery()))
            .values(status="sending", claimed_at=func.now(),
                    attempts=case((crashed | m.held_by.is_not(None), m.attempts), else_=m.attempts + 1),
                    held_by=case((crashed, func.coalesce(m.held_by, "*")), else_=m.held_by),
                    in_doubt_since=case((crashed, func.coalesce(m.in_doubt_since, m.claimed_at)),
                                        else_=m.in_doubt_since))
            .returning(*[m[c] for c in _RETURNING]))
    return list(session.execute(stmt))


def _queued_and_due(now: datetime):
    return (SmsMessage.status == "queued") & (SmsMessage.next_attempt_at <= now) & SmsMessage.held_by.is_(None)


def _due_now():
    return or_((SmsMessage.status == "queued") & (SmsMessage.next_attempt_at <= func.now()),
               (SmsMessage.status == "sending") & (SmsMessage.claimed_at < func.now() - STALE_SENDING))


def _router(provider) -> ProviderRouter:
    """The router the dispatcher sends through (a single operator's adapter gets one of its own)."""
    return provider if isinstance(provider, ProviderRouter) else ProviderRouter([provider], rate_per_second=0)


def deliver(session: Session, provider: SmsProvider, message_id: str, max_attempts: int) -> None:
    """Send one freshly queued message now (the fast path, right after its event)."""
    deliver_all(session, provider, [message_id], max_attempts)


def deliver_all(session: Session, provider: SmsProvider, message_ids: list[str], max_attempts: int) -> None:
    """The fast path for the messages of one event: claimed together, sent one after the other. A
    message waiting out quiet hours is not due, and stays for the sweep."""
    if not message_ids:
        return
    router = _router(provider)
    with session.begin():
        claimed = _claim(session, SmsMessage.id.in_(message_ids) & _queued_and_due(datetime.now(timezone.utc)),
                         len(message_ids))
    deadline = time.monotonic() + SEND_BUDGET
    for message in claimed:
        _send(session, router, [message], max_attempts, deadline, "single")


def deliver_bulk(session: Session, provider: SmsProvider, message_ids: list[str], max_attempts: int,
                 chunk: int = BULK_CHUNK) -> int:
    """Send many messages through the operators' bulk endpoints, `chunk` at a time; returns how
    many were sent. What an operator did not take is retried by the sweep; what one may have taken is
    asked about by the sweep before anything is sent again."""
    router = _router(provider)
    sent = 0
    for start in range(0, len(message_ids), chunk):
        ids = message_ids[start:start + chunk]
        with session.begin():
            claimed = _claim(session, SmsMessage.id.in_(ids) & _queued_and_due(datetime.now(timezone.utc)), len(ids))
        if claimed:
            sent += _send(session, router, claimed, max_attempts, time.monotonic() + SEND_BUDGET, "bulk")
    return sent


def sweep_backlog(session: Session, provider: SmsProvider, max_attempts: int, budget: float = SWEEP_BUDGET,
                  limit: int = BULK_CHUNK) -> int:
    """`sweep` again while it finds full chunks and `budget` seconds are left: a backlog (after the database
    or the operators were away, or a crash left chunks in `sending`) drains at the operators' pace rather
    than a chunk per tick of the timer. Returns how many messages it took up."""
    deadline, total = time.monotonic() + budget, 0
    while True:
        taken = sweep(session, provider, max_attempts, limit)
        total += taken
        if taken < limit or time.monotonic() >= deadline:
            return total


def sweep(session: Session, provider: SmsProvider, max_attempts: int, limit: int = BULK_CHUNK) -> int:
    """Send what is due: retries whose back-off has passed, messages whose quiet hours ended; and resolve
    messages in doubt (held after an ambiguous attempt, or left in `sending` by a crash) by asking the
    operators that may hold them, in bulk, then sending only what none holds. Safe in every replica at once
    (SKIP LOCKED). Returns how many messages it took up."""
    router = _router(provider)
    with session.begin():
        claimed = _claim(session, _due_now(), limit)
    if not claimed:
        return 0
    fresh = [m for m in claimed if not m.held_by]
    cleared = _ask_holders(session, router, [m for m in claimed if m.held_by], max_attempts)
    if cleared:
        with session.begin():
            cleared = _renew(session, cleared)
    to_send = fresh + cleared
    if to_send:
        _send(session, router, to_send, max_attempts, time.monotonic() + SEND_BUDGET,
              "single" if len(to_send) == 1 else "bulk")
    return len(claimed)


def _send(session: Session, router: ProviderRouter, claimed: list, max_attempts: int, deadline: float,
          kind: str) -> int:
    """Send claimed messages that no operator may hold (one request for one, the bulk endpoints for more), and
    record what came of each in one transaction; returns how many an operator took."""
    started = time.perf_counter()
    outcome = router.deliver([ToOperator(m.recipient, code_text.text_to_send(m), m.send_key) for m in claimed],
                             budget=max(0.0, deadline - time.monotonic()))
    if outcome.accepted:
        SMS_SEND_LATENCY.labels(_provider_of(list(outcome.accepted.values()), router), kind).observe(
            time.perf_counter() - started)
    by_key = {m.send_key: m for m in claimed}
    with session.begin():
        _record_sent(session, router, [(by_key[k], a) for k, a in outcome.accepted.items()])
        _record_in_doubt(session, [(by_key[k], name) for k, name in outcome.in_doubt.items()])
        _release(session, [by_key[k] for k in outcome.untried])
        for key, exc in outcome.failed.items():
            _record_failure(session, router, by_key[key], exc, max_attempts)
    return len(outcome.accepted)


def _ask_holders(session: Session, router: ProviderRouter, held: list, max_attempts: int) -> list:
    """Ask the operators that may hold these messages (`held_by`) whether they do, in bulk. What one holds is
    recorded as sent; what none could be asked about, or what an operator may still be taking (SETTLE has not
    passed), stays queued and held, to be asked again later; the rest, which no operator holds, is returned,
    cleared to be sent."""
    if not held:
        return []
    now = held[0].claimed_at  # the database's clock, as in_doubt_since
    deadline = time.monotonic() + ASK_BUDGET
    found: dict[str, Accepted] = {}
    keep: list[dict] = []
    cleared = []
    groups: dict[str, list] = {}
    for message in held:
        groups.setdefault(message.held_by, []).append(message)
    for held_by, messages in groups.items():
        at = None if held_by == "*" else [n for n in held_by.split(",") if n]
        since = min(m.in_doubt_since or m.claimed_at for m in messages).timestamp()
        got, unasked = router.find_sent([ToOperator(m.recipient, code_text.text_to_send(m), m.send_key) for m in messages], since,
                                        at=at, deadline=deadline)
        found.update({m.send_key: got[m.send_key] for m in messages if m.send_key in got})
        for message in messages:
            if message.send_key in got:
                continue
            doubt = now - (message.in_doubt_since or message.claimed_at)
            if doubt < SETTLE:  # the operator may still be taking it: its "not here" is not final yet
                keep.append({"id": message.id, "held_by": held_by, "next": iso(now + SETTLE - doubt),
                             "why": f"in doubt with {held_by}: asked again once it has settled"})
            elif unasked:
                keep.append({"id": message.id, "held_by": ",".join(sorted(unasked)),
                             "next": iso(now + ask_backoff(doubt)),
                             "why": f"cannot tell whether {', '.join(sorted(unasked))} took it: asked again later"})
            else:
                cleared.append(message)
    with session.begin():
        _record_sent(session, router, [(m, found[m.send_key]) for m in held if m.send_key in found], found=True)
        if keep:
            session.execute(text(
                "UPDATE sms_messages m SET status = 'queued', held_by = v.held_by, next_attempt_at = v.next, "
                "last_error = v.why FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(id uuid, held_by text, "
                "next timestamptz, why text) WHERE m.id = v.id"), {"rows": json.dumps(keep)})
    if found:
        _log.info("SMS: %d messages in doubt were found at their operator, not sent again", len(found))
    return cleared


def _renew(session: Session, messages: list) -> list:
    """Renew the claim of messages cleared to be sent (those still ours: claimed at the same instant) and
    forget whom they were held by: a crash from here on leaves them held by every operator again."""
    m = SmsMessage.__table__.c
    ours = set(session.scalars(
        update(SmsMessage.__table__)
        .where(m.id.in_([x.id for x in messages]), m.status == "sending", m.claimed_at == messages[0].claimed_at)
        .values(claimed_at=func.now(), held_by=None, in_doubt_since=None).returning(m.id)))
    return [x for x in messages if x.id in {str(i) for i in ours}]


def _record_in_doubt(session: Session, pairs: list) -> None:
    """Messages an operator may hold after an attempt without a sure answer: queued again, held by it, asked
    again once SETTLE has passed; never sent elsewhere before it answers."""
    if not pairs:
        return
    rows = [{"id": message.id, "held_by": name} for message, name in pairs]
    session.execute(text(
        "UPDATE sms_messages m SET status = 'queued', held_by = v.held_by, "
        "in_doubt_since = coalesce(m.in_doubt_since, m.claimed_at), "
        "next_attempt_at = coalesce(m.in_doubt_since, m.claimed_at) + make_interval(secs => :settle), "
        "last_error = 'in doubt with ' || v.held_by || ': asked before it is sent anywhere again' "
        "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(id uuid, held_by text) WHERE m.id = v.id"),
        {"rows": json.dumps(rows), "settle": SETTLE.total_seconds()})
    for _, name in pairs:
        SMS_MESSAGES.labels(name, "in_doubt").inc()
    _log.warning("SMS: %d messages may have been taken by %s without a sure answer; they wait to ask it",
                 len(pairs), ", ".join(sorted({name for _, name in pairs})))


def _release(session: Session, messages: list) -> None:
    """Messages the time budget left unsent: queued again, due now."""
    if messages:
        session.execute(update(SmsMessage).where(SmsMessage.id.in_([m.id for m in messages]))
                        .values(status="queued", next_attempt_at=func.now()))


def ask_backoff(in_doubt: timedelta) -> timedelta:
    """How long until an operator that could not be asked is asked again: a quarter of the time in doubt."""
    return min(max(SETTLE, in_doubt / 4), ASK_BACKOFF_MAX)


def _provider_of(accepted: list[Accepted], provider: SmsProvider) -> str:
    return (accepted[0].provider if accepted and accepted[0].provider else None) or provider.name


def _record_sent(session: Session, provider: SmsProvider, pairs: list, found: bool = False) -> None:
    """Messages an operator took (or, `found`, was found holding). One it refused within a batch is `failed`;
    the others are `sent`, their state asked after RECEIPT_GRACE (at once when already known). Each with its
    `sms.sent` event, in two statements whatever the count."""
    if not pairs:
        return
    now = datetime.now(timezone.utc)
    sent_at, ask_later = iso(now), iso(now + RECEIPT_GRACE)
    envelope = new_event(SMS_SENT, {}, subject="", time=now)  # what every event of the batch shares
    rows, events = [], []
    sent: Counter = Counter()
    cost: Counter = Counter()
    for (message, accepted), event_id in zip(pairs, random_ids(len(pairs)), strict=True):
        name = accepted.provider or provider.name
        rows.append({"id": message.id, "status": "failed" if accepted.status == "failed" and not found else "sent",
                     "provider": name, "provider_message_id": accepted.provider_message_id,
                     "provider_status": accepted.status, "cost_rials": accepted.cost_rials, "sent_at": sent_at,
                     "next": sent_at if accepted.status in FINAL_STATES else ask_later})
        data = {"message_id": message.id, "template": message.template,
                "recipient_masked": mask_mobile(message.recipient), "provider": name,
                "provider_message_id": accepted.provider_message_id, "segments": message.segments,
                "cause": _cause(message)}
        if accepted.cost_rials is not None:
            data["cost_rials"] = accepted.cost_rials
            cost[name] += accepted.cost_rials
        events.append({**envelope, "id": event_id, "subject": message.id, "data": data})
        sent[name] += 1
    session.execute(text(
        "UPDATE sms_messages m SET status = v.status, provider = v.provider, "
        "provider_message_id = v.provider_message_id, provider_status = v.provider_status, "
        "cost_rials = v.cost_rials, sent_at = v.sent_at, last_error = NULL, next_attempt_at = v.next, "
        "held_by = NULL, in_doubt_since = NULL "
        "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(id uuid, status text, provider text, "
        "provider_message_id text, provider_status text, cost_rials int, sent_at timestamptz, next timestamptz) "
        "WHERE m.id = v.id"),
        {"rows": json.dumps(rows)})
    outbox.add_many(session, outbox_table, events)
    for name, count in sent.items():  # the metrics once per operator, not once per message
        SMS_MESSAGES.labels(name, "sent").inc(count)
    for name, rials in cost.items():
        SMS_COST.labels(name).inc(rials)


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
    """Ask the operators for the state of sent messages whose receipt has not come, each when it is due
    (`next_attempt_at`, further apart as it ages). Only an operator's own final state changes a message
    (apply_receipts). One still in transit, or whose state cannot be had (the operator errs, its circuit is
    open, or it does not know the message), stays `sent` and is asked again later; it is never sent again for
    want of an answer. One whose state has stayed unknown for UNRESOLVED_AFTER shows in the unresolved gauge."""
    with session.begin():
        now = session.scalar(select(func.now()))
        waiting = session.execute(
            select(SmsMessage.id, SmsMessage.provider, SmsMessage.provider_message_id, SmsMessage.sent_at)
            .where(SmsMessage.status == "sent", SmsMessage.next_attempt_at <= now)
            .order_by(SmsMessage.next_attempt_at).limit(limit)).all()
    by_provider: dict[str, list] = {}
    for message_id, provider, pid, sent_at in waiting:
        by_provider.setdefault(provider, []).append((message_id, pid, sent_at))
    changed = 0
    later = []
    for provider, items in by_provider.items():
        try:
            states = router.statuses_for(provider, [pid for _, pid, _ in items if pid])
        except (ProviderError, ValueError) as exc:
            _log.warning("could not poll %s for receipts (asked again later): %s", provider, exc)
            states = {}
        changed += apply_receipts(session, provider, [(pid, state) for pid, state in states.items()
                                                      if state in FINAL_STATES], max_attempts)
        for message_id, pid, sent_at in items:
            state = states.get(pid)
            if state not in FINAL_STATES:
                later.append({"id": message_id, "state": state or "unknown",
                              "next": iso(now + poll_backoff(now - (sent_at or now)))})
    if later:
        with session.begin():
            session.execute(text(
                "UPDATE sms_messages m SET provider_status = v.state, next_attempt_at = v.next "
                "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(id uuid, state text, next timestamptz) "
                "WHERE m.id = v.id AND m.status = 'sent'"), {"rows": json.dumps(later)})
    return changed


def poll_backoff(age: timedelta) -> timedelta:
    """How long until a sent message's state is asked again: a quarter of its age, from 10 s to an hour."""
    return min(max(timedelta(seconds=10), age / 4), POLL_BACKOFF_MAX)


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
            .values(status="queued", attempts=0, dead_lettered_at=None, replays=m.replays + 1, held_by=None,
                    in_doubt_since=None,
                    send_key=func.concat(m.id, ".r", m.replays + 1), next_attempt_at=func.now())
            .returning(m.id))
    return [str(i) for i in session.scalars(stmt)]


def refresh_gauges(session: Session) -> None:
    """The messages by state; "in_doubt": held until an operator says whether it took them; "unresolved": in
    doubt, or sent with a state their operator could not give, for longer than UNRESOLVED_AFTER (alert
    SmsOutcomeUnknown)."""
    with session.begin():
        counts = dict(session.execute(
            select(SmsMessage.status, func.count()).where(SmsMessage.status.in_(("queued", "sending", "sent")))
            .group_by(SmsMessage.status)).all())
        dead = session.scalar(select(func.count()).where(SmsMessage.dead_lettered_at.is_not(None)))
        in_doubt = session.scalar(select(func.count()).where(SmsMessage.held_by.is_not(None)))
        before = func.now() - UNRESOLVED_AFTER
        unresolved = (session.scalar(select(func.count()).where(SmsMessage.held_by.is_not(None),
                                                                 SmsMessage.in_doubt_since < before))
                      + session.scalar(select(func.count()).where(SmsMessage.status == "sent",
                                                                   SmsMessage.provider_status == "unknown",
                                                                   SmsMessage.sent_at < before)))
    for state in ("queued", "sending", "sent"):
        SMS_BY_STATE.labels(state).set(counts.get(state, 0))
    SMS_BY_STATE.labels("in_doubt").set(in_doubt or 0)
    SMS_BY_STATE.labels("unresolved").set(unresolved or 0)
    SMS_DEAD_LETTERS.set(dead or 0)
