"""Demo staff accounts for the local run (never in production): one per kind of user that the
tests and the demo need. Passwords are printed by ./dev up."""
from functools import lru_cache

from sqlalchemy import func, update
from sqlalchemy.orm import Session

from common.config import get_settings
from common.db import make_engine
from services.complaints import staff
from services.complaints.admin import ensure_staff
from services.complaints.models import Staff

DEMO_PASSWORD = "Behzisti-1405-demo"
# username, name, role, unit, mobile (for the SMS of SPEC N2)
DEMO_STAFF = [
    ("admin", "مدیر سامانه", "admin", "hq", None),
    ("operator", "اپراتور دفتر بازرسی", "hq_operator", "hq.inspection", "09120000001"),
    ("inspector", "بازرس ستاد", "inspector", "hq.inspection", None),
    ("hotline", "کارشناس ۱۴۸۲", "hotline_operator", "hq.inspection", None),
    ("rehab.head", "معاون توانبخشی", "hq_head", "hq.rehabilitation", "09120000008"),
    ("rehab.expert", "کارشناس معاونت توانبخشی", "hq_expert", "hq.rehabilitation", "09120000002"),
    ("tehran.head", "مدیرکل بهزیستی تهران", "province_head", "prov.tehran", "09120000003"),
    ("rey.head", "رئیس اداره بهزیستی ری", "county_head", "prov.tehran.county.rey", "09120000004"),
    ("rey.expert", "کارشناس بهزیستی ری", "county_expert", "prov.tehran.county.rey", "09120000005"),
    ("shemiranat.expert", "کارشناس بهزیستی شمیرانات", "county_expert", "prov.tehran.county.shemiranat",
     "09120000006"),
    ("finance.expert", "کارشناس مالی دفتر مستمری", "finance_expert", "hq.pensions", None),
    ("finance.approver", "مدیر مالی دفتر مستمری", "finance_approver", "hq.pensions", None),
    ("auditor", "حسابرس", "auditor", "hq.pensions", None),
    ("ghoncheh.head", "مدیر مهدکودک غنچه‌های ری", "center_head", "prov.tehran.county.rey.center.ghoncheh",
     "09120000007"),
]


@lru_cache(maxsize=1)
def demo_password_hash() -> str:
    """One hash of the demo password for every demo account (a salted argon2 hash per account would cost
    0.2 s of CPU each, at every start of the demo and every test that loads them; the password is public)."""
    return staff.hash_password(DEMO_PASSWORD)


def load_demo_staff(db_url: str | None = None) -> int:
    """Create the demo accounts that are missing; every demo account counts as having opened its
    cartable now, so a demo left for days does not find itself locked out (SPEC C12)."""
    engine = make_engine(db_url or get_settings().database_url_for("complaints"))
    created = 0
    with Session(engine) as session, session.begin():
        for username, name, role, unit, mobile in DEMO_STAFF:
            created += ensure_staff(session, username, DEMO_PASSWORD, name, role, unit, mobile, demo_password_hash())
        session.execute(update(Staff).where(Staff.username.in_([s[0] for s in DEMO_STAFF]))
                        .values(last_cartable_at=func.now()))
    engine.dispose()
    return created
