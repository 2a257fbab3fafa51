"""Integrators (issue 20): an administrator registers a ministry system with the event types it may receive;
the platform makes its broker user (a password shown once), its durable queue and its replay stream, bound to
exactly those types (services/notifications/integrator_access.py), and rotates or revokes them.

Broker and database change together: the row is written in the caller's transaction and the broker is set
up before it commits, with calls that are all idempotent (PUT), so a failure rolls the row back and a retry
finishes what a failed try began.
"""
from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from urllib.parse import quote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.broker_admin import ManagementApi, credentials_of, q
from common.db import get_by_uuid
from common.errors import Conflict, NotFound
from common.events import personal
from common.outbox.relay import event_exchange
from services.notifications import integrator_access as access, webhooks
from services.notifications.models import Integrator


class Broker:
    """The broker as the registry changes it: through the management API, on the platform's vhost."""

    def __init__(self, admin_url: str, amqp_uri: str, public_address: str | None = None):
        self.api = ManagementApi(admin_url)
        self.vhost = credentials_of(amqp_uri)[2]
        platform = urlsplit(amqp_uri.split(";")[0].strip())
        self.address = public_address or f"{platform.hostname}:{platform.port or 5672}"

    def provision(self, name: str, event_types: list[str]) -> None:
        vhost = q(self.vhost)
        for queue, arguments in ((access.queue_name(name), access.queue_arguments()),
                                 (access.stream_name(name), access.stream_arguments())):
            self.api.call("PUT", f"queues/{vhost}/{q(queue)}", {"durable": True, "auto_delete": False,
                                                                "arguments": arguments})
            for exchange, routing_key in access.bindings(event_types):
                declared = event_exchange(exchange)  # as nameko and the relay declare it
                self.api.call("PUT", f"exchanges/{vhost}/{q(exchange)}", {
                    "type": declared.type, "durable": declared.durable, "auto_delete": declared.auto_delete})
                self.api.call("POST", f"bindings/{vhost}/e/{q(exchange)}/q/{q(queue)}", {"routing_key": routing_key})

    def set_password(self, name: str, password: str) -> None:
        """Its user with this password (made if new) and its permissions; connections on an old one closed."""
        self.api.put_user(access.username(name), password)
        self.api.set_permissions(self.vhost, access.username(name), **access.permissions(name))
        self.api.close_connections_of(access.username(name), "credentials rotated")

    def remove(self, name: str) -> None:
        self.api.delete_user(access.username(name))
        self.api.close_connections_of(access.username(name), "revoked")
        for queue in (access.queue_name(name), access.stream_name(name)):
            self.api.call("DELETE", f"queues/{q(self.vhost)}/{q(queue)}", missing_ok=True)

    def connection(self, name: str, password: str) -> dict:
        username = access.username(name)
        path = "" if self.vhost == "/" else q(self.vhost)
        scheme = "amqps" if self.address.endswith(":5671") else "amqp"  # TLS on its standard port
        return {"uri": f"{scheme}://{quote(username, safe='')}:{quote(password, safe='')}@{self.address}/{path}",
                "username": username, "password": password, "vhost": self.vhost,
                "queue": access.queue_name(name), "replay_stream": access.stream_name(name),
                "replay_max_age": access.REPLAY_MAX_AGE}


def register(session: Session, broker: Broker, actor: dict, payload: dict, derivation_key: str,
             production: bool) -> dict:
    """A system on AMQP gets its broker user (the answer's `amqp`, its password shown once); one with a
    `webhook_url` gets no user: the platform reads its queue and posts (the answer's `webhook`, its signing
    secret shown once). Both get the queue and the replay stream."""
    name, webhook_url = payload.get("name", ""), payload.get("webhook_url") or None
    types = access.check_grant(name, payload.get("event_types") or [], bool(payload.get("personal_data")),
                               payload.get("legal_basis", ""), webhook_url, production)
    if session.scalars(select(Integrator).where(Integrator.name == name)).first() is not None:
        raise Conflict("integrator_exists", "سامانه‌ای با این نام ثبت شده است.",
                       f"{name} is registered (or was: a revoked name is not given again)")
    integrator = Integrator(id=str(uuid.uuid4()), name=name, title=payload.get("title") or name, event_types=types,
                            personal_data=bool(payload.get("personal_data")),
                            legal_basis=(payload.get("legal_basis") or "").strip(), created_by=actor["username"],
                            webhook_url=webhook_url, secret_version=1)
    session.add(integrator)
    session.flush()  # the unique name, before anything is made on the broker
    broker.provision(name, types)
    return {**describe(integrator), **_credentials(broker, integrator, derivation_key)}


def rotate(session: Session, broker: Broker, integrator_id: str, now: datetime, derivation_key: str) -> dict:
    integrator = _active(session, integrator_id)
    integrator.secret_version += 1
    integrator.rotated_at = now
    return {**describe(integrator), **_credentials(broker, integrator, derivation_key)}


def _credentials(broker: Broker, integrator: Integrator, derivation_key: str) -> dict:
    if integrator.webhook_url:
        return {"webhook": {"url": integrator.webhook_url, "secret": webhooks.signing_secret(
            derivation_key, integrator.id, integrator.secret_version)}}
    password = secrets.token_urlsafe(32)
    broker.set_password(integrator.name, password)
    return {"amqp": broker.connection(integrator.name, password)}


def revoke(session: Session, broker: Broker, integrator_id: str, now: datetime) -> dict:
    integrator = find(session, integrator_id, lock=True)
    broker.remove(integrator.name)
    integrator.revoked_at = integrator.revoked_at or now
    return describe(integrator)


def listing(session: Session) -> list[dict]:
    return [describe(i) for i in session.scalars(select(Integrator).order_by(Integrator.created_at))]


def describe(integrator: Integrator) -> dict:
    return {"id": integrator.id, "name": integrator.name, "title": integrator.title,
            "event_types": list(integrator.event_types), "personal_data": integrator.personal_data,
            "legal_basis": integrator.legal_basis, "delivery": "webhook" if integrator.webhook_url else "amqp",
            "personal_fields": {t: personal.personal_fields(t) for t in integrator.event_types
                                if personal.personal_fields(t)},
            "created_by": integrator.created_by, "created_at": integrator.created_at.isoformat()
            if integrator.created_at else None,
            "rotated_at": integrator.rotated_at.isoformat() if integrator.rotated_at else None,
            "revoked": integrator.revoked_at is not None}


def find(session: Session, integrator_id: str, lock: bool = False) -> Integrator:
    return get_by_uuid(session, Integrator, integrator_id, lock=lock, not_found=NotFound(
        "integrator_not_found", "سامانه‌ای با این شناسه ثبت نشده است.", "no integrator has this id"))


def _active(session: Session, integrator_id: str) -> Integrator:
    integrator = find(session, integrator_id, lock=True)
    if integrator.revoked_at is not None:
        raise Conflict("integrator_revoked", "دسترسی این سامانه لغو شده است.", "a revoked integrator is not rotated")
    return integrator
