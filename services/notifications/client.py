"""notifications' typed RPC client: each method is the RPC method of the same name in services/notifications/service.py
(NotificationsService), with its signature (common/service_client.py; tests/unit/test_service_clients.py keeps the two
equal)."""
from __future__ import annotations

from common.service_client import ServiceClient, remote, sent


class NotificationsClient(ServiceClient):
    service = "notifications"

    @remote
    def record_receipts(self, provider: str, payload: dict) -> dict: ...

    @remote
    def dead_letters(self, actor: dict, limit: int = 20, after: str | None = None) -> dict: ...

    @remote
    def replay(self, actor: dict, ids: list) -> dict: ...

    @remote
    def register_integrator(self, actor: dict, payload: dict) -> dict: ...

    @remote
    def list_integrators(self, actor: dict) -> list: ...

    @remote
    def rotate_integrator(self, actor: dict, integrator_id: str) -> dict: ...

    @remote
    def revoke_integrator(self, actor: dict, integrator_id: str) -> dict: ...

    @remote
    def webhook_dead_letters(self, actor: dict, integrator_id: str) -> list: ...

    @remote
    def replay_webhooks(self, actor: dict, integrator_id: str, payload: dict) -> dict: ...

    @remote
    def templates(self, actor: dict) -> list: ...

    @remote
    def preview(self, actor: dict, name: str, values: dict | None = None) -> dict: ...

    @sent
    def issue_code(self, mobile: str, purpose: str, client: str) -> None: ...

    @remote
    def verify_code(self, mobile: str, purpose: str, code: str) -> dict: ...

    @remote
    def staff_notifications(
            self, actor: dict, unread_only: bool = False, limit: int = 20, after: str | None = None) -> dict:
        ...

    @remote
    def staff_unread_count(self, actor: dict) -> dict: ...

    @remote
    def mark_notifications_read(self, actor: dict, ids: list | None = None) -> dict: ...
