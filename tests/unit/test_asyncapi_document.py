"""docs/asyncapi.yaml as integrators' tools read it (issue 20, item 1): the official AsyncAPI parser
(@asyncapi/parser, run with node) finds no error in it, and it names every event queue the code consumes,
each as a queue channel (AMQP channel binding `is: queue`) received by its service's operation."""
from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from common.config import PROJECT_ROOT, SERVICES
from common.health import event_queues

CHECK = PROJECT_ROOT / "contracts/asyncapi-check"
DOCUMENT = PROJECT_ROOT / "docs/asyncapi.yaml"


def test_the_official_parser_finds_no_error():
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed (.ci/run installs them)")
    if not (CHECK / "node_modules/@asyncapi/parser").exists():
        subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=CHECK, check=True, timeout=600)
    result = subprocess.run(["node", "parse.mjs", str(DOCUMENT)], cwd=CHECK, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"valid":true' in result.stdout


def test_every_queue_the_code_consumes_is_a_queue_channel_of_its_events():
    doc = yaml.safe_load(DOCUMENT.read_text())
    channels = doc["channels"]
    queues = {c["address"]: c for c in channels.values() if c.get("bindings", {}).get("amqp", {}).get("is") == "queue"
              and "{" not in c["address"]}  # integrators' queues, one per integrator: below
    assert set(queues) == set(event_queues(list(SERVICES)))
    received = {op["channel"]["$ref"].rsplit("/", 1)[1] for op in doc["operations"].values() if op["action"] == "receive"}
    by_address = {c["address"]: name for name, c in channels.items()}
    for queue, channel in queues.items():
        assert channel["bindings"]["amqp"]["queue"]["name"] == queue
        assert by_address[queue] in received  # a consumer's operation reads it
        event_type = queue.split("-", 2)[2].split("--")[0]
        [message] = channel["messages"].values()
        assert channels[by_address[event_type]]["messages"] == channel["messages"], queue  # that event's message
        assert message
    for op in doc["operations"].values():
        assert "queue" not in op.get("bindings", {}).get("amqp", {})  # queues are channels, not operation bindings


def test_integrators_queue_and_replay_stream_are_named_and_carry_every_event_as_the_code_makes_them():
    from common.events.catalog import ALL
    from services.notifications import integrator_access

    doc = yaml.safe_load(DOCUMENT.read_text())
    channels = doc["channels"]
    by_type = {c["address"]: c["messages"] for c in channels.values() if c["address"].startswith("ir.behzisti.")}
    assert set(by_type) == {e.type for e in ALL}
    every_message = {name: ref for messages in by_type.values() for name, ref in messages.items()}
    for key, name_of in (("integratorQueue", integrator_access.queue_name),
                         ("integratorReplay", integrator_access.stream_name)):
        channel = channels[key]
        assert channel["address"] == name_of("{name}") and "name" in channel["parameters"]
        assert channel["bindings"]["amqp"]["queue"]["name"] == channel["address"]
        assert channel["messages"] == every_message
        assert any(op["channel"]["$ref"] == f"#/channels/{key}" and op["action"] == "receive"
                   for op in doc["operations"].values())
