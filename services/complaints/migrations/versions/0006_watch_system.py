"""the watch system (SPEC C4–C16): the full tree with centers, referral paths, hops with deadlines,
the deadline ledger, the hash-chained history (replacing case_steps), evidence files, statistics

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""
from datetime import timezone

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID, insert

from services.complaints import org
from services.complaints.deadlines import default_policy
from services.complaints.history import APPEND_ONLY_DROP_SQL, APPEND_ONLY_SQL, GENESIS, chain

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TOP = org.INSPECTION_OPERATORS


def upgrade():
    op.add_column("org_units", sa.Column("center_type", sa.Text))
    op.add_column("org_units", sa.Column("operator", sa.Text))
    units = sa.table("org_units", sa.column("id"), sa.column("parent_id"), sa.column("kind"), sa.column("name_fa"),
                     sa.column("center_type"), sa.column("operator"))
    for u in org.units():  # parents first
        values = {"id": u["id"], "parent_id": u["parent"], "kind": u["kind"], "name_fa": u["name_fa"],
                  "center_type": u["center_type"], "operator": u["operator"]}
        op.execute(insert(units).values(**values).on_conflict_do_update(
            index_elements=["id"], set_={k: v for k, v in values.items() if k != "id"}))

    op.add_column("staff", sa.Column("mobile", sa.Text))
    op.add_column("staff", sa.Column("last_cartable_at", sa.DateTime(timezone=True), nullable=False,
                                     server_default=sa.func.now()))

    op.create_table(
        "deadline_policies",
        sa.Column("urgency", sa.Text, primary_key=True),
        sa.Column("level", sa.Text, primary_key=True),
        sa.Column("minutes", sa.Integer, nullable=False),
        sa.Column("warn_fraction", sa.Float, nullable=False),
        sa.CheckConstraint("minutes > 0 AND warn_fraction > 0 AND warn_fraction < 1"),
    )
    policies = sa.table("deadline_policies", sa.column("urgency"), sa.column("level"), sa.column("minutes"),
                        sa.column("warn_fraction"))
    op.bulk_insert(policies, [{"urgency": u, "level": lv, "minutes": r.minutes, "warn_fraction": r.warn_fraction}
                              for (u, lv), r in default_policy().items()])

    for column in [
        sa.Column("category", sa.Text),
        sa.Column("center_id", sa.Text, sa.ForeignKey("org_units.id")),
        sa.Column("path", ARRAY(sa.Text), nullable=False, server_default=sa.text(f"ARRAY['{TOP}']")),
        sa.Column("visible_to", ARRAY(sa.Text), nullable=False,
                                 server_default=sa.text(f"ARRAY['{TOP}', 'hq']")),
        sa.Column("approver_pos", sa.Integer),
        sa.Column("current_hop_id", sa.BigInteger),
        sa.Column("assignee_id", UUID(as_uuid=False), sa.ForeignKey("staff.id")),
        sa.Column("deadline_at", sa.DateTime(timezone=True)),
        sa.Column("warn_at", sa.DateTime(timezone=True)),
        sa.Column("answer_text", sa.Text),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("rating", sa.Integer),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("history_head", sa.Text),
        sa.Column("history_count", sa.Integer, nullable=False, server_default="0"),
    ]:
        op.add_column("cases", column)
    op.alter_column("cases", "path", server_default=None)
    op.alter_column("cases", "visible_to", server_default=None)
    op.create_index("cases_deadline", "cases", ["deadline_at"], postgresql_where=sa.text("deadline_at IS NOT NULL"))
    op.create_index("cases_warn", "cases", ["warn_at"], postgresql_where=sa.text("warn_at IS NOT NULL"))
    op.create_index("cases_to_close", "cases", ["answered_at"], postgresql_where=sa.text("status = 'answered'"))
    op.create_index("cases_visible_to", "cases", ["visible_to"], postgresql_using="gin")
    op.create_index("cases_registered", "cases", ["registered_at"])
    op.create_index("cases_assignee", "cases", ["assignee_id"], postgresql_where=sa.text("assignee_id IS NOT NULL"))

    op.create_table(
        "case_hops",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=False), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("unit_id", sa.Text, sa.ForeignKey("org_units.id"), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("manager_id", UUID(as_uuid=False), sa.ForeignKey("staff.id")),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("warned_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.Text),
    )
    op.create_index("case_hops_unit", "case_hops", ["unit_id", "opened_at"])
    op.create_index("case_hops_closed", "case_hops", ["closed_at"])
    op.create_index("case_hops_manager", "case_hops", ["manager_id"], postgresql_where=sa.text("manager_id IS NOT NULL"))
    op.create_table(
        "deadline_misses",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("hop_id", sa.BigInteger, sa.ForeignKey("case_hops.id"), nullable=False, unique=True),
        sa.Column("case_id", UUID(as_uuid=False), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("unit_id", sa.Text, sa.ForeignKey("org_units.id"), nullable=False),
        sa.Column("manager_id", UUID(as_uuid=False), sa.ForeignKey("staff.id")),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("deadline_misses_unit", "deadline_misses", ["unit_id", "due_at"])
    op.create_table(
        "case_history",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=False), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("actor_kind", sa.Text, nullable=False),
        sa.Column("actor_id", sa.Text),
        sa.Column("actor_name", sa.Text),
        sa.Column("unit_id", sa.Text),
        sa.Column("public_note", sa.Text),
        sa.Column("internal_note", sa.Text),
        sa.Column("data", JSONB, nullable=False, server_default="{}"),
        sa.Column("prev_hash", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
        sa.UniqueConstraint("case_id", "n"),
    )
    op.execute(APPEND_ONLY_SQL)
    op.create_table(
        "case_files",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=False), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("storage_key", sa.Text, nullable=False),
        sa.Column("uploaded_by", sa.Text),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "statistics_publications",
        sa.Column("period", sa.Text, primary_key=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    _carry_over_existing_cases()
    op.drop_table("case_steps")


def _carry_over_existing_cases():
    """Cases registered before this revision start again at the top, with a hop and a history."""
    conn = op.get_bind()
    policy = default_policy()
    cases = conn.execute(sa.text("SELECT id, urgency, registered_at FROM cases")).all()
    for case_id, urgency, registered_at in cases:
        minutes = policy[(urgency, "hq_unit")].minutes
        hop_id = conn.execute(sa.text(
            "INSERT INTO case_hops (case_id, unit_id, purpose, opened_at, due_at) "
            "VALUES (:c, :u, 'handle', :at, :at + make_interval(mins => :m)) RETURNING id"),
            {"c": case_id, "u": TOP, "at": registered_at, "m": minutes}).scalar()
        row = chain(GENESIS, 0, {"case_id": case_id, "at": registered_at.astimezone(timezone.utc),
                                 "action": "registered", "actor_kind": "citizen", "unit_id": TOP})
        conn.execute(sa.text(
            "INSERT INTO case_history (case_id, n, at, action, actor_kind, unit_id, data, prev_hash, hash) "
            "VALUES (:case_id, :n, :at, :action, :actor_kind, :unit_id, '{}', :prev_hash, :hash)"), row)
        conn.execute(sa.text(
            "UPDATE cases SET status = 'registered', holder_unit_id = :u, current_hop_id = :h, "
            "deadline_at = (SELECT due_at FROM case_hops WHERE id = :h), "
            "warn_at = (SELECT opened_at + (due_at - opened_at) * 0.8 FROM case_hops WHERE id = :h), history_head = :head, history_count = 1 "
            "WHERE id = :c"), {"u": TOP, "h": hop_id, "head": row["hash"], "c": case_id})


def downgrade():
    op.create_table(
        "case_steps",
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=False), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.execute("INSERT INTO case_steps (case_id, stage, at) SELECT id, 'registered', registered_at FROM cases")
    op.drop_table("statistics_publications")
    op.drop_table("case_files")
    op.execute(APPEND_ONLY_DROP_SQL)
    op.drop_table("case_history")
    op.drop_table("deadline_misses")
    op.drop_table("case_hops")
    for index in ("cases_registered", "cases_deadline", "cases_warn", "cases_to_close", "cases_visible_to", "cases_assignee"):
        op.drop_index(index, "cases")
    for column in ("category", "center_id", "path", "visible_to", "approver_pos", "current_hop_id", "assignee_id",
                   "deadline_at", "warn_at", "answer_text", "answered_at", "rating", "closed_at", "history_head",
                   "history_count"):
        op.drop_column("cases", column)
    op.drop_table("deadline_policies")
    op.drop_column("staff", "last_cartable_at")
    op.drop_column("staff", "mobile")
    op.drop_column("org_units", "operator")
    op.drop_column("org_units", "center_type")
