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

Exactly once under ambiguity. A failure that is sure (the operator answered that it did not take the message, or the
request never reached it: connection refused, a name that does not resolve, a connect timeout, a circuit open or a
bucket empty before sending) fails over at once. After an ambiguous one (a timeout waiting for the answer, a
connection reset after the request went, a 5xx: providers/base.py) the operator may have taken the message, so the
router never sends it elsewhere straight away: it asks that operator (`find_sent`, by our local ids, in bulk). What
the operator holds is the answer. What it says it does not hold fails over, when its own server answered the
failed request (`settled`, it has finished with it); after a timeout or a dropped connection the operator may still
be working on the request, and what it cannot or does not yet show stays with it: `deliver` says those messages
are `in_doubt` with that operator, and the dispatcher asks it again later (services/notifications/dispatch.py).
`find_sent` answers which operators could not be asked (circuit open, no answer): nobody can tell whether they
hold the messages, so the messages are sent nowhere until they answer.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import pybreaker

from services.notifications.providers.base import Accepted, Outgoing, PartialSend, ProviderError, SmsProvider

_log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = pybreaker.STATE_CLOSED, pybreaker.STATE_OPEN, pybreaker.STATE_HALF_OPEN
ASK_BUDGET = 10.0  # seconds spent asking an operator what it took, right after an ambiguous failure


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


@dataclass
class Outcome:
    """What came of each message of a `deliver`, by local id."""

    accepted: dict[str, Accepted] = field(default_factory=dict)  # taken (or found taken); .provider says by whom
    in_doubt: dict[str, str] = field(default_factory=dict)  # may have been taken by this operator: ask it later
    failed: dict[str, ProviderError] = field(default_factory=dict)  # surely not taken, and why
    untried: list[str] = field(default_factory=list)  # sent nowhere: the time budget ran out before them

    def take(self, messages: list[Outgoing], accepted: list[Accepted], provider: str) -> None:
        for message, taken in zip(messages, accepted, strict=False):
            self.accepted[message.local_id] = taken if taken.provider else replace(taken, provider=provider)

    def doubt(self, messages: list[Outgoing], provider: str) -> None:
        self.in_doubt.update({m.local_id: provider for m in messages})

    def fail(self, messages: list[Outgoing], error: ProviderError) -> None:
        self.failed.update({m.local_id: error for m in messages})

    def one(self, local_id: str) -> Accepted:
        """The one message's Accepted, or the error that says why there is none."""
        if local_id in self.accepted:
            return self.accepted[local_id]
        if local_id in self.in_doubt:
            raise InDoubt(self.in_doubt[local_id], local_id)
        if local_id in self.failed:
            raise self.failed[local_id]
        raise ProviderError(f"{local_id}: not sent, out of time")


class InDoubt(ProviderError):
    """The operator `provider` may hold the message: ask it before sending the message anywhere again."""

    def __init__(self, provider: str, local_id: str):
        super().__init__(f"{provider} may hold {local_id}: it cannot tell yet", ambiguous=True)
        self.provider = provider


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

    def deliver(self, messages: list[Outgoing], budget: float | None = None) -> Outcome:
        """Send the messages, one request for one message and the operators' bulk endpoints (in batches of
        `batch_size`) for more, and say what came of each. No request to an operator starts more than
        `budget` seconds from now: the messages not sent by then are `untried`. When a batch finds no operator
        that takes it, the batches after it are not tried either (they fail with the same error)."""
        outcome = Outcome()
        deadline = None if budget is None else self.clock() + budget
        single = len(messages) == 1
        stopped: ProviderError | None = None
        for start in range(0, len(messages), self.batch_size):
            batch = messages[start:start + self.batch_size]
            if stopped is not None:
                outcome.fail(batch, stopped)
                continue
            stopped = self._route(batch, single, deadline, outcome)
        return outcome

    def send(self, recipient: str, body: str, local_id: str) -> Accepted:
        """One message; raises ProviderError when no operator took it, InDoubt when one may have."""
        return self.deliver([Outgoing(recipient, body, local_id)]).one(local_id)

    def send_bulk(self, messages: list[Outgoing]) -> list[Accepted]:
        """`deliver` as an `SmsProvider` answers: every Accepted in order, or a PartialSend with those taken
        before the first message that was not (prefer `deliver`, which says what came of each)."""
        outcome = self.deliver(messages)
        accepted: list[Accepted] = []
        for message in messages:
            try:
                accepted.append(outcome.one(message.local_id))
            except ProviderError as exc:
                if not accepted:
                    raise
                raise PartialSend.after(accepted, exc) from exc
        return accepted

    def _route(self, batch: list[Outgoing], single: bool, deadline: float | None,
               outcome: Outcome) -> ProviderError | None:
        """Route one batch, writing what came of each message in `outcome`; the error when no operator took
        (or may have taken) some of them, so that the batches after it need not be tried."""
        remaining = list(batch)
        tried: set[str] = set()
        reasons: dict[str, str] = {}
        retryable = False
        wait_until = self.clock() + self.max_wait
        while remaining:
            waits = []
            for slot in self.slots:
                if not remaining:
                    return None
                if slot.name in tried:
                    continue
                if deadline is not None and self.clock() > deadline:
                    outcome.untried.extend(m.local_id for m in remaining)
                    return None
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
                started = time.time()
                try:
                    if single:
                        m = remaining[0]
                        got = [slot.provider.send(m.recipient, m.body, m.local_id)]
                    else:
                        got = slot.provider.send_bulk(remaining)
                except ProviderError as exc:
                    taken = exc.accepted if isinstance(exc, PartialSend) else []
                    slot.bucket.give_back(count - len(taken))
                    outcome.take(remaining, taken, slot.name)
                    remaining = remaining[len(taken):]
                    carried = len(remaining) if exc.carried is None else min(exc.carried, len(remaining))
                    if exc.about_the_message:
                        slot.record(None)  # the operator answered; the messages are what it refused
                        outcome.fail(remaining[:carried], exc)
                        outcome.fail(remaining[carried:], ProviderError(
                            f"{slot.name}: not sent, after the request before them was refused: {exc}"))
                        return None
                    slot.record(exc)
                    reasons[slot.name] = str(exc)
                    retryable = retryable or exc.retryable or exc.provider_fault
                    if exc.ambiguous:
                        doubtful, remaining = remaining[:carried], remaining[carried:]
                        remaining = self._ask_after(slot, doubtful, started, exc, outcome) + remaining
                    _log.warning("SMS operator %s failed%s: %s", slot.name,
                                 ", asked it what it took" if exc.ambiguous else ", trying the next", exc)
                    continue
                except Exception as exc:  # a bug, or an error nobody foresaw, maybe after the request went
                    slot.bucket.give_back(count)
                    slot.record(exc)
                    _log.exception("SMS operator %s: unexpected error; its %d messages wait to be asked about",
                                   slot.name, len(remaining))
                    outcome.doubt(remaining, slot.name)
                    return None
                slot.record(None)
                outcome.take(remaining, got, slot.name)
                return None
            if not remaining:
                return None
            now = self.clock()
            if not waits or now + min(waits) > wait_until or (deadline is not None and now + min(waits) > deadline):
                break
            self.sleep(min(waits))
        if not remaining:
            return None
        summary = "; ".join(f"{name}: {reason}" for name, reason in reasons.items())
        error = ProviderError(f"no SMS operator took the message ({summary})", retryable=retryable)
        outcome.fail(remaining, error)
        return error

    def _ask_after(self, slot: _Slot, doubtful: list[Outgoing], started: float, exc: ProviderError,
                   outcome: Outcome) -> list[Outgoing]:
        """After an ambiguous failure at `slot`: ask it which of the messages it took. Those it holds are
        taken; the rest stay in doubt with it, unless its own server answered the failed request (it has
        finished with it), when they are returned to be sent by the next operator."""
        try:
            found = slot.provider.find_sent(doubtful, started, time.monotonic() + ASK_BUDGET)
        except Exception as ask_exc:  # noqa: BLE001 - whatever it is, nobody can tell what the operator took
            _log.warning("SMS operator %s: cannot tell whether it took %d messages (%s); they wait for it",
                         slot.name, len(doubtful), ask_exc)
            outcome.doubt(doubtful, slot.name)
            return []
        outcome.take([m for m in doubtful if m.local_id in found],
                     [found[m.local_id] for m in doubtful if m.local_id in found], slot.name)
        rest = [m for m in doubtful if m.local_id not in found]
        if exc.settled:
            return rest
        outcome.doubt(rest, slot.name)
        return []

    # what the operators know

    def find_sent(self, messages: list[Outgoing], since: float, at: list[str] | None = None,
                  deadline: float | None = None) -> tuple[dict[str, Accepted], set[str]]:
        """Ask the operators named in `at` (None: every one) which of these messages they hold (each operator in
        as few requests as its API allows); `since` (Unix seconds) is when the attempt in doubt began. Answers
        what was found, by local id, and the operators that could not be asked (circuit open, no answer, or no
        longer configured): until they answer, nobody can tell whether they hold the rest."""
        found: dict[str, Accepted] = {}
        unasked = {name for name in (at or []) if name not in self.by_name}
        for slot in self.slots:
            if at is not None and slot.name not in at:
                continue
            wanted = [m for m in messages if m.local_id not in found]
            if not wanted:
                break
            if not slot.admit():
                unasked.add(slot.name)
                continue
            try:
                got = slot.provider.find_sent(wanted, since, deadline)
            except Exception as exc:  # noqa: BLE001 - an operator that cannot answer is one not asked
                slot.record(None if isinstance(exc, ProviderError) and exc.about_the_message else exc)
                unasked.add(slot.name)
                _log.warning("SMS operator %s: cannot tell whether it holds %d messages: %s", slot.name,
                             len(wanted), exc)
                continue
            slot.record(None)
            found.update({k: v if v.provider else replace(v, provider=slot.name) for k, v in got.items()})
        return found, unasked

    def find_by_local_id(self, local_id: str) -> Accepted | None:
        """Ask each operator that keeps our ids. One that cannot answer (its circuit open, or no answer) makes
        this raise: nobody can tell whether it holds the message."""
        for slot in self.slots:
            if not slot.supports_local_id:
                continue
            if not slot.admit():
                raise ProviderError(f"{slot.name}: circuit open: cannot tell whether it holds {local_id}")
            try:
                found = slot.provider.find_by_local_id(local_id)
            except ProviderError as exc:
                if exc.about_the_message:
                    slot.record(None)
                    continue
                slot.record(exc)
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
