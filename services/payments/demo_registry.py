"""The demo registry of pension households (SPEC P1, P2): 1,542,000 people, streamed, never held in memory.

Person `i` (0 <= i < count()) depends only on `i` and the seed, so the same seed always yields the same
registry, any slice can be generated on its own (`beneficiaries(seed, start, stop)`) and a person is found
again from their national ID (`find`). People come in groups of 1,000: i = 1000*q + r.

- national_id: 9 digits `hi(q)` (6) + `lo(q, r)` (3), then the official check digit. hi(q) = (A*q + B) mod
  10**6 with A a unit mod 10**6, and lo(q, r) = S[(r + V*q) mod 1000] with S a shuffle of 0..999: both are
  bijections, so distinct people have distinct IDs. The seed picks A, B, S and V, avoiding the bodies
  whose ID would be one repeated digit (invalid). A group shares its first six digits, as people born in
  the same city do.
- lines: a permutation p = (C*i + D) mod N places the person in the registry's layout: the pension lines
  take consecutive blocks of p whose sizes are their `demo_beneficiaries`, and the first positions of each
  block also get one supplementary line (`SUPPLEMENT_PLAN`). So every person has one pension line, some
  have a second, and the enrolments of each line are exactly its `demo_beneficiaries` in common/budget_lines.py,
  while the lines stay mixed along the stream.
- iban: "IR" + 2 mod-97 check digits + a 3-digit bank code + "0" + 8 account digits + the 10 digits of the
  national ID. The last 10 digits ARE the owner's national ID: a demo convention (real Sheba numbers carry
  no national ID), so a fake bank can tell whose account a payment order names.
- the rest (name, household size, mobile, province, status, bank, account) comes from one 96-bit draw per
  person of a Mersenne Twister seeded with (seed, q); its low 16 bits pick a row of a table of attribute
  combinations drawn once per seed with the target weights: a mobile for about 85%, status "active" about
  97%, "suspended" 2%, "deceased" 1%, provinces weighted by population (1395 census), mostly Bank Melli
  and Refah accounts; the other bits pick the name (women for female-headed households), the household
  size (by pension line), the mobile's last seven digits and the account number. People without a mobile
  have `mobile: None`.

Payment cycles pay only "active" people; suspended and deceased people stay enrolled in their lines.
Generating all 1,542,000 people takes about 8-10 s on a small, busy 2-core machine (tests/unit/test_budget_data.py
walks the whole stream).
"""
from __future__ import annotations

from collections.abc import Iterator
from math import gcd
from random import Random

from common.reference_data import PROVINCES
from common.budget_lines import DEMO_HOUSEHOLDS, LINES_BY_CODE, PENSION_LINES, SUPPLEMENT_LINES

# pension line -> the supplementary lines some of its households also get, with how many
SUPPLEMENT_PLAN: dict[str, tuple[tuple[str, int], ...]] = {
    "pension_disability": (("home_care_severe_disability", 140_000), ("rehabilitation_aids", 50_000),
                           ("education_aid", 30_000), ("housing_aid", 12_000), ("empowerment_employment", 12_000)),
    "pension_female_headed": (("education_aid", 80_000), ("empowerment_employment", 28_000),
                              ("housing_aid", 14_000), ("marriage_aid", 5_000)),
    "pension_elderly": (("rehabilitation_aids", 10_000), ("housing_aid", 4_000)),
    "child_support": (("education_aid", 10_000), ("marriage_aid", 7_000)),
}

# Population in thousands (1395 census, rounded); the demo spreads households in these proportions.
PROVINCE_WEIGHTS = {
    "tehran": 13267, "razavi_khorasan": 6434, "isfahan": 5120, "fars": 4851, "khuzestan": 4710,
    "east_azerbaijan": 3909, "mazandaran": 3283, "west_azerbaijan": 3265, "kerman": 3164,
    "sistan_baluchestan": 2775, "alborz": 2712, "gilan": 2530, "kermanshah": 1952, "golestan": 1868,
    "hormozgan": 1776, "lorestan": 1760, "hamadan": 1738, "kurdistan": 1603, "markazi": 1429, "qom": 1292,
    "qazvin": 1273, "ardabil": 1270, "bushehr": 1163, "yazd": 1138, "zanjan": 1057,
    "chaharmahal_bakhtiari": 947, "north_khorasan": 863, "south_khorasan": 768, "kohgiluyeh_boyer_ahmad": 713,
    "semnan": 702, "ilam": 580,
}

FEMALE_FIRST_NAMES = (
    "فاطمه", "زهرا", "مریم", "معصومه", "زینب", "سکینه", "خدیجه", "طاهره", "اعظم", "لیلا", "مرضیه", "نرگس",
    "فرشته", "شهناز", "پروین", "منیژه", "رقیه", "صغری", "کبری", "ربابه", "عصمت", "محبوبه", "سمیه", "الهام",
    "راضیه", "نسرین", "ژیلا", "گلناز", "شیرین", "آمنه", "هاجر", "صدیقه", "فریبا", "مهین", "اکرم", "ملیحه",
    "سارا", "نازنین", "کلثوم", "بتول",
)
MALE_FIRST_NAMES = (
    "محمد", "علی", "حسین", "رضا", "مهدی", "حسن", "عباس", "احمد", "محمدرضا", "علیرضا", "جواد", "مجید",
    "سعید", "غلامرضا", "قاسم", "ابراهیم", "اسماعیل", "یوسف", "مصطفی", "مرتضی", "حمید", "ناصر", "جعفر",
    "کریم", "رحیم", "صادق", "یعقوب", "امیر", "بهروز", "فرهاد", "داوود", "موسی", "هادی", "کاظم", "نادر",
    "اکبر", "منصور", "سجاد", "امید", "بهمن",
)
LAST_NAMES = (
    "محمدی", "حسینی", "احمدی", "رضایی", "موسوی", "کریمی", "جعفری", "رحیمی", "قاسمی", "صادقی", "کاظمی",
    "ابراهیمی", "حیدری", "نوری", "اکبری", "عباسی", "طاهری", "مرادی", "یوسفی", "زارعی", "سلطانی", "نجفی",
    "حسن‌زاده", "قربانی", "رستمی", "شریفی", "میرزایی", "فتحی", "بابایی", "خسروی", "عزیزی", "امینی",
    "باقری", "سلیمانی", "جمشیدی", "کرمانی", "شیرازی", "تهرانی", "اصفهانی", "مشهدی", "دهقان", "کشاورز",
    "نیک‌نام", "پورمحمدی", "علیزاده", "عسگری", "فرهادی", "بهرامی", "غلامی", "ملکی", "آقایی", "ساعدی",
    "یزدانی", "کیانی", "شجاعی", "انصاری", "توکلی", "پاکزاد", "هاشمی", "سبحانی", "زمانی", "عطایی",
    "نصیری", "رنجبر", "سالاری", "بیگی", "خلیلی", "مختاری", "اسدی", "فروتن",
)

# Household sizes per pension line, as 32 equally likely draws.
HOUSEHOLD_SIZES = {
    "pension_disability": (1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 5, 5, 5,
                           6, 6, 7),
    "pension_female_headed": (1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4,
                              5, 5, 6, 6),
    "pension_elderly": (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
                        3, 3),
    "child_support": (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5,
                      6),
}

MOBILE_PREFIXES = ("0912", "0913", "0914", "0915", "0916", "0917", "0918", "0919", "0935", "0936", "0937",
                   "0938", "0939", "0901", "0902", "0903", "0990", "0991", "0921", "0922")
# Banks pensions are paid into: Melli, Refah, Sepah, Keshavarzi, Mellat, Saderat, Tejarat, Post Bank
# (Melli and Refah take more draws).
BANK_CODES = ("017", "017", "017", "013", "013", "015", "016", "012", "019", "018", "021", "017")

GROUP = 1000  # people i = GROUP*q + r share the first six digits of their national ID
GROUPS = DEMO_HOUSEHOLDS // GROUP
_MILLION = 10**6
_ATTRIBUTE_ROWS = 1 << 16
_NAME_ROWS = 1 << 12


# --- the layout of the lines: one byte per position p of the line permutation ---

def _layout() -> tuple[bytearray, tuple[list[str], ...], tuple[str, ...]]:
    combos: list[tuple[str, str | None]] = []
    layout = bytearray()
    for code in PENSION_LINES:
        households, used = LINES_BY_CODE[code]["demo_beneficiaries"], 0
        for supplement, n in (*SUPPLEMENT_PLAN[code], (None, None)):
            n = households - used if n is None else n
            if n < 0:
                raise ValueError(f"{code}: more supplements than households")
            combos.append((code, supplement))
            layout += bytes([len(combos) - 1]) * n
            used += n
    if len(layout) != DEMO_HOUSEHOLDS:
        raise ValueError(f"the pension lines enrol {len(layout)} households, not {DEMO_HOUSEHOLDS}")
    lines = tuple([pension] if supplement is None else [pension, supplement] for pension, supplement in combos)
    return layout, lines, tuple(pension for pension, _ in combos)


def enrolment_counts() -> dict[str, int]:
    """How many people the registry enrols in each line, in closed form (lines paying centers: 0)."""
    counts = dict.fromkeys(LINES_BY_CODE, 0)
    for code in PENSION_LINES:
        counts[code] += LINES_BY_CODE[code]["demo_beneficiaries"]
        for supplement, n in SUPPLEMENT_PLAN[code]:
            counts[supplement] += n
    return counts


def _check_plan() -> None:
    if DEMO_HOUSEHOLDS % GROUP:
        raise ValueError("the registry is made of whole groups")
    if set(SUPPLEMENT_LINES) != {s for plan in SUPPLEMENT_PLAN.values() for s, _ in plan}:
        raise ValueError("every supplementary line must be in SUPPLEMENT_PLAN, and only those")
    counts = enrolment_counts()
    for code, line in LINES_BY_CODE.items():
        if counts[code] != line["demo_beneficiaries"]:
            raise ValueError(f"{code}: the registry enrols {counts[code]}, common.budget_lines says {line['demo_beneficiaries']}")
    if set(PROVINCE_WEIGHTS) != set(PROVINCES):
        raise ValueError("PROVINCE_WEIGHTS must name every province of common.reference_data.PROVINCES")


_check_plan()
_LAYOUT, _COMBO_LINES, _COMBO_PENSION = _layout()

# --- national ID: the check digit's weighted sum by 3-digit chunks of the 9-digit body (weights 10..2) ---

_W0 = tuple(sum(int(d) * w for d, w in zip(f"{x:03d}", (10, 9, 8), strict=True)) for x in range(1000))
_W1 = tuple(sum(int(d) * w for d, w in zip(f"{x:03d}", (7, 6, 5), strict=True)) for x in range(1000))
_W2 = tuple(sum(int(d) * w for d, w in zip(f"{x:03d}", (4, 3, 2), strict=True)) for x in range(1000))


def _check_digit(weighted: int) -> int:
    remainder = weighted % 11
    return remainder if remainder < 2 else 11 - remainder


# The last four digits of the ID ("lo" and the check digit), by the first six digits' weighted sum mod 11.
_TAILS = tuple(tuple(f"{lo:03d}{_check_digit(m + _W2[lo])}" for lo in range(1000)) for m in range(11))

# --- IBAN: the check is 98 - int(bban + "1827" + "00") % 97, bban = bank(4) account(8) national_id(10) ---

_TAIL_RESIDUES = tuple(tuple(int(tail) * _MILLION % 97 for tail in tails) for tails in _TAILS)
_ACCOUNT_FACTOR = 10**16 % 97
_CHECK_DIGITS = tuple(f"{98 - residue:02d}" for residue in range(97))


def _names(first_names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{first_names[k % len(first_names)]} {LAST_NAMES[(k * 37 + k // len(first_names)) % len(LAST_NAMES)]}"
                 for k in range(_NAME_ROWS))


_FEMALE_NAMES, _MALE_NAMES = _names(FEMALE_FIRST_NAMES), _names(MALE_FIRST_NAMES)


class _Params:
    """What the seed decides: the permutations and the table of attribute combinations."""

    def __init__(self, seed: int):
        rng = Random(seed)
        self.group_seed = rng.getrandbits(64) << 24

        def unit(modulus: int) -> int:
            while True:
                candidate = rng.randrange(modulus // 10, modulus)
                if gcd(candidate, modulus) == 1:
                    return candidate

        self.a, self.c = unit(_MILLION), unit(DEMO_HOUSEHOLDS)
        self.b, self.v, self.d = rng.randrange(_MILLION), rng.randrange(1000), rng.randrange(DEMO_HOUSEHOLDS)
        self.a_inverse = pow(self.a, -1, _MILLION)
        self.shuffle = list(range(1000))
        rng.shuffle(self.shuffle)
        self.unshuffle = [0] * 1000
        for position, lo in enumerate(self.shuffle):
            self.unshuffle[lo] = position
        # no group may start with six equal digits: a body of nine equal digits gives an invalid ID
        while any(self.a_inverse * (d * 111_111 - self.b) % _MILLION < GROUPS for d in range(10)):
            self.b = (self.b + 1) % _MILLION

        statuses = rng.choices(("active", "suspended", "deceased"), weights=(97, 2, 1), k=_ATTRIBUTE_ROWS)
        prefixes = [rng.choice(MOBILE_PREFIXES) if rng.random() < 0.85 else None for _ in range(_ATTRIBUTE_ROWS)]
        provinces = rng.choices(tuple(PROVINCE_WEIGHTS), weights=tuple(PROVINCE_WEIGHTS.values()), k=_ATTRIBUTE_ROWS)
        banks = rng.choices(BANK_CODES, k=_ATTRIBUTE_ROWS)
        genders = rng.choices((True, False), k=_ATTRIBUTE_ROWS)
        self.attributes = tuple(
            (status, prefix, province, bank + "0", int(bank + "0") * 10**24 % 97, female)
            for status, prefix, province, bank, female in zip(statuses, prefixes, provinces, banks, genders, strict=True))

    def group(self, q: int) -> tuple[int, str, int, int]:
        """For group q: its first six digits, their weighted sum mod 11 and the lo offset."""
        hi = (self.a * q + self.b) % _MILLION
        return hi, f"{hi:06d}", (_W0[hi // 1000] + _W1[hi % 1000]) % 11, self.v * q % 1000


_PARAMS: dict[int, _Params] = {}


def _params(seed: int) -> _Params:
    if seed not in _PARAMS:
        _PARAMS[seed] = _Params(seed)
    return _PARAMS[seed]


def count() -> int:
    return DEMO_HOUSEHOLDS


def beneficiaries(seed: int = 1405, start: int = 0, stop: int | None = None) -> Iterator[dict]:
    """People start..stop-1 of the registry (all of them by default), one dict at a time."""
    start = max(0, start)
    stop = DEMO_HOUSEHOLDS if stop is None else min(stop, DEMO_HOUSEHOLDS)
    if start >= stop:
        return
    prm = _params(seed)
    shuffle, c, n = prm.shuffle, prm.c, DEMO_HOUSEHOLDS
    attributes, layout, combo_lines, combo_pension = prm.attributes, _LAYOUT, _COMBO_LINES, _COMBO_PENSION
    female_names, male_names, sizes = _FEMALE_NAMES, _MALE_NAMES, HOUSEHOLD_SIZES
    check_digits, account_factor = _CHECK_DIGITS, _ACCOUNT_FACTOR
    p = (c * start + prm.d) % n
    for q in range(start // GROUP, (stop - 1) // GROUP + 1):
        r0, r1 = max(start - q * GROUP, 0), min(stop - q * GROUP, GROUP)
        draw = Random(prm.group_seed | q).getrandbits
        for _ in range(r0):
            draw(96)
        hi, hi_str, m, t = prm.group(q)
        tails, tail_residues = _TAILS[m], _TAIL_RESIDUES[m]
        base = (hi * 10**10 + 182_700) % 97  # the national ID's first six digits, and "IR00" moved to the end
        for r in range(r0, r1):
            x = draw(96)
            status, prefix, province, bank, bank_residue, female = attributes[x & 0xFFFF]
            lo = shuffle[(r + t) % 1000]
            national_id = hi_str + tails[lo]
            combo = layout[p]
            p += c
            if p >= n:
                p -= n
            pension = combo_pension[combo]
            account = (x >> 60) & 0x3FFFFFF
            residue = (base + tail_residues[lo] + bank_residue + account * account_factor) % 97
            yield {
                "national_id": national_id,
                "full_name_fa": (female_names if female or pension == "pension_female_headed"
                                 else male_names)[(x >> 16) & 0xFFF],
                "household_size": sizes[pension][(x >> 28) & 31],
                "mobile": None if prefix is None else f"{prefix}{(x >> 33) % 10_000_000:07d}",
                "province": province,
                "iban": f"IR{check_digits[residue]}{bank}{account:08d}{national_id}",
                "status": status,
                "lines": combo_lines[combo][:],
            }


def take(n: int, seed: int = 1405) -> list[dict]:
    """The first n people of the registry."""
    return list(beneficiaries(seed, 0, n))


def person(i: int, seed: int = 1405) -> dict:
    """Person i of the registry."""
    if not 0 <= i < DEMO_HOUSEHOLDS:
        raise IndexError(i)
    return next(beneficiaries(seed, i, i + 1))


def index_of(national_id: str, seed: int = 1405) -> int | None:
    """The registry index of the person with this national ID, or None when the registry has no such ID."""
    if len(national_id) != 10 or not national_id.isdigit():
        return None
    prm = _params(seed)
    hi, lo = divmod(int(national_id[:9]), 1000)
    q = prm.a_inverse * (hi - prm.b) % _MILLION
    if q >= GROUPS:
        return None
    i = q * GROUP + (prm.unshuffle[lo] - prm.group(q)[3]) % 1000
    return i if national_id[9] == _TAILS[prm.group(q)[2]][lo][3] else None


def find(national_id: str, seed: int = 1405) -> dict | None:
    """The registry's person with this national ID, or None. A fake bank can use it: the last 10 digits of
    a demo IBAN are its owner's national ID."""
    i = index_of(national_id, seed)
    return None if i is None else person(i, seed)
