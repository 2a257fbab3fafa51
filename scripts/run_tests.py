"""`./dev test`: every test. With no arguments the fault-injection suite (tests/faults, marker `faults`) runs
beside the rest, in a pytest process of its own: it breaks only its own RabbitMQ nodes and its own embedded
PostgreSQL (tests/faults/conftest.py), so the two never see each other's faults, and the whole run takes
about the longer of the two instead of their sum. Its output is kept in test-artifacts/faults.log and shown
after the rest's. With arguments, one pytest with those arguments, as before.

    python -m scripts.run_tests [pytest arguments]
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from common.config import PROJECT_ROOT

FAULTS_LOG = PROJECT_ROOT / "test-artifacts" / "faults.log"


def pytest(*args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=PROJECT_ROOT, **popen)


def main(argv: list[str]) -> int:
    if argv:
        return pytest(*argv).wait()
    FAULTS_LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(FAULTS_LOG, "w") as log:
        # its own temporary directory: two pytest sessions must not prune each other's
        faults = pytest("-m", "faults", "--basetemp", tempfile.mkdtemp(prefix="pytest-faults-"),
                        stdout=log, stderr=subprocess.STDOUT)
        try:
            rest = pytest("-m", "not faults").wait()
            if faults.poll() is None:
                print(f"\nwaiting for the fault-injection suite (pid {faults.pid}, {FAULTS_LOG})", flush=True)
            faults_code = faults.wait()
        except BaseException:
            faults.terminate()
            faults.wait()
            raise
    print(f"\n{'=' * 30} the fault-injection suite (tests/faults) {'=' * 30}", flush=True)
    with open(FAULTS_LOG) as log:
        sys.stdout.write(log.read())
    sys.stdout.flush()
    print(f"\nthe rest: exit {rest}; the fault-injection suite: exit {faults_code}", flush=True)
    return rest or faults_code


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main(sys.argv[1:]))
