"""AMQP_URI as a list of a cluster's nodes (`amqp://…/vh;amqp://…/vh`, which kombu tries in turn), and what
the loss of one node must not do: tests/faults/test_node_loss.py runs it on a real cluster."""
import pytest

from common.config import amqp_uris
from common.consumers import redacted
from scripts.rabbitmq_policies import management_url_for, vhost_of

NODES = "amqp://welfare:s3cret@rabbit-0:5672/prod; amqp://welfare:s3cret@rabbit-1:5672/prod;amqp://welfare:s3cret@rabbit-2:5672/prod"


def test_a_list_of_nodes_is_split_on_semicolons():
    assert amqp_uris(NODES) == ["amqp://welfare:s3cret@rabbit-0:5672/prod", "amqp://welfare:s3cret@rabbit-1:5672/prod",
                                "amqp://welfare:s3cret@rabbit-2:5672/prod"]
    assert amqp_uris("amqp://guest:guest@localhost:5672/") == ["amqp://guest:guest@localhost:5672/"]


def test_no_password_of_any_node_reaches_the_logs():
    shown = redacted(NODES)
    assert "s3cret" not in shown and shown.count("rabbit-") == 3


def test_the_policies_find_the_vhost_and_a_management_api_in_a_list():
    assert vhost_of(NODES) == "prod"
    assert management_url_for(NODES) == "http://welfare:s3cret@rabbit-0:15672"
    assert vhost_of("amqp://guest:guest@localhost:5672/") == "/"


def test_every_kombu_connection_of_the_platform_knows_every_node():
    from kombu import Connection

    conn = Connection(NODES)
    assert [c.strip() for c in conn.alt] == amqp_uris(NODES) and conn.hostname == "rabbit-0"


class _Container:  # what nameko's extensions need of a container here (weakly referenced)
    def __init__(self, **attributes):
        self.__dict__.update(attributes)


def test_a_services_reply_queue_is_transient():
    """A durable classic queue lives on one node: lost with it, it cannot be declared anywhere else until the
    node returns, which stopped the event consumers sharing its connection (found by test_node_loss)."""
    from common.rpc import _ReplyListener

    container = _Container(service_name="transparency", config={"AMQP_URI": NODES, "max_workers": 1},
                           shared_extensions={})
    listener = _ReplyListener().bind(container)
    listener.queue_consumer.setup = lambda: None
    listener.setup()
    assert listener.queue.durable is False and listener.queue.name.startswith("rpc.reply-transparency-")
    assert listener.queue.queue_arguments["x-expires"] > 0


def test_losing_the_gateways_own_connection_does_not_open_a_services_circuit():
    from gateway.rpc import Breaker, _LineLost, _Unconfirmed

    breaker = Breaker("complaints", fail_max=2, reset_timeout=30)

    def lost():
        raise _LineLost("broker connection lost while waiting: ConnectionResetError")

    for _ in range(8):  # every thread of the gateway waiting when its node went
        with pytest.raises(_LineLost):
            breaker.call(lost)
    assert breaker.current_state == "closed"

    def unconfirmed():
        raise _Unconfirmed("no publisher confirm within 3.0s")

    for _ in range(2):
        with pytest.raises(_Unconfirmed):
            breaker.call(unconfirmed)
    assert breaker.current_state == "open"


def test_a_call_caught_by_the_loss_of_the_gateways_node_is_retried_soon():
    from gateway.rpc import RpcClient, ServiceUnavailable, _LineLost

    rpc = RpcClient({"AMQP_URI": NODES}, timeout=1, fail_max=2)

    def lost(*args, **kwargs):
        raise _LineLost("broker connection lost while waiting: ConnectionResetError")

    rpc._call = lost
    for _ in range(3):
        with pytest.raises(ServiceUnavailable) as caught:
            rpc.call("complaints", "register_case")
        assert caught.value.outcome_unknown and caught.value.retry_after == 1
    assert rpc.breaker("complaints").current_state == "closed"
