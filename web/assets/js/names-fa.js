// The Persian names of the codes and enums the pages show. The API speaks in codes (`urgent`, `hotline`,
// `entitlements_computed`); a person reads these names. Read through format.js's nameOf(group, code); a code
// missing here is shown as the API sent it. Where the API sends a name beside a code (`status_fa`,
// `kind_fa`, a Shafaf row's `province_fa`), the pages show the API's name.
//
// Each table is plain JSON (double-quoted keys), in the order the pages offer the choices.
// tests/unit/test_web_names.py checks the tables that copy a server list against it.

export const NAMES = {
  // SPEC C2: the kinds of case, most asked first (services/complaints/domain.py KINDS)
  case_kind: {
    "complaint": "شکایت", "violation_report": "گزارش تخلف", "question": "پرسش یا درخواست راهنمایی",
    "suggestion": "پیشنهاد", "criticism": "انتقاد", "opinion": "نظر", "idea": "ایده",
    "recommendation": "توصیه", "other": "سایر درخواست‌ها"
  },
  urgency: { "normal": "عادی", "urgent": "فوری" },
  // the cartable's filters (GET /staff/cartable: due, order)
  deadline_due: { "overdue": "مهلت گذشته", "today": "مهلت تا پایان امروز", "later": "مهلت پس از امروز" },
  cartable_order: { "deadline": "نزدیک‌ترین مهلت نخست", "newest": "تازه‌ترین ثبت نخست" },
  channel: {
    "web": "وب", "mobile_web": "وب همراه", "hotline": "تلفن ۱۴۸۲", "staff": "کارکنان", "partner_app": "برنامهٔ همکار"
  },
  case_action: {
    "registered": "ثبت", "triaged": "ارجاع از بازرسی", "referred": "ارجاع", "answered": "پاسخ",
    "approved": "تأیید پاسخ", "returned": "برگشت پاسخ", "deadline_missed": "گذشت مهلت", "reopened": "گزارش دوباره",
    "moved_up": "سپردن به مقام بالاتر", "evidence_requested": "درخواست مدارک", "evidence_added": "افزودن مدارک",
    "closed": "بسته شدن", "deadline_warning": "هشدار مهلت", "attachment_added": "پیوست پاسخ",
    "deadline_extended": "تمدید مهلت برای زمان از کار افتادن سامانه"
  },
  actor: { "citizen": "شهروند", "system": "سامانه" },
  role: {
    "hotline_operator": "کارشناس مرکز تماس ۱۴۸۲", "hq_operator": "اپراتور ستاد", "hq_head": "مدیر واحد ستادی",
    "hq_expert": "کارشناس واحد ستادی", "province_head": "مدیرکل استان", "province_expert": "کارشناس استان",
    "county_head": "رئیس اداره شهرستان", "county_expert": "کارشناس شهرستان", "center_head": "مدیر مرکز",
    "center_staff": "کارشناس مرکز", "inspector": "بازرس", "finance_expert": "کارشناس مالی (آماده‌سازی پرداخت)",
    "finance_approver": "تأییدکنندهٔ پرداخت", "auditor": "حسابرس (فقط خواندن)", "admin": "مدیر سامانه"
  },
  // payment cycles (services/payments): the stages in order, then the states of orders and bank files
  cycle_stage: {
    "open": "باز", "entitlements_computed": "استحقاق محاسبه شد", "approved": "تأیید شد",
    "orders_issued": "دستور پرداخت صادر شد", "bank_file_sent": "فایل به بانک رفت",
    "statement_received": "صورت‌حساب بانک رسید", "reconciled": "تطبیق شد", "settled": "تسویه شد", "stopped": "متوقف شد"
  },
  order_state: {
    "issued": "صادرشده", "built": "در فایل بانک", "sent": "فرستاده به بانک", "paid": "پرداخت‌شده",
    "rejected": "ردشده از بانک", "returned": "برگشتی", "carried": "منتقل به دورهٔ بعد", "cancelled": "لغوشده"
  },
  batch_state: {
    "built": "ساخته‌شده", "sent": "فرستاده", "accepted": "پذیرفته‌شده", "rejected": "ردشده", "settled": "تسویه‌شده"
  },
  purpose_kind: { "line": "ردیف بودجه", "campaign": "پویش" },
  // the type of a Shafaf column, as the public reads it
  column_type: { "string": "متن", "integer": "عدد صحیح", "number": "عدد", "date": "تاریخ", "boolean": "بله یا خیر" },
  download_format: { "csv": "CSV", "json": "JSON", "ocds": "OCDS (قراردادها)", "fdp": "Fiscal Data Package (بودجه)" },
  spending_by: { "line": "ردیف بودجه", "province": "استان", "month": "ماه" },
  boolean: { "true": "بله", "false": "خیر" },
  // a unit's file for a Shafaf dataset (services/transparency/submissions.py)
  upload_status: { "pending": "در انتظار تأیید", "approved": "تأیید و منتشر شد", "superseded": "پروندهٔ تازه‌تری جای آن را گرفت" },
  // the licence of Shafaf's datasets (services/transparency/catalog.py LICENCE)
  licence: { "CC-BY-4.0": "کریتیو کامنز، انتساب ۴٫۰ بین‌المللی: استفاده، بازنشر و تغییر آزاد با ذکر منبع" },
  // the Latin letters of an anonymous report's secret, as a hotline operator reads them to a caller
  latin_letter: {
    "A": "اِی", "B": "بی", "C": "سی", "D": "دی", "E": "ای", "F": "اِف", "G": "جی", "H": "اِچ", "I": "آی", "J": "جِی",
    "K": "کِی", "L": "اِل", "M": "اِم", "N": "اِن", "O": "اُو", "P": "پی", "Q": "کیو", "R": "آر", "S": "اِس", "T": "تی",
    "U": "یو", "V": "وی", "W": "دابلیو", "X": "اِکس", "Y": "وای", "Z": "زِد"
  }
};
