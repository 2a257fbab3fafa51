"""The complaints domain rules that need no I/O: kinds, channels, stages and tracking codes."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from common.identifiers import luhn_check_digit, luhn_valid
from common.reference_data import CASE_KINDS
from common.text import normalise_digits

# SPEC C2, with their Persian names as citizens see them (kept with the shared reference data: transparency
# publishes statistics by them)
KINDS = CASE_KINDS
# SPEC C1: the web, mobile web, the 1482 hotline (an operator registers on the caller's behalf), staff.
CHANNELS = {"web": "وب", "mobile_web": "وب همراه", "hotline": "تلفن ۱۴۸۲", "staff": "کارکنان",
            "partner_app": "برنامهٔ همکار (Open311)"}
# What third-party apps (Open311) may send: never a violation report, whose reporter must be
# protected (SPEC C17) and which goes through the organization's own channels only.
PARTNER_APP_KINDS = {k: v for k, v in KINDS.items() if k != "violation_report"}
def channel_of_staff(role: str, given: str) -> str:
    """A case registered by staff came by the hotline (its operators) or through staff, whatever the
    form said, unless it names one of the two."""
    if given in ("hotline", "staff"):
        return given
    return "hotline" if role == "hotline_operator" else "staff"


URGENCIES = {"urgent": "فوری", "normal": "عادی"}
# The steps of a case as the citizen's timeline names them (SPEC C3); the others are internal.
STAGES = {
    "registered": "ثبت شد",
    "triaged": "بررسی اولیه شد و به واحد ستادی ارجاع شد",
    "referred": "ارجاع شد",
    "answered": "پاسخ تهیه شد و در دست تأیید است",
    "approved": "پاسخ تأیید شد",
    "returned": "پاسخ برای بازنگری برگشت داده شد",
    "deadline_missed": "مهلت رسیدگی گذشت؛ پرونده به ستاد بازگشت",
    "reopened": "گزارش دوبارهٔ شما ثبت شد؛ پرونده به سطح بالاتر رفت",
    "moved_up": "پرونده به مقام بالاتر سپرده شد",
    "evidence_requested": "درخواست مدارک از گزارش‌دهنده",
    "evidence_added": "مدارک افزوده شد",
    "closed": "بسته شد",
    "deadline_warning": "هشدار نزدیک شدن مهلت",
}
PUBLIC_STEPS = set(STAGES) - {"deadline_warning"}
STEPS_NAMING_A_UNIT = {"triaged", "referred", "deadline_missed", "reopened", "moved_up"}
STATUSES_FA = {
    "registered": "ثبت شده، در انتظار بررسی",
    "referred": "در دست رسیدگی",
    "returned": "در دست بازنگری پاسخ",
    "escalated": "بازگشته به ستاد پس از گذشت مهلت",
    "reopened": "گزارش دوباره، در دست رسیدگی در سطح بالاتر",
    "awaiting_approval": "پاسخ در دست تأیید",
    "answered": "پاسخ داده شد",
    "closed": "بسته شد",
}

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


def is_anonymous_report(kind: str, name: str | None, mobile: str | None, national_id: str | None) -> bool:
    """A violation report that names no one who made it (SPEC C17): it is followed with its
    tracking code and a secret shown once, so that the code alone reveals nothing of it."""
    return kind == "violation_report" and not (name or mobile or national_id)


def derived_secret(seed: str | None, key: str, purpose: str, size: int) -> bytes:
    """`size` random bytes, or, for a request with an idempotency key (`seed`), bytes derived from
    it, so that a retry answers the same secret without the secret being stored anywhere."""
    if seed is None:
        return secrets.token_bytes(size)
    return hmac.new(key.encode(), f"{purpose}|{seed}".encode(), hashlib.sha256).digest()[:size]


def case_secret(seed: str | None, key: str) -> str:
    """An anonymous report's secret: 16 letters and digits, easy to copy and to read out."""
    return base64.b32encode(derived_secret(seed, key, "case", 10)).decode().rstrip("=")


# A secret as people type or read it: in groups (HKDC-TG6V-…, with spaces), in lower case, with Persian digits;
# 0, 1 and 8 are not in its alphabet (base32: A-Z, 2-7), so they are read as the letters they look like.
_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "8": "B"})


def normalise_secret(secret: str) -> str:
    return re.sub(r"[^A-Z2-7]", "", normalise_digits(secret).upper().translate(_LOOKALIKES))


def secret_hash(secret: str) -> str:
    return hashlib.sha256(normalise_secret(secret).encode()).hexdigest()


def secret_matches(stored_hash: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(stored_hash, secret_hash(given))
