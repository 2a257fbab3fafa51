"""Dead letters: look at what a consumer gave up on, and replay it once the cause is fixed.

    python -m common.events.dlq show   <queue> [--limit N]  # the messages waiting in <queue>.dlq
    python -m common.events.dlq replay <queue> [--limit N]

`show` takes the messages and gives them back (AMQP has no peek) by an explicit basic.nack with
requeue, which RabbitMQ 4.3+ does not count as a failed delivery; 3.10-4.2 count every return, which
the `.dlq` queues' own delivery limit (10**9, common/events/handler.py) makes harmless: reading dead
letters never drops one, however often.

`replay` republishes each message, unchanged (its message_id too, less the broker's x- headers), to the
consumer's own queue through the default exchange (not to the event exchange, so other consumers do not
see it twice), and removes it from the dead-letter queue only once the broker has confirmed the copy:
- the target queue must exist (a passive declare, before anything is taken): the default exchange would
  confirm a copy to a missing queue and drop it;
- each copy is published mandatory, with publisher confirms: a copy the broker returns (the queue was
  deleted meanwhile), refuses (nack) or does not confirm in time stops the replay with the message still
  in `.dlq`, and the command exits non-zero saying why.
A copy confirmed but whose dead letter could not be acked (the connection dropped between the two) is
replayed twice; the consumer's inbox makes a replay of something already handled harmless.

Exit status: 0 done; 1 the replay stopped (or a queue is missing), nothing lost, the reason on stderr.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

from amqp import spec
from amqp.exceptions import ChannelError, MessageNacked, NotFound
from kombu import Connection, Exchange, Producer, Queue

from common.config import get_settings
from common.events.envelope import register_kombu_serializer
from common.events.handler import dead_letter_queue

ACCEPT = ["cloudevents", "json"]
CONFIRM_TIMEOUT = 30.0  # seconds to wait for the broker's confirm of one copy
# a copy's properties besides its body, content type and headers (not user_id: the broker checks it
# against whoever publishes; not expiration: a copy would start its time again)
KEPT_PROPERTIES = ("message_id", "correlation_id", "reply_to", "timestamp", "type", "app_id", "priority")


class ReplayError(RuntimeError):
    """A replay (or a move) stopped: the message it was on stays where it was. `.moved` were done before."""

    def __init__(self, message: str, moved: int = 0):
        super().__init__(message)
        self.moved = moved


def show(amqp_uri: str, queue_name: str, limit: int = 100) -> list[dict]:
    """The dead letters, oldest first, left in place."""
    register_kombu_serializer()
    found = []
    with Connection(amqp_uri) as conn:
        require_queue(conn, f"{queue_name}.dlq")
        channel = conn.channel()
        queue = dead_letter_queue(queue_name)(channel)
        last_tag = None
        try:
            while len(found) < limit and (message := queue.get(no_ack=False, accept=ACCEPT)) is not None:
                last_tag = message.delivery_tag
                deaths = message.headers.get("x-death") or [{}]
                body = message.decode()
                found.append({"id": body.get("id"), "type": body.get("type"), "subject": body.get("subject"),
                              "reason": deaths[0].get("reason"), "count": deaths[0].get("count")})
        finally:
            if last_tag is not None:
                nack(channel, last_tag, multiple=True)  # every one back, in order
            channel.close()  # and closing without acking puts back anything the nack did not
    return found


def require_queue(conn: Connection, name: str) -> None:
    """Raise ReplayError unless queue `name` exists (a passive declare, on a channel of its own: the broker
    closes the channel that asked for a missing queue)."""
    channel = conn.channel()
    try:
        channel.queue_declare(queue=name, passive=True)
    except NotFound:
        raise ReplayError(f"queue {name!r} does not exist") from None
    finally:
        try:
            channel.close()
        except (ChannelError, OSError):
            pass


def replay_headers(headers: dict) -> dict:
    """A replayed message starts afresh: none of the broker's x- headers (x-death, the delivery counts)."""
    return {k: v for k, v in (headers or {}).items() if not k.startswith("x-")}


def move(conn: Connection, source: str, target: str, limit: int | None = None,
         headers: Callable[[dict], dict] = replay_headers) -> int:
    """Move messages from queue `source` to queue `target` (through the default exchange), each acked from
    `source` only once the broker confirmed its copy in `target`. Raises ReplayError on a copy returned,
    refused or unconfirmed, that message left in `source`; the number moved otherwise."""
    channel = conn.channel()
    if not channel.connection.confirm_publish:
        raise ValueError("move needs a connection with confirm_publish")
    returned: list[str] = []

    def on_return(exc, exchange, routing_key, message):
        returned.append(f"{exc}")

    producer = Producer(channel, on_return=on_return)
    queue = Queue(source, no_declare=True)(channel)
    moved = 0
    try:
        while limit is None or moved < limit:
            message = queue.get(no_ack=False)  # moved as it is, never decoded
            if message is None:
                break
            returned.clear()
            try:
                producer.publish(message.body, exchange=Exchange(""), routing_key=target, mandatory=True,
                                 content_type=message.content_type, content_encoding=message.content_encoding,
                                 headers=headers(message.headers), delivery_mode=2,
                                 timeout=CONFIRM_TIMEOUT, retry=False,
                                 **{k: v for k, v in message.properties.items() if k in KEPT_PROPERTIES})
            except MessageNacked:
                why = "the broker refused the copy (nack)"
            except TimeoutError:
                why = f"the broker did not confirm the copy within {CONFIRM_TIMEOUT:.0f}s"
            else:
                why = f"the broker returned the copy ({returned[0]})" if returned else None
            if why:
                _give_back(channel, message.delivery_tag)
                raise ReplayError(f"{why}; message {message.properties.get('message_id') or '(no id)'} stays "
                                  f"in {source}", moved)
            message.ack()  # only once the broker confirmed the copy
            moved += 1
    finally:
        try:
            channel.close()  # anything taken and not acked goes back
        except (ChannelError, OSError):
            pass
    return moved


def nack(channel, delivery_tag: int, multiple: bool = False, requeue: bool = True) -> None:
    """basic.nack, which py-amqp sends but does not name: a return that RabbitMQ 4.3+ does not count as a
    failed delivery (basic.reject does)."""
    channel.send_method(spec.Basic.Nack, "Lbb", (delivery_tag, multiple, requeue))


def _give_back(channel, delivery_tag) -> None:
    try:
        nack(channel, delivery_tag)
    except (ChannelError, OSError):
        pass  # closing the channel (or the connection) gives it back all the same


def replay(amqp_uri: str, queue_name: str, limit: int | None = None) -> int:
    """Replay up to `limit` dead letters of `queue_name`; the number replayed. Raises ReplayError (see the
    module's docstring): the message it stopped on, and every one after it, stay in `.dlq`."""
    register_kombu_serializer()
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        require_queue(conn, f"{queue_name}.dlq")
        try:
            require_queue(conn, queue_name)
        except ReplayError as exc:
            raise ReplayError(f"{exc}: no consumer's queue to replay to (is the queue name right, is the "
                              "service deployed?); nothing replayed, the dead letters stay") from None
        return move(conn, f"{queue_name}.dlq", queue_name, limit)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Inspect and replay dead-lettered events")
    parser.add_argument("action", choices=["show", "replay"])
    parser.add_argument("queue", help="the consumer's queue, e.g. evt-complaints-…--notifications.on_case_registered")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args(argv)
    uri = get_settings().amqp_uri
    try:
        if args.action == "show":
            print(json.dumps(show(uri, args.queue, args.limit or 100), ensure_ascii=False, indent=2))
        else:
            print(f"replayed {replay(uri, args.queue, args.limit)} messages")
    except ReplayError as exc:
        done = f"replayed {exc.moved} messages, then stopped: " if args.action == "replay" else ""
        print(f"{done}{exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
