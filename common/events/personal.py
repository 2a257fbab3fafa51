"""Which fields of an event are a person's data.

The event schemas (contracts/events/) mark each personal field with `"x-personal": true`: a citizen's
mobile or national ID, a beneficiary's masked account, a staff member's mobile (and everything inside a
marked field). A type with any personal field is granted only to integrators entitled to personal data
(services/notifications/integrator_access.py): the broker routes whole events and cannot take fields out.
"""
from __future__ import annotations

from functools import lru_cache

from common.events import schemas

PERSONAL = "x-personal"


@lru_cache
def personal_fields(event_type: str) -> tuple[str, ...]:
    """The personal fields as integrators' documents name them (`items[].national_id`)."""
    found: list[str] = []

    def walk(node: dict, path: str) -> None:
        for name, child in node.get("properties", {}).items():
            if child.get(PERSONAL):
                found.append(f"{path}{name}")
            else:
                walk(child, f"{path}{name}.")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path.rstrip('.')}[].")

    walk(schemas.load_schema(event_type), "")
    return tuple(found)
