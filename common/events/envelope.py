"""The CloudEvents 1.0 structured JSON envelope: every event on the platform's exchanges is one.

`source` + `id` is unique and is the consumers' deduplication key.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from functools import lru_cache

from common.events.catalog import EventType

CONTENT_TYPE = "application/cloudevents+json"
SCHEMA_BASE = "/api/v1/events/schemas"  # served by the gateway


def source_of(service: str) -> str:
    return f"/behzisti/{service}"


def new_event(event_type: EventType, data: dict, subject: str | None = None,
              event_id: str | None = None, time: datetime | None = None) -> dict:
    envelope = {
        "specversion": "1.0",
        "id": event_id or random_id(),
        "source": source_of(event_type.publisher),
        "type": event_type.type,
        "time": _time(time) if time is not None else _time_text(datetime.now(timezone.utc)),
        "datacontenttype": "application/json",
        "dataschema": f"{SCHEMA_BASE}/{event_type.type}.json",
        "data": data,
    }
    if subject is not None:
        envelope["subject"] = subject
    return envelope


def random_id() -> str:
    return random_ids(1)[0]


def random_ids(count: int) -> list[str]:
    """`count` ids as str(uuid.uuid4()) writes them, made from one read of the system's random source (uuid4
    reads it once per id, most of its cost; a sweep or a payment batch stages thousands of events)."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = bytes(b & 0x0F | 0x40 for b in raw[6::16])  # version 4
    raw[8::16] = bytes(b & 0x3F | 0x80 for b in raw[8::16])  # the RFC 4122 variant
    h = raw.hex()
    return [f"{h[i:i + 8]}-{h[i + 8:i + 12]}-{h[i + 12:i + 16]}-{h[i + 16:i + 20]}-{h[i + 20:i + 32]}"
            for i in range(0, 32 * count, 32)]


def _time_text(time: datetime) -> str:
    return time.isoformat().replace("+00:00", "Z")


def _time(time: datetime) -> str:
    return _time_cached(time, time.utcoffset())  # equal moments in other offsets are written otherwise


@lru_cache(maxsize=64)
def _time_cached(time: datetime, offset) -> str:  # the events of a batch share their time
    return _time_text(time)


# kombu serializer for application/cloudevents+json (registered through nameko's SERIALIZERS config
# and by the relay), so nameko handlers and plain AMQP consumers read the same bytes.
def encode(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def decode(payload):
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8")
    return json.loads(payload)


def register_kombu_serializer() -> None:
    from kombu.serialization import register

    register("cloudevents", encode, decode, content_type=CONTENT_TYPE, content_encoding="utf-8")
