"""complaints' typed RPC client: each method is the RPC method of the same name in services/complaints/service.py
(ComplaintsService), with its signature (common/service_client.py; tests/unit/test_service_clients.py keeps the two
equal)."""
from __future__ import annotations

from common.service_client import ServiceClient, remote


class ComplaintsClient(ServiceClient):
    service = "complaints"

    @remote
    def register_case(self, payload: dict, idempotency: dict | None = None, actor: dict | None = None) -> dict: ...

    @remote
    def get_case(self, tracking_code: str, secret: str | None = None) -> dict: ...

    @remote
    def get_case_for_staff(self, actor: dict, tracking_code: str) -> dict: ...

    @remote
    def get_case_for_caller(self, actor: dict, tracking_code: str) -> dict: ...

    @remote
    def list_cases_for_staff(
            self, actor: dict, limit: int = 20, after: str | None = None, mobile: str | None = None) -> dict:
        ...

    @remote
    def reporter_identity_views(self, actor: dict, limit: int = 200) -> list: ...

    @remote
    def cartable(self, actor: dict, limit: int = 20, after: str | None = None, filters: dict | None = None) -> dict: ...

    @remote
    def refer_case(self, actor: dict, tracking_code: str, payload: dict) -> dict: ...

    @remote
    def answer_case(self, actor: dict, tracking_code: str, payload: dict) -> dict: ...

    @remote
    def approve_answer(self, actor: dict, tracking_code: str, payload: dict) -> dict: ...

    @remote
    def return_answer(self, actor: dict, tracking_code: str, payload: dict) -> dict: ...

    @remote
    def request_evidence(self, actor: dict, tracking_code: str, payload: dict) -> dict: ...

    @remote
    def report_again(
            self, tracking_code: str, secret: str | None, payload: dict, actor: dict | None = None) -> dict:
        ...

    @remote
    def rate_answer(self, tracking_code: str, secret: str | None, payload: dict, actor: dict | None = None) -> dict: ...

    @remote
    def authorise_evidence(self, tracking_code: str, secret: str | None, actor: dict | None = None) -> dict: ...

    @remote
    def add_evidence(
            self, tracking_code: str, secret: str | None, filename: str | None, content_b64: str,
            actor: dict | None = None) -> dict:
        ...

    @remote
    def open311_requests(self, kinds: list, start: str, end: str, statuses: list, limit: int = 1000) -> list: ...

    @remote
    def open311_request(self, request_id: str) -> dict | None: ...

    @remote
    def reporter_case(self, tracking_code: str, mobile: str) -> str | None: ...

    @remote
    def add_attachment(self, actor: dict, tracking_code: str, filename: str | None, content_b64: str) -> dict: ...

    @remote
    def get_file(self, actor: dict, tracking_code: str, file_id: str) -> dict: ...

    @remote
    def dashboard(self, actor: dict, start: str, end: str) -> dict: ...

    @remote
    def scorecards(self, actor: dict, start: str, end: str) -> list: ...

    @remote
    def org_units(self, kind: str | None = None, parent: str | None = None) -> list: ...

    @remote
    def record_outage(self, actor: dict, payload: dict, idempotency: dict | None = None) -> dict: ...

    @remote
    def list_outages(self, actor: dict) -> list: ...

    @remote
    def list_sweep_failures(self, actor: dict) -> list: ...

    @remote
    def retry_sweep_failure(self, actor: dict, sweep: str, subject_id: str) -> dict: ...

    @remote
    def login(self, username: str, password: str, address: str | None = None) -> dict: ...

    @remote
    def change_password(self, username: str, password: str, new_password: str, address: str | None = None) -> dict: ...

    @remote
    def refresh_session(self, refresh_token: str) -> dict: ...

    @remote
    def logout(self, refresh_token: str) -> None: ...

    @remote
    def principal(self, staff_id: str, credentials_version: int) -> dict: ...

    @remote
    def revoke_access(self, actor: dict, staff_id: str, reason: str) -> dict: ...

    @remote
    def list_staff(self, actor: dict, only_revoked: bool = False) -> list: ...

    @remote
    def deadline_policies(self) -> list: ...

    @remote
    def set_deadline_policies(self, actor: dict, rules: list) -> list: ...

    @remote
    def restore_access(self, actor: dict, staff_id: str, new_password: str) -> dict: ...

    @remote
    def password_resets(self, actor: dict) -> list: ...

    @remote
    def approve_password_reset(self, actor: dict, reset_id: str) -> dict: ...

    @remote
    def issue_api_key(self, actor: dict, name: str, scopes: list, idempotency: dict | None = None) -> dict: ...

    @remote
    def revoke_api_key(self, actor: dict, key_id: str) -> dict: ...

    @remote
    def api_key_principal(self, key: str) -> dict: ...
