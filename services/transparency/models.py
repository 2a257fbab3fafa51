"""The transparency service's tables. Published datasets are immutable versions (a correction is a new
version); the private side keeps each beneficiary's payments, fed by payments' events only."""
from sqlalchemy import BigInteger, Column, Date, DateTime, Integer, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

from common.inbox import define_inbox_table
from common.outbox import define_outbox_table


class Base(DeclarativeBase):
    pass


outbox = define_outbox_table(Base.metadata)
inbox = define_inbox_table(Base.metadata)

# Every published version of every dataset: hash-chained per dataset and signed (Ed25519); append-only.
dataset_versions = Table(
    "dataset_versions", Base.metadata,
    Column("slug", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("content_sha256", Text, nullable=False),  # over the rows, as services/transparency/signing.py says
    Column("prev_sha256", Text, nullable=False),  # the previous version's record hash (or GENESIS)
    Column("record_sha256", Text, nullable=False),
    Column("signature", Text, nullable=False),  # base64 Ed25519 over record_sha256
    Column("note", Text, nullable=False, server_default=""),
)

# The rows of each version, in publication order; append-only.
dataset_rows = Table(
    "dataset_rows", Base.metadata,
    Column("slug", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("n", Integer, primary_key=True),
    Column("data", JSONB, nullable=False),
    Column("search", Text, nullable=False, server_default=""),  # normalised text of the searchable columns
)

# Event-fed datasets whose contents changed since their last version (the publisher's to-do list).
dataset_changes = Table(
    "dataset_changes", Base.metadata,
    Column("slug", Text, primary_key=True),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# SPEC T1, private: every payment made to a beneficiary. Never in a public response.
beneficiary_payments = Table(
    "beneficiary_payments", Base.metadata,
    Column("order_id", Text, primary_key=True),
    Column("national_id", Text, nullable=False),
    Column("paid_on", Date, nullable=False),
    Column("month", Text, nullable=False),  # Jalali yyyy-mm
    Column("budget_line", Text, nullable=False),
    Column("amount_rials", BigInteger, nullable=False),
    Column("account_masked", Text, nullable=False, server_default=""),
    Column("status", Text, nullable=False),  # paid | failed | returned
)

# Whom to text the one-time code: the mobile the payments registry had when it last paid them.
beneficiary_contacts = Table(
    "beneficiary_contacts", Base.metadata,
    Column("national_id", Text, primary_key=True),
    Column("mobile", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Public aggregates: paid per budget line, province and month (suppressed when published).
payment_totals = Table(
    "payment_totals", Base.metadata,
    Column("budget_line", Text, primary_key=True),
    Column("province", Text, primary_key=True),
    Column("month", Text, primary_key=True),
    Column("households", BigInteger, nullable=False),
    Column("amount_rials", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The budget lines payments announced (`budget_lines.published`), one row a year: the highest version received
# (an older one arriving late changes nothing). The budget dataset publishes the newest year's.
budget_lines = Table(
    "budget_lines", Base.metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
    Column("lines", JSONB, nullable=False),  # as the event carries them
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

budget_line_titles = Table(
    "budget_line_titles", Base.metadata,
    Column("code", Text, primary_key=True),
    Column("title_fa", Text, nullable=False),
)

donations_received = Table(
    "donations_received", Base.metadata,
    Column("donation_id", Text, primary_key=True),
    Column("data", JSONB, nullable=False),  # the public row (never a person's name or mobile)
    Column("paid_at", DateTime(timezone=True), nullable=False),
)

complaint_statistics = Table(
    "complaint_statistics", Base.metadata,
    Column("period", Text, primary_key=True),
    Column("data", JSONB, nullable=False),
)

# A unit's file for a dataset (SPEC T10), checked and waiting for a second person's approval; approved, it is
# published as a new version (services/transparency/submissions.py). A newer file for the same dataset
# supersedes a waiting one.
dataset_uploads = Table(
    "dataset_uploads", Base.metadata,
    Column("id", Text, primary_key=True),
    Column("slug", Text, nullable=False),
    Column("filename", Text, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("row_count", Integer, nullable=False),
    Column("rows", JSONB, nullable=False),  # the checked rows, as publication keeps them; [] once decided
    Column("uploaded_by", Text, nullable=False),  # the staff account's id
    Column("uploaded_by_name", Text, nullable=False),  # its username, for the approver to read
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),  # pending | approved | superseded
    Column("decided_by_name", Text),
    Column("decided_at", DateTime(timezone=True)),
    Column("version", Integer),  # the version its approval published
)
