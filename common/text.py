"""Persian text as people type it: Arabic letters and digits normalised to Persian letters and ASCII
digits before search and comparison; ASCII digits turned Persian for display."""
from __future__ import annotations

import re

_LETTERS = {"ي": "ی", "ى": "ی", "ئ": "ی", "ك": "ک", "ـ": ""}  # the last is the tatweel
_DIGITS = {**{chr(0x06F0 + i): str(i) for i in range(10)}, **{chr(0x0660 + i): str(i) for i in range(10)}}
_NORMALISE = str.maketrans({**_LETTERS, **_DIGITS})
_ARABIC_LETTERS = {"ي": "ی", "ى": "ی", "ك": "ک"}
_PERSIAN_LETTERS = str.maketrans(_ARABIC_LETTERS)
_STANDARD = str.maketrans({**_ARABIC_LETTERS, **_DIGITS})
_TO_PERSIAN_DIGITS = str.maketrans({str(i): chr(0x06F0 + i) for i in range(10)})
_SPACES = re.compile(r"\s+")


def normalise_digits(value: str) -> str:
    return value.translate(str.maketrans(_DIGITS))


def persian_letters(value: str) -> str:
    """Arabic ي ى ك as Persian ی ک; digits and everything else as they are."""
    return value.translate(_PERSIAN_LETTERS)


def standard_persian(value: str) -> str:
    """As text is kept: Arabic ي ى ك as Persian ی ک, Persian and Arabic digits as ASCII; nothing else changes
    (unlike `normalise`, which is for search: it folds ئ into ی and drops the tatweel)."""
    return value.translate(_STANDARD)


def normalise(value: str) -> str:
    """For search and comparison: Persian letters, ASCII digits, single spaces."""
    return _SPACES.sub(" ", value.translate(_NORMALISE)).strip()


def persian_digits(value) -> str:
    return str(value).translate(_TO_PERSIAN_DIGITS)
