"""k8s/base's autoscaling is what the capacity model derives from the measured figures (bench/capacity.py,
docs/capacity.md), not guessed: a new measurement or assumption that changes a setting fails here until the
manifests follow."""
from __future__ import annotations

import yaml

from bench import capacity
from common.config import PROJECT_ROOT

BASE = PROJECT_ROOT / "k8s" / "base"


def docs_of(name: str) -> dict:
    return {d["kind"]: d for d in yaml.safe_load_all((BASE / f"{name}.yaml").read_text()) if d}


def test_the_gateway_scales_as_the_model_says():
    derived = capacity.settings()["gateway"]
    gateway = docs_of("gateway")
    [container] = gateway["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["requests"]["cpu"] == derived["cpu_request"]
    hpa = gateway["HorizontalPodAutoscaler"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (derived["min"], derived["max"])
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == derived["target"]


def test_sms_never_go_faster_than_the_operators_contract():
    derived = capacity.settings()["notifications"]
    scaled = docs_of("notifications")["ScaledObject"]["spec"]
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (derived["min"], derived["max"])
    config = yaml.safe_load((BASE / "kustomization.yaml").read_text())["configMapGenerator"][0]["literals"]
    rate = int(next(v for v in config if v.startswith("SMS_RATE_PER_SECOND=")).split("=")[1].split()[0])
    assert rate == derived["sms_rate_per_second"]
    assert rate * scaled["maxReplicaCount"] <= capacity.LOAD.sms_contract_per_second


def test_payday_tells_every_household_within_the_aim_on_the_replicas_it_has():
    need = capacity.needs(capacity.measured())
    assert need["payday_sms_minutes"] <= capacity.LOAD.payday_sms_minutes
    assert need["sms_cores"] < capacity.settings()["notifications"]["max"]  # the contract binds, not the CPU
