"""Demo cases, registered through the gateway the way citizens and hotline operators would, so the
demo shows the whole path: the SMS of each appears at the fake operator."""
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


def load_demo_cases(gateway: str, data_dir: Path) -> int:
    """Register the demo cases once per data folder; returns how many were registered now."""
    marker = data_dir / "demo-cases.txt"
    if marker.exists():
        return 0
    codes = []
    for case in DEMO_CASES:
        response = requests.post(f"{gateway}/api/v1/cases", json=case, timeout=10)
        response.raise_for_status()
        codes.append(response.json()["tracking_code"])
    data_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text("\n".join(codes) + "\n", encoding="utf-8")
    return len(codes)
