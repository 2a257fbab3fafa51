"""`./dev test`: every test. With no arguments the suite runs as four pytest processes side by side, each
in its own temporary directory and its own slice of free ports (scripts/processes.free_port), so that the
whole run takes about its longest part instead of their sum (most of each part waits on the platforms it
starts, the browser, or the faults it injects):
- the fault-injection suite (tests/faults, marker `faults`): it breaks only its own RabbitMQ nodes and its
  own embedded PostgreSQL (tests/faults/conftest.py), so the others never see its faults;
- the browser tests and the integration tests;
- the end-to-end tests (tests/e2e), each module with a whole platform of its own;
- everything else (unit, service).
The first three write to test-artifacts/<part>.log, shown after the last's output, and each part's CPU time
(its processes and every process they started and waited for) is printed at the end. The fault-injection
suite runs at the normal priority and the others at a lower one (nice 10, inherited by the platforms,
databases and browser they start): on a slow two-core machine the four parts keep both cores busy, and the
faults' bounds (found dead within seconds, ready again within 30 s) are the ones that measure time, so
their processes come first while the others take the rest. With arguments, one pytest with those
arguments, as before.

    python -m scripts.run_tests [pytest arguments]
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from common.config import PROJECT_ROOT

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
NICE = {"faults": 0}  # each part's niceness; the others' is LOWER_PRIORITY
LOWER_PRIORITY = 10
BESIDE = {  # the parts that run in the background, by name: their pytest arguments
    "faults": ["-m", "faults"],
    "browser-and-integration": ["-m", "not faults", "tests/browser", "tests/integration"],
    "end-to-end": ["-m", "not faults", "tests/e2e"],
}


def the_rest() -> list[str]:
    taken = {"tests/faults", "tests/browser", "tests/integration", "tests/e2e"}
    folders = sorted(f"tests/{p.name}" for p in (PROJECT_ROOT / "tests").iterdir()
                     if p.is_dir() and not p.name.startswith(("_", ".")) and f"tests/{p.name}" not in taken)
    return ["-m", "not faults", *folders]


def pytest(args: list[str], part: int | None = None, parts: int = 1, nice: int = 0, **popen) -> subprocess.Popen:
    env = dict(os.environ)
    if part is not None:
        env["FREE_PORT_SLICE"] = f"{part}/{parts}"
        args = [*args, "--durations=15"]  # where the run's time goes, part by part
        # its own temporary directory: pytest sessions must not prune each other's
        args = [*args, "--basetemp", tempfile.mkdtemp(prefix=f"pytest-part{part}-")]
    lowered = (lambda: os.nice(nice)) if nice else None
    return subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=PROJECT_ROOT, env=env,
                            preexec_fn=lowered, **popen)


def running(process: subprocess.Popen) -> bool:
    """Whether the part still runs, without reaping it (its CPU time is read when it is reaped)."""
    return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None


def wait(process: subprocess.Popen) -> tuple[int, float]:
    """The part's exit code and its CPU seconds: its own and those of every process it waited for."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_utime + usage.ru_stime


def main(argv: list[str]) -> int:
    if argv:
        return pytest(argv).wait()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    parts = len(BESIDE) + 1
    logs = {name: open(ARTIFACTS / f"{name}.log", "w") for name in BESIDE}
    beside = {name: pytest(args, i + 1, parts, NICE.get(name, LOWER_PRIORITY), stdout=logs[name],
                           stderr=subprocess.STDOUT)
              for i, (name, args) in enumerate(BESIDE.items())}
    try:
        rest, rest_cpu = wait(pytest(the_rest(), 0, parts, NICE.get("the rest", LOWER_PRIORITY)))
        for name, process in beside.items():
            if running(process):
                print(f"\nwaiting for {name} (pid {process.pid}, {ARTIFACTS / (name + '.log')})", flush=True)
        ended = {name: wait(process) for name, process in beside.items()}
        codes = {name: code for name, (code, _) in ended.items()}
    except BaseException:
        for process in beside.values():
            process.terminate()
            process.wait()
        raise
    finally:
        for log in logs.values():
            log.close()
    for name in BESIDE:
        print(f"\n{'=' * 30} {name} {'=' * 30}", flush=True)
        sys.stdout.write((ARTIFACTS / f"{name}.log").read_text())
        sys.stdout.flush()
    print(f"\nthe rest: exit {rest}; " + "; ".join(f"{name}: exit {code}" for name, code in codes.items()), flush=True)
    print(f"CPU seconds: the rest {rest_cpu:.0f}; " + "; ".join(f"{name} {cpu:.0f}" for name, (_, cpu) in ended.items()),
          flush=True)
    return rest or next((code for code in codes.values() if code), 0)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main(sys.argv[1:]))
