"""Set-based writes of many rows, one statement per table and batch (the deadline sweeps write thousands).

The rows go to the database as one JSON document, an array of arrays (each row's values, in the order of
the columns), that it reads back as rows: one short statement, where a multi-row VALUES list would be a
statement of tens of thousands of parameters for the server to lex, parse and plan (psycopg2 sends the
parameters inlined in the statement's text). A column with the same value in every row is sent once,
beside the rows: most of a sweep's batch is the same step taken by thousands of cases, so what is sent
for each row is what varies (the case, its history link).

Values are JSON: times go as ISO 8601 to the microsecond with their offset (datetime.isoformat), arrays and
objects as JSON arrays and objects, read back as the column's SQL type; None is NULL.
"""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from operator import itemgetter

from sqlalchemy import text
from sqlalchemy.orm import Session


def _default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value) -> str:
    return json.dumps(value, default=_default, separators=(",", ":"))


def split(columns, rows: list[dict], keep=()) -> tuple[list[str], dict]:
    """(the columns whose value differs between rows, {column: value} of the others); the columns in
    `keep` count as differing whatever their values."""
    same = {}
    for column, values in zip(columns, _values(columns, rows), strict=True):
        if column not in keep and values.count(values[0]) == len(values):
            same[column] = values[0]
    return [c for c in columns if c not in same], same


def _tuples(columns, rows: list[dict]) -> list:
    """Each row's values of `columns`, in order (a missing key: None)."""
    try:
        return list(map(itemgetter(*columns), rows)) if len(columns) > 1 else [(r[columns[0]],) for r in rows]
    except KeyError:
        return [[row.get(c) for c in columns] for row in rows]


def _values(columns, rows: list[dict]) -> list[tuple]:
    """The values of each column, a tuple per column (a missing key: None)."""
    return list(zip(*_tuples(columns, rows), strict=True))


def _field(i: int, sql_type: str) -> str:
    """The i-th value of the JSON array `r` as `sql_type` (JSON null: SQL NULL)."""
    if sql_type in ("jsonb", "json"):
        return f"CAST(NULLIF(r -> {i}, 'null') AS {sql_type})"
    if sql_type.endswith("[]"):
        return (f"CASE WHEN jsonb_typeof(r -> {i}) = 'array' "
                f"THEN CAST(ARRAY(SELECT jsonb_array_elements_text(r -> {i})) AS {sql_type}) END")
    return f"CAST(r ->> {i} AS {sql_type})"


def _sources(columns: dict[str, str], varying: list[str], same: dict, rows: list[dict]) -> tuple[str, str, dict]:
    """What to read: the rows (v: each row a JSON array of the varying columns' values, with its ordinal
    `ord`) and, when some columns have the same value in every row, a single record of them (s); the
    expression of each column; the parameters."""
    fields = ", ".join(f"{_field(i, columns[c])} AS {c}" for i, c in enumerate(varying))
    sources = (f"(SELECT {fields}, ord FROM jsonb_array_elements(CAST(:rows AS jsonb)) WITH ORDINALITY "
               f"AS e(r, ord)) AS v")
    params = {"rows": dumps(_tuples(varying, rows))}
    if same:
        sources += f" CROSS JOIN jsonb_to_record(CAST(:same AS jsonb)) AS s({', '.join(f'{c} {columns[c]}' for c in same)})"
        params["same"] = dumps(same)
    return sources, ", ".join(f"s.{c}" if c in same else f"v.{c}" for c in columns), params


def insert_rows(session: Session, table: str, columns: dict[str, str], rows: list[dict], returning: str = ""):
    """INSERT INTO `table` the `columns` ({name: SQL type}) of `rows` (dicts), in their order, in one
    statement; `returning`: a RETURNING clause (its rows name what they belong to: their order is not
    promised). The first column is always sent with each row."""
    varying, same = split(columns, rows, keep=(next(iter(columns)),))
    sources, values, params = _sources(columns, varying, same, rows)
    return session.execute(text(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} FROM {sources} "
                                f"ORDER BY v.ord {returning}"), params)


def update_rows(session: Session, table: str, key: str, columns: dict[str, str], rows: list[dict]) -> None:
    """UPDATE `table`: each row's `columns` ({name: SQL type}, `key` among them) on the table's row with
    the same `key`, in one statement. Every row sets the same columns."""
    varying, same = split(columns, rows, keep=(key,))
    sources, _, params = _sources(columns, varying, same, rows)
    sets = ", ".join(f"{c} = {'s' if c in same else 'v'}.{c}" for c in columns if c != key)
    session.execute(text(f"UPDATE {table} t SET {sets} FROM {sources} WHERE t.{key} = v.{key}"), params)
