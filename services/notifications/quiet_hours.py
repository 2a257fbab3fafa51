"""Quiet hours (22:00–07:00 Tehran by default): a non-urgent message made during them waits until
they end; one-time codes and urgent case messages do not wait. Pure: no I/O."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from common.jalali import TEHRAN


def parse(spec: str) -> tuple[time, time] | None:
    """"22:00-07:00" → (22:00, 07:00); "" → None (no quiet hours)."""
    if not spec.strip():
        return None
    start, end = (time.fromisoformat(part.strip()) for part in spec.split("-"))
    return start, end


def release_time(now: datetime, spec: str) -> datetime:
    """When a non-urgent message made at `now` may go: `now` itself outside quiet hours, else the
    end of the quiet hours it falls in (in UTC, like `now`)."""
    window = parse(spec)
    if window is None:
        return now
    start, end = window
    local = now.astimezone(TEHRAN)
    clock = local.time()
    overnight = start > end
    quiet = (clock >= start or clock < end) if overnight else (start <= clock < end)
    if not quiet:
        return now
    day = local.date() + timedelta(days=1) if overnight and clock >= start else local.date()
    return datetime.combine(day, end, tzinfo=TEHRAN).astimezone(now.tzinfo)
