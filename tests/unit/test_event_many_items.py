"""The quick check of an event of thousands of items (common/events/many_items.py, issue 21 item 2): a
disbursements event is accepted and refused by `schemas.validate` exactly as by the contract's schema on every
item (`schemas.validate_in_full`)."""
from __future__ import annotations

import copy

import pytest

from common.events import schemas
from common.events.catalog import DISBURSEMENTS_PUBLISHED
from common.events.envelope import new_event
from common.events import many_items


def item(n: int, **changes) -> dict:
    paid = {"order_id": f"1405-09.pension_disability.{n:010d}", "national_id": f"{n:010d}", "mobile": f"0912{n:07d}",
            "amount_rials": 12_500_000, "province": "tehran", "account_masked": f"IR** **** **** **** **** **{n % 100:02d} 34"}
    paid.update(changes)
    return {k: v for k, v in paid.items() if v is not ...}


def event(items: list) -> dict:
    return new_event(DISBURSEMENTS_PUBLISHED, {
        "cycle_id": "1405-09.pension_disability", "budget_line": "pension_disability",
        "budget_line_fa": "مستمری خانوارهای دارای معلول", "month": "1405-09", "month_fa": "آذر ۱۴۰۵",
        "batch": 1, "batches": 3, "paid_at": "2026-11-26T09:00:00Z", "items": items})


def verdict(check, envelope: dict) -> str:
    try:
        check(copy.deepcopy(envelope))
    except schemas.EventContractError:
        return "refused"
    return "accepted"


# one item of a batch of 50 changed; `...` leaves the key out
CHANGES = [
    {}, {"mobile": ...}, {"account_masked": ...}, {"mobile": ..., "account_masked": ...},
    {"order_id": ...}, {"national_id": ...}, {"amount_rials": ...}, {"province": ...},
    {"extra": "x"}, {"order_id": 7}, {"order_id": ""}, {"province": None}, {"province": ""},
    {"national_id": "123456789"}, {"national_id": "12345678901"}, {"national_id": "12345678x0"},
    {"national_id": "١٢٣٤٥٦٧٨٩٠"}, {"national_id": "0123456789\n"}, {"national_id": 1234567890},
    {"mobile": "0812345678"}, {"mobile": "09123456789"}, {"mobile": "9912345678"}, {"mobile": "0912345678"},
    {"mobile": "091234567890"}, {"mobile": "09123456789\n"}, {"mobile": None},
    {"amount_rials": 0}, {"amount_rials": -5}, {"amount_rials": 1}, {"amount_rials": True}, {"amount_rials": 2.0},
    {"amount_rials": 2.5}, {"amount_rials": "12"}, {"amount_rials": 10**20},
    {"account_masked": "IR** **** **** **** **** **12 3"}, {"account_masked": "IR** **** **** **** **** **12 345"},
    {"account_masked": "IR** **** **** **** **** **1a 34"}, {"account_masked": "IR** **** **** **** **** **12-34"},
    {"account_masked": "IR** **** **** **** **** **12 34\n"}, {"account_masked": "IR12 3456 7890 1234 5678 9012 34"},
    {"account_masked": ""}, {"account_masked": 1234},
]


def test_the_check_knows_the_contract_of_today():
    """Should the contract's items change, the quick check gives way to the schema: correct, but slow again."""
    assert schemas._items_rules(DISBURSEMENTS_PUBLISHED.type) == many_items.DISBURSEMENT_ITEMS


@pytest.mark.parametrize("position", [0, 49])
@pytest.mark.parametrize("change", CHANGES, ids=repr)
def test_the_quick_check_says_what_the_schema_says(change, position):
    items = [item(n) for n in range(1, 51)]
    items[position] = item(position + 1, **change)
    envelope = event(items)
    assert verdict(schemas.validate, envelope) == verdict(schemas.validate_in_full, envelope)


@pytest.mark.parametrize("items", [[], [item(n) for n in range(5001)], "items", [["not", "an", "object"]],
                                   [item(1), None], [item(1), item(2)] * 3])
def test_and_so_for_the_array_itself(items):
    envelope = event(items)
    assert verdict(schemas.validate, envelope) == verdict(schemas.validate_in_full, envelope)


def test_the_envelope_and_the_other_fields_are_still_checked():
    for broken in ({"month": "1405-13"}, {"paid_at": 20261126}, {"batch": 0}, {"surprise": 1}):
        envelope = event([item(n) for n in range(1, 51)])
        envelope["data"].update(broken)
        assert verdict(schemas.validate, envelope) == "refused"
    envelope = event([item(n) for n in range(1, 51)])
    envelope["source"] = "/elsewhere/x"
    assert verdict(schemas.validate, envelope) == "refused"


def test_a_batch_of_5000_passes_quickly():
    items = [item(n) for n in range(5000)]
    envelope = event(items)
    assert many_items.plainly_valid_disbursements(items)  # the quick path, not the fallback to the schema
    assert many_items.for_the_schema(envelope, schemas._items_rules)["data"]["items"] == items[:1]
    schemas.validate(envelope)


@pytest.mark.parametrize("broken", [["a list"], {"a": "dict"}, None, 7])
def test_an_envelope_whose_type_is_not_a_string_is_refused_as_off_its_contract(broken):
    envelope = event([item(n) for n in range(1, 51)])
    envelope["type"] = broken
    assert verdict(schemas.validate, envelope) == "refused"  # not a TypeError: the consumer dead-letters it
    assert verdict(schemas.validate, "not an envelope") == "refused"


@pytest.mark.parametrize("name", ["ir.behzisti." + "a" * 300 + ".b.v1", "../../pyproject", "/etc/passwd",
                                  "ir.behzisti.payments.disbursements.published.v1/../cloudevents-envelope"])
def test_a_type_that_names_no_schema_is_refused_as_off_its_contract_not_looked_for(name):
    envelope = event([item(n) for n in range(1, 51)])
    envelope["type"] = name  # the first matches the envelope's pattern for a type: only the lookup can refuse it
    assert verdict(schemas.validate, envelope) == "refused"  # not an OSError retried as a failure
    with pytest.raises(schemas.EventContractError):
        schemas.load_schema(name)
