"""Benchmark results kept as JSON and the docs' table made from them (issue 21, item 4)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from bench import results


def test_a_run_is_kept_and_compared_with_the_last_of_its_part(tmp_path, capsys):
    first = datetime(2026, 12, 6, 18, 0, tzinfo=timezone.utc)
    results.record("trivial RPC route", {"ratio_per_second": 0.6, "subject": {}}, "bench.gateway_rpc", tmp_path, first)
    assert "no earlier run kept" in capsys.readouterr().out
    path = results.record("trivial RPC route", {"ratio_per_second": 0.8}, "bench.gateway_rpc", tmp_path,
                          first.replace(hour=19))
    out = capsys.readouterr().out
    assert "ratio_per_second 0.8 (last run 2026-12-06T18:00:00Z: 0.6)" in out
    kept = json.loads(path.read_text())
    assert kept["part"] == "trivial RPC route" and kept["machine"]["cpus"] and len(kept["load_average"]) == 3
    results.record("auth check", {"ratio_x": 1.2}, "bench.gateway_rpc", tmp_path, first.replace(hour=20))
    newest = results.latest(tmp_path)
    assert [(r["part"], r["result"]) for r in newest] == [("auth check", {"ratio_x": 1.2}),
                                                          ("trivial RPC route", {"ratio_per_second": 0.8})]


def test_the_docs_table_is_rewritten_between_its_markers_only():
    text = f"intro\n{results.START}\nold table\n{results.END}\nafter\n"
    runs = [{"benchmark": "bench.sms_bulk", "part": "bulk", "at": "2026-12-06T18:00:00Z", "commit": "abc1234",
             "load_average": [1.0, 2.0, 3.0], "result": {"ratio_per_second": 0.5, "seconds": 3}}]
    made = results.rewrite(text, runs)
    assert made.startswith("intro\n") and made.endswith(f"{results.END}\nafter\n") and "old table" not in made
    assert "| `bench.sms_bulk` | bulk | 2026-12-06T18:00:00Z, abc1234 | 1.0 / 2.0 / 3.0 | ratio_per_second **0.5** |" in made


def test_docs_benchmarks_shows_the_newest_kept_result_of_each_benchmark():
    text = results.DOCS.read_text(encoding="utf-8")
    assert results.rewrite(text, results.latest()) == text, "python -m bench.results"
