"""./dev up: the whole platform on this machine, with demo data. A process that dies is started again
after a back-off and announced loudly, as Kubernetes would; Ctrl-C stops everything."""
from __future__ import annotations

import os
import signal
import sys
import time

from common.config import DEFAULT_METRICS_PORTS, PROJECT_ROOT, SERVICES, get_settings
from common.migrations import upgrade
from scripts.broker import ensure_broker, migrate_rpc_queues
from scripts.rabbitmq_policies import ensure_policies
from scripts.processes import ProcessGroup, platform_processes, wait_ready


def main() -> int:
    settings = get_settings()
    ensure_broker(settings.amqp_uri)
    ensure_policies(settings.amqp_uri)  # quorum event queues: at-least-once dead-lettering, as in k8s
    replaced = migrate_rpc_queues(settings.amqp_uri, SERVICES)  # an older version's classic RPC queues
    if replaced:
        print(f"RPC queues made quorum queues: {', '.join(replaced)}")
    env = dict(os.environ)
    embedded = not (settings.database_url or any(getattr(settings, f"{s}_database_url") for s in SERVICES))
    if embedded:
        from common.embedded_postgres import embedded_server_url

        env["DATABASE_URL"] = embedded_server_url(settings.data_dir)
        print(f"PostgreSQL: embedded, data in {settings.data_dir / 'pg'}")
    for service in SERVICES:
        upgrade(service)
    print("databases migrated")

    group = ProcessGroup(env, str(PROJECT_ROOT), restart=True)  # back-off 1 s doubling to 60 s
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for name, command in platform_processes().items():
        group.start(name, command)
    base = f"http://localhost:{settings.gateway_port}"
    try:
        try:
            wait_ready(f"{base}/readyz", group, cancelled=lambda: stopping)
        except RuntimeError as exc:
            print(f"the platform did not start: {exc}", file=sys.stderr)
            return 1
        from services.complaints.demo import load_demo_cases

        from services.complaints.demo_staff import DEMO_PASSWORD, DEMO_STAFF, load_demo_staff

        load_demo_staff(settings.database_url_for("complaints"))
        loaded = load_demo_cases(base, settings.data_dir)
        from services.payments.demo import load_demo_payments

        people = load_demo_payments(settings.database_url_for("payments"))
        print(f"""
  The platform is running ({loaded} demo cases registered now).
    web pages             {base}/   (citizen, hotline, staff cartable, finance, donations, Shafaf)
    gateway               {base}/api/v1/cases   (health {base}/healthz, readiness {base}/readyz)
    API document and UI   {base}/api/v1/openapi.json   {base}/api/v1/swagger
    demo staff logins     {", ".join(u for u, *_ in DEMO_STAFF)} (password {DEMO_PASSWORD})
    event schemas         {base}/api/v1/events/schemas
    fake SMS operator     http://localhost:8025   (what citizens receive; JSON at /api/messages)
    fake bank             http://localhost:8026   (pain.001 files received, statements; {people} demo beneficiaries,
                          16 budget lines: finance.expert opens a cycle, finance.approver approves it)
    Shafaf (transparency) {base}/api/v1/transparency/datasets   (downloads, OCDS, Fiscal Data Package,
                          DCAT-AP at /catalog.jsonld; a paid beneficiary sees their payments after a one-time code)
    metrics               {", ".join(f"{k} :{v}" for k, v in DEFAULT_METRICS_PORTS.items())}
  Try:  curl -s -X POST {base}/api/v1/cases -H 'Content-Type: application/json' \\
          -d '{{"kind":"complaint","text":"مستمری این ماه واریز نشده است.","mobile":"09121234567"}}'
  A process that dies is started again (back-off 1 s doubling to 60 s) with a loud banner.
  Ctrl-C stops everything.
""", flush=True)
        while not stopping:
            time.sleep(0.5)  # wake to notice Ctrl-C; the group restarts a process that dies on its own threads
    finally:
        restarted = {name: count for name, count in group.restarts.items() if count}
        print(f"stopping… (restarts while up: {restarted})" if restarted else "stopping…", flush=True)
        group.stop()
        if embedded:
            from common.embedded_postgres import stop_embedded_server

            stop_embedded_server(settings.data_dir)
        print("stopped.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
