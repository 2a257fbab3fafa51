// The participation portal (SPEC P5, P6): choose a province and a purpose, pay at the bank's payment
// gateway (in a window of its own), come back to the receipt.
import { ApiError, get, newKey, request } from "../api.js";
import { digitsOnly, fa, latin, num, rialsAndToman } from "../fa.js";
import { receiptCard } from "../receipt.js";
import { $, announce, busy, clear, clearErrors, field, h, markCurrentNav, message, problemBox, select, showProblem } from "../ui.js";

const PENDING = "behzisti.donation";
const PRESETS_TOMAN = [100_000, 500_000, 1_000_000, 5_000_000];
let purposes = null;
let key = { value: newKey(), body: null };
let gatewayWindow = null;

function purposeChoices(province) {
  const campaigns = purposes.campaigns.filter((c) => !c.province || c.province === province);
  const choice = (value, label, extra = null) => h("label", { class: "choice" },
    h("input", { type: "radio", name: "purpose", value, required: true }), h("span", {}, label, extra));
  return h("fieldset", { class: "group", id: "purpose-group" },
    h("legend", {}, "هدف کمک (الزامی)"),
    campaigns.length ? [h("p", { class: "hint" }, "پویش‌های این استان و سراسری:"), h("div", { class: "choices" },
      campaigns.map((c) => choice(`campaign:${c.code}`, c.title_fa, c.goal_rials
        ? h("span", { class: "hint" }, ` — ${num(Math.round(c.raised_rials / 10))} از ${num(Math.round(c.goal_rials / 10))} تومان`) : null)))] : null,
    h("p", { class: "hint" }, "یا یکی از ردیف‌های حمایتی:"),
    h("div", { class: "choices" }, purposes.lines.map((l) => choice(`line:${l.code}`, l.title_fa))));
}

function form() {
  const provinces = Object.entries(purposes.provinces).map(([value, label]) => ({ value, label }))
    .sort((a, b) => a.label.localeCompare(b.label, "fa"));
  const province = select(provinces, { empty: "— استان را انتخاب کنید —", required: true });
  const amount = h("input", { type: "text", inputmode: "numeric", autocomplete: "off", class: "ltr", dir: "ltr", required: true });
  const amountText = h("span", { class: "hint", id: "amount-words" });
  const purposeSlot = h("div", {}, h("p", { class: "hint" }, "نخست استان را انتخاب کنید تا هدف‌ها نمایش داده شود."));
  const company = h("div", { id: "company-fields", hidden: true },
    field({ label: "نام شرکت (الزامی)", name: "company_name", control: h("input", { type: "text", autocomplete: "organization" }) }),
    field({ label: "شناسهٔ ملی شرکت (الزامی)", name: "company_national_id", hint: "۱۱ رقم",
      control: h("input", { type: "text", inputmode: "numeric", class: "ltr", dir: "ltr", maxlength: "14" }) }));
  const person = h("div", { id: "person-fields" },
    field({ label: "نام (اختیاری)", name: "donor_name", hint: "اشخاص در فهرست‌های عمومی هرگز با نام منتشر نمی‌شوند.",
      control: h("input", { type: "text", autocomplete: "name" }) }));
  const submit = h("button", { type: "submit" }, "پرداخت از درگاه بانکی");
  const node = h("form", { class: "card", id: "donation", novalidate: true, "aria-labelledby": "donation-title" },
    h("h2", { id: "donation-title" }, "فرم کمک"),
    field({ label: "استان (الزامی)", name: "province", control: province }),
    purposeSlot,
    h("div", { class: "field" },
      h("label", { for: "f-amount" }, "مبلغ به ریال (الزامی)"),
      h("span", { class: "hint", id: "amount-hint" }, "هر تومان ۱۰ ریال است. یکی از مبلغ‌های آماده را بزنید یا مبلغ را بنویسید."),
      h("div", { class: "actions", role: "group", "aria-label": "مبلغ‌های آماده" }, PRESETS_TOMAN.map((toman) =>
        h("button", { type: "button", class: "secondary small", "data-rials": String(toman * 10) }, `${num(toman)} تومان`))),
      amount, amountText),
    h("fieldset", { class: "group" }, h("legend", {}, "کمک‌کننده"),
      h("div", { class: "choices" },
        h("label", { class: "choice" }, h("input", { type: "radio", name: "donor_kind", value: "person", checked: true }), "شخص"),
        h("label", { class: "choice" }, h("input", { type: "radio", name: "donor_kind", value: "company" }),
          "شرکت (از محل مسئولیت اجتماعی)"))),
    person, company,
    field({ label: "شمارهٔ همراه برای پیامک رسید (اختیاری)", name: "mobile",
      control: h("input", { type: "tel", inputmode: "tel", autocomplete: "tel", class: "ltr", dir: "ltr" }) }),
    h("p", { class: "hint" }, "با زدن دکمه، درگاه پرداخت بانک در پنجرهٔ تازه باز می‌شود؛ پس از پرداخت، رسید همین‌جا نمایش داده می‌شود."),
    h("div", { class: "actions" }, submit));
  amount.id = "f-amount";
  amount.name = "amount_rials";
  amount.setAttribute("aria-describedby", "amount-hint amount-words");
  const words = () => {
    const value = Number(digitsOnly(amount.value));
    amountText.textContent = value ? `= ${rialsAndToman(value)}` : "";
  };
  amount.addEventListener("input", words);
  node.addEventListener("click", (event) => {
    const preset = event.target.closest("[data-rials]");
    if (!preset) return;
    amount.value = preset.dataset.rials;
    words();
    amount.focus();
  });
  province.addEventListener("change", () => {
    clear(purposeSlot, province.value ? purposeChoices(province.value) : h("p", { class: "hint" }, "نخست استان را انتخاب کنید."));
  });
  node.addEventListener("change", (event) => {
    if (event.target.name !== "donor_kind") return;
    const isCompany = event.target.value === "company";
    company.hidden = !isCompany;
    person.hidden = isCompany;
  });
  node.addEventListener("submit", (event) => { event.preventDefault(); start(node, submit); });
  return node;
}

function bodyOf(node) {
  const data = new FormData(node);
  const [kind, code] = String(data.get("purpose") || ":").split(":");
  const body = { province: data.get("province") || undefined, donor_kind: data.get("donor_kind"),
    amount_rials: Number(digitsOnly(data.get("amount_rials"))) || undefined };
  if (kind) body.purpose = { kind, code };
  const mobile = latin(data.get("mobile") || "").replace(/[\s-]/g, "");
  if (mobile) body.mobile = mobile;
  if (body.donor_kind === "company") {
    const name = String(data.get("company_name") || "").trim();
    if (name) body.donor_name = name;
    const id = digitsOnly(data.get("company_national_id"));
    if (id) body.company_national_id = id;
  } else {
    const name = String(data.get("donor_name") || "").trim();
    if (name) body.donor_name = name;
  }
  return body;
}

async function start(node, submit) {
  clearErrors(node);
  const body = bodyOf(node);
  const missing = [];
  if (!body.province) missing.push({ field: "province", message: "استان را انتخاب کنید." });
  if (!body.purpose) missing.push({ field: "purpose", message: "هدف کمک را انتخاب کنید." });
  if (!body.amount_rials) missing.push({ field: "amount_rials", message: "مبلغ را به ریال بنویسید." });
  if (missing.length) {
    showProblem(node, new ApiError(400, { message: "چند مورد کامل نیست.", errors: missing }));
    return;
  }
  const serial = JSON.stringify(body);
  if (key.body !== serial) key = { value: newKey(), body: serial };
  // the gateway's window is opened now, while the click counts as the donor's: a window opened after an
  // answer from the server would be blocked
  gatewayWindow = window.open("", "behzisti-ipg");
  await busy(submit, async () => {
    let started;
    try {
      started = await request("/donations", { method: "POST", json: body, headers: { "Idempotency-Key": key.value } });
    } catch (error) {
      gatewayWindow?.close();
      showProblem(node, error, { fieldMap: { "purpose.code": "purpose", "purpose.kind": "purpose", purpose: "purpose",
        donor_name: body.donor_kind === "company" ? "company_name" : "donor_name" } });
      return;
    }
    localStorage.setItem(PENDING, JSON.stringify({ id: started.id, redirect: started.redirect_url, at: Date.now() }));
    if (!gatewayWindow) {
      location.assign(started.redirect_url);  // no window: the donor comes back here and sees the receipt
      return;
    }
    gatewayWindow.location.href = started.redirect_url;
    waitFor(started);
  }, "در حال اتصال به درگاه…");
}

function waitFor(started) {
  const content = $("#content");
  const again = h("a", { href: started.redirect_url, target: "behzisti-ipg", class: "button secondary" }, "بازکردن دوبارهٔ درگاه");
  clear(content, h("section", { class: "card", id: "waiting", "aria-labelledby": "waiting-title" },
    h("h2", { id: "waiting-title", tabindex: "-1" }, "پرداخت را در درگاه بانک انجام دهید"),
    h("p", {}, `مبلغ ${rialsAndToman(started.amount_rials)} — شمارهٔ رسید ${fa(started.receipt_number)}`),
    h("p", { role: "status", id: "waiting-status" }, "منتظر پاسخ درگاه…"),
    h("div", { class: "actions" }, again)));
  $("#waiting-title").focus();
  poll(started.id);
}

async function poll(id, tries = 0) {
  let receipt;
  try {
    receipt = await get(`/donations/${id}/receipt`);
  } catch (error) {
    if (tries > 400) { clear($("#content"), problemBox(error, "رسید باز نشد")); return; }
    setTimeout(() => poll(id, tries + 1), 2000);
    return;
  }
  if (receipt.status === "started") {
    if (tries > 400) return;  // ten minutes: the donor can come back with the receipt's address
    setTimeout(() => poll(id, tries + 1), 1500);
    return;
  }
  localStorage.removeItem(PENDING);
  try { gatewayWindow?.close(); } catch { /* closed already */ }
  clear($("#content"), receiptCard(receipt),
    h("p", { class: "no-print" }, h("a", { href: "/web/donate/" }, "کمک دیگر")));
  $("#receipt-title").focus();
  announce(receipt.status === "paid" ? "پرداخت انجام شد؛ رسید نمایش داده شد." : "پرداخت انجام نشد.");
}

async function pendingReceipt() {
  const pending = JSON.parse(localStorage.getItem(PENDING) || "null");
  if (!pending || Date.now() - pending.at > 3600_000) return null;
  try {
    const receipt = await get(`/donations/${pending.id}/receipt`);
    if (receipt.status !== "started") localStorage.removeItem(PENDING);
    return { pending, receipt };
  } catch {
    return null;
  }
}

markCurrentNav();
(async () => {
  const content = $("#content");
  const earlier = await pendingReceipt();
  if (earlier && earlier.receipt.status !== "started") {  // back from the gateway in this window
    clear(content, receiptCard(earlier.receipt), h("p", { class: "no-print" }, h("a", { href: "/web/donate/" }, "کمک دیگر")));
    $("#receipt-title").focus();
    return;
  }
  try {
    purposes = await get("/donations/purposes");
  } catch (error) {
    clear(content, problemBox(error, "درگاه کمک در دسترس نیست"));
    return;
  }
  clear(content,
    earlier ? message("info", "پرداخت قبلی شما کامل نشده است",
      h("p", {}, `شمارهٔ رسید ${fa(earlier.receipt.receipt_number)}: `,
        h("a", { href: earlier.pending.redirect }, "ادامهٔ پرداخت در درگاه"), " یا کمک تازه‌ای ثبت کنید.")) : null,
    form());
})();
