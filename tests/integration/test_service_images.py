"""Each service stands alone (issue 19, item 3): exactly what its image holds (Dockerfile, the service's target:
the shared package `common/`, the contracts, and `services/<name>/` alone) is copied into an empty directory,
and there the service migrates its own database, starts on the real broker and PostgreSQL, and answers ready;
then it stops on SIGTERM. A service that imported another, or a file outside its package, fails here."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import requests

from common.config import PROJECT_ROOT, SERVICES
from scripts.processes import free_port

SHARED = ("common", "contracts")  # Dockerfile: the `base` stage


def dockerfile_stages() -> dict[str, list[str]]:
    """{stage name: its instructions}, in order."""
    stages: dict[str, list[str]] = {}
    current = None
    for line in (PROJECT_ROOT / "Dockerfile").read_text().splitlines():
        line = line.split("  #")[0].strip()
        if line.startswith("FROM "):
            current = line.split(" AS ")[1]
            stages[current] = [line]
        elif line and not line.startswith("#") and current:
            stages[current].append(line)
    return stages


def test_each_service_s_target_holds_the_shared_base_and_its_own_package_only():
    stages = dockerfile_stages()
    base = [line for line in stages["base"] if line.startswith("COPY ")]
    assert base == ["COPY requirements.lock .", *(f"COPY {part} ./{part}" for part in SHARED),
                    "COPY services/__init__.py ./services/__init__.py"]
    for service in SERVICES:
        assert stages[service] == [f"FROM base AS {service}", f"COPY services/{service} ./services/{service}",
                                   f'CMD ["python", "-m", "common.run", "{service}"]']
    assert list(stages)[-1] == "platform"  # the default target: compose and the overlays build it


def image_of(service: str, folder) -> None:
    for part in SHARED:
        shutil.copytree(PROJECT_ROOT / part, folder / part, ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
    (folder / "services").mkdir()
    shutil.copy(PROJECT_ROOT / "services" / "__init__.py", folder / "services" / "__init__.py")
    shutil.copytree(PROJECT_ROOT / "services" / service, folder / "services" / service,
                    ignore=shutil.ignore_patterns("__pycache__"))


def ready(url: str, process: subprocess.Popen, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.2)  # polling the probe the way the kubelet does
    return False


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_migrates_starts_and_stops_with_only_its_own_package_and_the_shared_one(
        service, tmp_path, rabbit_config, db_urls):
    image_of(service, tmp_path)
    assert sorted(p.name for p in (tmp_path / "services").iterdir()) == ["__init__.py", service]
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.endswith("DATABASE_URL")}
    env.update({"PYTHONPATH": str(tmp_path), "AMQP_URI": rabbit_config["AMQP_URI"], "METRICS_PORT": str(port),
                f"{service.upper()}_DATABASE_URL": db_urls[service], "DATA_DIR": str(tmp_path / "data"),
                "TRANSPARENCY_DEMO_DATA": "false"})
    migrated = subprocess.run([sys.executable, "-m", "common.migrations", "upgrade", service], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    process = subprocess.Popen([sys.executable, "-m", "common.run", service], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert ready(f"http://127.0.0.1:{port}/readyz", process), process.poll()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=40) == 0
    finally:
        if process.poll() is None:
            process.kill()
        output = process.communicate(timeout=10)[0]
    assert "ModuleNotFoundError" not in output and "Traceback" not in output, output[-3000:]


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_s_production_path_loads_no_demo_data(service):
    """Demo generators load only when a demo is asked for (issue 19, item 4): never by importing the service."""
    probe = (f"import sys, services.{service}.service; "
             "print(sorted(m for m in sys.modules if m.startswith('services.') and 'demo' in m.rsplit('.', 1)[-1]))")
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", probe], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
