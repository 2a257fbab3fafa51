"""The Shafaf portal's datasets (SPEC T2-T12): what each publishes, its columns and their types. Pure data.

Every dataset is a table of rows (dicts keyed by column name). A column's `type` is one of
"string", "integer", "number", "date" (an ISO 8601 Gregorian date, "YYYY-MM-DD") or "boolean". A Jalali
date is published beside its Gregorian one as text in a column of its own (`..._jalali`, "1403/05/12"
with ASCII digits, so that it sorts and filters as text; Persian digits typed by a reader are normalised
at query time, docs/design.md). Money is integer rials. Codes (`province`, `kind`, ...) are ASCII slugs with
their Persian name in a `..._fa` column beside them.

`source` says where the rows come from:
- "demo": the generated demo set of services/transparency/demo_data.py (in production: the files the
  organization's units upload);
- "events": built by the transparency service from the events of other services (donations, payment
  aggregates, the budget's lines and spending, complaint statistics). Never read from another service's
  tables (docs/design.md).

No dataset has a column for a person's national ID, mobile, bank account or name, except the managers'
names that T10 publishes on purpose.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from common.jalali import day_text, month_key, stamp, tehran_date
from common.reference_data import CASE_KINDS, PROVINCES

TYPES = ("string", "integer", "number", "date", "boolean")
SOURCES = ("demo", "events")


@dataclass(frozen=True)
class Column:
    name: str  # ascii snake_case
    title_fa: str
    type: str  # "string" | "integer" | "number" | "date" | "boolean"
    searchable: bool = False  # included in the Persian full-text search
    filterable: bool = False  # exact-match filter in the API (?province=tehran)
    sortable: bool = False
    nullable: bool = False  # may be None (an empty cell): not applicable, or suppressed (too small to publish)


@dataclass(frozen=True)
class Dataset:
    slug: str
    title_fa: str
    description_fa: str
    spec: str  # the SPEC requirement(s) it serves, e.g. "T3"
    theme: str  # the EU data theme code (DCAT-AP): GOVE, ECON, SOCI, HEAL, EDUC, TECH, REGI, ...
    columns: tuple[Column, ...]
    key: str  # the column unique within a version
    source: str  # "demo" | "events"
    keywords_fa: tuple[str, ...] = ()
    title_en: str = ""
    keywords_en: tuple[str, ...] = ()

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


PUBLISHER = {
    "name_fa": "سازمان بهزیستی کشور",
    "name_en": "State Welfare Organization of Iran (Behzisti)",
    "homepage": "https://www.behzisti.ir",
    "portal": "https://shafaf.behzisti.ir",
    "email": "shafaf@behzisti.example",  # demo: not a real mailbox
    "country": "IRN",
}

LICENCE = {
    "id": "CC-BY-4.0",
    "url": "https://creativecommons.org/licenses/by/4.0/",
    "title_fa": "کریتیو کامنز، انتساب ۴٫۰ بین‌المللی (CC BY 4.0): استفاده، بازنشر و تغییر آزاد است به شرط ذکر منبع",
    "title_en": "Creative Commons Attribution 4.0 International",
}


# Columns that many datasets share ----------------------------------------------------------------------
def _province() -> tuple[Column, Column]:
    return (Column("province", "استان (کد)", "string", filterable=True, sortable=True),
            Column("province_fa", "استان", "string", searchable=True))


def _code(name: str, title_fa: str, nullable: bool = False) -> tuple[Column, Column]:
    """A code and its Persian name beside it."""
    return (Column(name, f"{title_fa} (کد)", "string", filterable=True, nullable=nullable),
            Column(f"{name}_fa", title_fa, "string", searchable=True, nullable=nullable))


def _date(name: str, title_fa: str, nullable: bool = False) -> tuple[Column, Column]:
    """A date: Gregorian ISO for machines, Jalali text for people."""
    return (Column(name, f"{title_fa} (میلادی)", "date", sortable=True, nullable=nullable),
            Column(f"{name}_jalali", f"{title_fa} (شمسی)", "string", searchable=True, nullable=nullable))


def _year(title_fa: str = "سال") -> Column:
    return Column("year", f"{title_fa} (شمسی)", "integer", filterable=True, sortable=True)


def _rials(name: str, title_fa: str, nullable: bool = False) -> Column:
    return Column(name, f"{title_fa} (ریال)", "integer", sortable=True, nullable=nullable)


# The datasets --------------------------------------------------------------------------------------------
_DATASETS = [
    Dataset(
        slug="properties",
        title_fa="املاک و دارایی‌های غیرمنقول سازمان بهزیستی",
        title_en="Real estate of the State Welfare Organization",
        description_fa="مشخصات همه ۲ هزار و ۸۰۰ واحد ملک متعلق به سازمان بهزیستی در سراسر کشور: نوع کاربری، "
                       "مساحت عرصه و اعیان، تعداد طبقات، سال ساخت، نوع سازه، وضعیت مالکیت و سند، وضعیت "
                       "بهره‌برداری، بهره‌بردار فعلی و نشانی.",
        spec="T2", theme="GOVE", source="demo", key="property_code",
        keywords_fa=("املاک", "دارایی", "ساختمان", "زمین", "کاربری"),
        keywords_en=("real estate", "public assets", "buildings"),
        columns=(
            Column("property_code", "کد ملک", "string", sortable=True),
            Column("title", "عنوان ملک", "string", searchable=True),
            *_code("usage_type", "نوع کاربری"),
            *_province(),
            Column("county_fa", "شهرستان", "string", searchable=True, filterable=True),
            Column("address", "نشانی", "string", searchable=True),
            Column("land_area_m2", "مساحت عرصه (مترمربع)", "number", sortable=True),
            Column("building_area_m2", "مساحت اعیان (مترمربع)", "number", sortable=True),
            Column("floors", "تعداد طبقات", "integer", sortable=True),
            Column("construction_year", "سال ساخت (شمسی)", "integer", sortable=True, nullable=True),
            *_code("structure", "نوع سازه", nullable=True),
            *_code("ownership", "وضعیت مالکیت"),
            Column("has_title_deed", "سند رسمی تک‌برگ دارد", "boolean", filterable=True),
            *_code("status", "وضعیت بهره‌برداری"),
            Column("current_user_fa", "بهره‌بردار فعلی", "string", searchable=True, nullable=True),
            Column("acquired_year", "سال تملک (شمسی)", "integer", sortable=True),
        ),
    ),
    Dataset(
        slug="contracts",
        title_fa="قراردادها، موافقت‌نامه‌ها و تفاهم‌نامه‌ها",
        title_en="Contracts, agreements and memoranda of understanding",
        description_fa="۲۲ هزار قرارداد، موافقت‌نامه و تفاهم‌نامه ستاد و ادارات کل بهزیستی استان‌ها با "
                       "پیمانکاران، مؤسسات و دستگاه‌های دیگر: شماره، موضوع، طرف قرارداد، مبلغ، روش انجام "
                       "معامله، تاریخ امضا و مدت، و وضعیت. قراردادها به قالب استاندارد داده‌های باز "
                       "قراردادهای عمومی (OCDS) نیز منتشر می‌شوند.",
        spec="T3", theme="GOVE", source="demo", key="contract_number",
        keywords_fa=("قرارداد", "موافقت‌نامه", "تفاهم‌نامه", "معاملات", "مناقصه", "پیمانکار"),
        keywords_en=("public procurement", "contracts", "OCDS"),
        columns=(
            Column("contract_number", "شماره قرارداد", "string", searchable=True, sortable=True),
            Column("title", "موضوع", "string", searchable=True),
            *_code("kind", "نوع سند"),
            *_code("category", "نوع معامله"),
            *_code("procurement_method", "روش انجام معامله"),
            Column("contractor_id", "کد طرف قرارداد", "string", filterable=True),
            Column("contractor_name", "طرف قرارداد", "string", searchable=True),
            Column("buyer_unit", "واحد کارفرما (کد)", "string", filterable=True),
            Column("buyer_unit_fa", "واحد کارفرما", "string", searchable=True),
            *_province(),
            _rials("amount_rials", "مبلغ"),
            *_date("signed_on", "تاریخ امضا"),
            Column("start_date", "تاریخ شروع", "date", sortable=True),
            Column("end_date", "تاریخ پایان", "date", sortable=True),
            _year("سال امضا"),
            *_code("status", "وضعیت"),
        ),
    ),
    Dataset(
        slug="contractors",
        title_fa="پیمانکاران و طرف‌های قرارداد",
        title_en="Contractors and counterparties",
        description_fa="شرکت‌ها، تعاونی‌ها، مؤسسات خیریه و مردم‌نهاد، دانشگاه‌ها و دستگاه‌هایی که با سازمان "
                       "بهزیستی قرارداد، موافقت‌نامه یا تفاهم‌نامه دارند، با زمینه فعالیت، استان، شمار "
                       "قراردادها و جمع مبلغ آن‌ها. فقط اشخاص حقوقی منتشر می‌شوند.",
        spec="T4", theme="GOVE", source="demo", key="contractor_id",
        keywords_fa=("پیمانکار", "شرکت", "طرف قرارداد"),
        keywords_en=("contractors", "suppliers"),
        columns=(
            Column("contractor_id", "کد طرف قرارداد", "string", sortable=True),
            Column("name", "نام", "string", searchable=True, sortable=True),
            *_code("kind", "نوع شخص حقوقی"),
            *_code("activity", "زمینه فعالیت"),
            *_province(),
            Column("city_fa", "شهر", "string", searchable=True),
            Column("registered_year", "سال ثبت (شمسی)", "integer", sortable=True),
            Column("grade", "رتبه (پیمانکاران ساختمانی)", "integer", filterable=True, nullable=True),
            Column("contracts_count", "تعداد قراردادها", "integer", sortable=True),
            _rials("contracts_amount_rials", "جمع مبلغ قراردادها"),
        ),
    ),
    Dataset(
        slug="donations",
        title_fa="کمک‌های مردمی دریافتی",
        title_en="Public donations received",
        description_fa="هر کمک نقدی که از درگاه ملی مشارکت بهزیستی دریافت شده است: شماره رسید، تاریخ، استان "
                       "و هدف کمک، مبلغ و نوع اهداکننده. کمک شرکت‌ها از محل مسئولیت اجتماعی با نام شرکت "
                       "منتشر می‌شود؛ نام و شماره تلفن اشخاص هرگز منتشر نمی‌شود.",
        spec="T5", theme="SOCI", source="events", key="receipt_number",
        keywords_fa=("کمک‌های مردمی", "مشارکت", "خیرین", "مسئولیت اجتماعی"),
        keywords_en=("donations", "charity", "corporate social responsibility"),
        columns=(
            Column("receipt_number", "شماره رسید", "string", searchable=True, sortable=True),
            *_date("paid_on", "تاریخ پرداخت"),
            Column("month", "ماه (شمسی)", "string", filterable=True, sortable=True),
            *_province(),
            Column("purpose_kind", "نوع هدف (ردیف یا پویش)", "string", filterable=True),
            Column("purpose_code", "هدف کمک (کد)", "string", filterable=True),
            Column("purpose_fa", "هدف کمک", "string", searchable=True),
            _rials("amount_rials", "مبلغ"),
            *_code("donor_kind", "نوع اهداکننده"),
            Column("company_name", "نام شرکت اهداکننده", "string", searchable=True, nullable=True),
        ),
    ),
    Dataset(
        slug="service_recipients",
        title_fa="آمار خدمت‌گیرندگان",
        title_en="Service recipients (statistics)",
        description_fa="شمار خدمت‌گیرندگان بهزیستی به تفکیک استان، نوع خدمت و سال. فقط آمار منتشر می‌شود و "
                       "هیچ داده فردی در آن نیست و رقمی که کمتر از ۵ نفر را نشان دهد منتشر نمی‌شود.",
        spec="T6", theme="SOCI", source="demo", key="row_id",
        keywords_fa=("خدمت‌گیرندگان", "مددجویان", "آمار", "جامعه هدف"),
        keywords_en=("social services", "statistics", "beneficiaries"),
        columns=(
            Column("row_id", "شناسه سطر", "string"),
            _year(),
            *_province(),
            *_code("service", "نوع خدمت"),
            Column("recipients", "تعداد خدمت‌گیرندگان (نفر)", "integer", sortable=True, nullable=True),
        ),
    ),
    Dataset(
        slug="centers",
        title_fa="مراکز و مؤسسات تحت نظارت",
        title_en="Centers and institutions under supervision",
        description_fa="مراکز دولتی و مراکز خیریه و مردم‌نهاد دارای مجوز بهزیستی در هر شهرستان: نوع مرکز، "
                       "متصدی، ظرفیت، سال تأسیس و نشانی.",
        spec="T7", theme="SOCI", source="demo", key="center_id",
        keywords_fa=("مراکز", "مؤسسات", "سازمان‌های مردم‌نهاد", "نشانی مراکز"),
        keywords_en=("care centres", "NGOs", "addresses"),
        columns=(
            Column("center_id", "کد مرکز", "string", sortable=True),
            Column("name", "نام مرکز", "string", searchable=True, sortable=True),
            *_code("center_type", "نوع مرکز"),
            *_code("operator", "متصدی"),
            *_province(),
            Column("county", "شهرستان (کد)", "string", filterable=True),
            Column("county_fa", "شهرستان", "string", searchable=True),
            Column("address", "نشانی", "string", searchable=True),
            Column("capacity", "ظرفیت (نفر)", "integer", sortable=True),
            Column("established_year", "سال تأسیس (شمسی)", "integer", sortable=True),
            Column("license_number", "شماره پروانه فعالیت", "string", searchable=True, nullable=True),
        ),
    ),
    Dataset(
        slug="financial_statements",
        title_fa="صورت‌های مالی سالانه",
        title_en="Annual financial statements",
        description_fa="اقلام صورت وضعیت مالی، صورت عملکرد مالی و صورت جریان وجوه نقد سازمان بهزیستی برای هر "
                       "سال، از سال ۱۳۹۸ که نخستین بار منتشر شد، با نظر حسابرس.",
        spec="T8", theme="ECON", source="demo", key="row_id",
        keywords_fa=("صورت‌های مالی", "حسابرسی", "بودجه و هزینه‌کرد"),
        keywords_en=("financial statements", "public finance"),
        columns=(
            Column("row_id", "شناسه سطر", "string"),
            _year("سال مالی"),
            *_code("statement", "صورت مالی"),
            Column("item_code", "کد قلم", "string", filterable=True),
            Column("item_fa", "شرح قلم", "string", searchable=True),
            _rials("amount_rials", "مبلغ"),
            Column("audited", "حسابرسی‌شده", "boolean", filterable=True),
            Column("audit_opinion_fa", "نظر حسابرس", "string", searchable=True, nullable=True),
        ),
    ),
    Dataset(
        slug="budget",
        title_fa="بودجه و ردیف‌های پرداخت به مددجویان",
        title_en="Budget and its 16 lines",
        description_fa="۱۶ ردیف بودجه‌ای که ۸۲ درصد بودجه سازمان را در بر می‌گیرد: سرانه، هدف، مبنای قانونی "
                       "پرداخت به حساب افراد، اعتبار مصوب و مبلغ پرداخت‌شده از آن در همان سال تاکنون. ردیف‌ها را "
                       "سامانهٔ پرداخت برای هر سال اعلام می‌کند؛ تا نخستین اعلام، این مجموعه سطری ندارد. به قالب "
                       "بسته داده مالی (Fiscal Data Package) نیز منتشر می‌شود.",
        spec="T8, T9", theme="ECON", source="events", key="code",
        keywords_fa=("بودجه", "ردیف بودجه", "سرانه", "مستمری", "هزینه‌کرد"),
        keywords_en=("budget", "spending", "Fiscal Data Package"),
        columns=(
            _year("سال بودجه"),
            Column("code", "کد ردیف", "string", filterable=True, sortable=True),
            Column("title_fa", "عنوان ردیف", "string", searchable=True),
            Column("purpose_fa", "هدف", "string", searchable=True),
            Column("legal_basis_fa", "مبنای قانونی", "string", searchable=True),
            *_code("pays", "دریافت‌کننده"),
            _rials("per_capita_rials", "سرانه ماهانه"),
            _rials("yearly_allocation_rials", "اعتبار مصوب سالانه"),
            _rials("spent_rials", "پرداخت‌شده"),
        ),
    ),
    Dataset(
        slug="payment_aggregates",
        title_fa="پرداخت‌ها به مددجویان به تفکیک ردیف، استان و ماه",
        title_en="Payments to beneficiaries by budget line, province and month",
        description_fa="جمع پرداخت‌های الکترونیکی به حساب مددجویان در هر ماه، به تفکیک ردیف بودجه و استان: "
                       "شمار خانوارها و مبلغ. رقمی که کمتر از ۵ خانوار را نشان دهد منتشر نمی‌شود و با کم کردن "
                       "از جمع‌ها نیز به دست نمی‌آید.",
        spec="T9, P4", theme="ECON", source="events", key="row_id",
        keywords_fa=("پرداخت", "مستمری", "یارانه", "ردیف بودجه"),
        keywords_en=("social benefits", "payments", "aggregates"),
        columns=(
            Column("row_id", "شناسه سطر", "string"),
            Column("month", "ماه (شمسی)", "string", filterable=True, sortable=True),
            Column("month_fa", "ماه", "string", searchable=True),
            _year(),
            Column("budget_line", "ردیف بودجه (کد)", "string", filterable=True),
            Column("budget_line_fa", "ردیف بودجه", "string", searchable=True),
            *_province(),
            Column("households", "تعداد خانوار", "integer", sortable=True, nullable=True),
            _rials("amount_rials", "مبلغ پرداخت‌شده", nullable=True),
            Column("suppressed", "منتشرنشده برای حفظ حریم خصوصی", "boolean", filterable=True),
        ),
    ),
    Dataset(
        slug="transactions",
        title_fa="فهرست معاملات و هزینه‌کردها",
        title_en="Transactions and expenditures",
        description_fa="پرداخت‌های سازمان بهزیستی به پیمانکاران، مراکز غیردولتی، بیمه‌گران و دستگاه‌ها: "
                       "تاریخ، واحد پرداخت‌کننده، دریافت‌کننده، ردیف بودجه، قرارداد مرتبط و مبلغ. پرداخت به "
                       "اشخاص حقیقی در این فهرست نیست.",
        spec="T10", theme="GOVE", source="demo", key="transaction_id",
        keywords_fa=("معاملات", "هزینه‌کرد", "پرداخت"),
        keywords_en=("expenditure", "transactions"),
        columns=(
            Column("transaction_id", "شناسه تراکنش", "string", sortable=True),
            *_date("paid_on", "تاریخ پرداخت"),
            _year(),
            Column("payer_unit_fa", "واحد پرداخت‌کننده", "string", searchable=True),
            *_province(),
            Column("payee_fa", "دریافت‌کننده", "string", searchable=True),
            *_code("payee_kind", "نوع دریافت‌کننده"),
            Column("budget_line", "ردیف بودجه (کد)", "string", filterable=True, nullable=True),
            Column("budget_line_fa", "ردیف بودجه", "string", searchable=True, nullable=True),
            Column("contract_number", "شماره قرارداد مرتبط", "string", filterable=True, nullable=True),
            Column("description_fa", "شرح", "string", searchable=True),
            _rials("amount_rials", "مبلغ"),
        ),
    ),
    Dataset(
        slug="managers",
        title_fa="مدیران",
        title_en="Managers",
        description_fa="نام و سمت مدیران ستاد سازمان، مدیران کل بهزیستی استان‌ها و معاونان آنان و روسای "
                       "ادارات بهزیستی شهرستان‌ها، با تاریخ انتصاب و مدرک تحصیلی.",
        spec="T10", theme="GOVE", source="demo", key="manager_id",
        keywords_fa=("مدیران", "انتصابات", "اسامی مدیران"),
        keywords_en=("officials", "appointments"),
        columns=(
            Column("manager_id", "شناسه", "string", sortable=True),
            Column("full_name", "نام و نام خانوادگی", "string", searchable=True, sortable=True),
            Column("position_fa", "سمت", "string", searchable=True),
            Column("unit_fa", "واحد", "string", searchable=True),
            *_code("level", "سطح"),
            *_province(),
            *_date("appointed_on", "تاریخ انتصاب"),
            Column("education_fa", "مدرک و رشته تحصیلی", "string", searchable=True),
        ),
    ),
    Dataset(
        slug="licenses",
        title_fa="مجوزهای صادرشده",
        title_en="Licences issued",
        description_fa="مجوزهای صادرشده برای مراکز و مؤسسات غیردولتی: نوع مجوز، مرکز، تاریخ درخواست، مهلت "
                       "قانونی، تاریخ صدور و اینکه در موعد مقرر صادر شده است یا نه.",
        spec="T10, T12", theme="GOVE", source="demo", key="license_number",
        keywords_fa=("مجوز", "پروانه فعالیت", "موافقت اصولی", "صدور به موقع"),
        keywords_en=("licences", "permits", "timeliness"),
        columns=(
            Column("license_number", "شماره مجوز", "string", searchable=True, sortable=True),
            *_code("license_kind", "نوع مجوز"),
            Column("center_name", "نام مرکز یا مؤسسه", "string", searchable=True),
            *_code("center_type", "نوع مرکز"),
            *_province(),
            Column("county_fa", "شهرستان", "string", searchable=True),
            Column("applied_on", "تاریخ درخواست", "date", sortable=True),
            Column("due_on", "مهلت صدور", "date", sortable=True),
            *_date("issued_on", "تاریخ صدور"),
            _year("سال صدور"),
            Column("days_taken", "مدت رسیدگی (روز)", "integer", sortable=True),
            Column("on_time", "صدور در موعد مقرر", "boolean", filterable=True),
        ),
    ),
    Dataset(
        slug="license_timeliness",
        title_fa="نرخ صدور به‌موقع مجوزها",
        title_en="On-time rate of licences issued, per year",
        description_fa="درصد مجوزهایی که در موعد مقرر صادر شده‌اند، به تفکیک سال و استان: در سال ۱۴۰۳، ۹۸ "
                       "درصد مجوزها در موعد صادر شد، در برابر ۳۶ درصد در سال ۱۴۰۲. از فهرست مجوزهای صادرشده "
                       "محاسبه می‌شود.",
        spec="T12", theme="GOVE", source="demo", key="row_id",
        keywords_fa=("مجوز", "صدور به موقع", "عملکرد"),
        keywords_en=("licences", "timeliness", "performance"),
        columns=(
            Column("row_id", "شناسه سطر", "string"),
            _year("سال صدور"),
            Column("province", "استان (کد؛ all برای کل کشور)", "string", filterable=True, sortable=True),
            Column("province_fa", "استان", "string", searchable=True),
            Column("issued", "تعداد مجوزهای صادرشده", "integer", sortable=True),
            Column("on_time", "تعداد صادرشده در موعد", "integer", sortable=True),
            Column("on_time_rate", "نرخ صدور به‌موقع (۰ تا ۱)", "number", sortable=True),
        ),
    ),
    Dataset(
        slug="hiring",
        title_fa="فرایند استخدام",
        title_en="Hiring process",
        description_fa="فراخوان‌های جذب و استخدام سازمان بهزیستی: عنوان شغل، استان، روش جذب، تاریخ‌های "
                       "فراخوان، آزمون و اعلام نتایج، شمار ظرفیت‌ها، داوطلبان، پذیرفته‌شدگان و سهمیه افراد "
                       "دارای معلولیت، و مرحله فعلی.",
        spec="T10", theme="GOVE", source="demo", key="call_number",
        keywords_fa=("استخدام", "جذب نیرو", "آزمون استخدامی", "سهمیه معلولان"),
        keywords_en=("recruitment", "public employment"),
        columns=(
            Column("call_number", "شماره فراخوان", "string", searchable=True, sortable=True),
            Column("title", "عنوان فراخوان", "string", searchable=True),
            Column("post_fa", "عنوان شغل", "string", searchable=True),
            *_code("method", "روش جذب"),
            *_province(),
            _year(),
            *_date("announced_on", "تاریخ فراخوان"),
            Column("exam_on", "تاریخ آزمون", "date", sortable=True, nullable=True),
            Column("results_on", "تاریخ اعلام نتایج", "date", sortable=True, nullable=True),
            Column("posts", "ظرفیت", "integer", sortable=True),
            Column("disability_quota_posts", "ظرفیت سهمیه افراد دارای معلولیت", "integer"),
            Column("applicants", "تعداد داوطلبان", "integer", sortable=True),
            Column("hired", "تعداد پذیرفته‌شدگان نهایی", "integer", sortable=True, nullable=True),
            *_code("stage", "مرحله"),
        ),
    ),
    Dataset(
        slug="plans",
        title_fa="برنامه راهبردی، راهبردها و برنامه‌ها",
        title_en="Strategic plan, strategies and programmes",
        description_fa="اهداف راهبردی سازمان بهزیستی در افق برنامه هفتم پیشرفت، راهبردها و برنامه‌های "
                       "عملیاتی هر یک، با واحد مسئول، بازه اجرا و درصد پیشرفت.",
        spec="T10", theme="GOVE", source="demo", key="plan_id",
        keywords_fa=("برنامه راهبردی", "برنامه هفتم", "راهبرد", "برنامه عملیاتی"),
        keywords_en=("strategic plan", "programmes"),
        columns=(
            Column("plan_id", "شناسه", "string", sortable=True),
            *_code("kind", "سطح"),
            Column("parent_id", "شناسه سطح بالاتر", "string", filterable=True, nullable=True),
            Column("title_fa", "عنوان", "string", searchable=True),
            Column("description_fa", "شرح", "string", searchable=True),
            Column("responsible_unit_fa", "واحد مسئول", "string", searchable=True),
            Column("start_year", "سال شروع (شمسی)", "integer", sortable=True),
            Column("end_year", "سال پایان (شمسی)", "integer", sortable=True),
            Column("progress_percent", "درصد پیشرفت", "number", sortable=True),
            *_code("status", "وضعیت"),
        ),
    ),
    Dataset(
        slug="research",
        title_fa="پژوهش‌ها",
        title_en="Research",
        description_fa="طرح‌های پژوهشی سفارش داده‌شده یا اجراشده سازمان بهزیستی: عنوان، حوزه، مجری، سال، "
                       "اعتبار و وضعیت.",
        spec="T10", theme="EDUC", source="demo", key="research_id",
        keywords_fa=("پژوهش", "طرح پژوهشی", "ارزیابی اثربخشی"),
        keywords_en=("research", "evaluation"),
        columns=(
            Column("research_id", "شناسه طرح", "string", sortable=True),
            Column("title_fa", "عنوان طرح", "string", searchable=True),
            *_code("field", "حوزه"),
            Column("executor_fa", "مجری", "string", searchable=True),
            Column("province", "استان (کد؛ national برای ستاد)", "string", filterable=True),
            Column("province_fa", "استان", "string", searchable=True),
            _year("سال شروع"),
            _rials("budget_rials", "اعتبار"),
            *_code("status", "وضعیت"),
            Column("completed_on", "تاریخ پایان", "date", sortable=True, nullable=True),
        ),
    ),
    Dataset(
        slug="complaint_statistics",
        title_fa="آمار هفتگی و ماهانه شکایات و گزارش‌ها",
        title_en="Weekly and monthly complaint statistics",
        description_fa="شمار شکایات، انتقادها، پیشنهادها و گزارش‌های ثبت‌شده در سامانه دیده‌بان در هر هفته و "
                       "هر ماه، به تفکیک نوع، استان و نتیجه، با نرخ رسیدگی در مهلت. رقم‌های کمتر از آستانه "
                       "(۵ مورد) منتشر نمی‌شوند.",
        spec="C16", theme="GOVE", source="events", key="row_id",
        keywords_fa=("شکایات", "دیده‌بان", "پاسخگویی", "آمار"),
        keywords_en=("complaints", "statistics", "accountability"),
        columns=(
            Column("row_id", "شناسه سطر", "string"),
            Column("period", "دوره", "string", filterable=True, sortable=True),
            *_code("period_kind", "نوع دوره"),
            Column("label_fa", "عنوان دوره", "string", searchable=True),
            Column("from_date", "از تاریخ", "date", sortable=True),
            Column("to_date", "تا تاریخ (بدون خود آن روز)", "date", sortable=True),
            *_code("dimension", "تفکیک"),
            Column("category", "دسته (کد)", "string", filterable=True),
            Column("category_fa", "دسته", "string", searchable=True),
            Column("count", "تعداد", "integer", sortable=True, nullable=True),
            Column("suppressed", "منتشرنشده برای حفظ حریم خصوصی", "boolean", filterable=True),
            Column("on_time_rate", "نرخ رسیدگی در مهلت (۰ تا ۱)", "number", nullable=True),
        ),
    ),
]

CATALOG: dict[str, Dataset] = {dataset.slug: dataset for dataset in _DATASETS}


def describe(dataset: Dataset, *, version: int, published_at: datetime, sha256: str | None = None) -> dict:
    """The metadata that goes with every download and API answer: title, description, publisher, licence,
    version and publication date (ISO 8601 and Jalali), and the columns."""
    meta = {
        "slug": dataset.slug,
        "title_fa": dataset.title_fa,
        "title_en": dataset.title_en,
        "description_fa": dataset.description_fa,
        "spec": dataset.spec,
        "theme": dataset.theme,
        "keywords_fa": list(dataset.keywords_fa),
        "publisher": {"name_fa": PUBLISHER["name_fa"], "name_en": PUBLISHER["name_en"],
                      "homepage": PUBLISHER["homepage"], "email": PUBLISHER["email"]},
        "licence": dict(LICENCE),
        "version": version,
        "published_at": stamp(published_at),
        "key": dataset.key,
        "columns": [{"name": c.name, "title_fa": c.title_fa, "type": c.type, "nullable": c.nullable}
                    for c in dataset.columns],
    }
    if sha256:
        meta["sha256"] = sha256
    return meta


# Rows of the datasets fed by events (source "events") ---------------------------------------------------
DONOR_KINDS = {"person": "شخص حقیقی (بی‌نام)", "company": "شرکت (مسئولیت اجتماعی)"}
STATISTICS_PERIODS = {"weekly": "هفتگی", "monthly": "ماهانه"}
STATISTICS_DIMENSIONS = {"total": "کل", "kind": "نوع", "province": "استان", "outcome": "نتیجه"}
OUTCOMES = {"answered": "پاسخ داده‌شده", "in_progress": "در دست رسیدگی"}
NATIONAL_FA = "ستاد و واحدهای ملی"


def donation_row(data: dict) -> dict:
    """The donations row of a `donation.received` event's data. A person is never named and no mobile is
    kept; a company (social responsibility, SPEC P6) is published with its name."""
    day = tehran_date(data["paid_at"])
    company = data["donor_kind"] == "company"
    return {
        "receipt_number": data["receipt_number"],
        "paid_on": day.isoformat(),
        "paid_on_jalali": day_text(day),
        "month": month_key(day),
        "province": data["province"],
        "province_fa": data.get("province_fa") or PROVINCES.get(data["province"], data["province"]),
        "purpose_kind": data["purpose_kind"],
        "purpose_code": data["purpose_code"],
        "purpose_fa": data["purpose_fa"],
        "amount_rials": int(data["amount_rials"]),
        "donor_kind": data["donor_kind"],
        "donor_kind_fa": DONOR_KINDS[data["donor_kind"]],
        "company_name": data.get("company_name") if company else None,
    }


def complaint_statistics_rows(data: dict) -> list[dict]:
    """The complaint_statistics rows of a `statistics.published` event's data: one row for the total and
    one per kind, province and outcome. A suppressed cell (null in the event) stays null, flagged."""
    start, end = tehran_date(data["from"]), tehran_date(data["to"])
    common = {"period": data["period"], "period_kind": data["kind"],
              "period_kind_fa": STATISTICS_PERIODS[data["kind"]], "label_fa": data["label_fa"],
              "from_date": start.isoformat(), "to_date": end.isoformat()}

    def row(dimension: str, category: str, category_fa: str, count, on_time_rate=None) -> dict:
        return {"row_id": f"{data['period']}.{dimension}.{category}", **common,
                "dimension": dimension, "dimension_fa": STATISTICS_DIMENSIONS[dimension],
                "category": category, "category_fa": category_fa, "count": count,
                "suppressed": count is None, "on_time_rate": on_time_rate}

    rows = [row("total", "all", "همه موارد", data["received"], data.get("on_time_rate"))]
    rows += [row("kind", k, CASE_KINDS.get(k, k), n) for k, n in data["by_kind"].items()]
    rows += [row("province", p, NATIONAL_FA if p == "national" else PROVINCES.get(p, p), n)
             for p, n in data["by_province"].items()]
    rows += [row("outcome", o, OUTCOMES.get(o, o), n) for o, n in data["by_outcome"].items()]
    return rows
