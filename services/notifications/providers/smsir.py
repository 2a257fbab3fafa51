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
  ``find_sent`` asks instead by what SMS.ir does keep: it pages through today's report, ``GET /send/live``
  (``pageNumber``, ``pageSize`` at most 100, ``sortByNewest``; ``data`` a list of reports as above), newest
  first, down to the time the attempt began (less CLOCK_SLACK), and through ``GET /send/archive`` (the same,
  with ``fromDate`` and ``toDate`` in Unix seconds) when that time is before today (Tehran's day) began; a
  message is one sent to the same mobile with the same text. Two of our messages with the same text to the
  same mobile are told apart by count only. It gives up (cannot tell) past REPORT_PAGES_MAX pages.
* Which failures are ambiguous (base.py): no answer after the request went (read timeout, connection reset), an
  HTTP 5xx other than 503, or an answer that cannot be read (other than a 4xx or 503 page).
"""
from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import requests

from services.notifications.providers.base import (
    Accepted, OperatorAdapter, Outgoing, PartialSend, ProviderError, http_session, may_have_acted, request_error,
    split_cost,
)

SUCCESS = 1
RETRYABLE_CODES = {0, 20}  # a system problem, too many requests
ACCOUNT_CODES = {10, 11, 12, 13, 14, 101, 102, 119, 123}
NOT_FOUND_CODES = {111}  # no send with this id
DELIVERY_STATES = {1: "delivered", 2: "undelivered", 3: "sent", 4: "failed", 5: "sent", 6: "failed", 7: "failed"}
BATCH_LIMIT = 100
REPORT_PAGE = 100  # reports per page of /send/live and /send/archive
REPORT_PAGES_MAX = 200  # pages find_sent reads at most (20,000 messages sent since the attempt began)
CLOCK_SLACK = 300  # seconds: SMS.ir's clock may run behind ours
TEHRAN = ZoneInfo("Asia/Tehran")


class SmsIrProvider(OperatorAdapter):
    name = "smsir"
    supports_local_id = False

    def __init__(self, base_url: str, api_key: str, line_number: str, timeout: float = 5.0,
                 cost_unit_rials: float = 1.0):
        self.secrets = (api_key,)  # in the X-API-KEY header
        self.base = f"{base_url.rstrip('/')}/v1"
        self.line_number = int(line_number) if str(line_number).isdigit() else line_number
        self.timeout = timeout
        self.cost_unit_rials = cost_unit_rials
        self.http = http_session()
        self.http.headers.update({"X-API-KEY": api_key, "Accept": "application/json"})

    def _call(self, method: str, path: str, payload: dict | None = None, params: dict | None = None):
        try:
            response = self.http.request(method, f"{self.base}/{path}", json=payload, params=params,
                                         timeout=self.timeout)
        except requests.RequestException as exc:
            raise request_error(self.name, exc) from exc
        try:
            body = response.json()
            status = int(body["status"])
        except (ValueError, KeyError, TypeError):
            raise _http_error(response.status_code) from None
        if status != SUCCESS:
            raise error_for(status, body.get("message"), response.status_code)
        return body.get("data")

    def send(self, recipient: str, body: str, local_id: str) -> Accepted:
        try:
            accepted = self._send_pack([Outgoing(recipient, body, local_id)])[0]
        except ProviderError as exc:
            exc.carrying(1)
            raise
        if accepted.status == "failed":
            raise ProviderError(f"{self.name}: recipient refused (blacklisted or invalid)", retryable=False)
        return accepted

    def send_bulk(self, messages: list[Outgoing]) -> list[Accepted]:
        accepted: list[Accepted] = []
        for start in range(0, len(messages), BATCH_LIMIT):
            pack = messages[start:start + BATCH_LIMIT]
            try:
                accepted.extend(self._send_pack(pack))
            except ProviderError as exc:
                exc.carrying(len(pack))
                if not accepted:
                    raise
                raise PartialSend.after(accepted, exc) from exc
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
            raise ProviderError(f"{self.name}: an answer without messageIds", ambiguous=True, settled=True) from None
        if len(ids) != len(pack):
            raise ProviderError(f"{self.name}: {len(ids)} message ids for {len(pack)} messages", ambiguous=True,
                                settled=True)
        taken = [i for i, message_id in enumerate(ids) if message_id]
        shares = iter(split_cost(round(float(total) * self.cost_unit_rials), len(taken)) if total is not None
                      else [None] * len(taken))
        return [Accepted(str(message_id), "queued", next(shares), self.name) if message_id
                else Accepted("", "failed", 0, self.name) for message_id in ids]

    def find_by_local_id(self, local_id: str) -> Accepted | None:
        return None  # SMS.ir keeps no id of ours (see the module's docstring)

    def find_sent(self, messages: list[Outgoing], since: float,
                  deadline: float | None = None) -> dict[str, Accepted]:
        """By mobile and text, in the reports of what was sent since `since` (see the module's docstring)."""
        wanted: dict[tuple[str, str], list[str]] = {}
        for m in messages:
            wanted.setdefault((_mobile_key(m.recipient), m.body), []).append(m.local_id)
        found: dict[str, Accepted] = {}
        horizon = since - CLOCK_SLACK
        today = datetime.now(TEHRAN).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        reports = [("send/live", {})]
        if horizon < today:
            reports.append(("send/archive", {"fromDate": int(horizon), "toDate": int(today)}))
        for path, window in reports:
            for number in range(1, REPORT_PAGES_MAX + 1):
                if not any(wanted.values()):
                    return found
                if deadline is not None and time.monotonic() > deadline:
                    raise ProviderError(f"{self.name}: out of time reading its reports")
                page = self._call("GET", path, params={"pageNumber": number, "pageSize": REPORT_PAGE,
                                                       "sortByNewest": "true", **window})
                if not isinstance(page, list):
                    raise ProviderError(f"{self.name}: a report page that is not a list")
                older = False
                for report in page:
                    fields = {str(k).lower(): v for k, v in report.items()} if isinstance(report, dict) else {}
                    sent_at = float(fields.get("senddatetime") or 0)
                    if sent_at and sent_at < horizon:
                        older = True
                        continue
                    waiting = wanted.get((_mobile_key(fields.get("mobile")), fields.get("messagetext")))
                    if waiting and fields.get("messageid"):
                        cost = fields.get("cost")
                        found[waiting.pop(0)] = Accepted(
                            str(fields["messageid"]), state_of(fields.get("deliverystate")),
                            round(float(cost) * self.cost_unit_rials) if cost is not None else None, self.name)
                if older or len(page) < REPORT_PAGE:
                    break
            else:
                raise ProviderError(f"{self.name}: more than {REPORT_PAGES_MAX} report pages since the attempt; "
                                    "cannot tell")
        return found

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


def _mobile_key(mobile) -> str:
    """A mobile as the reports may write it (09…, 989…, +989…, 9…), by its last ten digits."""
    return "".join(c for c in str(mobile or "") if c.isdigit())[-10:]


def state_of(delivery_state) -> str:
    """The platform state of an SMS.ir deliveryState (none yet: queued)."""
    if delivery_state in (None, "", 0):
        return "queued"
    return DELIVERY_STATES.get(int(delivery_state), "sent")


def error_for(status: int, message: str | None, http_status: int = 400) -> ProviderError:
    text = f"smsir: status {status} (HTTP {http_status}): {message}"
    if status in ACCOUNT_CODES or http_status in (401, 403):
        return ProviderError(text, retryable=False, provider_fault=True, code=status)
    if http_status >= 500:  # SMS.ir's server answered, but may have acted on the request (not after a 503)
        acted = may_have_acted(http_status)
        return ProviderError(text, retryable=True, code=status, ambiguous=acted, settled=acted)
    if status in RETRYABLE_CODES or http_status == 429:
        return ProviderError(text, retryable=True, code=status)
    return ProviderError(text, retryable=False, code=status)


def _http_error(http_status: int) -> ProviderError:
    text = f"smsir: HTTP {http_status}, unreadable answer"
    if http_status in (401, 403):
        return ProviderError(text, retryable=False, provider_fault=True)
    return ProviderError(text, retryable=True, ambiguous=may_have_acted(http_status))
