import json

import pytest

from common.events import schemas
from common.events.catalog import ALL, CASE_REGISTERED
from common.events.envelope import decode, encode, new_event

CASE_DATA = {"tracking_code": "4203917755102846", "kind": "complaint", "channel": "web",
             "urgency": "normal", "status": "registered", "registered_at": "2026-11-26T09:00:00Z",
             "reporter_mobile": "09121234567"}


def test_a_new_event_is_a_cloudevent_that_keeps_its_contract():
    event = new_event(CASE_REGISTERED, CASE_DATA, subject="4203917755102846")
    assert event["specversion"] == "1.0"
    assert event["source"] == "/behzisti/complaints"
    assert event["type"] == "ir.behzisti.complaints.case.registered.v1"
    assert event["dataschema"].endswith("ir.behzisti.complaints.case.registered.v1.json")
    assert event["time"].endswith("Z")
    assert schemas.errors_of(event) == []


def test_ids_differ_so_source_and_id_deduplicate():
    assert new_event(CASE_REGISTERED, CASE_DATA)["id"] != new_event(CASE_REGISTERED, CASE_DATA)["id"]


@pytest.mark.parametrize("change", [
    lambda e: e.pop("source"),
    lambda e: e.update(specversion="0.3"),
    lambda e: e["data"].pop("tracking_code"),
    lambda e: e["data"].update(kind="gossip"),
    lambda e: e["data"].update(reporter_mobile="+989121234567"),
    lambda e: e["data"].update(national_id="0499370899"),  # no personal data beyond the contract
])
def test_events_off_contract_are_refused(change):
    event = new_event(CASE_REGISTERED, dict(CASE_DATA))
    change(event)
    with pytest.raises(schemas.EventContractError):
        schemas.validate(event)


def test_unknown_types_have_no_schema():
    event = new_event(CASE_REGISTERED, CASE_DATA)
    event["type"] = "ir.behzisti.complaints.case.vanished.v1"
    assert any("no schema" in p for p in schemas.errors_of(event))


def test_every_event_type_has_a_valid_schema_whose_examples_keep_it():
    from jsonschema import Draft202012Validator

    names = set(schemas.schema_names())
    for event_type in ALL:
        assert event_type.type in names
        schema = schemas.load_schema(event_type.type)
        Draft202012Validator.check_schema(schema)
        for example in schema.get("examples", []):
            assert list(Draft202012Validator(schema).iter_errors(example)) == []


def test_the_wire_format_keeps_persian_text():
    event = new_event(CASE_REGISTERED, CASE_DATA)
    wire = encode({**event, "note": "سلام"})
    assert "سلام" in wire
    assert decode(wire.encode("utf-8"))["note"] == "سلام"
    assert json.loads(wire)["id"] == event["id"]


def test_the_asyncapi_document_lists_every_event_type_with_its_schema():
    import yaml

    from common.config import PROJECT_ROOT

    doc = yaml.safe_load((PROJECT_ROOT / "docs/asyncapi.yaml").read_text())
    addresses = {c["address"]: c for c in doc["channels"].values()}
    for event_type in ALL:
        channel = addresses[event_type.type]
        assert channel["bindings"]["amqp"]["exchange"]["name"] == event_type.exchange
    for message in doc["components"]["messages"].values():
        if message.get("contentType") == "application/json":
            continue  # an RPC request or reply (tests/unit/test_asyncapi_document.py)
        assert message["name"] in addresses
        schema = (PROJECT_ROOT / "docs" / message["payload"]["$ref"]).resolve()
        assert schema.exists() and schema.stem == message["name"]


def test_the_case_registered_schema_names_every_kind_and_channel_the_service_accepts():
    from services.complaints.domain import CHANNELS, KINDS, URGENCIES

    data = schemas.load_schema(CASE_REGISTERED.type)["properties"]
    assert set(data["kind"]["enum"]) == set(KINDS)
    assert set(data["channel"]["enum"]) == set(CHANNELS)
    assert set(data["urgency"]["enum"]) == set(URGENCIES)


def test_the_cloudevents_sdk_reads_our_envelope_and_refuses_one_without_its_source():
    """The official SDK (the RabbitMQ binding, structured mode) reads what new_event makes and encode writes; the
    e2e suite reads every event that crossed the broker the same way (tests/e2e/test_first_path.py)."""
    from cloudevents.core.bindings.rabbitmq import RabbitMQMessage, from_rabbitmq
    from cloudevents.core.exceptions import CloudEventValidationError
    from cloudevents.core.formats.json import JSONFormat

    envelope = new_event(CASE_REGISTERED, CASE_DATA, subject="4203917755102846")

    def read(body: dict):
        return from_rabbitmq(RabbitMQMessage(headers={}, content_type="application/cloudevents+json",
                                             body=encode(body).encode("utf-8")), JSONFormat())

    event = read(envelope)
    assert (event.get_id(), event.get_type(), event.get_subject()) == (envelope["id"], envelope["type"],
                                                                       "4203917755102846")
    assert event.get_data() == CASE_DATA
    with pytest.raises(CloudEventValidationError):
        read({k: v for k, v in envelope.items() if k != "source"})


def test_random_ids_are_version_4_uuids_written_as_uuid4_writes_them_and_never_repeat():
    import uuid

    from common.events.envelope import random_id, random_ids

    ids = random_ids(2000) + [random_id()]
    assert len(set(ids)) == len(ids)
    for made in ids:
        parsed = uuid.UUID(made)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, made)
