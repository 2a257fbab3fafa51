// The one formatting module of the pages: Persian digits in Persian text, money, Jalali dates (Tehran time,
// the browser's own Intl persian calendar: no library), durations, and the Persian names of the codes the
// API sends (names-fa.js). Every page formats through here; the API keeps ISO dates and codes.
import { NAMES } from "./names-fa.js";

const PERSIAN = "۰۱۲۳۴۵۶۷۸۹";
const ARABIC = "٠١٢٣٤٥٦٧٨٩";

/** Latin digits in any value → Persian digits (for text people read). */
export function fa(value) {
  if (value === null || value === undefined) return "";
  return String(value).replace(/[0-9]/g, (d) => PERSIAN[d]);
}

const PERSIAN_LETTERS = /[\u0600-\u06FF\uFB50-\uFDFF\uFE70-\uFEFF]/;

/** Does the text hold Persian (Arabic-script) letters? An internal English id («emergency_123») does not. */
export function isPersianText(value) {
  return PERSIAN_LETTERS.test(String(value ?? ""));
}

/**
 * Text from the API as people read it: Persian text gets Persian digits; an internal id written in Latin
 * letters (`emergency_123`, `C1398-00001`, `monthly:1405-08`) keeps its Latin digits, as it is copied and
 * searched. (Numbers alone go through num() or fa().)
 */
export function faText(value) {
  if (value === null || value === undefined || value === "") return "—";
  const text = String(value);
  return isPersianText(text) || !/[A-Za-z]/.test(text) ? fa(text) : text;
}

/** A string to show left to right (an internal id, an address in Latin letters)? */
export function isLatinId(value) {
  const text = String(value ?? "");
  return /[A-Za-z]/.test(text) && !isPersianText(text);
}

/** Persian or Arabic digits → Latin (for what is sent to the API); trims spaces. */
export function latin(value) {
  return String(value ?? "")
    .replace(/[۰-۹]/g, (d) => String(PERSIAN.indexOf(d)))
    .replace(/[٠-٩]/g, (d) => String(ARABIC.indexOf(d)))
    .trim();
}

/** Only the digits of what was typed (Persian, Arabic or Latin), e.g. a tracking code with dashes. */
export function digitsOnly(value) {
  return latin(value).replace(/[^0-9]/g, "");
}

const GROUPS = new Intl.NumberFormat("fa-IR", { useGrouping: true, maximumFractionDigits: 0 });

/** 7500000 → «۷٬۵۰۰٬۰۰۰» */
export function num(n) {
  if (n === null || n === undefined || n === "") return "—";
  const value = typeof n === "bigint" ? n : Number(n);
  return GROUPS.format(value);
}

/** An amount in rials as people read it: «۷٬۵۰۰٬۰۰۰ ریال». */
export function rials(n) {
  return n === null || n === undefined ? "—" : `${num(n)} ریال`;
}

/** Rials shown as toman too (toman only for display; the API speaks rials). */
export function rialsAndToman(n) {
  if (n === null || n === undefined) return "—";
  return `${num(n)} ریال (${num(Math.floor(Number(n) / 10))} تومان)`;
}

const PERCENT = new Intl.NumberFormat("fa-IR", { style: "percent", maximumFractionDigits: 1 });

/** 0.981 → «۹۸٫۱٪» */
export function percent(rate) {
  if (rate === null || rate === undefined) return "—";
  return PERCENT.format(Number(rate));
}

const JALALI = new Intl.DateTimeFormat("fa-IR-u-ca-persian-nu-arabext", {
  timeZone: "Asia/Tehran", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  hour12: false,
});
const JALALI_DAY = new Intl.DateTimeFormat("fa-IR-u-ca-persian-nu-arabext", {
  timeZone: "Asia/Tehran", year: "numeric", month: "2-digit", day: "2-digit",
});
const JALALI_PARTS = new Intl.DateTimeFormat("en-US-u-ca-persian-nu-latn", {
  timeZone: "Asia/Tehran", year: "numeric", month: "numeric", day: "numeric",
});

function persianDigitsOnly(text) {
  // Intl may use Arabic-Indic (٠-٩) for fa with nu-arabext: arabext is the Persian set, kept as is
  return text.replace(/[٠-٩]/g, (d) => PERSIAN[ARABIC.indexOf(d)]);
}

/** ISO 8601 → «۱۴۰۵/۰۹/۰۵ ۱۲:۳۰» (Tehran). A stamp {iso, jalali} from the API is shown as it says. */
export function jalali(value, { time = true } = {}) {
  if (!value) return "—";
  if (typeof value === "object" && value.jalali) return value.jalali;
  const date = new Date(typeof value === "object" ? value.iso : value);
  if (Number.isNaN(date.getTime())) return fa(value);
  const parts = (time ? JALALI : JALALI_DAY).formatToParts(date);
  const get = (type) => parts.find((p) => p.type === type)?.value ?? "";
  const day = `${get("year")}/${get("month")}/${get("day")}`;
  return persianDigitsOnly(time ? `${day} ${get("hour")}:${get("minute")}` : day);
}

const JALALI_DATE_UTC = new Intl.DateTimeFormat("fa-IR-u-ca-persian-nu-arabext", {
  timeZone: "UTC", year: "numeric", month: "2-digit", day: "2-digit",
});

/** A calendar day, ISO "2019-10-16" (as Shafaf's date columns hold it) → «۱۳۹۸/۰۷/۲۴». */
export function jalaliDate(isoDay) {
  if (!isoDay) return "—";
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(isoDay));
  if (!match) return jalali(isoDay, { time: false });
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]), 12));
  const parts = JALALI_DATE_UTC.formatToParts(date);
  const get = (type) => parts.find((p) => p.type === type)?.value ?? "";
  return persianDigitsOnly(`${get("year")}/${get("month")}/${get("day")}`);
}

/** The ISO string of a stamp or a string. */
export function isoOf(value) {
  return value && typeof value === "object" ? value.iso : value;
}

/** Today's Jalali year and month in Tehran: {year: 1405, month: 9}. */
export function jalaliToday(date = new Date()) {
  const parts = JALALI_PARTS.formatToParts(date);
  const get = (type) => Number(parts.find((p) => p.type === type)?.value);
  return { year: get("year"), month: get("month"), day: get("day") };
}

export const JALALI_MONTHS = ["فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور", "مهر", "آبان", "آذر", "دی",
  "بهمن", "اسفند"];

/** "1405-09" → «آذر ۱۴۰۵» */
export function jalaliMonth(yyyymm) {
  const [year, month] = String(yyyymm).split("-").map(Number);
  if (!year || !month) return fa(yyyymm);
  return `${JALALI_MONTHS[month - 1]} ${fa(year)}`;
}

/** Seconds → «۲ ساعت و ۵ دقیقه» / «۴۵ ثانیه»; negative: how long ago. */
export function duration(seconds) {
  let s = Math.abs(Math.trunc(seconds));
  const days = Math.floor(s / 86400); s -= days * 86400;
  const hours = Math.floor(s / 3600); s -= hours * 3600;
  const minutes = Math.floor(s / 60); s -= minutes * 60;
  const parts = [];
  if (days) parts.push(`${fa(days)} روز`);
  if (hours) parts.push(`${fa(hours)} ساعت`);
  if (minutes && !days) parts.push(`${fa(minutes)} دقیقه`);
  if (!days && !hours) parts.push(`${fa(s)} ثانیه`);
  return parts.join(" و ");
}

/** A number of seconds to wait, for a Persian sentence: «۴۵ ثانیه» (at least one). */
export function seconds(n) {
  return `${fa(Math.max(1, Math.ceil(Number(n) || 0)))} ثانیه`;
}

/** A clock for a countdown: «۰۲:۰۵:۰۹» (hours may exceed 24). */
export function clock(seconds) {
  const s = Math.abs(Math.trunc(seconds));
  const pad = (n) => String(n).padStart(2, "0");
  return fa(`${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`);
}

/** A tracking code for reading: 4203917755102846 → «۴۲۰۳-۹۱۷۷-۵۵۱۰-۲۸۴۶». */
export function trackingCode(code) {
  const digits = digitsOnly(code);
  return fa(digits.replace(/(\d{4})(?=\d)/g, "$1-"));
}

/** A secret spelled for reading out, group by group: "HKDC-TG6V" → «اِچ، کِی، دی، سی — تی، جی، ۶، وی». */
export function spelled(secret) {
  return String(secret ?? "").split("-").filter(Boolean)
    .map((group) => [...group].map((ch) => (/[0-9]/.test(ch) ? fa(ch) : nameOf("latin_letter", ch))).join("، "))
    .join(" — ");
}

/** The Persian name of a code (names-fa.js): nameOf("urgency", "urgent") → «فوری»; unknown codes as sent. */
export function nameOf(group, code) {
  if (code === null || code === undefined || code === "") return "—";
  return NAMES[group]?.[String(code)] ?? String(code);
}

/** A group's codes and names in their order: [{value, label}], for pickers. */
export function choicesOf(group) {
  return Object.entries(NAMES[group] || {}).map(([value, label]) => ({ value, label }));
}

const COLLATOR = new Intl.Collator("fa");

/** Sort by Persian name (البرز, اردبیل, اصفهان …), not by the English code. */
export function byPersianName(items, label = (item) => item.label) {
  return [...items].sort((a, b) => COLLATOR.compare(label(a), label(b)));
}
