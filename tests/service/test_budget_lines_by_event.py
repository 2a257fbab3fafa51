"""The budget lines travel by event (issue 19, item 2), on the real PostgreSQL and RabbitMQ: payments' load
announces the year's lines once (`budget_lines.published`) and again only when they change; the outbox relay
takes them to the transparency service, whose budget dataset publishes them with what was paid from each in that
year, keeping the newest version of the year when an older one arrives late."""
from __future__ import annotations

import sqlalchemy as sa
from nameko.testing.services import entrypoint_waiter
from sqlalchemy.orm import Session

from common.budget_lines import BUDGET_LINES
from common.events.catalog import BUDGET_LINES_PUBLISHED, DISBURSEMENTS_PUBLISHED
from common.events.envelope import new_event
from common.outbox.relay import OutboxRelay
from services.payments import budget
from services.transparency import dataset_versions, event_rows
from tests.helpers import publish

LINE = BUDGET_LINES[0]  # pension_disability
RAISED = {**LINE, "per_capita_rials": LINE["per_capita_rials"] + 1_000_000}
RENAMED = {**RAISED, "per_capita_rials": LINE["per_capita_rials"] + 2_000_000, "title_fa": LINE["title_fa"] + " (اصلاحیه)"}


def load(engine, lines: list[dict] = BUDGET_LINES) -> None:
    with Session(engine) as session, session.begin():
        budget.load(session, lines=lines)


def announced(engine) -> list[dict]:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT envelope FROM outbox WHERE routing_key = :t ORDER BY seq"),
                            {"t": BUDGET_LINES_PUBLISHED.type}).scalars().all()


def as_announced(lines: list[dict]) -> dict[str, dict]:
    return {line["code"]: {c: line[c] for c in budget.COLUMNS} for line in lines}


def test_a_load_announces_the_years_lines_once_and_again_only_when_they_change(engine_of):
    payments = engine_of("payments")
    load(payments)
    load(payments)  # the same lines: nothing to announce
    load(payments, [LINE])  # one of them, unchanged: the year's lines are still those announced
    [first] = announced(payments)
    assert (first["subject"], first["data"]["year"], first["data"]["version"]) == ("1405", 1405, 1)
    assert as_announced(first["data"]["lines"]) == as_announced(BUDGET_LINES)  # every line of the year, each whole

    load(payments, [RAISED])
    load(payments, [RAISED])
    load(payments, [LINE])  # back as it was: a change too, announced as the newest version
    versions = announced(payments)
    assert [e["data"]["version"] for e in versions] == [1, 2, 3]
    assert len({e["id"] for e in versions}) == 3
    assert as_announced(versions[1]["data"]["lines"]) == as_announced([RAISED, *BUDGET_LINES[1:]])
    assert versions[2]["data"]["lines"] == first["data"]["lines"]


def disbursed(month: str, amount: int) -> dict:
    """A batch paying one household from LINE in `month`."""
    cycle = f"{month}.{LINE['code']}"
    return new_event(DISBURSEMENTS_PUBLISHED, {
        "cycle_id": cycle, "budget_line": LINE["code"], "budget_line_fa": LINE["title_fa"], "month": month,
        "month_fa": month, "batch": 1, "batches": 1, "paid_at": "2026-11-26T09:00:00Z",
        "items": [{"order_id": f"{cycle}.0499370899", "national_id": "0499370899", "amount_rials": amount,
                   "province": "tehran"}]}, subject=cycle)


def deliver(container, amqp_uri: str, event: dict, method: str) -> bool:
    with entrypoint_waiter(container, method, timeout=15) as handled:
        publish(amqp_uri, event)
    return handled.get()


def test_transparency_publishes_the_lines_payments_announced_and_an_older_version_arriving_late_changes_nothing(
        transparency, engine_of, db_urls, rabbit_config):
    amqp = rabbit_config["AMQP_URI"]
    payments, shafaf = engine_of("payments"), engine_of("transparency")
    with Session(shafaf) as session:
        assert list(event_rows.budget(session)) == []  # before payments announced any: no rows, not the constants

    load(payments)
    relay = OutboxRelay("payments", db_urls["payments"], amqp)
    try:
        with entrypoint_waiter(transparency, "on_budget_lines_published", timeout=15) as handled:
            assert relay.drain() == 1
        assert handled.get() is True
    finally:
        relay.close()
    with Session(shafaf) as session:
        rows = list(event_rows.budget(session))
    assert [r["code"] for r in rows] == sorted(line["code"] for line in BUDGET_LINES)
    assert {r["code"]: {c: r[c] for c in budget.COLUMNS} for r in rows} == as_announced(BUDGET_LINES)

    load(payments, [RAISED])
    load(payments, [RENAMED])
    _, older, newer = announced(payments)
    assert deliver(transparency, amqp, newer, "on_budget_lines_published") is True
    assert deliver(transparency, amqp, older, "on_budget_lines_published") is True  # taken, and kept out
    assert deliver(transparency, amqp, disbursed("1405-09", 36_000_000), "on_disbursements_published") is True
    assert deliver(transparency, amqp, disbursed("1404-12", 30_000_000), "on_disbursements_published") is True

    def published(*_) -> dict | None:
        """The budget's rows once a version holds everything delivered above: no change of it left unpublished
        (the timer may have published the rename before the payments were delivered)."""
        with Session(shafaf) as session:
            if session.scalar(sa.text("SELECT count(*) FROM dataset_changes WHERE slug = 'budget'")):
                return None
            latest = dataset_versions.latest(session, "budget")
            rows = list(dataset_versions.stored_rows(session, "budget", latest["version"])) if latest else []
        return {r["code"]: r for r in rows} if any(r["title_fa"] == RENAMED["title_fa"] for r in rows) else None

    if not published():  # the timer publishes what changed on its next tick (or did already)
        with entrypoint_waiter(transparency, "publish_changed", timeout=20, callback=published):
            pass
    shown = published()
    assert len(shown) == len(BUDGET_LINES)
    assert {c: shown[LINE["code"]][c] for c in budget.COLUMNS} == as_announced([RENAMED])[LINE["code"]]
    assert shown[LINE["code"]]["year"] == 1405
    assert shown[LINE["code"]]["spent_rials"] == 36_000_000  # what was paid in 1405; 1404's month is another year
    assert all(r["spent_rials"] == 0 for code, r in shown.items() if code != LINE["code"])


def test_the_command_operators_run_loads_and_announces_a_years_lines_once(engine_of, db_urls):
    import os
    import subprocess
    import sys

    from common.config import PROJECT_ROOT

    def run(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PAYMENTS_DATABASE_URL": db_urls["payments"]}
        return subprocess.run([sys.executable, "-m", "services.payments.load_budget", *args], cwd=PROJECT_ROOT,
                              env=env, capture_output=True, text=True, timeout=120)

    first, again = run("1405"), run("1405")
    assert first.returncode == 0 and "16 allocation(s) posted now; lines announced as version 1" in first.stdout
    assert again.returncode == 0 and "0 allocation(s) posted now; lines announced as version 1" in again.stdout
    assert [e["data"]["version"] for e in announced(engine_of("payments"))] == [1]
    assert run("next year").returncode == 2  # not a year: the usage, nothing loaded
