"""The citizen's timeline (SPEC C3): each public step once, the review of an answer folded."""
from types import SimpleNamespace

from services.complaints.timeline import public_steps


def row(action, status=None):
    return SimpleNamespace(action=action, data={"status": status} if status else {})


def shown(*rows):
    return [r.action for r in public_steps(rows)]


def test_approvals_up_the_chain_and_returns_are_folded_into_one_answer_and_one_approval():
    assert shown(row("registered"), row("triaged"), row("referred"), row("referred"),
                 row("answered", "awaiting_approval"), row("returned", "returned"), row("answered", "awaiting_approval"),
                 row("approved", "awaiting_approval"), row("approved", "awaiting_approval"),
                 row("approved", "answered"), row("deadline_warning"), row("closed", "closed")) == [
        "registered", "triaged", "referred", "referred", "answered", "approved", "closed"]


def test_a_new_handing_starts_a_new_review_and_each_handing_shows():
    assert shown(row("registered"), row("triaged"), row("answered", "awaiting_approval"),
                 row("deadline_missed", "escalated"), row("triaged"), row("answered", "awaiting_approval"),
                 row("approved", "answered"), row("reopened", "reopened"), row("answered", "awaiting_approval"),
                 row("approved", "answered")) == [
        "registered", "triaged", "answered", "deadline_missed", "triaged", "answered", "approved", "reopened",
        "answered", "approved"]
