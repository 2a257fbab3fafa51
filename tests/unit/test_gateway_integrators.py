"""The integrators' routes in the gateway, in process: a management API that is away is a 503 to try again
(nothing was registered: the service's transaction rolled back), never a 500."""
from __future__ import annotations

from nameko.exceptions import RemoteError

from common.config import get_settings
from gateway import auth
from gateway.app import create_app
from gateway.rpc import RpcClient

ADMIN = {"kind": "staff", "id": "a1", "role": "admin", "unit": "hq", "username": "admin", "credentials_version": 1}
BODY = {"name": "moe-monitoring", "title": "سامانهٔ پایش وزارت",
        "event_types": ["ir.behzisti.complaints.statistics.published.v1"]}


class AwayBroker(RpcClient):
    def __init__(self):
        super().__init__(config={}, timeout=1)

    def call(self, service, method, *args, **kwargs):
        if method == "principal":
            return ADMIN
        assert (service, method) == ("notifications", "register_integrator")
        raise RemoteError("BrokerAdminUnavailable", "PUT queues/%2F/integrator.moe-monitoring: ConnectionError")


def test_a_management_api_that_is_away_is_a_503_to_try_again():
    settings = get_settings()
    token, _ = auth.access_token({"id": "a1", "credentials_version": 1}, settings)
    client = create_app(AwayBroker(), settings).test_client()
    response = client.post("/api/v1/staff/integrators", json=BODY, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503, response.get_json()
    assert response.headers["Content-Type"] == "application/problem+json" and response.headers["Retry-After"]
