"""Where a one-time code lives between its row's commit and its SMS's sending: nowhere (issue 18).

The code is derived from its row's id with a key derived from the server's secret, so no table holds it:
sms_messages keeps the text with CODE_MASK in its place, and the sender puts the code back at the moment it
hands the text to an operator (dispatch.py), for the first attempt and for any retry after a crash alike.
The database alone gives no code away; the database with the server's secret did before too (the
one_time_codes HMAC of a six-digit code is cheap to search), so nothing is weaker.
"""
from __future__ import annotations

import hashlib
import hmac

from common.config import get_settings

CODE_DIGITS = 6
CODE_MASK = "*" * CODE_DIGITS  # as long as the code: the stored text counts the same SMS segments
CAUSE_TYPE = "otp"  # the cause_type of a one-time code's SMS


def code_for(code_id: str) -> str:
    """The six digits of the code whose row has this id."""
    key = hmac.new(get_settings().secret_derivation_key.encode(), b"one-time-code-value", hashlib.sha256).digest()
    number = int.from_bytes(hmac.new(key, code_id.encode(), hashlib.sha256).digest()[:8], "big")
    return f"{number % 10 ** CODE_DIGITS:0{CODE_DIGITS}d}"


def text_to_send(message) -> str:
    """The text an operator gets for a queued message (a row with cause_type, cause_id and body)."""
    if message.cause_type != CAUSE_TYPE:
        return message.body
    return message.body.replace(CODE_MASK, code_for(str(message.cause_id)), 1)
