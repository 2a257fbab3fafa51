"""Write what workflow Steps say, for one case or for thousands at once, in the caller's transaction:
the case row, the hop that closes and the one that opens (with its deadline and responsible manager),
the deadline ledger on a miss, the hash-chained history row and the event in the outbox.

One writer for every action: a staff member's referral and the sweep's ten thousand escalations go
through the same code, in set-based statements (a batch costs a handful of round trips).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from common import outbox
from common.events.catalog import CASE_STEP_EVENTS
from common.events.envelope import new_event
from common.jalali import iso
from services.complaints import deadlines, history, org, workflow
from services.complaints.models import CaseHistory, CaseHop, DeadlineMiss, DeadlinePolicy, Staff
from services.complaints.models import outbox as outbox_table

# What the writer needs of a case, as plain values (the sweeps read them without the ORM).
CASE_COLUMNS = ("id", "tracking_code", "kind", "urgency", "status", "path", "holder_unit_id", "approver_pos",
                "center_id", "answered_at", "reporter_mobile", "current_hop_id", "assignee_id", "deadline_at",
                "history_head", "history_count")
SYSTEM = {"kind": "system", "id": None, "name": None}


def state_of(case: dict) -> workflow.CaseState:
    return workflow.CaseState(status=case["status"], kind=case["kind"], path=tuple(case["path"]),
                              holder=case["holder_unit_id"], approver_pos=case["approver_pos"],
                              center=case["center_id"], answered_at=case["answered_at"])


@dataclass
class Change:
    case: dict  # CASE_COLUMNS of the case before the step
    step: workflow.Step
    actor: dict = field(default_factory=lambda: SYSTEM)  # {"kind": citizen|staff|system, "id", "name"}
    public_note: str | None = None
    internal_note: str | None = None
    updates: dict = field(default_factory=dict)  # more columns of the case to set (answer_text, rating…)
    event_data: dict = field(default_factory=dict)  # more fields for the event


def load_policy(session: Session) -> deadlines.Policy:
    policy = deadlines.default_policy()
    for row in session.scalars(select(DeadlinePolicy)):
        policy[(row.urgency, row.level)] = deadlines.Rule(row.minutes, row.warn_fraction)
    return policy


def policy_rows(session: Session) -> list[dict]:
    return [{"urgency": u, "level": lv, "minutes": r.minutes, "warn_fraction": r.warn_fraction}
            for (u, lv), r in sorted(load_policy(session).items())]


def set_policy(session: Session, rules: list[dict]) -> None:
    from sqlalchemy.dialects.postgresql import insert as upsert

    for rule in rules:
        deadlines.Rule(rule["minutes"], rule["warn_fraction"])  # refuses a rule that makes no sense
        session.execute(upsert(DeadlinePolicy).values(**rule).on_conflict_do_update(
            index_elements=["urgency", "level"], set_={"minutes": rule["minutes"],
                                                       "warn_fraction": rule["warn_fraction"]}))


def record(session: Session, changes: list[Change], now: datetime, policy: deadlines.Policy | None = None) -> None:
    if not changes:
        return
    policy = policy or load_policy(session)
    opening = {c.step.state.holder for c in changes if c.step.opens_hop}
    managers = _managers(session, opening)
    warning = {c.step.state.holder for c in changes if c.step.action == "deadline_warning"}
    recipients = _staff_recipients(session, opening | warning)

    _close_hops(session, changes, now)
    new_hops = _open_hops(session, changes, now, policy, managers)
    rows, events, updates = [], [], []
    for change in changes:
        case, step, state = change.case, change.step, change.step.state
        hop = new_hops.get(case["id"])
        row = history.chain(case["history_head"] or history.GENESIS, case["history_count"], {
            "case_id": case["id"], "at": now, "action": step.action, "actor_kind": change.actor["kind"],
            "actor_id": change.actor.get("id"), "actor_name": change.actor.get("name"), "unit_id": state.holder,
            "public_note": change.public_note, "internal_note": change.internal_note,
            "data": {"status": state.status, "path": list(state.path)}})
        rows.append(row)
        update = {"id": case["id"], "status": state.status, "path": list(state.path),
                  "visible_to": org.visible_to(state.path), "holder_unit_id": state.holder,
                  "approver_pos": state.approver_pos, "history_head": row["hash"], "history_count": row["n"],
                  **_hop_columns(case, step, hop), **change.updates}
        updates.append(update)
        events.append(_event(change, update, hop, recipients, now))
    session.execute(insert(CaseHistory), rows)
    _update_cases(session, updates)
    outbox.add_many(session, outbox_table, [e for e in events if e])


def extend_hops(session: Session, hops: list[dict]) -> None:
    """An outage moved these hops' deadlines ({"id", "due_at", "given_due_at", "given_warn_at"}): due_at
    becomes the extended deadline, on which the hop is judged on time or missed (SPEC C13); the deadline
    and warning first given are kept, once, so that a later extension is computed from them again."""
    if hops:
        session.execute(text(
            "UPDATE case_hops h SET due_at = v.due_at, given_due_at = coalesce(h.given_due_at, v.given_due_at), "
            "given_warn_at = coalesce(h.given_warn_at, v.given_warn_at) "
            "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) "
            "AS v(id bigint, due_at timestamptz, given_due_at timestamptz, given_warn_at timestamptz) WHERE h.id = v.id"),
            {"rows": json.dumps(hops, default=_json)})


def _hop_columns(case: dict, step: workflow.Step, hop: dict | None) -> dict:
    if hop:
        return {"current_hop_id": hop["id"], "deadline_at": iso(hop["due_at"]), "warn_at": iso(hop["warn_at"]),
                "assignee_id": hop["manager_id"]}
    if step.closes_hop_as or step.state.status not in workflow.OPEN:
        return {"current_hop_id": None, "deadline_at": None, "warn_at": None, "assignee_id": None}
    if step.action == "deadline_warning":
        return {"warn_at": None}
    return {}


def _close_hops(session: Session, changes: list[Change], now: datetime) -> None:
    closing = [{"id": c.case["current_hop_id"], "outcome": c.step.closes_hop_as}
               for c in changes if c.step.closes_hop_as and c.case["current_hop_id"]]
    warned = [c.case["current_hop_id"] for c in changes if c.step.action == "deadline_warning"]
    if closing:
        session.execute(text(
            "UPDATE case_hops h SET closed_at = :now, outcome = v.outcome "
            "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(id bigint, outcome text) WHERE h.id = v.id"),
            {"now": now, "rows": json.dumps(closing)})
    if warned:
        session.execute(text("UPDATE case_hops SET warned_at = :now WHERE id = ANY(:ids)"), {"now": now, "ids": warned})
    misses = [{"hop_id": c.case["current_hop_id"], "case_id": c.case["id"], "unit_id": c.case["holder_unit_id"],
               "manager_id": c.case["assignee_id"], "due_at": c.case["deadline_at"], "detected_at": now}
              for c in changes if c.step.closes_hop_as == "missed" and c.case["current_hop_id"]]
    if misses:
        session.execute(insert(DeadlineMiss), misses)


def _open_hops(session, changes, now, policy, managers) -> dict[str, dict]:
    """{case id: the new hop} for the changes that open one."""
    wanted = []
    for c in changes:
        if not c.step.opens_hop:
            continue
        state = c.step.state
        due = deadlines.deadline_for(policy, c.case["urgency"], org.level_of(state.holder), now)
        wanted.append({"case_id": c.case["id"], "unit_id": state.holder, "opened_at": now, "due_at": due.due_at,
                       "purpose": "approve" if state.status == "awaiting_approval" else "handle",
                       "manager_id": managers.get(state.holder), "_warn_at": due.warn_at})
    if not wanted:
        return {}
    ids = session.scalars(insert(CaseHop).returning(CaseHop.id, sort_by_parameter_order=True),
                          [{k: v for k, v in w.items() if not k.startswith("_")} for w in wanted]).all()
    return {w["case_id"]: {**w, "id": hop_id, "warn_at": w["_warn_at"]} for w, hop_id in zip(wanted, ids, strict=True)}


def _update_cases(session: Session, updates: list[dict]) -> None:
    """One UPDATE … FROM jsonb_to_recordset per set of columns (most batches have one)."""
    by_columns: dict[tuple, list[dict]] = {}
    for u in updates:
        by_columns.setdefault(tuple(sorted(u)), []).append(u)
    types = {"path": "text[]", "visible_to": "text[]", "approver_pos": "int", "current_hop_id": "bigint",
             "deadline_at": "timestamptz", "warn_at": "timestamptz", "answered_at": "timestamptz",
             "closed_at": "timestamptz", "rating": "int", "history_count": "int", "assignee_id": "uuid",
             "id": "uuid"}
    for columns, rows in by_columns.items():
        sets = ", ".join(f"{c} = v.{c}" for c in columns if c != "id")
        record_type = ", ".join(f"{c} {types.get(c, 'text')}" for c in columns)
        session.execute(text(f"UPDATE cases c SET {sets} FROM jsonb_to_recordset(CAST(:rows AS jsonb)) "
                             f"AS v({record_type}) WHERE c.id = v.id"), {"rows": json.dumps(rows, default=_json)})


def _json(value):
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(type(value))


def _managers(session: Session, units: set[str]) -> dict[str, str]:
    """The manager answerable for each unit's deadlines (SPEC C13): its head, the longest-serving."""
    if not units:
        return {}
    rows = session.execute(
        select(Staff.unit_id, Staff.id).where(Staff.unit_id.in_(units), Staff.active, Staff.role.in_(org.MANAGERS))
        .order_by(Staff.unit_id, Staff.created_at).distinct(Staff.unit_id))
    return dict(rows.all())


def _staff_recipients(session: Session, units: set[str]) -> dict[str, list[dict]]:
    """Whom to tell of a case arriving in their unit's cartable (SPEC N2)."""
    if not units:
        return {}
    out: dict[str, list[dict]] = {}
    rows = session.execute(select(Staff.unit_id, Staff.id, Staff.mobile).where(
        Staff.unit_id.in_(units), Staff.active, Staff.role.in_(org.ACTS_ON_CASES), Staff.mobile.is_not(None)))
    for unit, staff_id, mobile in rows:
        out.setdefault(unit, []).append({"id": staff_id, "mobile": mobile})
    return out


def _event(change: Change, update: dict, hop: dict | None, recipients: dict, now: datetime) -> dict | None:
    event_type = CASE_STEP_EVENTS.get(change.step.action)
    if event_type is None:
        return None
    case, state = change.case, change.step.state
    data = {"tracking_code": case["tracking_code"], "step": change.step.action, "kind": case["kind"],
            "urgency": case["urgency"], "status": state.status, "holder_unit": state.holder,
            "holder_unit_fa": org.unit_names().get(state.holder, state.holder), "at": iso(now), **change.event_data}
    if update.get("deadline_at"):
        data["deadline_at"] = update["deadline_at"]
    elif change.step.action == "deadline_warning":
        data["deadline_at"] = iso(case["deadline_at"])
    if case.get("reporter_mobile"):
        data["reporter_mobile"] = case["reporter_mobile"]
    told = recipients.get(state.holder) if hop or change.step.action == "deadline_warning" else None
    if told and "staff_recipients" not in data:  # a reopening names the managers above itself
        data["staff_recipients"] = told
    return new_event(event_type, data, subject=case["tracking_code"], time=now)
