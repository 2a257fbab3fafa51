// A citizen follows a case by its tracking code (and an anonymous report's secret): stage, timeline,
// the answer; rates it, reports again, sends more evidence (SPEC C3, C4, C10).
import { ApiError, request } from "../api.js";
import { codeText, timeline } from "../cases.js";
import { digitsOnly, fa, jalali } from "../fa.js";
import { $, announce, busy, clear, clearErrors, field, fieldError, h, markCurrentNav, message, problemBox, showProblem } from "../ui.js";

const OPEN = new Set(["registered", "referred", "returned", "escalated", "reopened", "awaiting_approval"]);
const SCORES = [[5, "کاملاً راضی‌ام"], [4, "راضی‌ام"], [3, "تا اندازه‌ای"], [2, "ناراضی‌ام"], [1, "اصلاً راضی نیستم"]];
let current = { code: null, secret: null };

function keptSecret(code) {
  try { return JSON.parse(sessionStorage.getItem("behzisti.cases") || "{}")[code] || ""; } catch { return ""; }
}

function headersFor() {
  return current.secret ? { "X-Case-Secret": current.secret } : {};
}

function lookupForm() {
  const params = new URLSearchParams(location.search);
  const code = h("input", { type: "text", inputmode: "numeric", autocomplete: "off", class: "ltr code-input",
    dir: "ltr", required: true, value: params.get("code") || "" });
  const secret = h("input", { type: "text", autocomplete: "off", class: "ltr", dir: "ltr",
    value: params.get("code") ? keptSecret(digitsOnly(params.get("code"))) : "" });
  const submit = h("button", { type: "submit" }, "پیگیری");
  const form = h("form", { class: "card no-print", id: "lookup", novalidate: true, role: "search",
    "aria-label": "پیگیری با کد رهگیری" },
    field({ label: "کد رهگیری (الزامی)", name: "tracking_code", control: code,
      hint: "کد ۱۶ رقمی که هنگام ثبت یا با پیامک گرفتید؛ با یا بدون خط تیره." }),
    field({ label: "رمز پیگیری", name: "case_secret", control: secret,
      hint: "فقط برای گزارش تخلف بی‌نام: رمزی که هنگام ثبت نشان داده شد." }),
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const digits = digitsOnly(code.value);
    if (digits.length !== 16) {
      fieldError(form, code, "کد رهگیری ۱۶ رقم است؛ آن را کامل وارد کنید.");
      code.focus();
      return;
    }
    current = { code: digits, secret: secret.value.trim() || null };
    await busy(submit, () => load(form), "در حال جست‌وجو…");
  });
  return form;
}

async function load(form) {
  const result = $("#result");
  try {
    const found = await request(`/cases/${current.code}`, { headers: headersFor() });
    history.replaceState(null, "", `?code=${current.code}`);
    show(found);
    $("#case-title").focus();
  } catch (error) {
    clear(result);
    if (error instanceof ApiError && error.status === 404 && error.code === "case_not_found") {
      fieldError(form, form.querySelector("[name=tracking_code]"),
        "پرونده‌ای با این کد پیدا نشد. کد را دوباره بررسی کنید؛ برای گزارش بی‌نام، رمز پیگیری را هم وارد کنید.");
      form.querySelector("[name=tracking_code]").focus();
    } else {
      showProblem(form, error, { fieldMap: { tracking_code: "tracking_code", "X-Case-Secret": "case_secret" } });
    }
  }
}

function show(found) {
  const result = $("#result");
  const reportAgainOpen = found.status !== "reopened" && (OPEN.has(found.status)
    || (found.report_again_until && new Date(found.report_again_until.iso) > new Date()));
  clear(result,
    h("section", { class: "card", "aria-labelledby": "case-title" },
      h("h2", { id: "case-title", tabindex: "-1" }, `${found.kind_fa} — `, codeText(found.tracking_code)),
      h("dl", { class: "facts" },
        h("dt", {}, "وضعیت"), h("dd", { id: "case-status", "data-status": found.status }, h("strong", {}, found.status_fa)),
        h("dt", {}, "تاریخ ثبت"), h("dd", {}, jalali(found.registered_at)),
        h("dt", {}, "فوریت"), h("dd", {}, found.urgency === "urgent" ? "فوری" : "عادی"),
        found.rating ? [h("dt", {}, "امتیاز شما"), h("dd", {}, `${fa(found.rating)} از ${fa(5)}`)] : null,
        found.report_again_until
          ? [h("dt", {}, "مهلت گزارش دوباره"), h("dd", {}, jalali(found.report_again_until))] : null)),
    found.answer ? h("section", { class: "card", id: "answer", "aria-labelledby": "answer-title" },
      h("h2", { id: "answer-title" }, "پاسخ سازمان"),
      h("p", { id: "answer-text" }, found.answer.text),
      h("p", { class: "hint" }, "تاریخ پاسخ: ", jalali(found.answer.at))) : null,
    h("section", { class: "card", "aria-labelledby": "timeline-title" },
      h("h2", { id: "timeline-title" }, "مراحل رسیدگی"),
      timeline(found.timeline)),
    found.status === "answered" && !found.rating ? ratingForm() : null,
    reportAgainOpen ? reportAgainForm(found) : null,
    found.status !== "closed" ? evidenceForm(found) : null);
}

function ratingForm() {
  const submit = h("button", { type: "submit" }, "ثبت امتیاز");
  const form = h("form", { class: "card no-print", id: "rating", novalidate: true, "aria-labelledby": "rating-title" },
    h("h2", { id: "rating-title" }, "به پاسخ امتیاز دهید"),
    h("p", { class: "hint" }, "با ثبت امتیاز، پرونده بسته می‌شود. تا ۷ روز پس از پاسخ هنوز می‌توانید گزارش دوباره بدهید."),
    h("fieldset", { class: "group" }, h("legend", {}, "چقدر از پاسخ راضی هستید؟"),
      h("div", { class: "stars" }, SCORES.map(([score, label]) => h("label", { class: "choice" },
        h("input", { type: "radio", name: "score", value: String(score) }), `${fa(score)} — ${label}`)))),
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const chosen = form.querySelector("[name=score]:checked");
    if (!chosen) {
      fieldError(form, form.querySelector("[name=score]"), "یکی از گزینه‌ها را انتخاب کنید.");
      form.querySelector("[name=score]").focus();
      return;
    }
    await busy(submit, async () => {
      try {
        const updated = await request(`/cases/${current.code}/rating`, { method: "POST",
          json: { score: Number(chosen.value) }, headers: headersFor() });
        show(updated);
        announce("امتیاز شما ثبت شد و پرونده بسته شد. سپاسگزاریم.");
        $("#case-title").focus();
      } catch (error) {
        showProblem(form, error);
      }
    });
  });
  return form;
}

function reportAgainForm(found) {
  const text = h("textarea", { rows: "4", maxlength: "2000" });
  const submit = h("button", { type: "submit", class: "secondary" }, "گزارش دوباره");
  const form = h("form", { class: "card no-print", id: "report-again", novalidate: true, "aria-labelledby": "again-title" },
    h("h2", { id: "again-title" }, "پیگیری نشده است؟"),
    h("p", { class: "hint" }, "اگر مرحله‌ای از رسیدگی انجام نشده، دوباره گزارش دهید: پرونده به سطح بالاتر می‌رود و مدیران آن سطح باخبر می‌شوند."
      + (found.report_again_until ? ` تا ${jalali(found.report_again_until)}.` : "")),
    field({ label: "توضیح (اختیاری)", name: "text", control: text }),
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = text.value.trim() ? { text: text.value.trim() } : {};
    await busy(submit, async () => {
      try {
        const updated = await request(`/cases/${current.code}/report-again`, { method: "POST", json: body,
          headers: headersFor() });
        show(updated);
        announce("گزارش دوبارهٔ شما ثبت شد.");
        $("#case-title").focus();
      } catch (error) {
        showProblem(form, error);
      }
    });
  });
  return form;
}

function evidenceForm(found) {
  const asked = found.timeline.some((step) => step.stage === "evidence_requested");
  const file = h("input", { type: "file", required: true,
    accept: ".pdf,image/jpeg,image/png,image/webp,audio/mpeg,audio/ogg,audio/mp4,video/mp4" });
  const submit = h("button", { type: "submit", class: "secondary" }, "فرستادن مدرک");
  const status = h("p", { role: "status", class: "status-line" });
  const form = h("form", { class: "card no-print", id: "evidence", novalidate: true, "aria-labelledby": "evidence-title" },
    h("h2", { id: "evidence-title", tabindex: "-1" }, "فرستادن مدارک"),
    asked ? message("info", "بازرسی از شما مدرک خواسته است", h("p", {}, "توضیح درخواست در مراحل رسیدگی آمده است.")) : null,
    field({ label: "فایل", name: "file", control: file,
      hint: "PDF، تصویر، صدا یا ویدئوی MP4؛ حداکثر ۱۰ مگابایت؛ نوع فایل از محتوای آن خوانده می‌شود." }),
    h("div", { class: "actions" }, submit), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!file.files.length) {
      fieldError(form, file, "فایلی انتخاب نشده است.");
      file.focus();
      return;
    }
    const body = new FormData();
    body.append("file", file.files[0], file.files[0].name);
    await busy(submit, async () => {
      try {
        await request(`/cases/${current.code}/evidence`, { method: "POST", form: body, headers: headersFor() });
        const updated = await request(`/cases/${current.code}`, { headers: headersFor() });
        show(updated);
        announce("مدرک فرستاده شد.");
        $("#evidence-title")?.focus();
      } catch (error) {
        showProblem(form, error);
      }
    });
  });
  return form;
}

markCurrentNav();
try {
  const form = lookupForm();
  clear($("#content"), form, h("div", { id: "result" }));
  if (new URLSearchParams(location.search).get("code")) form.requestSubmit();
} catch (error) {
  clear($("#content"), problemBox(error));
}
