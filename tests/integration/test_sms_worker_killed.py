"""The notifications process killed (SIGKILL) in the middle of a bulk chunk, while the operator holds the answer
to a request it has partly taken; a new process resumes the chunk: each citizen gets the message once, and the
operators are asked in bulk (issue 17, item 4: "a bulk chunk resumed after a crash sends only what the operator
does not already have").

The process is the real one (`python -m common.run notifications`) on a real RabbitMQ and PostgreSQL; the fake
SMS operator, in this process, counts what citizens get."""
from __future__ import annotations

from collections import Counter

import pytest
import requests
import sqlalchemy as sa

from tests.helpers import disbursements, publish
from tests.integration.processes import Process, consuming, platform_env, rows, wait_for

QUEUE = "evt-payments-ir.behzisti.payments.disbursements.published.v1--notifications.on_disbursements_published"
TAKEN_BEFORE_THE_KILL = 60


@pytest.fixture
def notifications_db(db_urls):
    engine = sa.create_engine(db_urls["notifications"])
    yield engine
    engine.dispose()


def test_a_bulk_chunk_cut_short_by_sigkill_is_resumed_without_sending_anything_twice(
        rabbit_config, db_urls, sms_operator, notifications_db, tmp_path):
    op, url = sms_operator.operator, sms_operator.url
    amqp = rabbit_config["AMQP_URI"]
    # the first request of the chunk: Kavenegar takes 60 of its 100 messages and holds the answer; the worker,
    # which would wait a minute for it, is killed meanwhile
    op.control.update(accept_then={"kavenegar": "hang"}, accept_first={"kavenegar": TAKEN_BEFORE_THE_KILL})
    first = Process(["common.run", "notifications"], platform_env(amqp, db_urls, url, SMS_TIMEOUT="60"),
                    tmp_path / "first.log")
    second = None
    try:
        wait_for(first.ready, 60, "the first notifications process to be ready")
        wait_for(consuming(amqp, QUEUE), 60, "the first process to consume")
        event = disbursements(500)
        publish(amqp, event)
        taken = requests.get(f"{url}/api/messages/count", params={"min": TAKEN_BEFORE_THE_KILL, "wait": 30},
                             timeout=40).json()["count"]
        assert taken == TAKEN_BEFORE_THE_KILL
        wait_for(lambda: requests.get(f"{url}/api/control", timeout=5).json()["held"] == 1, 10,
                 "the operator to hold the answer")
        first.kill()  # SIGKILL, while the request is in flight
        requests.post(f"{url}/api/control", json={"release": True}, timeout=5)
        assert dict(rows(notifications_db, "SELECT status, count(*) FROM sms_messages GROUP BY status")) == {
            "sending": 500}
        with notifications_db.begin() as conn:  # as if STALE_SENDING had passed since the claim
            conn.execute(sa.text("UPDATE sms_messages SET claimed_at = claimed_at - interval '5 minutes'"))
        calls_before = len(op.calls)

        second = Process(["common.run", "notifications"], platform_env(amqp, db_urls, url), tmp_path / "second.log")
        wait_for(second.ready, 60, "the second notifications process to be ready")
        wait_for(lambda: dict(rows(notifications_db, "SELECT status, count(*) FROM sms_messages GROUP BY status"))
                 == {"sent": 500}, 60, "every message of the chunk to be sent")
    finally:
        first.kill()
        if second is not None:
            second.kill()
    got = requests.get(f"{url}/api/messages", timeout=30).json()
    assert Counter(m["receptor"] for m in got) == Counter({i["mobile"]: 1 for i in event["data"]["items"]})
    recovery = Counter(op.calls[calls_before:])
    assert recovery[("kavenegar", "statuslocalmessageid")] == 1 and recovery[("smsir", "live")] == 1
    assert recovery[("kavenegar", "sendarray")] <= 5  # 440 messages, in bulk
    sent = dict(rows(notifications_db, "SELECT count(*), count(DISTINCT provider_message_id) FROM sms_messages"))
    assert sent == {500: 500}
