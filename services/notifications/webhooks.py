"""Webhooks: events posted to an integrator that cannot speak AMQP (issue 20), as the CloudEvents HTTP binding's
structured mode says (`Content-Type: application/cloudevents+json`, the envelope as the body), signed as the
Standard Webhooks specification says (standardwebhooks.com: `webhook-id`, `webhook-timestamp`,
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, the secret `whsec_<base64>`).

The way of an event: the broker routes it to the integrator's queue, as for any integrator; `pull` moves what is
there into `webhook_deliveries` (one row per integrator and event: a message taken twice is one delivery) and
acks it only after that commit; `send_due` posts each due row, any 2xx delivers it, anything else (or no answer)
tries again after a doubling back-off with jitter, and after the last try the row is dead: an administrator
lists the dead letters and replays them, or replays everything posted since a time. Order is not kept: each
event is posted on its own, as the receiver's 2xx allows.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from eventlet import GreenPool
from kombu import Connection
from standardwebhooks import Webhook
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.notifications import integrator_access as access
from services.notifications.models import Integrator, WebhookDelivery

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
PULL_BATCH = 200
SEND_BATCH = 50


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 10  # 9 waits, 5 s doubling to 21 min: about 43 minutes of tries in all (51 with jitter)
    base_delay: float = 5.0
    max_delay: float = 3600.0
    timeout: float = 5.0

    def delay(self, attempts: int) -> float:
        """After the n-th failed try: base·2^(n-1), capped, with up to a fifth of jitter (receivers coming back
        from an outage are not all hit in the same second)."""
        delay = min(self.base_delay * 2 ** max(attempts - 1, 0), self.max_delay)
        return delay * (1 + random.random() / 5)


def signing_secret(derivation_key: str, integrator_id: str, version: int) -> str:
    raw = hmac.new(derivation_key.encode(), f"webhook|{integrator_id}|{version}".encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(raw).decode()


def receivers(session: Session) -> list[Integrator]:
    return list(session.scalars(select(Integrator).where(Integrator.webhook_url.is_not(None),
                                                         Integrator.revoked_at.is_(None))))


def collect(session: Session, amqp_uri: str) -> None:
    """Each webhook integrator's waiting events into its deliveries, a transaction per integrator, each batch
    acked once committed."""
    with session.begin():
        found = receivers(session)
    if not found:
        return
    # one try to reach the broker: away, this tick gives up and the next tries again (never a stuck worker)
    with Connection(amqp_uri, connect_timeout=5, transport_options={"max_retries": 1}) as connection:
        channel = connection.default_channel
        for integrator in found:
            with session.begin():
                last_tag = pull(session, channel, integrator)
            if last_tag:
                channel.basic_ack(last_tag, multiple=True)


def pull(session: Session, channel, integrator: Integrator) -> int:
    """Move what waits in the integrator's queue into its deliveries; the caller commits, then calls the ack
    this returns (so a crash in between leaves the messages in the queue, and the unique row drops a copy)."""
    messages = []
    while len(messages) < PULL_BATCH:
        message = channel.basic_get(access.queue_name(integrator.name), no_ack=False)
        if message is None:
            break
        messages.append(message)
    if not messages:
        return 0
    rows = []
    for message in messages:
        envelope = json.loads(message.body)
        rows.append({"id": str(uuid.uuid4()), "integrator_id": integrator.id, "event_id": str(envelope["id"]),
                     "event_type": envelope.get("type", ""), "envelope": envelope, "status": "pending", "attempts": 0})
    session.execute(insert(WebhookDelivery).values(rows).on_conflict_do_nothing(constraint="webhook_once_per_event"))
    return messages[-1].delivery_tag


def send_due(session: Session, derivation_key: str, policy: RetryPolicy, now: datetime, http=requests) -> int:
    """Post the due deliveries (claimed with SKIP LOCKED: timers fire in every replica); how many were tried."""
    due = session.execute(
        select(WebhookDelivery, Integrator).join(Integrator, Integrator.id == WebhookDelivery.integrator_id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_at <= now, Integrator.revoked_at.is_(None))
        .order_by(WebhookDelivery.next_at).limit(SEND_BATCH).with_for_update(skip_locked=True, of=WebhookDelivery)
    ).all()
    # posted side by side (green threads): one slow receiver does not hold the others' rows for its timeout
    errors = GreenPool(SEND_BATCH).imap(lambda pair: _post(*pair, derivation_key, policy.timeout, now, http), due)
    for (delivery, _), error in zip(due, list(errors), strict=True):
        delivery.attempts += 1
        if error is None:
            delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, None
        else:
            delivery.last_error = error
            if delivery.attempts >= policy.max_attempts:
                delivery.status = "dead"
            else:
                delivery.next_at = now + timedelta(seconds=policy.delay(delivery.attempts))
    return len(due)


def _post(delivery: WebhookDelivery, integrator: Integrator, derivation_key: str, timeout: float, now: datetime,
          http) -> str | None:
    body = json.dumps(delivery.envelope, ensure_ascii=False, separators=(",", ":")).encode()
    secret = signing_secret(derivation_key, integrator.id, integrator.secret_version)
    headers = {"Content-Type": CONTENT_TYPE, "webhook-id": delivery.event_id,
               "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(secret).sign(delivery.event_id, now, body)}
    try:
        response = http.post(integrator.webhook_url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        return f"no answer: {type(exc).__name__}"
    return None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"


def dead_letters(session: Session, integrator_id: str, limit: int = 100) -> list[dict]:
    rows = session.scalars(select(WebhookDelivery).where(WebhookDelivery.integrator_id == integrator_id,
                                                         WebhookDelivery.status == "dead")
                           .order_by(WebhookDelivery.created_at).limit(limit))
    return [describe(d) for d in rows]


def replay(session: Session, integrator_id: str, ids: list[str] | None, since: datetime | None, now: datetime) -> int:
    """Post again: the given dead letters, or every delivery (dead or delivered) made since a time."""
    query = update(WebhookDelivery).where(WebhookDelivery.integrator_id == integrator_id)
    if ids is not None:
        query = query.where(WebhookDelivery.id.in_(ids), WebhookDelivery.status == "dead")
    else:
        query = query.where(WebhookDelivery.created_at >= since, WebhookDelivery.status != "pending")
    return session.execute(query.values(status="pending", attempts=0, next_at=now, last_error=None)).rowcount


def purge(session: Session, older_than: timedelta) -> int:
    """Deliveries older than the replay window, whatever became of them (a row still pending after 7 days belongs
    to a revoked integrator: an active one's tries end within hours)."""
    return session.execute(text("DELETE FROM webhook_deliveries WHERE created_at < now() - :age"),
                           {"age": older_than}).rowcount


def describe(delivery: WebhookDelivery) -> dict:
    return {"id": delivery.id, "event_id": delivery.event_id, "event_type": delivery.event_type,
            "status": delivery.status, "attempts": delivery.attempts, "last_error": delivery.last_error,
            "created_at": delivery.created_at.isoformat() if delivery.created_at else None}
