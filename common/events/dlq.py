"""Dead letters: look at what a consumer gave up on, and replay it once the cause is fixed.

    python -m common.events.dlq show   <queue>           # the messages waiting in <queue>.dlq
    python -m common.events.dlq replay <queue> [--limit N]

Replay republishes each message, unchanged, to the consumer's own queue (not to the exchange, so
other consumers do not see it twice) with publisher confirms, then removes it from the dead-letter
queue. The consumer's inbox makes a replay of something already handled harmless.
"""
from __future__ import annotations

import argparse
import json

from kombu import Connection, Exchange, Producer

from common.config import get_settings
from common.events.envelope import register_kombu_serializer
from common.events.handler import dead_letter_queue

ACCEPT = ["cloudevents", "json"]


def show(amqp_uri: str, queue_name: str, limit: int = 100) -> list[dict]:
    """The dead letters, oldest first, left in place."""
    register_kombu_serializer()
    found = []
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        queue = dead_letter_queue(queue_name)(channel)
        while len(found) < limit and (message := queue.get(no_ack=False, accept=ACCEPT)) is not None:
            deaths = message.headers.get("x-death") or [{}]
            body = message.decode()
            found.append({"id": body.get("id"), "type": body.get("type"), "subject": body.get("subject"),
                          "reason": deaths[0].get("reason"), "count": deaths[0].get("count")})
        channel.close()  # closing without acking puts every message back
    return found


def replay(amqp_uri: str, queue_name: str, limit: int | None = None) -> int:
    register_kombu_serializer()
    replayed = 0
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        queue = dead_letter_queue(queue_name)(channel)
        producer = Producer(channel)
        while limit is None or replayed < limit:
            message = queue.get(no_ack=False, accept=ACCEPT)
            if message is None:
                break
            headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-")}
            producer.publish(message.body, exchange=Exchange(""), routing_key=queue_name,
                             content_type=message.content_type, content_encoding=message.content_encoding,
                             headers=headers, delivery_mode=2,
                             message_id=message.properties.get("message_id"))
            message.ack()  # only once the broker confirmed the copy
            replayed += 1
    return replayed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Inspect and replay dead-lettered events")
    parser.add_argument("action", choices=["show", "replay"])
    parser.add_argument("queue", help="the consumer's queue, e.g. evt-complaints-…--notifications.on_case_registered")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args(argv)
    uri = get_settings().amqp_uri
    if args.action == "show":
        print(json.dumps(show(uri, args.queue, args.limit or 100), ensure_ascii=False, indent=2))
    else:
        print(f"replayed {replay(uri, args.queue, args.limit)} messages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
