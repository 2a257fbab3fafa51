"""The effort of a journey, as the person makes it: every click and every key press that submits, counted as the
test makes them through this recorder, and the wall clock from the journey's first page load to its last expected
state. Typing into a field is counted apart (`fields`): it is not a click.

Counting rules (docs/journeys.md): a click on a button, link, radio or checkbox is 1; choosing from a drop-down
list is 2 (open it, pick); Enter or Ctrl+Enter that sends a form is 1; opening the first page (an address, a
bookmark, the link in an SMS) is the start, not a click."""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from common.config import PROJECT_ROOT

DOCS = PROJECT_ROOT / "docs" / "journeys.md"
RESULTS = PROJECT_ROOT / "test-artifacts" / "journeys.json"
SECONDS_BOUND = 30.0  # a person's browser: machine-dependent, only a generous bound is asserted, the figure recorded
BUDGET_ROW = re.compile(r"^\|\s*`(?P<key>[a-z_]+)`\s*\|[^|]*\|\s*(?P<budget>\d+)\s*\|", re.MULTILINE)


def budgets(path: Path = DOCS) -> dict[str, int]:
    """The clicks budget of each journey, from the table in docs/journeys.md (its first column is the key)."""
    return {m["key"]: int(m["budget"]) for m in BUDGET_ROW.finditer(path.read_text(encoding="utf-8"))}


class Journey:
    """One journey's recorder: the test acts through it, so what it counts is what the person did."""

    def __init__(self, key: str):
        self.key = key
        self.clicks = self.submit_keys = self.fields = 0
        self.started: float | None = None
        self.seconds: float | None = None
        self.visits: list[float] = []  # when each browser was opened, seconds from the start


    def open(self, web, path: str, **viewport):
        """A person's browser at `path`; the first one starts the clock."""
        if self.started is None:
            self.started = time.monotonic()
        self.visits.append(round(time.monotonic() - self.started, 2))
        return web.page(path, **viewport)

    def click(self, target) -> None:
        target.click()
        self.clicks += 1

    def check(self, target) -> None:
        target.check()
        self.clicks += 1

    def choose(self, target, **option) -> None:
        target.select_option(**option)
        self.clicks += 2

    def type(self, target, text: str) -> None:
        target.fill(text)
        self.fields += 1

    def press(self, target, key: str) -> None:
        target.press(key)
        self.submit_keys += 1

    def login(self, page, username: str, password: str) -> None:
        self.type(page.get_by_label("نام کاربری"), username)
        self.type(page.get_by_label("گذرواژه"), password)
        self.click(page.get_by_role("button", name="ورود"))
        page.locator("#who button").wait_for()  # logged in: the name and the logout button

    def done(self, reached, timeout: float | None = None) -> None:
        """The journey's last expected state is on the page: the clock stops."""
        reached.wait_for(timeout=timeout)
        self.seconds = round(time.monotonic() - self.started, 2)

    @property
    def bound(self) -> float:
        """The time allowed: SECONDS_BOUND for each browser the journey opens (each person, each return)."""
        return SECONDS_BOUND * len(self.visits)

    @property
    def presses(self) -> int:
        """What the budget counts: clicks and the key presses that submit."""
        return self.clicks + self.submit_keys

    def record(self) -> dict:
        return {"clicks": self.clicks, "submit_keys": self.submit_keys, "presses": self.presses,
                "fields_typed": self.fields, "seconds": self.seconds, "browsers_opened_at": self.visits}


def write(journey: Journey, path: Path = RESULTS) -> None:
    """Add this journey's figures to test-artifacts/journeys.json (the others of the run kept), with the machine's load."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        kept = {}
    kept.setdefault("journeys", {})[journey.key] = journey.record()
    kept["machine"] = {"cpus": os.cpu_count(), "load_1m": round(os.getloadavg()[0], 2)}
    path.write_text(json.dumps(kept, ensure_ascii=False, indent=2), encoding="utf-8")
