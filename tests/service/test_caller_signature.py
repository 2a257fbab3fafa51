"""Only the gateway vouches for an actor (common/caller_signature.py): a request naming an actor that
the gateway did not sign is refused before it runs, whoever on the broker sent it; the gateway's own
requests and requests naming no actor go through."""
import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from common.errors import Forbidden
from tests.helpers import gateway_proxy

ALICE = "6a1f2c3e-0000-4000-8000-000000000001"
ACTOR = {"kind": "staff", "id": ALICE, "role": "county_expert", "unit": "prov.tehran.county.rey"}


def test_a_pod_that_is_not_the_gateway_cannot_act_for_anyone(notifications, service_config):
    with ServiceRpcProxy("notifications", service_config) as pod:
        with pytest.raises(Forbidden) as refused:
            pod.staff_unread_count(ACTOR)
        assert refused.value.code == "unsigned_caller"
        assert pod.health()  # naming no actor needs no signature
    with gateway_proxy("notifications", service_config) as gateway:
        assert gateway.staff_unread_count(ACTOR) == {"unread": 0}
