"""Iranian identifiers: national ID, mobile number, Sheba IBAN, bank card.

Each `normalise_*` accepts what people type (Persian or Arabic digits, spaces, dashes, +98 forms) and
returns the canonical form, or raises InvalidIdentifier with a Persian message for the citizen.
"""
from __future__ import annotations

import re

from common.text import normalise_digits


class InvalidIdentifier(ValueError):
    def __init__(self, code: str, message_fa: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.message_fa = message_fa
        self.detail = detail


NATIONAL_ID_INVALID_FA = ("کد ملی معتبر نیست: کد ملی ۱۰ رقم است و رقم آخرِ آن، رقم کنترلی است که از ۹ رقم دیگر "
                          "به دست می‌آید؛ آن را از روی کارت ملی دوباره وارد کنید.")


def _clean(value: str) -> str:
    return re.sub(r"[\s\-‌]", "", normalise_digits(str(value)))


def is_valid_national_id(value: str) -> bool:
    if not re.fullmatch(r"\d{10}", value) or len(set(value)) == 1:
        return False
    total = sum(int(value[i]) * (10 - i) for i in range(9)) % 11
    check = int(value[9])
    return check == total if total < 2 else check == 11 - total


def normalise_national_id(value: str) -> str:
    cleaned = _clean(value)
    if re.fullmatch(r"\d{8,9}", cleaned):  # leading zeros are often dropped
        cleaned = cleaned.zfill(10)
    if not is_valid_national_id(cleaned):
        raise InvalidIdentifier("invalid_national_id", NATIONAL_ID_INVALID_FA,
                                "national ID must be 10 digits with a valid check digit")
    return cleaned


def normalise_mobile(value: str) -> str:
    cleaned = _clean(value)
    for prefix in ("+98", "0098", "98"):
        if cleaned.startswith(prefix) and len(cleaned) == len(prefix) + 10:
            cleaned = "0" + cleaned[len(prefix):]
            break
    if re.fullmatch(r"9\d{9}", cleaned):
        cleaned = "0" + cleaned
    if not re.fullmatch(r"09\d{9}", cleaned):
        raise InvalidIdentifier("invalid_mobile", "شماره تلفن همراه معتبر نیست؛ مانند ۰۹۱۲۱۲۳۴۵۶۷ وارد کنید.",
                                "mobile must be an Iranian mobile number: 09xxxxxxxxx or +989xxxxxxxxx")
    return cleaned


def mask_mobile(mobile: str) -> str:
    return mobile[:4] + "***" + mobile[-4:]


def is_valid_sheba(value: str) -> bool:
    if not re.fullmatch(r"IR\d{24}", value):
        return False
    rearranged = value[4:] + "1827" + value[2:4]  # I=18, R=27
    return int(rearranged) % 97 == 1


def normalise_sheba(value: str) -> str:
    cleaned = _clean(value).upper()
    if re.fullmatch(r"\d{24}", cleaned):
        cleaned = "IR" + cleaned
    if not is_valid_sheba(cleaned):
        raise InvalidIdentifier("invalid_sheba", "شماره شبا معتبر نیست.",
                                "Sheba must be IR followed by 24 digits with a valid mod-97 check")
    return cleaned


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_check_digit(payload: str) -> str:
    for d in "0123456789":
        if luhn_valid(payload + d):
            return d
    raise AssertionError("unreachable")


def normalise_card(value: str) -> str:
    cleaned = _clean(value)
    if not (re.fullmatch(r"\d{16}", cleaned) and luhn_valid(cleaned)):
        raise InvalidIdentifier("invalid_card", "شماره کارت بانکی معتبر نیست.",
                                "card number must be 16 digits with a valid Luhn check digit")
    return cleaned
