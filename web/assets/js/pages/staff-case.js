// One case as staff see it: its text, path, deadline and history; and the work on it (SPEC C4–C6):
// refer one level down, answer, ask for evidence; approve or return an answer on its way up.
import { ApiError, request } from "../api.js";
import { NOTE_MAX, TEXT_MAX, TEXT_MIN, categoryNames, codeText, referralTargets, unitNames } from "../cases.js";
import { localProblem, textProblem } from "../checks.js";
import { clock, digitsOnly, fa, jalali, nameOf } from "../format.js";
import { $, announce, busy, clear, clearErrors, field, h, message, problemBox, scroller, select, showProblem } from "../ui.js";
import { ACTING, ALL, MANAGERS, staffPage } from "../staff.js";

const HANDLING = new Set(["registered", "referred", "returned", "escalated", "reopened"]);
let code = null;
let principal = null;
let countdown = null;

async function download(file) {
  try {
    const response = await request(`/staff/cases/${code}/files/${file.id}`, { auth: "staff", raw: true });
    const url = URL.createObjectURL(await response.blob());
    const link = h("a", { href: url, download: file.filename });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (error) {
    announce(error.message);
  }
}

function categoryTerm(code) {
  const term = h("dd", {}, code);
  categoryNames().then((names) => { if (names[code]) term.textContent = names[code]; });
  return term;
}

function facts(found) {
  const deadline = found.deadline_at ? h("span", { class: "countdown", id: "deadline-countdown" }) : null;
  if (countdown) clearInterval(countdown);
  if (deadline) {
    const due = new Date(found.deadline_at.iso).getTime();
    const tick = () => {
      const left = Math.round((due - Date.now()) / 1000);
      deadline.textContent = left >= 0 ? `(${clock(left)} مانده)` : `(${clock(-left)} از مهلت گذشته)`;
    };
    tick();
    countdown = setInterval(tick, 1000);
  }
  return h("dl", { class: "facts" },
    h("dt", {}, "وضعیت"), h("dd", { id: "case-status", "data-status": found.status }, h("strong", {}, found.status_fa)),
    h("dt", {}, "در کارتابل"), h("dd", { id: "holder", "data-unit": found.holder_unit }, found.holder_unit_fa || found.holder_unit),
    h("dt", {}, "فوریت"), h("dd", {}, found.urgency === "urgent" ? h("span", { class: "pill urgent" }, nameOf("urgency", "urgent")) : nameOf("urgency", found.urgency)),
    h("dt", {}, "مهلت"), h("dd", {}, found.deadline_at ? [jalali(found.deadline_at), " ", deadline] : "—"),
    h("dt", {}, "ثبت"), h("dd", {}, jalali(found.registered_at), " — ", nameOf("channel", found.channel)),
    found.category ? [h("dt", {}, "موضوع"), categoryTerm(found.category)] : null,
    found.reporter ? [h("dt", {}, "گزارش‌دهنده"), h("dd", {},
      [found.reporter.name, found.reporter.mobile, found.reporter.national_id].filter(Boolean).map(fa).join(" — ") || "بی‌نام")] : null);
}

function historyTable(rows, names) {
  return scroller(h("table", { class: "responsive-table", id: "history" },
    h("caption", {}, "سابقهٔ کامل پرونده (با یادداشت‌های داخلی)"),
    h("thead", {}, h("tr", {}, ["#", "کار", "زمان", "کننده", "واحد", "یادداشت"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((row) => h("tr", {},
      h("td", { "data-label": "#" }, fa(row.n)),
      h("td", { "data-label": "کار" }, nameOf("case_action", row.action)),
      h("td", { "data-label": "زمان" }, jalali(row.at)),
      h("td", { "data-label": "کننده" }, nameOf("actor", row.actor)),
      h("td", { "data-label": "واحد" }, row.unit ? names[row.unit] || row.unit : "—"),
      h("td", { "data-label": "یادداشت" },
        row.public_note ? h("div", {}, "برای شهروند: ", row.public_note) : null,
        row.internal_note ? h("div", {}, "داخلی: ", row.internal_note) : null))))));
}

function files(found) {
  if (!found.files.length) return null;
  return h("section", { class: "card", "aria-labelledby": "files-title" },
    h("h2", { id: "files-title" }, "مدارک و پیوست‌ها"),
    h("ul", { class: "list" }, found.files.map((file) => h("li", {},
      `${file.purpose === "answer" ? "پیوست پاسخ" : "مدرک"}: ${file.filename} (${fa(Math.ceil(file.size / 1024))} کیلوبایت، ${jalali(file.uploaded_at)}) `,
      h("button", { type: "button", class: "secondary small", onclick: () => download(file),
        "aria-label": `دریافت ${file.filename}` }, "دریافت")))));
}

/** A form for one action: fields, then POST, then the case again (or a note that it left my sight). */
/** A note the API requires (FreeText(2, NOTE_MAX)), or takes when given; checked before sending. */
function noteProblem(node, required = true) {
  return { field: "note", message: textProblem(node.elements.note.value, { min: 2, max: NOTE_MAX, required }) };
}

/**
 * A form for one action: fields, then POST, then the case again (or a note that it left my sight). `check`
 * returns the problems found before sending ([{field, message}]): shown beside their fields, nothing sent.
 */
function actionForm({ id, title, hint, fields, submitLabel, kind = "", send, check = () => [] }) {
  const submit = h("button", { type: "submit", class: kind }, submitLabel);
  const form = h("form", { class: "card", id, novalidate: true, "aria-labelledby": `${id}-title` },
    h("h3", { id: `${id}-title` }, title), hint ? h("p", { class: "hint" }, hint) : null, ...fields,
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const problem = localProblem(check(form));
    if (problem) {
      showProblem(form, problem);
      return;
    }
    await busy(submit, async () => {
      try {
        const done = await send(form);
        if (done === false) return;
        await load(done);
      } catch (error) {
        showProblem(form, error);
      }
    });
  });
  return form;
}

function noteArea(name = "note", required = true) {
  return h("textarea", { name, rows: "3", maxlength: String(NOTE_MAX), required });
}

async function referForm(found) {
  const units = select([], { empty: "— واحد مقصد —", required: true });
  const form = actionForm({
    id: "refer", title: "ارجاع به سطح پایین‌تر", submitLabel: "ارجاع",
    hint: "پرونده یک سطح پایین‌تر می‌رود؛ یادداشت فقط برای کارکنان است و شهروند آن را نمی‌بیند.",
    fields: [field({ label: "واحد مقصد", name: "unit", control: units }),
      field({ label: "یادداشت ارجاع (الزامی)", name: "note", control: noteArea() })],
    check: (node) => [{ field: "unit", message: units.value ? null : "واحد مقصد را انتخاب کنید." }, noteProblem(node)],
    send: async (node) => {
      await request(`/staff/cases/${code}/refer`, { method: "POST", auth: "staff",
        json: { unit: units.value, note: node.elements.note.value.trim() } });
      return `ارجاع شد به «${units.selectedOptions[0].textContent}».`;
    },
  });
  referralTargets(found.holder_unit).then((items) => {
    for (const unit of items) units.append(h("option", { value: unit.id }, unit.name_fa));
    if (!items.length) form.replaceWith(h("p", { class: "hint" }, "از این سطح ارجاع پایین‌تری نیست؛ پرونده را پاسخ دهید."));
  }).catch((error) => form.prepend(problemBox(error, "فهرست واحدها باز نشد")));
  return form;
}

function answerForm() {
  const attachments = h("input", { type: "file", multiple: true,
    accept: ".pdf,image/jpeg,image/png,image/webp,audio/mpeg,audio/ogg,audio/mp4,video/mp4" });
  return actionForm({
    id: "answer", title: "پاسخ", submitLabel: "ثبت پاسخ و فرستادن برای تأیید",
    hint: "پاسخ از همان مسیر ارجاع برای تأیید بالا می‌رود و پس از آخرین تأیید به شهروند می‌رسد.",
    fields: [field({ label: "متن پاسخ برای شهروند (الزامی)", name: "text",
      control: h("textarea", { rows: "6", maxlength: String(TEXT_MAX), required: true }) }),
    field({ label: "پیوست‌ها (اختیاری)", name: "attachments", control: attachments,
      hint: "PDF، تصویر، صدا یا MP4؛ هر کدام حداکثر ۱۰ مگابایت." })],
    check: (node) => [{ field: "text", message: textProblem(node.elements.text.value, { min: TEXT_MIN, max: TEXT_MAX }) }],
    send: async (node) => {
      const ids = [];
      for (const file of attachments.files) {
        const form = new FormData();
        form.append("file", file, file.name);
        try {
          const saved = await request(`/staff/cases/${code}/attachments`, { method: "POST", auth: "staff", form });
          ids.push(saved.id);
        } catch (error) {
          if (error instanceof ApiError) {
            throw new ApiError(error.status, { ...error.problem, errors: [{ field: "attachments",
              message: `${file.name}: ${error.fieldErrors[0]?.message || error.message}` }] });
          }
          throw error;
        }
      }
      await request(`/staff/cases/${code}/answer`, { method: "POST", auth: "staff",
        json: { text: node.elements.text.value.trim(), attachments: ids } });
      return "پاسخ ثبت شد و برای تأیید فرستاده شد.";
    },
  });
}

function evidenceRequestForm() {
  return actionForm({
    id: "evidence-request", title: "درخواست مدارک از گزارش‌دهنده", submitLabel: "درخواست مدارک", kind: "secondary",
    hint: "این یادداشت در مراحل رسیدگی به شهروند نشان داده می‌شود و پیامک هم می‌شود.",
    fields: [field({ label: "چه مدرکی لازم است؟ (الزامی)", name: "note", control: noteArea() })],
    check: (node) => [noteProblem(node)],
    send: async (node) => {
      await request(`/staff/cases/${code}/evidence-request`, { method: "POST", auth: "staff",
        json: { note: node.elements.note.value.trim() } });
      return "درخواست مدارک فرستاده شد.";
    },
  });
}

function approveForm() {
  return actionForm({
    id: "approve", title: "تأیید پاسخ", submitLabel: "تأیید",
    hint: "با تأیید، پاسخ به سطح بالاتر می‌رود؛ در بالاترین سطح، به شهروند می‌رسد.",
    fields: [field({ label: "یادداشت (اختیاری)", name: "note", control: noteArea("note", false) })],
    check: (node) => [noteProblem(node, false)],
    send: async (node) => {
      const note = node.elements.note.value.trim();
      await request(`/staff/cases/${code}/approve`, { method: "POST", auth: "staff", json: note ? { note } : {} });
      return "پاسخ تأیید شد.";
    },
  });
}

function returnForm() {
  return actionForm({
    id: "return", title: "برگرداندن پاسخ برای بازنگری", submitLabel: "برگرداندن", kind: "secondary",
    hint: "پاسخ به واحدی که آن را نوشته برمی‌گردد؛ بنویسید چه چیزی باید تغییر کند.",
    fields: [field({ label: "یادداشت بازنگری (الزامی)", name: "note", control: noteArea() })],
    check: (node) => [noteProblem(node)],
    send: async (node) => {
      await request(`/staff/cases/${code}/return`, { method: "POST", auth: "staff",
        json: { note: node.elements.note.value.trim() } });
      return "پاسخ برای بازنگری برگشت داده شد.";
    },
  });
}

async function actions(found) {
  const mine = found.holder_unit === principal.unit;
  if (!mine || !ACTING.includes(principal.role)) {
    return h("p", { class: "card", id: "no-actions" }, mine ? "نقش شما روی پرونده کاری انجام نمی‌دهد."
      : "این پرونده اکنون در کارتابل واحد دیگری است؛ فقط سابقهٔ آن را می‌بینید.");
  }
  const forms = [];
  if (HANDLING.has(found.status)) forms.push(await referForm(found), answerForm(), evidenceRequestForm());
  if (found.status === "awaiting_approval") {
    if (MANAGERS.includes(principal.role)) forms.push(approveForm(), returnForm());
    else forms.push(h("p", {}, "تأیید یا برگرداندن پاسخ با مدیر واحد است."));
  }
  if (!forms.length) return null;
  return h("section", { "aria-labelledby": "actions-title" }, h("h2", { id: "actions-title" }, "کار روی پرونده"), ...forms);
}

async function load(done = null) {
  const main = $("#content");
  let found;
  try {
    found = await request(`/staff/cases/${code}`, { auth: "staff" });
  } catch (error) {
    clear(main, done ? message("ok", done) : null,
      error instanceof ApiError && error.status === 404
        ? message(done ? "info" : "warn", done ? "پرونده از دید واحد شما خارج شد" : "پرونده پیدا نشد",
          h("p", {}, done ? "پرونده به واحد دیگری رفت." : "پرونده‌ای با این کد در حوزهٔ واحد شما نیست."))
        : problemBox(error),
      h("p", {}, h("a", { href: "/web/staff/" }, "بازگشت به کارتابل")));
    main.querySelector(".alert")?.focus();
    return;
  }
  clear(main,
    done ? message("ok", done) : null,
    h("section", { class: "card", "aria-labelledby": "case-title" },
      h("h2", { id: "case-title", tabindex: "-1" }, `${found.kind_fa} — `, codeText(found.tracking_code)),
      facts(found),
      h("h3", {}, "متن"), h("p", { id: "case-text" }, found.text),
      found.pending_answer ? [h("h3", {}, "پاسخ در راه تأیید"), h("p", { id: "pending-answer" }, found.pending_answer)] : null,
      found.answer ? [h("h3", {}, "پاسخ فرستاده‌شده به شهروند"), h("p", {}, found.answer.text)] : null),
    files(found),
    await actions(found),
    h("section", { class: "card", "aria-labelledby": "history-title" },
      h("h2", { id: "history-title" }, "سابقه"), historyTable(found.history, await unitNames())),
    h("p", {}, h("a", { href: "/web/staff/" }, "بازگشت به کارتابل")));
  if (done) {
    main.querySelector(".alert").focus();
    announce(done);
  } else {
    $("#case-title").focus();
  }
}

staffPage({
  roles: ALL,
  purpose: "برای دیدن و رسیدگی به پرونده وارد شوید.",
  async render(who) {
    principal = who;
    code = digitsOnly(new URLSearchParams(location.search).get("code") || "");
    if (code.length !== 16) {
      clear($("#content"), message("warn", "کد پرونده در نشانی نیست", h("p", {}, h("a", { href: "/web/staff/" }, "بازگشت به کارتابل"))));
      return;
    }
    document.title = `پرونده ${fa(code)} — سامانهٔ بهزیستی`;
    await load();
  },
});
