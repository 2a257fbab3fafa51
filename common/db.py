"""SQLAlchemy 2 for nameko services: one engine per container, one session per worker.

nameko-sqlalchemy's fixtures break on SQLAlchemy 2, so this is the small provider of our own.
"""
from __future__ import annotations

from contextlib import contextmanager

import psycopg2
from nameko.extensions import DependencyProvider
from psycopg2 import sql
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.orm import Session, sessionmaker

from common.config import get_settings

DB_URIS_KEY = "DB_URIS"  # nameko config: {service: url}, used by tests to point at their own database


def make_engine(url: str, **kwargs) -> Engine:
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, future=True, **kwargs)


@contextmanager
def _server_cursor(url: str):
    """A cursor on the server's `postgres` database, outside any transaction (CREATE/DROP DATABASE)."""
    admin = make_url(url).set(database="postgres")
    conn = psycopg2.connect(admin.render_as_string(hide_password=False).replace("+psycopg2", ""))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def ensure_database(url: str) -> bool:
    """Create the database named in `url` if it does not exist. Returns True when it was created."""
    name = make_url(url).database
    with _server_cursor(url) as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone():
            return False
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def drop_database(url: str) -> None:
    with _server_cursor(url) as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(make_url(url).database)))


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


class Database(DependencyProvider):
    """Injects a `Session` per worker; the worker decides where the transaction is
    (`with self.db.begin(): ...`). The session is closed when the worker ends, rolled back if open."""

    def __init__(self, service: str):
        self.service = service
        self.engine: Engine | None = None
        self.sessionmaker: sessionmaker | None = None
        self.sessions: dict = {}

    def setup(self):
        url = self.container.config.get(DB_URIS_KEY, {}).get(self.service)
        url = url or get_settings().database_url_for(self.service)
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)

    def stop(self):
        if self.engine is not None:
            self.engine.dispose()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx) -> Session:
        session = self.sessionmaker()
        self.sessions[worker_ctx] = session
        return session

    def worker_teardown(self, worker_ctx):
        session = self.sessions.pop(worker_ctx, None)
        if session is not None:
            session.close()


def get_by_uuid(session: Session, model, value: str, not_found: Exception, lock: bool = False):
    """The row of `model` whose UUID primary key is `value` (locked for update with `lock`), or
    raise `not_found`, also when `value` is not a UUID at all."""
    import uuid

    try:
        row = session.get(model, str(uuid.UUID(value)), with_for_update=lock)
    except ValueError:
        row = None
    if row is None:
        raise not_found
    return row
