"""Every change to a case, in an append-only, hash-chained history.

Each row's hash covers the row and the hash of the row before it in the same case, and the case keeps
the last hash and the count: an edited, inserted or deleted row breaks the chain and `verify` names
the case. The table also refuses UPDATE and DELETE (a trigger); the chain catches what gets past it.

    python -m services.complaints.history verify
"""
from __future__ import annotations

import hashlib
import json
import sys
from datetime import datetime, timezone

from sqlalchemy import select, text
from sqlalchemy.orm import Session

GENESIS = "0" * 64
FIELDS = ("case_id", "n", "at", "action", "actor_kind", "actor_id", "actor_name", "unit_id", "public_note",
          "internal_note", "data")


# json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":")), built once (json.dumps
# builds an encoder at each call with these options, a good part of the cost of a link)
_ENCODE = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def link_hash(prev_hash: str, row: dict) -> str:
    values = [prev_hash, *[_canonical(v) if isinstance(v, datetime) else v for v in map(row.get, FIELDS)]]
    return hashlib.sha256(_ENCODE(values).encode()).hexdigest()


def _canonical(value):
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat(timespec="microseconds")
    return value


def chain(prev_hash: str, count: int, row: dict) -> dict:
    """The row to append after a chain ending in `prev_hash` with `count` rows, with its hash."""
    row = {**row, "n": count + 1, "data": row.get("data") or {}}
    row["prev_hash"], row["hash"] = prev_hash, link_hash(prev_hash, row)  # link_hash reads FIELDS only
    return row


APPEND_ONLY_SQL = """
CREATE FUNCTION case_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'case_history is append-only';
END $$;
CREATE TRIGGER case_history_append_only BEFORE UPDATE OR DELETE ON case_history
  FOR EACH ROW EXECUTE FUNCTION case_history_append_only();
"""
APPEND_ONLY_DROP_SQL = ("DROP TRIGGER IF EXISTS case_history_append_only ON case_history; "
                        "DROP FUNCTION IF EXISTS case_history_append_only();")


def verify(session: Session) -> list[str]:
    """Every break in every case's chain, as sentences naming the case; [] when all is intact."""
    from services.complaints.models import Case, CaseHistory

    problems: list[str] = []
    heads = {row.id: (row.tracking_code, row.history_head, row.history_count)
             for row in session.execute(select(Case.id, Case.tracking_code, Case.history_head, Case.history_count))}
    columns = [getattr(CaseHistory, f) for f in FIELDS] + [CaseHistory.prev_hash, CaseHistory.hash]
    rows = session.execute(select(*columns).order_by(CaseHistory.case_id, CaseHistory.n)
                           .execution_options(yield_per=5000))
    current, prev, count = None, GENESIS, 0

    def close(case_id):
        code, head, expected = heads.pop(case_id, (case_id, None, None))
        if expected is None:
            problems.append(f"history rows for a case that does not exist: {case_id}")
        elif count != expected or prev != head:
            problems.append(f"case {code}: {count} rows end in {prev[:12]}, the case expects "
                            f"{expected} ending in {(head or '')[:12]} (a row was deleted or added)")

    for row in rows:
        data = row._asdict()
        if data["case_id"] != current:
            if current is not None:
                close(current)
            current, prev, count = data["case_id"], GENESIS, 0
        count += 1
        if data["n"] != count or data["prev_hash"] != prev or data["hash"] != link_hash(prev, data):
            code = heads.get(current, (current,))[0]
            problems.append(f"case {code}: row {data['n']} does not match its hash (edited, or out of chain)")
        prev = data["hash"]
    if current is not None:
        close(current)
    problems += [f"case {code}: {expected} history rows expected, none found"
                 for code, _, expected in heads.values() if expected]
    return problems


def main(argv: list[str]) -> int:
    from common.config import get_settings
    from common.db import make_engine

    if argv[:1] != ["verify"]:
        print(__doc__)
        return 2
    engine = make_engine(get_settings().database_url_for("complaints"))
    with Session(engine) as session:
        session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        problems = verify(session)
    engine.dispose()
    for problem in problems:
        print(problem)
    print("history intact" if not problems else f"{len(problems)} problem(s) found")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
