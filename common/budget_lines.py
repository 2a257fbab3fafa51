"""The organization's 16 budget lines (SPEC T9, P3): pure data, no I/O. Payments loads, funds and pays them and
announces each year's lines by event (`budget_lines.published`), from which transparency publishes the budget
dataset; transparency's demo data uses their titles, and nothing else of transparency reads this module.

Seed 000 says 82% of the budget (4,850 billion toman in 1399) is published in 16 line items, each with its
per-capita amount, its purpose and the law on which it is paid into people's accounts; seed 004 says
1,542,000 households receive a monthly pension with no waiting list (SPEC P2).

THE FIGURES ARE ILLUSTRATIVE DEMO VALUES, not the real 1405 budget table. They are sized on public
figures: the 1405 budget bill gives the organization about 109 thousand billion toman (1,090,000 billion
rials) of spending, and the 1404 pension table paid 1,391,208 toman a month to a one-person household and
2,782,416 toman to a three-person one, raised again for 1405. The 16 lines below add up to 893,550
billion rials, 82% of that budget: the share seed 000 gives for its 16 lines. The article numbers and
budget-law clauses in `legal_basis_fa` are plausible references to the real laws, not checked against
their text. Amounts are in today's rials: the 1405 law drops four zeros from the currency, and this demo
keeps the rials people see on their bank statements.

Each line:
- code: ascii slug, the `budget_line` of the disbursement events.
- title_fa, purpose_fa (one sentence), legal_basis_fa.
- per_capita_rials: the monthly amount per beneficiary (for lines paid to centers, per person the center
  serves). Lump-sum aid (housing, marriage, aids) is shown as its monthly equivalent.
- yearly_allocation_rials: the line's credit for 1405.
- pays: "beneficiary" (into the person's account, by national ID: SPEC P1) or "center" (to the NGO
  center, insurer or contractor that serves them).
- demo_beneficiaries: how many people services/payments/demo_registry.py enrols in the line (0 when the
  line pays centers).

How the demo registry adds up: every one of its 1,542,000 households gets exactly one of the four
PENSION_LINES, so their demo counts add up to DEMO_HOUSEHOLDS. Some households also get one supplementary
line (SUPPLEMENT_LINES): those are second enrolments of the same people. The sum of demo_beneficiaries
over all lines is therefore DEMO_HOUSEHOLDS + DEMO_SECOND_ENROLMENTS.

Every beneficiary line's allocation covers twelve months of per_capita x demo_beneficiaries with a margin,
except UNDERFUNDED_LINE, whose allocation does not cover even one month: the demo shows a payment cycle
stopping for lack of credit (as in real life, the care allowance of the disability law has long been
funded far below what the law requires).
"""
from __future__ import annotations

DEMO_HOUSEHOLDS = 1_542_000  # SPEC P2, seed 004
ORGANIZATION_BUDGET_1405_RIALS = 1_090_000 * 10**9  # the 1405 bill: about 109 thousand billion toman

UNDERFUNDED_LINE = "home_care_severe_disability"

_B = 10**9  # a billion rials

BUDGET_LINES: list[dict] = [
    # --- the four pensions: every household of the demo registry gets exactly one ---
    {
        "code": "pension_disability",
        "title_fa": "مستمری خانوارهای دارای معلول",
        "per_capita_rials": 36_000_000,
        "purpose_fa": "کمک به معیشت خانوارهای نیازمندی که یک یا چند عضو دارای معلولیت شدید یا خیلی شدید دارند.",
        "legal_basis_fa": "قانون حمایت از حقوق افراد دارای معلولیت (مصوب ۱۳۹۶)، ماده ۲۷؛ "
                          "قانون بودجه سال ۱۴۰۵ کل کشور، بند «الف» تبصره ۱۱",
        "yearly_allocation_rials": 296_000 * _B,
        "pays": "beneficiary",
        "demo_beneficiaries": 640_000,
    },
    {
        "code": "pension_female_headed",
        "title_fa": "مستمری خانوارهای زن‌سرپرست",
        "per_capita_rials": 34_000_000,
        "purpose_fa": "تأمین حداقل معیشت زنان سرپرست خانوار بی‌درآمد و فرزندان تحت تکفل آنان.",
        "legal_basis_fa": "قانون تأمین زنان و کودکان بی‌سرپرست (مصوب ۱۳۷۱)، ماده ۳",
        "yearly_allocation_rials": 244_000 * _B,
        "pays": "beneficiary",
        "demo_beneficiaries": 560_000,
    },
    {
        "code": "pension_elderly",
        "title_fa": "مستمری سالمندان نیازمند فاقد حامی",
        "per_capita_rials": 23_000_000,
        "purpose_fa": "کمک به معیشت سالمندان نیازمندی که درآمد و فرد حامی ندارند تا در خانه و محله خود بمانند.",
        "legal_basis_fa": "قانون ساختار نظام جامع رفاه و تأمین اجتماعی (مصوب ۱۳۸۳)، ماده ۳، حوزه حمایتی و توانبخشی",
        "yearly_allocation_rials": 74_000 * _B,
        "pays": "beneficiary",
        "demo_beneficiaries": 250_000,
    },
    {
        "code": "child_support",
        "title_fa": "کمک‌هزینه کودکان و نوجوانان بی‌سرپرست و بدسرپرست",
        "per_capita_rials": 28_000_000,
        "purpose_fa": "تأمین هزینه زندگی کودکان و نوجوانان بی‌سرپرست و بدسرپرستی که در خانواده خود یا "
                      "خانواده جایگزین زندگی می‌کنند.",
        "legal_basis_fa": "قانون حمایت از کودکان و نوجوانان بی‌سرپرست و بدسرپرست (مصوب ۱۳۹۲)، ماده ۲۸",
        "yearly_allocation_rials": 33_000 * _B,
        "pays": "beneficiary",
        "demo_beneficiaries": 92_000,
    },
    # --- supplementary aid paid to some of the same households (a second enrolment) ---
    {
        "code": UNDERFUNDED_LINE,
        "title_fa": "حق پرستاری و نگهداری افراد دارای معلولیت شدید در منزل",
        "per_capita_rials": 25_000_000,
        "purpose_fa": "پرداخت حق پرستاری یا مددکاری به سرپرست یا همسر فرد دارای معلولیت شدید و خیلی شدید "
                      "که از او در خانه نگهداری می‌کند.",
        "legal_basis_fa": "قانون حمایت از حقوق افراد دارای معلولیت (مصوب ۱۳۹۶)، ماده ۷ و تبصره ۱ آن",
        # deliberately short: a month needs 140,000 x 25,000,000 = 3,500 billion rials
        "yearly_allocation_rials": 2_800 * _B,
        "pays": "beneficiary",
        "demo_beneficiaries": 140_000,
    },
    {
        "code": "rehabilitation_aids",
        "title_fa": "کمک‌هزینه وسایل کمک‌توانبخشی",
        "per_capita_rials": 6_000_000,
        "purpose_fa": "کمک به خرید ویلچر، سمعک، اندام مصنوعی و دیگر وسایل کمک‌توانبخشی افراد دارای معلولیت.",
        "legal_basis_fa": "قانون حمایت از حقوق افراد دارای معلولیت (مصوب ۱۳۹۶)، ماده ۶",
        "yearly_allocation_rials": 4_700 * _B,
        "pays": "beneficiary",
        "demo_beneficiaries": 60_000,
    },
    {
        "code": "housing_aid",
        "title_fa": "کمک به تأمین مسکن مددجویان",
        "per_capita_rials": 12_000_000,
        "purpose_fa": "کمک بلاعوض به ساخت، خرید یا ودیعه مسکن خانوارهای فاقد مسکن، به‌ویژه خانوارهای دارای "
                      "دو یا چند عضو دارای معلولیت.",
        "legal_basis_fa": "قانون حمایت از حقوق افراد دارای معلولیت (مصوب ۱۳۹۶)، ماده ۱۰",
        "yearly_allocation_rials": 4_800 * _B,
        "pays": "beneficiary",
        "demo_beneficiaries": 30_000,
    },
    {
        "code": "education_aid",
        "title_fa": "کمک‌هزینه تحصیلی فرزندان مددجویان",
        "per_capita_rials": 4_500_000,
        "purpose_fa": "کمک به هزینه تحصیل دانش‌آموزان و دانشجویان خانوارهای تحت پوشش تا ترک تحصیل ناشی از فقر رخ ندهد.",
        "legal_basis_fa": "قانون تأمین زنان و کودکان بی‌سرپرست (مصوب ۱۳۷۱)، ماده ۴؛ "
                          "قانون حمایت از حقوق افراد دارای معلولیت، ماده ۱۱",
        "yearly_allocation_rials": 7_000 * _B,
        "pays": "beneficiary",
        "demo_beneficiaries": 120_000,
    },
    {
        "code": "marriage_aid",
        "title_fa": "کمک‌هزینه ازدواج و یارانه تسهیلات قرض‌الحسنه ازدواج",
        "per_capita_rials": 8_000_000,
        "purpose_fa": "کمک به جهیزیه و هزینه ازدواج جوانان خانوارهای تحت پوشش و فرزندان ترخیص‌شده از مراکز.",
        "legal_basis_fa": "قانون تسهیل ازدواج جوانان (مصوب ۱۳۸۴)، ماده ۱۰",
        "yearly_allocation_rials": 1_300 * _B,
        "pays": "beneficiary",
        "demo_beneficiaries": 12_000,
    },
    {
        "code": "empowerment_employment",
        "title_fa": "توانمندسازی و اشتغال مددجویان",
        "per_capita_rials": 10_000_000,
        "purpose_fa": "پرداخت یارانه سود تسهیلات و کمک فنی برای راه‌اندازی کسب‌وکار مددجویان تا از مستمری بی‌نیاز شوند.",
        "legal_basis_fa": "قانون بودجه سال ۱۴۰۵ کل کشور، تبصره ۱۸؛ "
                          "قانون حمایت از حقوق افراد دارای معلولیت، ماده ۱۵",
        "yearly_allocation_rials": 5_300 * _B,
        "pays": "beneficiary",
        "demo_beneficiaries": 40_000,
    },
    # --- paid to the centers, insurers and contractors that serve the clients ---
    {
        "code": "ngo_center_per_capita",
        "title_fa": "سرانه مراکز غیردولتی نگهداری و توانبخشی",
        "per_capita_rials": 120_000_000,
        "purpose_fa": "پرداخت سرانه ماهانه هر مددجوی مقیم به مراکز شبانه‌روزی خیریه و مردم‌نهاد نگهداری "
                      "افراد دارای معلولیت، سالمندان و کودکان.",
        "legal_basis_fa": "قانون تشکیل سازمان بهزیستی کشور (مصوب ۱۳۵۹)؛ "
                          "قانون حمایت از حقوق افراد دارای معلولیت، ماده ۷",
        "yearly_allocation_rials": 150_000 * _B,
        "pays": "center",
        "demo_beneficiaries": 0,
    },
    {
        "code": "nursery_subsidy",
        "title_fa": "یارانه مهدهای کودک روستایی و مهدهای مناطق محروم",
        "per_capita_rials": 3_500_000,
        "purpose_fa": "پرداخت یارانه به ازای هر کودک به مهدهای کودک روستایی و حاشیه شهرها تا پیش‌دبستانی رایگان بماند.",
        "legal_basis_fa": "قانون بودجه سال ۱۴۰۵ کل کشور، ردیف ۱۲۹۰۰۰-۵۰ (یارانه مهدهای کودک روستایی)",
        "yearly_allocation_rials": 30_000 * _B,
        "pays": "center",
        "demo_beneficiaries": 0,
    },
    {
        "code": "addiction_treatment",
        "title_fa": "یارانه درمان و کاهش آسیب اعتیاد",
        "per_capita_rials": 9_000_000,
        "purpose_fa": "پرداخت یارانه درمان به مراکز اقامتی، سرپایی و کاهش آسیب اعتیاد به ازای هر مراجع نیازمند.",
        "legal_basis_fa": "قانون مبارزه با مواد مخدر (اصلاحی ۱۳۸۹)، ماده ۱۵",
        "yearly_allocation_rials": 9_800 * _B,
        "pays": "center",
        "demo_beneficiaries": 0,
    },
    {
        "code": "social_emergency",
        "title_fa": "اورژانس اجتماعی",
        "per_capita_rials": 15_000_000,
        "purpose_fa": "اداره خط ۱۲۳، تیم‌های سیار و مراکز مداخله در بحران برای کودک‌آزاری، همسرآزاری و اقدام به خودکشی.",
        "legal_basis_fa": "قانون حمایت از اطفال و نوجوانان (مصوب ۱۳۹۹)، ماده ۶",
        "yearly_allocation_rials": 6_200 * _B,
        "pays": "center",
        "demo_beneficiaries": 0,
    },
    {
        "code": "insurance_premiums",
        "title_fa": "حق بیمه درمان و بیمه اجتماعی مددجویان",
        "per_capita_rials": 5_000_000,
        "purpose_fa": "پرداخت سهم حق بیمه درمان و بیمه اجتماعی مددجویان و افراد دارای معلولیت به سازمان‌های بیمه‌گر.",
        "legal_basis_fa": "قانون بیمه همگانی خدمات درمانی کشور (مصوب ۱۳۷۳)، ماده ۱۰؛ "
                          "قانون حمایت از حقوق افراد دارای معلولیت، ماده ۶",
        "yearly_allocation_rials": 24_000 * _B,
        "pays": "center",
        "demo_beneficiaries": 0,
    },
    {
        "code": "research",
        "title_fa": "پژوهش، آینده‌پژوهی و نوآوری اجتماعی",
        "per_capita_rials": 400_000_000,  # per research project and month
        "purpose_fa": "تأمین هزینه طرح‌های پژوهشی، ارزیابی اثربخشی خدمات و نوآوری اجتماعی با دانشگاه‌ها و شرکت‌های دانش‌بنیان.",
        "legal_basis_fa": "قانون برنامه پنج‌ساله هفتم پیشرفت (مصوب ۱۴۰۳)، ماده ۹۸",
        "yearly_allocation_rials": 650 * _B,
        "pays": "center",
        "demo_beneficiaries": 0,
    },
]

LINES_BY_CODE: dict[str, dict] = {line["code"]: line for line in BUDGET_LINES}
# What the "paid" SMS calls each line paid to people: short enough that the message fits one SMS part with
# any month and amount (services/notifications/templates.py PENSION_PAID_CITIZEN; at most 12 characters).
SHORT_NAMES_FA = {
    "pension_disability": "مستمری", "pension_female_headed": "مستمری", "pension_elderly": "مستمری",
    "child_support": "کمک کودکان", "home_care_severe_disability": "حق پرستاری", "rehabilitation_aids": "کمک توانبخشی",
    "housing_aid": "کمک مسکن", "education_aid": "کمک تحصیلی", "marriage_aid": "کمک ازدواج",
    "empowerment_employment": "کمک اشتغال",
}

PENSION_LINES = ("pension_disability", "pension_female_headed", "pension_elderly", "child_support")
SUPPLEMENT_LINES = tuple(line["code"] for line in BUDGET_LINES
                         if line["pays"] == "beneficiary" and line["code"] not in PENSION_LINES)
CENTER_LINES = tuple(line["code"] for line in BUDGET_LINES if line["pays"] == "center")

DEMO_SECOND_ENROLMENTS = sum(LINES_BY_CODE[code]["demo_beneficiaries"] for code in SUPPLEMENT_LINES)
