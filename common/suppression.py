"""Statistical disclosure control for published counts (SPEC C16, T): a cell small enough to point at a
person is not published, and neither is a complement that would give it away by subtraction."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping

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


def suppress_table(cells: Mapping[Hashable, int], margins: Iterable[Callable[[Hashable], Hashable]],
                   threshold: int = THRESHOLD) -> dict[Hashable, int | None]:
    """The cells of a table whose totals along several margins are published too (each margin maps a cell's key
    to its group: a province's total over every line and month, a line's, a month's, a line's in one month…).
    A count in 1..threshold-1 is null; then, until no group of any margin holds exactly one hidden cell, the
    smallest other non-zero cell of such a group is hidden with it (one that is not alone in a group of its own,
    where there is one). So no published total minus the published cells of its group gives one hidden cell:
    `suppress` does this for one margin, which left a province's single hidden cell to be had from the
    province's total across the other margins (issue 18). The limit: in a table so sparse that a group's only
    possible complement is alone in another group, that other group's total gives the complement away (the
    margins' totals are suppressed by their own size only); the national tables are far from it."""
    hidden = {key for key, n in cells.items() if 0 < n < threshold}
    groupings = []
    for margin in margins:
        groups: dict[Hashable, list] = defaultdict(list)
        for key in cells:
            groups[margin(key)].append(key)
        groupings.append(list(groups.values()))
    # A cell that is the only non-zero one of some group is that group's total: hidden as a complement, it
    # would be given away by that total. Such cells are taken as complements only when nothing else is left.
    alone = {keys[0] for groups in groupings for keys in ([k for k in g if cells[k] > 0] for g in groups)
             if len(keys) == 1}
    changed = True
    while changed:
        changed = False
        for groups in groupings:
            for keys in groups:
                inside = [key for key in keys if key in hidden]
                if len(inside) != 1:
                    continue
                others = sorted((key in alone, cells[key], str(key), key) for key in keys
                                if cells[key] > 0 and key not in hidden)
                if others:  # else the group's total is that one cell, and below the threshold it is hidden too
                    hidden.add(others[0][3])
                    changed = True
    return {key: None if key in hidden else n for key, n in cells.items()}
