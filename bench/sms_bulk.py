"""Benchmark 6: bulk SMS (issue "Notifications"). A payment cycle's "your pension was paid" messages,
from `payments.disbursements.published` events on RabbitMQ to the fake operator's bulk endpoint
(Kavenegar's sendarray.json), through the notifications service as it runs in production: inbox, one INSERT
per batch that queues its messages and claims the first 500 of them, bulk sends of 100 (the router's batch), each
send recorded with its `sms.sent` event in the outbox.
Beside it, in the same run: the same messages posted straight to the same endpoint by one client,
200 per request (the operator's limit), nothing recorded.

    .venv/bin/python -m bench.sms_bulk [--events 40] [--per-event 500]
"""
from __future__ import annotations

import argparse
import json
import time
import uuid

import requests
from kombu import Connection, Producer

from bench.harness import databases, vhost
from bench.results import record
from common.config import PROJECT_ROOT, get_settings
from common.events.catalog import DISBURSEMENTS_PUBLISHED
from common.events.envelope import new_event, register_kombu_serializer
from common.outbox.relay import event_exchange
from scripts.processes import free_port, platform_processes, start_platform, wait_ready

CHUNK = 200


def event(n: int, offset: int) -> dict:
    items = [{"order_id": f"1405-09.pension.{offset + i:010d}", "national_id": f"{offset + i:010d}",
              "mobile": f"093{offset + i:08d}", "amount_rials": 12_500_000, "province": "tehran"} for i in range(n)]
    return new_event(DISBURSEMENTS_PUBLISHED, {
        "cycle_id": "1405-09.pension", "budget_line": "pension", "budget_line_fa": "مستمری خانوارهای دارای معلول",
        "month": "1405-09", "month_fa": "آذر ۱۴۰۵", "batch": 1 + offset // n, "batches": 1_000,
        "paid_at": "2026-11-26T09:00:00Z", "items": items}, subject="1405-09.pension")


def wait_for(sms: str, n: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if requests.get(f"{sms}/api/messages/count", params={"wait": 30, "min": n}, timeout=40).json()["count"] >= n:
            return
    raise TimeoutError(f"the operator did not get {n} messages in {timeout}s")


def baseline(sms: str, events: list[dict]) -> float:
    key = get_settings().sms_api_key
    body = "بهزیستی: مستمری خانوارهای دارای معلول آذر ۱۴۰۵ به مبلغ ۱۲٬۵۰۰٬۰۰۰ ریال به حساب شما واریز شد."
    mobiles = [item["mobile"] for e in events for item in e["data"]["items"]]
    http = requests.Session()
    started = time.perf_counter()
    for start in range(0, len(mobiles), CHUNK):
        chunk = mobiles[start:start + CHUNK]
        answer = http.post(f"{sms}/v1/{key}/sms/sendarray.json", data={
            "receptor": json.dumps(chunk), "message": json.dumps([body] * len(chunk)),
            "sender": json.dumps(["10001482"] * len(chunk)),
            "localmessageids": json.dumps([str(uuid.uuid4()) for _ in chunk])}, timeout=30)
        assert answer.json()["return"]["status"] == 200, answer.text
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--per-event", type=int, default=500)
    args = parser.parse_args()
    total = args.events * args.per_event
    events = [event(args.per_event, i * args.per_event) for i in range(args.events)]
    register_kombu_serializer()
    with databases() as dbs, vhost() as amqp:
        ports = {"sms-operator": free_port(), "gateway": free_port()}
        ports.update({f"metrics:{name}": free_port() for name in platform_processes()})
        group = start_platform(amqp, dbs, ports, str(PROJECT_ROOT), only={"sms-operator", "notifications"},
                               extra_env={"QUIET_HOURS": "", "SMS_PROVIDERS": "kavenegar", "LOG_LEVEL": "WARNING",
                                          "SMS_RATE_PER_SECOND": "0"})  # the platform, not a contract
        sms = f"http://127.0.0.1:{ports['sms-operator']}"
        try:
            wait_ready(f"{sms}/healthz", group)
            wait_ready(f"http://127.0.0.1:{ports['metrics:notifications']}/readyz", group)
            raw_seconds = baseline(sms, events)
            requests.delete(f"{sms}/api/messages", timeout=10)

            exchange = event_exchange(DISBURSEMENTS_PUBLISHED.exchange)
            with Connection(amqp, transport_options={"confirm_publish": True}) as conn:
                producer = Producer(conn.default_channel, serializer="cloudevents")
                started = time.perf_counter()
                for e in events:
                    producer.publish(e, exchange=exchange, routing_key=e["type"], declare=[exchange],
                                     delivery_mode=2, message_id=e["id"])
                wait_for(sms, total)
                seconds = time.perf_counter() - started
        finally:
            group.stop()
    result = {
        "benchmark": "sms_bulk", "messages": total, "events": args.events,
        "subject": {"what": "events → notifications → bulk endpoint", "seconds": round(seconds, 2),
                    "per_second": round(total / seconds)},
        "baseline": {"what": "the same messages posted straight to the bulk endpoint", "seconds": round(raw_seconds, 2),
                     "per_second": round(total / raw_seconds)},
        "ratio_per_second": round(raw_seconds / seconds, 3),
        "aim_1000_per_second": total / seconds >= 1000,
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    record("bulk SMS from events to the operator", result)


if __name__ == "__main__":
    main()
