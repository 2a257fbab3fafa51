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


# Outages do not count against people (DESIGN "Delivery under faults"; SPEC C8, C12, C13) ---------------------
# A window [start, end) is a time the platform was recorded unavailable: by an operator, or by the platform
# itself when its deadline sweep found its own pulse silent for too long (services/complaints/outages.py).
# While the platform is down the clock of every deadline stops: a hop allowed 24 hours gets 24 hours of
# time in which the platform was up, and so does a person's 48 hours of inactivity (C12).
Window = tuple  # (start: datetime, end: datetime)

OUTAGE_GAP_FACTOR = 4  # a pulse silent for more than this many sweep intervals is an outage...
OUTAGE_GAP_MIN = timedelta(seconds=60)  # ...and never for less than this (a slow batch is not an outage)


def merge_windows(windows) -> list[Window]:
    """The windows sorted, overlapping and touching ones joined, empty ones dropped."""
    merged: list[Window] = []
    for start, end in sorted((s, e) for s, e in windows if e > s):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def extended_deadline(opened_at: datetime, due_at: datetime, windows) -> datetime:
    """`due_at`, given at `opened_at`, with the clock stopped during every window: the time allowed
    (due_at - opened_at) is counted only while the platform was up. A window that ended before
    `opened_at` or starts at or after the (extended) deadline changes nothing; a deadline that fell in
    or after a window moves by the window's overlap with the time allowed (and by any later window
    the moved deadline then runs into). The same rule serves a hop's warning and C12's 48 hours."""
    if due_at <= opened_at:
        return due_at  # no time was allowed: nothing to stop
    moment, left = opened_at, due_at - opened_at
    for start, end in merge_windows(windows):
        if end <= moment:
            continue
        if start >= moment + left:
            break
        left -= max(start - moment, timedelta(0))
        moment = end
    return moment + left


def detected_outage(last_pulse: datetime | None, now: datetime, interval: timedelta) -> Window | None:
    """The window to record when the sweeps' pulse (each tick and batch reaching the database) was silent
    from `last_pulse` to `now` for longer than OUTAGE_GAP_FACTOR sweep intervals (and OUTAGE_GAP_MIN):
    the whole silence, since nobody can show the platform was up in it. None when it was not."""
    if last_pulse is None or now - last_pulse <= max(OUTAGE_GAP_FACTOR * interval, OUTAGE_GAP_MIN):
        return None
    return (last_pulse, now)
