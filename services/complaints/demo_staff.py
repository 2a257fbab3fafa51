"""Demo staff accounts for the local run (never in production): one per kind of user that the
tests and the demo need. Passwords are printed by ./dev up."""
from sqlalchemy.orm import Session

from common.config import get_settings
from common.db import make_engine
from services.complaints.admin import ensure_staff

DEMO_PASSWORD = "Behzisti-1405-demo"
DEMO_STAFF = [
    ("admin", "مدیر سامانه", "admin", "hq"),
    ("operator", "اپراتور دفتر بازرسی", "hq_operator", "hq.inspection"),
    ("inspector", "بازرس ستاد", "inspector", "hq.inspection"),
    ("hotline", "کارشناس ۱۴۸۲", "hotline_operator", "hq.inspection"),
    ("tehran.head", "مدیرکل بهزیستی تهران", "province_head", "prov.tehran"),
    ("rey.expert", "کارشناس بهزیستی ری", "county_expert", "prov.tehran.county.rey"),
    ("shemiranat.expert", "کارشناس بهزیستی شمیرانات", "county_expert", "prov.tehran.county.shemiranat"),
]


def load_demo_staff(db_url: str | None = None) -> int:
    engine = make_engine(db_url or get_settings().database_url_for("complaints"))
    created = 0
    with Session(engine) as session, session.begin():
        for username, name, role, unit in DEMO_STAFF:
            created += ensure_staff(session, username, DEMO_PASSWORD, name, role, unit)
    engine.dispose()
    return created
