"""Shafaf's search is bounded, on the real PostgreSQL: a few words of two letters or more, found through
the trigram index on a table of realistic size (the planner's own EXPLAIN of the very statement the
service sends), and given up at its statement timeout with a 400 naming `q`."""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from common.errors import InvalidRequest
from services.transparency import browse
from tests.conftest import empty_databases

SLUG = "managers"
ROWS_PER_VERSION = 40_000
RARE = "نیلوفرآبی"


@pytest.fixture(scope="module")
def rows(databases):
    """Three versions of 40,000 rows each, the latest holding a rare word in three rows (made once: the
    tests here only read them)."""
    empty_databases({"transparency": databases["transparency"]})
    engine = sa.create_engine(databases["transparency"])
    with engine.begin() as conn:
        for version in (1, 2, 3):
            conn.execute(sa.text(
                "INSERT INTO dataset_versions (slug, version, published_at, row_count, content_sha256, prev_sha256, "
                "record_sha256, signature) VALUES (:slug, :v, now(), :n, 'x', 'x', 'x', 'x')"),
                {"slug": SLUG, "v": version, "n": ROWS_PER_VERSION})
            conn.execute(sa.text(
                "INSERT INTO dataset_rows (slug, version, n, data, search) "
                "SELECT :slug, :v, i, jsonb_build_object('manager_id', 'm' || i, 'full_name', 'مدیر ' || i), "
                "'مدیر مرکز توانبخشی شماره ' || i || ' استان ' || (ARRAY['تهران','قم','یزد','فارس','گیلان'])[1 + i % 5]"
                " || ' ' || md5(i::text || :v) "
                "|| CASE WHEN :v = 3 AND i IN (7, 19000, 39000) THEN ' ' || :rare ELSE '' END "
                "FROM generate_series(1, :n) AS i"), {"slug": SLUG, "v": version, "n": ROWS_PER_VERSION, "rare": RARE})
        conn.execute(sa.text("ANALYZE dataset_rows"))
    yield engine
    engine.dispose()


def search(engine, q: str, statements: list | None = None) -> dict:
    def record(conn, cursor, statement, parameters, context, executemany):
        if "LIKE" in statement:
            statements.append((statement, parameters))

    if statements is not None:
        sa.event.listen(engine, "before_cursor_execute", record)
    try:
        with Session(engine) as session, session.begin():
            return browse.rows_page(session, SLUG, None, q, {}, None, False, None, 20)
    finally:
        if statements is not None:
            sa.event.remove(engine, "before_cursor_execute", record)


def test_a_rare_word_is_found_through_the_trigram_index(rows):
    statements: list = []
    page = search(rows, f"  {RARE} ", statements)
    assert [item["manager_id"] for item in page["items"]] == ["m7", "m19000", "m39000"]
    [(statement, parameters)] = statements
    with rows.connect() as conn:
        plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
    assert "dataset_rows_search_trgm" in plan, plan


def test_the_index_is_a_trigram_gin_index_on_the_search_text(rows):
    with rows.connect() as conn:
        definition = conn.execute(sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'dataset_rows_search_trgm'")
                                  ).scalar_one()
    assert "USING gin (search gin_trgm_ops)" in definition


@pytest.mark.parametrize("q, code", [("یک دو سه چهار پنج شش", "too_many_terms"), ("مرکز و تهران", "term_too_short")])
def test_too_many_words_or_a_one_letter_word_is_refused_naming_q(rows, q, code):
    with pytest.raises(InvalidRequest) as refused:
        search(rows, q)
    [error] = refused.value.errors
    assert error["field"] == "q" and error["code"] == code and error["message"]


def test_five_words_and_two_letter_words_are_searched(rows):
    page = search(rows, "مدیر مرکز توانبخشی استان قم")  # قم: a province of two letters
    assert len(page["items"]) == 20
    assert all(int(item["manager_id"][1:]) % 5 == 1 for item in page["items"])  # the rows of Qom only


def test_a_search_that_runs_past_its_timeout_is_given_up_with_a_400(rows, monkeypatch):
    monkeypatch.setattr(browse, "SEARCH_TIMEOUT_MS", 300)
    holding, release = threading.Event(), threading.Event()

    def hold_the_table():  # the search waits on this lock: its statement timeout must end the wait
        with rows.connect() as conn, conn.begin():
            conn.execute(sa.text("LOCK TABLE dataset_rows IN ACCESS EXCLUSIVE MODE"))
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_table)
    holder.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        with pytest.raises(InvalidRequest) as refused:
            search(rows, RARE)
        took = time.monotonic() - started
    finally:
        release.set()
        holder.join(30)
    [error] = refused.value.errors
    assert error["field"] == "q" and error["code"] == "search_too_broad"
    assert took < 5
    assert search(rows, RARE)["items"]  # the timeout was the transaction's own: the next search runs


def test_a_search_s_first_page_says_how_many_rows_it_finds_counted_up_to_a_cap(rows):
    qom = search(rows, "استان قم")
    assert (qom["matched"], qom["matched_capped"]) == (ROWS_PER_VERSION // 5, False)  # one province in five
    rare = search(rows, RARE)
    assert (rare["matched"], rare["matched_capped"]) == (3, False)
    everything = search(rows, "مدیر")
    assert (everything["matched"], everything["matched_capped"]) == (browse.MATCH_COUNT_CAP, True)
    with Session(rows) as session, session.begin():
        second = browse.rows_page(session, SLUG, None, "استان قم", {}, None, False, qom["next"], 20)
        unsearched = browse.rows_page(session, SLUG, None, None, {}, None, False, None, 20)
    assert len(second["items"]) == 20 and "matched" not in second  # told once, on the first page
    assert "matched" not in unsearched  # the version's row count says it
