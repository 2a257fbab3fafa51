from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger, Boolean, Date, DateTime, ForeignKey, Identity, Integer, Text, UniqueConstraint, func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.idempotency import define_idempotency_table
from common.inbox import define_inbox_table
from common.outbox import define_outbox_table


class Base(DeclarativeBase):
    pass


outbox = define_outbox_table(Base.metadata)
inbox = define_inbox_table(Base.metadata)
idempotency_keys = define_idempotency_table(Base.metadata)


class BudgetLine(Base):
    """One of the 16 budget lines (SPEC T9)."""

    __tablename__ = "budget_lines"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    title_fa: Mapped[str] = mapped_column(Text)
    per_capita_rials: Mapped[int] = mapped_column(BigInteger)
    purpose_fa: Mapped[str] = mapped_column(Text)
    legal_basis_fa: Mapped[str] = mapped_column(Text)
    pays: Mapped[str] = mapped_column(Text)  # beneficiary | center
    year: Mapped[str] = mapped_column(Text)  # the Jalali year of the allocation
    yearly_allocation_rials: Mapped[int] = mapped_column(BigInteger)


class BudgetLinesVersion(Base):
    """Each set of a year's lines announced (`budget_lines.published`): the same lines again announce nothing,
    a change is the next version."""

    __tablename__ = "budget_lines_versions"

    year: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    lines_sha256: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Beneficiary(Base):
    __tablename__ = "beneficiaries"

    national_id: Mapped[str] = mapped_column(Text, primary_key=True)
    full_name: Mapped[str] = mapped_column(Text)
    household_size: Mapped[int] = mapped_column(Integer)
    mobile: Mapped[str | None] = mapped_column(Text)
    province: Mapped[str] = mapped_column(Text)
    iban: Mapped[str] = mapped_column(Text)
    # when the bank confirmed that the account is this person's; an account not confirmed is not paid
    iban_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(Text)  # active | suspended | deceased


class Enrolment(Base):
    """A person in a budget line, once (SPEC P: dedup by national ID)."""

    __tablename__ = "enrolments"

    national_id: Mapped[str] = mapped_column(ForeignKey("beneficiaries.national_id"), primary_key=True)
    line: Mapped[str] = mapped_column(ForeignKey("budget_lines.code"), primary_key=True)
    since: Mapped[str] = mapped_column(Text)  # the first Jalali month (yyyy-mm) it is paid for


class AuditEntry(Base):
    """Every change to the registry: who, when, before, after."""

    __tablename__ = "registry_audit"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    national_id: Mapped[str] = mapped_column(Text, index=True)
    actor: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    action: Mapped[str] = mapped_column(Text)
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)


class Cycle(Base):
    __tablename__ = "cycles"

    id: Mapped[str] = mapped_column(Text, primary_key=True)  # <yyyy-mm>.<line>: one per month and line
    month: Mapped[str] = mapped_column(Text)
    line: Mapped[str] = mapped_column(ForeignKey("budget_lines.code"))
    stage: Mapped[str] = mapped_column(Text)
    stopped_reason: Mapped[str | None] = mapped_column(Text)
    prepared_by: Mapped[str] = mapped_column(Text)
    approved_by: Mapped[str | None] = mapped_column(Text)
    beneficiaries: Mapped[int] = mapped_column(Integer, default=0)
    total_rials: Mapped[int] = mapped_column(BigInteger, default=0)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # its own failures in a row (not the infrastructure's), the last one's error, and when it is tried again
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PaymentOrder(Base):
    """One payment to one person in one cycle; its id is deterministic (cycles.order_id)."""

    __tablename__ = "payment_orders"
    # Migration 0004 leaves room on each page for the status changes (fillfactor 33: heap-only updates); the
    # unique index on (cycle_id, national_id) serves the queries by cycle.
    __table_args__ = (UniqueConstraint("cycle_id", "national_id"),)

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    cycle_id: Mapped[str] = mapped_column(ForeignKey("cycles.id"))
    national_id: Mapped[str] = mapped_column(Text)
    iban: Mapped[str] = mapped_column(Text)
    amount_rials: Mapped[int] = mapped_column(BigInteger)
    batch_id: Mapped[str | None] = mapped_column(Text, index=True)
    # issued → sent → paid | rejected | returned; rejected and returned wait for a person (next cycle / cancel)
    status: Mapped[str] = mapped_column(Text, default="issued")
    reason: Mapped[str | None] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(Text)  # carried | cancelled


class LedgerPosting(Base):
    __tablename__ = "ledger_postings"

    key: Mapped[str] = mapped_column(Text, primary_key=True)  # the cause: one posting per cause
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LedgerLine(Base):
    __tablename__ = "ledger_lines"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    posting_key: Mapped[str] = mapped_column(ForeignKey("ledger_postings.key"), index=True)
    account: Mapped[str] = mapped_column(Text, index=True)
    amount_rials: Mapped[int] = mapped_column(BigInteger)  # debit positive, credit negative


class BankBatch(Base):
    """A pain.001 file sent to the bank, and what the bank said of it."""

    __tablename__ = "bank_batches"

    id: Mapped[str] = mapped_column(Text, primary_key=True)  # <cycle>.<n>: deterministic
    cycle_id: Mapped[str] = mapped_column(ForeignKey("cycles.id"), index=True)
    orders: Mapped[int] = mapped_column(Integer)
    total_rials: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text, default="built")  # built | accepted | rejected | settled
    statement_id: Mapped[str | None] = mapped_column(Text, unique=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the worker sending it, until when (a lease: a crashed worker's file is taken over after it)
    claimed_by: Mapped[str | None] = mapped_column(Text)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    statements: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # statements read of it
    left_out: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # orders the last one left out


class Campaign(Base):
    """A published fundraising campaign of the participation portal (SPEC P5): donors may give to it."""

    __tablename__ = "donation_campaigns"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    title_fa: Mapped[str] = mapped_column(Text)
    province: Mapped[str | None] = mapped_column(Text)  # None: every province
    goal_rials: Mapped[int] = mapped_column(BigInteger)
    opens: Mapped[date] = mapped_column(Date)
    closes: Mapped[date] = mapped_column(Date)
    published: Mapped[bool] = mapped_column(Boolean, default=False)


class Donation(Base):
    """One donation through the payment gateway (SPEC P5), by a person or a company's social-responsibility
    fund (P6): started → paid (verified and settled with the gateway) or failed (cancelled at the gateway)."""

    __tablename__ = "donations"

    id: Mapped[str] = mapped_column(Text, primary_key=True)  # a random uuid: the receipt's address
    receipt_number: Mapped[str] = mapped_column(Text, unique=True)  # 12 digits, the last a Luhn check digit
    donor_kind: Mapped[str] = mapped_column(Text)  # person | company
    donor_name: Mapped[str | None] = mapped_column(Text)
    company_national_id: Mapped[str | None] = mapped_column(Text)  # the company's 11-digit national ID
    mobile: Mapped[str | None] = mapped_column(Text)
    province: Mapped[str] = mapped_column(Text)
    purpose_kind: Mapped[str] = mapped_column(Text)  # line | campaign
    purpose_code: Mapped[str] = mapped_column(Text)
    amount_rials: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text, default="started")  # started | paid | failed
    token: Mapped[str | None] = mapped_column(Text, unique=True)
    psp_reference: Mapped[str | None] = mapped_column(Text, unique=True)
    card_masked: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
