"""Prometheus metrics of every process, served with health checks on a port of their own
(common.ops_server), never through a nameko HTTP worker."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

RPC_CALLS = Counter("rpc_calls_total", "RPC calls handled", ["service", "method", "outcome"])
RPC_LATENCY = Histogram("rpc_call_duration_seconds", "RPC handling time", ["service", "method"],
                        buckets=LATENCY_BUCKETS)
EVENTS_HANDLED = Counter("events_handled_total", "Events handled, by outcome "
                         "(ok, error, duplicate, retried, dead_lettered)",
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
