"""The gateway's principal cache without a broker (its consumer is tested through two real gateways in
tests/e2e/test_staff_access.py): what it keeps, for how long, and what it must never bring back."""
from __future__ import annotations

import pytest

from common.errors import Unauthenticated
from gateway.principal_cache import PrincipalCache

ALICE = {"kind": "staff", "id": "a1", "role": "hotline_operator", "credentials_version": 3}


class Clock:
    now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def cache():
    made = PrincipalCache("amqp://unused", ttl=30, clock=Clock())
    made._thread = object()  # no consumer thread: the test says when it consumes
    made.live.set()
    return made


def asking(answer):
    calls = []

    def fetch():
        calls.append(1)
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)
    return fetch, calls


def test_a_confirmed_principal_is_asked_for_once_until_it_expires(cache):
    fetch, calls = asking(ALICE)
    assert cache.lookup("a1", 3, fetch) == ALICE
    assert cache.lookup("a1", 3, fetch) == ALICE
    assert len(calls) == 1
    cache._clock.now += 31
    cache.lookup("a1", 3, fetch)
    assert len(calls) == 2


def test_a_token_of_another_credentials_version_is_always_asked_about(cache):
    fetch, _ = asking(ALICE)
    cache.lookup("a1", 3, fetch)
    refused, calls = asking(Unauthenticated("session_ended", "پایان نشست", "credentials changed"))
    with pytest.raises(Unauthenticated):
        cache.lookup("a1", 2, refused)  # an older token: complaints says no
    assert len(calls) == 1


def test_forgetting_an_account_asks_again_and_others_stay(cache):
    fetch, calls = asking(ALICE)
    bob, bob_calls = asking({**ALICE, "id": "b2"})
    cache.lookup("a1", 3, fetch)
    cache.lookup("b2", 3, bob)
    cache.forget("a1")
    cache.lookup("a1", 3, fetch)
    cache.lookup("b2", 3, bob)
    assert (len(calls), len(bob_calls)) == (2, 1)


def test_an_answer_fetched_before_a_revocation_is_not_kept_after_it(cache):
    def fetch_while_revoked():
        cache.forget("a1")  # the revocation's event arrives while the RPC is on its way
        return dict(ALICE)

    assert cache.lookup("a1", 3, fetch_while_revoked) == ALICE  # this request was already under way
    refused, calls = asking(Unauthenticated("session_ended", "پایان نشست", "revoked"))
    with pytest.raises(Unauthenticated):
        cache.lookup("a1", 3, refused)
    assert len(calls) == 1


def test_nothing_is_kept_while_the_revocations_are_not_being_consumed(cache):
    cache.live.clear()
    fetch, calls = asking(ALICE)
    cache.lookup("a1", 3, fetch)
    cache.lookup("a1", 3, fetch)
    assert len(calls) == 2


def test_an_event_that_cannot_be_read_forgets_everyone(cache):
    fetch, calls = asking(ALICE)
    cache.lookup("a1", 3, fetch)

    class Message:
        acked = False

        def ack(self):
            self.acked = True

    for body in ("not an envelope", {"data": "no object"}, {"data": {"staff_id": 7}}):
        message = Message()
        cache._on_event(body, message)
        cache.lookup("a1", 3, fetch)
        assert message.acked
    cache._on_undecodable(message, ValueError("not JSON"))
    cache.lookup("a1", 3, fetch)
    assert len(calls) == 5


def test_a_cached_principal_cannot_be_changed_by_the_request_that_got_it(cache):
    fetch, _ = asking(ALICE)
    mine = cache.lookup("a1", 3, fetch)
    mine["role"] = "admin"
    assert cache.lookup("a1", 3, fetch)["role"] == "hotline_operator"
