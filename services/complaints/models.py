from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Text, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from common.idempotency import define_idempotency_table
from common.inbox import define_inbox_table
from common.outbox import define_outbox_table


class Base(DeclarativeBase):
    pass


outbox = define_outbox_table(Base.metadata)
inbox = define_inbox_table(Base.metadata)
idempotency_keys = define_idempotency_table(Base.metadata)


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True)
    tracking_code: Mapped[str] = mapped_column(Text, unique=True)
    kind: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    reporter_name: Mapped[str | None] = mapped_column(Text)
    reporter_mobile: Mapped[str | None] = mapped_column(Text)
    reporter_national_id: Mapped[str | None] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    steps: Mapped[list[CaseStep]] = relationship(order_by="CaseStep.seq", back_populates="case")


class CaseStep(Base):
    """One line of the case's timeline, as the citizen sees it (SPEC C3)."""

    __tablename__ = "case_steps"

    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    stage: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    case: Mapped[Case] = relationship(back_populates="steps")
