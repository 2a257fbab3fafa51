"""The capacity model (issue 21, item 3): from the CPU each operation was measured to cost, the cores and
replicas the national load needs, and the autoscaling settings of k8s/base that follow from them.

    python -m bench.capacity        prints docs/capacity.md's tables (the document explains them)

tests/unit/test_capacity_model.py keeps k8s/base's settings equal to what `settings()` derives, so a change of a
figure or of an assumption changes the manifests, or the test says which to change.

Measured figures come from the newest runs kept in bench/results/ where a benchmark records them, and otherwise
from docs/benchmarks.md (cited). Every figure but the cycle's is a CPU cost of the whole 2-core machine divided by
the work done, so each includes PostgreSQL, RabbitMQ, the fakes and the load generator: an upper bound for the
process it is charged to. The cycle's is its own process's CPU (PostgreSQL and the fake bank apart). The load is partly the specification's (1,542,000 households) and partly assumed where nothing is
published (complaint and portal volumes): each assumption is named in LOAD and in docs/capacity.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from bench.results import latest

CORES_MEASURED_ON = 2


def _newest(benchmark: str, part: str) -> dict:
    for found in latest():
        if found["benchmark"] == benchmark and found["part"] == part:
            return found["result"]
    raise LookupError(f"no result of {benchmark} ({part}) in bench/results/")


def platform_cpu(cpu_seconds: dict) -> float:
    """The cycle's own CPU: the bench's process, or its cycle workers when it ran lines at once."""
    return cpu_seconds["bench_s"] + cpu_seconds.get("cycle_workers_s", 0.0)


@dataclass(frozen=True)
class Measured:
    sms_ms: float  # machine CPU per SMS, event to the operator's bulk endpoint (bench.sms_bulk)
    read_ms: float  # machine CPU per trivial RPC read through the gateway (bench.gateway_rpc)
    gateway_ms_per_case: float  # the gateway's own CPU per registered case (bench.cpu_split, docs/benchmarks.md §1)
    complaints_ms_per_case: float  # the complaints service's, same run
    cycle_cpu_s_per_million: float  # the platform's own CPU per million paid households, PostgreSQL's and the fake bank's apart (bench.payment_cycle)
    cycle_seconds: float  # the cycle's wall time for 1,542,000 households
    ingest_ms_per_item: float  # transparency's history ingest, machine CPU per paid item: the slower of a first and a usual month (bench.transparency)


def measured() -> Measured:
    sms = _newest("bench.sms_bulk", "bulk SMS from events to the operator")
    read = _newest("bench.gateway_rpc", "trivial RPC route")
    cycle = _newest("bench.payment_cycle", "a month's cycle, open to settled")
    ingest = min((_newest("bench.transparency", part) for part in ("ingest", "ingest-next-month")),
                 key=lambda run: run["items_per_second"])  # a household's first month writes its contact too
    per_machine = CORES_MEASURED_ON * 1000.0  # CPU milliseconds a second
    return Measured(
        sms_ms=per_machine / sms["subject"]["per_second"],
        read_ms=per_machine / read["subject"]["per_second"],
        gateway_ms_per_case=2.1, complaints_ms_per_case=3.5,  # 2026-11-26, docs/benchmarks.md §1
        cycle_cpu_s_per_million=platform_cpu(cycle["subject"]["cpu_seconds"]) / cycle["paid_households"] * 1e6,
        cycle_seconds=cycle["subject"]["seconds"],
        ingest_ms_per_item=per_machine / ingest["items_per_second"],
    )


@dataclass(frozen=True)
class Load:
    households: int = 1_542_000  # SPEC P2: one pension SMS each on payday
    sms_contract_per_second: int = 1_000  # ASSUMED: each operator account's rate (set to the signed contract)
    payday_sms_minutes: int = 30  # the aim: every household told within half an hour of the money
    cases_per_year: int = 77_000  # ASSUMED: 1% of the 7.7 million target population (SPEC) a year
    peak_day_factor: int = 10  # ASSUMED: a peak day against the mean working day (250 a year)
    peak_hour_share: float = 0.2  # ASSUMED: a fifth of a day's cases in its busiest hour
    portal_reads_per_second: int = 20  # ASSUMED: Shafaf's usual busiest-hour reads (no figure is published)
    news_factor: int = 100  # issue 21: a Shafaf day after a news story
    staff: int = 697  # SPEC C11
    staff_requests_per_second_each: float = 0.2  # ASSUMED: a page every five seconds at the busiest


LOAD = Load()
CPU_TARGET = 0.7  # the gateway's HorizontalPodAutoscaler: average utilization of its CPU request
HEADROOM = 1.25  # replicas above the computed need: a node lost, a rolling deploy


def needs(m: Measured, load: Load = LOAD) -> dict:
    """Cores (machine CPU, upper bounds) at each peak."""
    news_reads = load.portal_reads_per_second * load.news_factor
    staff_reads = load.staff * load.staff_requests_per_second_each
    peak_cases = load.cases_per_year / 250 * load.peak_day_factor * load.peak_hour_share / 3600
    payday_rate = load.sms_contract_per_second  # as fast as the contract allows (the CPU allows far more)
    return {
        "news_reads_per_second": news_reads,
        "gateway_cores_news": (news_reads + staff_reads) * m.gateway_ms_per_case / 1000,
        "services_cores_news": (news_reads + staff_reads) * (m.read_ms - m.gateway_ms_per_case) / 1000,
        "peak_cases_per_second": peak_cases,
        "case_cores": peak_cases * (m.gateway_ms_per_case + m.complaints_ms_per_case) / 1000,
        "payday_sms_per_second": payday_rate,
        "payday_sms_minutes": load.households / payday_rate / 60,
        "sms_cores": payday_rate * m.sms_ms / 1000,
        "cycle_cpu_seconds": m.cycle_cpu_s_per_million * load.households / 1e6,
        "ingest_seconds_one_core": m.ingest_ms_per_item * load.households / 1000,
    }


def settings(m: Measured | None = None, load: Load = LOAD) -> dict:
    """The autoscaling settings of k8s/base that follow from the needs."""
    need = needs(m or measured(), load)
    gateway_request_cores = 0.5
    gateway_max = math.ceil(need["gateway_cores_news"] / (CPU_TARGET * gateway_request_cores) * HEADROOM)
    # SMS: each replica keeps its own token bucket per operator, so the contract's rate is shared out: the
    # replicas at most, times each one's rate, never exceed it. Payday fills the disbursement queue far past
    # KEDA's threshold, so it runs at the most replicas: rate × most = the contract.
    sms_cores_each = 1.0  # the notifications container's CPU limit
    notifications_max = max(2, math.ceil(need["sms_cores"] / sms_cores_each * HEADROOM * 2))
    return {
        "gateway": {"cpu_request": "500m", "min": 2, "max": max(gateway_max, 2), "target": int(CPU_TARGET * 100)},
        "notifications": {"min": 2, "max": notifications_max,
                          "sms_rate_per_second": load.sms_contract_per_second // notifications_max},
    }


def main() -> None:
    m = measured()
    need = needs(m)
    print("| figure | value |\n|---|---|")
    for name, value in {**m.__dict__, **need}.items():
        print(f"| {name} | {value:,.3f} |")
    print()
    for process, values in settings(m).items():
        print(f"{process}: {values}")


if __name__ == "__main__":
    main()
