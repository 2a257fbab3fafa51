"""payments' typed RPC client: each method is the RPC method of the same name in services/payments/service.py
(PaymentsService), with its signature (common/service_client.py; tests/unit/test_service_clients.py keeps the two
equal)."""
from __future__ import annotations

from common.service_client import ServiceClient, remote


class PaymentsClient(ServiceClient):
    service = "payments"

    @remote
    def budget_lines(self) -> list: ...

    @remote
    def enrol(self, actor: dict, payload: dict) -> dict: ...

    @remote
    def set_beneficiary_status(self, actor: dict, national_id: str, payload: dict) -> dict: ...

    @remote
    def beneficiary(self, actor: dict, national_id: str) -> dict: ...

    @remote
    def open_cycle(self, actor: dict, payload: dict, idempotency: dict | None = None) -> dict: ...

    @remote
    def approve_cycle(self, actor: dict, cycle_id: str, idempotency: dict | None = None) -> dict: ...

    @remote
    def cycle(self, actor: dict, cycle_id: str) -> dict: ...

    @remote
    def cycles(
            self, actor: dict, month: str | None = None, line: str | None = None, stage: str | None = None) -> list:
        ...

    @remote
    def failed_payments(self, actor: dict, cycle_id: str | None = None) -> list: ...

    @remote
    def resolve_failed(self, actor: dict, payload: dict, idempotency: dict | None = None) -> dict: ...

    @remote
    def check_ledger(self, actor: dict) -> dict: ...

    @remote
    def start_donation(self, payload: dict, idempotency: dict | None = None) -> dict: ...

    @remote
    def donation_callback(self, fields: dict) -> dict: ...

    @remote
    def donation_receipt(self, donation_id: str) -> dict: ...

    @remote
    def donation_purposes(self) -> dict: ...

    @remote
    def donations_dataset(self) -> dict: ...

    @remote
    def settle_donations(self, actor: dict) -> dict: ...
