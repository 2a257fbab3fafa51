"""Statistical disclosure control for published counts (SPEC C16, T): a cell small enough to point at a
person is not published, and neither is a complement that would give it away by subtraction."""
from __future__ import annotations

THRESHOLD = 5  # fewer people than this in a cell: suppressed


def suppress(counts: dict[str, int], total: int, threshold: int = THRESHOLD) -> dict[str, int | None]:
    """The cells of one dimension as published: a count in 1..threshold-1 becomes null (0 stays 0).
    When exactly one cell is suppressed, the smallest other non-zero cell is suppressed with it, so
    that `total` minus the published cells does not give the small one away. When the total itself
    is suppressed (1..threshold-1), every cell is."""
    if 0 < total < threshold:
        return {key: None for key in counts}
    hidden = {key for key, n in counts.items() if 0 < n < threshold}
    if len(hidden) == 1:
        others = sorted((n, key) for key, n in counts.items() if n > 0 and key not in hidden)
        hidden |= {others[0][1]} if others else set()
    return {key: None if key in hidden else n for key, n in counts.items()}


def published_total(total: int, threshold: int = THRESHOLD) -> int | None:
    return None if 0 < total < threshold else total
