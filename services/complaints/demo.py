"""Demo cases, registered and worked through the gateway the way citizens and staff would, so the
demo shows the whole path: cases in the cartables of the demo staff, an answered question, and the
SMS of every step at the fake operator."""
from __future__ import annotations

from pathlib import Path

import requests

DEMO_CASES = [
    {"kind": "complaint", "channel": "web", "mobile": "09121234567", "name": "مریم احمدی",
     "text": "مستمری این ماه به حساب مادرم واریز نشده است و اداره شهرستان پاسخی نمی‌دهد."},
    {"kind": "violation_report", "channel": "hotline", "urgency": "urgent",
     "text": "در یکی از مراکز نگهداری سالمندان شهرستان، به سالمندان غذای کافی داده نمی‌شود."},
    {"kind": "suggestion", "channel": "mobile_web", "mobile": "+989351112233",
     "text": "پیشنهاد می‌کنم نوبت‌دهی مشاوره تلفنی ۱۴۸۲ از طریق پیامک هم ممکن شود."},
    {"kind": "question", "channel": "web", "mobile": "۰۹۱۷۸۸۸۷۷۶۶",
     "text": "برای ثبت‌نام فرزندم در مهدکودک تحت نظارت بهزیستی چه مدارکی لازم است؟"},
]


# (case index, who, action, body): the pension complaint goes down to Rey county, the violation report
# to a national unit, and inspection's operators answer the question themselves.
DEMO_STEPS = [
    (0, "operator", "refer", {"unit": "hq.rehabilitation", "note": "مستمری معلولان؛ معاونت توانبخشی."}),
    (0, "rehab.expert", "refer", {"unit": "prov.tehran", "note": "استان تهران پیگیری کند."}),
    (0, "tehran.head", "refer", {"unit": "prov.tehran.county.rey", "note": "شهرستان ری تا پایان وقت اداری پاسخ دهد."}),
    (1, "operator", "refer", {"unit": "hq.social", "note": "گزارش تخلف مرکز سالمندان؛ فوری."}),
    (3, "operator", "answer", {"text": "شناسنامه و کارت ملی والدین و کودک و کارت واکسن لازم است."}),
]


def route_of(case: dict) -> tuple[str, dict, str | None]:
    """(path, body, the staff member who sends it or None) of a demo case, as it would come in."""
    if case.get("channel") == "hotline":
        return "/api/v1/staff/cases", case, "operator"
    return "/api/v1/cases", {k: v for k, v in case.items() if k not in ("channel", "urgency")}, None


def load_demo_cases(gateway: str, data_dir: Path) -> int:
    """Register and work the demo cases once per data folder; returns how many were registered now. A case
    from the web comes in by the public route (which names no channel nor urgency: those are the staff's);
    a hotline call by the hotline's operator, on the caller's behalf."""
    from services.complaints.demo_staff import DEMO_PASSWORD

    marker = data_dir / "demo-cases.txt"
    if marker.exists():
        return 0
    tokens: dict[str, str] = {}

    def signed_in(username: str) -> dict:
        if username not in tokens:
            login = requests.post(f"{gateway}/api/v1/auth/login",
                                  json={"username": username, "password": DEMO_PASSWORD}, timeout=10)
            login.raise_for_status()
            tokens[username] = login.json()["access_token"]
        return {"Authorization": f"Bearer {tokens[username]}"}

    codes = []
    for case in DEMO_CASES:
        path, body, by = route_of(case)
        response = requests.post(f"{gateway}{path}", json=body, headers=signed_in(by) if by else {}, timeout=10)
        response.raise_for_status()
        codes.append(response.json()["tracking_code"])
    for index, username, action, body in DEMO_STEPS:
        requests.post(f"{gateway}/api/v1/staff/cases/{codes[index]}/{action}", json=body, timeout=10,
                      headers=signed_in(username)).raise_for_status()
    data_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text("\n".join(codes) + "\n", encoding="utf-8")
    return len(codes)
