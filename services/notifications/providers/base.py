"""What the dispatcher needs from an SMS operator's API, whichever operator it is.

Every adapter speaks its operator's own request and response shapes and answers in the platform's terms:
an `Accepted` per message taken (the operator's message id, a state of STATES, the cost in rials when the
operator says it), a `ProviderError` when it did not answer that it took them, and the platform state of earlier
messages, by polling (`statuses`) or from the operator's delivery callbacks (`parse_receipt`).

A failed send is either sure (the operator answered that it did not take the message, or the request never
reached it: connection refused, a name that does not resolve, a connect timeout; a 503, by which a server says
it did not handle the request) or ambiguous (a timeout waiting for the answer, a connection reset after the
request went, another 5xx, an answer that cannot be read): the operator may have taken the message. `ProviderError.ambiguous` says which; whoever sends must then ask the
operator (`find_sent`) before sending the message anywhere again.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, quote_plus

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
    """The operator did not say that it took the message. `retryable` says whether trying again may help
    (timeouts, 5xx, throttling) or not (a recipient the operator refuses, a key it does not know).

    `provider_fault` says that the trouble is the operator account's (wrong key, no credit, a sender line
    not allowed), not the message's: another operator may well send the message, so a router tries the
    next one even when the error is not retryable with this operator.

    `ambiguous` says that the request may have reached the operator and been acted on (see the module's
    docstring): the messages it carried may have been taken. `carried` is how many messages the request that
    failed carried (after those already `accepted`, for a PartialSend); None: all that were not accepted. The
    messages after those were not sent.
    `settled` says that the operator's own server answered (an error in its API's shape), so it has finished
    with the request: asking it right away whether it holds the message gets a final answer. After a timeout
    or a dropped connection it may still be working on the request, and an answer "not here" is not final
    until some time has passed."""

    def __init__(self, message: str, retryable: bool = True, *, provider_fault: bool = False,
                 code: int | None = None, ambiguous: bool = False, carried: int | None = None,
                 settled: bool = False):
        super().__init__(message)
        self.retryable = retryable
        self.provider_fault = provider_fault
        self.code = code
        self.ambiguous = ambiguous
        self.carried = carried
        self.settled = settled

    @property
    def about_the_message(self) -> bool:
        """No operator will take this message as it is (e.g. a recipient refused): do not try another."""
        return not self.retryable and not self.provider_fault and not self.ambiguous

    def carrying(self, count: int) -> "ProviderError":
        """This error, saying that the failed request carried `count` messages."""
        if self.carried is None:
            self.carried = count
        return self


class PartialSend(ProviderError):
    """A bulk send stopped part way: the operator took `accepted` (the first messages, in order) and did not
    say it took the rest. Whoever sends the rest again must start after them; when the error is ambiguous the
    next `carried` of them may have been taken (ask before sending them again), and the others were not sent."""

    def __init__(self, message: str, accepted: list[Accepted], retryable: bool = True, *,
                 provider_fault: bool = False, code: int | None = None, ambiguous: bool = False,
                 carried: int | None = None, settled: bool = False):
        super().__init__(message, retryable, provider_fault=provider_fault, code=code, ambiguous=ambiguous,
                         carried=carried, settled=settled)
        self.accepted = list(accepted)

    @classmethod
    def after(cls, accepted: list[Accepted], exc: ProviderError) -> "PartialSend":
        """`exc`, which stopped a bulk send after `accepted` were taken, as a PartialSend."""
        return cls(str(exc), accepted, exc.retryable, provider_fault=exc.provider_fault, code=exc.code,
                   ambiguous=exc.ambiguous, carried=exc.carried, settled=exc.settled)


REDACTED = "[redacted]"
# The calls through which an operator's adapter is used (SmsProvider): what leaves them never holds a secret.
PROVIDER_CALLS = ("send", "send_bulk", "find_by_local_id", "find_sent", "statuses", "parse_receipt")


def redact(text: str, secrets) -> str:
    """`text` with every secret blanked out, as written and as a URL would carry it."""
    for secret in secrets:
        if secret:
            for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
                text = text.replace(form, REDACTED)
    return text


def _redacting(call):
    @functools.wraps(call)
    def guarded(self, *args, **kwargs):
        try:
            return call(self, *args, **kwargs)
        except Exception as exc:
            raise without_secrets(exc, self.secrets) from None
    return guarded


def without_secrets(exc: Exception, secrets) -> Exception:
    """`exc` as it may leave an adapter: its text redacted, and cut from its causes (a library's exception
    text, which a logged traceback would print: requests puts the URL in it, Kavenegar's key with it)."""
    text = str(exc)
    clean = redact(text, secrets)
    if clean != text:
        exc.args = (clean,)  # ProviderError, ValueError and OSError say their first argument
        if redact(str(exc), secrets) != str(exc):  # an exception that says something else: say it ourselves
            exc = ProviderError(clean, ambiguous=True)
    exc.__cause__ = exc.__context__ = None
    exc.__suppress_context__ = True
    return exc


class _LibraryLogRedaction(logging.Filter):
    """urllib3 logs each request's URL at DEBUG (Kavenegar's key with it): blanked before any handler."""

    def __init__(self):
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg, record.args = redact(record.getMessage(), self.secrets), ()
        return True


_LIBRARY_LOGS = _LibraryLogRedaction()
logging.getLogger("urllib3.connectionpool").addFilter(_LIBRARY_LOGS)


class OperatorAdapter:
    """The base of every operator's adapter: its errors, whatever raised them, leave it with no secret in
    their text nor in their causes, and the HTTP library's logs are redacted too (`secrets`: the credentials
    the adapter holds, set by its __init__). The one place that keeps API keys out of logs,
    sms_messages.last_error, the sms.failed event and answers."""

    name = ""
    _secrets: tuple[str, ...] = ()

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    @secrets.setter
    def secrets(self, values) -> None:
        self._secrets = tuple(v for v in values if v)
        _LIBRARY_LOGS.secrets.update(self._secrets)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in PROVIDER_CALLS:
            if name in cls.__dict__:
                setattr(cls, name, _redacting(cls.__dict__[name]))


# Connections kept open to each operator: as many as nameko's workers (max_workers, 20) may send at once, so that
# none is opened for one request and closed after it (requests' default keeps 10).
KEEP_ALIVE = 32


def http_session():
    """A requests session that keeps up to KEEP_ALIVE connections open to its operator."""
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    for scheme in ("http://", "https://"):
        session.mount(scheme, HTTPAdapter(pool_connections=4, pool_maxsize=KEEP_ALIVE))
    return session


def may_have_acted(http_status: int) -> bool:
    """Whether an operator that answered a request with this HTTP status (and no readable refusal) may have
    acted on it: after a 2xx or 3xx whose answer cannot be read, or a 5xx, yes; a 4xx page (a proxy's) or a
    503 ("unable to handle the request", RFC 9110) says that it did not."""
    return not (400 <= http_status < 500 or http_status == 503)


def request_error(provider: str, exc: Exception) -> ProviderError:
    """A ProviderError for a request that got no answer (requests' exception `exc`): sure when the request
    cannot have reached the operator (connection refused, a name that does not resolve, a connect timeout, a
    malformed URL), ambiguous otherwise (a read timeout, a connection reset or closed after the request went)."""
    import requests
    from urllib3.exceptions import NewConnectionError

    reached = True
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.InvalidURL,
                        requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
                        requests.exceptions.InvalidHeader)):
        reached = False
    elif isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(exc, requests.exceptions.ProxyError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError holds the cause
        reached = not isinstance(reason, NewConnectionError)  # NameResolutionError is one too
    return ProviderError(f"{provider}: {type(exc).__name__}: {exc}", ambiguous=reached)


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
        """The message the operator already holds under our id, if any (None also when the operator keeps
        no ids of ours: see supports_local_id)."""

    def find_sent(self, messages: list[Outgoing], since: float,
                  deadline: float | None = None) -> dict[str, Accepted]:
        """Of these messages, those the operator holds, by local id: asked, in as few requests as its API
        allows, before sending again a message whose attempt ended without a sure answer. `since` (Unix
        seconds) is when that attempt began; `deadline` (time.monotonic()) when to give up. A message left out
        is one the operator says it does not hold. Raises ProviderError when it cannot tell (the operator does
        not answer, or its API cannot tell any more)."""

    def statuses(self, provider_message_ids: list[str]) -> dict[str, str]:
        """The platform state (one of STATES) of each message the operator knows, by its id (polling).
        Ids the operator does not know are left out."""

    def parse_receipt(self, payload: dict) -> list[tuple[str, str]]:
        """(provider message id, platform state) pairs from a delivery receipt the operator posted to our
        callback URL. Raises ValueError for a payload that is not one of its receipts."""
