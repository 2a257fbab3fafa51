"""The demo registry loaded with COPY on the real PostgreSQL: exactly the generator's people and
enrolments, accounts marked confirmed, the foreign keys in place after the load, and loading again adds
nothing (a larger load adds only the rest). The budget lines it loads are announced once, for the transparency
portal's budget dataset (`./dev up` shows them there)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from common.budget_lines import BUDGET_LINES
from common.events.catalog import BUDGET_LINES_PUBLISHED
from services.payments import demo_load, demo_registry

PEOPLE = 2_000


def rows(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def test_the_first_people_of_the_demo_registry_load_once_with_their_enrolments(db_urls):
    url = db_urls["payments"]
    first = demo_load.load_demo(url, PEOPLE)
    expected = demo_registry.take(PEOPLE)
    enrolments = {(p["national_id"], line) for p in expected for line in p["lines"]}
    assert first["beneficiaries"] == PEOPLE and first["enrolments"] == len(enrolments)
    assert first["allocations"] == len([line for line in BUDGET_LINES if line["yearly_allocation_rials"]])

    people = rows(url, "SELECT national_id, full_name, household_size, mobile, province, iban, status, "
                       "iban_verified_at IS NOT NULL FROM beneficiaries")
    assert sorted(people) == sorted((p["national_id"], p["full_name_fa"], p["household_size"], p["mobile"],
                                     p["province"], p["iban"], p["status"], True) for p in expected)
    assert set(rows(url, "SELECT national_id, line FROM enrolments")) == enrolments
    assert rows(url, "SELECT DISTINCT since FROM enrolments") == [(demo_load.SINCE,)]
    assert rows(url, "SELECT count(*) FROM enrolments") == [(len(enrolments),)]
    by_status = dict(rows(url, "SELECT status, count(*) FROM beneficiaries GROUP BY status"))
    assert by_status == {s: sum(p["status"] == s for p in expected) for s in by_status}
    keys = {name for (name,) in rows(url, "SELECT conname FROM pg_constraint "
                                          "WHERE conrelid = 'enrolments'::regclass AND contype = 'f'")}
    assert keys == {"enrolments_national_id_fkey", "enrolments_line_fkey"}  # dropped for the COPY, back again

    again = demo_load.load_demo(url, PEOPLE)
    assert (again["beneficiaries"], again["enrolments"], again["skipped"], again["allocations"]) == (0, 0, PEOPLE, 0)
    assert rows(url, "SELECT count(*) FROM beneficiaries") == [(PEOPLE,)]
    assert rows(url, "SELECT count(*) FROM enrolments") == [(len(enrolments),)]
    assert rows(url, "SELECT count(*) FROM ledger_postings") == [(first["allocations"],)]
    [(lines,)] = rows(url, "SELECT envelope->'data'->'lines' FROM outbox WHERE routing_key = "
                           f"'{BUDGET_LINES_PUBLISHED.type}'")
    assert sorted(line["code"] for line in lines) == sorted(line["code"] for line in BUDGET_LINES)


def test_a_larger_load_adds_only_the_rest_in_the_callers_transaction(db_urls):
    url = db_urls["payments"]
    demo_load.load_demo(url, 500)
    engine = sa.create_engine(url)
    try:
        with Session(engine) as session:
            with session.begin():
                added = demo_load.load_registry(session, 800)
            assert (added["beneficiaries"], added["skipped"]) == (300, 500)
            transaction = session.begin()  # a load rolled back leaves nothing behind
            assert demo_load.load_registry(session, 900)["beneficiaries"] == 100
            transaction.rollback()
    finally:
        engine.dispose()
    expected = demo_registry.take(800)
    assert {nid for (nid,) in rows(url, "SELECT national_id FROM beneficiaries")} == {p["national_id"] for p in expected}
    assert rows(url, "SELECT count(*) FROM enrolments") == [(sum(len(p["lines"]) for p in expected),)]
