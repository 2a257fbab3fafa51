"""transparency' typed RPC client: each method is the RPC method of the same name in services/transparency/service.py
(TransparencyService), with its signature (common/service_client.py; tests/unit/test_service_clients.py keeps the two
equal)."""
from __future__ import annotations

from common.service_client import ServiceClient, remote


class TransparencyClient(ServiceClient):
    service = "transparency"

    @remote
    def publish_demo(self) -> list: ...

    @remote
    def correct(self, actor: dict, slug: str, payload: dict) -> dict: ...

    @remote
    def hand_in(self, actor: dict, slug: str, filename: str, content_b64: str, note: str = '') -> dict: ...

    @remote
    def uploads(self, actor: dict) -> dict: ...

    @remote
    def approve_upload(self, actor: dict, upload_id: str) -> dict: ...

    @remote
    def datasets(self) -> list: ...

    @remote
    def dataset(self, slug: str) -> dict: ...

    @remote
    def rows(self, slug: str, query: dict) -> dict: ...

    @remote
    def version(self, slug: str, version: int | None = None) -> dict: ...

    @remote
    def dump_page(self, slug: str, version: int, after_n: int) -> list: ...

    @remote
    def public_key(self) -> dict: ...

    @remote
    def spending(self, by: str) -> dict: ...

    @remote
    def request_code(self, payload: dict, client: str) -> dict: ...

    @remote
    def check_code(self, payload: dict) -> dict: ...

    @remote
    def my_payments(self, actor: dict, after: str | None = None, limit: int = 20) -> dict: ...
