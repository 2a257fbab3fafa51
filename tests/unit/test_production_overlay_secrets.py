"""k8s/overlays/production, as kustomize builds it: every secret is a file (no environment variable comes
from a Secret), each pod is given only the secrets its process holds (common.config.SECRETS_OF) where
SECRETS_DIR says, every image is pinned by digest, and the processes run in the production profile."""
from __future__ import annotations

import re

from common.config import SECRETS_OF
from tests.unit.k8s import containers, env_of, of_kind, overlay, secret_files

DIGEST = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


def workloads(docs):
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job")]


def test_no_secret_is_an_environment_variable_and_every_image_is_pinned_by_digest():
    docs = overlay("production")
    for workload in workloads(docs):
        pod = workload["spec"]["template"]["spec"]
        for container in containers(workload):
            name = f"{workload['metadata']['name']}/{container['name']}"
            assert not [e for e in container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})], name
            assert not [e for e in container.get("envFrom", []) if "secretRef" in e], name
            assert DIGEST.match(container["image"]), name
            files = {m["name"]: m for m in container.get("volumeMounts", []) if m["name"] in secret_files(pod)}
            if files:
                (mount,) = files.values()
                assert mount.get("readOnly") and env_of(container)["SECRETS_DIR"]["value"] == mount["mountPath"], name
    (config,) = of_kind(docs, "ConfigMap").values()
    assert config["data"]["ENVIRONMENT"] == "production"


def test_each_pod_holds_only_its_own_process_s_secrets():
    deployments = of_kind(overlay("production"), "Deployment")
    for process, held in SECRETS_OF.items():
        pod = deployments[process]["spec"]["template"]["spec"]
        volume = next(v for v in pod["volumes"] if "projected" in v)
        own = {i["path"] for s in volume["projected"]["sources"] if s["secret"]["name"] == "welfare-secrets"
               for i in s["secret"]["items"]}
        from_broker = {"amqp_uri", "broker_admin_url"}  # from the broker users' Secrets (welfare-broker-<user>)
        expected = {n.upper() for n in held if n not in from_broker} | ({"TOKEN_KEY_ID"} if process == "gateway" else set())
        assert own == expected, process
        assert {n.upper() for n in held} & {n.upper() for n in from_broker} <= secret_files(pod)[volume["name"]], process
        assert volume["projected"]["defaultMode"] == 0o440  # the owner and the pod's group (fsGroup) only


def test_the_demo_still_takes_its_generated_secrets_as_before():
    for workload in workloads(overlay("local-demo")):
        assert "ENVIRONMENT" not in env_of(workload["spec"]["template"]["spec"]["containers"][0])
    (config,) = of_kind(overlay("local-demo"), "ConfigMap").values()
    assert "ENVIRONMENT" not in config["data"]
