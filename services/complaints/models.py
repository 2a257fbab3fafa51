from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger, CheckConstraint, DateTime, Float, ForeignKey, Identity, Index, Integer, Text, UniqueConstraint, func, text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
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
    category: Mapped[str | None] = mapped_column(Text)
    center_id: Mapped[str | None] = mapped_column(ForeignKey("org_units.id"))
    reporter_name: Mapped[str | None] = mapped_column(Text)
    reporter_mobile: Mapped[str | None] = mapped_column(Text)
    reporter_national_id: Mapped[str | None] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # an anonymous report is followed with its tracking code and this secret (only its hash is kept)
    secret_hash: Mapped[str | None] = mapped_column(Text)
    # where it is about, as a third-party app sent it (Open311: lat, long, address_string, media_url)
    lat: Mapped[float | None] = mapped_column(Float)
    long: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(Text)
    media_url: Mapped[str | None] = mapped_column(Text)

    # where the case is (services/complaints/workflow.py): the unit whose cartable holds it, the
    # referral chain from the top, and every unit allowed to see it (the chain and all above it)
    holder_unit_id: Mapped[str] = mapped_column(ForeignKey("org_units.id"), default="hq.inspection")
    path: Mapped[list[str]] = mapped_column(ARRAY(Text))
    visible_to: Mapped[list[str]] = mapped_column(ARRAY(Text))
    approver_pos: Mapped[int | None] = mapped_column(Integer)
    # the open hop, copied here so the sweeps read one indexed table
    current_hop_id: Mapped[int | None] = mapped_column(BigInteger)
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    warn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    answer_text: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rating: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # the last link of the case's hash-chained history (services/complaints/history.py)
    history_head: Mapped[str | None] = mapped_column(Text)
    history_count: Mapped[int] = mapped_column(Integer, default=0)

    history: Mapped[list[CaseHistory]] = relationship(order_by="CaseHistory.n", back_populates="case")


class CaseHop(Base):
    """One unit asked to act on a case (handle it, or approve its answer), with the deadline it was
    given when asked (SPEC C7) and how it ended: the deadline ledger behind the scorecards (C13)."""

    __tablename__ = "case_hops"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("org_units.id"))
    purpose: Mapped[str] = mapped_column(Text)  # handle | approve
    manager_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    warned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(Text)
    # set when an outage extended this hop's deadline (due_at is then the extended one): the deadline and
    # the warning as first given, from which every extension is computed again (deadlines.extended_deadline)
    given_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    given_warn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CaseHistory(Base):
    """Append-only (a trigger refuses UPDATE and DELETE); each row's hash covers the one before it."""

    __tablename__ = "case_history"
    __table_args__ = (UniqueConstraint("case_id", "n"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    n: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(Text)
    actor_kind: Mapped[str] = mapped_column(Text)  # citizen | staff | system
    actor_id: Mapped[str | None] = mapped_column(Text)
    actor_name: Mapped[str | None] = mapped_column(Text)
    unit_id: Mapped[str | None] = mapped_column(Text)  # where the case went (or stayed)
    public_note: Mapped[str | None] = mapped_column(Text)  # shown to the citizen
    internal_note: Mapped[str | None] = mapped_column(Text)  # staff only
    data: Mapped[dict] = mapped_column(JSONB, default=dict)
    prev_hash: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(Text)

    case: Mapped[Case] = relationship(back_populates="history")


class DeadlineMiss(Base):
    __tablename__ = "deadline_misses"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    hop_id: Mapped[int] = mapped_column(ForeignKey("case_hops.id"), unique=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("org_units.id"))
    manager_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DeadlinePolicy(Base):
    __tablename__ = "deadline_policies"

    urgency: Mapped[str] = mapped_column(Text, primary_key=True)
    level: Mapped[str] = mapped_column(Text, primary_key=True)
    minutes: Mapped[int] = mapped_column(Integer)
    warn_fraction: Mapped[float] = mapped_column(Float)


class CaseFile(Base):
    """Evidence from the reporter (SPEC C4) or an attachment to an answer; the bytes are in the file
    store under storage_key."""

    __tablename__ = "case_files"

    id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    purpose: Mapped[str] = mapped_column(Text)  # evidence | answer
    filename: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(Text)
    storage_key: Mapped[str] = mapped_column(Text)
    uploaded_by: Mapped[str | None] = mapped_column(Text)  # a staff id; None for the reporter
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class StatisticsPublication(Base):
    """One row per published period, so that replicas publish each period once (SPEC C16)."""

    __tablename__ = "statistics_publications"

    period: Mapped[str] = mapped_column(Text, primary_key=True)  # weekly:2026-11-16 | monthly:1405-08
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OrgUnit(Base):
    __tablename__ = "org_units"

    id: Mapped[str] = mapped_column(Text, primary_key=True)  # its path: prov.tehran.county.rey
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("org_units.id"))
    kind: Mapped[str] = mapped_column(Text)
    name_fa: Mapped[str] = mapped_column(Text)
    center_type: Mapped[str | None] = mapped_column(Text)
    operator: Mapped[str | None] = mapped_column(Text)  # a center's: state | ngo


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
    # set by an administrator's password reset: the next login must choose a new password first
    must_change_password: Mapped[bool] = mapped_column(default=False)
    mobile: Mapped[str | None] = mapped_column(Text)
    # SPEC C12: opening the cartable counts; 48 hours without it and access is revoked
    last_cartable_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LoginFailures(Base):
    """Failed logins of one (address, username) pair, or of one username from every address
    (services/complaints/login_throttle.py). Keyed by a keyed hash: no address or username is kept, and
    unknown usernames have rows like known ones."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class LoginKnownAddress(Base):
    """An address (IPv6: its /64) from which a username logged in: exempt from that username's
    stricter throttle while strangers try it from elsewhere. Keyed hashes only."""

    __tablename__ = "login_known_addresses"

    username_key: Mapped[str] = mapped_column(Text, primary_key=True)
    address_key: Mapped[str] = mapped_column(Text, primary_key=True)
    last_login_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class PasswordReset(Base):
    """An administrator's reset of a finance or administrator account's password, applied only when a
    second administrator approves it (four eyes, issue 18)."""

    __tablename__ = "password_resets"
    __table_args__ = (
        Index("one_pending_reset", "staff_id", unique=True, postgresql_where=text("state = 'pending'")),
        CheckConstraint("approved_by IS NULL OR (approved_by <> requested_by AND approved_by <> staff_id)",
                        name="password_reset_four_eyes"),
    )

    id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    password_hash: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(Text, default="pending")  # pending | applied | replaced
    approved_by: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


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


class OutageWindow(Base):
    """A time the platform was unavailable (services/complaints/outages.py): recorded by an administrator
    (who, when and why are kept; rows are never changed or deleted, a trigger refuses it), or detected by
    the deadline sweep when its own pulse was silent. Deadlines and inactivity do not count it."""

    __tablename__ = "outage_windows"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(Text)  # operator | detected
    reason: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))  # the administrator; None: detected
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SweepPulse(Base):
    """The last time a sweep's timer reached the database, by the database's clock (one row per pulse)."""

    __tablename__ = "sweep_pulses"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SweepFailure(Base):
    """A row a sweep could not act on, set aside with its error (services/complaints/sweeps.py): the
    sweep's claims skip it, so the rest go on; it is tried again at retry_at, alone."""

    __tablename__ = "sweep_failures"

    sweep: Mapped[str] = mapped_column(Text, primary_key=True)
    subject_id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True)  # a case's or staff's id
    error: Mapped[str] = mapped_column(Text)
    first_failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer)
    retry_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReporterIdentityView(Base):
    """Each time staff were shown a reporter's identity or looked cases up by a reporter's mobile
    (services/complaints/identity_audit.py). Kept as long as the cases are: who saw a whistleblower
    is itself evidence."""

    __tablename__ = "reporter_identity_views"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"))  # None: a look-up that found nothing
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    role: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[str] = mapped_column(Text)
    how: Mapped[str] = mapped_column(Text)
