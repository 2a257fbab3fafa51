"""An adapter for the SMS.ir REST API, version 1 (https://app.sms.ir/developer/help): JSON requests with the key in an
X-API-KEY header, a bulk endpoint, and answers ``{"status", "message", "data"}`` where status 1 is success.
The local fake operator speaks it too (under /v1 on its own address).

What this relies on, and where it comes from (SMS.ir's official PHP SDK, IPeCompany/smsir-php, for the endpoints
and the answer's envelope; a summary of SMS.ir's REST page, fstarlike/smsir-agent-skill, for the codes and
limits; the help page itself was not readable in this session):

* Base ``https://api.sms.ir/v1`` (``base_url`` is the host, ``/v1`` is added here), header ``X-API-KEY``.
* ``POST /send/bulk`` ``{lineNumber, messageText, mobiles, sendDateTime}``: one text to up to 100 mobiles.
  ``POST /send/likeToLike`` ``{lineNumber, messageTexts, mobiles, sendDateTime}``: a text per mobile, up to
  100, the arrays of equal length. Both answer ``data: {packId, messageIds, cost}``: ``messageIds`` in the
  order of ``mobiles``, 0 for a blacklisted mobile and null for an invalid one; ``cost`` is the pack's total.
  It is taken as rials times ``cost_unit_rials`` (set it if the account's credit is counted in another unit)
  and split evenly over the messages taken.
* ``GET /send/{messageId}``: the report of one message, ``data: {messageId, mobile, messageText, sendDateTime,
  lineNumber, cost, deliveryState, deliveryDateTime}``. deliveryState: 1 delivered to the handset, 2 not
  delivered to the handset, 3 at the telecom (processing), 4 did not reach the telecom, 5 reached the
  telecom, 6 error, 7 blacklisted; none yet means still queued.
* HTTP 200 with status 1 is success; logical errors come with HTTP 400 and a status code, a wrong key with
  401, throttling with 429 (status 20), server trouble with 500 (status 0). Codes 10-14 (key invalid,
  disabled, IP-restricted, account inactive or suspended), 101 (sender line), 102 (credit), 119 and 123 are
  the account's: not retryable here, another operator may send. Codes 103-118 are about the request or its
  recipients (104 invalid mobile, 115 blacklisted): no operator will take it. 0 and 20 are retryable.
* Delivery callbacks: SMS.ir's documented API is polled; a receipt posted to us (a webhook set in the panel)
  is read as JSON objects with the report's field names, ``messageId`` and ``deliveryState``, alone, in a
  list under ``data``, or under ``items``. That shape is this project's assumption (the fake posts it).
* SMS.ir keeps no id of ours: ``find_by_local_id`` always answers None and ``supports_local_id`` is False.
  So a message whose request to SMS.ir got no answer (a timeout) may be sent again when retried. The
  alternative, not built: before resending, page through today's ``GET /send/live`` report for a message to
  the same mobile with the same text.
"""
from __future__ import annotations

import requests

from services.notifications.providers.base import Accepted, Outgoing, PartialSend, ProviderError, split_cost

SUCCESS = 1
RETRYABLE_CODES = {0, 20}  # a system problem, too many requests
ACCOUNT_CODES = {10, 11, 12, 13, 14, 101, 102, 119, 123}
NOT_FOUND_CODES = {111}  # no send with this id
DELIVERY_STATES = {1: "delivered", 2: "undelivered", 3: "sent", 4: "failed", 5: "sent", 6: "failed", 7: "failed"}
BATCH_LIMIT = 100


class SmsIrProvider:
    name = "smsir"
    supports_local_id = False

    def __init__(self, base_url: str, api_key: str, line_number: str, timeout: float = 5.0,
                 cost_unit_rials: float = 1.0):
        self.base = f"{base_url.rstrip('/')}/v1"
        self.line_number = int(line_number) if str(line_number).isdigit() else line_number
        self.timeout = timeout
        self.cost_unit_rials = cost_unit_rials
        self.http = requests.Session()
        self.http.headers.update({"X-API-KEY": api_key, "Accept": "application/json"})

    def _call(self, method: str, path: str, payload: dict | None = None):
        try:
            response = self.http.request(method, f"{self.base}/{path}", json=payload, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ProviderError(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        try:
            body = response.json()
            status = int(body["status"])
        except (ValueError, KeyError, TypeError):
            raise _http_error(response.status_code) from None
        if status != SUCCESS:
            raise error_for(status, body.get("message"), response.status_code)
        return body.get("data")

    def send(self, recipient: str, body: str, local_id: str) -> Accepted:
        accepted = self._send_pack([Outgoing(recipient, body, local_id)])[0]
        if accepted.status == "failed":
            raise ProviderError(f"{self.name}: recipient refused (blacklisted or invalid)", retryable=False)
        return accepted

    def send_bulk(self, messages: list[Outgoing]) -> list[Accepted]:
        accepted: list[Accepted] = []
        for start in range(0, len(messages), BATCH_LIMIT):
            try:
                accepted.extend(self._send_pack(messages[start:start + BATCH_LIMIT]))
            except ProviderError as exc:
                if not accepted:
                    raise
                raise PartialSend(str(exc), accepted, exc.retryable, provider_fault=exc.provider_fault,
                                  code=exc.code) from exc
        return accepted

    def _send_pack(self, pack: list[Outgoing]) -> list[Accepted]:
        """One request: /send/bulk when every text is the same, /send/likeToLike otherwise."""
        mobiles = [m.recipient for m in pack]
        if len({m.body for m in pack}) == 1:
            data = self._call("POST", "send/bulk", {"lineNumber": self.line_number, "messageText": pack[0].body,
                                                    "mobiles": mobiles, "sendDateTime": None})
        else:
            data = self._call("POST", "send/likeToLike", {"lineNumber": self.line_number,
                                                          "messageTexts": [m.body for m in pack],
                                                          "mobiles": mobiles, "sendDateTime": None})
        try:
            ids = list(data["messageIds"])
            total = data.get("cost")
        except (KeyError, TypeError):
            raise ProviderError(f"{self.name}: an answer without messageIds") from None
        if len(ids) != len(pack):
            raise ProviderError(f"{self.name}: {len(ids)} message ids for {len(pack)} messages")
        taken = [i for i, message_id in enumerate(ids) if message_id]
        shares = iter(split_cost(round(float(total) * self.cost_unit_rials), len(taken)) if total is not None
                      else [None] * len(taken))
        return [Accepted(str(message_id), "queued", next(shares), self.name) if message_id
                else Accepted("", "failed", 0, self.name) for message_id in ids]

    def find_by_local_id(self, local_id: str) -> Accepted | None:
        return None  # SMS.ir keeps no id of ours (see the module's docstring)

    def statuses(self, provider_message_ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for message_id in provider_message_ids:
            try:
                data = self._call("GET", f"send/{message_id}")
            except ProviderError as exc:
                if exc.code in NOT_FOUND_CODES:
                    continue
                raise
            if data:
                found[str(message_id)] = state_of(data.get("deliveryState"))
        return found

    def parse_receipt(self, payload: dict) -> list[tuple[str, str]]:
        if isinstance(payload.get("data"), (list, dict)):
            items = payload["data"]
        else:
            items = payload.get("items", payload)
        receipts = []
        for item in items if isinstance(items, list) else [items]:
            fields = {str(k).lower(): v for k, v in item.items()} if isinstance(item, dict) else {}
            if "messageid" not in fields or "deliverystate" not in fields or not fields["messageid"]:
                raise ValueError(f"not an {self.name} delivery receipt")
            receipts.append((str(fields["messageid"]), state_of(fields["deliverystate"])))
        return receipts


def state_of(delivery_state) -> str:
    """The platform state of an SMS.ir deliveryState (none yet: queued)."""
    if delivery_state in (None, "", 0):
        return "queued"
    return DELIVERY_STATES.get(int(delivery_state), "sent")


def error_for(status: int, message: str | None, http_status: int = 400) -> ProviderError:
    text = f"smsir: status {status} (HTTP {http_status}): {message}"
    if status in ACCOUNT_CODES or http_status in (401, 403):
        return ProviderError(text, retryable=False, provider_fault=True, code=status)
    if status in RETRYABLE_CODES or http_status == 429 or http_status >= 500:
        return ProviderError(text, retryable=True, code=status)
    return ProviderError(text, retryable=False, code=status)


def _http_error(http_status: int) -> ProviderError:
    text = f"smsir: HTTP {http_status}, unreadable answer"
    if http_status in (401, 403):
        return ProviderError(text, retryable=False, provider_fault=True)
    return ProviderError(text, retryable=True)
