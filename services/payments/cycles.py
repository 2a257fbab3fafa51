"""A payment cycle's way (SPEC P1-P4), per Jalali month and budget line: pure rules, no I/O.

open → entitlements_computed → approved → orders_issued → bank_file_sent → statement_received →
reconciled → settled; or `stopped`, with its reason, when the line's remaining allocation does not
cover the cycle. Every step can be run again: it finds its work done and changes nothing. A stage only
moves forward (check_forward): two workers racing cannot write one back.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta

from common.errors import Conflict, Forbidden

STAGES = ("open", "entitlements_computed", "approved", "orders_issued", "bank_file_sent", "statement_received",
          "reconciled", "settled")
STAGES_FA = {"open": "باز", "entitlements_computed": "استحقاق محاسبه شد", "approved": "تأیید شد",
             "orders_issued": "دستور پرداخت صادر شد", "bank_file_sent": "فایل به بانک رفت",
             "statement_received": "صورت‌حساب بانک رسید", "reconciled": "تطبیق شد", "settled": "تسویه شد",
             "stopped": "متوقف شد"}


def cycle_id(month: str, line: str) -> str:
    """One cycle per Jalali month (yyyy-mm) and budget line: its id says which, so there is never a
    second cycle for a month already paid."""
    return f"{month}.{line}"


def order_id(cycle: str, national_id: str) -> str:
    """Deterministic (cycle + beneficiary + line, the line being in the cycle's id): re-running any
    step makes the same orders, never new ones. 35 characters at most (ISO 20022 EndToEndId)."""
    digest = hashlib.sha256(f"{cycle}|{national_id}".encode()).hexdigest()[:12]
    return f"{cycle[:7].replace('-', '')}{national_id}{digest}"[:35]


def next_stage(stage: str) -> str:
    return STAGES[STAGES.index(stage) + 1]


FINAL = ("settled", "stopped")


def check_forward(current: str, new: str) -> None:
    """A cycle moves only forward along STAGES, or to `stopped`; nothing leaves settled or stopped."""
    if current in FINAL or (new != "stopped" and STAGES.index(new) <= STAGES.index(current)):
        raise Conflict("stage_backwards", "مرحلهٔ دورهٔ پرداخت به عقب برنمی‌گردد.",
                       f"a cycle that is {current} cannot become {new}")


def require(stage: str, expected: str, doing: str) -> None:
    if stage != expected:
        raise Conflict("wrong_cycle_stage", "این کار در مرحلهٔ کنونی دورهٔ پرداخت ممکن نیست.",
                       f"cannot {doing} a cycle that is {stage} (it must be {expected})")


def check_approver(prepared_by: str, approver: str) -> None:
    """Four eyes: the one who prepared a cycle cannot approve it."""
    if prepared_by == approver:
        raise Forbidden("same_person", "کسی که دوره را آماده کرده نمی‌تواند آن را تأیید کند.",
                        "the preparer of a cycle cannot approve it")


def entitlement(per_capita_rials: int, status: str) -> int:
    """What one enrolled beneficiary is owed for the month: the line's per-capita amount, to the
    active only (the suspended and the deceased are owed nothing)."""
    return per_capita_rials if status == "active" else 0


def covers(remaining_rials: int, total_rials: int) -> bool:
    return total_rials <= remaining_rials


RETRY_FIRST = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)


def retry_delay(failures: int) -> timedelta:
    """How long a cycle that failed on its own `failures` times in a row waits before it is tried again:
    30 s, doubling, at most an hour (a bank that refuses for a day is not asked every 5 seconds)."""
    return min(RETRY_FIRST * 2 ** min(max(failures - 1, 0), 12), RETRY_MAX)

