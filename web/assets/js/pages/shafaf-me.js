// A beneficiary sees every payment made to them since 1391 (SPEC T1): national ID, a one-time code by SMS to
// the mobile on record, then their own payments. The session token stays in this page's memory only.
import { ApiError, request } from "../api.js";
import { digitsOnly, fa, jalaliMonth, num, rials } from "../fa.js";
import { T, shafafProblem } from "../shafaf.js";
import { $, announce, busy, clear, clearErrors, field, fieldError, h, markCurrentNav, message, scroller, showProblem } from "../ui.js";

let token = null;
let nationalId = null;
let payments = [];

function idForm() {
  const input = h("input", { type: "text", inputmode: "numeric", autocomplete: "off", class: "ltr", dir: "ltr",
    maxlength: "12", required: true });
  const submit = h("button", { type: "submit" }, "دریافت کد یک‌بارمصرف");
  const form = h("form", { class: "card", id: "me-id", novalidate: true, "aria-labelledby": "me-id-title" },
    h("h2", { id: "me-id-title" }, "۱. کد ملی"),
    field({ label: "کد ملی (الزامی)", name: "national_id", control: input, hint: "۱۰ رقم، بدون خط تیره." }),
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const value = digitsOnly(input.value);
    if (value.length !== 10) {
      fieldError(form, input, "کد ملی ۱۰ رقم است.");
      input.focus();
      return;
    }
    await busy(submit, async () => {
      try {
        const sent = await request(`${T}/me/code`, { method: "POST", json: { national_id: value } });
        nationalId = value;
        showCodeStep(sent?.message_fa);
      } catch (error) {
        if (error instanceof ApiError && error.routeMissing) clear($("#content"), shafafProblem(error));
        else showProblem(form, error);
      }
    }, "در حال فرستادن…");
  });
  return form;
}

function showCodeStep(note) {
  const input = h("input", { type: "text", inputmode: "numeric", autocomplete: "one-time-code", class: "ltr code-input",
    dir: "ltr", maxlength: "8", required: true });
  const submit = h("button", { type: "submit" }, "دیدن پرداخت‌ها");
  const form = h("form", { class: "card", id: "me-code", novalidate: true, "aria-labelledby": "me-code-title" },
    h("h2", { id: "me-code-title", tabindex: "-1" }, "۲. کد پیامک‌شده"),
    message("info", null, h("p", {}, note || "اگر این کد ملی پرداختی از بهزیستی دارد، کد یک‌بارمصرف به شمارهٔ همراه ثبت‌شده در پرونده پیامک شد.")),
    field({ label: "کد یک‌بارمصرف (الزامی)", name: "code", control: input, hint: "۶ رقم؛ تا ۲ دقیقه معتبر است." }),
    h("div", { class: "actions" }, submit,
      h("button", { type: "button", class: "secondary", onclick: () => start() }, "کد ملی دیگر")));
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
          h("td", { "data-label": "حساب", class: "ltr" }, fa(p.account_masked || "")),
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
