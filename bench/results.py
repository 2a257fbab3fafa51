"""Every benchmark's result kept as JSON (issue 21, item 4), so that a run is compared with the last one and
docs/benchmarks.md shows the latest of each:

    bench/results/<benchmark module>/<UTC time>.json   {benchmark, part, at, commit, machine, load_average,
                                                         result}: written by record(), at the end of a run
    python -m bench.results                            rewrites docs/benchmarks.md's "Latest results" table
                                                         from the newest file of each benchmark and part

A benchmark prints its result as before; record() adds where it went and each ratio beside the last run's.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from common.config import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "bench" / "results"
DOCS = PROJECT_ROOT / "docs" / "benchmarks.md"
START, END = "<!-- latest results: python -m bench.results -->", "<!-- end of latest results -->"


def _module() -> str:
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return spec.name if spec is not None and spec.name.startswith("bench.") else "bench.unknown"


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine() -> dict:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "processor": platform.machine()}


def ratios(result: dict) -> dict[str, float]:
    return {k: v for k, v in result.items() if k.startswith("ratio") and isinstance(v, (int, float))}


def previous(benchmark: str, part: str, root: Path = RESULTS) -> dict | None:
    runs = sorted((root / benchmark).glob("*.json")) if (root / benchmark).is_dir() else []
    for path in reversed(runs):
        run = json.loads(path.read_text(encoding="utf-8"))
        if run.get("part") == part:
            return run
    return None


def record(part: str, result: dict, benchmark: str | None = None, root: Path = RESULTS,
           now: datetime | None = None) -> Path:
    """Keep `result` (one part of a benchmark's run: "trivial RPC route", …) and print how its ratios
    compare with the last run's."""
    benchmark = benchmark or _module()
    now = now or datetime.now(timezone.utc)
    last = previous(benchmark, part, root)
    run = {"benchmark": benchmark, "part": part, "at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
           "commit": _commit(), "machine": machine(), "load_average": [round(x, 2) for x in os.getloadavg()],
           "result": result}
    folder = root / benchmark
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{now.strftime('%Y%m%dT%H%M%SZ')}-{_slug(part)}.json"
    path.write_text(json.dumps(run, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    was = ratios(last["result"]) if last else {}
    for key, value in ratios(result).items():
        print(f"{benchmark} / {part}: {key} {value}" + (f" (last run {last['at']}: {was[key]})" if key in was else
                                                      " (no earlier run kept)"))
    print(f"result kept in {path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path}")
    return path


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")[:60] or "result"


def latest(root: Path = RESULTS) -> list[dict]:
    """The newest run of each (benchmark, part), ordered by benchmark and part."""
    found: dict[tuple[str, str], dict] = {}
    for path in sorted(root.glob("*/*.json")):
        run = json.loads(path.read_text(encoding="utf-8"))
        found[(run["benchmark"], run["part"])] = run
    return [found[k] for k in sorted(found)]


def table(runs: list[dict]) -> str:
    lines = ["| benchmark | part | when (UTC), commit | load average | ratios |", "|---|---|---|---|---|"]
    for run in runs:
        shown = ", ".join(f"{k} **{v}**" for k, v in ratios(run["result"]).items()) or "—"
        lines.append(f"| `{run['benchmark']}` | {run['part']} | {run['at']}, {run.get('commit') or '?'} | "
                     f"{' / '.join(str(x) for x in run['load_average'])} | {shown} |")
    return "\n".join(lines)


def rewrite(text: str, runs: list[dict]) -> str:
    """`text` (docs/benchmarks.md) with the section between the markers made from `runs`."""
    head, found, rest = text.partition(START)
    if not found:
        raise ValueError(f"docs/benchmarks.md has no {START!r}")
    _, found, tail = rest.partition(END)
    if not found:
        raise ValueError(f"docs/benchmarks.md has no {END!r}")
    return f"{head}{START}\n{table(runs)}\n{END}{tail}"


def main() -> int:
    DOCS.write_text(rewrite(DOCS.read_text(encoding="utf-8"), latest()), encoding="utf-8")
    print(f"{DOCS.relative_to(PROJECT_ROOT)}: {len(latest())} results")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
