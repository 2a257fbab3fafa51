"""Prometheus metrics of every process, served with health checks on a port of their own
(common.ops_server), never through a nameko HTTP worker."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

RPC_CALLS = Counter("rpc_calls_total", "RPC calls handled", ["service", "method", "outcome"])
RPC_LATENCY = Histogram("rpc_call_duration_seconds", "RPC handling time", ["service", "method"],
                        buckets=LATENCY_BUCKETS)
EVENTS_HANDLED = Counter("events_handled_total", "Events handled, by outcome "
                         "(ok, error, duplicate, retried, waiting: on the database, dead_lettered)",
                         ["service", "handler", "outcome"])
EVENT_LATENCY = Histogram("event_handling_duration_seconds", "Event handling time",
                          ["service", "handler"], buckets=LATENCY_BUCKETS)
INBOX_DUPLICATES = Counter("inbox_duplicates_total", "Redelivered events dropped by the inbox", ["type"])
TIMER_RUNS = Counter("timer_runs_total", "Timer runs", ["service", "method", "outcome"])

OUTBOX_BACKLOG = Gauge("outbox_backlog", "Events committed but not yet published", ["service"])
OUTBOX_PUBLISHED = Counter("outbox_published_total", "Events published by the relay", ["service"])
OUTBOX_LAG = Histogram("outbox_publish_lag_seconds", "From commit to broker confirm", ["service"],
                       buckets=LATENCY_BUCKETS)
OUTBOX_ERRORS = Counter("outbox_relay_errors_total", "Relay batches that failed and were retried",
                        ["service"])

HTTP_REQUESTS = Counter("http_requests_total", "Gateway HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram("http_request_duration_seconds", "Gateway HTTP latency", ["method", "route"],
                         buckets=LATENCY_BUCKETS)

SMS_MESSAGES = Counter("sms_messages_total", "SMS by final state of an attempt",
                       ["provider", "state"])
SMS_SEND_LATENCY = Histogram("sms_send_duration_seconds", "One call to an operator (a message or a bulk batch)",
                             ["provider", "kind"], buckets=LATENCY_BUCKETS)
SMS_COST = Counter("sms_cost_rials_total", "What the operators charged", ["provider"])
SMS_BY_STATE = Gauge("sms_messages_by_state", "Messages now in each state (queue depth: queued)", ["state"])
SMS_DEAD_LETTERS = Gauge("sms_dead_letters", "Messages given up on, waiting for staff to replay them")

# Operations (deploy/prometheus/alerts.yml) ---------------------------------------------------------------
DEPENDENCY_UP = Gauge("dependency_up", "1 when this process reached the dependency (broker, db:<service>) at its "
                      "last check (common.ops_server)", ["dependency"])
PRINCIPAL_CACHE = Counter("gateway_principal_cache_total", "Staff requests whose principal the gateway had "
                          "(hit) or asked complaints for (miss)", ["result"])
# the broker's resource alarms and unroutable events (docs/operations.md, "Broker faults")
BROKER_BLOCKED = Gauge("broker_blocked", "1 while the broker refuses this process's publishes (connection.blocked, "
                       "a memory or disk alarm, or publisher confirms that stopped coming)", ["process"])
OUTBOX_SET_ASIDE = Gauge("outbox_events_set_aside", "Events the relay set aside because they cannot be published "
                         "for their content (logged with their id and error); the rest of the outbox goes on",
                         ["service"])
OUTBOX_UNROUTABLE = Counter("outbox_unroutable_total", "Events the broker returned because no queue is bound for "
                            "them; they stay unpublished in the outbox", ["service"])
# complaints: set where the deadline sweep escalates a hop whose deadline passed (services/complaints/sweeps.py)
DEADLINE_MISSES = Counter("case_deadline_misses_total", "Hops whose deadline passed unanswered, escalated by the sweep")
# complaints: rows a sweep could not act on, set aside with their error in sweep_failures (services/complaints/
# sweeps.py; alert SweepRowsSetAside); and outages the platform saw of itself (services/complaints/outages.py)
SWEEP_ROWS_FAILED = Counter("sweep_row_failures_total", "Rows (cases, staff) a sweep failed on alone and set aside "
                            "(a row failing again on its retry counts again)", ["sweep"])
SWEEP_ROWS_SET_ASIDE = Gauge("sweep_rows_set_aside", "Rows set aside now, by sweep (the sweep_failures table)",
                             ["sweep"])
OUTAGES_DETECTED = Counter("platform_outages_detected_total", "Outage windows the deadline sweep recorded because "
                           "its pulse was silent (deadlines and inactivity do not count them)")
# payments: set by the cycle timer (services/payments/service.py run_cycles) with record_payment_cycles
PAYMENT_CYCLE_STAGES = ("open", "entitlements_computed", "approved", "orders_issued", "bank_file_sent",
                        "statement_received", "reconciled")  # services/payments/cycles.py STAGES, less the ends
PAYMENT_CYCLES = Gauge("payment_cycles", "Payment cycles not settled or stopped, by stage", ["stage"])
PAYMENT_CYCLE_STAGE_AGE = Gauge("payment_cycle_stage_age_seconds",
                                "How long the longest-waiting cycle of each stage has been in it", ["stage"])
# payments: a cycle that failed on its own, recorded on its row (services/payments/cycle_worker.py; alert
# PaymentCycleFailing)
PAYMENT_CYCLE_FAILURES = Counter("payment_cycle_failures", "Runs of a payment cycle that failed on the cycle's own "
                                 "account (not the database's), by the stage it failed in", ["stage"])
PAYMENT_CYCLES_FAILING = Gauge("payment_cycles_failing", "Payment cycles whose last run failed, waiting for their "
                               "retry (cycles.last_error)")


def record_payment_cycles(cycles) -> None:
    """`cycles`: (stage, seconds since the cycle last moved) of every cycle not settled or stopped.
    Every stage gets a value (0 when no cycle is in it), so an alert sees a cycle leave its stage."""
    counts: dict[str, int] = {}
    oldest: dict[str, float] = {}
    for stage, age in cycles:
        counts[stage] = counts.get(stage, 0) + 1
        oldest[stage] = max(oldest.get(stage, 0.0), float(age or 0))
    for stage in sorted(set(PAYMENT_CYCLE_STAGES) | set(counts)):
        PAYMENT_CYCLES.labels(stage).set(counts.get(stage, 0))
        PAYMENT_CYCLE_STAGE_AGE.labels(stage).set(oldest.get(stage, 0.0))
