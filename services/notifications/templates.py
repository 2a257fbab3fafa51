"""Persian message templates, versioned: a change of wording is a new version, and each message
records the version it used."""
from __future__ import annotations

import math
import string
from dataclasses import dataclass

from common.config import get_settings


class TemplateError(ValueError):
    """A message that cannot be made: an unknown template, a variable missing, or a text longer
    than the operator parts we allow. Retrying cannot help: the event goes to the dead letters."""

    permanent = True


@dataclass(frozen=True)
class Template:
    name: str
    version: int
    audience: str  # citizen | staff
    text: str

    @property
    def variables(self) -> list[str]:
        return sorted({field for _, field, _, _ in string.Formatter().parse(self.text) if field})

    def render(self, **values) -> str:
        missing = [v for v in self.variables if values.get(v) in (None, "")]
        if missing:
            raise TemplateError(f"template {self.name} v{self.version} needs {', '.join(missing)}")
        body = self.text.format(**values)
        limit = get_settings().sms_max_segments
        if segments(body) > limit:
            raise TemplateError(f"template {self.name} v{self.version} renders to {segments(body)} parts; "
                                f"at most {limit} are allowed ({len(body)} characters)")
        return body


# What a citizen hears of their case (SPEC C9): the steps they can recognise, each in one SMS part (70
# UCS-2 characters) where the content allows. The tracking code stays in ASCII digits so it can be copied into
# the tracking form; a message that links to the case carries the code in its link, and takes two parts.
CASE_REGISTERED_CITIZEN = Template(
    name="case_registered.citizen",
    version=2,
    audience="citizen",
    text="بهزیستی: درخواست شما ثبت شد؛ کد رهگیری {tracking_code}\n{track_url}",
)
CASE_HANDED_CITIZEN = Template(  # triaged, referred, moved up: one part for a unit name of up to 31 characters
    name="case_handed.citizen",
    version=1,
    audience="citizen",
    text="بهزیستی: {tracking_code} به {holder_unit_fa} ارجاع شد.",
)
CASE_ANSWER_READY_CITIZEN = Template(  # the last approval (`final`): the answer reached the citizen
    name="case_answer_ready.citizen",
    version=2,
    audience="citizen",
    text="بهزیستی: پاسخ درخواست شما آماده است:\n{track_url}",
)
CASE_DEADLINE_MISSED_CITIZEN = Template(
    name="case_deadline_missed.citizen",
    version=2,
    audience="citizen",
    text="بهزیستی: مهلت گذشت؛ درخواست {tracking_code} به ستاد بازگشت.",
)
CASE_REOPENED_CITIZEN = Template(
    name="case_reopened.citizen",
    version=2,
    audience="citizen",
    text="بهزیستی: گزارش دوبارهٔ {tracking_code} ثبت شد و به سطح بالاتر رفت.",
)
CASE_EVIDENCE_REQUESTED_CITIZEN = Template(
    name="case_evidence_requested.citizen",
    version=2,
    audience="citizen",
    text="بهزیستی: برای درخواست شما مدرک خواسته شد:\n{track_url}",
)
CASE_CLOSED_CITIZEN = Template(
    name="case_closed.citizen",
    version=2,
    audience="citizen",
    text="بهزیستی: درخواست {tracking_code} بسته شد. سپاس از همراهی شما.",
)

# Staff (SPEC N2): a case in their cartable, a deadline about to be missed, their access revoked. The
# deadline is Jalali, Tehran time, Persian digits (common.jalali.to_jalali).
CASE_IN_CARTABLE_STAFF = Template(
    name="case_in_cartable.staff",
    version=1,
    audience="staff",
    text=("دیده‌بان: پرونده {tracking_code} به کارتابل شما رسید.\n"
          "مهلت رسیدگی: {deadline}"),
)
CASE_AWAITING_APPROVAL_STAFF = Template(
    name="case_awaiting_approval.staff",
    version=1,
    audience="staff",
    text=("دیده‌بان: پاسخ پرونده {tracking_code} در کارتابل شما منتظر تأیید است.\n"
          "مهلت: {deadline}"),
)
CASE_DEADLINE_MISSED_STAFF = Template(
    name="case_deadline_missed.staff",
    version=1,
    audience="staff",
    text=("دیده‌بان: مهلت پرونده {tracking_code} در واحد قبلی گذشت و پرونده برای پیگیری به کارتابل شما آمد.\n"
          "مهلت: {deadline}"),
)
CASE_REOPENED_STAFF = Template(
    name="case_reopened.staff",
    version=1,
    audience="staff",
    text=("دیده‌بان: شهروند دربارهٔ پرونده {tracking_code} دوباره گزارش داد؛ پرونده در کارتابل شماست.\n"
          "مهلت: {deadline}"),
)
DEADLINE_WARNING_STAFF = Template(
    name="deadline_warning.staff",
    version=1,
    audience="staff",
    text=("دیده‌بان: مهلت رسیدگی به پرونده {tracking_code} رو به پایان است.\n"
          "مهلت: {deadline}"),
)
ACCESS_REVOKED_INACTIVITY_STAFF = Template(
    name="access_revoked_inactivity.staff",
    version=1,
    audience="staff",
    text=("دیده‌بان: دسترسی شما ({username}) به‌علت ۴۸ ساعت باز نکردن کارتابل لغو شد. "
          "بازگشت آن با مدیر سامانه است."),
)
ACCESS_REVOKED_BY_ADMIN_STAFF = Template(
    name="access_revoked_by_admin.staff",
    version=1,
    audience="staff",
    text=("دیده‌بان: دسترسی شما ({username}) را مدیر سامانه لغو کرد. "
          "بازگشت آن با مدیر سامانه است."),
)

# SPEC P1: sent in bulk for a whole payment cycle. One SMS part (70 characters) with the line's short name
# (at most 12 characters), any month and any amount under a billion rials: half the cost of version 1's two.
PENSION_PAID_CITIZEN = Template(
    name="pension_paid.citizen",
    version=2,
    audience="citizen",
    text="بهزیستی: {budget_line} {month} به مبلغ {amount} ریال واریز شد.",
)

# SPEC N1: a one-time code for a citizen's login (services/notifications/otp.py). The code stays in ASCII
# digits, so phones offer to fill it in. No table holds the code: one_time_codes keeps its HMAC, and the
# stored body has it masked until it is handed to an operator (code_text.py).
ONE_TIME_CODE_CITIZEN = Template(
    name="one_time_code.citizen",
    version=1,
    audience="citizen",
    text=("بهزیستی: کد ورود شما {code}\n"
          "این کد تا ۲ دقیقه معتبر است؛ آن را به هیچ‌کس ندهید."),  # otp.CODE_LIFETIME
)


ONE_TIME_CODE_CASE = Template(  # the proof of holding a named case's mobile (purpose case_reporter)
    name="reporter_code.citizen",
    version=1,
    audience="citizen",
    text=("بهزیستی: کد تأیید پرونده شما {code}\n"
          "این کد تا ۲ دقیقه معتبر است؛ آن را به هیچ‌کس ندهید."),  # otp.CODE_LIFETIME
)


PAYMENT_FAILED_CITIZEN = Template(  # SPEC P: a rejected or returned payment; the beneficiary is told
    name="payment_failed.citizen",
    version=1,
    audience="citizen",
    text="بهزیستی: واریز {budget_line} {month} به حساب شما انجام نشد؛ با اداره بهزیستی تماس بگیرید.",
)


DONATION_RECEIPT_CITIZEN = Template(  # SPEC P5, N1: the donor's receipt; purpose at most PURPOSE_CHARS characters
    name="donation_receipt.citizen",
    version=1,
    audience="citizen",
    text="بهزیستی: کمک {amount} ریالی شما برای {purpose} در {province} رسید؛ شماره رسید {receipt_number}",
)
PURPOSE_CHARS = 34  # so that the receipt fits two parts with the largest amount and the longest province

ALL = tuple(t for t in list(globals().values()) if isinstance(t, Template))
BY_NAME = {t.name: t for t in ALL}

# What the preview route fills a template with when the caller gives nothing.
SAMPLE_VALUES = {
    "tracking_code": "4203917755102846", "holder_unit_fa": "اداره بهزیستی شهرستان ری",
    "track_url": "https://behzisti.example/track/4203917755102846", "deadline": "۱۴۰۵/۰۹/۰۶ ۱۰:۳۰",
    "username": "rey.head", "code": "۴۸۲۹۱۷", "amount": "۱۲٬۵۰۰٬۰۰۰", "month": "آذر ۱۴۰۵",
    "budget_line": "مستمری خانوارهای دارای معلول",
    "purpose": "حق پرستاری و نگهداری افراد دارای …", "province": "کهگیلویه و بویراحمد",
    "receipt_number": "405318920477",
}


def get(name: str) -> Template:
    try:
        return BY_NAME[name]
    except KeyError:
        raise TemplateError(f"no template named {name!r}") from None


def segments(body: str) -> int:
    """SMS parts as operators count them: GSM-7 text fits 160 characters (153 per part when split);
    anything else, Persian included, is UCS-2: 70 characters, 67 per part when split."""
    if all(ord(c) < 128 for c in body):
        single, multi = 160, 153
    else:
        single, multi = 70, 67
    return 1 if len(body) <= single else math.ceil(len(body) / multi)

