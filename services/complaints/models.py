from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Integer, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, UUID
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
    # the unit whose cartable holds the case now; staff see a case only within their unit's subtree
    holder_unit_id: Mapped[str] = mapped_column(ForeignKey("org_units.id"), default="hq.inspection")
    # an anonymous report is followed with its tracking code and this secret (only its hash is kept)
    secret_hash: Mapped[str | None] = mapped_column(Text)

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


class OrgUnit(Base):
    __tablename__ = "org_units"

    id: Mapped[str] = mapped_column(Text, primary_key=True)  # its path: prov.tehran.county.rey
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("org_units.id"))
    kind: Mapped[str] = mapped_column(Text)
    name_fa: Mapped[str] = mapped_column(Text)


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True)
    username: Mapped[str] = mapped_column(Text, unique=True)
    full_name: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[str] = mapped_column(ForeignKey("org_units.id"))
    active: Mapped[bool] = mapped_column(default=True)
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    # bumped by a password change or a revocation: every token issued before stops working at once
    credentials_version: Mapped[int] = mapped_column(Integer, default=1)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """A ministry integrator's key. Only a hash is kept; the key is shown once, when issued."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text, unique=True)
    key_hash: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    created_by: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
