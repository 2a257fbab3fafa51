"""The organization tree (SPEC C5, C11) and who may see what in it: pure data and rules, no I/O.

A unit's id is its path (`prov.tehran.county.rey`), so "within" is a prefix test that PostgreSQL
and Python answer the same way."""
from __future__ import annotations

HQ = "hq"
INSPECTION_OPERATORS = "hq.inspection"  # the operator unit of the performance-management and inspection office

HQ_UNITS = {
    "hq.inspection": "واحد اپراتوری دفتر مدیریت عملکرد و بازرسی",
    "hq.rehabilitation": "معاونت توانبخشی",
    "hq.social": "معاونت امور اجتماعی",
    "hq.prevention": "معاونت پیشگیری و درمان اعتیاد",
    "hq.pensions": "دفتر مستمری و حمایت‌های مالی",
}

PROVINCES = {
    "alborz": "البرز", "ardabil": "اردبیل", "east_azerbaijan": "آذربایجان شرقی",
    "west_azerbaijan": "آذربایجان غربی", "bushehr": "بوشهر", "chaharmahal_bakhtiari": "چهارمحال و بختیاری",
    "fars": "فارس", "gilan": "گیلان", "golestan": "گلستان", "hamadan": "همدان", "hormozgan": "هرمزگان",
    "ilam": "ایلام", "isfahan": "اصفهان", "kerman": "کرمان", "kermanshah": "کرمانشاه",
    "north_khorasan": "خراسان شمالی", "razavi_khorasan": "خراسان رضوی", "south_khorasan": "خراسان جنوبی",
    "khuzestan": "خوزستان", "kohgiluyeh_boyer_ahmad": "کهگیلویه و بویراحمد", "kurdistan": "کردستان",
    "lorestan": "لرستان", "markazi": "مرکزی", "mazandaran": "مازندران", "qazvin": "قزوین", "qom": "قم",
    "semnan": "سمنان", "sistan_baluchestan": "سیستان و بلوچستان", "tehran": "تهران", "yazd": "یزد",
    "zanjan": "زنجان",
}

# A demo set of counties; the complaints issue brings the full set and the centers under them.
DEMO_COUNTIES = {
    "tehran": {"shemiranat": "شمیرانات", "rey": "ری", "eslamshahr": "اسلامشهر"},
    "isfahan": {"kashan": "کاشان", "najafabad": "نجف‌آباد"},
    "razavi_khorasan": {"mashhad": "مشهد", "neyshabur": "نیشابور"},
}

ROLES = {
    "hotline_operator": "کارشناس مرکز تماس ۱۴۸۲",
    "hq_operator": "اپراتور ستاد",
    "hq_expert": "کارشناس واحد ستادی",
    "province_head": "مدیرکل استان",
    "province_expert": "کارشناس استان",
    "county_head": "رئیس اداره شهرستان",
    "county_expert": "کارشناس شهرستان",
    "inspector": "بازرس",
    "admin": "مدیر سامانه",
}
# Who may see a named reporter's identity (SPEC C17): inspection only, never the unit concerned.
SEES_REPORTER = {"inspector", "hq_operator"}


def units() -> list[dict]:
    """Every unit of the tree, parents before children."""
    rows = [{"id": HQ, "parent": None, "kind": "hq", "name_fa": "ستاد سازمان بهزیستی کشور"}]
    rows += [{"id": uid, "parent": HQ, "kind": "hq_unit", "name_fa": name} for uid, name in HQ_UNITS.items()]
    for code, name in PROVINCES.items():
        rows.append({"id": f"prov.{code}", "parent": HQ, "kind": "province", "name_fa": f"اداره کل بهزیستی استان {name}"})
        for county, county_name in DEMO_COUNTIES.get(code, {}).items():
            rows.append({"id": f"prov.{code}.county.{county}", "parent": f"prov.{code}", "kind": "county",
                         "name_fa": f"اداره بهزیستی شهرستان {county_name}"})
    return rows


def sees_everything(scope: str) -> bool:
    """Staff of HQ and its units see the whole country."""
    return scope == HQ or scope.startswith(HQ + ".")


def within(unit: str, scope: str) -> bool:
    """Is `unit` inside `scope`? HQ sees all; a province its counties; a county itself."""
    return sees_everything(scope) or unit == scope or unit.startswith(scope + ".")
