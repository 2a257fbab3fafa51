"""What several browser tests do on a page: log in, open a staff page logged in, read what the fake SMS operator
received, and record the POSTs a page sends."""
from __future__ import annotations

import requests

from services.complaints.demo_staff import DEMO_PASSWORD


def login(page, username: str, password: str = DEMO_PASSWORD) -> None:
    page.get_by_label("نام کاربری").fill(username)
    page.get_by_label("گذرواژه").fill(password)
    page.get_by_role("button", name="ورود").click()


def staff_page(web, username: str, path: str = "/web/staff/"):
    page = web.page(path)
    login(page, username)
    page.locator("#who button").wait_for()  # logged in: the name and the logout button
    return page


def sms_to(platform, mobile: str, at_least: int) -> list[str]:
    messages = requests.get(f"{platform['sms']}/api/messages",
                            params={"receptor": mobile, "wait": 30, "min": at_least}, timeout=40).json()
    assert len(messages) >= at_least, messages
    return [m["message"] for m in messages]


def posts_to(page, path: str) -> list[str]:
    """Every POST the page sends to `path` (the API's), recorded as it leaves the browser."""
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" and r.url.endswith(path) else None)
    return sent
