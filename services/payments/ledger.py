"""The double-entry ledger in integer rials (DESIGN: "Money moves once"): pure, no I/O.

Accounts, per budget line where it matters:
    treasury                  where allocations come from (the national budget)
    allocation:<line>         what a budget line may still spend this year
    in_transit                sent to the bank, not yet confirmed by its statement
    paid:<line>               confirmed paid to beneficiaries
    returned:<line>           sent, then returned by the bank (closed account…), until a person
                              cancels the payment or carries it to the next cycle: then back to the line

Every posting is a list of (account, amount) whose amounts sum to zero: debits positive, credits
negative. A posting that does not balance is refused before it is written.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass


class Unbalanced(ValueError):
    pass


@dataclass(frozen=True)
class Posting:
    key: str  # what caused it, unique: the same cause posts once (e.g. "send:<batch id>")
    lines: tuple[tuple[str, int], ...]

    def __post_init__(self):
        if not self.lines:
            raise Unbalanced(f"{self.key}: an empty posting")
        for account, amount in self.lines:
            if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
                raise Unbalanced(f"{self.key}: {account} {amount!r} is not a non-zero whole number of rials")
        if sum(amount for _, amount in self.lines) != 0:
            raise Unbalanced(f"{self.key}: debits and credits differ by {sum(a for _, a in self.lines)} rials")


def allocate(line: str, year: str, amount: int) -> Posting:
    return Posting(f"allocate:{line}:{year}", ((f"allocation:{line}", amount), ("treasury", -amount)))


def send(batch_id: str, line: str, amount: int) -> Posting:
    """A bank file leaves: the money is no longer the line's to spend, and not yet paid."""
    return Posting(f"send:{batch_id}", (("in_transit", amount), (f"allocation:{line}", -amount)))


def settle(statement_id: str, line: str, paid: int, returned: int) -> Posting:
    """The bank's statement: what reached beneficiaries, and what came back."""
    lines = [("in_transit", -(paid + returned))]
    if paid:
        lines.append((f"paid:{line}", paid))
    if returned:
        lines.append((f"returned:{line}", returned))
    return Posting(f"settle:{statement_id}", tuple(lines))


def release(key: str, line: str, amount: int) -> Posting:
    """A returned payment cancelled, or carried to the next cycle: the money is the line's again."""
    return Posting(f"release:{key}", ((f"allocation:{line}", amount), (f"returned:{line}", -amount)))


def balances(postings) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        for account, amount in posting.lines:
            totals[account] += amount
    return dict(totals)


def remaining(balances_: dict[str, int], line: str) -> int:
    return balances_.get(f"allocation:{line}", 0)
