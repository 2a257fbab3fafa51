"""nameko's RPC entrypoint, replying without waiting for the broker's publisher confirm.

A reply goes to the caller's own transient reply queue; confirming it costs a broker round trip on
every call and protects nothing (a reply lost before the broker has it and a reply lost after end
the same way: the caller's timeout). Requests keep their confirms: nameko needs them to report an
unknown service. Every service uses this `rpc` (tests/unit/test_lint.py checks none uses nameko's,
which would start a second consumer on the same queue)."""
from nameko import rpc as nameko_rpc
from nameko.amqp.publish import Publisher
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, DEFAULT_SERIALIZER, LOGIN_METHOD_CONFIG_KEY, SERIALIZER_CONFIG_KEY,
)


class _ReplyPublisher(Publisher):
    use_confirms = False


class _Responder(nameko_rpc.Responder):
    publisher_cls = _ReplyPublisher


class RpcConsumer(nameko_rpc.RpcConsumer):
    def handle_result(self, message, result, exc_info):
        # nameko's RpcConsumer.handle_result, with the responder above
        config = self.container.config
        responder = _Responder(
            config[AMQP_URI_CONFIG_KEY], nameko_rpc.get_rpc_exchange(config),
            config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER), message,
            ssl=config.get(AMQP_SSL_CONFIG_KEY), login_method=config.get(LOGIN_METHOD_CONFIG_KEY))
        result, exc_info = responder.send_response(result, exc_info)
        self.queue_consumer.ack_message(message)
        return result, exc_info


class Rpc(nameko_rpc.Rpc):
    rpc_consumer = RpcConsumer()


rpc = Rpc.decorator
