"""The month the payments journey (test_payments_journey.py) pays, and following a cycle as staff do: the browser
tests pay the same people on the same line."""
from __future__ import annotations

import time

PEOPLE = {"0499370899": "09121110001", "0010350829": "09121110002", "0084575948": None}
LINE = "pension_elderly"


def cycle_reaches(api, cycle_id, stage, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        seen = api.call("GET", f"/api/v1/staff/payments/cycles/{cycle_id}", "auditor").json()
        if seen["stage"] == stage or time.monotonic() > deadline:
            return seen
        time.sleep(0.3)  # the worker's timer moves the cycle; the API is how staff follow it
