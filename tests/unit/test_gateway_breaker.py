"""The gateway's circuit breaker per service (gateway.rpc.Breaker): calls to one service run side by side
(pybreaker's CircuitBreaker.call held its lock around the call, so one call waiting out its deadline held
every other thread up), and a broker alarm is not counted against the service."""
import threading

import pytest

from gateway.rpc import Breaker, CircuitOpen, _Abandoned, _Nacked, _Refused


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


class Boom(Exception):
    pass


class Answer(Exception):
    expected = True  # a client's mistake: the service answered


def fail(exc):
    raise exc


def test_calls_to_one_service_run_side_by_side():
    breaker = Breaker("complaints", fail_max=5, reset_timeout=10)
    inside, release = threading.Semaphore(0), threading.Event()

    def slow():
        inside.release()
        release.wait(5)

    threads = [threading.Thread(target=breaker.call, args=(slow,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        assert all(inside.acquire(timeout=5) for _ in threads)  # all four are in the call at once
    finally:
        release.set()
        for thread in threads:
            thread.join(5)


def test_it_opens_after_fail_max_failures_and_lets_one_trial_through_after_the_reset_timeout():
    clock = Clock()
    breaker = Breaker("complaints", fail_max=2, reset_timeout=10, clock=clock)
    for _ in range(2):
        with pytest.raises(Boom):
            breaker.call(fail, Boom())
    assert breaker.current_state == "open"
    with pytest.raises(CircuitOpen):
        breaker.call(lambda: "not asked")
    clock.now += 10
    assert breaker.current_state == "half-open"
    with pytest.raises(Boom):  # the trial fails: open again for reset_timeout
        breaker.call(fail, Boom())
    with pytest.raises(CircuitOpen):
        breaker.call(lambda: "not asked")
    clock.now += 10
    assert breaker.call(lambda: "ok") == "ok"
    assert breaker.current_state == "closed"


def test_an_answer_is_a_success_and_a_broker_alarm_or_nack_counts_as_nothing():
    breaker = Breaker("complaints", fail_max=2, reset_timeout=10, clock=Clock())
    with pytest.raises(Boom):
        breaker.call(fail, Boom())
    with pytest.raises(Answer):
        breaker.call(fail, Answer())  # resets the count
    with pytest.raises(Boom):
        breaker.call(fail, Boom())
    for alarm in (_Refused("alarm"), _Abandoned("alarm"), _Nacked("nack"), _Nacked("nack"), _Refused("alarm")):
        with pytest.raises(type(alarm)):
            breaker.call(fail, alarm)
    assert breaker.current_state == "closed"  # one failure in a row, whatever the alarms


def test_a_half_open_circuit_lets_one_trial_at_a_time():
    clock = Clock()
    breaker = Breaker("complaints", fail_max=1, reset_timeout=10, clock=clock)
    with pytest.raises(Boom):
        breaker.call(fail, Boom())
    clock.now += 10
    started, release = threading.Event(), threading.Event()
    trial = threading.Thread(target=breaker.call, args=(lambda: (started.set(), release.wait(5)),))
    trial.start()
    try:
        assert started.wait(5)
        with pytest.raises(CircuitOpen):
            breaker.call(lambda: "not asked while the trial runs")
    finally:
        release.set()
        trial.join(5)
    assert breaker.current_state == "closed"
