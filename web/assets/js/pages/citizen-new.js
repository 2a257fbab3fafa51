// A citizen registers a complaint, a request or a violation report (anonymous allowed), attaches
// evidence, and keeps the tracking code (and an anonymous report's secret).
import { ApiError, actionKey, request } from "../api.js";
import { categorySelect, centerPicker, intakeBody, intakeProblems, kindChoices, textArea } from "../cases.js";
import { localProblem, secretGroups } from "../checks.js";
import { fa, jalali, trackingCode } from "../format.js";
import { $, announce, busy, clear, clearErrors, copyButton, field, h, markCurrentNav, message, problemBox, retryNotice, showProblem } from "../ui.js";

const MAX_FILES = 10;
const MAX_BYTES = 10 * 1024 * 1024;
const registration = actionKey();  // one key per registration: its retries and a re-press of the unchanged form

function form() {
  const anonymous = h("input", { type: "checkbox", name: "anonymous", id: "f-anonymous" });
  const identity = h("div", { id: "identity" },
    field({ label: "نام و نام خانوادگی", name: "name", control: h("input", { type: "text", autocomplete: "name" }) }),
    field({ label: "شمارهٔ همراه", name: "mobile", hint: "برای پیامک کد رهگیری و هر مرحلهٔ رسیدگی، مانند ۰۹۱۲۱۲۳۴۵۶۷",
      control: h("input", { type: "tel", autocomplete: "tel", inputmode: "tel", class: "ltr", dir: "ltr" }) }),
    field({ label: "کد ملی", name: "national_id", hint: "۱۰ رقم",
      control: h("input", { type: "text", inputmode: "numeric", autocomplete: "off", class: "ltr", dir: "ltr",
        maxlength: "12" }) }));
  const files = h("input", { type: "file", name: "files", multiple: true,
    accept: ".pdf,image/jpeg,image/png,image/webp,audio/mpeg,audio/ogg,audio/mp4,video/mp4" });
  const submit = h("button", { type: "submit" }, "ثبت و دریافت کد رهگیری");
  const node = h("form", { id: "intake", class: "card", novalidate: true, "aria-labelledby": "intake-title" },
    h("h2", { id: "intake-title" }, "فرم ثبت"),
    kindChoices(),
    textArea("شرح درخواست یا گزارش"),
    categorySelect(),
    centerPicker(),
    h("fieldset", {},
      h("legend", {}, "مشخصات شما (اختیاری)"),
      h("p", { class: "hint", id: "anonymous-hint" },
        "می‌توانید بی‌نام بفرستید. گزارش تخلف بی‌نام یک «رمز پیگیری» هم می‌گیرد که فقط همین یک بار نشان داده می‌شود؛ کسی جز شما نمی‌تواند آن را پیگیری کند. "
        + "بدون شمارهٔ همراه، پیامکی دریافت نمی‌کنید و پیگیری فقط با کد رهگیری است."),
      h("div", { class: "field" }, h("label", { class: "choice", for: "f-anonymous" }, anonymous, "بی‌نام می‌فرستم"),
        h("span", { class: "hint" }, "مشخصات شما برای واحد یا مرکزی که گزارش دربارهٔ آن است نمایش داده نمی‌شود.")),
      identity),
    h("div", { class: "field" },
      h("label", { for: "f-files" }, "پیوست مدارک (اختیاری)"),
      h("span", { class: "hint", id: "f-files-hint" },
        `PDF، تصویر، صدا یا ویدئوی MP4؛ هر فایل حداکثر ${fa(10)} مگابایت و حداکثر ${fa(MAX_FILES)} فایل.`),
      files),
    h("div", { class: "actions" }, submit));
  files.id = "f-files";
  files.setAttribute("aria-describedby", "f-files-hint");
  anonymous.addEventListener("change", () => {
    identity.hidden = anonymous.checked;
    for (const input of identity.querySelectorAll("input")) input.disabled = anonymous.checked;
  });
  node.addEventListener("submit", (event) => { event.preventDefault(); send(node, submit); });
  return node;
}

function checkFiles(form) {
  const input = form.querySelector("[name=files]");
  const chosen = Array.from(input.files || []);
  const problems = [];
  if (chosen.length > MAX_FILES) problems.push(`حداکثر ${fa(MAX_FILES)} فایل می‌توانید بفرستید.`);
  for (const file of chosen) if (file.size > MAX_BYTES) problems.push(`«${file.name}» بزرگ‌تر از ${fa(10)} مگابایت است.`);
  return { chosen, problems };
}

async function send(node, submit) {
  clearErrors(node);
  const { chosen, problems } = checkFiles(node);
  const anonymous = node.querySelector("[name=anonymous]").checked;
  // a mistake is shown here, beside its field, before anything is sent: it spends none of the registrations
  // a client may send a minute
  const found = localProblem([...intakeProblems(node, { anonymous }),
    ...problems.map((text) => ({ field: "files", message: text }))]);
  if (found) {
    showProblem(node, found);
    return;
  }
  const body = intakeBody(node, { anonymous });
  await busy(submit, async () => {
    let registered;
    try {
      registered = await request("/cases", { method: "POST", json: body, idempotency: registration,
        onRetry: retryNotice(node) });
    } catch (error) {
      showProblem(node, error, { fieldMap: { center: "center" } });
      return;
    }
    const uploads = await upload(registered, chosen);
    remember(registered);
    showResult(registered, uploads);
  }, "در حال ثبت…");
}

async function upload(registered, files) {
  const results = [];
  for (const file of files) {
    const form = new FormData();
    form.append("file", file, file.name);
    const headers = registered.secret ? { "X-Case-Secret": registered.secret }
      : registered.reporter_session ? { Authorization: `Bearer ${registered.reporter_session.token}` } : {};
    try {
      await request(`/cases/${registered.tracking_code}/evidence`, { method: "POST", form, headers });
      results.push({ name: file.name, ok: true });
    } catch (error) {
      const detail = error instanceof ApiError ? (error.fieldErrors[0]?.message || error.message) : error.message;
      results.push({ name: file.name, ok: false, message: detail });
    }
  }
  return results;
}

function remember(registered) {
  try {
    const kept = JSON.parse(sessionStorage.getItem("behzisti.cases") || "{}");
    kept[registered.tracking_code] = registered.secret || "";
    sessionStorage.setItem("behzisti.cases", JSON.stringify(kept));
    if (registered.reporter_session) {  // the follow page acts on the case without asking for a code, for a while
      const sessions = JSON.parse(sessionStorage.getItem("behzisti.reporter") || "{}");
      sessions[registered.tracking_code] = { token: registered.reporter_session.token,
        until: Date.now() + registered.reporter_session.expires_in * 1000 };
      sessionStorage.setItem("behzisti.reporter", JSON.stringify(sessions));
    }
  } catch { /* private mode: the citizen has the code on screen */ }
}

function keepAsText(registered) {
  const lines = ["سازمان بهزیستی کشور — سامانهٔ دیده‌بان", `نوع: ${registered.kind_fa}`,
    `کد رهگیری: ${registered.tracking_code}`];
  if (registered.secret) lines.push(`رمز پیگیری: ${secretGroups(registered.secret)}`);
  lines.push(`تاریخ ثبت: ${registered.registered_at.jalali}`,
    `پیگیری: ${location.origin}/web/citizen/track.html`);
  const blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/plain;charset=utf-8" });
  return URL.createObjectURL(blob);
}

function showResult(registered, uploads) {
  const content = $("#content");
  const code = registered.tracking_code;
  const saved = uploads.filter((u) => u.ok).length;
  const failed = uploads.filter((u) => !u.ok);
  const keep = h("section", { class: "keep", "aria-labelledby": "kept-title", id: "kept" },
    h("h2", { id: "kept-title", tabindex: "-1" }, "ثبت شد؛ این کد را نگه دارید"),
    h("dl", {},
      h("dt", {}, "کد رهگیری"),
      h("dd", {}, h("span", { class: "big-code", id: "tracking-code", "data-code": code }, trackingCode(code)),
        copyButton(code, "کپی کد رهگیری")),
      registered.secret ? [
        h("dt", {}, "رمز پیگیری (فقط همین یک بار نشان داده می‌شود)"),
        h("dd", {}, h("span", { class: "big-code", id: "case-secret", "data-secret": registered.secret },
          secretGroups(registered.secret)), copyButton(registered.secret, "کپی رمز پیگیری")),
      ] : null,
      h("dt", {}, "نوع"), h("dd", {}, registered.kind_fa),
      h("dt", {}, "تاریخ ثبت"), h("dd", {}, jalali(registered.registered_at)),
      h("dt", {}, "وضعیت"), h("dd", {}, registered.status_fa)),
    registered.secret
      ? message("warn", "رمز پیگیری را جایی امن یادداشت کنید",
        h("p", {}, "این گزارش بی‌نام است: بدون رمز، هیچ‌کس (حتی خود شما) نمی‌تواند آن را پیگیری کند و رمز دوباره نشان داده نمی‌شود."))
      : h("p", {}, "کد رهگیری به شمارهٔ همراه شما هم پیامک می‌شود (اگر شماره داده‌اید)."),
    h("div", { class: "actions no-print" },
      h("button", { type: "button", id: "print", onclick: () => window.print() }, "چاپ"),
      h("a", { class: "button secondary", href: keepAsText(registered), download: `behzisti-${code}.txt` },
        "ذخیره به‌صورت فایل"),
      h("a", { class: "button secondary", href: `/web/citizen/track.html?code=${code}` }, "پیگیری همین درخواست")));
  clear(content, keep,
    uploads.length ? message(failed.length ? "warn" : "ok", `${fa(saved)} از ${fa(uploads.length)} پیوست فرستاده شد`,
      failed.length ? h("ul", {}, failed.map((f) => h("li", {}, `${f.name}: ${f.message}`))) : null,
      failed.length ? h("p", {}, "می‌توانید پیوست‌ها را از صفحهٔ پیگیری دوباره بفرستید.") : null) : null,
    h("p", { class: "no-print" }, h("a", { href: "/web/citizen/new.html" }, "ثبت درخواست دیگر")));
  $("#kept-title").focus();
  announce(`ثبت شد. کد رهگیری ${trackingCode(code)}`);
}

markCurrentNav();
try {
  clear($("#content"), form());
} catch (error) {
  clear($("#content"), problemBox(error));
}
