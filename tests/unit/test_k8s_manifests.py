"""The Kubernetes manifests, built and checked offline (no cluster here): every overlay builds with
kubectl's kustomize; what it makes keeps the schemas of a current Kubernetes release (strict) and, for
the operators' resources, their CRDs' schemas kept in contracts/crds (strict as well: an unknown field
fails); and it says what docs/operations.md promises: probes, bounds, disruption budgets, locked-down
pods, grace periods that agree with the processes' SIGTERM handling, autoscaling on queue length and
CPU, migrations before the new version, network policies, no secret in the repository, the production
engines."""
from __future__ import annotations

import copy
import re

import jsonschema
import kubernetes_validate
import pytest
import yaml

from common.config import DEFAULT_METRICS_PORTS, PROJECT_ROOT, SERVICES, SPLIT_PROCESSES, service_of
from scripts.processes import platform_processes
from tests.unit.k8s import (K8S, OVERLAYS, PROCESSES, build, consumed_queues, containers, crd_schemas, env_of,
                            is_builtin, of_kind, overlay, secret_files, validate_custom)

# one Deployment per process: each service's own, the others a service runs in (transparency-feeds), the
# relay and the gateway
PLATFORM = {*PROCESSES, "relay", "gateway"}
FAKES = {"sms-operator", "bank", "ipg"}
# Secrets the manifests read but never hold: made by the operators, or by the people who deploy
OPERATOR_SECRETS = {f"welfare-{s}-db-app" for s in SERVICES}
EXTERNAL_SECRETS = {"welfare-secrets", "welfare-backup-s3"}
# each broker user's credentials (scripts/broker_users.py): made by whoever deploys; the demo holds demo ones
BROKER_SECRETS = {f"welfare-broker-{u}" for u in ("gateway", *SERVICES, "relay", "keda", "operator", "integrators")}


def inputs_of(container: dict, pod: dict) -> set[str]:
    """The settings a container is given: its environment variables and the secret files it mounts."""
    files = secret_files(pod)
    return set(env_of(container)) | {f for m in container.get("volumeMounts", []) for f in files.get(m["name"], ())}


# the tests ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["base", *(f"overlays/{o}" for o in OVERLAYS)])
def test_every_overlay_builds_and_keeps_the_kubernetes_and_crd_schemas(path):
    version = kubernetes_validate.latest_version()
    docs = build(path)
    assert docs
    for doc in docs:
        if is_builtin(doc):
            kubernetes_validate.validate(doc, version, strict=True)
        else:
            validate_custom(doc)


def test_the_crd_check_refuses_an_unknown_field():
    scaled = copy.deepcopy(of_kind(overlay("production"), "ScaledObject")["notifications"])
    scaled["spec"]["minReplicas"] = 2  # the field is minReplicaCount
    with pytest.raises(jsonschema.ValidationError):
        validate_custom(scaled)


def test_only_the_crds_in_use_are_kept_and_their_source_is_noted():
    used = {(d["apiVersion"], d["kind"]) for o in OVERLAYS for d in overlay(o) if not is_builtin(d)}
    assert used == set(crd_schemas())
    readme = (PROJECT_ROOT / "contracts/crds/README.md").read_text()
    for path in (PROJECT_ROOT / "contracts/crds").glob("*.yaml"):
        assert path.name in readme


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_deployment_is_probed_bounded_protected_and_locked_down(name):
    docs = overlay(name)
    commands = {n: ["python", *cmd[1:]] for n, cmd in platform_processes().items()}
    budgets = of_kind(docs, "PodDisruptionBudget")
    for deployment_name, deployment in of_kind(docs, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "welfare-platform"  # the default-deny policy selects it
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        main = pod["containers"][0]
        assert main["command"] == commands[deployment_name]  # the command of ./dev up and docker-compose
        assert main["readinessProbe"]["httpGet"]["path"] == "/readyz" or deployment_name in FAKES
        assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
        for container in containers(deployment):
            resources = container["resources"]
            assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
            security = container["securityContext"]
            assert security == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]}}
        tmp = [v for v in pod["volumes"] if v["name"] == "tmp"]
        assert tmp and "emptyDir" in tmp[0]
        assert {"name": "tmp", "mountPath": "/tmp"} in main["volumeMounts"]
        covering = [b for b in budgets.values()
                    if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(covering) == 1, f"{deployment_name} needs one PodDisruptionBudget"


@pytest.mark.parametrize("name", OVERLAYS)
def test_each_process_serves_its_own_metrics_port_and_a_split_process_runs_as_its_service(name):
    """common.config.DEFAULT_METRICS_PORTS is each process's port (./dev up, compose's Prometheus); a second
    process of a service runs its service's image with its broker user and database, on a port of its own."""
    docs = overlay(name)
    deployments = of_kind(docs, "Deployment")
    metrics_services = {s["metadata"]["labels"]["app.kubernetes.io/name"]: s for s in of_kind(docs, "Service").values()
                        if s["metadata"]["labels"].get("welfare.behzisti.ir/metrics") == "true"}
    for process, port in DEFAULT_METRICS_PORTS.items():
        main = deployments[process]["spec"]["template"]["spec"]["containers"][0]
        assert env_of(main)["METRICS_PORT"]["value"] == str(port), process
        assert {"name": "metrics", "containerPort": port} in main["ports"], process
        assert metrics_services[process]["spec"]["ports"] == [{"name": "metrics", "port": port, "targetPort": "metrics"}]
    for process, service in SPLIT_PROCESSES.items():
        own, its = (deployments[n]["spec"]["template"]["spec"] for n in (process, service))
        assert own["containers"][0]["image"] == its["containers"][0]["image"], process
        (init,) = own["initContainers"]
        assert init["command"] == ["python", "-m", "common.health", "wait-for-schema", service]


def _gunicorn_graceful_timeout() -> int:
    text = (PROJECT_ROOT / "gateway/gunicorn.conf.py").read_text()
    return int(re.search(r"^graceful_timeout = (\d+)", text, re.M).group(1))


@pytest.mark.parametrize("name", OVERLAYS)
def test_grace_periods_agree_with_each_process_sigterm_handling(name):
    from common.outbox.relay import OutboxRelay  # noqa: F401  (the relay stops after its current batch)

    for deployment_name, deployment in of_kind(overlay(name), "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        grace = pod["terminationGracePeriodSeconds"]
        main = pod["containers"][0]
        if main["command"][:3] == ["python", "-m", "common.run"]:
            # common/run.py: workers still running SHUTDOWN_TIMEOUT after SIGTERM are killed
            shutdown = float(env_of(main)["SHUTDOWN_TIMEOUT"]["value"])
            assert grace >= shutdown + 5, deployment_name
        elif deployment_name == "gateway":
            pre_stop = int(main["lifecycle"]["preStop"]["exec"]["command"][1])
            assert grace >= pre_stop + _gunicorn_graceful_timeout() + 5
        elif deployment_name == "relay":
            assert grace >= 10  # a batch is confirmed within seconds; the loop wakes every poll interval
        else:
            assert deployment_name in FAKES and grace <= 30


@pytest.mark.parametrize("name", OVERLAYS)
def test_fakes_run_only_in_the_demo(name):
    deployments = set(of_kind(overlay(name), "Deployment"))
    assert deployments == (PLATFORM | FAKES if name == "local-demo" else PLATFORM)


@pytest.mark.parametrize("name", OVERLAYS)
def test_the_gateway_scales_by_cpu_and_every_consumer_by_its_queues(name):
    docs = overlay(name)
    autoscalers = of_kind(docs, "HorizontalPodAutoscaler")
    assert set(autoscalers) == {"gateway"}
    gateway = autoscalers["gateway"]["spec"]
    assert gateway["scaleTargetRef"]["name"] == "gateway"
    assert [m["resource"]["name"] for m in gateway["metrics"]] == ["cpu"]
    scaled = of_kind(docs, "ScaledObject")
    auth = of_kind(docs, "TriggerAuthentication")
    assert set(scaled) == set(PROCESSES)
    for process in PROCESSES:
        spec = scaled[process]["spec"]
        assert spec["scaleTargetRef"]["name"] == process
        triggers = spec["triggers"]
        assert {t["type"] for t in triggers} == {"rabbitmq"}
        assert {t["metadata"]["queueName"] for t in triggers} == consumed_queues(process), (
            f"k8s/base/{process}.yaml: the ScaledObject's queues are not the process's (a handler added or moved?)")
        assert all(t["metadata"]["mode"] == "QueueLength" and t["authenticationRef"]["name"] in auth
                   for t in triggers)
        assert "replicas" not in of_kind(docs, "Deployment")[process]["spec"]  # KEDA owns them
    # a queue is consumed by one process only: the RPCs of a split service never wait behind its events
    for process, service in SPLIT_PROCESSES.items():
        assert not consumed_queues(process) & consumed_queues(service), process
        assert not any(q.startswith("rpc-") for q in consumed_queues(process)), process
    if name == "production":
        assert all(s["spec"]["minReplicaCount"] >= 2 for s in scaled.values())
        assert gateway["minReplicas"] >= 2 and of_kind(docs, "Deployment")["relay"]["spec"]["replicas"] >= 2


@pytest.mark.parametrize("name", OVERLAYS)
def test_a_new_version_starts_only_on_its_migrated_schema(name):
    docs = overlay(name)
    jobs = of_kind(docs, "Job")
    assert jobs["migrate"]["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "python", "-m", "common.migrations", "upgrade"]
    for deployment in of_kind(docs, "Deployment").values():
        pod = deployment["spec"]["template"]["spec"]
        uses = sorted(s for s in SERVICES if f"{s.upper()}_DATABASE_URL" in inputs_of(pod["containers"][0], pod))
        if not uses:
            assert "initContainers" not in pod
            continue
        (init,) = [c for c in pod["initContainers"] if c["name"] == "wait-for-schema"]
        assert init["command"][:4] == ["python", "-m", "common.health", "wait-for-schema"]
        assert sorted(init["command"][4:]) == uses
        assert {f"{s.upper()}_DATABASE_URL" for s in uses} == {n for n in inputs_of(init, pod) if n.endswith("_DATABASE_URL")}


@pytest.mark.parametrize("name", OVERLAYS)
def test_the_relay_publishes_only_once_every_consumer_queue_exists(name):
    relay = of_kind(overlay(name), "Deployment")["relay"]["spec"]["template"]["spec"]
    (init,) = [c for c in relay["initContainers"] if c["name"] == "wait-for-queues"]
    assert init["command"] == ["python", "-m", "common.health", "wait-for-queues"]
    assert "AMQP_URI" in inputs_of(init, relay)


def _selects(rule_peer: dict, labels: dict) -> bool:
    match = rule_peer.get("podSelector", {}).get("matchLabels", {})
    return "namespaceSelector" not in rule_peer and match.items() <= labels.items()


@pytest.mark.parametrize("name", OVERLAYS)
def test_network_policies_open_only_the_gateway_and_keep_each_service_to_its_database(name):
    docs = overlay(name)
    policies = of_kind(docs, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {"matchLabels": {"app.kubernetes.io/part-of": "welfare-platform"}}
    assert deny["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny and "egress" not in deny
    for deployment_name in of_kind(docs, "Deployment"):
        own = policies[deployment_name]["spec"]
        assert own["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": deployment_name}
        for rule in own.get("ingress", []):
            if deployment_name == "gateway" and rule["ports"] == [{"port": "http", "protocol": "TCP"}]:
                assert "from" not in rule  # the one door open to the outside
                continue
            assert rule["from"], f"{deployment_name} takes traffic from anywhere"
            for peer in rule["from"]:
                from_prometheus = peer.get("namespaceSelector") == {
                    "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
                assert from_prometheus or deployment_name in FAKES, deployment_name
    for process in PROCESSES:
        egress = [r for p in policies.values() if p["spec"]["podSelector"].get("matchLabels") == {
            "app.kubernetes.io/name": process} for r in p["spec"].get("egress", [])]
        databases = {peer["podSelector"]["matchLabels"]["cnpg.io/cluster"] for r in egress for peer in r["to"]
                     if "cnpg.io/cluster" in peer.get("podSelector", {}).get("matchLabels", {})}
        assert databases == {f"welfare-{service_of(process)}-db"}, process
        brokers = [r for r in egress if any(_selects(p, {"app.kubernetes.io/name": "welfare-rabbitmq"})
                                            for p in r["to"])]
        assert brokers and brokers[0]["ports"] == [{"port": 5672, "protocol": "TCP"}]
        for rule in egress:
            for peer in rule["to"]:
                if "ipBlock" in peer:  # the outside world: HTTPS only (SMS operators, the bank, the PSP)
                    assert process in ("notifications", "payments") and rule["ports"] == [
                        {"port": 443, "protocol": "TCP"}]
    # each database takes its own service's processes, the relay and the migrations, nobody else of the platform
    for service in SERVICES:
        ingress = policies[f"welfare-{service}-db"]["spec"]["ingress"][0]["from"]
        names = {p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in ingress}
        assert names == {p for p in PROCESSES if service_of(p) == service} | {"relay", "migrate"}


@pytest.mark.parametrize("name", OVERLAYS)
def test_no_secret_is_kept_in_the_repository_and_every_secret_read_exists(name):
    docs = overlay(name)
    generated = {n: s for n, s in of_kind(docs, "Secret").items() if n not in BROKER_SECRETS}
    text = yaml.safe_dump_all(docs)
    referenced = set(re.findall(r"secretKeyRef:\s*\n\s*key: \S+\n\s*name: (\S+)", text))
    referenced |= {s["secret"]["name"] for d in docs if d["kind"] in ("Deployment", "Job")
                   for v in d["spec"]["template"]["spec"].get("volumes", []) if "projected" in v
                   for s in v["projected"]["sources"] if "secret" in s}
    referenced |= {r["name"] for d in of_kind(docs, "TriggerAuthentication").values()
                   for r in d["spec"]["secretTargetRef"]}
    referenced |= {c["backup"]["barmanObjectStore"]["s3Credentials"][k]["name"]
                   for c in (d["spec"] for d in of_kind(docs, "Cluster").values()) if "backup" in c
                   for k in ("accessKeyId", "secretAccessKey")}
    assert OPERATOR_SECRETS <= referenced
    assert BROKER_SECRETS - {"welfare-broker-operator"} <= referenced  # each process on its own broker user
    if name == "production":
        assert not of_kind(docs, "Secret"), "production references its Secrets; it never holds one"
        assert referenced <= OPERATOR_SECRETS | EXTERNAL_SECRETS | BROKER_SECRETS
        documented = (K8S / "overlays/production/kustomization.yaml").read_text()
        keys = set(re.findall(r"name: welfare-secrets, key: (\w+)", (K8S / "base").joinpath(
            "gateway.yaml").read_text() + "".join((K8S / "base" / f"{p}.yaml").read_text() for p in PROCESSES)))
        assert keys and all(k in documented for k in keys)
    else:
        (secret,) = generated.values()
        assert secret["metadata"]["name"].startswith("welfare-secrets")  # with kustomize's hash suffix
        assert referenced <= OPERATOR_SECRETS | BROKER_SECRETS | {secret["metadata"]["name"]}
        keys_read = set(re.findall(rf"secretKeyRef:\s*\n\s*key: (\S+)\n\s*name: {secret['metadata']['name']}", text))
        assert keys_read and keys_read <= set(secret["data"])
        config = next(iter(of_kind(docs, "ConfigMap").values()))
        assert not set(config["data"]) & set(secret["data"])  # a secret never in the ConfigMap
    assert "PRIVATE KEY" not in text


def test_production_runs_on_replicated_engines_with_backups_and_monitoring():
    from scripts.rabbitmq_policies import k8s_policies

    docs = overlay("production")
    (rabbitmq,) = of_kind(docs, "RabbitmqCluster").values()
    assert rabbitmq["spec"]["replicas"] == 3
    policies = [{**p, "metadata": {"name": p["metadata"]["name"]}} for p in of_kind(docs, "Policy").values()]
    assert policies == k8s_policies()  # the policies ./dev up and the tests apply
    clusters = of_kind(docs, "Cluster")
    assert set(clusters) == {f"welfare-{s}-db" for s in SERVICES}
    backups = {b["spec"]["cluster"]["name"]: b["spec"] for b in of_kind(docs, "ScheduledBackup").values()}
    for service in SERVICES:
        spec = clusters[f"welfare-{service}-db"]["spec"]
        assert spec["instances"] == 3
        assert spec["bootstrap"]["initdb"]["database"] == f"welfare_{service}"
        assert spec["postgresql"]["synchronous"]["number"] >= 1
        assert spec["backup"]["barmanObjectStore"]["destinationPath"].startswith("s3://")
        assert backups[f"welfare-{service}-db"]["method"] == "barmanObjectStore"
    monitors = of_kind(docs, "ServiceMonitor")
    metrics_services = {s["metadata"]["labels"]["app.kubernetes.io/name"] for s in of_kind(docs, "Service").values()
                        if s["metadata"]["labels"].get("welfare.behzisti.ir/metrics") == "true"}
    assert metrics_services == PLATFORM
    assert monitors["welfare-platform"]["spec"]["selector"]["matchLabels"] == {"welfare.behzisti.ir/metrics": "true"}
    assert monitors["welfare-rabbitmq"]["spec"]["endpoints"][0]["path"] == "/metrics/per-object"
    assert "welfare-platform" in of_kind(docs, "PrometheusRule")


def test_the_demo_runs_the_same_engines_on_one_node():
    docs = overlay("local-demo")
    (rabbitmq,) = of_kind(docs, "RabbitmqCluster").values()
    assert rabbitmq["spec"]["replicas"] == 1
    assert {c["spec"]["instances"] for c in of_kind(docs, "Cluster").values()} == {1}
    assert len(of_kind(docs, "Policy")) == len(of_kind(overlay("production"), "Policy"))


def test_the_policy_file_is_the_policy_script():
    from scripts.rabbitmq_policies import k8s_policies

    on_disk = [d for d in yaml.safe_load_all((K8S / "components/engines/rabbitmq-policies.yaml").read_text()) if d]
    assert on_disk == k8s_policies()


# every replica's engine: pool 10 + overflow 20 (common/db.py make_engine); the relay two per database
CONNECTIONS_PER_REPLICA, RELAY_CONNECTIONS = 30, 2


@pytest.mark.parametrize("name", OVERLAYS)
def test_each_database_takes_every_replica_its_processes_may_scale_to(name):
    """At their ScaledObjects' maxReplicaCount, the processes of a database (transparency's two among them) and
    the relay open no more connections than its max_connections: past it, a new replica's queries fail."""
    import json

    docs = overlay(name)
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s["spec"]["maxReplicaCount"]
              for s in of_kind(docs, "ScaledObject").values()}
    for cluster_name, cluster in of_kind(docs, "Cluster").items():
        secret = f"{cluster_name}-app"  # the connection string CloudNativePG writes for the app
        users = {n: d for n, d in of_kind(docs, "Deployment").items()  # its containers' env, or production's files
                 if secret in json.dumps({k: v for k, v in d["spec"]["template"]["spec"].items() if k != "initContainers"})}
        opened = sum(RELAY_CONNECTIONS * d["spec"].get("replicas", 1) if n == "relay"
                     else CONNECTIONS_PER_REPLICA * scaled[n] for n, d in users.items())
        assert "relay" in users and len(users) >= 2, (cluster_name, set(users))
        assert opened < int(cluster["spec"]["postgresql"]["parameters"]["max_connections"]), (cluster_name, opened)
