// What a page checks before it sends anything: required fields, lengths, a mobile number, a national ID and a
// company's national ID with their check digits, amounts. The same rules as the API's (common/identifiers.py,
// common/validation.py, services/*/schemas.py), so that a person's mistake is shown at once, beside its field,
// and never spends a request of the rate limits (10 registrations and 5 logins a minute per client). The API
// checks again: it is the guard, these are the courtesy. tests/unit/test_web_checks.py runs both on the same
// values.
import { ApiError } from "./api.js";
import { fa, latin, num } from "./format.js";

export const TEXT = {
  required: "این مورد الزامی است و خالی مانده است؛ آن را وارد کنید.",
  tooShort: (min) => `متن کوتاه‌تر از حد مجاز است (دست‌کم ${fa(min)} نویسه، بی‌فاصله).`,
  tooLong: (max) => `متن بلندتر از حد مجاز است (حداکثر ${fa(max)} نویسه).`,
  mobile: "شماره تلفن همراه معتبر نیست؛ ۱۱ رقم با ۰۹ در آغاز، مانند ۰۹۱۲۱۲۳۴۵۶۷ وارد کنید.",
  nationalId: "کد ملی معتبر نیست: کد ملی ۱۰ رقم است و رقم آخرِ آن، رقم کنترلی است که از ۹ رقم دیگر "
    + "به دست می‌آید؛ آن را از روی کارت ملی دوباره وارد کنید.",
  companyId: "شناسهٔ ملی شرکت معتبر نیست (۱۱ رقم با رقم کنترل درست).",
  amount: (min, max) => `مبلغ کمک را به ریال و با عددی صحیح بنویسید: دست‌کم ${num(min)} ریال (${num(min / 10)} تومان) `
    + `و حداکثر ${num(max)} ریال.`,
  noLetters: "متن باید دست‌کم یک حرف یا رقم داشته باشد؛ فقط نشانه‌هایی مانند «...» یا «؟!» پذیرفته نیست.",
  summary: "پیش از فرستادن، موارد زیر را اصلاح کنید؛ هنوز چیزی فرستاده نشده است.",
};

const BLANKS = new Set([" ", "\t", "\n", "\r"]);

/** Characters other than spaces and line breaks, as the API counts them (FreeText). */
export function visibleLength(text) {
  let n = 0;
  for (const ch of String(text ?? "")) if (!BLANKS.has(ch)) n += 1;
  return n;
}

/** Digits of an identifier as typed: Persian or Arabic digits read as digits; spaces, dashes and ZWNJ dropped. */
function cleaned(value) {
  return latin(value).replace(/[\s\-\u200c]/g, "");
}

/** A free text: null when fine, else the Persian message. */
export function textProblem(value, { min = 1, max = Infinity, required = true } = {}) {
  const text = String(value ?? "");
  if (!text.trim()) return required ? TEXT.required : null;
  if (visibleLength(text) < min) return TEXT.tooShort(min);
  if (text.length > max) return TEXT.tooLong(max);
  if (!hasLetterOrDigit(text)) return TEXT.noLetters;
  return null;
}

/** A letter or a digit of any script (common/validation.py has_letter_or_digit): «؟؟؟!!!» says nothing. */
export function hasLetterOrDigit(text) {
  return /[\p{L}\p{N}]/u.test(String(text ?? ""));
}

/** "+98 912 123 4567", "۰۹۱۲۱۲۳۴۵۶۷", "9121234567" → "09121234567"; null when it is not an Iranian mobile. */
export function normaliseMobile(value) {
  let digits = cleaned(value);
  for (const prefix of ["+98", "0098", "98"]) {
    if (digits.startsWith(prefix) && digits.length === prefix.length + 10) {
      digits = `0${digits.slice(prefix.length)}`;
      break;
    }
  }
  if (/^9\d{9}$/.test(digits)) digits = `0${digits}`;
  return /^09\d{9}$/.test(digits) ? digits : null;
}

export function mobileProblem(value, { required = false } = {}) {
  if (!cleaned(value)) return required ? TEXT.required : null;
  return normaliseMobile(value) ? null : TEXT.mobile;
}

/** 10 digits (8 or 9 with their leading zeros dropped), not all the same, with a valid check digit. */
export function normaliseNationalId(value) {
  let digits = cleaned(value);
  if (/^\d{8,9}$/.test(digits)) digits = digits.padStart(10, "0");
  if (!/^\d{10}$/.test(digits) || new Set(digits).size === 1) return null;
  let total = 0;
  for (let i = 0; i < 9; i++) total += Number(digits[i]) * (10 - i);
  total %= 11;
  const check = Number(digits[9]);
  return (total < 2 ? check === total : check === 11 - total) ? digits : null;
}

export function nationalIdProblem(value, { required = false } = {}) {
  if (!cleaned(value)) return required ? TEXT.required : null;
  return normaliseNationalId(value) ? null : TEXT.nationalId;
}

const COMPANY_WEIGHTS = [29, 27, 23, 19, 17, 29, 27, 23, 19, 17];

/** A legal person's national ID: 11 digits, the last a check digit (services/payments/donation_schemas.py). */
export function isValidCompanyId(value) {
  const digits = cleaned(value);
  if (!/^\d{11}$/.test(digits) || digits.slice(0, 10) === "0000000000") return false;
  const shift = Number(digits[9]) + 2;
  let rest = 0;
  for (let i = 0; i < 10; i++) rest += (Number(digits[i]) + shift) * COMPANY_WEIGHTS[i];
  rest %= 11;
  return (rest === 10 ? 0 : rest) === Number(digits[10]);
}

export function companyIdProblem(value, { required = false } = {}) {
  if (!cleaned(value)) return required ? TEXT.required : null;
  return isValidCompanyId(value) ? null : TEXT.companyId;
}

/** An amount of rials as typed (any digits, group separators allowed): the number, or null. */
export function rialsOf(value) {
  const text = latin(value).replace(/[\s,٬،]/g, "");
  return /^\d+$/.test(text) ? Number(text) : null;
}

// services/payments/donation_schemas.py MIN_DONATION_RIALS, MAX_DONATION_RIALS
export const MIN_DONATION_RIALS = 10_000;
export const MAX_DONATION_RIALS = 1_000_000_000_000;

export function amountProblem(value, { min = MIN_DONATION_RIALS, max = MAX_DONATION_RIALS, required = true } = {}) {
  if (!latin(value).trim()) return required ? TEXT.required : null;
  const rials = rialsOf(value);
  return rials !== null && rials >= min && rials <= max ? null : TEXT.amount(min, max);
}

/**
 * An anonymous report's secret as typed or read out (services/complaints/domain.py normalise_secret): groups
 * with dashes or spaces, lower case, Persian digits; 0, 1 and 8 (not in its alphabet) read as O, I and B.
 */
export function normaliseSecret(value) {
  return latin(value).toUpperCase().replace(/[018]/g, (d) => ({ 0: "O", 1: "I", 8: "B" })[d]).replace(/[^A-Z2-7]/g, "");
}

/** A secret in groups of four, to read out or copy: HKDCTG6VJE2UBM5E → HKDC-TG6V-JE2U-BM5E. */
export function secretGroups(value) {
  return normaliseSecret(value).replace(/(.{4})(?=.)/g, "$1-");
}

// services/notifications/otp.py: PER_MOBILE codes in RATE_WINDOW, each good for CODE_LIFETIME. A request over the
// limit is accepted by the API (its answer must not tell whether a national ID is paid) and no SMS goes.
export const ONE_TIME_CODE = { perMobile: 3, windowSeconds: 600, lifetimeSeconds: 120, resendSeconds: 60 };

/**
 * Seconds until another code may be asked for (0: now), from when this page asked before (ms since the epoch):
 * a minute after the last one (the SMS may be on its way), and, once PER_MOBILE were asked in the window, until
 * the oldest of them leaves it, as the server counts.
 */
export function codeRequestWait(askedAt, now = Date.now()) {
  const { perMobile, windowSeconds, resendSeconds } = ONE_TIME_CODE;
  const recent = askedAt.filter((at) => now - at < windowSeconds * 1000).sort((a, b) => a - b);
  if (!recent.length) return 0;
  let until = recent[recent.length - 1] + resendSeconds * 1000;
  if (recent.length >= perMobile) until = Math.max(until, recent[recent.length - perMobile] + windowSeconds * 1000);
  return Math.max(0, Math.ceil((until - now) / 1000));
}

/**
 * The problems found, as the API would name them ([{field, message}], null messages dropped), as an
 * ApiError for ui.js showProblem — or null when there is none (the request may go).
 */
export function localProblem(problems) {
  const errors = problems.filter((p) => p && p.message);
  if (!errors.length) return null;
  return new ApiError(400, { code: "checked_before_sending", message: TEXT.summary, errors });
}
