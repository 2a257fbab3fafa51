"""The citizen's timeline (SPEC C3): each step they can recognise, once. Pure, no I/O.

The review of an answer on its way up the chain (SPEC C6) is the organization's own loop: the citizen
sees that an answer was written and is being approved (the first "answered" of the loop) and then the
approval that delivered it; not each approval up the chain, nor a superior's return and the answer
written again.
"""
from __future__ import annotations

from services.complaints import domain

REVIEW_STEPS = {"answered", "returned", "approved"}


def delivered(step) -> bool:
    """An approval that delivered the answer to the citizen (the last one up the chain)."""
    return step.action == "approved" and (step.data or {}).get("status") == "answered"


def public_steps(history) -> list:
    """The history rows the citizen sees, in order: public steps, the review loop folded as above."""
    shown, in_review = [], False
    for step in history:
        if step.action not in domain.PUBLIC_STEPS:
            continue
        if step.action in REVIEW_STEPS and not delivered(step):
            if step.action != "answered" or in_review:
                continue  # an approval on the way up, a return, an answer written again
            in_review = True
        else:
            in_review = False
        shown.append(step)
    return shown
