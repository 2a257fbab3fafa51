"""Loading the demo registry (services/payments/demo_registry.py) into the payments database with
PostgreSQL COPY: 1,542,000 beneficiaries and their enrolments in one transaction, streamed from the
generator, never held in memory.

The demo registry's accounts are the fake bank's open accounts: every demo IBAN ends in its owner's
national ID, and the fake bank run with --open (fakes/bank, `open_registry=True`) says such an account
belongs to that national ID. So the load marks every account as confirmed by the bank
(iban_verified_at = the transaction's now()) without asking the bank 1.5 million times; this is a demo
shortcut, valid only against the fake bank in open mode (a real registry confirms each account with
registry.enrol).

    python -m services.payments.demo_load [--people N]      # the budget lines and the registry, once
"""
from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from psycopg2 import extensions, sql
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from services.payments import budget, demo_registry

SEED = 1405
SINCE = "1391-01"  # the first Jalali month the demo registry's enrolments are paid for
BENEFICIARY_COLUMNS = ("national_id", "full_name", "household_size", "mobile", "province", "iban",
                       "iban_verified_at", "status")
ENROLMENT_COLUMNS = ("national_id", "line", "since")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _field(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    value = str(value)
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:  # never in the demo registry
        return value.translate(_ESCAPES)
    return value


class LineStream(io.RawIOBase):
    """A read-only binary file over an iterator of text lines (each ending in a newline), encoded as
    UTF-8 a chunk at a time, for cursor.copy_expert: COPY pulls the rows as it writes them."""

    def __init__(self, lines: Iterable[str], chunk_lines: int = 2000):
        self._lines: Iterator[str] = iter(lines)
        self._chunk_lines = chunk_lines
        self._buffer = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def _fill(self, size: int) -> None:
        parts, have = [self._buffer], len(self._buffer)
        while not self._done and have < size:
            chunk = []
            for line in self._lines:
                chunk.append(line)
                if len(chunk) >= self._chunk_lines:
                    break
            else:
                self._done = True
            if chunk:
                data = "".join(chunk).encode("utf-8")
                parts.append(data)
                have += len(data)
        self._buffer = b"".join(parts)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = 1 << 62
        if len(self._buffer) < size:
            self._fill(size)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def readinto(self, target) -> int:
        data = self.read(len(target))
        target[:len(data)] = data
        return len(data)


def _dbapi(session_or_connection):
    """The psycopg2 connection under a Session, an SQLAlchemy Connection, or a psycopg2 connection
    itself: the COPY runs in the caller's transaction."""
    if isinstance(session_or_connection, Session):
        session_or_connection = session_or_connection.connection()
    if hasattr(session_or_connection, "connection") and hasattr(session_or_connection.connection,
                                                                 "dbapi_connection"):
        return session_or_connection.connection.dbapi_connection
    return session_or_connection


def loaded_prefix(cur, people: int, seed: int = SEED) -> int:
    """How many of the first `people` of the demo registry are in the table. A load adds a whole prefix
    in one transaction, so the people present are always the first k: a binary search finds k."""
    def present(i: int) -> bool:
        cur.execute("SELECT 1 FROM beneficiaries WHERE national_id = %s",
                    (demo_registry.person(i, seed)["national_id"],))
        return cur.fetchone() is not None

    if people == 0 or present(people - 1):
        return people
    low, high = 0, people - 1  # the first `low` are present; person `high` is not
    while low < high:
        middle = (low + high) // 2
        if present(middle):
            low = middle + 1
        else:
            high = middle
    return low


@contextmanager
def _not_green():
    """psycopg2 refuses COPY while a wait callback is set (psycogreen, under eventlet: the services and
    the tests): the callback is lifted for the COPY, which then blocks like any C call, and put back."""
    callback = extensions.get_wait_callback()
    if callback is not None:
        extensions.set_wait_callback(None)
    try:
        yield
    finally:
        if callback is not None:
            extensions.set_wait_callback(callback)


@contextmanager
def _foreign_keys_checked_at_the_end(cur, table: str):
    """PostgreSQL checks a foreign key row by row, ~15 us a row and key: 1 minute for the registry's 2 million
    enrolments. Its manual's advice for bulk loads ("Populating a Database") is to drop the keys and add them
    again, which checks every row in one join. Done here in the caller's transaction with the keys'
    own names and definitions, so a failed load rolls back to the keys as they were; the table is locked
    meanwhile (ACCESS EXCLUSIVE until the commit), which a loader may do."""
    cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                "AND contype = 'f' ORDER BY conname", (table,))
    keys = cur.fetchall()
    for name, _ in keys:
        cur.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name)))
    yield
    for name, definition in keys:
        cur.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
                    + sql.SQL(definition))


def load_registry(session_or_connection, people: int | None = None, seed: int = SEED) -> dict:
    """Load the first `people` of the demo registry (all 1,542,000 by default) into beneficiaries and
    enrolments, in the caller's transaction, with COPY from a stream. The budget lines must be there
    already (enrolments name them: budget.load). Idempotent: the people already loaded are skipped (a load
    is a prefix of the registry, so a larger load later adds only the rest, and the same load again adds
    nothing). Every account is marked confirmed (iban_verified_at = now()): the demo registry's accounts
    are the fake bank's --open accounts (see the module's docstring). Returns {beneficiaries, enrolments,
    skipped} added and skipped now."""
    total = demo_registry.count() if people is None else min(max(people, 0), demo_registry.count())
    conn = _dbapi(session_or_connection)
    with conn.cursor() as cur:
        start = loaded_prefix(cur, total, seed)
        if start >= total:
            return {"beneficiaries": 0, "enrolments": 0, "skipped": total}
        cur.execute("SELECT now()")
        verified_at = cur.fetchone()[0].isoformat()
        counts = {"beneficiaries": 0, "enrolments": 0, "skipped": start}
        with tempfile.TemporaryFile(mode="w+b") as spool:  # the enrolments, on disk until the people are in
            enrolments = io.TextIOWrapper(spool, encoding="utf-8", newline="\n")

            def people_lines() -> Iterator[str]:
                for p in demo_registry.beneficiaries(seed, start, total):
                    nid = p["national_id"]
                    for line in p["lines"]:
                        enrolments.write(f"{nid}\t{line}\t{SINCE}\n")
                        counts["enrolments"] += 1
                    counts["beneficiaries"] += 1
                    yield (f"{nid}\t{_field(p['full_name_fa'])}\t{p['household_size']}\t{_field(p['mobile'])}\t"
                           f"{_field(p['province'])}\t{p['iban']}\t{verified_at}\t{p['status']}\n")

            with _not_green():
                cur.copy_expert(f"COPY beneficiaries ({', '.join(BENEFICIARY_COLUMNS)}) FROM STDIN",
                                LineStream(people_lines()))
                enrolments.flush()
                spool.seek(0)
                with _foreign_keys_checked_at_the_end(cur, "enrolments"):
                    cur.copy_expert(f"COPY enrolments ({', '.join(ENROLMENT_COLUMNS)}) FROM STDIN", spool,
                                    size=1 << 16)
            enrolments.detach()
        cur.execute("ANALYZE beneficiaries")
        cur.execute("ANALYZE enrolments")
    return counts


def load_demo(url: str, people: int | None = None, seed: int = SEED) -> dict:
    """The budget lines (and their allocations in the ledger) and the demo registry, in one call and one
    transaction; again changes nothing. Returns what load_registry returns, with `allocations` posted now
    and `seconds`."""
    started = time.perf_counter()
    engine = create_engine(url)
    try:
        with Session(engine) as session, session.begin():
            allocations = budget.load(session)
            counts = load_registry(session, people, seed)
    finally:
        engine.dispose()
    return {**counts, "allocations": allocations, "seconds": round(time.perf_counter() - started, 2)}


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    from common.config import get_settings

    parser = argparse.ArgumentParser(description="Load the budget lines and the demo registry (once)")
    parser.add_argument("--people", type=int, default=None, help="the first N people (default: all 1,542,000)")
    parser.add_argument("--url", default=None, help="the payments database (default: from the settings)")
    args = parser.parse_args(argv)
    print(json.dumps(load_demo(args.url or get_settings().database_url_for("payments"), args.people)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
