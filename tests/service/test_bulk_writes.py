"""common/bulk.py on the real PostgreSQL: what goes in comes back, value for value, whether a column varies
between rows (sent with each row) or not (sent once): NULLs, empty and NULL arrays, JSON null and nested
JSON, text with every character COPY or SQL would mind, times to the microsecond in any offset."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session

from common import bulk

COLUMNS = {"id": "int", "a": "text[]", "j": "jsonb", "ts": "timestamptz", "x": "text", "n": "int"}
TEHRAN = timezone(timedelta(hours=3, minutes=30))


def rows_of(session: Session) -> list[tuple]:
    return [tuple(r) for r in session.execute(sa.text("SELECT id, a, j, ts, x, n FROM t ORDER BY id"))]


def test_rows_come_back_as_they_went_in_whether_their_columns_vary_or_not(engine):
    now = datetime.now(TEHRAN)
    rows = [{"id": 1, "a": ["p", 'q,"r}'], "j": {"k": [1, None]}, "ts": now, "x": "خط\nدوم\t\\ 'x' :y", "n": None},
            {"id": 2, "a": None, "j": None, "ts": now + timedelta(microseconds=7), "x": None, "n": 5},
            {"id": 3, "a": [], "j": [1, "2"], "ts": now, "x": "", "n": 0}]
    with Session(engine) as session:
        session.execute(sa.text("CREATE TEMP TABLE t (id int PRIMARY KEY, a text[], j jsonb, ts timestamptz, x text, "
                                "n int)"))
        bulk.insert_rows(session, "t", COLUMNS, rows)
        assert rows_of(session) == [tuple(r[c] for c in COLUMNS) for r in rows]

        # the same values in every row (sent once), a single row, a NULL that is the same in every row
        bulk.update_rows(session, "t", "id", {"id": "int", "a": "text[]", "x": "text"},
                         [{"id": 1, "a": ["z"], "x": None}, {"id": 3, "a": ["z"], "x": None}])
        bulk.update_rows(session, "t", "id", {"id": "int", "a": "text[]", "n": "int"}, [{"id": 2, "a": ["y"], "n": 9}])
        bulk.update_rows(session, "t", "id", {"id": "int", "j": "jsonb", "ts": "timestamptz"},
                         [{"id": 1, "j": {"v": 1}, "ts": now.astimezone(timezone.utc)}, {"id": 2, "j": None, "ts": None}])
        assert rows_of(session) == [(1, ["z"], {"v": 1}, now, None, None), (2, ["y"], None, None, None, 9),
                                    (3, ["z"], [1, "2"], now, None, 0)]

        returned = bulk.insert_rows(session, "t", {"id": "int", "x": "text"}, [{"id": 10, "x": "a"}, {"id": 11}],
                                    "RETURNING id, x").all()
        assert sorted(returned) == [(10, "a"), (11, None)]  # a key missing from a row: NULL
        session.rollback()


def test_split_sends_once_what_every_row_has_and_always_sends_the_key():
    rows = [{"id": 1, "b": 2, "c": 3}, {"id": 1, "b": 4, "c": 3}]
    assert bulk.split(["id", "b", "c"], rows, keep=("id",)) == (["id", "b"], {"c": 3})
    assert bulk.split(["id"], [{"id": 7}], keep=("id",)) == (["id"], {})
