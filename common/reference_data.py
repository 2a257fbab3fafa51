"""Reference data more than one service needs, kept once: the organization's tree (provinces, counties,
units, centers: complaints' org.py builds on it; payments and transparency name provinces with it), case
categories, and the kinds of a case with their Persian names (complaints takes them; transparency publishes
statistics by them).

Pure data, no I/O. The counties are a demo set (3 to 5 real counties per province, always including the
capital county) and the centers under them are demo centers with plausible names, built deterministically
below: the same module always yields the same tree."""
from __future__ import annotations

# SPEC C2: the kinds of a case, with their Persian names.
CASE_KINDS = {
    "complaint": "شکایت",
    "criticism": "انتقاد",
    "opinion": "نظر",
    "idea": "ایده",
    "suggestion": "پیشنهاد",
    "recommendation": "توصیه",
    "violation_report": "گزارش تخلف",
    "question": "پرسش",
    "other": "سایر",
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

# province -> county -> name; the capital county comes first.
COUNTIES = {
    "alborz": {"karaj": "کرج", "fardis": "فردیس", "savojbolagh": "ساوجبلاغ", "nazarabad": "نظرآباد",
               "eshtehard": "اشتهارد"},
    "ardabil": {"ardabil": "اردبیل", "meshgin_shahr": "مشگین‌شهر", "parsabad": "پارس‌آباد", "khalkhal": "خلخال"},
    "east_azerbaijan": {"tabriz": "تبریز", "maragheh": "مراغه", "marand": "مرند", "mianeh": "میانه", "ahar": "اهر"},
    "west_azerbaijan": {"urmia": "ارومیه", "khoy": "خوی", "mahabad": "مهاباد", "miandoab": "میاندوآب",
                        "salmas": "سلماس"},
    "bushehr": {"bushehr": "بوشهر", "dashtestan": "دشتستان", "genaveh": "گناوه", "kangan": "کنگان"},
    "chaharmahal_bakhtiari": {"shahrekord": "شهرکرد", "borujen": "بروجن", "lordegan": "لردگان", "farsan": "فارسان"},
    "fars": {"shiraz": "شیراز", "marvdasht": "مرودشت", "kazerun": "کازرون", "jahrom": "جهرم", "fasa": "فسا"},
    "gilan": {"rasht": "رشت", "bandar_anzali": "بندر انزلی", "lahijan": "لاهیجان", "langarud": "لنگرود",
              "talesh": "تالش"},
    "golestan": {"gorgan": "گرگان", "gonbad_kavus": "گنبد کاووس", "aliabad_katul": "علی‌آباد کتول",
                 "bandar_torkaman": "بندر ترکمن"},
    "hamadan": {"hamadan": "همدان", "malayer": "ملایر", "nahavand": "نهاوند", "tuyserkan": "تویسرکان",
                "asadabad": "اسدآباد"},
    "hormozgan": {"bandar_abbas": "بندرعباس", "minab": "میناب", "qeshm": "قشم", "bandar_lengeh": "بندر لنگه"},
    "ilam": {"ilam": "ایلام", "dehloran": "دهلران", "abdanan": "آبدانان", "darreh_shahr": "دره‌شهر"},
    "isfahan": {"isfahan": "اصفهان", "kashan": "کاشان", "najafabad": "نجف‌آباد", "khomeyni_shahr": "خمینی‌شهر",
                "shahreza": "شهرضا"},
    "kerman": {"kerman": "کرمان", "sirjan": "سیرجان", "rafsanjan": "رفسنجان", "bam": "بم", "jiroft": "جیرفت"},
    "kermanshah": {"kermanshah": "کرمانشاه", "eslamabad_gharb": "اسلام‌آباد غرب", "harsin": "هرسین",
                   "kangavar": "کنگاور", "paveh": "پاوه"},
    "north_khorasan": {"bojnurd": "بجنورد", "shirvan": "شیروان", "esfarayen": "اسفراین", "jajarm": "جاجرم"},
    "razavi_khorasan": {"mashhad": "مشهد", "neyshabur": "نیشابور", "sabzevar": "سبزوار",
                        "torbat_heydarieh": "تربت حیدریه", "quchan": "قوچان"},
    "south_khorasan": {"birjand": "بیرجند", "qaenat": "قائنات", "ferdows": "فردوس", "tabas": "طبس",
                       "nehbandan": "نهبندان"},
    "khuzestan": {"ahvaz": "اهواز", "dezful": "دزفول", "abadan": "آبادان", "khorramshahr": "خرمشهر",
                  "behbahan": "بهبهان"},
    "kohgiluyeh_boyer_ahmad": {"boyer_ahmad": "بویراحمد", "kohgiluyeh": "کهگیلویه", "gachsaran": "گچساران",
                               "dena": "دنا"},
    "kurdistan": {"sanandaj": "سنندج", "saqqez": "سقز", "marivan": "مریوان", "baneh": "بانه", "bijar": "بیجار"},
    "lorestan": {"khorramabad": "خرم‌آباد", "borujerd": "بروجرد", "aligudarz": "الیگودرز", "dorud": "دورود",
                 "kuhdasht": "کوهدشت"},
    "markazi": {"arak": "اراک", "saveh": "ساوه", "khomeyn": "خمین", "mahallat": "محلات", "delijan": "دلیجان"},
    "mazandaran": {"sari": "ساری", "babol": "بابل", "amol": "آمل", "qaemshahr": "قائم‌شهر", "behshahr": "بهشهر"},
    "qazvin": {"qazvin": "قزوین", "takestan": "تاکستان", "buin_zahra": "بوئین‌زهرا", "abyek": "آبیک"},
    "qom": {"qom": "قم", "jafarabad": "جعفرآباد", "kahak": "کهک"},
    "semnan": {"semnan": "سمنان", "shahrud": "شاهرود", "damghan": "دامغان", "garmsar": "گرمسار"},
    "sistan_baluchestan": {"zahedan": "زاهدان", "zabol": "زابل", "chabahar": "چابهار", "iranshahr": "ایرانشهر",
                           "saravan": "سراوان"},
    "tehran": {"tehran": "تهران", "shemiranat": "شمیرانات", "rey": "ری", "eslamshahr": "اسلامشهر",
               "damavand": "دماوند"},
    "yazd": {"yazd": "یزد", "meybod": "میبد", "ardakan": "اردکان", "taft": "تفت", "mehriz": "مهریز"},
    "zanjan": {"zanjan": "زنجان", "abhar": "ابهر", "khodabandeh": "خدابنده", "khorramdarreh": "خرمدره"},
}

# The units of every province's directorate-general (اداره کل بهزیستی استان).
PROVINCE_UNITS = {
    "rehabilitation": "معاونت توانبخشی",
    "social": "معاونت امور اجتماعی",
    "prevention": "معاونت پیشگیری و درمان اعتیاد",
    "inspection": "واحد بازرسی و پاسخگویی به شکایات",
}

CENTER_TYPES = {
    "disability": "مرکز توانبخشی معلولان",
    "children": "مرکز نگهداری کودکان بی‌سرپرست و بدسرپرست",
    "nursery": "مهدکودک",
    "social_emergency": "اورژانس اجتماعی",
    "addiction": "مرکز درمان و کاهش آسیب اعتیاد",
    "elderly": "مرکز نگهداری سالمندان",
    "mental_health": "مرکز بازتوانی بیماران روانی مزمن",
    "counselling": "مرکز مشاوره",
}

# The categories of problems a case can be about.
CATEGORIES = {
    "pension": "مستمری و کمک‌های مالی",
    "rehabilitation_services": "خدمات توانبخشی",
    "assistive_devices": "وسایل کمک‌توانبخشی",
    "center_conduct": "رفتار کارکنان مراکز",
    "child_abuse": "کودک‌آزاری",
    "elderly_care": "نگهداری سالمندان",
    "housing": "مسکن مددجویان",
    "employment": "اشتغال و کارآفرینی",
    "insurance": "بیمه مددجویان",
    "addiction_treatment": "درمان اعتیاد",
    "social_emergency": "اورژانس اجتماعی و خط ۱۲۳",
    "delays": "تأخیر در رسیدگی",
    "corruption": "فساد اداری و مالی",
    "licensing": "صدور مجوز",
    "other": "سایر",
}

# --- Centers --------------------------------------------------------------------------------------------
# A center is (slug, type, name, operator); operator is "state" or "ngo" (many centers are run by NGOs
# under a Behzisti licence). `{}` in a name is the county's name.

# Centers written out by hand: every county of Tehran has a nursery and a disability center; Kashan and Mashhad
# carry the names used in examples.
_HAND_WRITTEN = {
    "tehran.tehran": [
        ("nikan", "disability", "مرکز توانبخشی معلولان نیکان تهران", "ngo"),
        ("shokoufeh", "nursery", "مهدکودک شکوفه‌های تهران", "ngo"),
        ("emergency_123", "social_emergency", "اورژانس اجتماعی ۱۲۳ تهران", "state"),
        ("aramesh", "mental_health", "مرکز بازتوانی بیماران روانی مزمن آرامش تهران", "ngo"),
    ],
    "tehran.shemiranat": [
        ("mehrafarin", "disability", "مرکز توانبخشی معلولان مهرآفرین شمیرانات", "ngo"),
        ("setareh", "nursery", "مهدکودک ستاره‌های شمیرانات", "ngo"),
        ("asayesh", "elderly", "مرکز نگهداری سالمندان آسایش شمیرانات", "ngo"),
    ],
    "tehran.rey": [
        ("ghoncheh", "nursery", "مهدکودک غنچه‌های ری", "ngo"),
        ("omid", "disability", "مرکز توانبخشی معلولان امید ری", "state"),
        ("mehraneh", "children", "مرکز نگهداری کودکان مهرانه ری", "state"),
        ("rahaei", "addiction", "مرکز درمان اعتیاد رهایی ری", "ngo"),
    ],
    "tehran.eslamshahr": [
        ("omid", "disability", "مرکز توانبخشی معلولان امید اسلامشهر", "ngo"),
        ("rangin_kaman", "nursery", "مهدکودک رنگین‌کمان اسلامشهر", "ngo"),
        ("hamraz", "counselling", "مرکز مشاوره همراز اسلامشهر", "ngo"),
    ],
    "tehran.damavand": [
        ("nikan", "disability", "مرکز توانبخشی معلولان نیکان دماوند", "state"),
        ("ghoncheh", "nursery", "مهدکودک غنچه‌های دماوند", "ngo"),
    ],
    "isfahan.kashan": [
        ("omid", "disability", "مرکز توانبخشی معلولان امید کاشان", "ngo"),
        ("emergency_123", "social_emergency", "اورژانس اجتماعی ۱۲۳ کاشان", "state"),
        ("mehregan", "elderly", "سرای سالمندان مهرگان کاشان", "ngo"),
    ],
    "razavi_khorasan.mashhad": [
        ("emergency_123", "social_emergency", "اورژانس اجتماعی ۱۲۳ مشهد", "state"),
        ("shokoufeh", "nursery", "مهدکودک شکوفه‌های مشهد", "ngo"),
        ("rahaei", "addiction", "مرکز درمان اعتیاد رهایی مشهد", "ngo"),
        ("aftab", "children", "خانه کودکان آفتاب مشهد", "ngo"),
    ],
}

# For the other counties: a few named centers per type, picked in turn.
_STEMS = {
    "disability": [("omid", "مرکز توانبخشی معلولان امید {}", "ngo"),
                   ("nikan", "مرکز توانبخشی معلولان نیکان {}", "state"),
                   ("mehrafarin", "مرکز توانبخشی معلولان مهرآفرین {}", "ngo")],
    "nursery": [("ghoncheh", "مهدکودک غنچه‌های {}", "ngo"),
                ("shokoufeh", "مهدکودک شکوفه‌های {}", "ngo"),
                ("setareh", "مهدکودک ستاره‌های {}", "ngo"),
                ("rangin_kaman", "مهدکودک رنگین‌کمان {}", "ngo")],
    "social_emergency": [("emergency_123", "اورژانس اجتماعی ۱۲۳ {}", "state")],
    "children": [("mehraneh", "مرکز نگهداری کودکان مهرانه {}", "state"),
                 ("aftab", "خانه کودکان آفتاب {}", "ngo")],
    "addiction": [("rahaei", "مرکز درمان اعتیاد رهایی {}", "ngo"),
                  ("baharan", "مرکز کاهش آسیب اعتیاد بهاران {}", "ngo")],
    "elderly": [("asayesh", "مرکز نگهداری سالمندان آسایش {}", "ngo"),
                ("mehregan", "سرای سالمندان مهرگان {}", "ngo")],
    "counselling": [("hamraz", "مرکز مشاوره همراز {}", "ngo"),
                    ("behzisti_counselling", "مرکز مشاوره بهزیستی {}", "state")],
    "mental_health": [("aramesh", "مرکز بازتوانی بیماران روانی مزمن آرامش {}", "ngo"),
                      ("sepideh", "مرکز بازتوانی بیماران روانی مزمن سپیده {}", "ngo")],
}

# The order in which types are handed out; stepping by 3 through 8 types never repeats a type in a county.
_ROTATION = ["disability", "nursery", "social_emergency", "children", "addiction", "elderly", "counselling",
             "mental_health"]


def _generated(index: int, county_name: str) -> list[tuple[str, str, str, str]]:
    """The 2 to 4 demo centers of the `index`-th county (counting across the whole country)."""
    centers = []
    for j in range(2 + index % 3):
        kind = _ROTATION[(index + 3 * j) % len(_ROTATION)]
        stems = _STEMS[kind]
        slug, name, operator = stems[(index + j) % len(stems)]
        centers.append((slug, kind, name.format(county_name), operator))
    return centers


def _build_centers() -> dict[str, list[tuple[str, str, str, str]]]:
    centers = {}
    index = 0
    for province, counties in COUNTIES.items():
        for county, county_name in counties.items():
            key = f"{province}.{county}"
            centers[key] = list(_HAND_WRITTEN.get(key) or _generated(index, county_name))
            index += 1
    return centers


# "province.county" -> [(center slug, center type, name, "state" | "ngo"), ...]
CENTERS = _build_centers()
