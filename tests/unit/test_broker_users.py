"""The broker users (scripts/broker_users.py), offline: the Kubernetes resources and the demo's credentials are
what the table makes, every process connects as its own user in compose and in every overlay, and the
permissions cover what the code declares and consumes, for its own process only. A service that runs in more
than one process (transparency and transparency-feeds) connects as the service's user from each: its queues are
named for the service. The broker enforcing them is tests/integration/test_broker_users.py."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import yaml

from common.config import PROJECT_ROOT, SERVICES, SPLIT_PROCESSES, service_of
from scripts import broker_users
from tests.unit.k8s import OVERLAYS, consumed_queues, containers, env_of, of_kind, overlay
from tests.unit.k8s import PROCESSES as SERVICE_PROCESSES

PROCESSES = ("gateway", *SERVICES, "relay")  # the broker users of the platform's processes


def user_of(process: str) -> str:
    """A process's broker user: its service's, for a service's second process (transparency-feeds)."""
    return service_of(process)


def on_disk(path: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((PROJECT_ROOT / path).read_text()) if d]


def allowed(pattern: str, name: str) -> bool:
    return bool(pattern) and re.fullmatch(pattern, name) is not None


def test_the_k8s_files_are_the_table():
    assert on_disk("k8s/components/engines/rabbitmq-users.yaml") == broker_users.k8s_resources(), (
        "python -m scripts.broker_users k8s > k8s/components/engines/rabbitmq-users.yaml")
    assert on_disk("k8s/overlays/local-demo/broker-users.yaml") == broker_users.demo_secrets(), (
        "python -m scripts.broker_users demo-secrets > k8s/overlays/local-demo/broker-users.yaml")


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_pod_connects_as_its_own_broker_user(name):
    docs = overlay(name)
    users = of_kind(docs, "User")
    assert set(users) == {broker_users.k8s_name(u.name) for u in broker_users.users().values() if u.in_k8s}
    for user in users.values():
        assert user["spec"]["importCredentialsSecret"]["name"] == user["metadata"]["name"]
    assert set(of_kind(docs, "Permission")) == set(users)
    for deployment_name, deployment in of_kind(docs, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        own = {"name": broker_users.k8s_name(user_of(deployment_name)), "key": "connection_string"}
        for container in containers(deployment):
            from_env = env_of(container).get("AMQP_URI", {}).get("valueFrom", {}).get("secretKeyRef")
            files = [s["secret"] for v in pod.get("volumes", []) if "projected" in v
                     for s in v["projected"]["sources"] if "secret" in s
                     if any(i["path"] == "AMQP_URI" for i in s["secret"]["items"])]
            mounted = files and any(m["name"] == "secrets" for m in container.get("volumeMounts", []))
            if from_env:
                assert from_env == own, (deployment_name, container["name"])
            elif mounted:
                assert [(f["name"], f["items"][0]["key"]) for f in files] == [(own["name"], own["key"])]
            else:
                assert (deployment_name not in (*PROCESSES, *SPLIT_PROCESSES)
                        or container["name"] == "wait-for-schema"), container["name"]
    (keda,) = of_kind(docs, "TriggerAuthentication").values()
    assert keda["spec"]["secretTargetRef"] == [
        {"parameter": "host", "name": broker_users.k8s_name("keda"), "key": "connection_string"}]
    if name == "local-demo":
        secrets = of_kind(docs, "Secret")
        for user in users:
            assert secrets[user]["metadata"]["labels"]["rabbitmq.com/topology-operator"] == "true"


def test_every_process_in_compose_connects_as_its_own_user_made_before_it_starts():
    services = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())["services"]
    made = services["rabbitmq-users"]["environment"]
    assert services["rabbitmq-users"]["command"] == ["python", "-m", "scripts.broker_users", "apply"]
    for process in (*PROCESSES, *SPLIT_PROCESSES, "rabbitmq-policies"):
        user = "policies" if process == "rabbitmq-policies" else user_of(process)
        uri = services[process]["environment"]["AMQP_URI"]
        assert urlsplit(uri).username == user and made[f"AMQP_URI_{user.upper()}"] == uri
        assert services[process]["depends_on"]["rabbitmq-users"] == {"condition": "service_completed_successfully"}
    assert all(k.removeprefix("AMQP_URI_").lower() in broker_users.users() for k in made if k != "BROKER_ADMIN_URL")
    for process, service in SPLIT_PROCESSES.items():  # no user of its own: its service's
        assert process not in broker_users.users() and f"AMQP_URI_{process.upper().replace('-', '_')}" not in made
        assert services[process]["environment"]["AMQP_URI"] == services[service]["environment"]["AMQP_URI"]
    for other in ("migrate", "sms-operator", "bank", "ipg"):  # no broker, no credentials
        assert "AMQP_URI" not in (services[other].get("environment") or {}), other


def test_each_service_reads_and_declares_its_own_queues_and_no_other_services():
    users = broker_users.users()
    for process in SERVICE_PROCESSES:  # every process of every service, each as its service's user
        service = user_of(process)
        for queue in consumed_queues(process):
            for other in PROCESSES:
                permissions = users[other].permissions()
                mine = other == service
                assert allowed(permissions["read"], queue) is mine, (other, queue)
                assert allowed(permissions["configure"], queue) is mine, (other, queue)
                if queue.startswith("evt-"):
                    assert allowed(permissions["read"], queue + ".dlq") is mine, (other, queue)
        topics = {t["exchange"]: t for t in users[service].topic_permissions()}
        assert allowed(topics["nameko-rpc"]["read"], f"{service}.*")
        assert not any(allowed(topics["nameko-rpc"]["read"], f"{s}.*") for s in SERVICES if s != service)


def test_only_people_and_the_migration_write_to_the_default_exchange():
    """Writing to the default exchange is writing to every queue by name, past every topic permission."""
    writers = {u.name for u in broker_users.users().values() if allowed(u.permissions()["write"], "amq.default")}
    assert writers == {"operator", "policies"}


def test_the_rpcs_a_process_may_call():
    users = broker_users.users()

    def may_call(user, key):
        topics = {t["exchange"]: t for t in users[user].topic_permissions()}
        return allowed(topics["nameko-rpc"]["write"], key)

    assert all(may_call("gateway", f"{s}.health") for s in SERVICES)
    assert may_call("transparency", "notifications.verify_code") and not may_call("transparency", "payments.health")
    assert not any(may_call(s, "payments.approve_cycle") for s in SERVICES if s != "payments")
    assert all(may_call(s, "6f1d8a3c-5b7e-4c9a-8d6f-0e1b2c3d4e5f") for s in SERVICES)  # replies
    assert not may_call("gateway", "6f1d8a3c-5b7e-4c9a-8d6f-0e1b2c3d4e5f")  # it only asks
