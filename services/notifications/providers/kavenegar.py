"""An adapter for the Kavenegar-style REST API: the API key in the path, form-encoded requests,
numeric status codes in `return.status` and in each entry. The local fake operator speaks it too."""
from __future__ import annotations

import requests

from services.notifications.providers.base import Accepted, ProviderError

# Entry statuses of the API, mapped to the platform's states.
ENTRY_STATES = {1: "queued", 2: "queued", 4: "sent", 5: "sent", 6: "failed", 10: "delivered",
                11: "undelivered", 13: "failed", 14: "failed"}
NOT_RETRYABLE = {400, 401, 403, 404, 405, 407, 411, 412, 414, 417}


class KavenegarProvider:
    name = "kavenegar"

    def __init__(self, base_url: str, api_key: str, sender: str, timeout: float = 5.0):
        self.base = f"{base_url.rstrip('/')}/v1/{api_key}/sms"
        self.sender = sender
        self.timeout = timeout
        self.http = requests.Session()

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self.http.request(method, f"{self.base}/{path}", timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ProviderError(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        try:
            body = response.json()
            status = int(body["return"]["status"])
        except (ValueError, KeyError, TypeError):
            raise ProviderError(f"{self.name}: HTTP {response.status_code}, unreadable answer") from None
        if status != 200:
            raise ProviderError(f"{self.name}: status {status}: {body['return'].get('message')}",
                                retryable=status not in NOT_RETRYABLE)
        return body

    def send(self, recipient: str, body: str, local_id: str) -> Accepted:
        answer = self._call("POST", "send.json", data={
            "receptor": recipient, "sender": self.sender, "message": body, "localid": local_id})
        return _accepted(answer["entries"][0])

    def find_by_local_id(self, local_id: str) -> Accepted | None:
        answer = self._call("GET", "statuslocalmessageid.json", params={"localid": local_id})
        entry = (answer.get("entries") or [None])[0]
        if not entry or int(entry.get("status", 100)) == 100:  # 100: no such message
            return None
        return _accepted(entry)


def _accepted(entry: dict) -> Accepted:
    cost = entry.get("cost")
    return Accepted(
        provider_message_id=str(entry["messageid"]),
        status=ENTRY_STATES.get(int(entry["status"]), "sent"),
        cost_rials=int(cost) if cost is not None else None,
    )
