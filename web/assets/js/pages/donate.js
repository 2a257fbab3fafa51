// The participation portal (SPEC P5, P6): choose a province and a purpose, pay at the bank's payment
// gateway (in a window of its own), come back to the receipt.
import { actionKey, get, request } from "../api.js";
import { amountProblem, companyIdProblem, localProblem, mobileProblem, rialsOf, textProblem } from "../checks.js";
import { byPersianName, fa, latin, num, rialsAndToman } from "../format.js";
import { receiptCard } from "../receipt.js";
import { $, announce, busy, clear, clearErrors, field, h, markCurrentNav, message, problemBox, retryNotice, select, showProblem } from "../ui.js";

const PENDING = "behzisti.donation";
const PRESETS_TOMAN = [100_000, 500_000, 1_000_000, 5_000_000];
let purposes = null;
const donation = actionKey();  // one key per donation: its retries and a re-press of the unchanged form
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
  const provinces = byPersianName(Object.entries(purposes.provinces).map(([value, label]) => ({ value, label })));
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
    const value = rialsOf(amount.value);
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
    amount_rials: rialsOf(data.get("amount_rials")) || undefined };
  if (kind) body.purpose = { kind, code };
  const mobile = latin(data.get("mobile") || "").replace(/[\s-]/g, "");
  if (mobile) body.mobile = mobile;
  if (body.donor_kind === "company") {
    const name = String(data.get("company_name") || "").trim();
    if (name) body.donor_name = name;
    const id = latin(data.get("company_national_id") || "").replace(/[\s-]/g, "");
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
  const data = new FormData(node);
  const company = body.donor_kind === "company";
  // everything the gateway would refuse, told here first: no request, no payment window, no rate limit spent
  const problem = localProblem([
    { field: "province", message: body.province ? null : "استان را انتخاب کنید." },
    { field: "purpose", message: body.purpose ? null : "هدف کمک را انتخاب کنید." },
    { field: "amount_rials", message: amountProblem(data.get("amount_rials") || "") },
    { field: "mobile", message: mobileProblem(data.get("mobile") || "") },
    company ? { field: "company_name", message: textProblem(data.get("company_name"), { min: 2, max: 100 }) }
      : { field: "donor_name", message: textProblem(data.get("donor_name"), { min: 2, max: 100, required: false }) },
    company ? { field: "company_national_id", message: companyIdProblem(data.get("company_national_id") || "",
      { required: true }) } : null]);
  if (problem) {
    showProblem(node, problem);
    return;
  }
  // the gateway's window is opened now, while the click counts as the donor's: a window opened after an
  // answer from the server would be blocked
  gatewayWindow = window.open("", "behzisti-ipg");
  await busy(submit, async () => {
    let started;
    try {
      started = await request("/donations", { method: "POST", json: body, idempotency: donation,
        onRetry: retryNotice(node) });
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

// An abandoned gateway window (closed, or left open) leaves the donation "started": the page waits at most a minute
// (at once when the window is closed), then the donor chooses: check again, go back to the gateway, or start over.
const WAIT_MS = 60_000;
const POLL_MS = 1500;
let watching = 0;  // the current wait: an earlier one (before "check again" or a reopened window) stops

function watch(started, checked = false) {
  const run = ++watching;
  return poll(started, Date.now(), checked, run);
}

function waitFor(started) {
  const content = $("#content");
  const again = h("a", { href: started.redirect_url, target: "behzisti-ipg", class: "button secondary", id: "reopen-gateway" },
    "بازکردن دوبارهٔ درگاه");
  again.addEventListener("click", (event) => {  // the window is kept, to see when it is closed again
    event.preventDefault();
    gatewayWindow = window.open(started.redirect_url, "behzisti-ipg");
    if (!gatewayWindow) { location.assign(started.redirect_url); return; }
    clear($("#waiting-out"), h("p", { role: "status", id: "waiting-status" }, "منتظر پاسخ درگاه…"));
    watch(started);
  });
  clear(content, h("section", { class: "card", id: "waiting", "aria-labelledby": "waiting-title" },
    h("h2", { id: "waiting-title", tabindex: "-1" }, "پرداخت را در درگاه بانک انجام دهید"),
    h("p", {}, `مبلغ ${rialsAndToman(started.amount_rials)} — شمارهٔ رسید ${fa(started.receipt_number)}`),
    h("div", { id: "waiting-out" }, h("p", { role: "status", id: "waiting-status" }, "منتظر پاسخ درگاه…")),
    h("div", { class: "actions" }, again)));
  $("#waiting-title").focus();
  watch(started);
}

async function poll(started, since, checked, run) {
  let receipt = null;
  try {
    receipt = await get(`/donations/${started.id}/receipt`);
  } catch { /* no answer this time: asked again below, within the minute */ }
  if (run !== watching || !$("#waiting")) return;  // a newer wait, or the donor started over
  if (receipt && receipt.status !== "started") {
    showReceipt(receipt);
    return;
  }
  const closed = Boolean(gatewayWindow?.closed);
  if (closed || Date.now() - since >= WAIT_MS) {
    stalled(started, closed, checked);
    return;
  }
  setTimeout(() => poll(started, since, false, run), POLL_MS);
}

function stalled(started, closed, checked) {
  const check = h("button", { type: "button", id: "check-again" }, "دوباره بررسی کن");
  const restart = h("button", { type: "button", class: "secondary", id: "start-over" }, "شروع دوباره");
  check.addEventListener("click", () => busy(check, async () => {
    clear($("#waiting-out"), h("p", { role: "status", id: "waiting-status" }, "منتظر پاسخ درگاه…"));
    await watch(started, true);
  }, "در حال بررسی…"));
  restart.addEventListener("click", () => {
    localStorage.removeItem(PENDING);
    donation.forget();  // a new donation, with a key of its own
    try { gatewayWindow?.close(); } catch { /* closed already */ }
    clear($("#content"), form());
    $("#donation-title").setAttribute("tabindex", "-1");
    $("#donation-title").focus();
  });
  clear($("#waiting-out"), message("warn", closed ? "پنجرهٔ درگاه بسته شد و پرداختی ثبت نشد" : "پاسخی از درگاه نرسید",
    checked ? h("p", {}, "همین حالا دوباره بررسی شد: درگاه هنوز پرداختی گزارش نکرده است.") : null,
    h("p", {}, closed
      ? "اگر پرداخت را کامل کرده‌اید، «دوباره بررسی کن» را بزنید؛ وگرنه درگاه را دوباره باز کنید یا از نو شروع کنید."
      : `${fa(WAIT_MS / 60_000)} دقیقه گذشت و درگاه هنوز پرداختی گزارش نکرده است. اگر پرداخت را کامل کرده‌اید، «دوباره بررسی کن» را بزنید؛ `
        + "وگرنه درگاه را دوباره باز کنید یا از نو شروع کنید."),
    h("div", { class: "actions" }, check, restart)));
  $("#waiting-out .alert").focus();
}

function showReceipt(receipt) {
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
