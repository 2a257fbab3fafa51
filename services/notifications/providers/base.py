"""What the dispatcher needs from an SMS operator's API, whichever operator it is.

Every adapter speaks its operator's own request and response shapes and answers in the platform's terms:
an `Accepted` per message taken (the operator's message id, a state of STATES, the cost in rials when the
operator says it), a `ProviderError` when nothing was taken, and the platform state of earlier messages, by
polling (`statuses`) or from the operator's delivery callbacks (`parse_receipt`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# The platform's states of a message at the operator, whichever operator it is.
STATES = ("queued", "sent", "delivered", "undelivered", "failed", "expired")
FINAL_STATES = frozenset({"delivered", "undelivered", "failed", "expired"})


@dataclass(frozen=True)
class Accepted:
    provider_message_id: str
    status: str  # one of STATES
    cost_rials: int | None = None
    provider: str = ""  # the operator that took the message (the router says which one did)


@dataclass(frozen=True)
class Outgoing:
    recipient: str
    body: str
    local_id: str  # the platform's message id


class ProviderError(Exception):
    """The operator did not take the message. `retryable` says whether trying again may help
    (timeouts, 5xx, throttling) or not (a recipient the operator refuses, a key it does not know).

    `provider_fault` says that the trouble is the operator account's (wrong key, no credit, a sender line
    not allowed), not the message's: another operator may well send the message, so a router tries the
    next one even when the error is not retryable with this operator."""

    def __init__(self, message: str, retryable: bool = True, *, provider_fault: bool = False,
                 code: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.provider_fault = provider_fault
        self.code = code

    @property
    def about_the_message(self) -> bool:
        """No operator will take this message as it is (e.g. a recipient refused): do not try another."""
        return not self.retryable and not self.provider_fault


class PartialSend(ProviderError):
    """A bulk send stopped part way: the operator took `accepted` (the first messages, in order) and not
    the rest. Whoever sends the rest again must start after them."""

    def __init__(self, message: str, accepted: list[Accepted], retryable: bool = True, *,
                 provider_fault: bool = False, code: int | None = None):
        super().__init__(message, retryable, provider_fault=provider_fault, code=code)
        self.accepted = list(accepted)


def split_cost(total_rials: int, count: int) -> list[int]:
    """An operator's total cost for a pack, split evenly over its messages in whole rials that add up to it."""
    base, extra = divmod(max(int(total_rials), 0), max(count, 1))
    return [base + (1 if i < extra else 0) for i in range(count)]


class SmsProvider(Protocol):
    name: str
    # whether find_by_local_id can answer (the operator keeps our id); when False it always answers None
    supports_local_id: bool

    def send(self, recipient: str, body: str, local_id: str) -> Accepted: ...

    def send_bulk(self, messages: list[Outgoing]) -> list[Accepted]:
        """Send many messages in as few requests as the API allows; one Accepted per message, in the same
        order. A message the operator refused within a taken batch comes back with status "failed". A
        request that fails after earlier ones were taken raises PartialSend."""

    def find_by_local_id(self, local_id: str) -> Accepted | None:
        """The message the operator already holds under our id, if any: asked before sending again
        a message whose first attempt ended without an answer."""

    def statuses(self, provider_message_ids: list[str]) -> dict[str, str]:
        """The platform state (one of STATES) of each message the operator knows, by its id (polling).
        Ids the operator does not know are left out."""

    def parse_receipt(self, payload: dict) -> list[tuple[str, str]]:
        """(provider message id, platform state) pairs from a delivery receipt the operator posted to our
        callback URL. Raises ValueError for a payload that is not one of its receipts."""
