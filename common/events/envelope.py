"""The CloudEvents 1.0 structured JSON envelope: every event on the platform's exchanges is one.

`source` + `id` is unique and is the consumers' deduplication key.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from common.events.catalog import EventType

CONTENT_TYPE = "application/cloudevents+json"
SCHEMA_BASE = "/api/v1/events/schemas"  # served by the gateway


def source_of(service: str) -> str:
    return f"/behzisti/{service}"


def new_event(event_type: EventType, data: dict, subject: str | None = None,
              event_id: str | None = None, time: datetime | None = None) -> dict:
    envelope = {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": source_of(event_type.publisher),
        "type": event_type.type,
        "time": (time or datetime.now(timezone.utc)).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "dataschema": f"{SCHEMA_BASE}/{event_type.type}.json",
        "data": data,
    }
    if subject is not None:
        envelope["subject"] = subject
    return envelope


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
