"""The payment gateway brings the donor's browser back with a form post: a browser is sent on to the
receipt page, an API client gets the receipt as JSON (the service's answer is stubbed: the route's own
choice is what is tested; tests/e2e/test_donation_journey.py covers the callback itself)."""
from __future__ import annotations

from common.config import Settings
from gateway.app import create_app
from gateway.rpc import RpcClient

FIELDS = {"token": "9c1d0e6f2a3b4c5d", "status": "OK", "reference": "118273645501", "amount": "5000000",
          "order_id": "405318920477", "signature": "ab" * 32}
DONATION = "0b6f3c2e-1d4a-4f5e-9a8b-7c6d5e4f3a2b"


class Receipts(RpcClient):
    def __init__(self):
        super().__init__(config={}, timeout=1)
        self.calls = []

    def call(self, service, method, *args, **kwargs):
        self.calls.append((service, method))
        return {"id": DONATION, "status": "paid"}


def test_a_browser_is_sent_on_to_the_receipt_page_and_an_api_client_gets_json():
    rpc = Receipts()
    client = create_app(rpc, Settings(rate_limits_enabled=False)).test_client()
    browser = client.post("/api/v1/donations/callback", data=FIELDS,
                          headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
    assert browser.status_code == 303
    assert browser.headers["Location"] == f"/web/donate/receipt.html?id={DONATION}"
    api = client.post("/api/v1/donations/callback", data=FIELDS, headers={"Accept": "*/*"})
    assert api.status_code == 200 and api.get_json()["id"] == DONATION
    assert rpc.calls == [("payments", "donation_callback")] * 2
