"""The cartable (SPEC C14) at any size: the cases waiting on the caller's unit, a keyset page at a time (never
OFFSET), searched by tracking code (or some of its digits), the reporter's mobile (inspection only: SPEC C17) or
the text, and filtered by kind, urgency, category and deadline (overdue, due today in Tehran, later).

Indexes: cases_cartable (holder_unit_id, deadline_at, id) and cases_cartable_newest (holder_unit_id,
registered_at, id), migration 0008; a search runs along the unit's own rows of one of them."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from common.errors import Forbidden
from common.identifiers import InvalidIdentifier, normalise_mobile
from common.jalali import TEHRAN
from common.pagination import MAX_LIMIT, decode_cursor, page
from common.text import normalise_digits
from services.complaints import domain, org
from services.complaints.models import Case

EXCERPT_CHARS = 140
DUE = ("overdue", "today", "later")
ORDERS = ("deadline", "newest")


def excerpt(text: str) -> str:
    """The start of the case's text on one line, cut at a word where it can be."""
    flat = " ".join((text or "").split())
    if len(flat) <= EXCERPT_CHARS:
        return flat
    cut = flat[:EXCERPT_CHARS]
    return (cut[:cut.rfind(" ")] if " " in cut[EXCERPT_CHARS // 2:] else cut).rstrip("،,.؛ ") + "…"


def end_of_today(now: datetime) -> datetime:
    """The next midnight in Tehran: what "due today" means to the unit's staff."""
    local = now.astimezone(TEHRAN)
    return datetime.combine(local.date() + timedelta(days=1), time(0), TEHRAN)


def search_condition(actor: dict, q: str):
    """What the search box means: a whole tracking code, some of its digits (4 or more), a mobile, or text."""
    typed = normalise_digits(q).strip()
    code = domain.normalise_tracking_code(typed)
    if code:
        return Case.tracking_code == code
    mobile = _mobile(typed)
    if mobile:
        if actor["role"] not in org.SEES_REPORTER:
            raise Forbidden("mobile_search_not_allowed",
                            "جست‌وجو با شمارهٔ همراه گزارش‌دهنده فقط برای بازرسی است تا گزارش‌دهنده شناخته نشود؛ "
                            "با کد رهگیری یا متن جست‌وجو کنید.", "only inspection roles may search by the reporter's mobile")
        return Case.reporter_mobile == mobile
    digits = re.sub(r"[\s\-]", "", typed)
    if re.fullmatch(r"\d{4,16}", digits):
        return Case.tracking_code.contains(digits, autoescape=True)
    return Case.text.icontains(typed, autoescape=True)


def searches_by_mobile(q: str | None) -> bool:
    """Does this search box text look a reporter up by mobile? (Each such search is audited.)"""
    typed = normalise_digits(q or "").strip()
    return bool(typed) and not domain.normalise_tracking_code(typed) and _mobile(typed) is not None


def _mobile(typed: str) -> str | None:
    if not re.fullmatch(r"[+\d\s\-]{10,16}", typed):
        return None
    try:
        return normalise_mobile(typed)
    except InvalidIdentifier:
        return None


def cartable_page(session: Session, actor: dict, limit: int, after: str | None, filters: dict, now: datetime) -> dict:
    limit = max(1, min(limit, MAX_LIMIT))
    query = select(Case).where(Case.holder_unit_id == actor["unit"], Case.deadline_at.is_not(None))
    if filters.get("q"):
        query = query.where(search_condition(actor, filters["q"]))
    for name in ("kind", "urgency", "category"):
        if filters.get(name):
            query = query.where(getattr(Case, name) == filters[name])
    due = filters.get("due")
    if due == "overdue":
        query = query.where(Case.deadline_at <= now)
    elif due == "today":
        query = query.where(Case.deadline_at > now, Case.deadline_at < end_of_today(now))
    elif due == "later":
        query = query.where(Case.deadline_at >= end_of_today(now))
    cursor = decode_cursor(after, 2)
    if filters.get("order") == "newest":
        if cursor:
            query = query.where(tuple_(Case.registered_at, Case.id) < tuple_(datetime.fromisoformat(cursor[0]), cursor[1]))
        query, key = query.order_by(Case.registered_at.desc(), Case.id.desc()), lambda c: (c.registered_at.isoformat(), c.id)
    else:
        if cursor:
            query = query.where(tuple_(Case.deadline_at, Case.id) > tuple_(datetime.fromisoformat(cursor[0]), cursor[1]))
        query, key = query.order_by(Case.deadline_at, Case.id), lambda c: (c.deadline_at.isoformat(), c.id)
    rows = list(session.scalars(query.limit(limit + 1)))
    return page(rows, limit, key)
