"""What a named case's reporter does on the follow page before rating it, reporting it again or sending evidence
(issue 18): the mobile the case was registered with, then the code texted to it."""
from __future__ import annotations

import re
import time

import requests

CODE = re.compile(r"کد تأیید پرونده شما (\d{6})")


def _codes(sms_url: str, mobile: str, at_least: int = 0) -> tuple[int, list[str]]:
    messages = requests.get(f"{sms_url}/api/messages", params={"receptor": mobile, "wait": 10, "min": at_least},
                            timeout=20).json()
    return len(messages), [found.group(1) for m in messages if (found := CODE.search(m["message"]))]


def prove_reporter(page, sms_url: str, mobile: str) -> None:
    """On the follow page of a named case: ask for the code, type what was texted, and wait for the actions."""
    count, before = _codes(sms_url, mobile)
    page.get_by_label("شمارهٔ همراه ثبت‌شده در پرونده (الزامی)").fill(mobile)
    page.get_by_role("button", name="فرستادن کد تأیید").click()
    page.locator("#reporter-code-step").wait_for()
    deadline = time.monotonic() + 30
    codes = before
    while len(codes) == len(before):  # the operator's own wait: each call returns once one more SMS is in
        assert time.monotonic() < deadline, "no code texted within 30 s"
        count, codes = _codes(sms_url, mobile, count + 1)
    page.get_by_label("کد تأیید (الزامی)").fill(codes[-1])
    page.get_by_role("button", name="تأیید", exact=True).click()
    page.locator("#reporter-proof").wait_for(state="detached")
