"""An adapter for the Kavenegar REST API (https://kavenegar.com/rest.html): the API key in the path, form-encoded
requests, numeric status codes in `return.status` and in each entry. The local fake operator speaks it too.

What this relies on, and where it comes from:

* Endpoints under ``https://api.kavenegar.com/v1/{API-KEY}/sms/``: ``send.json`` (receptor, sender, message,
  localid), ``sendarray.json`` (receptor, sender and message each a JSON array of the same length, and
  ``localmessageids`` as a JSON array; the official Go SDK sends the ids as ``localid`` instead, the fake takes
  both), ``status.json?messageid=`` (ids comma-separated), ``statuslocalmessageid.json?localid=``. Every answer
  is ``{"return": {"status", "message"}, "entries": [...]}``; entries carry messageid, status, statustext, cost
  (rials), receptor, sender, date. Sources: the REST page's opening (shape of the answer), the official
  Python and Go SDKs (method names, sendarray's JSON arrays), third-party clients (``localmessageids``).
* Entry statuses (official Go SDK's enum and a Ruby client's table): 1 queued, 2 scheduled, 4 and 5 handed to
  the telecom, 6 failed at the telecom, 10 delivered, 11 not delivered, 13 cancelled, 14 blocked/filtered,
  100 no such message (or local id).
* ``return.status`` codes other than 200: taken from the REST page's error table as remembered (only 402
  "operation failed" and 409 "server cannot answer, try later" were read in this session, on the SOAP page).
  Those about the request are not retryable; those about the account (key, credit, sender line, IP) are not
  retryable with this operator but are its fault, so another operator may send; the rest (402, 409, 5xx,
  anything unknown) are retryable.
* Delivery receipts: Kavenegar posts the form fields ``messageid`` and ``status`` (an entry status) to the URL
  set in the panel; ``parse_receipt`` also takes them as JSON and as lists of such entries.
* Batch limits: at most 200 messages per sendarray request (414 above that) and, as the brief has it, 500 ids
  per status request.
* ``statuslocalmessageid.json`` takes several local ids comma-separated (the official PHP SDK joins an array
  so) and answers an entry per id, status 100 for one it does not know; a PHP client documents that it only
  knows the messages of the last 12 hours. Asked by POST (long lists), 500 ids a request like status.json.
  After 12 hours "not known" is no answer: ``find_sent`` then says it cannot tell.
* Which failures are ambiguous (base.py): no answer after the request went (read timeout, connection reset),
  an HTTP 5xx other than 503, an answer that cannot be read, or one whose entries do not match the messages
  sent.
"""
from __future__ import annotations

import json
import time
from urllib.parse import quote_plus

import requests

from services.notifications.providers.base import (
    Accepted, OperatorAdapter, Outgoing, PartialSend, ProviderError, http_session, may_have_acted, request_error,
)

# Entry statuses of the API, mapped to the platform's states.
ENTRY_STATES = {1: "queued", 2: "queued", 4: "sent", 5: "sent", 6: "failed", 10: "delivered",
                11: "undelivered", 13: "failed", 14: "failed"}
UNKNOWN_MESSAGE = 100
# return.status codes about the request or its message: no operator takes it as it is.
REQUEST_ERRORS = {400, 406, 411, 413, 414, 415, 417, 419, 420, 422, 424, 431, 432}
# return.status codes about the account or our use of this API: it sends nothing until someone acts.
ACCOUNT_ERRORS = {401, 403, 404, 405, 407, 412, 416, 418, 426, 427, 501}
NOT_RETRYABLE = REQUEST_ERRORS | ACCOUNT_ERRORS
SENDARRAY_LIMIT = 200
STATUS_LIMIT = 500
LOOKUP_WINDOW = 12 * 3600 - 600  # seconds: statuslocalmessageid knows the last 12 hours (less a margin)


class KavenegarProvider(OperatorAdapter):
    name = "kavenegar"
    supports_local_id = True

    def __init__(self, base_url: str, api_key: str, sender: str, timeout: float = 5.0):
        self.secrets = (api_key,)  # in every URL's path
        self.base = f"{base_url.rstrip('/')}/v1/{api_key}/sms"
        self.sender = sender
        self.timeout = timeout
        self.http = http_session()

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self.http.request(method, f"{self.base}/{path}", timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise request_error(self.name, exc) from exc
        try:
            body = response.json()
            status = int(body["return"]["status"])
        except (ValueError, KeyError, TypeError):
            http = response.status_code
            raise ProviderError(f"{self.name}: HTTP {http}, unreadable answer", ambiguous=may_have_acted(http)) from None
        if status != 200:
            raise error_for(status, body["return"].get("message"), response.status_code)
        return body

    def send(self, recipient: str, body: str, local_id: str) -> Accepted:
        try:
            answer = self._call("POST", "send.json", data={
                "receptor": recipient, "sender": self.sender, "message": body, "localid": local_id})
            entries = answer.get("entries") or []
            if len(entries) != 1 or not isinstance(entries[0], dict):
                raise ProviderError(f"{self.name}: {len(entries)} entries for 1 message", ambiguous=True,
                                    settled=True)
        except ProviderError as exc:
            exc.carrying(1)
            raise
        return _accepted(entries[0])

    def send_bulk(self, messages: list[Outgoing]) -> list[Accepted]:
        accepted: list[Accepted] = []
        for start in range(0, len(messages), SENDARRAY_LIMIT):
            chunk = messages[start:start + SENDARRAY_LIMIT]
            try:
                answer = self._call("POST", "sendarray.json", headers=FORM_HEADERS, data=sendarray_form(
                    [m.recipient for m in chunk], [m.body for m in chunk], [self.sender] * len(chunk),
                    [m.local_id for m in chunk]).encode("ascii"))
                entries = answer.get("entries") or []
                if len(entries) != len(chunk):
                    raise ProviderError(f"{self.name}: {len(entries)} entries for {len(chunk)} messages",
                                        ambiguous=True, settled=True)
            except ProviderError as exc:
                exc.carrying(len(chunk))
                if not accepted:
                    raise
                raise PartialSend.after(accepted, exc) from exc
            accepted.extend(_accepted(entry) for entry in entries)
        return accepted

    def find_sent(self, messages: list[Outgoing], since: float,
                  deadline: float | None = None) -> dict[str, Accepted]:
        """By our local ids, STATUS_LIMIT a request (statuslocalmessageid.json)."""
        if time.time() - since > LOOKUP_WINDOW:
            raise ProviderError(f"{self.name}: cannot tell by local id after {LOOKUP_WINDOW // 3600} hours")
        found: dict[str, Accepted] = {}
        ids = list(dict.fromkeys(m.local_id for m in messages))
        for start in range(0, len(ids), STATUS_LIMIT):
            if deadline is not None and time.monotonic() > deadline:
                raise ProviderError(f"{self.name}: out of time asking for {len(ids) - start} local ids")
            chunk = ids[start:start + STATUS_LIMIT]
            answer = self._call("POST", "statuslocalmessageid.json", data={"localid": ",".join(chunk)})
            answered: set[str] = set()
            for entry in answer.get("entries") or []:
                local_id = str(entry.get("localid", "")).strip()
                answered.add(local_id)
                if int(entry.get("status", UNKNOWN_MESSAGE)) != UNKNOWN_MESSAGE and entry.get("messageid"):
                    found[local_id] = _accepted(entry)
            if missing := set(chunk) - answered:
                raise ProviderError(f"{self.name}: no answer for {len(missing)} of {len(chunk)} local ids")
        return {k: v for k, v in found.items() if k in set(ids)}

    def find_by_local_id(self, local_id: str) -> Accepted | None:
        answer = self._call("GET", "statuslocalmessageid.json", params={"localid": local_id})
        entry = (answer.get("entries") or [None])[0]
        if not entry or int(entry.get("status", UNKNOWN_MESSAGE)) == UNKNOWN_MESSAGE:
            return None
        return _accepted(entry)

    def statuses(self, provider_message_ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        ids = [str(i) for i in provider_message_ids]
        for start in range(0, len(ids), STATUS_LIMIT):
            answer = self._call("GET", "status.json", params={"messageid": ",".join(ids[start:start + STATUS_LIMIT])})
            for entry in answer.get("entries") or []:
                status = int(entry.get("status", UNKNOWN_MESSAGE))
                if status != UNKNOWN_MESSAGE:
                    found[str(entry["messageid"])] = state_of(status)
        return found

    def parse_receipt(self, payload: dict) -> list[tuple[str, str]]:
        entries = payload.get("entries") if isinstance(payload.get("entries"), list) else [payload]
        receipts = []
        for entry in entries:
            try:
                message_id, status = str(entry["messageid"]).strip(), int(entry["status"])
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"not a {self.name} delivery receipt: {sorted(entry)}") from None
            if not message_id:
                raise ValueError(f"a {self.name} delivery receipt without a message id")
            receipts.append((message_id, state_of(status)))
        return receipts


FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


def sendarray_form(receptors: list[str], texts: list[str], senders: list[str], local_ids: list[str]) -> str:
    """sendarray.json's form, exactly as requests' `data=` (urllib's urlencode) writes it, made quicker: the
    texts field is most of the body (UCS-2 texts, each byte percent-encoded one by one in Python), and a bulk
    request mostly carries one text to many people, so each distinct text is encoded once per request. A JSON
    array is its items' JSON joined by ", ", and quoting is character by character, so the joined quoted
    items are the quoted array."""
    quoted: dict[str, str] = {}  # this request's only: nothing (a one-time code, say) outlives the call

    def text(value: str) -> str:
        found = quoted.get(value)
        if found is None:
            found = quoted[value] = quote_plus(json.dumps(value, ensure_ascii=False))
        return found

    return "&".join((f"receptor={quote_plus(json.dumps(receptors))}",
                     f"sender={quote_plus(json.dumps(senders))}",
                     "message=%5B" + "%2C+".join(map(text, texts)) + "%5D",
                     f"localmessageids={quote_plus(json.dumps(local_ids))}"))


def state_of(entry_status: int) -> str:
    """The platform state of a Kavenegar entry status (one it does not document counts as sent)."""
    return ENTRY_STATES.get(int(entry_status), "sent")


def error_for(status: int, message: str | None, http_status: int | None = None) -> ProviderError:
    """The error for a `return.status` other than 200; with an HTTP 5xx the request may have been acted on
    (ambiguous), but Kavenegar's own server answered it (settled)."""
    server_error = (http_status or 0) >= 500 and may_have_acted(http_status)
    return ProviderError(f"kavenegar: status {status}: {message}", retryable=status not in NOT_RETRYABLE,
                         provider_fault=status in ACCOUNT_ERRORS, code=status, ambiguous=server_error,
                         settled=server_error)


def _accepted(entry: dict) -> Accepted:
    cost = entry.get("cost")
    return Accepted(
        provider_message_id=str(entry["messageid"]),
        status=state_of(entry["status"]),
        cost_rials=int(cost) if cost is not None else None,
        provider=KavenegarProvider.name,
    )
