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

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from common import bulk, outbox
from common.events.catalog import CASE_STEP_EVENTS
from common.events.envelope import new_event
from common.jalali import iso
from services.complaints import deadlines, history, org, workflow
from services.complaints.models import DeadlinePolicy, Staff
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


def step_of(transition, case: dict, known: dict) -> workflow.Step:
    """`transition(state_of(case))`, worked out once per distinct state in `known` (a batch's cases mostly
    share one): a transition is a pure function of the state, and its Step is never changed."""
    key = (transition, case["status"], case["kind"], tuple(case["path"]), case["holder_unit_id"],
           case["approver_pos"], case["center_id"], case["answered_at"])
    step = known.get(key)
    if step is None:
        step = known[key] = transition(state_of(case))
    return step


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
    at, visible = iso(now), {}  # the events' time; each path's readers, worked out once per record
    for change in changes:
        case, step, state = change.case, change.step, change.step.state
        hop = new_hops.get(case["id"])
        row = history.chain(case["history_head"] or history.GENESIS, case["history_count"], {
            "case_id": case["id"], "at": now, "action": step.action, "actor_kind": change.actor["kind"],
            "actor_id": change.actor.get("id"), "actor_name": change.actor.get("name"), "unit_id": state.holder,
            "public_note": change.public_note, "internal_note": change.internal_note,
            "data": {"status": state.status, "path": list(state.path)}})
        rows.append(row)
        if state.path not in visible:
            visible[state.path] = org.visible_to(state.path)
        update = {"id": case["id"], "status": state.status, "path": row["data"]["path"],
                  "visible_to": visible[state.path], "holder_unit_id": state.holder,
                  "approver_pos": state.approver_pos, "history_head": row["hash"], "history_count": row["n"],
                  **_hop_columns(case, step, hop), **change.updates}
        updates.append(update)
        events.append(_event(change, update, hop, recipients, now, at))
    bulk.insert_rows(session, "case_history", _HISTORY, rows)
    _update_cases(session, updates)
    outbox.add_many(session, outbox_table, [e for e in events if e])


# What record() writes, set-based (common.bulk): {column: SQL type}
_HISTORY = {"case_id": "uuid", "n": "int", "at": "timestamptz", "action": "text", "actor_kind": "text",
            "actor_id": "text", "actor_name": "text", "unit_id": "text", "public_note": "text",
            "internal_note": "text", "data": "jsonb", "prev_hash": "text", "hash": "text"}
_MISS = {"hop_id": "bigint", "case_id": "uuid", "unit_id": "text", "manager_id": "uuid", "due_at": "timestamptz",
         "detected_at": "timestamptz"}
_HOP = {"case_id": "uuid", "unit_id": "text", "purpose": "text", "manager_id": "uuid", "opened_at": "timestamptz",
        "due_at": "timestamptz"}


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
        return {"current_hop_id": hop["id"], "deadline_at": hop["due_iso"], "warn_at": hop["warn_iso"],
                "assignee_id": hop["manager_id"]}
    if step.closes_hop_as or step.state.status not in workflow.OPEN:
        return {"current_hop_id": None, "deadline_at": None, "warn_at": None, "assignee_id": None}
    if step.action == "deadline_warning":
        return {"warn_at": None}
    return {}


def _close_hops(session: Session, changes: list[Change], now: datetime) -> None:
    closing = [{"id": c.case["current_hop_id"], "closed_at": now, "outcome": c.step.closes_hop_as}
               for c in changes if c.step.closes_hop_as and c.case["current_hop_id"]]
    warned = [c.case["current_hop_id"] for c in changes if c.step.action == "deadline_warning"]
    if closing:
        bulk.update_rows(session, "case_hops", "id", {"id": "bigint", "closed_at": "timestamptz", "outcome": "text"},
                         closing)
    if warned:
        session.execute(text("UPDATE case_hops SET warned_at = :now WHERE id = ANY(:ids)"), {"now": now, "ids": warned})
    misses = [{"hop_id": c.case["current_hop_id"], "case_id": c.case["id"], "unit_id": c.case["holder_unit_id"],
               "manager_id": c.case["assignee_id"], "due_at": c.case["deadline_at"], "detected_at": now}
              for c in changes if c.step.closes_hop_as == "missed" and c.case["current_hop_id"]]
    if misses:
        bulk.insert_rows(session, "deadline_misses", _MISS, misses)


def _open_hops(session, changes, now, policy, managers) -> dict[str, dict]:
    """{case id: the new hop} for the changes that open one."""
    wanted, dues, due_by = [], [], {}
    for c in changes:
        if not c.step.opens_hop:
            continue
        state = c.step.state
        key = (c.case["urgency"], state.holder, state.status == "awaiting_approval")
        due = due_by.get(key)
        if due is None:  # the same hop for each class of case, unit and purpose: they open at the same `now`
            deadline = deadlines.deadline_for(policy, key[0], org.level_of(state.holder), now)
            due = due_by[key] = {"unit_id": state.holder, "opened_at": now, "due_at": deadline.due_at,
                                 "purpose": "approve" if key[2] else "handle", "manager_id": managers.get(state.holder),
                                 "warn_at": deadline.warn_at, "due_iso": iso(deadline.due_at),
                                 "warn_iso": iso(deadline.warn_at)}
        wanted.append({"case_id": c.case["id"], **due})
        dues.append(due)
    if not wanted:
        return {}
    ids = dict(bulk.insert_rows(session, "case_hops", _HOP, wanted, "RETURNING CAST(case_id AS text), id").all())
    return {w["case_id"]: {**due, "id": ids[w["case_id"]]} for w, due in zip(wanted, dues, strict=True)}


def _update_cases(session: Session, updates: list[dict]) -> None:
    """One UPDATE per set of columns (most batches have one)."""
    by_columns: dict[tuple, list[dict]] = {}
    for u in updates:
        by_columns.setdefault(tuple(sorted(u)), []).append(u)
    for columns, rows in by_columns.items():
        bulk.update_rows(session, "cases", "id", {c: _CASE_TYPES.get(c, "text") for c in columns}, rows)


_CASE_TYPES = {"path": "text[]", "visible_to": "text[]", "approver_pos": "int", "current_hop_id": "bigint",
               "deadline_at": "timestamptz", "warn_at": "timestamptz", "answered_at": "timestamptz",
               "closed_at": "timestamptz", "rating": "int", "history_count": "int", "assignee_id": "uuid",
               "id": "uuid"}


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


def _event(change: Change, update: dict, hop: dict | None, recipients: dict, now: datetime, at: str) -> dict | None:
    event_type = CASE_STEP_EVENTS.get(change.step.action)
    if event_type is None:
        return None
    case, state = change.case, change.step.state
    data = {"tracking_code": case["tracking_code"], "step": change.step.action, "kind": case["kind"],
            "urgency": case["urgency"], "status": state.status, "holder_unit": state.holder,
            "holder_unit_fa": org.unit_names().get(state.holder, state.holder), "at": at, **change.event_data}
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
