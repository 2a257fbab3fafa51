"""Small cells and their complements (common.suppression), without a database: a suppressed cell is never what
a published total minus the published cells of its group leaves, along any margin that is published too."""
from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from common.suppression import THRESHOLD, suppress, suppress_table

# the payment aggregates' margins: a line in a month (across provinces), a province, a line, a month
MARGINS = [lambda k: (k[0], k[1]), lambda k: k[2], lambda k: k[1], lambda k: k[0]]


def leaked(cells: dict, shown: dict, margins) -> list:
    """Cells that a group's total minus its published cells gives away: its only hidden cell."""
    found = []
    for margin in margins:
        groups = defaultdict(list)
        for key in cells:
            groups[margin(key)].append(key)
        for keys in groups.values():
            hidden = [k for k in keys if shown[k] is None and cells[k] > 0]
            total = sum(cells[k] for k in keys)
            if len(hidden) == 1 and total >= THRESHOLD:  # a total under the threshold is not published
                found.append(hidden[0])
    return found


def test_one_margin_at_a_time_leaves_a_province_s_small_cell_to_its_total_and_the_table_does_not():
    # one month; in line L1 province A has 2 households. Suppressed within L1 alone (A with B, its smallest
    # complement), A's total over the lines (42, published by province) minus L2's 40 gives the 2 away.
    cells = {("1405-01", "L1", "A"): 2, ("1405-01", "L1", "B"): 50, ("1405-01", "L1", "C"): 60,
             ("1405-01", "L2", "A"): 40, ("1405-01", "L2", "B"): 45, ("1405-01", "L2", "C"): 70}
    per_line = {}
    for line in ("L1", "L2"):
        group = {k: n for k, n in cells.items() if k[1] == line}
        per_line.update(suppress(group, sum(group.values())))
    assert ("1405-01", "L1", "A") in leaked(cells, per_line, MARGINS)

    shown = suppress_table(cells, MARGINS)
    assert leaked(cells, shown, MARGINS) == []
    assert shown[("1405-01", "L1", "A")] is None and shown[("1405-01", "L2", "C")] == 70  # not everything hidden
    assert sum(n is None for n in shown.values()) == 4


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.tuples(st.sampled_from(["1405-01", "1405-02"]), st.sampled_from(["L1", "L2", "L3"]),
                                 st.sampled_from(["A", "B", "C", "D"])),
                       st.one_of(st.integers(0, 6), st.integers(7, 500)), min_size=1))
def test_no_group_holds_exactly_one_hidden_cell_and_only_small_cells_and_complements_are_hidden(cells):
    shown = suppress_table(cells, MARGINS)
    for margin in MARGINS:  # the invariant: a group's one hidden cell is only ever its only non-zero cell
        groups = defaultdict(list)
        for key in cells:
            groups[margin(key)].append(key)
        for keys in groups.values():
            hidden = [k for k in keys if shown[k] is None]
            assert len(hidden) != 1 or [k for k in keys if cells[k] > 0] == hidden
    for key, n in cells.items():
        if 0 < n < THRESHOLD:
            assert shown[key] is None
        elif n == 0:
            assert shown[key] == 0  # nothing to protect in an empty cell
        elif shown[key] is not None:
            assert shown[key] == n


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.tuples(st.sampled_from(["1405-01", "1405-02", "1405-03"]), st.sampled_from(["L1", "L2"]),
                                 st.sampled_from(["A", "B", "C", "D", "E"])),
                       st.one_of(st.integers(1, 4), st.integers(20, 5000)), min_size=30, max_size=30))
def test_a_full_table_gives_no_hidden_cell_away_along_any_margin(cells):
    """Every line paid in every province every month (as the national tables are): nothing leaks."""
    assert leaked(cells, suppress_table(cells, MARGINS), MARGINS) == []
