"""The payment gateway (PSP / IPG) of the donation portal, behind an adapter, in the steps of Iran's internet
payment gateways: the merchant asks for a token for an amount and an order id, the donor's browser is sent to the
gateway's page with it, the gateway posts the outcome back to our callback URL, and the merchant then verifies
the payment (the gateway confirms the amount and gives its reference) and settles it. Until it is verified the
money is not ours: a gateway reverses a payment that is never verified.

The default adapter talks HTTP to the local fake gateway (fakes/ipg). Every answer of the gateway's API and every
callback is signed: hex HMAC-SHA256 under the key we share with the gateway (answers: X-Signature of the body;
callbacks: the `signature` field over token|status|reference|amount|order_id). What is not signed so is refused.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from typing import Protocol

import requests

SIGNATURE_HEADER = "X-Signature"
CALLBACK_FIELDS = ("token", "status", "reference", "amount", "order_id")


class PspError(Exception):
    """The gateway could not be asked, or refused; `retryable` says whether asking again later may succeed."""

    def __init__(self, message: str, retryable: bool, code: str = "psp_error"):
        super().__init__(message)
        self.message, self.retryable, self.code = message, retryable, code


class VerifyFailed(PspError):
    """The gateway does not confirm the payment (not paid, another amount, unknown token): nothing was paid."""

    def __init__(self, message: str, code: str = "not_verified"):
        super().__init__(message, retryable=False, code=code)


class ForgedAnswer(PspError):
    """An answer that does not carry the gateway's signature: it is ignored."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False, code="forged_answer")


def sign(key: str, data: bytes) -> str:
    return hmac.new(key.encode("utf-8"), data, hashlib.sha256).hexdigest()


def callback_message(fields: dict) -> bytes:
    return "|".join(str(fields.get(name, "")) for name in CALLBACK_FIELDS).encode("utf-8")


def callback_signature(key: str, fields: dict) -> str:
    """The signature the gateway puts on the callback it posts through the donor's browser."""
    return sign(key, callback_message(fields))


def callback_is_signed(key: str, fields: dict) -> bool:
    given = str(fields.get("signature") or "")
    return bool(given) and hmac.compare_digest(given, callback_signature(key, fields))


class PaymentGateway(Protocol):
    def request_token(self, amount: int, order_id: str, callback_url: str) -> dict:
        """{"token", "redirect_url"}: where the donor's browser pays."""

    def verify(self, token: str, amount: int) -> dict:
        """{"reference", "card_masked"} when the gateway confirms that `amount` was paid on `token`; else
        VerifyFailed."""

    def settle(self, reference: str) -> dict:
        """Ask the gateway to transfer the verified payment to the merchant's account."""

    def callback_is_signed(self, fields: dict) -> bool:
        """Whether a callback's fields carry the gateway's signature."""


class IpgHttpAdapter:
    """The payment gateway adapter the service runs with in every deployment: the gateway's HTTP API, which the
    fake gateway (fakes/ipg/app.py) speaks in tests and the demo. (It was named FakeIpgAdapter; it is no fake.)"""

    def __init__(self, base_url: str, merchant_id: str, shared_key: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.merchant_id = merchant_id
        self.shared_key = shared_key
        self.timeout = timeout
        self.session = requests.Session()

    def request_token(self, amount: int, order_id: str, callback_url: str) -> dict:
        answer = self._call("/api/v1/token", {"amount": amount, "order_id": order_id, "callback_url": callback_url})
        return {"token": answer["token"], "redirect_url": answer["redirect_url"]}

    def verify(self, token: str, amount: int) -> dict:
        answer = self._call("/api/v1/verify", {"token": token, "amount": amount}, refusal=VerifyFailed)
        if int(answer.get("amount", -1)) != amount:
            raise VerifyFailed(f"the gateway verified {answer.get('amount')} rials, not {amount}", "amount_mismatch")
        return {"reference": str(answer["reference"]), "card_masked": answer.get("card_masked")}

    def settle(self, reference: str) -> dict:
        return self._call("/api/v1/settle", {"reference": reference})

    def callback_is_signed(self, fields: dict) -> bool:
        return callback_is_signed(self.shared_key, fields)

    def _call(self, path: str, body: dict, refusal=None) -> dict:
        try:
            response = self.session.post(self.base_url + path, json={"merchant_id": self.merchant_id, **body},
                                         timeout=self.timeout)
        except requests.RequestException as exc:
            raise PspError(f"the payment gateway could not be reached: {exc}", retryable=True,
                           code="psp_unavailable") from None
        if response.status_code >= 500:
            raise PspError(f"the payment gateway answered {response.status_code}", retryable=True,
                           code="psp_unavailable")
        given = response.headers.get(SIGNATURE_HEADER, "")
        if not given or not hmac.compare_digest(given, sign(self.shared_key, response.content)):
            raise ForgedAnswer(f"{path}: the answer does not carry the gateway's signature")
        try:
            answer = json.loads(response.content)
        except ValueError:
            raise PspError(f"{path}: the gateway's answer is not JSON", retryable=False) from None
        if response.status_code >= 400:
            message = f"{path}: {answer.get('error')}: {answer.get('detail') or ''}".strip()
            if refusal is not None:
                raise refusal(message)
            raise PspError(message, retryable=False, code=str(answer.get("error") or "psp_refused"))
        return answer
