"""SQLAlchemy 2 for nameko services: engines per container, one session per worker.

nameko-sqlalchemy's fixtures break on SQLAlchemy 2, so this is the small provider of our own.

Every connection has bounds (`connect_args`), so a database that is down, failing over or cut off is
an error within seconds, never a hang: a connect timeout, TCP keepalives and a TCP user timeout (a
link that drops packets is found dead), and a `statement_timeout` and `lock_timeout` by kind of work:
"request" for RPC (short: the gateway gives up after its RPC_TIMEOUT) and "background" for timers,
event handlers, the relay and tools (sweeps, payment cycles, ingest). The server gets the same keepalives
and ends a transaction left idle (idle_in_transaction_session_timeout). Pools pre-ping. The errors these
raise are transient (common.transient): events wait for the database, requests answer 503.
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


WORK_KINDS = ("request", "background")


def connect_args(kind: str = "background") -> dict:
    """libpq parameters of a connection for `kind` of work (see the module's docstring)."""
    if kind not in WORK_KINDS:
        raise ValueError(f"kind of work {kind!r} is not one of {WORK_KINDS}")
    s = get_settings()
    statement_ms = getattr(s, f"db_{kind}_statement_timeout_ms")
    lock_ms = getattr(s, f"db_{kind}_lock_timeout_ms")
    return {
        "connect_timeout": s.db_connect_timeout,
        "keepalives": 1, "keepalives_idle": s.db_keepalives_idle, "keepalives_interval": 3, "keepalives_count": 3,
        "tcp_user_timeout": s.db_tcp_user_timeout_ms,
        # the server's bounds: a client lost in a partition is found by the server's own keepalives, and a
        # transaction it left open ends and frees its locks (default: 2 h of keepalive silence, then forever)
        "options": (f"-c statement_timeout={statement_ms} -c lock_timeout={lock_ms} "
                    f"-c idle_in_transaction_session_timeout={s.db_idle_in_transaction_timeout_ms} "
                    f"-c tcp_keepalives_idle={s.db_keepalives_idle} -c tcp_keepalives_interval=3 "
                    f"-c tcp_keepalives_count=3 -c tcp_user_timeout={s.db_tcp_user_timeout_ms}"),
    }


def make_engine(url: str, kind: str = "background", **kwargs) -> Engine:
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs["connect_args"] = {**connect_args(kind), **kwargs.get("connect_args", {})}
    return create_engine(url, future=True, **kwargs)


def connect(url: str, kind: str = "background"):
    """A plain psycopg2 connection with the same bounds as the engines' (the relay, health checks)."""
    return psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"), **connect_args(kind))


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
    (`with self.db.begin(): ...`). The session is closed when the worker ends, rolled back if open.
    An RPC worker's session is on the "request" engine, every other worker's on the "background" one
    (their timeouts differ); `engine` is the background one."""

    def __init__(self, service: str):
        self.service = service
        self.engine: Engine | None = None
        self.request_engine: Engine | None = None
        self.sessionmaker: sessionmaker | None = None
        self.request_sessionmaker: sessionmaker | None = None
        self.sessions: dict = {}

    def setup(self):
        url = self.container.config.get(DB_URIS_KEY, {}).get(self.service)
        url = url or get_settings().database_url_for(self.service)
        self.engine = make_engine(url, "background")
        self.request_engine = make_engine(url, "request")
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.request_sessionmaker = sessionmaker(bind=self.request_engine, expire_on_commit=False)

    def stop(self):
        for engine in (self.engine, self.request_engine):
            if engine is not None:
                engine.dispose()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx) -> Session:
        from nameko.rpc import Rpc  # every service's `rpc` (common.rpc.Rpc) is one

        is_request = isinstance(worker_ctx.entrypoint, Rpc)
        session = (self.request_sessionmaker if is_request else self.sessionmaker)()
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
