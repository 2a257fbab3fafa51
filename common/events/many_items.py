"""A quick check of the events that carry thousands of items (a disbursements batch: 5,000), for
schemas.validate. The schema checks the envelope, every other field and the first item; the rest of the items
are checked a column at a time (one pass of C code over each column where the schema's validator walks each item
in Python: 2.2 against 8.2 ms for 5,000; docs/benchmarks.md §8), a check that passes only items the schema
accepts. Anything it does not pass plainly (an unknown key, a float amount, a national ID with a trailing
newline, a contract that says something else) goes to the schema with every item, which raises or accepts as
always. tests/unit/test_event_many_items.py compares both verdicts on 90 altered events."""
from __future__ import annotations

import re
from operator import itemgetter

from common.events.catalog import DISBURSEMENTS_PUBLISHED

# The disbursements contract's items, as this check knows them (the schema's rules, its annotations left out).
# Should the contract's items say anything else, the check gives way to the schema itself.
DISBURSEMENT_ITEMS = {
    "type": "array", "minItems": 1, "maxItems": 5000,
    "items": {
        "type": "object", "required": ["order_id", "national_id", "amount_rials", "province"],
        "additionalProperties": False,
        "properties": {
            "order_id": {"type": "string"},
            "national_id": {"type": "string", "pattern": "^[0-9]{10}$"},
            "mobile": {"type": "string", "pattern": "^09[0-9]{9}$"},
            "amount_rials": {"type": "integer", "minimum": 1},
            "province": {"type": "string"},
            "account_masked": {"type": "string", "pattern": r"^IR\*\* (\*\*\*\* ){4}\*\*[0-9]{2} [0-9]{2}$"},
        },
    },
}
_ANNOTATIONS = frozenset({"title", "description", "examples", "$comment", "x-personal"})
_REQUIRED_KEYS = len(DISBURSEMENT_ITEMS["items"]["required"])
# accounts of exactly 32 characters, one after another: the pattern is of fixed length, so the joined text
# matches it throughout exactly when each account does
_ACCOUNTS = re.compile(r"(?:IR\*\* (?:\*\*\*\* ){4}\*\*[0-9]{2} [0-9]{2})*")
_ORDER_ID, _NATIONAL_ID, _AMOUNT, _PROVINCE = (itemgetter(k) for k in ("order_id", "national_id", "amount_rials", "province"))


def rules(schema):
    """A schema without its annotations: what it accepts, nothing else."""
    if isinstance(schema, dict):
        return {k: rules(v) for k, v in schema.items() if k not in _ANNOTATIONS}
    return [rules(v) for v in schema] if isinstance(schema, list) else schema


def plainly_valid_disbursements(items: list) -> bool:
    """True only if every item keeps the contract's items (DISBURSEMENT_ITEMS); False may still be valid."""
    if set(map(type, items)) != {dict}:
        return False
    try:
        order_ids, national_ids, amounts, provinces = (list(map(get, items))
                                                       for get in (_ORDER_ID, _NATIONAL_ID, _AMOUNT, _PROVINCE))
    except KeyError:
        return False
    mobiles = [i["mobile"] for i in items if "mobile" in i]
    accounts = [i["account_masked"] for i in items if "account_masked" in i]
    # every item has the required keys, so the sizes add up only if none has a key the contract does not name
    if sum(map(len, items)) != _REQUIRED_KEYS * len(items) + len(mobiles) + len(accounts):
        return False
    if set(map(type, order_ids)) != {str} or set(map(type, provinces)) != {str}:
        return False
    if set(map(type, amounts)) != {int} or min(amounts) < 1:  # type() is never int for a bool
        return False
    if not _ascii_digits(national_ids, 10):
        return False
    if mobiles and not (_ascii_digits(mobiles, 11) and (joined := "".join(mobiles))[0::11] == "0" * len(mobiles)
                        and joined[1::11] == "9" * len(mobiles)):
        return False
    return not accounts or (set(map(type, accounts)) == {str} and set(map(len, accounts)) == {32}
                            and _ACCOUNTS.fullmatch("".join(accounts)) is not None)


def _ascii_digits(values: list, length: int) -> bool:
    """Every value a string of exactly `length` ASCII digits."""
    if set(map(type, values)) != {str} or set(map(len, values)) != {length}:
        return False
    joined = "".join(values)
    return joined.isascii() and joined.isdigit()


# event type → (the items' rules this module knows, the check of them)
KNOWN = {DISBURSEMENTS_PUBLISHED.type: (DISBURSEMENT_ITEMS, plainly_valid_disbursements)}


def for_the_schema(envelope, items_rules) -> dict:
    """The envelope to give the schema: with its first item only when the others are plainly valid, else as it
    is. `items_rules(type)` is the contract's rules for that type's items, as `rules` gives them."""
    event_type = envelope.get("type") if type(envelope) is dict else None
    known = KNOWN.get(event_type) if type(event_type) is str else None  # any other: the schema says what is wrong
    data = envelope.get("data") if known else None
    items = data.get("items") if type(data) is dict else None
    if type(items) is not list or len(items) < 2:
        return envelope
    contract, plainly_valid = known
    if not (contract["minItems"] <= len(items) <= contract["maxItems"]) or items_rules(envelope["type"]) != contract \
            or not plainly_valid(items):
        return envelope
    return {**envelope, "data": {**data, "items": items[:1]}}
