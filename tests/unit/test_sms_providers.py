"""The SMS operator adapters (Kavenegar, SMS.ir) and the router over them, against the fake operator in this
process, which answers both APIs in their own shapes (SPEC N1)."""
from __future__ import annotations

import threading

import pytest
import requests

from services.notifications.providers import kavenegar, smsir
from services.notifications.providers.base import STATES, Accepted, Outgoing, PartialSend, ProviderError, split_cost
from services.notifications.providers.kavenegar import KavenegarProvider
from services.notifications.providers.smsir import SmsIrProvider
from services.notifications.routing import InDoubt, ProviderRouter, TokenBucket

MOBILE = "09121234567"
OTHER = "09351112233"


@pytest.fixture
def op(sms_operator):
    """The fake operator's state and controls."""
    return sms_operator.operator


@pytest.fixture
def kav(sms_operator):
    return KavenegarProvider(sms_operator.url, "demo-api-key", "10001482", timeout=2)


@pytest.fixture
def sir(sms_operator):
    return SmsIrProvider(sms_operator.url, "demo-smsir-key", "30001482", timeout=2)


class Clock:
    """A clock the test moves by hand; sleeping moves it too."""

    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


def router(kav, sir, clock, **options) -> ProviderRouter:
    options = {"rate_per_second": 1000.0, "fail_max": 2, "reset_timeout": 30.0, "max_wait": 1.0, **options}
    return ProviderRouter([kav, sir], clock=clock, sleep=clock.sleep, **options)


@pytest.fixture
def receiver():
    """An HTTP endpoint that keeps the delivery receipts posted to it."""
    from werkzeug.wrappers import Request, Response

    from tests.helpers import serving

    received: list[dict] = []
    arrived = threading.Condition()

    @Request.application
    def app(req):
        payload = req.get_json(silent=True) if req.is_json else req.form.to_dict()
        with arrived:
            received.append(payload)
            arrived.notify_all()
        return Response("ok")

    def wait_for(count: int, timeout: float = 10) -> list[dict]:
        with arrived:
            arrived.wait_for(lambda: len(received) >= count, timeout=timeout)
            return list(received)

    with serving(app) as server:
        server.url += "/receipts"
        server.wait_for = wait_for
        yield server


# Kavenegar


def test_kavenegar_sends_one_message_and_says_what_it_cost(kav, op):
    accepted = kav.send(MOBILE, "بهزیستی: آزمایش", "local-1")
    assert accepted.provider == "kavenegar" and accepted.status == "queued" and accepted.cost_rials == 1200
    assert op.messages[0]["api"] == "kavenegar" and op.messages[0]["localid"] == "local-1"
    assert accepted.provider_message_id == str(op.messages[0]["messageid"])
    found = kav.find_by_local_id("local-1")
    assert (found.provider_message_id, found.provider) == (accepted.provider_message_id, "kavenegar")
    assert kav.find_by_local_id("never-sent") is None


def test_kavenegar_sends_in_arrays_of_at_most_200_in_order(kav, op):
    messages = [Outgoing(f"0912{i:07d}", f"پیام {i}", f"local-{i}") for i in range(450)]
    accepted = kav.send_bulk(messages)
    assert [c for c in op.calls if c[1] == "sendarray"] == [("kavenegar", "sendarray")] * 3
    assert len(accepted) == 450 and all(a.provider == "kavenegar" for a in accepted)
    by_id = {str(m["messageid"]): m for m in op.messages}
    for message, a in zip(messages, accepted, strict=True):
        assert by_id[a.provider_message_id]["receptor"] == message.recipient
        assert by_id[a.provider_message_id]["localid"] == message.local_id
    again = kav.send_bulk(messages[:2])  # the local ids are not sent twice: the operator's ids for them come back
    assert [a.provider_message_id for a in again] == [a.provider_message_id for a in accepted[:2]]
    assert len(op.messages) == 450


def test_kavenegar_polls_statuses_in_chunks_and_leaves_out_unknown_ids(kav, op):
    op.control["undeliverable"] = [OTHER]
    op.delivery_after = 0
    ok = kav.send(MOBILE, "آزمایش", "a")
    lost = kav.send(OTHER, "آزمایش", "b")
    ids = [ok.provider_message_id, lost.provider_message_id, "999"] + [str(i) for i in range(1, 600)]
    assert kav.statuses(ids) == {ok.provider_message_id: "delivered", lost.provider_message_id: "undelivered"}
    assert [c for c in op.calls if c[1] == "status"] == [("kavenegar", "status")] * 2


def test_kavenegar_reads_its_delivery_receipts(kav):
    assert kav.parse_receipt({"messageid": "8792343", "status": "10"}) == [("8792343", "delivered")]
    assert kav.parse_receipt({"messageid": "8792343", "status": "11"}) == [("8792343", "undelivered")]
    assert kav.parse_receipt({"entries": [{"messageid": 1, "status": 4}, {"messageid": 2, "status": 14}]}) == [
        ("1", "sent"), ("2", "failed")]
    with pytest.raises(ValueError):
        kav.parse_receipt({"messageId": 1, "deliveryState": 1})


def test_kavenegar_receipts_come_by_callback(kav, op, receiver):
    op.control.update(callback_url=receiver.url, undeliverable=[OTHER])
    op.delivery_after = 0.05
    ok = kav.send(MOBILE, "آزمایش", "a")
    lost = kav.send(OTHER, "آزمایش", "b")
    receipts = receiver.wait_for(2)
    states = dict(pair for payload in receipts for pair in kav.parse_receipt(payload))
    assert states == {ok.provider_message_id: "delivered", lost.provider_message_id: "undelivered"}


def test_kavenegar_errors_say_whether_to_retry_and_whose_fault(sms_operator, kav, op):
    op.control["reject"] = [MOBILE]
    with pytest.raises(ProviderError) as refused:
        kav.send(MOBILE, "آزمایش", "a")
    assert refused.value.about_the_message and refused.value.code == 411

    op.control["fail_next"] = 1
    with pytest.raises(ProviderError) as failed:
        kav.send(OTHER, "آزمایش", "b")
    assert failed.value.retryable

    wrong_key = KavenegarProvider(sms_operator.url, "not-the-key", "10001482")
    with pytest.raises(ProviderError) as unknown:
        wrong_key.send(OTHER, "آزمایش", "c")
    assert not unknown.value.retryable and unknown.value.provider_fault

    op.control["down"] = ["kavenegar"]
    with pytest.raises(ProviderError) as down:
        kav.send(OTHER, "آزمایش", "d")
    assert down.value.retryable and op.messages == []


def test_kavenegar_refuses_within_an_array_only_the_refused_recipient(kav, op):
    op.control["reject"] = [OTHER]
    accepted = kav.send_bulk([Outgoing(MOBILE, "یک", "a"), Outgoing(OTHER, "دو", "b")])
    assert [a.status for a in accepted] == ["queued", "failed"]
    assert [m["receptor"] for m in op.messages] == [MOBILE]


@pytest.mark.parametrize("status, retryable, provider_fault", [
    (402, True, False), (409, True, False), (500, True, False),
    (411, False, False), (413, False, False), (414, False, False),
    (401, False, True), (403, False, True), (412, False, True), (418, False, True),
])
def test_kavenegar_status_codes(status, retryable, provider_fault):
    error = kavenegar.error_for(status, "")
    assert (error.retryable, error.provider_fault) == (retryable, provider_fault)


# SMS.ir


def test_smsir_sends_one_message_through_bulk_with_its_key_in_a_header(sir, op):
    accepted = sir.send(MOBILE, "بهزیستی: آزمایش", "local-1")
    assert accepted == Accepted(str(op.messages[0]["messageid"]), "queued", 1200, "smsir")
    assert op.messages[0]["api"] == "smsir" and op.messages[0]["sender"] == "30001482"
    assert op.calls == [("smsir", "bulk")]
    assert sir.find_by_local_id("local-1") is None and not sir.supports_local_id


def test_smsir_finds_what_it_sent_by_mobile_and_text_in_its_reports(sir, op):
    """SMS.ir keeps no id of ours: find_sent reads today's report, newest first, back to the attempt's start."""
    import time

    since = time.time()
    twice = [Outgoing(MOBILE, "همان متن", "a"), Outgoing(MOBILE, "همان متن", "b"), Outgoing(MOBILE, "همان متن", "c")]
    sir.send_bulk(twice[:2])
    other = [Outgoing(f"0935{i:07d}", f"متن {i}", f"o-{i}") for i in range(250)]
    sir.send_bulk(other)
    found = sir.find_sent(twice + [Outgoing(OTHER, "همان متن", "d"), other[0], other[-1]], since)
    assert set(found) == {"a", "b", "o-0", "o-249"}  # c: only two such were sent; d: another mobile
    assert {a.provider for a in found.values()} == {"smsir"} and found["a"] != found["b"]
    assert op.calls.count(("smsir", "live")) == 3  # 254 messages, 100 a page
    assert sir.find_sent(twice, since + 3600) == {}  # sent before the attempt began (past the clock slack)


def test_smsir_sends_one_text_to_many_by_bulk_and_different_texts_like_to_like_in_hundreds(sir, op):
    same = [Outgoing(f"0912{i:07d}", "یک متن برای همه", f"s-{i}") for i in range(150)]
    different = [Outgoing(f"0935{i:07d}", f"متن {i}", f"d-{i}") for i in range(250)]
    assert len(sir.send_bulk(same)) == 150
    accepted = sir.send_bulk(different)
    assert op.calls == [("smsir", "bulk")] * 2 + [("smsir", "liketolike")] * 3
    by_id = {str(m["messageid"]): m for m in op.messages}
    assert all(by_id[a.provider_message_id]["message"] == m.body for m, a in zip(different, accepted, strict=True))


def test_smsir_splits_the_pack_cost_over_its_messages(sir, op):
    long_text = "بهزیستی " * 20  # three parts
    accepted = sir.send_bulk([Outgoing(MOBILE, "کوتاه", "a"), Outgoing(OTHER, long_text, "b")])
    total = sum(m["cost"] for m in op.messages)
    assert total == 4 * 1200
    assert [a.cost_rials for a in accepted] == [2400, 2400]
    assert split_cost(1000, 3) == [334, 333, 333]


def test_smsir_marks_blacklisted_and_invalid_mobiles_failed_and_refuses_a_lone_one(sir, op):
    op.control["reject"] = [OTHER]
    accepted = sir.send_bulk([Outgoing(MOBILE, "متن", "a"), Outgoing(OTHER, "متن", "b"), Outgoing("123", "متن", "c")])
    assert [a.status for a in accepted] == ["queued", "failed", "failed"]
    assert accepted[1].provider_message_id == "" and accepted[1].cost_rials == 0
    with pytest.raises(ProviderError) as refused:
        sir.send(OTHER, "متن", "d")
    assert refused.value.about_the_message and refused.value.code == 115


def test_smsir_polls_each_message_report(sir, op):
    op.control["undeliverable"] = [OTHER]
    op.delivery_after = 0
    ok = sir.send(MOBILE, "آزمایش", "a")
    lost = sir.send(OTHER, "آزمایش", "b")
    assert sir.statuses([ok.provider_message_id, lost.provider_message_id, "42"]) == {
        ok.provider_message_id: "delivered", lost.provider_message_id: "undelivered"}
    op.delivery_after = 60
    assert sir.statuses([ok.provider_message_id]) == {ok.provider_message_id: "queued"}


def test_smsir_receipts_come_by_callback_in_its_shape(sir, op, receiver):
    op.control.update(callback_url=receiver.url, undeliverable=[OTHER])
    op.delivery_after = 0.05
    ok = sir.send(MOBILE, "آزمایش", "a")
    lost = sir.send(OTHER, "آزمایش", "b")
    receipts = receiver.wait_for(2)
    assert all("deliveryState" in r for r in receipts)
    states = dict(pair for payload in receipts for pair in sir.parse_receipt(payload))
    assert states == {ok.provider_message_id: "delivered", lost.provider_message_id: "undelivered"}
    assert sir.parse_receipt({"data": [{"MessageId": 7, "DeliveryState": 3}]}) == [("7", "sent")]
    with pytest.raises(ValueError):
        sir.parse_receipt({"messageid": "1", "status": "10"})


def test_smsir_errors_say_whether_to_retry_and_whose_fault(sms_operator, sir, op):
    wrong_key = SmsIrProvider(sms_operator.url, "not-the-key", "30001482")
    with pytest.raises(ProviderError) as unknown:
        wrong_key.send(MOBILE, "آزمایش", "a")
    assert not unknown.value.retryable and unknown.value.provider_fault and unknown.value.code == 10

    op.control["fail_next"] = 1
    with pytest.raises(ProviderError) as failed:
        sir.send(MOBILE, "آزمایش", "b")
    assert failed.value.retryable and failed.value.code == 0

    op.control.update(fail_next=1, fail_status=429)
    with pytest.raises(ProviderError) as throttled:
        sir.send(MOBILE, "آزمایش", "c")
    assert throttled.value.retryable and throttled.value.code == 20
    assert op.messages == []


def test_a_bulk_send_stopped_part_way_says_what_was_taken(sir, op):
    op.control["fail_next"] = {"smsir": 0}
    messages = [Outgoing(f"0912{i:07d}", f"متن {i}", f"m-{i}") for i in range(150)]

    original = sir._send_pack
    calls = []

    def second_pack_fails(pack):
        calls.append(len(pack))
        if len(calls) == 2:
            op.control["fail_next"] = {"smsir": 1}
        return original(pack)

    sir._send_pack = second_pack_fails
    with pytest.raises(PartialSend) as partial:
        sir.send_bulk(messages)
    assert len(partial.value.accepted) == 100 and partial.value.retryable


@pytest.mark.parametrize("status, http, retryable, provider_fault", [
    (0, 500, True, False), (20, 429, True, False),
    (10, 401, False, True), (11, 400, False, True), (102, 400, False, True), (101, 400, False, True),
    (104, 400, False, False), (115, 400, False, False), (105, 400, False, False),
])
def test_smsir_status_codes(status, http, retryable, provider_fault):
    error = smsir.error_for(status, "", http)
    assert (error.retryable, error.provider_fault) == (retryable, provider_fault)


@pytest.mark.parametrize("module, table", [(kavenegar, kavenegar.ENTRY_STATES), (smsir, smsir.DELIVERY_STATES)])
def test_every_operator_state_maps_to_a_platform_state(module, table):
    assert set(table.values()) <= set(STATES)
    assert module.state_of(10 if module is kavenegar else 1) == "delivered"
    assert module.state_of(11 if module is kavenegar else 2) == "undelivered"


def test_smsir_delivery_states():
    assert [smsir.state_of(s) for s in (None, 1, 2, 3, 4, 5, 6, 7)] == [
        "queued", "delivered", "undelivered", "sent", "failed", "sent", "failed", "failed"]


# the fake operator's own API


def test_the_fake_is_told_over_http_and_says_which_api_each_message_came_through(sms_operator, kav, sir):
    control = requests.post(f"{sms_operator.url}/api/control", json={
        "down": ["kavenegar"], "reject": [OTHER], "undeliverable": [MOBILE], "latency_ms": {"smsir": 1}}).json()
    assert control["down"] == ["kavenegar"] and control["latency_ms"] == {"smsir": 1}
    with pytest.raises(ProviderError):
        kav.send(MOBILE, "آزمایش", "a")
    sir.send(MOBILE, "آزمایش", "b")
    listed = requests.get(f"{sms_operator.url}/api/messages", params={"receptor": MOBILE, "wait": 5}).json()
    assert [(m["api"], m["receptor"], m["status"]) for m in listed] == [("smsir", MOBILE, 1)]
    assert {"messageid", "localid", "message", "sender", "receptor", "date", "cost", "segments", "status",
            "statustext"} <= set(listed[0])
    assert requests.get(f"{sms_operator.url}/api/requests").json() == {"kavenegar": 1, "smsir": 1}
    assert requests.delete(f"{sms_operator.url}/api/messages").status_code == 204
    assert requests.get(f"{sms_operator.url}/api/control").json()["down"] == []


# the router


def test_when_kavenegar_is_down_smsir_sends(kav, sir, op, clock):
    op.control["down"] = ["kavenegar"]
    accepted = router(kav, sir, clock).send(MOBILE, "آزمایش", "a")
    assert accepted.provider == "smsir" and accepted.cost_rials == 1200
    assert [(m["api"], m["receptor"]) for m in op.messages] == [("smsir", MOBILE)]


def test_a_timeout_does_not_fail_over_while_the_operator_may_hold_the_message(sms_operator, sir, op, clock):
    """Kavenegar hangs (its lookups too): it may have taken the message, and cannot be asked; the message stays
    with it, in doubt, and SMS.ir is not asked to send it."""
    slow = KavenegarProvider(sms_operator.url, "demo-api-key", "10001482", timeout=0.3)
    op.control.update(down=["kavenegar"], down_mode="timeout")
    try:
        with pytest.raises(InDoubt) as doubt:
            router(slow, sir, clock).send(MOBILE, "آزمایش", "a")
        calls, messages = list(op.calls), list(op.messages)
    finally:
        op.reset()  # lets the held requests go
    assert doubt.value.provider == "kavenegar" and doubt.value.ambiguous
    assert calls == [("kavenegar", "send"), ("kavenegar", "statuslocalmessageid")] and messages == []


@pytest.mark.parametrize("then", ["hang", "drop", "error"])
def test_an_operator_that_took_the_message_and_then_failed_is_asked_and_nobody_sends_it_again(
        sms_operator, sir, op, clock, then):
    """Kavenegar takes the message, then times out, drops the connection or answers a 500: the router asks it by
    our local id, finds the message, and sends it nowhere else."""
    kav = KavenegarProvider(sms_operator.url, "demo-api-key", "10001482", timeout=0.5)
    op.control.update(accept_then={"kavenegar": then})
    try:
        accepted = router(kav, sir, clock).send(MOBILE, "آزمایش", "a")
        calls, messages = list(op.calls), list(op.messages)
    finally:
        op.reset()  # lets a held answer go
    assert accepted.provider == "kavenegar" and accepted.provider_message_id == str(messages[0]["messageid"])
    assert calls == [("kavenegar", "send"), ("kavenegar", "statuslocalmessageid")] and len(messages) == 1


def test_a_500_from_an_operator_that_did_not_take_the_message_fails_over_after_asking(kav, sir, op, clock):
    op.control["fail_next"] = {"kavenegar": 1}  # its own server answers 500 and took nothing: it has finished
    accepted = router(kav, sir, clock).send(MOBILE, "آزمایش", "a")
    assert accepted.provider == "smsir"
    assert op.calls == [("kavenegar", "send"), ("kavenegar", "statuslocalmessageid"), ("smsir", "bulk")]


def test_a_timeout_without_the_message_taken_is_not_failed_over_at_once(sms_operator, sir, op, clock):
    """Kavenegar timed out and says right away that it does not hold the message; it may still be working on
    the request, so the message stays in doubt with it (the dispatcher asks again once that has settled)."""
    kav = KavenegarProvider(sms_operator.url, "demo-api-key", "10001482", timeout=0.5)
    op.control.update(accept_then={"kavenegar": "hang"}, accept_first={"kavenegar": 0})
    try:
        with pytest.raises(InDoubt):
            router(kav, sir, clock).send(MOBILE, "آزمایش", "a")
        messages, smsir_requests = list(op.messages), op.requests["smsir"]
    finally:
        op.reset()
    assert messages == [] and smsir_requests == 0


def test_a_request_that_never_reached_the_operator_fails_over_at_once(sms_operator, sir, op, clock):
    from scripts.processes import free_port

    nowhere = KavenegarProvider(f"http://127.0.0.1:{free_port()}", "demo-api-key", "10001482", timeout=2)
    with pytest.raises(ProviderError) as refused:
        nowhere.send(MOBILE, "آزمایش", "a")
    assert not refused.value.ambiguous  # connection refused: the request never left
    unresolvable = KavenegarProvider("http://sms-operator.invalid", "demo-api-key", "10001482", timeout=2)
    with pytest.raises(ProviderError) as unknown_name:
        unresolvable.send(MOBILE, "آزمایش", "a")
    assert not unknown_name.value.ambiguous
    assert router(nowhere, sir, clock).send(MOBILE, "آزمایش", "a").provider == "smsir"
    assert op.calls == [("smsir", "bulk")]


def test_a_bulk_request_cut_short_mid_array_sends_only_what_the_operator_did_not_take(kav, sir, op, clock):
    """Kavenegar takes 40 of a sendarray of 100 and drops the connection: the router asks it for the 100 in one
    request, takes the 40 as sent, keeps the 60 in doubt with it, and sends the next batch through it."""
    messages = [Outgoing(f"0912{i:07d}", f"متن {i}", f"m-{i}") for i in range(200)]
    op.control.update(accept_then={"kavenegar": "drop"}, accept_first={"kavenegar": 40})
    outcome = router(kav, sir, clock, batch_size=100, fail_max=5).deliver(messages)
    assert len(outcome.accepted) == 140 and {a.provider for a in outcome.accepted.values()} == {"kavenegar"}
    assert set(outcome.in_doubt) == {f"m-{i}" for i in range(40, 100)}
    assert set(outcome.in_doubt.values()) == {"kavenegar"} and not outcome.failed
    assert len(op.messages) == 140 and len({m["localid"] for m in op.messages}) == 140
    assert op.calls.count(("kavenegar", "statuslocalmessageid")) == 1 and op.requests["smsir"] == 0


def test_the_circuit_opens_after_fail_max_failures_and_the_down_operator_is_not_asked(kav, sir, op, clock):
    op.control["down"] = ["kavenegar"]
    r = router(kav, sir, clock, fail_max=2)
    sent = [r.send(MOBILE, f"پیام {i}", f"m-{i}") for i in range(5)]
    assert {a.provider for a in sent} == {"smsir"}
    assert op.requests["kavenegar"] == 2 and op.requests["smsir"] == 5
    assert r.health() == {"kavenegar": "open", "smsir": "closed"}

    op.control["down"] = []
    clock.now += 31  # past reset_timeout: one trial request, which succeeds
    assert r.send(MOBILE, "دوباره", "again").provider == "kavenegar"
    assert r.health()["kavenegar"] == "closed" and op.requests["kavenegar"] == 3


def test_a_failed_trial_opens_the_circuit_again(kav, sir, op, clock):
    op.control["down"] = ["kavenegar"]
    r = router(kav, sir, clock, fail_max=1)
    r.send(MOBILE, "یک", "a")
    clock.now += 31
    assert r.send(MOBILE, "دو", "b").provider == "smsir"
    assert op.requests["kavenegar"] == 2 and r.health()["kavenegar"] == "open"
    r.send(MOBILE, "سه", "c")
    assert op.requests["kavenegar"] == 2


def test_when_the_first_operators_bucket_is_empty_the_second_sends(kav, sir, op, clock):
    r = router(kav, sir, clock, rate_per_second={"kavenegar": 2, "smsir": 100})
    sent = [r.send(MOBILE, f"پیام {i}", f"m-{i}").provider for i in range(4)]
    assert sent == ["kavenegar", "kavenegar", "smsir", "smsir"]
    clock.now += 0.5  # one token back
    assert r.send(MOBILE, "بعد", "later").provider == "kavenegar"


def test_when_every_bucket_is_empty_the_router_waits_for_the_earliest_token_up_to_a_bound(kav, sir, op, clock):
    r = router(kav, sir, clock, rate_per_second={"kavenegar": 1, "smsir": 2}, max_wait=1.0)
    assert [r.send(MOBILE, f"پیام {i}", f"m-{i}").provider for i in range(3)] == ["kavenegar", "smsir", "smsir"]
    assert r.send(MOBILE, "صبر", "wait").provider == "smsir"  # smsir's next token comes first (0.5 s)
    assert clock.slept == [0.5]

    hurried = router(kav, sir, clock, rate_per_second={"kavenegar": 1, "smsir": 1}, max_wait=0.1)
    hurried.send(MOBILE, "یک", "x1")
    hurried.send(MOBILE, "دو", "x2")
    with pytest.raises(ProviderError) as limited:
        hurried.send(MOBILE, "سه", "x3")
    assert limited.value.retryable and "rate limit" in str(limited.value)


def test_a_refused_recipient_is_not_tried_on_the_other_operator(kav, sir, op, clock):
    op.control["reject"] = [MOBILE]
    r = router(kav, sir, clock)
    with pytest.raises(ProviderError) as refused:
        r.send(MOBILE, "آزمایش", "a")
    assert refused.value.about_the_message
    assert op.requests["smsir"] == 0 and r.health() == {"kavenegar": "closed", "smsir": "closed"}


def test_an_account_fault_fails_over(sms_operator, sir, op, clock):
    wrong_key = KavenegarProvider(sms_operator.url, "not-the-key", "10001482")
    accepted = router(wrong_key, sir, clock).send(MOBILE, "آزمایش", "a")
    assert accepted.provider == "smsir"


def test_when_no_operator_takes_a_message_the_error_is_retryable(kav, sir, op, clock):
    op.control["down"] = ["kavenegar", "smsir"]
    with pytest.raises(ProviderError) as failed:
        router(kav, sir, clock).send(MOBILE, "آزمایش", "a")
    assert failed.value.retryable and "kavenegar" in str(failed.value) and "smsir" in str(failed.value)


def test_bulk_sends_fail_over_per_batch_in_order(kav, sir, op, clock):
    op.control["down"] = ["kavenegar"]
    messages = [Outgoing(f"0912{i:07d}", f"متن {i}", f"m-{i}") for i in range(250)]
    accepted = router(kav, sir, clock, batch_size=100, fail_max=5).send_bulk(messages)
    assert len(accepted) == 250 and {a.provider for a in accepted} == {"smsir"}
    by_id = {str(m["messageid"]): m["receptor"] for m in op.messages}
    assert [by_id[a.provider_message_id] for a in accepted] == [m.recipient for m in messages]
    assert op.requests["kavenegar"] == 3


def test_a_bulk_send_cut_short_goes_on_with_the_rest_on_the_next_operator(kav, sir, op, clock):
    messages = [Outgoing(f"0912{i:07d}", f"متن {i}", f"m-{i}") for i in range(300)]
    op.control["fail_next"] = {"kavenegar": 0}
    original = kav._call

    def second_array_fails(method, path, **kwargs):
        if path == "sendarray.json" and op.calls.count(("kavenegar", "sendarray")) == 1:
            op.control["fail_next"] = {"kavenegar": 1}
        return original(method, path, **kwargs)

    kav._call = second_array_fails
    accepted = router(kav, sir, clock, batch_size=300).send_bulk(messages)
    assert [a.provider for a in accepted] == ["kavenegar"] * 200 + ["smsir"] * 100
    assert len(op.messages) == 300 and len({m["receptor"] for m in op.messages}) == 300


def test_the_router_finds_a_message_by_local_id_where_it_was_sent(kav, sir, op, clock):
    r = router(kav, sir, clock)
    sent = r.send(MOBILE, "آزمایش", "local-1")
    found = r.find_by_local_id("local-1")
    assert (found.provider_message_id, found.provider) == (sent.provider_message_id, "kavenegar")
    assert r.find_by_local_id("never-sent") is None

    op.control["down"] = ["kavenegar"]
    with pytest.raises(ProviderError):  # cannot tell whether Kavenegar holds it
        r.find_by_local_id("unknown")
    with pytest.raises(ProviderError):  # its circuit is open now (fail_max 2): still nobody can tell
        r.find_by_local_id("unknown")


def test_the_router_asks_each_operator_what_it_holds_in_bulk_and_says_whom_it_could_not_ask(kav, sir, op, clock):
    import time

    r = router(kav, sir, clock)
    since = time.time()
    by_kav = [Outgoing(f"0912{i:07d}", f"متن {i}", f"k-{i}") for i in range(3)]
    by_sir = [Outgoing(f"0935{i:07d}", "یک متن", f"s-{i}") for i in range(2)]
    kav.send_bulk(by_kav)
    sir.send_bulk(by_sir[:1])
    nowhere = Outgoing(MOBILE, "هرگز", "never")
    found, unasked = r.find_sent(by_kav + by_sir + [nowhere], since)
    assert {k: v.provider for k, v in found.items()} == {"k-0": "kavenegar", "k-1": "kavenegar", "k-2": "kavenegar",
                                                         "s-0": "smsir"}
    assert unasked == set()
    assert op.calls.count(("kavenegar", "statuslocalmessageid")) == 1 and op.calls.count(("smsir", "live")) == 1

    op.control["status_mode"] = {"smsir": "error"}
    found, unasked = r.find_sent(by_sir, since, at=["smsir", "magfa"])
    assert found == {} and unasked == {"smsir", "magfa"}  # magfa: no longer configured, never answers


def test_statuses_and_receipts_go_to_the_operator_that_sent(kav, sir, op, clock):
    op.delivery_after = 0
    r = router(kav, sir, clock)
    by_kavenegar = r.send(MOBILE, "یک", "a")
    op.control["down"] = ["kavenegar"]
    by_smsir = r.send(MOBILE, "دو", "b")
    assert r.statuses_for("smsir", [by_smsir.provider_message_id]) == {by_smsir.provider_message_id: "delivered"}
    op.control["down"] = []
    assert r.statuses_for("kavenegar", [by_kavenegar.provider_message_id]) == {
        by_kavenegar.provider_message_id: "delivered"}
    assert r.parse_receipt_for("kavenegar", {"messageid": "5", "status": "11"}) == [("5", "undelivered")]
    assert r.parse_receipt_for("smsir", {"messageId": 6, "deliveryState": 1}) == [("6", "delivered")]
    assert r.parse_receipt({"messageId": 6, "deliveryState": 2}) == [("6", "undelivered")]
    with pytest.raises(ValueError):
        r.parse_receipt_for("magfa", {})


def test_the_service_builds_its_router_from_settings():
    from common.config import Settings
    from services.notifications.dependencies import build_router

    settings = Settings(sms_providers="smsir, kavenegar", sms_breaker_fail_max=4, sms_rate_per_second=7)
    r = build_router(settings, kavenegar_url="http://kavenegar.test", smsir_url="http://smsir.test")
    assert [p.name for p in r.providers] == ["smsir", "kavenegar"]
    assert r.providers[0].base == "http://smsir.test/v1" and r.providers[1].base.startswith("http://kavenegar.test/")
    assert r.slots[0].breaker.fail_max == 4 and r.slots[0].bucket.rate == 7
    assert r.health() == {"smsir": "closed", "kavenegar": "closed"}
    with pytest.raises(ValueError):
        build_router(Settings(sms_providers="kavenegar,nobody"))


def test_the_token_bucket_refills_at_its_rate(clock):
    bucket = TokenBucket(2, clock=clock)
    assert bucket.take() == 0 and bucket.take() == 0
    assert bucket.take() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.take() == 0
    assert bucket.take(5) == pytest.approx(1.0)  # a batch larger than the bucket waits for a full one
    clock.now += 1
    assert bucket.take(5) == 0 and bucket.tokens == -3  # and leaves it in debt
    assert TokenBucket(0, clock=clock).take(1000) == 0  # no limit
