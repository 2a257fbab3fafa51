"""Persian text as people type it: Arabic letters and digits normalised to Persian letters and ASCII
digits before search and comparison; ASCII digits turned Persian for display."""
from __future__ import annotations

import re

_LETTERS = {"ي": "ی", "ى": "ی", "ئ": "ی", "ك": "ک", "ـ": ""}  # the last is the tatweel
_DIGITS = {**{chr(0x06F0 + i): str(i) for i in range(10)}, **{chr(0x0660 + i): str(i) for i in range(10)}}
_NORMALISE = str.maketrans({**_LETTERS, **_DIGITS})
_TO_PERSIAN_DIGITS = str.maketrans({str(i): chr(0x06F0 + i) for i in range(10)})
_SPACES = re.compile(r"\s+")


def normalise_digits(value: str) -> str:
    return value.translate(str.maketrans(_DIGITS))


def normalise(value: str) -> str:
    """For search and comparison: Persian letters, ASCII digits, single spaces."""
    return _SPACES.sub(" ", value.translate(_NORMALISE)).strip()


def persian_digits(value) -> str:
    return str(value).translate(_TO_PERSIAN_DIGITS)
