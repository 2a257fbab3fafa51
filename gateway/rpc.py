"""RPC from the threaded gateway, speaking nameko's wire format (docs/operations.md, "RPC that tells the
truth").

Each gunicorn thread keeps one broker connection with one channel in confirm mode and one exclusive
reply queue, reused for every call (a reply that comes after its caller gave up is recognised by its
correlation id and dropped). A call:
- is published with `mandatory` (no queue: the service is not running, 503 at once), a publisher
  confirm that must come within `confirm_timeout` (a broker under a memory or disk alarm stops
  confirming: 503, not a frozen thread), and the caller's deadline as the message's `expiration` and
  its `nameko.deadline` header (common/rpc.py): a request given up on never runs later;
- waits for its reply until the deadline (504).
Broker errors are 503 with Retry-After; `outcome_unknown` says whether the request may have reached
the service (the gateway then tells the client to retry with the same Idempotency-Key). A broken
connection is dropped and made again on the thread's next call; an outage is logged once.

A memory or disk alarm (docs/operations.md, "Broker faults"): a watch connection (_BrokerWatch) learns
of it within a second from the broker's connection.blocked, and of its end from connection.unblocked.
Meanwhile every call is refused at once (503, nothing done), callers waiting for a reply the blocked
services cannot send are answered at once (503, outcome unknown), /readyz says "blocked" and the gauge
broker_blocked{process="gateway"} reads 1 (alert BrokerBlocked); calls go out again as soon as the
broker says the alarm is over.

Every service also has a circuit breaker: after `fail_max` consecutive failures calls to it fail at
once for `reset_timeout` seconds. A client's mistake (InvalidRequest, NotFound, …) is an answer, not
a failure; a broker alarm or nack is not the service's failure either.
"""
from __future__ import annotations

import logging
import select
import socket
import threading
import time
import uuid

import amqp
from kombu import Connection
from kombu.serialization import dumps, loads
from nameko.exceptions import deserialize

from common import caller_signature
from common.config import get_settings
from common.logs import request_id_var
from common.metrics import BROKER_BLOCKED
from common.ops_server import PROBE_EXCHANGE
from common.rpc import DEADLINE_KEY

_log = logging.getLogger(__name__)

RPC_EXCHANGE = "nameko-rpc"
HEADER_PREFIX = "nameko"
WAIT_SLICE = 0.25  # seconds: a caller waiting for its reply looks at the broker's state this often
WATCH_INTERVAL = 1.0  # seconds between two publishes of the broker watch
WATCH_KEY = "welfare.broker-watch"  # nothing is bound with it: PROBE_EXCHANGE drops the message


class ServiceUnavailable(Exception):
    def __init__(self, service: str, reason: str, retry_after: int = 5, outcome_unknown: bool = False):
        super().__init__(f"{service}: {reason}")
        self.service, self.reason, self.retry_after = service, reason, retry_after
        self.outcome_unknown = outcome_unknown


class ServiceTimeout(Exception):
    outcome_unknown = True

    def __init__(self, service: str, timeout: float):
        super().__init__(f"{service} did not answer within {timeout:.1f}s")
        self.service, self.timeout = service, timeout


class _NotDelivered(Exception):
    """The broker could not take the request: nothing reached the service."""


class _Unconfirmed(Exception):
    """The broker did not confirm the request in time: it may still reach the service."""


class _Refused(_NotDelivered):
    """The broker refuses publishes (a memory or disk alarm): nothing was sent. Not the service's failure."""
    broker_alarm = True


class _Nacked(_NotDelivered):
    """The broker took the request and said it could not keep it (a nack: e.g. a quorum queue between two
    leaders after the node that led it was lost). Nothing will run; the broker's fault, not the service's, so
    it does not open the service's circuit: the client is asked to retry in a second or two, by which time a
    new leader has usually been elected."""
    broker_fault = True
    retry_after = 2


class _LineLost(_Unconfirmed):
    """The thread's own broker connection broke while publishing or waiting (its node stopped or was lost):
    the request may have reached the service. Not the service's failure: the next call makes a new line,
    on the next node of AMQP_URI's list if need be. Counted by no circuit, or the loss of one node (every
    thread waiting at once) would open the circuit of a healthy service."""
    line_lost = True


class _Abandoned(_Unconfirmed):
    """A broker alarm holds the request up (its publish unconfirmed, or the service's reply): the caller is
    answered now, and the request may have run (or may run once the alarm clears, within its deadline).
    Not the service's failure."""
    broker_alarm = True


def _is_an_answer(exc: BaseException) -> bool:
    return getattr(exc, "expected", False)


class CircuitOpen(Exception):
    pass


class Breaker:
    """A service's circuit: after `fail_max` failures in a row calls fail at once (CircuitOpen) for
    `reset_timeout` seconds, then one trial call goes through (half-open): its success closes the circuit,
    its failure opens it again. An answer (a client's mistake) is a success; a refusal because of the
    broker's alarm, the broker's nack (_Nacked) and the loss of the thread's own connection (_LineLost)
    count as neither (they say nothing of the service).

    The call runs outside the breaker's lock. pybreaker's CircuitBreaker.call holds its lock around the
    call, which let one thread at a time call a service: a single call waiting out its deadline (a reply
    held up by a broker alarm) held every other thread of the gateway up behind it."""

    def __init__(self, name: str, fail_max: int, reset_timeout: float, clock=time.monotonic):
        self.name, self.fail_max, self.reset_timeout, self.clock = name, fail_max, reset_timeout, clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False  # the half-open circuit's one trial call is running

    @property
    def current_state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "open" if self.clock() - self._opened_at < self.reset_timeout else "half-open"

    def call(self, func, *args, **kwargs):
        with self._lock:
            trial = self._opened_at is not None
            if trial and (self._trial or self.clock() - self._opened_at < self.reset_timeout):
                raise CircuitOpen(self.name)
            self._trial = self._trial or trial
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            neither = any(getattr(exc, flag, False) for flag in ("broker_alarm", "broker_fault", "line_lost"))
            self._record(trial, None if neither else not _is_an_answer(exc))
            raise
        self._record(trial, False)
        return result

    def _record(self, trial: bool, failed: bool | None) -> None:
        with self._lock:
            if trial:
                self._trial = False
            if failed is None:
                return
            if not failed:
                self._failures, self._opened_at = 0, None
                return
            self._failures += 1
            if trial or self._failures >= self.fail_max:
                self._opened_at = self.clock()


class BrokerState:
    """What the process knows of its broker: an outage (logged once at each end) and resource alarms
    (connection.blocked), shared by every thread and shown by /readyz and the broker_blocked gauge.

    Blocked: calls are refused at once until `blocked_hold` seconds after the last sign of an alarm (the
    broker watch renews it while the broker says the alarm lasts), and the gauge reads 1 from the first
    sign until the broker says it is over (connection.unblocked) or confirms a request again."""

    def __init__(self, blocked_hold: float = 5.0):
        self.blocked_hold = blocked_hold
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._blocked_until = 0.0
        self.blocked_since: float | None = None

    def failed(self, reason: str) -> None:
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = time.monotonic()
        if first:
            _log.warning("broker unreachable (%s); each thread reconnects on its next call", reason)

    def succeeded(self) -> None:
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is not None:
            _log.warning("broker reachable again after %.1fs", time.monotonic() - since)

    def blocked(self, reason: str = "") -> None:
        with self._lock:
            first = self.blocked_since is None
            if first:
                self.blocked_since = time.monotonic()
            self._blocked_until = time.monotonic() + self.blocked_hold
        BROKER_BLOCKED.labels("gateway").set(1)
        if first:
            _log.warning("the broker refuses publishes (%s); answering 503 at once while it lasts",
                         reason or "resource alarm")

    def unblocked(self) -> None:
        with self._lock:
            since, self.blocked_since = self.blocked_since, None
            self._blocked_until = 0.0
        BROKER_BLOCKED.labels("gateway").set(0)
        if since is not None:
            _log.warning("the broker takes publishes again after %.1fs", time.monotonic() - since)

    def is_blocked(self) -> bool:
        return time.monotonic() < self._blocked_until

    def is_down(self) -> bool:
        return self._down_since is not None


class _BrokerWatch:
    """A connection of the process's own that publishes an empty message every `interval` seconds and
    reads what the broker sends meanwhile. Under a memory or disk alarm the broker blocks a connection at
    its first publish and says so (connection.blocked), and says when the alarm is over
    (connection.unblocked). So the process knows of an alarm within `interval`, even when none of its
    threads publishes (each waiting for a reply that the blocked services cannot send), and knows at once
    when it is over. An empty message has no body for the blocked broker to leave unread: it is taken
    whole and confirmed, so the watch never waits out a confirm. Broker outages are the calls' business:
    the watch only reconnects, with back-off."""

    def __init__(self, amqp_uri: str, state: BrokerState, connect_timeout: float, confirm_timeout: float,
                 interval: float = WATCH_INTERVAL):
        self.amqp_uri, self.state, self.interval = amqp_uri, state, interval
        self.connect_timeout, self.confirm_timeout = connect_timeout, confirm_timeout
        self.alarm: str | None = None  # what connection.blocked said, until connection.unblocked
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="broker-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        backoff = self.interval
        while not self._stopped.is_set():
            conn = None
            try:
                conn = Connection(self.amqp_uri, connect_timeout=self.connect_timeout, heartbeat=0)
                conn.ensure_connection(max_retries=max(1, len(conn.alt)))
                raw = conn.connection
                raw.on_blocked, raw.on_unblocked = self._on_blocked, self._on_unblocked
                channel = conn.channel()
                channel.confirm_select()
                backoff = self.interval
                while not self._stopped.is_set():
                    if self.alarm is None:
                        channel.basic_publish_confirm(amqp.Message(b""), exchange=PROBE_EXCHANGE, routing_key=WATCH_KEY,
                                                      confirm_timeout=self.confirm_timeout)
                    else:
                        self.state.blocked(self.alarm)  # the broker has not said it is over
                    self._read(raw, self.interval)
            except Exception as exc:  # the broker went away or did not confirm: connect again
                _log.debug("broker watch: %s: %s", type(exc).__name__, exc)
            finally:
                self.alarm = None
                if conn is not None:
                    try:
                        conn.collect()  # no closing handshake a blocked broker may never answer
                    except Exception:  # already broken
                        pass
            self._stopped.wait(backoff)
            backoff = min(backoff * 2, 10.0)

    def _read(self, raw, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopped.is_set() and (remaining := deadline - time.monotonic()) > 0:
            try:
                raw.drain_events(timeout=remaining)
            except socket.timeout:
                return

    def _on_blocked(self, reason=None) -> None:
        self.alarm = str(reason or "resource alarm")
        self.state.blocked(self.alarm)

    def _on_unblocked(self) -> None:
        self.alarm = None
        self.state.unblocked()


class _Line:
    """One thread's connection, confirm channel and reply queue."""

    def __init__(self, amqp_uri: str, connect_timeout: float, state: BrokerState):
        self.state = state
        self.conn = Connection(amqp_uri, connect_timeout=connect_timeout, heartbeat=0)
        self.conn.ensure_connection(max_retries=max(1, len(self.conn.alt)))  # each host of a list once
        raw = self.conn.connection  # py-amqp's connection
        self.blocked = False  # the broker said connection.blocked (an alarm) to this line
        raw.on_blocked = self._on_blocked
        raw.on_unblocked = state.unblocked
        self.channel = self.conn.channel()
        self.channel.confirm_select()
        self.channel.events["basic_return"].add(self._on_return)
        self.channel.exchange_declare(RPC_EXCHANGE, "topic", durable=True, auto_delete=False)
        self.reply_key = str(uuid.uuid4())
        queue = f"rpc.reply-gateway-{self.reply_key}"
        self.channel.queue_declare(queue, exclusive=True, auto_delete=True)
        self.channel.queue_bind(queue, RPC_EXCHANGE, self.reply_key)
        self.channel.basic_consume(queue, no_ack=True, callback=self._on_reply)
        self.replies: dict[str, amqp.Message] = {}
        self.waiting: set[str] = set()
        self.returned: set[str] = set()

    def check(self) -> None:
        """Read what the broker sent while the line was idle: a stale reply, or the close of a broker that
        went away (which raises here, before anything is published on a dead line)."""
        sock = self.conn.connection.sock
        while select.select([sock], [], [], 0)[0]:
            self.conn.connection.drain_events(timeout=0.1)

    def _on_blocked(self, reason=None) -> None:
        self.blocked = True
        self.state.blocked(str(reason or ""))

    def _on_return(self, exc, exchange, routing_key, message):
        self.returned.add(message.properties.get("correlation_id"))

    def _on_reply(self, message: amqp.Message):
        correlation_id = message.properties.get("correlation_id")
        if correlation_id in self.waiting:
            self.replies[correlation_id] = message
        # else: the reply to a call already given up on

    def publish(self, service: str, method: str, args, kwargs, deadline: float, confirm_timeout: float) -> str:
        content_type, encoding, body = dumps({"args": args, "kwargs": kwargs}, serializer="json")
        correlation_id = str(uuid.uuid4())
        headers = {f"{HEADER_PREFIX}.{DEADLINE_KEY}": deadline,
                   f"{HEADER_PREFIX}.{caller_signature.HEADER}": caller_signature.sign(
                       get_settings().caller_signing_key, f"{service}.{method}", deadline, body)}
        request_id = request_id_var.get()
        if request_id:
            headers[f"{HEADER_PREFIX}.request_id"] = request_id
        ttl_ms = max(1, int((deadline - time.time()) * 1000))
        message = amqp.Message(body, content_type=content_type, content_encoding=encoding, delivery_mode=2,
                               correlation_id=correlation_id, reply_to=self.reply_key, expiration=str(ttl_ms),
                               application_headers=headers)
        self.waiting.add(correlation_id)
        try:
            self.channel.basic_publish_confirm(message, exchange=RPC_EXCHANGE, routing_key=f"{service}.{method}",
                                               mandatory=True, confirm_timeout=confirm_timeout)
        except socket.timeout:
            self.waiting.discard(correlation_id)
            raise _Unconfirmed(f"no publisher confirm within {confirm_timeout:.1f}s") from None
        except amqp.exceptions.MessageNacked:
            self.waiting.discard(correlation_id)
            raise _Nacked("the broker refused the request (nack)") from None
        if correlation_id in self.returned:
            self.returned.discard(correlation_id)
            self.waiting.discard(correlation_id)
            raise _NotDelivered("no queue for it: no instance of the service has ever run")
        return correlation_id

    def wait(self, correlation_id: str, deadline: float):
        try:
            while correlation_id not in self.replies:
                remaining = deadline - time.time()
                if remaining <= 0:
                    raise socket.timeout()
                if self.state.is_blocked():  # the service's reply is held up until the alarm clears
                    raise _Abandoned("the broker refuses publishes (a memory or disk alarm), the service's reply "
                                     "with them")
                try:
                    self.conn.connection.drain_events(timeout=min(remaining, WAIT_SLICE))
                except socket.timeout:
                    continue  # a slice: look at the broker's state again
            message = self.replies.pop(correlation_id)
        finally:
            self.waiting.discard(correlation_id)
        body = loads(message.body, message.content_type, message.content_encoding or "utf-8",
                     accept={"application/json"})
        if body.get("error"):
            raise deserialize(body["error"])
        return body.get("result")

    def close(self) -> None:
        try:
            self.conn.collect()  # drop the socket without a closing handshake the broker may never answer
        except Exception:  # already broken
            pass


class RpcClient:
    def __init__(self, config: dict | None = None, timeout: float | None = None,
                 fail_max: int = 5, reset_timeout: float = 10.0, confirm_timeout: float | None = None):
        settings = get_settings()
        self.config = config or settings.nameko_config()
        self.amqp_uri = self.config["AMQP_URI"]
        self.timeout = timeout or settings.rpc_timeout
        self.confirm_timeout = min(confirm_timeout or settings.rpc_confirm_timeout, self.timeout)
        self.connect_timeout = min(settings.rpc_connect_timeout, self.timeout)
        self.fail_max, self.reset_timeout = fail_max, reset_timeout
        self.state = BrokerState(blocked_hold=settings.rpc_blocked_hold_seconds)
        self._local = threading.local()
        self._lines: list[_Line] = []
        self._breakers: dict[str, Breaker] = {}
        self._lock = threading.Lock()
        self._watch: _BrokerWatch | None = None  # started with the first call

    def breaker(self, service: str) -> Breaker:
        with self._lock:
            if service not in self._breakers:
                self._breakers[service] = Breaker(service, self.fail_max, self.reset_timeout)
            return self._breakers[service]

    def _watching(self) -> None:
        if self._watch is None:
            with self._lock:
                if self._watch is None:
                    self._watch = _BrokerWatch(self.amqp_uri, self.state, self.connect_timeout, self.confirm_timeout)

    # the thread's line ----------------------------------------------------------------------------
    def _line(self) -> _Line:
        line = getattr(self._local, "line", None)
        if line is None:
            try:
                line = _Line(self.amqp_uri, self.connect_timeout, self.state)
            except Exception as exc:
                self.state.failed(f"{type(exc).__name__}: {exc}")
                raise _NotDelivered(f"broker unreachable: {type(exc).__name__}") from None
            self._local.line = line
            with self._lock:
                self._lines.append(line)
        return line

    def _drop_line(self) -> None:
        line = getattr(self._local, "line", None)
        self._local.line = None
        if line is not None:
            line.close()
            with self._lock:
                if line in self._lines:
                    self._lines.remove(line)

    # calls ------------------------------------------------------------------------------------------
    def send(self, service: str, method: str, *args, **kwargs) -> tuple[str, float]:
        """Publish a request; (correlation id, deadline) to pass to `receive`."""
        self._watching()
        if self.state.is_blocked():
            raise _Refused("the broker refuses publishes (a memory or disk alarm)")
        deadline = time.time() + self.timeout
        line = self._line()
        try:
            line.check()
        except Exception as exc:  # it died while idle (a broker restart): nothing was sent, so a new one
            self._drop_line()
            self.state.failed(f"{type(exc).__name__}: {exc}")
            line = self._line()
        if self.state.is_blocked():  # the line has just read connection.blocked
            raise _Refused("the broker refuses publishes (a memory or disk alarm)")
        try:
            correlation_id = line.publish(service, method, args, kwargs, deadline, self.confirm_timeout)
        except _Unconfirmed as exc:
            alarm = line.blocked
            self._drop_line()  # its channel still owes a confirm
            self.state.blocked(str(exc))
            if alarm:
                raise _Abandoned(f"{exc}: the broker refuses publishes (a memory or disk alarm)") from None
            raise
        except _NotDelivered:
            raise
        except Exception as exc:  # the connection broke while publishing: it may have gone out
            self._drop_line()
            self.state.failed(f"{type(exc).__name__}: {exc}")
            raise _LineLost(f"broker connection lost while publishing: {type(exc).__name__}") from None
        self.state.succeeded()
        if self.state.blocked_since is not None:
            self.state.unblocked()  # it confirmed a request: the broker takes publishes again
        return correlation_id, deadline

    def receive(self, correlation_id: str, deadline: float):
        line = self._line()
        try:
            return line.wait(correlation_id, deadline)
        except socket.timeout:
            raise
        except (ConnectionError, OSError, amqp.exceptions.AMQPError) as exc:
            self._drop_line()
            self.state.failed(f"{type(exc).__name__}: {exc}")
            raise _LineLost(f"broker connection lost while waiting: {type(exc).__name__}") from None

    def _call(self, service: str, method: str, *args, **kwargs):
        correlation_id, deadline = self.send(service, method, *args, **kwargs)
        return self.receive(correlation_id, deadline)

    def call(self, service: str, method: str, *args, **kwargs):
        return self._through_breaker(self._call, service, method, *args, **kwargs)

    def cast(self, service: str, method: str, *args, **kwargs) -> None:
        """Send a request without waiting for its answer (its reply, when it comes, is dropped): for what the
        caller must not wait on, such as a one-time code whose sending must take the same time as none."""
        correlation_id, _ = self._through_breaker(self.send, service, method, *args, **kwargs)
        line = getattr(self._local, "line", None)
        if line is not None:
            line.waiting.discard(correlation_id)  # its reply is dropped when it comes, not kept

    def _through_breaker(self, func, service: str, method: str, *args, **kwargs):
        breaker = self.breaker(service)
        try:
            return breaker.call(func, service, method, *args, **kwargs)
        except CircuitOpen:
            raise ServiceUnavailable(service, "circuit open after repeated failures",
                                     retry_after=int(self.reset_timeout)) from None
        except _NotDelivered as exc:
            raise ServiceUnavailable(service, str(exc), retry_after=getattr(exc, "retry_after", 5)) from None
        except _Unconfirmed as exc:
            # a lost line is made again at once (on another node of the list): the retry need not wait long
            raise ServiceUnavailable(service, str(exc), retry_after=1 if getattr(exc, "line_lost", False) else 5,
                                     outcome_unknown=True) from None
        except socket.timeout:
            raise ServiceTimeout(service, self.timeout) from None

    def call_each(self, calls: dict[str, tuple[str, str]], timeout: float) -> dict[str, str]:
        """Ask several services at once (readiness): {name: (service, method)} -> {name: "ok" | why not}."""
        results, pending = {}, {}
        for name, (service, method) in calls.items():
            try:
                correlation_id, deadline = self.send(service, method)
                pending[name] = (correlation_id, min(deadline, time.time() + timeout))
            except (_NotDelivered, _Unconfirmed) as exc:
                results[name] = f"unavailable: {exc}"
        for name, (correlation_id, deadline) in pending.items():
            try:
                self.receive(correlation_id, deadline)
                results[name] = "ok"
            except socket.timeout:
                results[name] = f"no answer within {timeout:.0f}s"
            except Exception as exc:
                results[name] = f"unavailable: {type(exc).__name__}"
        return results

    def close(self):
        with self._lock:
            lines, self._lines = self._lines, []
            if self._watch is not None:
                self._watch.stop()
        for line in lines:
            line.close()
