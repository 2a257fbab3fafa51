"""Personal fields in events (x-personal in contracts/events/): every field that holds a person's data is
marked, and the types that need them are known (integrators get them only when entitled)."""
import pytest

from common.events import catalog, personal, schemas


def test_every_field_named_as_personal_data_is_marked_so_or_sits_in_a_marked_one():
    names = {"reporter_mobile", "mobile", "national_id", "account_masked"}
    unmarked = []

    def walk(node: dict, where: str) -> None:
        for name, child in node.get("properties", {}).items():
            if child.get(personal.PERSONAL):
                continue
            if name in names:
                unmarked.append(f"{where}.{name}")
            walk(child, f"{where}.{name}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{where}[]")

    for event in catalog.ALL:
        walk(schemas.load_schema(event.type), event.type)
    assert unmarked == []


def test_the_public_types_are_those_with_no_personal_field():
    public = {e.type for e in catalog.ALL if not personal.personal_fields(e.type)}
    assert catalog.STATISTICS_PUBLISHED.type in public and catalog.DATASET_PUBLISHED.type in public
    assert catalog.CASE_REGISTERED.type not in public and catalog.PAYMENT_FAILED.type not in public


@pytest.mark.parametrize("event_type", [e.type for e in catalog.ALL])
def test_each_type_names_its_personal_fields_as_the_documents_do(event_type):
    for name in personal.personal_fields(event_type):
        assert name.replace("[]", "").replace(".", "").replace("_", "").isalpha()


def test_array_items_name_their_personal_fields_as_integrators_documents_do():
    fields = personal.personal_fields(catalog.DISBURSEMENTS_PUBLISHED.type)
    assert {"items[].national_id", "items[].mobile", "items[].account_masked"} <= set(fields)
    assert personal.personal_fields(catalog.STATISTICS_PUBLISHED.type) == ()
