from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import UUID
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
    # queued → sending → sent | failed; a failed attempt goes back to queued until attempts run out
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
