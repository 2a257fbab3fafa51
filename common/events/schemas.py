"""JSON Schemas of the events, kept in contracts/events/ (one file per event type, plus the
envelope). Every event is checked before it enters the outbox, so nothing off-contract is published."""
from __future__ import annotations

import json
from functools import lru_cache

import fastjsonschema
from jsonschema import Draft202012Validator

from common.config import PROJECT_ROOT
from common.events import many_items

SCHEMA_DIR = PROJECT_ROOT / "contracts" / "events"
ENVELOPE = "cloudevents-envelope"


class EventContractError(ValueError):
    permanent = True  # an event off its contract stays off it: dead-letter it at once


@lru_cache(maxsize=1)
def _names() -> frozenset[str]:
    return frozenset(p.stem for p in SCHEMA_DIR.glob("*.json"))


@lru_cache
def load_schema(name: str) -> dict:
    """The schema of that name, one of contracts/events/. Any other name (an event's type is input: it may be
    300 characters long, or `../x`) is no path to try but an event off its contract."""
    if not isinstance(name, str) or name not in _names():
        raise EventContractError(f"no schema for event type {name[:200]!r}" if isinstance(name, str) else
                                 f"no schema for an event type of {type(name).__name__}")
    return json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))


@lru_cache
def _validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def errors_of(envelope: dict) -> list[str]:
    """Every way the envelope or its data breaks the contract, empty when it keeps it."""
    problems = [f"envelope: {e.json_path}: {e.message}" for e in _validator(ENVELOPE).iter_errors(envelope)]
    event_type = envelope.get("type") if isinstance(envelope, dict) else None  # not an object: said above
    if isinstance(event_type, str):
        try:
            validator = _validator(event_type)
        except EventContractError as exc:
            return problems + [str(exc)]
        problems += [f"data: {e.json_path}: {e.message}" for e in validator.iter_errors(envelope.get("data"))]
    return problems


@lru_cache
def _fast(name: str):
    """The schema compiled to Python (fastjsonschema): ~15x quicker than walking it, which matters
    when a sweep stages 100,000 events. jsonschema stays the reference and writes the messages."""
    return fastjsonschema.compile(load_schema(name))


@lru_cache
def _items_rules(name: str):
    return many_items.rules(load_schema(name).get("properties", {}).get("items"))


def validate(envelope: dict) -> None:
    """Raises EventContractError when the event is off its contract. An event of thousands of items has them
    checked a column at a time (common/events/many_items.py), with the same verdict as `validate_in_full`."""
    validate_in_full(many_items.for_the_schema(envelope, _items_rules))


def validate_in_full(envelope: dict) -> None:
    """The schema itself on the whole event: the reference `validate` keeps to."""
    try:
        _fast(ENVELOPE)(envelope)
        _fast(envelope["type"])(envelope["data"])
        return
    except (fastjsonschema.JsonSchemaException, KeyError, TypeError, EventContractError):
        pass
    problems = errors_of(envelope)
    if problems:
        raise EventContractError("; ".join(problems))


def schema_names() -> list[str]:
    return sorted(_names())
