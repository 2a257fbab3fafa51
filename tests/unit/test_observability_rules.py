"""The alert rules and the Grafana dashboards load: every PromQL expression parses, every metric it
names is one the platform exports (common/metrics.py) or one of the exporters it scrapes, every
alert has its runbook in docs/operations.md, and the Kubernetes PrometheusRule holds the very rules
of deploy/prometheus/alerts.yml.

After changing deploy/prometheus/alerts.yml, write the PrometheusRule again:
    python -c "from tests.unit.test_observability_rules import write_prometheus_rule; write_prometheus_rule()"
"""
from __future__ import annotations

import json
import re

import promql_parser
import pytest
import yaml

from common.config import PROJECT_ROOT

ALERTS = PROJECT_ROOT / "deploy/prometheus/alerts.yml"
PROMETHEUS_RULE = PROJECT_ROOT / "k8s/components/monitoring/prometheus-rule.yaml"
DASHBOARDS = PROJECT_ROOT / "deploy/grafana/dashboards"
RUNBOOK = PROJECT_ROOT / "docs/operations.md"

RULE_HEADER = """# The alert rules of deploy/prometheus/alerts.yml (their one source) for the Prometheus Operator;
# tests/unit/test_observability_rules.py checks the two are equal and writes this file again:
#   python -c "from tests.unit.test_observability_rules import write_prometheus_rule; write_prometheus_rule()"
"""
# The alerts the operations issue asks for, each a failure mode with its runbook.
REQUIRED_ALERTS = {"ServiceDown", "QueueGrowing", "OutboxBacklog", "DeadLettersPresent", "SmsProviderFailing",
                   "DeadlineSweepNotRunning", "PaymentCycleStuck", "DatabaseUnreachable", "BrokerUnreachable"}
# Metrics that come from elsewhere: Prometheus itself, and RabbitMQ's rabbitmq_prometheus plugin.
EXTERNAL_METRICS = {"up"}
EXTERNAL_PREFIXES = ("rabbitmq_",)


def _block_str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(str, _block_str)


def prometheus_rule() -> dict:
    alerts = yaml.safe_load(ALERTS.read_text())
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": "welfare-platform", "labels": {"release": "prometheus"}},
            "spec": {"groups": alerts["groups"]}}


def write_prometheus_rule() -> None:
    text = yaml.dump(prometheus_rule(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    PROMETHEUS_RULE.write_text(RULE_HEADER + text)


def exported_metrics() -> set[str]:
    """Every sample name the metrics of common/metrics.py expose (counters' _total, histograms' _bucket...)."""
    from prometheus_client.metrics import MetricWrapperBase

    import common.metrics

    names = set()
    for metric in vars(common.metrics).values():
        if isinstance(metric, MetricWrapperBase):
            for family in metric.describe():
                if family.type == "counter":
                    names |= {f"{family.name}_total", f"{family.name}_created"}
                elif family.type == "histogram":
                    names |= {f"{family.name}_{s}" for s in ("bucket", "sum", "count", "created")}
                else:
                    names.add(family.name)
    return names


def metric_names(expr) -> set[str]:
    """The metric names a parsed PromQL expression selects."""
    found = set()

    def walk(node):
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                found.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    found.add(matcher.value)
            return
        for attr in ("expr", "lhs", "rhs", "vector_selector", "param"):
            child = getattr(node, attr, None)
            if child is not None and not isinstance(child, (str, int, float)):
                walk(child)
        for arg in getattr(node, "args", None) or []:
            walk(arg)

    walk(expr)
    return found


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[tuple[str, str, str]]:
    """(dashboard, panel, expr) of every query of every provisioned dashboard."""
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                found.append((path.name, panel["title"], target["expr"]))
    return found


def grafana_to_promql(expr: str) -> str:
    """Grafana's variables, as Grafana would put them in, so the query parses as Prometheus gets it."""
    return (expr.replace("$__rate_interval", "5m").replace("$__interval", "1m").replace("$__range", "1h")
            .replace("${service:regex}", "complaints|notifications").replace("$service", "complaints"))


def test_every_required_failure_mode_has_an_alert():
    assert REQUIRED_ALERTS <= {rule["alert"] for rule in alert_rules()}


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_alert_expressions_parse_and_name_exported_metrics(rule):
    parsed = promql_parser.parse(rule["expr"])
    unknown = {name for name in metric_names(parsed)
               if name not in exported_metrics() | EXTERNAL_METRICS and not name.startswith(EXTERNAL_PREFIXES)}
    assert not unknown, f"{rule['alert']} names metrics nothing exports: {unknown}"
    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert rule["annotations"]["summary"] and rule["annotations"]["runbook_url"]


def test_every_alert_has_its_runbook():
    text = RUNBOOK.read_text()
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}
    for rule in alert_rules():
        anchor = rule["annotations"]["runbook_url"].split("#", 1)[1]
        assert rule["annotations"]["runbook_url"] == f"docs/operations.md#{rule['alert'].lower()}"
        assert anchor in anchors, f"docs/operations.md has no section for {rule['alert']}"
        section = text.split(f"### {rule['alert']}", 1)[1].split("\n### ", 1)[0]
        for part in ("What it means", "How to look", "How to fix"):
            assert part in section, f"the runbook of {rule['alert']} lacks '{part}'"


def test_the_prometheus_rule_holds_the_same_alerts():
    assert yaml.safe_load(PROMETHEUS_RULE.read_text()) == prometheus_rule(), (
        "k8s/components/monitoring/prometheus-rule.yaml differs from deploy/prometheus/alerts.yml; "
        "write it again (see this module's docstring)")


def test_dashboards_cover_what_operators_watch():
    titles = " | ".join(f"{board} {panel}".lower() for board, panel, _ in dashboard_exprs())
    for topic in ("request rate", "event rate", "errors", "latency", "queue depth", "outbox backlog",
                  "dead letters", "deadline misses", "sms by state", "payment cycle"):
        assert topic in titles, f"no dashboard panel for {topic}"


@pytest.mark.parametrize("board,panel,expr", dashboard_exprs(), ids=lambda v: v if isinstance(v, str) else "")
def test_dashboard_queries_parse_and_name_exported_metrics(board, panel, expr):
    parsed = promql_parser.parse(grafana_to_promql(expr))
    unknown = {name for name in metric_names(parsed)
               if name not in exported_metrics() | EXTERNAL_METRICS and not name.startswith(EXTERNAL_PREFIXES)}
    assert not unknown, f"{board} / {panel} names metrics nothing exports: {unknown}"


def test_dashboards_are_provisioned_in_docker_compose():
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    mounts = {v.split(":")[1] for v in grafana["volumes"]}
    assert {"/etc/grafana/provisioning", "/var/lib/grafana/dashboards"} <= mounts
    providers = yaml.safe_load((PROJECT_ROOT / "deploy/grafana/provisioning/dashboards/welfare.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    sources = yaml.safe_load((PROJECT_ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert sources["datasources"][0]["url"] == "http://prometheus:9090"
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARDS.glob("*.json")]
    assert len(uids) == len(set(uids)) >= 3
    prometheus = compose["services"]["prometheus"]
    assert any(v.endswith(":/etc/prometheus/alerts.yml:ro") for v in prometheus["volumes"])
    config = yaml.safe_load((PROJECT_ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_promql_parser_refuses_what_prometheus_refuses():
    """The checks above mean something: a broken expression does not pass."""
    with pytest.raises(ValueError):
        promql_parser.parse('sum(rate(http_requests_total[5m])')
    assert metric_names(promql_parser.parse('sum by (x) (rate(a_total{y="1"}[5m])) / b or absent(c)')) == {
        "a_total", "b", "c"}
    assert {"rpc_calls_total", "rpc_call_duration_seconds_bucket", "outbox_backlog"} <= exported_metrics()
    assert "rpc_calls" not in exported_metrics() and "outbox_backlog_total" not in exported_metrics()
