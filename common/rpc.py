"""RPC between the platform's processes: nameko's wire format, with the rules of docs/operations.md
("RPC that tells the truth").

- Every request carries its caller's deadline: the message's `expiration` (the broker drops a request
  nobody took in time) and the `nameko.deadline` header (epoch seconds), which the service checks
  before running it, so a request the caller gave up on never runs later, even when it was stuck in a
  socket buffer or redelivered after a disconnect. The deadline rides in nameko's context, so a call a
  service makes on the caller's behalf inherits it.
- The `rpc-<service>` queue is a quorum queue (it survives the loss of a node) with an explicit delivery
  limit, and RPC is consumed on its own connection (common.consumers.RpcQueueConsumer).
- A reply goes to the caller's own transient reply queue without a publisher confirm (a lost reply and
  an unconfirmed one end the same way: the caller's timeout). A reply that cannot be sent because the
  broker went away is logged and dropped; it never takes the service down.
- A request that failed because the service's database is unreachable (common.transient) answers
  `DatabaseUnavailable` (the gateway: 503 with Retry-After, the outcome unknown), not the driver's error;
  the outage is logged once, at its start.
Every service uses this `rpc` and `RpcProxy` (tests/unit/test_lint.py checks none uses nameko's, which
would start a second consumer on the same queue).
"""
from __future__ import annotations

import inspect
import logging
import time
import uuid

import eventlet
from kombu import Queue
from nameko import rpc as nameko_rpc
from nameko.amqp.publish import Publisher, UndeliverableMessage
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, DEFAULT_SERIALIZER, LOGIN_METHOD_CONFIG_KEY, SERIALIZER_CONFIG_KEY,
)
from nameko.exceptions import RpcTimeout, UnknownService

from common import caller_signature
from common.config import get_settings
from common.consumers import ResilientQueueConsumer, RpcQueueConsumer
from common.errors import Forbidden
from common.transient import DatabaseUnavailable, is_transient, quiet_transient_worker_errors

_log = logging.getLogger(__name__)

DEADLINE_KEY = "deadline"  # in nameko's context; on the wire the header `nameko.deadline`
RPC_DELIVERY_LIMIT = 5  # a request that crashes its consumer this often is dropped (the caller timed out long ago)
DEFAULT_CALL_TIMEOUT = 10.0  # a service's own calls to another service
_DATABASE_DOWN: dict[str, float] = {}  # service -> when its requests began to find the database unreachable


def rpc_queue_arguments() -> dict:
    return {"x-queue-type": "quorum", "x-delivery-limit": RPC_DELIVERY_LIMIT}


def expired(context_data: dict, now: float | None = None) -> bool:
    deadline = context_data.get(DEADLINE_KEY)
    try:
        return deadline is not None and float(deadline) < (time.time() if now is None else now)
    except (TypeError, ValueError):
        return False


class _ReplyPublisher(Publisher):
    use_confirms = False
    # one quick reconnect for a pooled connection the broker closed; never a long wait for a broker that is gone
    retry_policy = {"max_retries": 1, "interval_start": 0.1, "interval_step": 0.5, "interval_max": 0.5}


class _Responder(nameko_rpc.Responder):
    publisher_cls = _ReplyPublisher


class RpcConsumer(nameko_rpc.RpcConsumer):
    queue_consumer = RpcQueueConsumer()

    def setup(self):
        super().setup()
        self.queue = Queue(self.queue.name, exchange=self.queue.exchange, routing_key=self.queue.routing_key,
                           durable=True, queue_arguments=rpc_queue_arguments())

    def handle_result(self, message, result, exc_info):
        # nameko's RpcConsumer.handle_result, with the responder above and no exception out of it
        config = self.container.config
        try:
            responder = _Responder(
                config[AMQP_URI_CONFIG_KEY], nameko_rpc.get_rpc_exchange(config),
                config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER), message,
                ssl=config.get(AMQP_SSL_CONFIG_KEY), login_method=config.get(LOGIN_METHOD_CONFIG_KEY))
            result, exc_info = responder.send_response(result, exc_info)
        except Exception as exc:  # the broker went away: the caller times out, the service goes on
            _log.warning("reply to %s dropped: %s: %s", message.delivery_info.get("routing_key"),
                         type(exc).__name__, exc)
        self.queue_consumer.ack_message(message)
        return result, exc_info


class Rpc(nameko_rpc.Rpc):
    rpc_consumer = RpcConsumer()

    def setup(self):
        super().setup()
        quiet_transient_worker_errors()

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        if exc_info is not None and is_transient(exc_info[1]):
            self._database_gone(exc_info[1])
            error = DatabaseUnavailable(f"{self.container.service_name}: its database is unreachable")
            exc_info = (DatabaseUnavailable, error, exc_info[2])
        elif exc_info is None and _DATABASE_DOWN.pop(self.container.service_name, None) is not None:
            _log.warning("%s: the database answers again", self.container.service_name)
        return super().handle_result(message, worker_ctx, result, exc_info)

    def _database_gone(self, exc: BaseException) -> None:
        if self.container.service_name not in _DATABASE_DOWN:
            _DATABASE_DOWN[self.container.service_name] = time.monotonic()
            _log.warning("%s: the database is unreachable (%s); requests answer DatabaseUnavailable until it "
                         "is back", self.container.service_name, type(exc).__name__)

    def handle_message(self, body, message):
        context = self.unpack_message_headers(message)
        if expired(context):
            _log.warning("dropped %s: its caller's deadline passed %.1fs ago",
                         message.delivery_info.get("routing_key"), time.time() - float(context[DEADLINE_KEY]))
            self.rpc_consumer.queue_consumer.ack_message(message)
            return
        if self._names_an_actor(body) and not self._signed_by_gateway(context, message):
            _log.warning("refused %s: it names an actor without the gateway's signature",
                         message.delivery_info.get("routing_key"))
            error = Forbidden("unsigned_caller", "درخواست از دروازهٔ سامانه نیامده است.",
                                   "a request naming an actor must be signed by the gateway")
            self.rpc_consumer.handle_result(message, None, (Forbidden, error, None))
            return
        super().handle_message(body, message)

    def _names_an_actor(self, body) -> bool:
        """Does this request act for someone (a non-empty `actor` argument)?"""
        if not isinstance(body, dict):
            return False  # malformed: nameko answers it
        try:
            method = getattr(self.container.service_cls, self.method_name)
            bound = inspect.signature(method).bind(None, *body.get("args", ()), **body.get("kwargs", {}))
        except (TypeError, AttributeError):
            return False  # a wrong call: nameko answers it with IncorrectSignature
        return bool(bound.arguments.get("actor"))

    def _signed_by_gateway(self, context: dict, message) -> bool:
        return caller_signature.verify(get_settings().caller_verify_keys, message.delivery_info.get("routing_key", ""),
                                       context.get(DEADLINE_KEY), message.body, context.get(caller_signature.HEADER))


rpc = Rpc.decorator


# a service's calls to another service ---------------------------------------------------------------
class _ReplyListener(nameko_rpc.ReplyListener):
    queue_consumer = ResilientQueueConsumer()

    def setup(self):
        super().setup()
        # nameko declares the reply queue durable (kombu's default): a durable classic queue lives on one
        # node, and once that node is lost every declaration of it elsewhere is refused ("home node ... is
        # down") until the node returns, which stopped the event consumers sharing this connection for the
        # whole outage. A transient one is deleted with its node and declared anew wherever we reconnect.
        self.queue = Queue(self.queue.name, exchange=self.queue.exchange, routing_key=self.queue.routing_key,
                           durable=False, queue_arguments=self.queue.queue_arguments)


class _Reply(nameko_rpc.RpcReply):
    def __init__(self, reply_event, timeout: float, target: str):
        super().__init__(reply_event)
        self.timeout, self.target = timeout, target

    def result(self):
        if self.resp_body is None:
            try:
                with eventlet.Timeout(self.timeout):
                    self.resp_body = self.reply_event.wait()
            except eventlet.Timeout:
                raise RpcTimeout(f"{self.target}: no reply within {self.timeout:.1f}s") from None
        return super().result()


class _MethodProxy(nameko_rpc.MethodProxy):
    def __init__(self, *args, timeout: float = DEFAULT_CALL_TIMEOUT, **options):
        self.timeout = timeout
        super().__init__(*args, **options)

    def _call(self, *args, **kwargs):
        # nameko's MethodProxy._call, with the deadline of the rules above
        deadline = time.time() + self.timeout
        inherited = self.worker_ctx.context_data.get(DEADLINE_KEY)
        if inherited is not None:
            deadline = min(deadline, float(inherited))
        headers = self.get_message_headers(self.worker_ctx)
        headers[f"{self.header_prefix}.{DEADLINE_KEY}"] = deadline
        correlation_id = str(uuid.uuid4())
        reply_event = self.reply_listener.get_reply_event(correlation_id)
        try:
            self.publisher.publish(
                {"args": args, "kwargs": kwargs}, exchange=nameko_rpc.get_rpc_exchange(self.container.config),
                routing_key=f"{self.service_name}.{self.method_name}", mandatory=True,
                reply_to=self.reply_listener.routing_key, correlation_id=correlation_id, extra_headers=headers,
                expiration=max(0.001, deadline - time.time()), confirm_timeout=max(0.5, deadline - time.time()))
        except UndeliverableMessage:
            raise UnknownService(self.service_name) from None
        return _Reply(reply_event, max(0.0, deadline - time.time()), f"{self.service_name}.{self.method_name}")


class _ServiceProxy(nameko_rpc.ServiceProxy):
    def __getattr__(self, name):
        return _MethodProxy(self.worker_ctx, self.service_name, name, self.reply_listener, **self.options)


class RpcProxy(nameko_rpc.RpcProxy):
    """nameko's RpcProxy with a timeout per call (`timeout=`, default 10 s) and the deadline rules."""

    rpc_reply_listener = _ReplyListener()

    def get_dependency(self, worker_ctx):
        return _ServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener, **self.options)
