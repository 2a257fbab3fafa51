"""What the dispatcher needs from an SMS operator's API, whichever operator it is."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Accepted:
    provider_message_id: str
    status: str  # queued | sent | delivered | undelivered | failed
    cost_rials: int | None = None


class ProviderError(Exception):
    """The operator did not take the message. `retryable` says whether trying again may help
    (timeouts, 5xx, throttling) or not (a recipient the operator refuses)."""

    def __init__(self, message: str, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


class SmsProvider(Protocol):
    name: str

    def send(self, recipient: str, body: str, local_id: str) -> Accepted: ...

    def find_by_local_id(self, local_id: str) -> Accepted | None:
        """The message the operator already holds under our id, if any: asked before sending again
        a message whose first attempt ended without an answer."""
