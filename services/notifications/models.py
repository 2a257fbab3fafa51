from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, Text, UniqueConstraint, func, text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.inbox import define_inbox_table
from common.outbox import define_outbox_table


class Base(DeclarativeBase):
    pass


outbox = define_outbox_table(Base.metadata)
inbox = define_inbox_table(Base.metadata)


class SmsMessage(Base):
    """One SMS to one person. At most one per (cause event, recipient, template): a redelivered
    event, a restarted worker or a second replica cannot make a second one."""

    __tablename__ = "sms_messages"
    __table_args__ = (UniqueConstraint("cause_source", "cause_id", "recipient", "template",
                                       name="sms_once_per_cause"),)

    id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True)
    cause_source: Mapped[str] = mapped_column(Text)
    cause_id: Mapped[str] = mapped_column(Text)
    cause_type: Mapped[str] = mapped_column(Text)
    recipient: Mapped[str] = mapped_column(Text)
    template: Mapped[str] = mapped_column(Text)
    template_version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    segments: Mapped[int] = mapped_column(Integer)
    # queued → sending → sent → delivered | failed; a failed attempt goes back to queued until attempts run out;
    # a sent message's final state at the operator (undelivered, expired, failed) sends it again
    status: Mapped[str] = mapped_column(Text, default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    provider: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(Text)
    provider_status: Mapped[str | None] = mapped_column(Text)
    cost_rials: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # one-time codes and urgent cases' messages go through quiet hours; the rest wait them out
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    # the id the operator knows the current attempt by (see migration 0003)
    send_key: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    receipt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # given up on: on the dead-letter list that staff see and can replay
    dead_lettered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replays: Mapped[int] = mapped_column(Integer, default=0)
    # the operator(s) that may hold send_key after an attempt without a sure answer ("*": any), and since when:
    # they are asked before the message is sent anywhere (migration 0004, dispatch.py)
    held_by: Mapped[str | None] = mapped_column(Text)
    in_doubt_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OneTimeCode(Base):
    """A one-time code for a beneficiary's login (SPEC N1, T1). Only an HMAC of the code is kept. At most one
    live code per mobile and purpose (a new one replaces it); the rows of the last minutes are what the
    rate limits count."""

    __tablename__ = "one_time_codes"
    __table_args__ = (
        Index("one_live_code", "mobile", "purpose", unique=True, postgresql_where=text("state = 'live'")),
        Index("one_time_codes_by_mobile", "mobile", "created_at"),
        Index("one_time_codes_by_client", "client", "created_at"),
        CheckConstraint("state IN ('live', 'used', 'replaced', 'dead', 'expired')", name="one_time_code_state"),
        CheckConstraint("purpose IN ('beneficiary_login', 'case_reporter')", name="one_time_code_purpose"),
    )

    id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True)
    mobile: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(Text)  # beneficiary_login | case_reporter (schemas.PURPOSES)
    client: Mapped[str] = mapped_column(Text)  # who asked (the gateway's client key), for its rate limit
    code_hash: Mapped[str] = mapped_column(Text)  # HMAC-SHA256, never the code
    # live → used | replaced (a newer code) | dead (too many wrong attempts) | expired
    state: Mapped[str] = mapped_column(Text, default="live")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StaffNotification(Base):
    """One in-app notification for one staff member (SPEC N2): at most one per (cause event, person)."""

    __tablename__ = "staff_notifications"
    __table_args__ = (
        UniqueConstraint("cause_source", "cause_id", "staff_id", name="staff_notification_once_per_cause"),
        Index("staff_notifications_newest", "staff_id", "created_at", "id"),
        Index("staff_notifications_unread", "staff_id", postgresql_where=text("read_at IS NULL")),
    )

    id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True)
    staff_id: Mapped[str] = mapped_column(UUID(as_uuid=False))
    kind: Mapped[str] = mapped_column(Text)
    tracking_code: Mapped[str | None] = mapped_column(Text)
    title_fa: Mapped[str] = mapped_column(Text)
    body_fa: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cause_source: Mapped[str] = mapped_column(Text)
    cause_id: Mapped[str] = mapped_column(Text)


class Integrator(Base):
    """A ministry system that receives the platform's events (issue 20): its broker user, queue and replay
    stream are named after `name` (services/notifications/integrator_access.py). Its password is never
    stored: it is shown once, at registration or rotation."""

    __tablename__ = "integrators"

    id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    title: Mapped[str] = mapped_column(Text)
    event_types: Mapped[list] = mapped_column(JSONB)
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # a system that cannot speak AMQP: the platform posts its events to this URL (webhooks.py), signed with a
    # secret derived from the platform's key, this id and secret_version (never stored; rotation bumps it)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    secret_version: Mapped[int] = mapped_column(Integer, default=1)
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    """One event to post to one webhook integrator: pending until its URL answers 2xx, retried with back-off,
    dead after the last try (an administrator replays it). Kept for as long as a replay stream keeps events."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("integrator_id", "event_id", name="webhook_once_per_event"),
                      CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="webhook_delivery_status"),
                      Index("webhook_deliveries_due", "next_at", postgresql_where=text("status = 'pending'")))

    id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True)
    integrator_id: Mapped[str] = mapped_column(UUID(as_uuid=False), ForeignKey("integrators.id"))
    event_id: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(Text)
    envelope: Mapped[dict] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
