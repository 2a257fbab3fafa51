"""The month the transparency journey pays (the `paid` fixture, tests/platform_fixtures.py), and polling a public
route as a client would: the e2e and the browser tests of Shafaf share both."""
from __future__ import annotations

import time

# six: a province's cell of fewer than five households would be suppressed in the public totals
PEOPLE = {nid: f"0912777000{i}" for i, nid in enumerate(
    ("0004993705", "0005072891", "0005152089", "0005231272", "0005310466", "0005389658"), start=1)}
LINE = "pension_disability"


def _until(fetch, ready, what: str, timeout: float = 180):  # a bound: slow machines under the CI's load took >60 s
    """Poll a public route until its answer is ready, as a client would; fail naming what never came."""
    deadline = time.monotonic() + timeout
    while True:
        answer = fetch()
        if ready(answer):
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout}s; last answer: {str(answer)[:500]}")
        time.sleep(0.5)
