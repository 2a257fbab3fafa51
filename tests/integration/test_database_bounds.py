"""Every database connection has bounds (common/db.py): a statement or a lock wait longer than its kind
of work allows is cancelled by the server, and the error is transient (an event waits, a request is a
503), never a hang. On the real PostgreSQL."""
import threading

import pytest
import sqlalchemy as sa
from nameko.testing.services import entrypoint_waiter
from nameko.timer import timer

from common.config import get_settings
from common.db import Database, connect, make_engine
from common.rpc import rpc
from common.transient import is_transient
from gateway.rpc import RpcClient
from tests.helpers import TEST_RPC_SECONDS


class Bounds:
    name = "bounds"
    db = Database("complaints")
    seen: dict = {}

    @rpc
    def timeouts(self):
        return self._show()

    @timer(interval=0.05)
    def tick(self):
        Bounds.seen.setdefault("timer", self._show())

    def _show(self):
        with self.db.begin():
            return [self.db.execute(sa.text(f"SHOW {name}")).scalar() for name in (
                "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout", "tcp_keepalives_idle")]


def keepalive_shown(url: str) -> str:
    """What the server shows for the keepalives asked for (10 s): over a Unix socket (the embedded server the
    suite runs on) TCP settings do not apply and the server shows 0; over TCP, as in production, 10."""
    host = sa.engine.make_url(url).query.get("host") or sa.engine.make_url(url).host or ""
    return "0" if str(host).startswith("/") else "10"


def test_requests_and_background_work_get_their_own_timeouts(container_factory, service_config, db_urls):
    Bounds.seen = {}
    container = container_factory(Bounds, service_config)
    with entrypoint_waiter(container, "tick"):
        container.start()
    rpc_client = RpcClient({**get_settings().nameko_config(), **service_config}, timeout=TEST_RPC_SECONDS, fail_max=100)
    keepalive = keepalive_shown(db_urls["complaints"])
    try:
        assert rpc_client.call("bounds", "timeouts") == ["15s", "5s", "1min", keepalive]
    finally:
        rpc_client.close()
    assert Bounds.seen["timer"] == ["10min", "1min", "1min", keepalive]


def test_a_statement_over_its_bound_is_cancelled_and_transient(db_urls):
    engine = make_engine(db_urls["complaints"], "request", connect_args={"options": "-c statement_timeout=200"})
    try:
        with pytest.raises(sa.exc.OperationalError) as raised, engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_sleep(5)"))
        assert "statement timeout" in str(raised.value) and is_transient(raised.value)
    finally:
        engine.dispose()


def test_a_lock_held_elsewhere_is_waited_on_only_within_the_lock_timeout(db_urls):
    url = db_urls["complaints"]
    holder = connect(url)
    holder.autocommit = False
    with holder.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS bounds_probe (id int primary key)")
        holder.commit()
        cur.execute("LOCK TABLE bounds_probe IN ACCESS EXCLUSIVE MODE")
    engine = make_engine(url, "request", connect_args={"options": "-c lock_timeout=300"})
    outcome = {}

    def wait_for_the_lock():
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT count(*) FROM bounds_probe"))
        except sa.exc.OperationalError as exc:
            outcome["error"] = exc

    waiter = threading.Thread(target=wait_for_the_lock)
    waiter.start()
    waiter.join(10)
    holder.rollback()
    holder.close()
    engine.dispose()
    assert not waiter.is_alive()
    assert "lock timeout" in str(outcome["error"]) and is_transient(outcome["error"])


def test_the_health_rpc_says_not_ready_while_an_event_consumer_reconnects(container_factory, service_config):
    from nameko.exceptions import RemoteError

    from common.consumers import ResilientQueueConsumer
    from common.events.catalog import CASE_REGISTERED
    from common.events.handler import reliable_event_handler
    from common.health import HealthRpc

    class Watched(HealthRpc):
        name = "watched"
        db = Database("complaints")

        @reliable_event_handler("complaints", CASE_REGISTERED)
        def on_case(self, event):
            return None

    container = container_factory(Watched, service_config)
    container.start()
    rpc_client = RpcClient({**get_settings().nameko_config(), **service_config}, timeout=TEST_RPC_SECONDS, fail_max=100)
    try:
        assert rpc_client.call("watched", "health")["status"] == "ok"
        [events] = [e for e in container.extensions if type(e) is ResilientQueueConsumer]
        events.connected = False  # as while it reconnects after losing the broker (RPC has its own line)
        with pytest.raises(RemoteError) as raised:
            rpc_client.call("watched", "health")
        assert "reconnecting" in str(raised.value)
        events.connected = True
        assert rpc_client.call("watched", "health")["status"] == "ok"
    finally:
        rpc_client.close()


def test_a_transaction_left_idle_by_a_lost_client_ends_and_frees_its_locks(db_urls):
    """The server's side of a partition: the client holding the lock never comes back."""
    url = db_urls["complaints"]
    lost = make_engine(url, "background", connect_args={"options": "-c idle_in_transaction_session_timeout=300"})
    conn = lost.connect()
    conn.execute(sa.text("CREATE TABLE IF NOT EXISTS bounds_idle (id int primary key)"))
    conn.commit()
    conn.execute(sa.text("LOCK TABLE bounds_idle IN ACCESS EXCLUSIVE MODE"))  # then silence
    other = make_engine(url, "request")  # its lock_timeout (5 s) is longer than the idle bound
    try:
        with other.connect() as waiter:
            assert waiter.execute(sa.text("SELECT count(*) FROM bounds_idle")).scalar() == 0
        with pytest.raises(sa.exc.OperationalError) as ended:
            conn.execute(sa.text("SELECT 1"))
        assert "idle-in-transaction timeout" in str(ended.value) or "terminating connection" in str(ended.value)
    finally:
        conn.invalidate()
        lost.dispose()
        other.dispose()
