// A beneficiary sees every payment made to them since 1391 (SPEC T1): national ID, a one-time code by SMS to
// the mobile on record, then their own payments. The session token stays in this page's memory only.
import { ApiError, request } from "../api.js";
import { ONE_TIME_CODE, codeRequestWait, nationalIdProblem, normaliseNationalId } from "../checks.js";
import { clock, digitsOnly, fa, jalaliMonth, num, rials } from "../format.js";
import { T, latinId, shafafProblem } from "../shafaf.js";
import { $, announce, busy, clear, clearErrors, field, fieldError, h, markCurrentNav, message, scroller, showProblem } from "../ui.js";

let token = null;
let nationalId = null;
let payments = [];
// when this page asked a code for nationalId (ms), and until when the gateway said to wait (a 429): a request
// the server would drop (three a mobile in ten minutes) is not sent, and the page does not say "sent". Kept
// for this tab (sessionStorage: gone with the tab), so that a reload does not forget them, under a short hash
// of the national ID so the ID is not written out plainly; it is no secret (all 10-digit IDs can be tried),
// and only times are stored under it.
let asked = [];
let blockedUntil = 0;
let ticker = null;
const KEPT = "behzisti.codes";

function keyOf(value) {  // FNV-1a: enough to tell the IDs asked in one tab apart
  let hash = 0x811c9dc5;
  for (const c of value) hash = Math.imul(hash ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return hash.toString(36);
}

function recall(value) {
  try {
    const kept = JSON.parse(sessionStorage.getItem(KEPT) || "{}")[keyOf(value)] || {};
    return { asked: Array.isArray(kept.asked) ? kept.asked.filter(Number.isFinite) : [],
      blockedUntil: Number.isFinite(kept.blockedUntil) ? kept.blockedUntil : 0 };
  } catch { return { asked: [], blockedUntil: 0 }; }
}

function keep() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(KEPT) || "{}");
    kept[keyOf(nationalId)] = { asked: asked.filter((at) => Date.now() - at < ONE_TIME_CODE.windowSeconds * 1000), blockedUntil };
    sessionStorage.setItem(KEPT, JSON.stringify(kept));
  } catch { /* storage refused (private mode): the page still counts while it is open */ }
}

function waitSeconds() {
  return Math.max(codeRequestWait(asked), Math.ceil((blockedUntil - Date.now()) / 1000), 0);
}

/** Ask for a code (or say why not yet): true when the API took the request, false when it is not the time.
 * The gateway counts the requests of a national ID from every tab and device (three in ten minutes, as the
 * server sends codes): its 429 is "not yet", with the seconds to wait, like the tab's own count. */
async function askCode(form, value) {
  if (value !== nationalId) ({ asked, blockedUntil } = recall(value));
  nationalId = value;
  if (waitSeconds() > 0) return false;
  try {
    await request(`${T}/me/code`, { method: "POST", json: { national_id: value } });
    asked.push(Date.now());
    return true;
  } catch (error) {
    if (!(error instanceof ApiError && error.rateLimited)) throw error;
    blockedUntil = Date.now() + (error.waitSeconds || 60) * 1000;
    return false;
  } finally {
    keep();
  }
}

function idForm() {
  const input = h("input", { type: "text", inputmode: "numeric", autocomplete: "off", class: "ltr", dir: "ltr",
    maxlength: "12", required: true });
  const submit = h("button", { type: "submit" }, "دریافت کد یک‌بارمصرف");
  const form = h("form", { class: "card", id: "me-id", novalidate: true, "aria-labelledby": "me-id-title" },
    h("h2", { id: "me-id-title" }, "۱. کد ملی"),
    field({ label: "کد ملی (الزامی)", name: "national_id", control: input, hint: "۱۰ رقم روی کارت ملی." }),
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const wrong = nationalIdProblem(input.value, { required: true });  // checked here: no code request is spent
    if (wrong) {
      fieldError(form, input, wrong);
      input.focus();
      return;
    }
    const value = normaliseNationalId(input.value);
    await busy(submit, async () => {
      try {
        showCodeStep(await askCode(form, value) ? "sent" : "waiting");
      } catch (error) {
        if (error instanceof ApiError && error.routeMissing) clear($("#content"), shafafProblem(error));
        else showProblem(form, error);
      }
    }, "در حال فرستادن…");
  });
  return form;
}

const SENT = "اگر این کد ملی پرداختی از بهزیستی دارد، کد یک‌بارمصرف به شمارهٔ همراه ثبت‌شده در پرونده پیامک شد.";
const RESENT = "کد تازه‌ای خواسته شد و اگر این کد ملی پرداختی دارد، پیامک می‌شود؛ کد پیشین دیگر کار نمی‌کند.";

/** What the page says of the codes: sent, or why another cannot be asked for yet and for how long. */
function codeNote(state) {
  if (state === "waiting") {
    return message("warn", "کد تازه‌ای فرستاده نشد",
      h("p", {}, `برای هر شمارهٔ همراه در ${fa(ONE_TIME_CODE.windowSeconds / 60)} دقیقه بیش از ${fa(ONE_TIME_CODE.perMobile)} کد `
        + "فرستاده نمی‌شود. اگر کد پیشین را دارید وارد کنید؛ وگرنه پس از پایان شمارش، کد تازه بخواهید."));
  }
  return state === "resent" ? message("ok", "کد تازه خواسته شد", h("p", {}, RESENT)) : message("info", null, h("p", {}, SENT));
}

function resendLine(resend, status) {
  const tick = () => {
    if (!resend.isConnected) { clearInterval(ticker); return; }
    const wait = waitSeconds();
    const full = asked.filter((at) => Date.now() - at < ONE_TIME_CODE.windowSeconds * 1000).length >= ONE_TIME_CODE.perMobile;
    // aria-disabled, not disabled: the button keeps the focus of the person who just pressed it
    if (wait > 0) resend.setAttribute("aria-disabled", "true");
    else resend.removeAttribute("aria-disabled");
    status.dataset.seconds = String(wait);
    status.textContent = wait > 0
      ? `${full ? `سقف ${fa(ONE_TIME_CODE.perMobile)} کد در ${fa(ONE_TIME_CODE.windowSeconds / 60)} دقیقه پر شده است؛ ` : ""}`
        + `کد تازه را ${clock(wait)} دیگر می‌توانید بخواهید.`
      : "پیامک نرسید؟ اکنون می‌توانید کد تازه بخواهید.";
  };
  clearInterval(ticker);
  tick();
  ticker = setInterval(tick, 1000);
}

function showCodeStep(state) {
  const input = h("input", { type: "text", inputmode: "numeric", autocomplete: "one-time-code", class: "ltr code-input",
    dir: "ltr", maxlength: "8", required: true });
  const submit = h("button", { type: "submit" }, "دیدن پرداخت‌ها");
  const resend = h("button", { type: "button", class: "secondary", id: "resend-code" }, "فرستادن دوبارهٔ کد");
  const status = h("p", { id: "resend-status", class: "countdown-line" });
  const note = h("div", { id: "code-note" }, codeNote(state));
  const form = h("form", { class: "card", id: "me-code", novalidate: true, "aria-labelledby": "me-code-title" },
    h("h2", { id: "me-code-title", tabindex: "-1" }, "۲. کد پیامک‌شده"),
    note,
    field({ label: "کد یک‌بارمصرف (الزامی)", name: "code", control: input,
      hint: `۶ رقم؛ تا ${fa(ONE_TIME_CODE.lifetimeSeconds / 60)} دقیقه معتبر است.` }),
    h("div", { class: "actions" }, submit,
      h("button", { type: "button", class: "secondary", onclick: () => start() }, "کد ملی دیگر")),
    h("div", { class: "actions" }, resend), status);
  resend.addEventListener("click", () => resend.getAttribute("aria-disabled") !== "true" && busy(resend, async () => {
    clearErrors(form);
    try {
      const sent = await askCode(form, nationalId);
      clear(note, codeNote(sent ? "resent" : "waiting"));
      announce(sent ? RESENT : "کد تازه‌ای فرستاده نشد.");
    } catch (error) {
      clear(note);
      showProblem(form, error);
    } finally {
      setTimeout(() => resendLine(resend, status), 0);  // after busy() gives the button back
    }
  }, "در حال فرستادن…"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const code = digitsOnly(input.value);
    if (code.length !== 6) {
      fieldError(form, input, "کد ۶ رقم است.");
      input.focus();
      return;
    }
    await busy(submit, async () => {
      try {
        const session = await request(`${T}/me/session`, { method: "POST", json: { national_id: nationalId, code } });
        token = session.token;
        payments = [];
        await showPayments();
      } catch (error) {
        showProblem(form, error);
      }
    }, "در حال بررسی…");
  });
  clear($("#content"), form);
  resendLine(resend, status);
  $("#me-code-title").focus();
}

async function loadMore(next) {
  const path = next ? (next.startsWith("/") ? next : `${T}/me/payments?after=${encodeURIComponent(next)}&limit=50`)
    : `${T}/me/payments?limit=50`;
  const page = await request(path, { bearer: token });
  payments.push(...page.items);
  return page.next;
}

async function showPayments(next = null) {
  const content = $("#content");
  let following;
  try {
    following = await loadMore(next);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      token = null;
      clear(content, message("warn", "نشست شما پایان یافت", h("p", {}, "برای امنیت، نشست کوتاه است؛ دوباره وارد شوید.")), idForm());
      return;
    }
    clear(content, shafafProblem(error, "پرداخت‌ها باز نشد"));
    return;
  }
  const total = payments.filter((p) => p.status === "paid").reduce((sum, p) => sum + Number(p.amount_rials || 0), 0);
  const more = following ? h("button", { type: "button", class: "secondary" }, "پرداخت‌های قدیمی‌تر") : null;
  more?.addEventListener("click", () => busy(more, () => showPayments(following)));
  const logout = h("button", { type: "button", class: "secondary" }, "خروج");
  logout.addEventListener("click", () => { token = null; payments = []; start(); announce("خارج شدید."); });
  clear(content, h("section", { class: "card", "aria-labelledby": "payments-title" },
    h("h2", { id: "payments-title", tabindex: "-1" }, "پرداخت‌های شما"),
    payments.length ? [
      h("p", {}, `${fa(payments.length)} پرداخت${following ? " (تازه‌ترین‌ها)" : ""}؛ جمع پرداخت‌شده: `, h("strong", {}, rials(total))),
      scroller(h("table", { class: "responsive-table", id: "payments" },
        h("caption", { class: "visually-hidden" }, "پرداخت‌ها، تازه‌ترین در بالا"),
        h("thead", {}, h("tr", {}, ["تاریخ", "بابت", "ماه", "مبلغ", "حساب", "وضعیت"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, payments.map((p) => h("tr", {},
          h("td", { "data-label": "تاریخ" }, p.paid_on_fa || fa(p.paid_on)),
          h("td", { "data-label": "بابت" }, p.budget_line_fa || p.budget_line),
          h("td", { "data-label": "ماه" }, p.month ? jalaliMonth(p.month) : "—"),
          h("td", { "data-label": "مبلغ", class: "num" }, num(p.amount_rials), " ریال"),
          h("td", { "data-label": "حساب" }, p.account_masked ? latinId(p.account_masked) : "—"),
          h("td", { "data-label": "وضعیت" }, p.status_fa || p.status))))))]
      : h("p", { id: "no-payments" }, "پرداختی برای شما ثبت نشده است."),
    h("div", { class: "actions" }, more, logout)));
  $("#payments-title").focus();
}

function start() {
  token = null;
  clear($("#content"), idForm());
}

markCurrentNav();
start();
