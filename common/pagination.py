"""Keyset pagination: a page is read after the last row of the previous one (never OFFSET, which
slows down and skips or repeats rows while others are written). The cursor is opaque to clients."""
from __future__ import annotations

import base64
import json

from common.errors import FieldError, InvalidRequest

MAX_LIMIT = 100


def encode_cursor(*values) -> str:
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list | None:
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(values, list) and len(values) == arity and all(isinstance(v, (str, int)) for v in values):
            return values
    except (ValueError, UnicodeDecodeError):
        pass
    raise InvalidRequest([FieldError("after", "invalid_cursor", "نشانگر صفحه معتبر نیست.",
                                     "use the `next` link of the previous page")])


def page(rows: list, limit: int, key) -> tuple[list, str | None]:
    """Given up to limit+1 rows, the page and the cursor of the next one (None on the last page)."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(*key(rows[-1]))
