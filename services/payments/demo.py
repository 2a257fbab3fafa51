"""The payments demo for the local run: the 16 budget lines funded for 1405 and the first
DEMO_PEOPLE households of the demo registry (the benchmark loads all 1,542,000)."""
from __future__ import annotations

DEMO_PEOPLE = 5_000


def load_demo_payments(db_url: str, people: int = DEMO_PEOPLE) -> int:
    from services.payments.demo_load import load_demo

    load_demo(db_url, people)
    return people
