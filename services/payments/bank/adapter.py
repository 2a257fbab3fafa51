"""The bank, behind an adapter: account-owner inquiry, payment batches (pain.001 -> pain.002) and statements
(camt.053). The default adapter talks HTTP to the fake bank (fakes/bank); a real bank's adapter would offer
the same three calls.

Every answer of the bank is signed: X-Signature is the hex HMAC-SHA256 of the body under the key we share with
the bank. An answer without a valid signature is refused (ForgedStatement for a statement, ForgedAnswer for the
others) and has no effect. Submitting is idempotent: the bank answers a batch id it already has with the same
status report and does not pay it twice, so after a timeout the same batch is simply submitted again.
"""
from __future__ import annotations

import hashlib
import hmac
import threading
from typing import Protocol
from urllib.parse import quote

import requests

from common.identifiers import normalise_sheba
from services.payments.bank import iso20022

SIGNATURE_HEADER = "X-Signature"


class BankError(Exception):
    """The bank could not be asked or refused; `retryable` says whether asking again later may succeed."""

    def __init__(self, message: str, retryable: bool):
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class ForgedAnswer(BankError):
    """An answer that does not carry the bank's signature: it is ignored."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False)


class ForgedStatement(ForgedAnswer):
    """A statement that does not carry the bank's signature: nothing in it is to be reconciled."""


class BatchRejected(BankError):
    """The bank rejected the whole batch (group status RJCT); `report` is its parsed pain.002."""

    def __init__(self, report: dict):
        reason = report.get("group_reason") or "every payment rejected"
        super().__init__(f"batch {report.get('batch_id')} rejected by the bank: {reason}", retryable=False)
        self.report = report


class BankAdapter(Protocol):
    def owner_of(self, iban: str) -> str | None:
        """The national ID of the account's owner, or None if the bank knows no such account."""

    def belongs_to(self, iban: str, national_id: str) -> bool:
        """Whether the bank confirms that the account is owned by that national ID."""

    def submit(self, pain001_xml: bytes) -> dict:
        """Send a pain.001 batch; its parsed pain.002 status report (see iso20022.parse_pain002), or
        BatchRejected when the bank rejects the whole batch."""

    def statement(self, batch_id: str) -> dict:
        """The parsed camt.053 statement of a batch (see iso20022.parse_camt053)."""


class BankHttpAdapter:
    """The bank adapter the service runs with in every deployment: the bank's HTTP API (ISO 20022 files, signed
    answers), which the fake bank (fakes/bank/app.py) speaks in tests and the demo. (It was named
    FakeBankAdapter, for the fake it was written against; it is no fake.)"""

    def __init__(self, base_url: str, shared_key: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.shared_key = shared_key.encode("utf-8")
        self.timeout = timeout
        self._local = threading.local()  # a requests.Session per thread: the cycle keeps a few calls in flight

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    # the three calls

    def owner_of(self, iban: str) -> str | None:
        iban = normalise_sheba(iban)
        response = self._call("GET", f"/accounts/{quote(iban)}/owner")
        if response.status_code == 404:
            self._verify(response, ForgedAnswer)
            return None
        self._expect_ok(response, "owner inquiry")
        self._verify(response, ForgedAnswer)
        answer = response.json()
        if answer.get("iban") != iban:
            raise ForgedAnswer(f"owner inquiry for {iban} answered about {answer.get('iban')}")
        return answer.get("national_id")

    def belongs_to(self, iban: str, national_id: str) -> bool:
        """Whether the bank confirms that the account is owned by that national ID."""
        return self.owner_of(iban) == national_id

    def submit(self, pain001_xml: bytes) -> dict:
        batch_id = iso20022.pain001_batch_id(pain001_xml)  # never send what is not valid pain.001
        response = self._call("POST", "/pain001", data=pain001_xml,
                              headers={"Content-Type": "application/xml; charset=utf-8"})
        self._expect_ok(response, f"batch {batch_id}")
        self._verify(response, ForgedAnswer)
        report = self._parse(iso20022.parse_pain002, response.content, "status report")
        if report["batch_id"] != batch_id:
            raise ForgedAnswer(f"batch {batch_id} answered with the report on {report['batch_id']}")
        if report["group_status"] == "RJCT":
            raise BatchRejected(report)
        return report

    def statement(self, batch_id: str) -> dict:
        response = self._call("GET", f"/statements/{quote(batch_id, safe='')}")
        self._expect_ok(response, f"statement of batch {batch_id}")
        self._verify(response, ForgedStatement)
        parsed = self._parse(iso20022.parse_camt053, response.content, "statement")
        others = {e["batch_id"] for e in parsed["entries"]} - {batch_id}
        if others:
            raise ForgedStatement(f"the statement of batch {batch_id} has entries of batches {sorted(others)}")
        return parsed

    # HTTP, errors and signatures

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            return self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise BankError(f"the bank did not answer {method} {path} within {self.timeout}s", retryable=True) from None
        except requests.RequestException as exc:
            raise BankError(f"the bank cannot be reached: {exc}", retryable=True) from None

    @staticmethod
    def _expect_ok(response: requests.Response, what: str) -> None:
        if response.status_code == 200:
            return
        retryable = response.status_code >= 500 or response.status_code == 429
        detail = response.text[:200].strip()
        raise BankError(f"{what}: the bank answered HTTP {response.status_code}: {detail}", retryable)

    def _verify(self, response: requests.Response, refusal: type[ForgedAnswer]) -> None:
        expected = hmac.new(self.shared_key, response.content, hashlib.sha256).hexdigest()
        given = response.headers.get(SIGNATURE_HEADER, "")
        if not hmac.compare_digest(expected, given):
            what = "unsigned" if not given else "wrongly signed"
            raise refusal(f"{what} answer from the bank to {response.request.method} {response.request.path_url}")

    @staticmethod
    def _parse(parse, content: bytes, what: str) -> dict:
        try:
            return parse(content)
        except iso20022.BankFileError as exc:
            raise BankError(f"the bank's {what} is not valid ISO 20022: {exc}", retryable=False) from None
