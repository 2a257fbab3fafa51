"""Persian message templates, versioned: a change of wording is a new version, and each message
records the version it used."""
from __future__ import annotations

import math
from dataclasses import dataclass



@dataclass(frozen=True)
class Template:
    name: str
    version: int
    audience: str
    text: str

    def render(self, **values) -> str:
        return self.text.format(**values)


CASE_REGISTERED_CITIZEN = Template(
    name="case_registered.citizen",
    version=1,
    audience="citizen",
    text=("بهزیستی: درخواست شما در سامانهٔ دیده‌بان ثبت شد.\n"
          "کد رهگیری: {tracking_code}\n"
          "پیگیری: {track_url}"),
)


def segments(body: str) -> int:
    """SMS parts as operators count them: GSM-7 text fits 160 characters (153 per part when split);
    anything else, Persian included, is UCS-2: 70 characters, 67 per part when split."""
    if all(ord(c) < 128 for c in body):
        single, multi = 160, 153
    else:
        single, multi = 70, 67
    return 1 if len(body) <= single else math.ceil(len(body) / multi)

