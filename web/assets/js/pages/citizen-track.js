// A citizen follows a case by its tracking code (and an anonymous report's secret): stage, timeline,
// the answer; rates it, reports again, sends more evidence (SPEC C3, C4, C10). Acting on a named case needs
// proof of being its reporter (issue 18): a one-time code texted to the mobile it was registered with opens a
// short reporter session; an anonymous report's secret is its proof.
import { ApiError, request } from "../api.js";
import { codeText, timeline } from "../cases.js";
import { mobileProblem, normaliseMobile, normaliseSecret, secretGroups } from "../checks.js";
import { digitsOnly, fa, jalali, nameOf } from "../format.js";
import { reportAgainCard } from "../report-again.js";
import { $, busy, clear, clearErrors, field, fieldError, h, markCurrentNav, message, problemBox, showProblem } from "../ui.js";

const SCORES = [[5, "کاملاً راضی‌ام"], [4, "راضی‌ام"], [3, "تا اندازه‌ای"], [2, "ناراضی‌ام"], [1, "اصلاً راضی نیستم"]];
let current = { code: null, secret: null };

// An anonymous report's secret is kept for this tab only (sessionStorage), so that a reload of this page still
// opens the report. Never in the address (it would stay in the browser's history, in logs and in what is shared
// or screenshotted) and never in localStorage (it would outlive the tab: the next person at a shared or family
// device could open the report). citizen-new.js keeps it here too, at registration.
const KEPT = "behzisti.cases";

function keptSecret(code) {
  try { return JSON.parse(sessionStorage.getItem(KEPT) || "{}")[code] || ""; } catch { return ""; }
}

function keepSecret(code, secret) {
  try {
    const kept = JSON.parse(sessionStorage.getItem(KEPT) || "{}");
    if (secret) kept[code] = secret; else delete kept[code];
    sessionStorage.setItem(KEPT, JSON.stringify(kept));
  } catch { /* private mode: the secret is typed again after a reload */ }
}

// A named case's reporter session (after the texted code), kept for this tab until it expires: only the token
// and its end, under the tracking code.
const SESSIONS = "behzisti.reporter";

function reporterToken(code) {
  try {
    const kept = JSON.parse(sessionStorage.getItem(SESSIONS) || "{}")[code];
    return kept && kept.until > Date.now() + 5000 ? kept.token : null;
  } catch { return null; }
}

function keepReporterToken(code, token, seconds) {
  try {
    const kept = JSON.parse(sessionStorage.getItem(SESSIONS) || "{}");
    if (token) kept[code] = { token, until: Date.now() + seconds * 1000 }; else delete kept[code];
    sessionStorage.setItem(SESSIONS, JSON.stringify(kept));
  } catch { /* private mode: the code is asked for again after a reload */ }
}

function headersFor() {
  if (current.secret) return { "X-Case-Secret": current.secret };
  const token = current.code ? reporterToken(current.code) : null;
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** The reporter session ended or was refused while acting: forget it and offer the proof again. */
async function proofLost(error) {
  if (!(error instanceof ApiError) || error.status !== 401) return false;
  keepReporterToken(current.code, null);
  show(await request(`/cases/${current.code}`), { title: "دوباره تأیید کنید",
    text: "نشست تأیید شما پایان یافته است؛ برای ادامه، کد تازه‌ای بخواهید.", kind: "warn" });
  $("#reporter-proof-title")?.focus();
  return true;
}

function lookupForm() {
  const params = new URLSearchParams(location.search);
  const code = h("input", { type: "text", inputmode: "numeric", autocomplete: "off", class: "ltr code-input",
    dir: "ltr", required: true, value: params.get("code") || "" });
  const secret = h("input", { type: "text", autocomplete: "off", class: "ltr code-input", dir: "ltr", spellcheck: "false",
    autocapitalize: "characters", value: params.get("code") ? secretGroups(keptSecret(digitsOnly(params.get("code")))) : "" });
  const submit = h("button", { type: "submit" }, "پیگیری");
  const form = h("form", { class: "card no-print", id: "lookup", novalidate: true, role: "search",
    "aria-label": "پیگیری با کد رهگیری" },
    field({ label: "کد رهگیری (الزامی)", name: "tracking_code", control: code,
      hint: "کد ۱۶ رقمی که هنگام ثبت یا با پیامک گرفتید؛ با یا بدون خط تیره." }),
    field({ label: "رمز پیگیری", name: "case_secret", control: secret,
      hint: "فقط برای گزارش تخلف بی‌نام: رمز ۱۶ نویسه‌ای که هنگام ثبت نشان داده شد؛ با یا بدون خط تیره و فاصله، با حروف کوچک یا بزرگ." }),
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
    current = { code: digits, secret: normaliseSecret(secret.value) || null };
    await busy(submit, () => load(form), "در حال جست‌وجو…");
  });
  return form;
}

async function load(form) {
  const result = $("#result");
  try {
    const found = await request(`/cases/${current.code}`, { headers: headersFor() });
    history.replaceState(null, "", `?code=${current.code}`);  // the code only: the secret stays out of the address
    if (found.anonymous) keepSecret(current.code, current.secret);
    show(found);
    $("#case-title").focus();
  } catch (error) {
    clear(result);
    if (error instanceof ApiError && error.status === 404 && error.code === "case_not_found") {
      keepSecret(current.code, null);
      fieldError(form, form.querySelector("[name=tracking_code]"),
        "پرونده‌ای با این کد پیدا نشد. کد را دوباره بررسی کنید؛ برای گزارش بی‌نام، رمز پیگیری را هم وارد کنید.");
      form.querySelector("[name=tracking_code]").focus();
    } else {
      showProblem(form, error, { fieldMap: { tracking_code: "tracking_code", "X-Case-Secret": "case_secret" } });
    }
  }
}

/** The case; `done` (after the citizen's own action) is said in a box at the top, which takes the focus. */
function show(found, done = null) {
  const result = $("#result");
  clear(result,
    done ? message(done.kind || "ok", done.title, h("p", {}, done.text)) : null,
    h("section", { class: "card", "aria-labelledby": "case-title" },
      h("h2", { id: "case-title", tabindex: "-1" }, `${found.kind_fa} — `, codeText(found.tracking_code)),
      h("dl", { class: "facts" },
        h("dt", {}, "وضعیت"), h("dd", { id: "case-status", "data-status": found.status }, h("strong", {}, found.status_fa)),
        h("dt", {}, "تاریخ ثبت"), h("dd", {}, jalali(found.registered_at)),
        h("dt", {}, "فوریت"), h("dd", {}, nameOf("urgency", found.urgency)),
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
    ...actions(found));
}

/** What the citizen can do now: the forms, or for a named case not yet proved, the card that proves it. */
function actions(found) {
  const rating = found.status === "answered" && !found.rating;
  const again = reportAgainCard(found, sendReportAgain);
  const againForm = again !== null && again.id === "report-again";
  const evidence = found.status !== "closed";
  if (found.anonymous || reporterToken(found.tracking_code)) {
    return [rating ? ratingForm() : null, again, evidence ? evidenceForm(found) : null];
  }
  const can = [rating && "امتیاز دادن به پاسخ", againForm && "گزارش دوباره", evidence && "فرستادن مدرک"].filter(Boolean);
  return [againForm ? null : again, can.length ? proofCard(found, can) : null];
}

/** A named case's reporter proves it: the mobile it was registered with, then the code texted to it. */
function proofCard(found, can) {
  const mobile = h("input", { type: "tel", inputmode: "tel", autocomplete: "tel", class: "ltr", dir: "ltr",
    maxlength: "20", required: true });
  const ask = h("button", { type: "submit" }, "فرستادن کد تأیید");
  const code = h("input", { type: "text", inputmode: "numeric", autocomplete: "one-time-code", class: "ltr code-input",
    dir: "ltr", maxlength: "8", required: true });
  const confirm = h("button", { type: "button", id: "reporter-confirm" }, "تأیید");
  const step2 = h("div", { id: "reporter-code-step", hidden: true },
    h("p", { id: "reporter-sent", role: "status" }),
    field({ label: "کد تأیید (الزامی)", name: "code", control: code, hint: "۶ رقم؛ تا ۲ دقیقه معتبر است." }),
    h("div", { class: "actions" }, confirm));
  const form = h("form", { class: "card no-print", id: "reporter-proof", novalidate: true,
    "aria-labelledby": "reporter-proof-title" },
    h("h2", { id: "reporter-proof-title", tabindex: "-1" }, "تأیید شمارهٔ همراه"),
    h("p", {}, `برای ${can.join("، ")}، نشان دهید این پرونده را شما ثبت کرده‌اید: شمارهٔ همراهی را که پرونده با آن ثبت شد `
      + "وارد کنید تا کد تأیید به آن پیامک شود. کد رهگیری به‌تنهایی بس نیست، چون کارشناسان رسیدگی‌کننده هم آن را می‌بینند."),
    field({ label: "شمارهٔ همراه ثبت‌شده در پرونده (الزامی)", name: "mobile", control: mobile,
      hint: "مانند ۰۹۱۲۱۲۳۴۵۶۷" }),
    h("div", { class: "actions" }, ask), step2);
  form.addEventListener("submit", async (event) => {  // checked here first: a mistake spends no code
    event.preventDefault();
    clearErrors(form);
    const wrong = mobileProblem(mobile.value, { required: true });
    if (wrong) {
      fieldError(form, mobile, wrong);
      mobile.focus();
      return;
    }
    await busy(ask, async () => {
      try {
        const sent = await request(`/cases/${current.code}/reporter/code`, { method: "POST",
          json: { mobile: normaliseMobile(mobile.value) } });
        step2.hidden = false;
        form.querySelector("#reporter-sent").textContent = sent.message_fa;
        code.focus();
      } catch (error) {
        showProblem(form, error);
      }
    }, "در حال فرستادن…");
  });
  confirm.addEventListener("click", () => busy(confirm, async () => {
    clearErrors(form);
    if (digitsOnly(code.value).length !== 6) {
      fieldError(form, code, "کد ۶ رقم است.");
      code.focus();
      return;
    }
    try {
      const session = await request(`/cases/${current.code}/reporter/session`, { method: "POST",
        json: { mobile: normaliseMobile(mobile.value), code: digitsOnly(code.value) } });
      keepReporterToken(current.code, session.token, session.expires_in);
      show(await request(`/cases/${current.code}`, { headers: headersFor() }), { title: "شمارهٔ همراه تأیید شد",
        text: `اکنون می‌توانید ${can.join("، ")} را انجام دهید؛ این تأیید تا ${fa(Math.round(session.expires_in / 60))} دقیقه در همین زبانه می‌ماند.` });
      $("#result > .alert.ok").focus();
    } catch (error) {
      showProblem(form, error);
    }
  }, "در حال بررسی…"));
  return form;
}

/** After the citizen's own action: the case again, with what was done said on the page (not only to a screen reader). */
function confirmDone(updated, title, text) {
  show(updated, { title, text });
  const box = $("#result > .alert.ok");
  box.id = "done";
  box.focus();
  box.scrollIntoView({ block: "start" });  // focus alone may leave it under a phone's on-screen keyboard
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
        confirmDone(updated, "امتیاز شما ثبت شد", `امتیاز ${fa(chosen.value)} از ${fa(5)} ثبت شد و پرونده بسته شد. سپاسگزاریم.`);
      } catch (error) {
        if (!await proofLost(error)) showProblem(form, error);
      }
    });
  });
  return form;
}

async function sendReportAgain(body) {
  let updated;
  try {
    updated = await request(`/cases/${current.code}/report-again`, { method: "POST", json: body, headers: headersFor() });
  } catch (error) {
    if (await proofLost(error)) return;
    throw error;
  }
  confirmDone(updated, "گزارش دوبارهٔ شما ثبت شد", `وضعیت پرونده: ${updated.status_fa}. `
    + "مراحل بعدی در «مراحل رسیدگی» همین صفحه دیده می‌شود.");
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
        const name = file.files[0].name;
        await request(`/cases/${current.code}/evidence`, { method: "POST", form: body, headers: headersFor() });
        const updated = await request(`/cases/${current.code}`, { headers: headersFor() });
        confirmDone(updated, "مدرک فرستاده شد", `فایل «${name}» به پرونده افزوده شد و رسیدگی‌کنندگان آن را می‌بینند.`);
      } catch (error) {
        if (!await proofLost(error)) showProblem(form, error);
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
