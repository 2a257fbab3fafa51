"""Deadline arithmetic (SPEC C7, C8, C13): pure, no I/O.

Each hop of a case (a unit asked to act: handle, answer or approve) gets its deadline when it opens,
from a policy keyed by the case's class and the unit's level, and keeps it: a later change of policy
does not move a deadline already given. A warning is due at a fraction of the time allowed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.complaints.org import LEVELS

DEFAULT_MINUTES = {"urgent": 3 * 60, "normal": 24 * 60}  # SPEC C7: urgent under 3 hours, normal 1 day
DEFAULT_WARN_FRACTION = 0.8


@dataclass(frozen=True)
class Rule:
    minutes: int
    warn_fraction: float = DEFAULT_WARN_FRACTION

    def __post_init__(self):
        if self.minutes <= 0 or not 0 < self.warn_fraction < 1:
            raise ValueError("a deadline needs a positive time and a warning strictly before it")


@dataclass(frozen=True)
class Deadline:
    due_at: datetime
    warn_at: datetime


Policy = dict  # (urgency, level) -> Rule


def default_policy() -> Policy:
    return {(urgency, level): Rule(minutes) for urgency, minutes in DEFAULT_MINUTES.items() for level in LEVELS}


def deadline_for(policy: Policy, urgency: str, level: str, opened_at: datetime) -> Deadline:
    rule = policy.get((urgency, level)) or Rule(DEFAULT_MINUTES[urgency])
    allowed = timedelta(minutes=rule.minutes)
    return Deadline(due_at=opened_at + allowed, warn_at=opened_at + allowed * rule.warn_fraction)


def is_missed(due_at: datetime | None, now: datetime) -> bool:
    return due_at is not None and now >= due_at


def on_time(due_at: datetime, closed_at: datetime) -> bool:
    return closed_at <= due_at
