"""Each service's SQLAlchemy models against the schema its migrations build, on the real PostgreSQL (issue 19):
alembic's autogenerate comparison finds no table, column, type or nullability that differs. Indexes and unique
constraints are made by the migrations (most for speed; the models declare those the code relies on by
name), so the comparison leaves out the ones the database has beyond the models, and only those."""
from __future__ import annotations

import importlib
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from common.config import SERVICES, with_database
from common.db import drop_database
from common.migrations import upgrade

ONLY_IN_THE_MIGRATIONS = {"remove_index", "remove_constraint"}  # what the database has beyond the models


def _kind(difference) -> str:
    return difference[0][0] if isinstance(difference, list) else difference[0]  # modify_* come as lists


@pytest.fixture
def migrated(pg_url):
    """A database of the test's own, built by the service's migrations and nothing else (the shared test
    databases hold what other tests make in them)."""
    made = []

    def build(service: str) -> str:
        url = with_database(pg_url, f"models_{service}_{uuid.uuid4().hex[:8]}")
        made.append(url)
        upgrade(service, url)
        return url

    yield build
    for url in made:
        drop_database(url)


@pytest.mark.parametrize("service", SERVICES)
def test_the_models_are_what_the_migrations_build(migrated, service):
    metadata = importlib.import_module(f"services.{service}.models").Base.metadata
    engine = sa.create_engine(migrated(service))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert [d for d in differences if _kind(d) not in ONLY_IN_THE_MIGRATIONS] == []
    assert metadata.tables, "the models declare tables"


def test_the_comparison_sees_a_column_the_models_lack(migrated):
    """The check can fail: a column added by hand is found."""
    engine = sa.create_engine(migrated("notifications"))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE staff_notifications ADD COLUMN added_by_hand text"))
            try:
                metadata = importlib.import_module("services.notifications.models").Base.metadata
                differences = compare_metadata(MigrationContext.configure(conn), metadata)
                assert ("remove_column", None, "staff_notifications") in [d[:3] for d in differences
                                                                          if _kind(d) == "remove_column"]
            finally:
                conn.execute(sa.text("ALTER TABLE staff_notifications DROP COLUMN added_by_hand"))
    finally:
        engine.dispose()
