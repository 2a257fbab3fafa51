"""The complaints domain rules that need no I/O: kinds, channels, stages and tracking codes."""
from __future__ import annotations

import re
import secrets

from common.identifiers import luhn_check_digit, luhn_valid
from common.text import normalise_digits

# SPEC C2, with their Persian names as citizens see them.
KINDS = {
    "complaint": "شکایت",
    "criticism": "انتقاد",
    "opinion": "نظر",
    "idea": "ایده",
    "suggestion": "پیشنهاد",
    "recommendation": "توصیه",
    "violation_report": "گزارش تخلف",
    "question": "پرسش",
    "other": "سایر",
}
# SPEC C1: the web, mobile web, the 1482 hotline (an operator registers on the caller's behalf), staff.
CHANNELS = {"web": "وب", "mobile_web": "وب همراه", "hotline": "تلفن ۱۴۸۲", "staff": "کارکنان",
            "partner_app": "برنامهٔ همکار (Open311)"}
URGENCIES = {"urgent": "فوری", "normal": "عادی"}
STAGES = {"registered": "ثبت شد"}

TEXT_MIN, TEXT_MAX = 10, 4000
NAME_MAX = 100

# 16 digits like a bank card, so a caller can read it out and type it on a keypad: 15 random digits
# (about 50 bits, so codes cannot be guessed or walked) and a Luhn check digit that catches typos.
TRACKING_CODE_LENGTH = 16


def new_tracking_code() -> str:
    payload = str(secrets.randbelow(9 * 10**14) + 10**14)  # never starts with 0
    return payload + luhn_check_digit(payload)


def normalise_tracking_code(value: str) -> str | None:
    """The canonical code from what a citizen typed (Persian digits, spaces, dashes), or None when it
    cannot be a tracking code (wrong length or check digit)."""
    cleaned = re.sub(r"[\s\-]", "", normalise_digits(value or ""))
    if re.fullmatch(rf"\d{{{TRACKING_CODE_LENGTH}}}", cleaned) and luhn_valid(cleaned):
        return cleaned
    return None


def display_tracking_code(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))
