"""docker-compose.yml and the Kubernetes manifests, checked offline (no Docker engine here): they
parse against their schemas and run the same commands as the local run. The overlays, the operators'
resources and what the manifests promise are checked in tests/unit/test_k8s_manifests.py."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import compose_spec
import kubernetes_validate
import pytest
import yaml

from common.config import DEFAULT_METRICS_PORTS, PROJECT_ROOT
from scripts.processes import platform_processes

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")


def local_commands() -> dict[str, list[str]]:
    return {name: ["python", *cmd[1:]] for name, cmd in platform_processes().items()}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())


def test_compose_file_keeps_the_compose_spec(compose):
    spec = {k: v for k, v in compose.items() if not k.startswith("x-")}  # anchors are resolved by YAML
    parsed = compose_spec.PyCompose.from_json(json.dumps(spec))
    parsed.validate()
    assert parsed.to_spec().services


def test_compose_runs_the_local_commands(compose):
    services = compose["services"]
    for name, command in local_commands().items():
        assert services[name]["command"] == command, name
    assert {"rabbitmq", "postgres", "prometheus", "grafana", "migrate", "rabbitmq-policies"} <= set(services)
    assert "management" in services["rabbitmq"]["image"]
    assert services["rabbitmq-policies"]["command"] == ["python", "-m", "scripts.rabbitmq_policies"]


def test_compose_stops_processes_as_kubernetes_does(compose):
    """Read-only root filesystem, /tmp writable, and a stop grace period above the processes' own
    shutdown bound (common/run.py's SHUTDOWN_TIMEOUT), so SIGKILL comes only after it."""
    for name in local_commands():
        service = compose["services"][name]
        assert service["read_only"] is True and "/tmp" in service["tmpfs"], name
        grace = int(service["stop_grace_period"].rstrip("s"))
        assert grace >= float(service["environment"]["SHUTDOWN_TIMEOUT"]) + 5, name


def test_prometheus_scrapes_every_process(compose):
    config = yaml.safe_load((PROJECT_ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for c in job["static_configs"] for t in c["targets"]}
    for process, port in DEFAULT_METRICS_PORTS.items():
        assert f"{process}:{port}" in targets


def test_compose_creates_one_database_per_service():
    sql = (PROJECT_ROOT / "deploy/postgres/init-databases.sql").read_text()
    for service in ("complaints", "notifications", "payments", "transparency"):
        assert f"CREATE DATABASE welfare_{service};" in sql


@pytest.fixture(scope="module")
def manifests() -> list[dict]:
    assert KUBECTL, "kubectl (with kustomize) is installed by requirements.lock"
    out = subprocess.run([KUBECTL, "kustomize", str(PROJECT_ROOT / "k8s/base")], check=True,
                         capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def test_manifests_keep_the_kubernetes_schemas(manifests):
    from tests.unit.k8s import is_builtin, validate_custom

    for doc in manifests:
        if is_builtin(doc):
            kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
        else:
            validate_custom(doc)  # KEDA's, against its CRD in contracts/crds


def test_every_deployment_is_probed_bounded_and_protected(manifests):
    deployments = {d["metadata"]["name"]: d for d in manifests if d["kind"] == "Deployment"}
    budgets = {d["metadata"]["name"] for d in manifests if d["kind"] == "PodDisruptionBudget"}
    # one per process: transparency runs in two (its RPCs; its event consumers and timer in transparency-feeds)
    assert set(deployments) == {"complaints", "notifications", "payments", "transparency", "transparency-feeds",
                                "relay", "gateway"}
    commands = local_commands()
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["command"] == commands[name]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert name in budgets
    assert any(d["kind"] == "Job" and d["metadata"]["name"] == "migrate" for d in manifests)
