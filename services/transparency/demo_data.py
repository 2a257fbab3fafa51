"""The generated demo set of the Shafaf datasets whose source is "demo" (SPEC T2-T12), at the real sizes.

`demo_rows(slug)` yields the rows of one dataset, one dict at a time: never a whole list of 22,000 dicts.
Every row is drawn from a `random.Random` seeded with the dataset and the row's index, so the same call
always yields the same rows, on every machine and Python version, and row i can be rebuilt alone (the
transactions pay installments of contracts picked by index).

THE VALUES ARE ILLUSTRATIVE, NOT THE ORGANIZATION'S REAL DATA. Sizes come from the seeds: 2,800 property
units and 22,000 contracts, agreements and memoranda (seed 000); 31 provinces; the licence on-time rates
of 98% in 1403 against 36% in 1402 (seed 003); the titles of the 16 budget lines of common/budget_lines.py
for the transactions (the budget dataset itself is fed by payments' events); the 427 centers of
common/reference_data.py. Company, NGO and centre names are made up from common words; the managers'
names are random pairs of common first and family names and belong to no one. No national ID, mobile number,
bank account or postal code appears anywhere.

Dates never pass DEMO_TODAY (1405/08/30, 2026-11-21), so the demo reads the same whenever it is run.
"""
from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from functools import lru_cache


from common.config import get_settings
from common.jalali import month_name_fa, year_start
from common.text import persian_digits
from common.reference_data import CENTER_TYPES, CENTERS, COUNTIES, PROVINCES
from common.budget_lines import LINES_BY_CODE
from services.transparency.catalog import CATALOG

DEMO_TODAY = date(2026, 11, 21)  # 1405/08/30

SIZES = {"properties": 2_800, "contracts": 22_000, "contractors": 700, "transactions": 12_000, "research": 320}
SCALED = ("properties", "contracts", "transactions")  # the big three: two thirds of the demo's rows


def size(name: str) -> int:
    """How many rows a demo dataset has: SIZES, the big three at TRANSPARENCY_DEMO_SCALE (1 in the local run;
    the test platforms publish a tenth, having no need of 37,000 rows at each start: tests/helpers.py)."""
    scale = get_settings().transparency_demo_scale if name in SCALED else 1.0
    return max(1, round(SIZES[name] * scale))


NATIONAL = "national"
NATIONAL_FA = "ستاد سازمان (سراسری)"

# Population of each province in millions (the 1395 census, rounded): how the demo spreads rows.
_POPULATION = {
    "tehran": 13.3, "razavi_khorasan": 6.4, "isfahan": 5.1, "fars": 4.9, "khuzestan": 4.7,
    "east_azerbaijan": 3.9, "mazandaran": 3.3, "west_azerbaijan": 3.3, "kerman": 3.2, "sistan_baluchestan": 2.8,
    "alborz": 2.7, "gilan": 2.5, "kermanshah": 2.0, "golestan": 1.9, "hormozgan": 1.8, "lorestan": 1.8,
    "hamadan": 1.7, "kurdistan": 1.6, "markazi": 1.4, "qom": 1.3, "ardabil": 1.3, "qazvin": 1.3,
    "bushehr": 1.2, "yazd": 1.1, "zanjan": 1.1, "chaharmahal_bakhtiari": 0.95, "north_khorasan": 0.86,
    "south_khorasan": 0.77, "kohgiluyeh_boyer_ahmad": 0.71, "semnan": 0.70, "ilam": 0.58,
}
_PROVINCE_CODES = list(PROVINCES)
_PROVINCE_CUM = list(itertools.accumulate(_POPULATION[p] for p in _PROVINCE_CODES))
_PROVINCE_SHARE = {p: _POPULATION[p] / _PROVINCE_CUM[-1] for p in _PROVINCE_CODES}
_PROVINCE_NUMBER = {p: i + 1 for i, p in enumerate(_PROVINCE_CODES)}


# Helpers --------------------------------------------------------------------------------------------------
def _rng(slug: str, index: int) -> random.Random:
    return random.Random(f"behzisti-demo:{slug}:{index}")


def _province(rng: random.Random) -> str:
    return _PROVINCE_CODES[bisect.bisect_right(_PROVINCE_CUM, rng.random() * _PROVINCE_CUM[-1])]


def _county(rng: random.Random, province: str) -> tuple[str, str]:
    """A county of the province; the capital county (first) is three times as likely as each other."""
    counties = list(COUNTIES[province].items())
    weights = [3] + [1] * (len(counties) - 1)
    return rng.choices(counties, weights)[0]


def _weighted(rng: random.Random, table: Mapping[str, tuple]) -> str:
    """A key of {key: (persian name, weight, ...)} drawn by weight."""
    keys = list(table)
    return rng.choices(keys, [table[k][1] for k in keys])[0]


# Dates are Gregorian `date`s; their Jalali form comes from the first day of each Jalali year (jdatetime
# is exact but slow: these tables make 22,000 contracts fast).
_JALALI_YEARS = range(1330, 1412)
_YEAR_STARTS = [year_start(y) for y in _JALALI_YEARS]
_YEAR_ORDINALS = [d.toordinal() for d in _YEAR_STARTS]


def _jalali(day: date) -> tuple[int, int, int]:
    """(year, month, day) in the Jalali calendar: six months of 31 days, five of 30, then Esfand."""
    at = bisect.bisect_right(_YEAR_ORDINALS, day.toordinal()) - 1
    offset = day.toordinal() - _YEAR_ORDINALS[at]
    if offset < 186:
        return _JALALI_YEARS[at], offset // 31 + 1, offset % 31 + 1
    offset -= 186
    month = min(offset // 30 + 7, 12)  # Esfand holds the 30th day of a leap year's last month
    return _JALALI_YEARS[at], month, offset - 30 * (month - 7) + 1


def _jalali_year(day: date) -> int:
    return _jalali(day)[0]


def _year_bounds(year: int) -> tuple[date, date]:
    """The first and last Gregorian days of a Jalali year."""
    at = year - _JALALI_YEARS.start
    return _YEAR_STARTS[at], _YEAR_STARTS[at + 1] - timedelta(days=1)


def _day_in_year(rng: random.Random, year: int) -> date:
    first, last = _year_bounds(year)
    return min(first + timedelta(days=rng.randint(0, (last - first).days)), DEMO_TODAY)


def _g(day: date) -> str:
    return day.isoformat()


def _j(day: date) -> str:
    return "%04d/%02d/%02d" % _jalali(day)


def _fa(value) -> str:
    return persian_digits(value)


def _round_rials(amount: float, step: int = 1_000_000) -> int:
    return max(step, int(round(amount / step)) * step)


def _lognormal_rials(rng: random.Random, low: float, high: float) -> int:
    """An amount between low and high, more often near the low end (log-uniform)."""
    return _round_rials(math.exp(rng.uniform(math.log(low), math.log(high))))


_STREETS = ["امام خمینی", "آزادی", "انقلاب", "شهید بهشتی", "ولی‌عصر", "فردوسی", "حافظ", "سعدی", "شهید مطهری",
            "طالقانی", "جمهوری اسلامی", "شریعتی", "کارگر", "بسیج", "شهید چمران", "پاسداران", "مدرس",
            "۱۷ شهریور", "شهید باهنر", "فلسطین", "شهدا", "بوستان", "معلم", "دانشگاه"]
_ALLEYS = ["بهار", "نسترن", "یاس", "لاله", "نرگس", "اقاقیا", "شقایق", "سرو", "صنوبر", "مهر", "امید", "دانش",
           "شهید رجایی", "شهید همت", "گلستان", "ارغوان"]


def _address(rng: random.Random, province: str, county_fa: str) -> str:
    place = county_fa if county_fa == PROVINCES[province] else f"{PROVINCES[province]}، {county_fa}"
    street = rng.choice(_STREETS)
    if rng.random() < 0.6:
        return f"{place}، خیابان {street}، کوچه {rng.choice(_ALLEYS)}، پلاک {_fa(rng.randint(1, 240))}"
    return f"{place}، بلوار {street}، نبش کوچه {_fa(rng.randint(1, 48))}، پلاک {_fa(rng.randint(1, 120))}"


# T2 Properties --------------------------------------------------------------------------------------------
# usage: (Persian name, weight, land area range m2, title templates)
_USAGES = {
    "office": ("اداری", 22, (350, 3_000), ["ساختمان اداره بهزیستی شهرستان {county}"]),
    "rehabilitation_center": ("مرکز توانبخشی", 14, (500, 5_000), ["مرکز توانبخشی {name} {county}"]),
    "residential_care": ("مرکز نگهداری شبانه‌روزی", 10, (800, 6_000),
                         ["مرکز نگهداری شبانه‌روزی {name} {county}", "خانه سالمندان {name} {county}"]),
    "nursery": ("مهدکودک", 10, (250, 1_500), ["مهدکودک {name} {county}"]),
    "counselling_center": ("مرکز مشاوره و خدمات اجتماعی", 6, (200, 1_200),
                           ["مرکز مشاوره {name} {county}", "مرکز خدمات بهزیستی مثبت زندگی {county}"]),
    "training": ("آموزشی و حرفه‌آموزی", 5, (600, 4_000), ["مرکز آموزش و حرفه‌آموزی مددجویان {county}"]),
    "warehouse": ("انبار", 6, (400, 5_000),
                  ["انبار اداره بهزیستی شهرستان {county}", "انبار وسایل کمک‌توانبخشی {county}"]),
    "staff_housing": ("مسکونی سازمانی", 7, (120, 600), ["واحد مسکونی سازمانی {county}"]),
    "commercial": ("تجاری (اهدایی و موقوفه)", 4, (30, 400), ["واحد تجاری اهدایی خیرین در {county}"]),
    "land": ("زمین", 13, (300, 25_000),
             ["زمین اهدایی خیرین در {county}", "زمین محل احداث مرکز توانبخشی {county}",
              "زمین بایر بهزیستی در {county}"]),
    "camp": ("مجتمع فرهنگی و اردوگاهی", 3, (2_000, 30_000), ["مجتمع فرهنگی و اردوگاهی بهزیستی {county}"]),
}
_NAMES = ["امید", "نیکان", "مهرآفرین", "سپیده", "آوای مهر", "رعنا", "بهاران", "آرامش", "مهرگان", "نوید",
          "ستاره", "شکوفه", "آفتاب", "رویش", "همدل", "باران", "پرستو", "یاوران", "نسیم", "مهرانه"]
_STRUCTURES = {"concrete": ("اسکلت بتنی", 50), "steel": ("اسکلت فلزی", 35), "masonry": ("بنایی (آجری)", 15)}
_OWNERSHIP = {"owned": ("ملکی", 62), "donated": ("اهدایی خیرین", 20), "endowed": ("موقوفه", 8),
              "allocated": ("واگذاری از دستگاه‌های دولتی", 10)}
_PROPERTY_STATUS = {"in_use": ("در حال بهره‌برداری بهزیستی", 64), "leased_to_ngo": ("واگذارشده به مؤسسه غیردولتی", 20),
                    "unused": ("بلااستفاده", 9), "under_construction": ("در دست ساخت", 7)}


def _properties() -> Iterator[dict]:
    for i in range(size("properties")):
        rng = _rng("properties", i)
        province = _province(rng)
        county, county_fa = _county(rng, province)
        usage = _weighted(rng, _USAGES)
        usage_fa, _, (low, high), templates = _USAGES[usage]
        title = rng.choice(templates).format(county=county_fa, name=rng.choice(_NAMES))
        if usage == "office" and county_fa == PROVINCES[province] and rng.random() < 0.5:
            title = f"ساختمان اداره کل بهزیستی استان {PROVINCES[province]}"
        land = round(rng.uniform(low, high), 1)
        is_land = usage == "land"
        floors = 0 if is_land else rng.choices([1, 2, 3, 4, 5], [30, 35, 20, 10, 5])[0]
        building = 0.0 if is_land else round(min(land * floors, land * rng.uniform(0.4, 0.8) * floors), 1)
        built = None if is_land else rng.randint(1340, 1403)
        acquired = rng.randint(max(1359, built or 1359), 1404)
        status = "unused" if is_land and rng.random() < 0.6 else _weighted(rng, _PROPERTY_STATUS)
        if is_land and status == "leased_to_ngo":
            status = "unused"
        user = {"in_use": f"اداره بهزیستی شهرستان {county_fa}",
                "leased_to_ngo": f"مؤسسه خیریه {rng.choice(_NAMES)} {county_fa}"}.get(status)
        structure = None if is_land else _weighted(rng, _STRUCTURES)
        ownership = _weighted(rng, _OWNERSHIP)
        yield {
            "property_code": f"BHZ-P-{i + 1:05d}",
            "title": title,
            "usage_type": usage, "usage_type_fa": usage_fa,
            "province": province, "province_fa": PROVINCES[province],
            "county_fa": county_fa,
            "address": _address(rng, province, county_fa),
            "land_area_m2": land,
            "building_area_m2": building,
            "floors": floors,
            "construction_year": built,
            "structure": structure, "structure_fa": _STRUCTURES[structure][0] if structure else None,
            "ownership": ownership, "ownership_fa": _OWNERSHIP[ownership][0],
            "has_title_deed": rng.random() < 0.78,
            "status": status, "status_fa": _PROPERTY_STATUS[status][0],
            "current_user_fa": user,
            "acquired_year": acquired,
        }


# T4 Contractors (and every other counterparty of a contract) --------------------------------------------
_KINDS = {"company": ("شرکت", 62), "cooperative": ("شرکت تعاونی", 8), "ngo": ("مؤسسه خیریه یا سازمان مردم‌نهاد", 16),
          "university": ("دانشگاه یا مؤسسه پژوهشی", 6), "public_body": ("دستگاه دولتی یا عمومی", 8)}
_ACTIVITIES = {
    "construction": "ساختمانی و عمرانی", "equipment": "تجهیزات پزشکی و توانبخشی", "food": "تأمین مواد غذایی",
    "it": "فناوری اطلاعات", "cleaning": "خدمات عمومی، نظافت و نگهداری", "transport": "حمل‌ونقل",
    "consulting": "مشاوره و مهندسی", "care": "نگهداری و توانبخشی", "research": "آموزش و پژوهش",
    "social": "خدمات اجتماعی و حمایتی",
}
_COMPANY_ACTIVITIES = {"construction": 30, "equipment": 18, "food": 10, "it": 12, "cleaning": 14, "transport": 8,
                       "consulting": 8}
_COMPANY_SUFFIX = {"construction": "ساختمانی", "equipment": "تجهیزات پزشکی", "food": "بازرگانی و مواد غذایی",
                   "it": "فناوری اطلاعات", "cleaning": "خدمات عمومی", "transport": "حمل‌ونقل",
                   "consulting": "مهندسین مشاور"}
_STEMS = ["آرمان", "پارسیان", "سپهر", "البرز", "کیان", "آتیه", "نوین", "بهین", "راهبرد", "پیشگامان", "مهرگستر",
          "رایان", "سازه", "پویا", "آریا", "دماوند", "زاگرس", "تدبیر", "نگین", "فراز", "کوشا", "ارغوان", "پردیس",
          "سامان", "آفاق", "تابان", "افق", "ستاره", "مهراز", "سینا", "رهپویان", "اندیشه", "آینده", "ایمن", "درخشان"]
_FORMS = ["(سهامی خاص)", "(مسئولیت محدود)"]
_NGO_TEMPLATES = ["مؤسسه خیریه {stem} {city}", "مؤسسه نیکوکاری {stem} {city}", "انجمن حمایت از کودکان کار {city}",
                  "انجمن اوتیسم {city}", "خانه سالمندان خیریه {stem} {city}", "مؤسسه توانبخشی {stem} {city}",
                  "سازمان مردم‌نهاد همیاران {stem} {city}", "انجمن حمایت از بیماران روانی مزمن {city}"]
_UNIVERSITIES = ["دانشگاه علوم پزشکی {province}", "دانشگاه {province}", "دانشگاه آزاد اسلامی واحد {city}",
                 "دانشگاه پیام نور مرکز {city}", "جهاد دانشگاهی {province}"]
_NATIONAL_UNIVERSITIES = ["دانشگاه علوم توانبخشی و سلامت اجتماعی", "دانشگاه علامه طباطبایی", "دانشگاه تهران",
                          "دانشگاه شهید بهشتی", "مؤسسه عالی پژوهش تأمین اجتماعی", "پژوهشکده بیمه"]
_PUBLIC_BODIES = ["کمیته امداد امام خمینی (ره) استان {province}", "اداره کل آموزش و پرورش استان {province}",
                  "اداره کل تعاون، کار و رفاه اجتماعی استان {province}", "شهرداری {city}",
                  "اداره کل ورزش و جوانان استان {province}", "بنیاد مسکن انقلاب اسلامی استان {province}",
                  "اداره کل زندان‌ها و اقدامات تأمینی و تربیتی استان {province}", "سازمان فنی و حرفه‌ای استان {province}"]


@lru_cache(maxsize=1)
def _contractor_table() -> tuple[dict, ...]:
    """The 700 counterparties (small: kept whole), without their contract totals."""
    rows, seen = [], set()
    index = 0
    while len(rows) < SIZES["contractors"]:
        rng = _rng("contractors", index)
        index += 1
        kind = _weighted(rng, _KINDS)
        province = _province(rng)
        city = rng.choice(list(COUNTIES[province].values())[:2])
        stem = rng.choice(_STEMS)
        if kind in ("company", "cooperative"):
            activity = _weighted(rng, {k: (k, w) for k, w in _COMPANY_ACTIVITIES.items()})
            prefix = "شرکت تعاونی" if kind == "cooperative" else "شرکت"
            form = "" if kind == "cooperative" else " " + rng.choice(_FORMS)
            name = f"{prefix} {stem} {rng.choice(_STEMS)} {_COMPANY_SUFFIX[activity]}{form}"
        elif kind == "ngo":
            activity = "care"
            name = rng.choice(_NGO_TEMPLATES).format(stem=stem, city=city)
        elif kind == "university":
            activity = "research"
            if rng.random() < 0.3:
                name, province, city = rng.choice(_NATIONAL_UNIVERSITIES), "tehran", "تهران"
            else:
                name = rng.choice(_UNIVERSITIES).format(province=PROVINCES[province], city=city)
        else:
            activity = "social"
            name = rng.choice(_PUBLIC_BODIES).format(province=PROVINCES[province], city=city)
        if name in seen:
            continue
        seen.add(name)
        number = len(rows) + 1
        rows.append({
            "contractor_id": f"BHZ-C-{number:04d}",
            "name": name,
            "kind": kind, "kind_fa": _KINDS[kind][0],
            "activity": activity, "activity_fa": _ACTIVITIES[activity],
            "province": province, "province_fa": PROVINCES[province],
            "city_fa": city,
            "registered_year": rng.randint(1340, 1398) if kind in ("university", "public_body") else rng.randint(1370, 1400),
            "grade": rng.choices([1, 2, 3, 4, 5], [10, 20, 30, 25, 15])[0] if activity == "construction" else None,
        })
    return tuple(rows)


@lru_cache(maxsize=1)
def _contractor_index() -> dict[tuple[str, str], list[int]]:
    """(activity, province) -> positions in the table; (activity, "*") for the whole country."""
    index: dict[tuple[str, str], list[int]] = {}
    for position, row in enumerate(_contractor_table()):
        index.setdefault((row["activity"], row["province"]), []).append(position)
        index.setdefault((row["activity"], "*"), []).append(position)
    return index


def _pick_contractor(rng: random.Random, activities: list[str], province: str) -> dict:
    index = _contractor_index()
    activity = rng.choice(activities)
    local = index.get((activity, province))
    positions = local if local and rng.random() < 0.7 else index[(activity, "*")]
    return _contractor_table()[rng.choice(positions)]


def _contractors() -> Iterator[dict]:
    counts: dict[str, list[int]] = {}
    for contract in _contracts():
        total = counts.setdefault(contract["contractor_id"], [0, 0])
        total[0] += 1
        total[1] += contract["amount_rials"]
    for row in _contractor_table():
        count, amount = counts.get(row["contractor_id"], (0, 0))
        yield {**row, "contracts_count": count, "contracts_amount_rials": amount}


# T3 Contracts, agreements and memoranda ------------------------------------------------------------------
CONTRACT_KINDS = {"contract": ("قرارداد", 80), "agreement": ("موافقت‌نامه", 12), "memorandum": ("تفاهم‌نامه", 8)}
CATEGORIES = {"works": ("اجرای کار (عمرانی)", 25), "goods": ("خرید کالا", 30), "services": ("خرید خدمات", 45)}
PROCUREMENT_METHODS = {
    "tender_public": "مناقصه عمومی",
    "tender_limited": "مناقصه محدود",
    "inquiry": "استعلام بها",
    "exemption": "ترک تشریفات مناقصه",
    "negotiated": "توافق با مؤسسه غیردولتی یا دستگاه دولتی",
    "none": "بدون معامله (تفاهم‌نامه بدون بار مالی)",
}
CONTRACT_STATUSES = {"pending": "امضاشده، آغازنشده", "active": "در حال اجرا", "completed": "پایان‌یافته",
                     "terminated": "فسخ‌شده"}
# The thresholds of the public procurement law, in rials (demo values for 1391-1405: one set for all years).
_MEDIUM_DEAL, _LARGE_DEAL = 2_000_000_000, 20_000_000_000

_CONTRACT_YEARS = list(range(1391, 1406))
_CONTRACT_YEAR_WEIGHTS = [3 + (y - 1391) * 0.5 for y in _CONTRACT_YEARS[:-1]] + [6.0]  # 1405: eight months
_TITLES = {
    "works": (["construction"], [
        "احداث ساختمان مرکز توانبخشی {place}", "تکمیل ساختمان نیمه‌تمام اداره بهزیستی {place}",
        "تعمیرات اساسی و بازسازی ساختمان {unit}", "مقاوم‌سازی ساختمان مهدکودک‌های {place}",
        "مناسب‌سازی ساختمان‌های اداری {place} برای افراد دارای معلولیت",
        "احداث مسکن مددجویان دارای دو عضو معلول و بیشتر در {place}",
        "نوسازی تأسیسات گرمایشی و سرمایشی مرکز نگهداری شبانه‌روزی {place}"]),
    "goods": (["equipment", "food", "it"], [
        "خرید ویلچر و وسایل کمک‌توانبخشی برای مددجویان {place}", "خرید سمعک برای کودکان کم‌شنوای {place}",
        "خرید تجهیزات رایانه‌ای و شبکه برای {unit}", "تأمین اقلام غذایی مراکز شبانه‌روزی {place}",
        "خرید تجهیزات پزشکی و توانبخشی مراکز {place}", "خرید خودروی سیار اورژانس اجتماعی برای {place}",
        "خرید بسته‌های آموزشی مهدهای کودک روستایی {place}", "خرید اندام مصنوعی و ارتز برای مددجویان {place}"]),
    "services": (["cleaning", "transport", "it", "consulting"], [
        "خرید خدمات نظافت، نگهداری و تأسیسات ساختمان {unit}", "خرید خدمات ایاب‌وذهاب کارکنان {unit}",
        "پشتیبانی و نگهداری سامانه‌های نرم‌افزاری {unit}", "خرید خدمات نگهبانی ساختمان‌های {unit}",
        "خرید خدمات پذیرایی و تغذیه مراکز شبانه‌روزی {place}",
        "خرید خدمات طراحی و نظارت بر طرح‌های عمرانی {unit}",
        "خرید خدمات غربالگری شنوایی و بینایی کودکان {place}"]),
}
_AGREEMENTS = [
    "موافقت‌نامه خرید خدمات نگهداری از افراد دارای معلولیت ذهنی با {party}",
    "موافقت‌نامه خرید خدمات توانبخشی روزانه با {party}", "موافقت‌نامه پرداخت سرانه نگهداری سالمندان با {party}",
    "موافقت‌نامه واگذاری اداره مهدکودک روستایی به {party}", "موافقت‌نامه خرید خدمات اورژانس اجتماعی با {party}",
    "موافقت‌نامه خرید خدمات درمان اعتیاد با {party}", "موافقت‌نامه خرید خدمات مشاوره و مددکاری با {party}",
]
_MEMORANDA_TOPICS = [
    "توانمندسازی و اشتغال مددجویان", "غربالگری اوتیسم در کودکان", "پیشگیری از اعتیاد در مدارس",
    "تأمین مسکن مددجویان", "بیمه درمان تکمیلی مددجویان", "آموزش مهارت‌های زندگی به خانواده‌ها",
    "توانبخشی مبتنی بر جامعه (طرح سلام)", "حمایت از کودکان کار و خیابان", "پژوهش در آسیب‌های اجتماعی",
    "ورزش افراد دارای معلولیت", "آموزش فنی و حرفه‌ای مددجویان",
]


def _buyer(rng: random.Random) -> tuple[str, str, str, str]:
    """(unit code, its Persian name, province code, county Persian name) of the contracting unit."""
    draw = rng.random()
    if draw < 0.08:
        return "hq", "ستاد سازمان بهزیستی کشور", NATIONAL, "تهران"
    province = _province(rng)
    county, county_fa = _county(rng, province)
    if draw < 0.55:
        return province, f"اداره کل بهزیستی استان {PROVINCES[province]}", province, county_fa
    return f"{province}.{county}", f"اداره بهزیستی شهرستان {county_fa}", province, county_fa


def _contract(i: int) -> dict:
    rng = _rng("contracts", i)
    kind = _weighted(rng, CONTRACT_KINDS)
    buyer, buyer_fa, province, county_fa = _buyer(rng)
    where = "tehran" if province == NATIONAL else province
    place = f"استان {PROVINCES[where]}" if buyer in ("hq", province) else f"شهرستان {county_fa}"
    year = rng.choices(_CONTRACT_YEARS, _CONTRACT_YEAR_WEIGHTS)[0]
    signed = _day_in_year(rng, year)
    if kind == "contract":
        category = _weighted(rng, CATEGORIES)
        activities, titles = _TITLES[category]
        party = _pick_contractor(rng, activities, where)
        title = rng.choice(titles).format(place=place, unit=buyer_fa)
        low, high, months = {"works": (1e9, 3e11, (6, 24)), "goods": (2e8, 6e10, (1, 6)),
                             "services": (3e8, 4e10, (6, 12))}[category]
        amount = _lognormal_rials(rng, low, high)
        if amount >= _LARGE_DEAL:
            method = rng.choices(["tender_public", "tender_limited", "exemption"], [75, 15, 10])[0]
        elif amount >= _MEDIUM_DEAL:
            method = rng.choices(["inquiry", "tender_limited", "exemption"], [70, 15, 15])[0]
        else:
            method = rng.choices(["inquiry", "exemption"], [85, 15])[0]
    elif kind == "agreement":
        category, method = "services", "negotiated"
        party = _pick_contractor(rng, ["care", "care", "research"], where)
        title = rng.choice(_AGREEMENTS).format(party=party["name"])
        amount, months = _lognormal_rials(rng, 5e8, 6e10), (12, 12)
    else:
        category, method = "services", "none"
        party = _pick_contractor(rng, ["social", "social", "research", "care"], where)
        title = f"تفاهم‌نامه همکاری با {party['name']} در زمینه {rng.choice(_MEMORANDA_TOPICS)}"
        amount, months = 0, (24, 60)
    start = signed + timedelta(days=rng.randint(0, 30))
    end = start + timedelta(days=30 * rng.randint(*months))
    if start > DEMO_TODAY:
        status = "pending"
    elif end >= DEMO_TODAY:
        status = "active"
    else:
        status = "terminated" if rng.random() < 0.03 else "completed"
    return {
        "contract_number": f"C{year}-{i + 1:05d}",
        "title": title,
        "kind": kind, "kind_fa": CONTRACT_KINDS[kind][0],
        "category": category, "category_fa": CATEGORIES[category][0],
        "procurement_method": method, "procurement_method_fa": PROCUREMENT_METHODS[method],
        "contractor_id": party["contractor_id"],
        "contractor_name": party["name"],
        "buyer_unit": buyer, "buyer_unit_fa": buyer_fa,
        "province": province, "province_fa": NATIONAL_FA if province == NATIONAL else PROVINCES[province],
        "amount_rials": amount,
        "signed_on": _g(signed), "signed_on_jalali": _j(signed),
        "start_date": _g(start),
        "end_date": _g(end),
        "year": year,
        "status": status, "status_fa": CONTRACT_STATUSES[status],
    }


def _contracts() -> Iterator[dict]:
    for i in range(size("contracts")):
        yield _contract(i)


# T6 Service recipients (statistics only) ----------------------------------------------------------------
# service: (Persian name, national recipients in 1404)
SERVICES = {
    "pension": ("مستمری ماهانه", 1_542_000),
    "rehabilitation": ("خدمات توانبخشی در مراکز روزانه و شبانه‌روزی", 310_000),
    "home_rehabilitation": ("توانبخشی در منزل و مبتنی بر جامعه", 95_000),
    "assistive_devices": ("وسایل کمک‌توانبخشی", 60_000),
    "nursery": ("مهدکودک روستایی و مناطق کم‌برخوردار", 480_000),
    "social_emergency": ("اورژانس اجتماعی و خط ۱۲۳", 420_000),
    "addiction": ("درمان و کاهش آسیب اعتیاد", 650_000),
    "counselling": ("مشاوره حضوری و صدای مشاور ۱۴۸۰", 2_100_000),
    "child_care": ("کودکان و نوجوانان بی‌سرپرست و بدسرپرست", 92_000),
    "elderly_care": ("نگهداری سالمندان", 38_000),
    "housing": ("کمک به تأمین مسکن", 30_000),
    "employment": ("توانمندسازی و اشتغال", 40_000),
    "screening": ("غربالگری شنوایی، بینایی و اوتیسم کودکان", 3_500_000),
}
_RECIPIENT_YEARS = range(1395, 1405)


def _service_recipients() -> Iterator[dict]:
    for year in _RECIPIENT_YEARS:
        growth = 0.6 + 0.4 * (year - 1395) / 9
        for province in _PROVINCE_CODES:
            for service, (service_fa, national) in SERVICES.items():
                rng = _rng("service_recipients", _stable_index(year, province, service))
                count = int(national * growth * _PROVINCE_SHARE[province] * rng.uniform(0.8, 1.2))
                yield {
                    "row_id": f"{year}.{province}.{service}",
                    "year": year,
                    "province": province, "province_fa": PROVINCES[province],
                    "service": service, "service_fa": service_fa,
                    "recipients": max(count, 20),
                }


def _stable_index(*parts) -> int:
    """A stable integer for a tuple (Python's hash() of a str changes from run to run)."""
    return int.from_bytes(":".join(map(str, parts)).encode(), "big") % (2**61 - 1)


# T7 Centers ----------------------------------------------------------------------------------------------
OPERATORS = {"state": "دولتی (بهزیستی)", "ngo": "غیردولتی (خیریه و مردم‌نهاد)"}
_CAPACITY = {"disability": (30, 150), "children": (15, 60), "nursery": (40, 160), "social_emergency": (10, 40),
             "addiction": (20, 80), "elderly": (25, 200), "mental_health": (30, 120), "counselling": (50, 400)}


def _centers() -> Iterator[dict]:
    for key, centers in CENTERS.items():
        province, county = key.split(".")
        county_fa = COUNTIES[province][county]
        for slug, center_type, name, operator in centers:
            center_id = f"prov.{province}.county.{county}.center.{slug}"
            rng = _rng("centers", _stable_index(center_id))
            established = rng.randint(1360, 1402)
            yield {
                "center_id": center_id,
                "name": name,
                "center_type": center_type, "center_type_fa": CENTER_TYPES[center_type],
                "operator": operator, "operator_fa": OPERATORS[operator],
                "province": province, "province_fa": PROVINCES[province],
                "county": county, "county_fa": county_fa,
                "address": _address(rng, province, county_fa),
                "capacity": rng.randint(*_CAPACITY[center_type]),
                "established_year": established,
                "license_number": (f"{_PROVINCE_NUMBER[province]:02d}-{established}-{rng.randint(1, 9999):04d}"
                                   if operator == "ngo" else None),
            }


# T8 Financial statements ---------------------------------------------------------------------------------
# Total expenses per year, billion rials: 1399's 4,850 billion toman in the 16 lines are 82% of 59,150
# billion rials (seed 000); the budget grew 47% in 1401 and 46% in 1402 (seed 004).
_EXPENSES_BN = {1398: 42_000, 1399: 59_150, 1400: 86_000, 1401: 126_400, 1402: 184_500, 1403: 290_000,
                1404: 455_000}
STATEMENTS = {"financial_position": "صورت وضعیت مالی", "financial_performance": "صورت عملکرد مالی",
              "cash_flows": "صورت جریان وجوه نقد"}


def _financial_statements() -> Iterator[dict]:
    bn = 10**9
    for year, expenses in _EXPENSES_BN.items():
        rng = _rng("financial_statements", year)
        total = expenses * bn
        transfers, grants, staff = (int(total * s) for s in (0.68, 0.14, 0.12))
        goods = total - transfers - grants - staff
        appropriations, own, donations = int(total * 0.935), int(total * rng.uniform(0.025, 0.035)), \
            int(total * rng.uniform(0.02, 0.04))
        revenue = appropriations + own + donations
        closing_cash = int(total * rng.uniform(0.02, 0.04))
        receivables, prepayments = int(total * rng.uniform(0.03, 0.06)), int(total * rng.uniform(0.01, 0.02))
        fixed = int(total * rng.uniform(0.35, 0.5))
        assets = closing_cash + receivables + prepayments + fixed
        payables, deposits = int(total * rng.uniform(0.05, 0.09)), int(total * rng.uniform(0.01, 0.02))
        benefits = int(total * rng.uniform(0.03, 0.05))
        liabilities = payables + deposits + benefits
        operating = revenue - total + int(total * rng.uniform(0.005, 0.01))
        investing = -int(total * rng.uniform(0.01, 0.02))
        opening_cash = closing_cash - operating - investing
        items = [
            ("financial_position", "cash", "موجودی نقد", closing_cash),
            ("financial_position", "receivables", "حساب‌ها و اسناد دریافتنی", receivables),
            ("financial_position", "prepayments", "پیش‌پرداخت‌ها", prepayments),
            ("financial_position", "fixed_assets", "دارایی‌های ثابت مشهود", fixed),
            ("financial_position", "total_assets", "جمع دارایی‌ها", assets),
            ("financial_position", "payables", "حساب‌ها و اسناد پرداختنی", payables),
            ("financial_position", "deposits", "سپرده‌های دریافتی", deposits),
            ("financial_position", "employee_benefits", "ذخیره مزایای پایان خدمت کارکنان", benefits),
            ("financial_position", "total_liabilities", "جمع بدهی‌ها", liabilities),
            ("financial_position", "net_assets", "خالص دارایی‌ها", assets - liabilities),
            ("financial_performance", "appropriations", "اعتبارات دریافتی از خزانه", appropriations),
            ("financial_performance", "own_revenue", "درآمدهای اختصاصی", own),
            ("financial_performance", "donations", "کمک‌های مردمی دریافتی", donations),
            ("financial_performance", "total_revenue", "جمع درآمدها و منابع", revenue),
            ("financial_performance", "staff_costs", "هزینه‌های کارکنان", staff),
            ("financial_performance", "transfers", "پرداخت‌های انتقالی به خانوارها (مستمری و کمک‌هزینه‌ها)",
             transfers),
            ("financial_performance", "grants", "کمک به مراکز و مؤسسات غیردولتی", grants),
            ("financial_performance", "goods_services", "خرید کالا و خدمات", goods),
            ("financial_performance", "total_expenses", "جمع هزینه‌ها", total),
            ("financial_performance", "surplus", "مازاد (کسری) سال", revenue - total),
            ("cash_flows", "operating", "جریان خالص وجه نقد ناشی از فعالیت‌های عملیاتی", operating),
            ("cash_flows", "investing", "جریان خالص وجه نقد ناشی از تملک دارایی‌های سرمایه‌ای", investing),
            ("cash_flows", "opening_cash", "موجودی نقد ابتدای سال", opening_cash),
            ("cash_flows", "closing_cash", "موجودی نقد پایان سال", closing_cash),
        ]
        audited = year <= 1403
        opinion = ("مقبول" if rng.random() < 0.6 else "مشروط") if audited else None
        for statement, code, item_fa, amount in items:
            yield {
                "row_id": f"{year}.{code}",
                "year": year,
                "statement": statement, "statement_fa": STATEMENTS[statement],
                "item_code": code, "item_fa": item_fa,
                "amount_rials": amount,
                "audited": audited,
                "audit_opinion_fa": opinion,
            }


# T10 Transactions ----------------------------------------------------------------------------------------
PAYEE_KINDS = {"contractor": ("پیمانکار یا فروشنده", 55), "ngo_center": ("مرکز غیردولتی", 30),
               "insurer": ("سازمان بیمه‌گر", 5), "public_body": ("دستگاه دولتی یا دانشگاه", 10)}
_INSURERS = [("سازمان بیمه سلامت ایران", "insurance_premiums"), ("سازمان تأمین اجتماعی", "insurance_premiums")]
_CENTER_LINES = {"disability": "ngo_center_per_capita", "children": "ngo_center_per_capita",
                 "elderly": "ngo_center_per_capita", "mental_health": "ngo_center_per_capita",
                 "nursery": "nursery_subsidy", "addiction": "addiction_treatment",
                 "social_emergency": "social_emergency", "counselling": "ngo_center_per_capita"}
_TRANSACTION_YEARS = list(range(1398, 1406))
_NGO_CENTERS = [(key, c) for key, centers in CENTERS.items() for c in centers if c[3] == "ngo"]


def _transactions() -> Iterator[dict]:
    for i in range(size("transactions")):
        rng = _rng("transactions", i)
        payee_kind = _weighted(rng, PAYEE_KINDS)
        line = contract_number = None
        if payee_kind == "contractor":
            while True:  # a contract under way some time since 1398 (most are)
                contract = _contract(rng.randrange(size("contracts")))
                first = max(date.fromisoformat(contract["start_date"]), date(2019, 3, 21))  # 1398/01/01
                last = min(date.fromisoformat(contract["end_date"]), DEMO_TODAY)
                if contract["kind"] == "contract" and first <= last:
                    break
            paid = first + timedelta(days=rng.randint(0, (last - first).days))
            province, payee = contract["province"], contract["contractor_name"]
            payer = contract["buyer_unit_fa"]
            contract_number = contract["contract_number"]
            amount = _round_rials(contract["amount_rials"] * rng.uniform(0.1, 0.4))
            description = f"پرداخت صورت‌وضعیت قرارداد «{contract['title']}»"
        else:
            paid = _day_in_year(rng, rng.choices(_TRANSACTION_YEARS, [4, 5, 6, 7, 8, 9, 10, 7])[0])
            if payee_kind == "ngo_center":
                key, (_, center_type, payee, _) = rng.choice(_NGO_CENTERS)
                province = key.split(".")[0]
                line = _CENTER_LINES[center_type]
                amount = _lognormal_rials(rng, 5e8, 2e10)
                paid_year, paid_month, _ = _jalali(paid)
                description = f"پرداخت سرانه {month_name_fa(paid_month)} ماه {_fa(paid_year)} مددجویان مقیم"
            elif payee_kind == "insurer":
                payee, line = rng.choice(_INSURERS)
                province = _province(rng)
                amount = _lognormal_rials(rng, 5e9, 2e11)
                description = "پرداخت سهم حق بیمه درمان مددجویان"
            else:
                province = _province(rng)
                payee = rng.choice(_UNIVERSITIES + _PUBLIC_BODIES[:2]).format(
                    province=PROVINCES[province], city=list(COUNTIES[province].values())[0])
                line = rng.choice(["research", "social_emergency", "empowerment_employment"])
                amount = _lognormal_rials(rng, 5e8, 1e10)
                description = f"پرداخت بابت {LINES_BY_CODE[line]['title_fa']}"
            payer = f"اداره کل بهزیستی استان {PROVINCES[province]}"
        yield {
            "transaction_id": f"T{_jalali_year(paid)}-{i + 1:06d}",
            "paid_on": _g(paid), "paid_on_jalali": _j(paid),
            "year": _jalali_year(paid),
            "payer_unit_fa": payer,
            "province": province, "province_fa": NATIONAL_FA if province == NATIONAL else PROVINCES[province],
            "payee_fa": payee,
            "payee_kind": payee_kind, "payee_kind_fa": PAYEE_KINDS[payee_kind][0],
            "budget_line": line, "budget_line_fa": LINES_BY_CODE[line]["title_fa"] if line else None,
            "contract_number": contract_number,
            "description_fa": description,
            "amount_rials": amount,
        }


# T10 Managers --------------------------------------------------------------------------------------------
# Random pairs of common names: no row names a real person.
_FIRST_NAMES = ["علی", "محمد", "حسین", "رضا", "مهدی", "مجید", "سعید", "حمید", "احمد", "جواد", "مسعود", "امیر",
                "فاطمه", "زهرا", "مریم", "معصومه", "لیلا", "نرگس", "سمیه", "الهام", "مهناز", "پروین", "اکرم",
                "فریبا", "کاظم", "ابراهیم", "یوسف", "ناصر", "منصور", "شهلا"]
_LAST_NAMES = ["احمدی", "رضایی", "کریمی", "موسوی", "حسینی", "جعفری", "صادقی", "رحیمی", "نوری", "کاظمی",
               "مرادی", "قاسمی", "شریفی", "یزدانی", "فراهانی", "تهرانی", "نیک‌نام", "امینی", "سلیمانی", "باقری",
               "عباسی", "اکبری", "زارعی", "طاهری", "نجفی", "خسروی", "پورمحمدی", "شاکری", "بهرامی", "ملکی"]
_EDUCATION = ["دکتری مددکاری اجتماعی", "کارشناسی ارشد روان‌شناسی", "کارشناسی ارشد مدیریت دولتی",
              "دکتری توانبخشی", "کارشناسی ارشد کاردرمانی", "کارشناسی مددکاری اجتماعی", "دکتری روان‌شناسی بالینی",
              "کارشناسی ارشد حسابداری", "کارشناسی ارشد برنامه‌ریزی رفاه اجتماعی", "دکتری جامعه‌شناسی"]
_HQ_POSITIONS = ["رئیس سازمان بهزیستی کشور", "معاون توانبخشی", "معاون امور اجتماعی",
                 "معاون پیشگیری و درمان اعتیاد", "معاون توسعه مدیریت و منابع", "معاون مشارکت‌های مردمی",
                 "رئیس مرکز برنامه‌ریزی، فناوری اطلاعات و امنیت فضای مجازی", "مدیرکل دفتر حقوقی",
                 "مدیرکل روابط عمومی و امور بین‌الملل", "مدیرکل بازرسی، ارزیابی عملکرد و پاسخگویی به شکایات",
                 "رئیس مرکز ملی دیده‌بان", "مدیرکل دفتر امور مالی"]
_PROVINCE_POSITIONS = ["مدیرکل بهزیستی استان", "معاون توانبخشی", "معاون امور اجتماعی",
                       "معاون پیشگیری و درمان اعتیاد", "رئیس واحد بازرسی و پاسخگویی به شکایات"]
LEVELS = {"hq": "ستاد", "province": "استان", "county": "شهرستان"}


def _managers() -> Iterator[dict]:
    posts = [("hq", NATIONAL, position, "ستاد سازمان بهزیستی کشور") for position in _HQ_POSITIONS]
    for province, name in PROVINCES.items():
        unit = f"اداره کل بهزیستی استان {name}"
        posts += [("province", province, p if i else f"{p} {name}", unit) for i, p in enumerate(_PROVINCE_POSITIONS)]
        posts += [("county", province, "رئیس اداره", f"اداره بهزیستی شهرستان {county_fa}")
                  for county_fa in list(COUNTIES[province].values())[1:]]
    for i, (level, province, position, unit) in enumerate(posts):
        rng = _rng("managers", i)
        appointed = _day_in_year(rng, rng.randint(1399, 1405))
        yield {
            "manager_id": f"BHZ-M-{i + 1:04d}",
            "full_name": f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}",
            "position_fa": position,
            "unit_fa": unit,
            "level": level, "level_fa": LEVELS[level],
            "province": province, "province_fa": NATIONAL_FA if province == NATIONAL else PROVINCES[province],
            "appointed_on": _g(appointed), "appointed_on_jalali": _j(appointed),
            "education_fa": rng.choice(_EDUCATION),
        }


# T12 Licences --------------------------------------------------------------------------------------------
# Issued per year and the share issued on time: 98% in 1403 against 36% in 1402 (seed 003). Each count
# times its rate is a whole number, so the published rates are exactly these.
LICENSE_YEARS = {1398: (1_150, 0.52), 1399: (1_300, 0.47), 1400: (1_400, 0.44), 1401: (1_600, 0.41),
                 1402: (1_700, 0.36), 1403: (2_050, 0.98), 1404: (2_300, 0.97), 1405: (1_600, 0.98)}
# kind: (Persian name, weight, legal deadline in days)
LICENSE_KINDS = {"principle_approval": ("موافقت اصولی", 35, 30), "operating_permit": ("پروانه فعالیت", 30, 45),
                 "renewal": ("تمدید پروانه فعالیت", 25, 15), "change": ("تغییر ظرفیت یا محل فعالیت", 10, 30)}
_LICENSE_CENTER_NAMES = {
    "disability": "مرکز توانبخشی {stem} {county}", "children": "خانه کودکان {stem} {county}",
    "nursery": "مهدکودک {stem} {county}", "social_emergency": "مرکز مداخله در بحران {stem} {county}",
    "addiction": "مرکز درمان اعتیاد {stem} {county}", "elderly": "مرکز نگهداری سالمندان {stem} {county}",
    "mental_health": "مرکز بازتوانی بیماران روانی مزمن {stem} {county}", "counselling": "مرکز مشاوره {stem} {county}",
}


def _licenses() -> Iterator[dict]:
    for year, (count, rate) in LICENSE_YEARS.items():
        on_time_count = round(count * rate)
        first, last = _year_bounds(year)
        last = min(last, DEMO_TODAY)
        for j in range(count):
            rng = _rng("licenses", _stable_index(year, j))
            kind = _weighted(rng, LICENSE_KINDS)
            deadline = LICENSE_KINDS[kind][2]
            on_time = (j * 7919) % count < on_time_count  # a fixed permutation: exactly on_time_count rows
            days = rng.randint(2, deadline) if on_time else deadline + rng.randint(1, 150)
            issued = first + timedelta(days=rng.randint(0, (last - first).days))
            applied = issued - timedelta(days=days)
            province = _province(rng)
            _, county_fa = _county(rng, province)
            center_type = rng.choice(list(_LICENSE_CENTER_NAMES))
            yield {
                "license_number": f"L{year}-{j + 1:05d}",
                "license_kind": kind, "license_kind_fa": LICENSE_KINDS[kind][0],
                "center_name": _LICENSE_CENTER_NAMES[center_type].format(stem=rng.choice(_NAMES), county=county_fa),
                "center_type": center_type, "center_type_fa": CENTER_TYPES[center_type],
                "province": province, "province_fa": PROVINCES[province],
                "county_fa": county_fa,
                "applied_on": _g(applied),
                "due_on": _g(applied + timedelta(days=deadline)),
                "issued_on": _g(issued), "issued_on_jalali": _j(issued),
                "year": year,
                "days_taken": days,
                "on_time": on_time,
            }


def _license_timeliness() -> Iterator[dict]:
    counts: dict[tuple[int, str], list[int]] = {}
    for row in _licenses():
        for key in ((row["year"], row["province"]), (row["year"], "all")):
            cell = counts.setdefault(key, [0, 0])
            cell[0] += 1
            cell[1] += row["on_time"]
    for year in LICENSE_YEARS:
        for province in ["all", *_PROVINCE_CODES]:
            issued, on_time = counts.get((year, province), (0, 0))
            yield {
                "row_id": f"{year}.{province}",
                "year": year,
                "province": province, "province_fa": "کل کشور" if province == "all" else PROVINCES[province],
                "issued": issued,
                "on_time": on_time,
                "on_time_rate": round(on_time / issued, 4) if issued else 0.0,
            }


# T10 Hiring ----------------------------------------------------------------------------------------------
HIRING_METHODS = {"general_exam": ("آزمون فراگیر دستگاه‌های اجرایی", 55),
                  "disability_exam": ("آزمون اختصاصی افراد دارای معلولیت", 15),
                  "contract": ("جذب نیروی قراردادی", 30)}
HIRING_STAGES = {"announced": "فراخوان منتشر شده", "exam": "برگزاری آزمون", "interview": "مصاحبه و گزینش",
                 "finished": "پایان‌یافته و نتایج اعلام‌شده"}
_POSTS = ["کارشناس مددکاری اجتماعی", "کارشناس روان‌شناسی", "کارشناس کاردرمانی", "کارشناس گفتاردرمانی",
          "کارشناس شنوایی‌سنجی", "کارشناس فیزیوتراپی", "کارشناس امور اداری", "کارشناس حسابداری",
          "کارشناس فناوری اطلاعات", "کارشناس حقوقی", "مربی مهدکودک", "کارشناس اورژانس اجتماعی",
          "کارشناس پیشگیری از اعتیاد", "کارشناس برنامه‌ریزی و بودجه"]


def _hiring() -> Iterator[dict]:
    number = 0
    for year in range(1396, 1406):
        for k in range(48 if year < 1405 else 30):
            rng = _rng("hiring", _stable_index(year, k))
            number += 1
            method = _weighted(rng, HIRING_METHODS)
            province = _province(rng)
            post = rng.choice(_POSTS)
            announced = _day_in_year(rng, year)
            exam = announced + timedelta(days=rng.randint(45, 90)) if method != "contract" else None
            results = (exam or announced) + timedelta(days=rng.randint(30, 75))
            posts = rng.randint(2, 40)
            quota = posts if method == "disability_exam" else math.ceil(posts * 0.03)
            if results <= DEMO_TODAY:
                stage = "finished"
            elif exam and exam <= DEMO_TODAY:
                stage = "interview"
            elif exam:
                stage = "exam"
            else:
                stage = "announced"
            yield {
                "call_number": f"H{year}-{k + 1:03d}",
                "title": f"{HIRING_METHODS[method][0]}: {post} در استان {PROVINCES[province]}",
                "post_fa": post,
                "method": method, "method_fa": HIRING_METHODS[method][0],
                "province": province, "province_fa": PROVINCES[province],
                "year": year,
                "announced_on": _g(announced), "announced_on_jalali": _j(announced),
                "exam_on": _g(exam) if exam else None,
                "results_on": _g(results) if stage == "finished" else None,
                "posts": posts,
                "disability_quota_posts": quota,
                "applicants": posts * rng.randint(8, 150),
                "hired": posts - rng.choices([0, 1, 2], [80, 15, 5])[0] if stage == "finished" else None,
                "stage": stage, "stage_fa": HIRING_STAGES[stage],
            }


# T10 Strategic plan, strategies and programmes -----------------------------------------------------------
PLAN_KINDS = {"goal": "هدف راهبردی", "strategy": "راهبرد", "program": "برنامه عملیاتی"}
PLAN_STATUSES = {"planned": "در دست برنامه‌ریزی", "in_progress": "در حال اجرا", "done": "انجام‌شده"}
# (id, kind, parent, title, description, responsible unit)
_PLANS = [
    ("G01", "goal", None, "توانمندسازی مددجویان و خروج پایدار از چرخه حمایت",
     "کاهش وابستگی خانوارهای تحت پوشش به مستمری از راه آموزش، اشتغال و مسکن.", "معاونت امور اجتماعی"),
    ("G02", "goal", None, "فرصت‌آفرینی و اشتغال افراد دارای معلولیت و زنان سرپرست خانوار",
     "ایجاد فرصت شغلی پایدار و اجرای سهمیه سه درصدی استخدام افراد دارای معلولیت در دستگاه‌ها.",
     "مرکز توسعه اشتغال"),
    ("G03", "goal", None, "گسترش مشارکت مردمی و مسئولیت اجتماعی",
     "افزایش سهم خیرین، سازمان‌های مردم‌نهاد و بنگاه‌ها در تأمین منابع و ارائه خدمات.", "معاونت مشارکت‌های مردمی"),
    ("G04", "goal", None, "تمرکززدایی و سپردن تصمیم به استان‌ها و شهرستان‌ها",
     "چرخش از ساختار متمرکز به تصمیم‌گیری در شوراهای شهرستان و استان و مراکز مثبت زندگی.",
     "معاونت توسعه مدیریت و منابع"),
    ("G05", "goal", None, "توانبخشی در دسترس و مبتنی بر جامعه",
     "رساندن خدمات توانبخشی به محله، مدرسه و خانه، حضوری و از راه دور.", "معاونت توانبخشی"),
    ("G06", "goal", None, "پیشگیری از آسیب‌های اجتماعی و اعتیاد",
     "کاهش بروز آسیب‌های اجتماعی با آموزش، غربالگری و مداخله زودهنگام.", "معاونت پیشگیری و درمان اعتیاد"),
    ("G07", "goal", None, "زندگی کودکان و نوجوانان بی‌سرپرست و بدسرپرست در خانواده",
     "کاهش نگهداری در مراکز و گسترش فرزندخواندگی، خانواده‌های جایگزین و حمایت از خانواده زیستی.",
     "دفتر امور کودکان و نوجوانان"),
    ("G08", "goal", None, "سالمندی فعال و نگهداری در خانه و محله",
     "حمایت از نگهداری سالمندان در خانه و محله به جای مراکز شبانه‌روزی.", "معاونت توانبخشی"),
    ("G09", "goal", None, "شفافیت، پاسخگویی و مبارزه با فساد",
     "انتشار همه اطلاعات قابل انتشار سازمان و پاسخگویی به شکایات در مهلت.",
     "رئیس مرکز برنامه‌ریزی، فناوری اطلاعات و امنیت فضای مجازی"),
    ("G10", "goal", None, "خدمات الکترونیکی و هوشمند",
     "ارائه خدمات بر بستر الکترونیک و حذف مراجعه‌های غیرضروری مردم.", "مرکز برنامه‌ریزی و فناوری اطلاعات"),
    ("S01", "strategy", "G01", "پرداخت الکترونیکی و متمرکز همه مستمری‌ها به حساب افراد",
     "پرداخت مستمری و کمک‌هزینه‌ها به شماره ملی و حساب بانکی خود مددجو، بدون واسطه.", "دفتر امور مالی"),
    ("S02", "strategy", "G01", "تأمین مسکن خانوارهای دارای دو عضو معلول و بیشتر",
     "همکاری با بنیاد مسکن و خیرین مسکن‌ساز برای خانه‌دار کردن خانوارهای نیازمند.", "دفتر امور مسکن"),
    ("S03", "strategy", "G02", "اجرای سهمیه سه درصدی استخدام افراد دارای معلولیت",
     "برگزاری آزمون اختصاصی و پیگیری سهم دستگاه‌های اجرایی.", "مرکز توسعه اشتغال"),
    ("S04", "strategy", "G03", "درگاه ملی مشارکت و جلب کمک‌های منطقه‌ای و هدفمند",
     "امکان کمک آنلاین مردم به یک استان و یک هدف مشخص، با رسید و انتشار عمومی.", "معاونت مشارکت‌های مردمی"),
    ("S05", "strategy", "G03", "تخصیص سهم مسئولیت اجتماعی بنگاه‌ها به خدمات بهزیستی",
     "جذب ۶۰ درصد از سهم یک درصد سود بنگاه‌ها که برای مسئولیت اجتماعی کنار گذاشته می‌شود.",
     "معاونت مشارکت‌های مردمی"),
    ("S06", "strategy", "G04", "تسریع صدور مجوز مؤسسات مردمی",
     "اجرای هفت راهکار برای صدور مجوزها در موعد مقرر.", "دفتر امور مؤسسات غیردولتی"),
    ("S07", "strategy", "G05", "توانبخشی مبتنی بر جامعه در پایگاه‌های شهری",
     "استفاده از ظرفیت مدارس و کانون‌های محلی برای توانبخشی نزدیک به خانه.", "معاونت توانبخشی"),
    ("S08", "strategy", "G05", "توانبخشی مجازی و از راه دور",
     "ارائه جلسات توانبخشی از راه دور برای شهرستان‌ها و روستاهای دور از مراکز.", "معاونت توانبخشی"),
    ("S09", "strategy", "G06", "غربالگری و مداخله زودهنگام",
     "غربالگری شنوایی، بینایی، تنبلی چشم و اوتیسم کودکان و آموزش مهارت‌های زندگی.",
     "معاونت پیشگیری و درمان اعتیاد"),
    ("S10", "strategy", "G07", "گسترش خانواده‌های جایگزین و فرزندخواندگی",
     "ساده کردن فرایند فرزندخواندگی با سامانه الکترونیکی و حمایت از خانواده‌های میزبان.",
     "دفتر امور کودکان و نوجوانان"),
    ("S11", "strategy", "G09", "سازمان شیشه‌ای",
     "انتشار املاک، قراردادها، پیمانکاران، کمک‌های مردمی، خدمت‌گیرندگان، مراکز و صورت‌های مالی.",
     "مرکز برنامه‌ریزی و فناوری اطلاعات"),
    ("S12", "strategy", "G10", "مراکز خدمات بهزیستی مثبت زندگی",
     "مراکز فرایندمحور با خدمات الکترونیک، با نقش در تصمیم‌گیری شهرستان.", "معاونت توسعه مدیریت و منابع"),
    ("P01", "program", "S01", "پرداخت مستمری ماهانه یک میلیون و ۵۴۲ هزار خانوار بدون صف انتظار",
     "پرداخت ماهانه مستمری همه خانوارهای واجد شرایط در سراسر کشور.", "دفتر امور مالی"),
    ("P02", "program", "S01", "نمایش پرداخت‌های هر مددجو از سال ۱۳۹۱ در سامانه شفافیت",
     "هر مددجو با کد ملی و رمز یک‌بارمصرف، همه مبالغ واریزشده به حساب خود را می‌بیند.",
     "مرکز برنامه‌ریزی و فناوری اطلاعات"),
    ("P03", "program", "S02", "ساخت مسکن برای خانوارهای دارای دو معلول و بیشتر",
     "کمک بلاعوض و تسهیلات ساخت با مشارکت خیرین مسکن‌ساز.", "دفتر امور مسکن"),
    ("P04", "program", "S03", "آزمون اختصاصی جذب ۴ هزار و ۳۰۰ فرد دارای معلولیت در بیش از ۵۰ دستگاه",
     "نخستین آزمون اختصاصی استخدام افراد دارای معلولیت.", "مرکز توسعه اشتغال"),
    ("P05", "program", "S04", "درگاه ملی مشارکت با همکاری بانک ملی",
     "پرداخت آنلاین کمک‌های مردمی به تفکیک منطقه و هدف؛ مشارکت تا ۳۸ درصد افزایش یافته است.",
     "معاونت مشارکت‌های مردمی"),
    ("P06", "program", "S06", "سامانه صدور مجوز مراکز و هفت راهکار تسریع",
     "صدور ۹۸ درصد مجوزها در موعد مقرر در سال ۱۴۰۳، در برابر ۳۶ درصد در سال ۱۴۰۲.",
     "دفتر امور مؤسسات غیردولتی"),
    ("P07", "program", "S07", "طرح سلام در ۲۰ پایگاه شهری",
     "توانبخشی مبتنی بر جامعه با استفاده از مدارس و کانون‌های محلی.", "معاونت توانبخشی"),
    ("P08", "program", "S08", "سامانه توانبخشی از راه دور", "جلسات گفتاردرمانی و کاردرمانی برخط.",
     "معاونت توانبخشی"),
    ("P09", "program", "S09", "غربالگری اوتیسم کودکان ۱۸ تا ۶۰ ماهه", "غربالگری در مهدها و مراکز بهداشت.",
     "معاونت پیشگیری و درمان اعتیاد"),
    ("P10", "program", "S09", "صدای مشاور ۱۴۸۰", "مشاوره تلفنی رایگان در سراسر کشور.", "دفتر امور مشاوره"),
    ("P11", "program", "S10", "سامانه فرزندخواندگی", "ثبت و پیگیری الکترونیکی درخواست‌های فرزندخواندگی.",
     "دفتر امور کودکان و نوجوانان"),
    ("P12", "program", "S11", "سامانه شفافیت بهزیستی (شفاف)",
     "انتشار داده‌ها در قالب‌های باز و یکپارچگی با سامانه‌های شفافیت وزارت.",
     "مرکز برنامه‌ریزی و فناوری اطلاعات"),
    ("P13", "program", "S11", "سامانه ملی دیده‌بان و خط ۱۴۸۲", "ثبت و پیگیری شکایات با کد رهگیری و پاسخ در مهلت.",
     "مدیرکل بازرسی، ارزیابی عملکرد و پاسخگویی به شکایات"),
    ("P14", "program", "S12", "راه‌اندازی مراکز مثبت زندگی در همه شهرستان‌ها",
     "ابلاغ شیوه‌نامه فعالیت و تعرفه‌ها و راه‌اندازی مراکز.", "معاونت توسعه مدیریت و منابع"),
    ("P15", "program", "S05", "خانه هنر معلولان", "بستر فرهنگی و هنری برای افراد دارای معلولیت در تهران و استان‌ها.",
     "معاونت توانبخشی"),
    ("P16", "program", "S01", "تخفیف سفر و حمل‌ونقل بین‌شهری افراد دارای معلولیت شدید",
     "اجرای تخفیف سفر برای بیش از ۱۳۵ هزار فرد دارای معلولیت شدید و خیلی شدید.", "معاونت توانبخشی"),
]


def _plans() -> Iterator[dict]:
    for i, (plan_id, kind, parent, title, description, unit) in enumerate(_PLANS):
        rng = _rng("plans", i)
        progress = round(rng.uniform(20, 95), 1) if kind != "goal" else round(rng.uniform(30, 70), 1)
        if plan_id in ("P01", "P02", "P05", "P06", "P11", "P13"):
            progress = 100.0
        status = "done" if progress >= 100 else "in_progress"
        yield {
            "plan_id": plan_id,
            "kind": kind, "kind_fa": PLAN_KINDS[kind],
            "parent_id": parent,
            "title_fa": title,
            "description_fa": description,
            "responsible_unit_fa": unit,
            "start_year": 1403 if kind == "goal" else rng.choice([1401, 1402, 1403, 1404]),
            "end_year": 1407,
            "progress_percent": progress,
            "status": status, "status_fa": PLAN_STATUSES[status],
        }


# T10 Research --------------------------------------------------------------------------------------------
RESEARCH_FIELDS = {"rehabilitation": "توانبخشی", "social_work": "مددکاری و رفاه اجتماعی", "addiction": "اعتیاد",
                   "childhood": "کودک و نوجوان", "elderly": "سالمندی", "disability": "معلولیت",
                   "women": "زنان سرپرست خانوار", "mental_health": "سلامت روان", "management": "مدیریت و برنامه‌ریزی"}
RESEARCH_STATUSES = {"in_progress": "در حال اجرا", "completed": "پایان‌یافته"}
_RESEARCH_TITLES = {
    "rehabilitation": ["ارزیابی اثربخشی طرح توانبخشی مبتنی بر جامعه", "بررسی دسترسی به وسایل کمک‌توانبخشی",
                       "سنجش اثربخشی توانبخشی از راه دور"],
    "social_work": ["ارزیابی اثربخشی مستمری بر معیشت خانوارها", "بررسی عوامل مؤثر بر خروج مددجویان از چرخه حمایت",
                    "طراحی الگوی مددکاری خانواده‌محور"],
    "addiction": ["بررسی عوامل خطر گرایش نوجوانان به مصرف مواد", "ارزیابی مراکز اقامتی میان‌مدت درمان اعتیاد",
                  "سنجش اثربخشی آموزش مهارت‌های زندگی در مدارس"],
    "childhood": ["بررسی وضعیت کودکان بدسرپرست در خانواده‌های جایگزین", "ارزیابی اثربخشی مهدهای کودک روستایی",
                  "بررسی پیامدهای فرزندخواندگی"],
    "elderly": ["برآورد نیازهای مراقبتی سالمندان تنها", "ارزیابی خدمات نگهداری سالمندان در منزل",
                "بررسی کیفیت زندگی سالمندان در مراکز شبانه‌روزی"],
    "disability": ["بررسی موانع اشتغال افراد دارای معلولیت", "ارزیابی اجرای قانون حمایت از حقوق افراد دارای معلولیت",
                   "سنجش مناسب‌سازی فضاهای شهری"],
    "women": ["بررسی وضعیت اقتصادی زنان سرپرست خانوار", "ارزیابی طرح‌های توانمندسازی زنان سرپرست خانوار"],
    "mental_health": ["ارزیابی اثربخشی صدای مشاور ۱۴۸۰", "بررسی پیامدهای روانی بحران‌ها بر خانواده‌ها",
                      "غربالگری اختلال طیف اوتیسم در کودکان"],
    "management": ["ارزیابی رضایت مراجعان از خدمات بهزیستی", "آینده‌پژوهی خدمات رفاه اجتماعی در افق ۱۴۱۰",
                   "تحلیل هزینه و فایده پرداخت متمرکز مستمری"],
}


def _research() -> Iterator[dict]:
    for i in range(SIZES["research"]):
        rng = _rng("research", i)
        field = rng.choice(list(RESEARCH_FIELDS))
        year = rng.randint(1395, 1405)
        national = rng.random() < 0.3
        province = NATIONAL if national else _province(rng)
        where = "در سطح کشور" if national else f"در استان {PROVINCES[province]}"
        executor = (rng.choice(_NATIONAL_UNIVERSITIES) if national or rng.random() < 0.3
                    else rng.choice(_UNIVERSITIES[:2]).format(province=PROVINCES[province], city=""))
        end = _day_in_year(rng, year) + timedelta(days=rng.randint(180, 720))
        done = end <= DEMO_TODAY
        yield {
            "research_id": f"R{year}-{i + 1:04d}",
            "title_fa": f"{rng.choice(_RESEARCH_TITLES[field])} {where}",
            "field": field, "field_fa": RESEARCH_FIELDS[field],
            "executor_fa": executor,
            "province": province, "province_fa": NATIONAL_FA if national else PROVINCES[province],
            "year": year,
            "budget_rials": _lognormal_rials(rng, 3e8, 8e9),
            "status": "completed" if done else "in_progress",
            "status_fa": RESEARCH_STATUSES["completed" if done else "in_progress"],
            "completed_on": _g(end) if done else None,
        }


# The entry point -----------------------------------------------------------------------------------------
_GENERATORS = {
    "properties": _properties,
    "contracts": _contracts,
    "contractors": _contractors,
    "service_recipients": _service_recipients,
    "centers": _centers,
    "financial_statements": _financial_statements,
    "transactions": _transactions,
    "managers": _managers,
    "licenses": _licenses,
    "license_timeliness": _license_timeliness,
    "hiring": _hiring,
    "plans": _plans,
    "research": _research,
}


def demo_rows(slug: str) -> Iterator[dict]:
    """The demo rows of a dataset whose source is "demo", streamed and always the same. Raises KeyError
    for an unknown dataset and ValueError for one fed by events (it has no demo rows)."""
    dataset = CATALOG[slug]
    if dataset.source != "demo":
        raise ValueError(f"dataset {slug!r} is built from events, not from the demo set")
    return _GENERATORS[slug]()


def demo_contract(index: int) -> dict:
    """The index-th demo contract (0-based), alone: the same dict demo_rows("contracts") yields there."""
    return _contract(index)
