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
              and "{" not in (c["address"] or "{")  # integrators' queues, one per integrator: below
              and not c["address"].startswith("rpc-")}  # RPC: below
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
    by_type = {c["address"]: c["messages"] for c in channels.values() if (c["address"] or "").startswith("ir.behzisti.")}
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


def service_to_service_calls() -> set[tuple[str, str, str]]:
    """(caller, callee, method) for every call a service makes through an RpcProxy, read from the services' code."""
    import ast

    calls = set()
    for caller in SERVICES:
        tree = ast.parse((PROJECT_ROOT / f"services/{caller}/service.py").read_text(encoding="utf-8"))
        proxies = {node.targets[0].id: node.value.args[0].value for node in ast.walk(tree)
                   if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                   and getattr(node.value.func, "id", None) == "RpcProxy"}
        for node in ast.walk(tree):  # self.<proxy>.<method>(…) and self.<proxy>.<method>.call_async(…)
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                    and node.value.attr in proxies and getattr(node.value.value, "id", None) == "self"):
                calls.add((caller, proxies[node.value.attr], node.attr))
    return calls


def test_every_rpc_queue_and_every_call_between_services_is_in_the_document():
    doc = yaml.safe_load(DOCUMENT.read_text())
    channels, operations = doc["channels"], doc["operations"]
    rpc_channels = {c["address"]: name for name, c in channels.items() if (c["address"] or "").startswith("rpc-")}
    assert set(rpc_channels) == {f"rpc-{service}" for service in SERVICES}
    for queue, name in rpc_channels.items():
        assert channels[name]["bindings"]["amqp"]["queue"]["name"] == queue
        on_it = {op_name for op_name, op in operations.items() if op["channel"]["$ref"] == f"#/channels/{name}"}
        gateway_and_service = {f"gatewayCalls{name[3:]}", f"{queue[4:]}AnswersRpc"}
        assert gateway_and_service <= on_it
        assert all(operations[op]["reply"]["channel"]["$ref"] == "#/channels/rpcReply" for op in gateway_and_service)
    calls = service_to_service_calls()
    # a new call between services must be added to the document (and to docs/architecture.md)
    assert calls == {("transparency", "notifications", m) for m in ("issue_code", "verify_code", "health")}
    for caller, callee, method in calls:
        operation = operations[f"{caller}Calls{callee.capitalize()}{method.title().replace('_', '')}"]
        assert operation["channel"]["$ref"] == f"#/channels/rpc{callee.capitalize()}"
        [message] = operation["messages"]
        name = message["$ref"].rsplit("/", 1)[1]
        assert doc["components"]["messages"][name]["name"] == f"{callee}.{method}"
