"""Routing over several SMS operators (SPEC N1): priority order, failover, a circuit breaker and a rate limit each.

`ProviderRouter` answers like one operator (the `SmsProvider` interface) over operators listed in priority order.
A message goes to the first operator whose circuit is not open and whose token bucket (messages per second)
has room; when that operator fails, times out or is out of room, the next one is tried. An error about the
message itself (a recipient the operator refuses, a text it will not carry) is raised at once: no other operator
would take it either. When every operator is out of room the router waits for the earliest token, up to
`max_wait` seconds.

Each operator's circuit (pybreaker) opens after `fail_max` failures in a row; while open the operator is not asked
at all; after `reset_timeout` seconds one trial request goes through (half-open) and closes the circuit again if
it succeeds. The HTTP call itself runs outside the breaker's lock (pybreaker holds its lock around `call`, which
would let one operator take a single message at a time): the router asks the breaker's state before the call and
reports the outcome after it.

Which operator took a message is in `Accepted.provider`; its cost, as the operator gave it, in
`Accepted.cost_rials`. Delivery states are asked of, and receipts read by, the operator that sent the message:
`statuses_for(name, ids)` and `parse_receipt_for(name, payload)`.

A timeout is ambiguous (the operator may have taken the message): failing over after one may send the message
twice, the price of not leaving it unsent while an operator hangs. Likewise `find_by_local_id` does not ask an
operator whose circuit is open.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Callable

import pybreaker

from services.notifications.providers.base import Accepted, Outgoing, PartialSend, ProviderError, SmsProvider

_log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = pybreaker.STATE_CLOSED, pybreaker.STATE_OPEN, pybreaker.STATE_HALF_OPEN


class TokenBucket:
    """`rate` tokens a second, at most `capacity` (default: one second's worth) in store; thread-safe.
    A rate of 0 or less means no limit."""

    def __init__(self, rate: float, capacity: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.rate = float(rate)
        self.capacity = float(capacity) if capacity else max(1.0, self.rate)
        self.clock = clock
        self.tokens = self.capacity
        self.stamp = clock()
        self.lock = threading.Lock()

    def take(self, n: int = 1) -> float:
        """Take n tokens: 0.0 when taken, else the seconds until they could be. A batch larger than the bucket
        goes when the bucket is full and leaves it in debt, so the rate holds on average."""
        if self.rate <= 0:
            return 0.0
        with self.lock:
            self._refill()
            need = min(float(n), self.capacity)
            if self.tokens >= need:
                self.tokens -= n
                return 0.0
            return (need - self.tokens) / self.rate

    def give_back(self, n: int) -> None:
        if self.rate <= 0 or n <= 0:
            return
        with self.lock:
            self._refill()
            self.tokens = min(self.capacity, self.tokens + n)

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now


class _Slot:
    """One operator with its circuit breaker and token bucket."""

    def __init__(self, provider: SmsProvider, rate: float, fail_max: int, reset_timeout: float, clock):
        self.provider = provider
        self.name = provider.name
        self.bucket = TokenBucket(rate, clock=clock)
        self.reset_timeout = reset_timeout
        self.clock = clock
        self.opened_at: float | None = None
        self.trial_in_flight = False
        self.lock = threading.Lock()
        self.breaker = pybreaker.CircuitBreaker(fail_max=fail_max, reset_timeout=reset_timeout, name=self.name,
                                                listeners=[_WhenOpened(self)], throw_new_error_on_trip=False)

    @property
    def supports_local_id(self) -> bool:
        return getattr(self.provider, "supports_local_id", True)

    def available(self) -> bool:
        """Could a request go now (without taking the trial of a half-open circuit)?"""
        state = self.breaker.current_state
        if state == CLOSED:
            return True
        if state == OPEN:
            return self.opened_at is None or self.clock() - self.opened_at >= self.reset_timeout
        return not self.trial_in_flight

    def admit(self) -> bool:
        """May a request go to this operator now? Closed: yes. Open: not until reset_timeout has passed, then
        the circuit goes half-open and one trial request goes (one at a time)."""
        with self.lock:
            state = self.breaker.current_state
            if state == CLOSED:
                return True
            if state == OPEN:
                if self.opened_at is not None and self.clock() - self.opened_at < self.reset_timeout:
                    return False
                self.breaker.half_open()
            if self.trial_in_flight:
                return False
            self.trial_in_flight = True
            return True

    def record(self, failure: BaseException | None) -> None:
        """Tell the breaker how the request went (None: the operator answered)."""
        with self.lock:
            self.trial_in_flight = False
        try:
            self.breaker.call(_outcome, failure)
        except Exception:  # the failure itself, or a circuit another request already opened meanwhile
            pass


class _WhenOpened(pybreaker.CircuitBreakerListener):
    def __init__(self, slot: _Slot):
        self.slot = slot

    def state_change(self, cb, old_state, new_state) -> None:
        if new_state.name == OPEN:
            self.slot.opened_at = self.slot.clock()
            _log.warning("SMS operator %s: circuit open for %.0f s", self.slot.name, self.slot.reset_timeout)
        elif new_state.name == CLOSED and old_state is not None:
            _log.info("SMS operator %s: circuit closed", self.slot.name)


def _outcome(failure: BaseException | None) -> None:
    if failure is not None:
        raise failure


class ProviderRouter:
    """The `SmsProvider` interface over several operators, in priority order (see the module's docstring)."""

    name = "router"

    def __init__(self, providers: list[SmsProvider], *, rate_per_second: float | dict[str, float] = 50.0,
                 fail_max: int = 3, reset_timeout: float = 30.0, max_wait: float = 5.0, batch_size: int = 100,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if not providers:
            raise ValueError("a router needs at least one SMS operator")
        rates = rate_per_second if isinstance(rate_per_second, dict) else {}
        self.slots = [_Slot(p, rates.get(p.name, 0.0) if rates else float(rate_per_second), fail_max, reset_timeout,
                            clock) for p in providers]
        self.by_name = {slot.name: slot for slot in self.slots}
        if len(self.by_name) != len(self.slots):
            raise ValueError("each SMS operator may be listed once")
        self.max_wait = max_wait
        self.batch_size = batch_size
        self.clock = clock
        self.sleep = sleep
        self.supports_local_id = any(slot.supports_local_id for slot in self.slots)

    @property
    def providers(self) -> list[SmsProvider]:
        return [slot.provider for slot in self.slots]

    def health(self) -> dict[str, str]:
        """Each operator's circuit: "closed", "open" or "half-open"."""
        return {slot.name: slot.breaker.current_state for slot in self.slots}

    # sending

    def send(self, recipient: str, body: str, local_id: str) -> Accepted:
        return self._route([Outgoing(recipient, body, local_id)], single=True)[0]

    def send_bulk(self, messages: list[Outgoing]) -> list[Accepted]:
        """Batches of `batch_size`, each routed on its own. When a batch finds no operator after earlier ones
        were taken, PartialSend says which were."""
        accepted: list[Accepted] = []
        for start in range(0, len(messages), self.batch_size):
            try:
                accepted.extend(self._route(messages[start:start + self.batch_size], single=False))
            except PartialSend as exc:
                raise PartialSend(str(exc), accepted + exc.accepted, exc.retryable,
                                  provider_fault=exc.provider_fault, code=exc.code) from exc
            except ProviderError as exc:
                if not accepted:
                    raise
                raise PartialSend(str(exc), accepted, exc.retryable, provider_fault=exc.provider_fault,
                                  code=exc.code) from exc
        return accepted

    def _route(self, batch: list[Outgoing], single: bool) -> list[Accepted]:
        done: list[Accepted] = []
        remaining = list(batch)
        tried: set[str] = set()
        reasons: dict[str, str] = {}
        retryable = False
        deadline = self.clock() + self.max_wait
        while True:
            waits = []
            for slot in self.slots:
                if slot.name in tried:
                    continue
                if not slot.available():
                    reasons[slot.name] = "circuit open"
                    retryable = True
                    continue
                count = len(remaining)
                wait = slot.bucket.take(count)
                if wait:
                    waits.append(wait)
                    reasons[slot.name] = "rate limit reached"
                    retryable = True
                    continue
                if not slot.admit():
                    slot.bucket.give_back(count)
                    reasons[slot.name] = "circuit open"
                    retryable = True
                    continue
                tried.add(slot.name)
                try:
                    if single:
                        m = remaining[0]
                        got = [slot.provider.send(m.recipient, m.body, m.local_id)]
                    else:
                        got = slot.provider.send_bulk(remaining)
                except ProviderError as exc:
                    taken = exc.accepted if isinstance(exc, PartialSend) else []
                    slot.bucket.give_back(count - len(taken))
                    done.extend(_tagged(taken, slot.name))
                    remaining = remaining[len(taken):]
                    if exc.about_the_message:
                        slot.record(None)  # the operator answered; the message is what it refused
                        raise _with(done, exc) from exc
                    slot.record(exc)
                    reasons[slot.name] = str(exc)
                    retryable = retryable or exc.retryable or exc.provider_fault
                    _log.warning("SMS operator %s failed, trying the next: %s", slot.name, exc)
                    continue
                except Exception as exc:
                    slot.bucket.give_back(count)
                    slot.record(exc)
                    _log.exception("SMS operator %s: unexpected error", slot.name)
                    raise _with(done, ProviderError(f"{slot.name}: {type(exc).__name__}: {exc}")) from exc
                slot.record(None)
                return done + _tagged(got, slot.name)
            now = self.clock()
            if not waits or now + min(waits) > deadline:
                break
            self.sleep(min(waits))
        summary = "; ".join(f"{name}: {reason}" for name, reason in reasons.items())
        raise _with(done, ProviderError(f"no SMS operator took the message ({summary})", retryable=retryable))

    # what the operators know

    def find_by_local_id(self, local_id: str) -> Accepted | None:
        """Ask each operator that keeps our ids (skipping those whose circuit is open). An operator that
        cannot answer makes this raise (retryable) until its circuit opens: until then nobody can tell
        whether it holds the message."""
        for slot in self.slots:
            if not slot.supports_local_id or not slot.admit():
                continue
            try:
                found = slot.provider.find_by_local_id(local_id)
            except ProviderError as exc:
                if exc.about_the_message:
                    slot.record(None)
                    continue
                slot.record(exc)
                if slot.breaker.current_state == OPEN:
                    continue
                raise ProviderError(f"{slot.name}: cannot tell whether it holds {local_id}: {exc}") from exc
            slot.record(None)
            if found is not None:
                return replace(found, provider=found.provider or slot.name)
        return None

    def statuses_for(self, provider_name: str, provider_message_ids: list[str]) -> dict[str, str]:
        slot = self._slot(provider_name)
        if not slot.admit():
            raise ProviderError(f"{provider_name}: circuit open")
        try:
            found = slot.provider.statuses(provider_message_ids)
        except ProviderError as exc:
            slot.record(None if exc.about_the_message else exc)
            raise
        slot.record(None)
        return found

    def statuses(self, provider_message_ids: list[str]) -> dict[str, str]:
        """Each operator in turn for the ids not yet found. Ids of different operators may collide:
        prefer statuses_for with the operator that sent the message."""
        found: dict[str, str] = {}
        for slot in self.slots:
            wanted = [i for i in provider_message_ids if str(i) not in found]
            if not wanted:
                break
            try:
                found.update(self.statuses_for(slot.name, wanted))
            except ProviderError as exc:
                _log.warning("SMS operator %s: no statuses: %s", slot.name, exc)
        return found

    def parse_receipt_for(self, provider_name: str, payload: dict) -> list[tuple[str, str]]:
        return self._slot(provider_name).provider.parse_receipt(payload)

    def parse_receipt(self, payload: dict) -> list[tuple[str, str]]:
        """The first operator that reads the payload as one of its receipts; prefer parse_receipt_for."""
        for slot in self.slots:
            try:
                return slot.provider.parse_receipt(payload)
            except ValueError:
                continue
        raise ValueError("no SMS operator reads this delivery receipt")

    def _slot(self, provider_name: str) -> _Slot:
        try:
            return self.by_name[provider_name]
        except KeyError:
            raise ValueError(f"no SMS operator named {provider_name!r} (have {', '.join(self.by_name)})") from None


def _tagged(accepted: list[Accepted], provider_name: str) -> list[Accepted]:
    return [a if a.provider else replace(a, provider=provider_name) for a in accepted]


def _with(done: list[Accepted], exc: ProviderError) -> ProviderError:
    """The error as it is, or a PartialSend when part of the batch was taken before it."""
    if not done:
        return exc
    return PartialSend(str(exc), done, exc.retryable, provider_fault=exc.provider_fault, code=exc.code)
