// Units hand in Shafaf's datasets (SPEC T10, T11): an HQ unit's head or expert uploads a dataset's whole file and
// reads the line-by-line report when it has errors (nothing is kept); another person approves a clean file, and it
// is published as the dataset's next signed version.
import { ApiError, request } from "../api.js";
import { localProblem } from "../checks.js";
import { fa, jalali, nameOf } from "../format.js";
import { announce, busy, clear, clearErrors, field, h, message, problemBox, select, showProblem } from "../ui.js";
import { staffPage } from "../staff.js";

const HANDS_IN = ["hq_head", "hq_expert"];  // services/transparency/submissions.py
const APPROVES = ["hq_head", "admin"];
const MAX_ERRORS = 100;

function columnsOf(dataset) {
  if (!dataset) return null;
  const download = `/api/v1/transparency/datasets/${encodeURIComponent(dataset.slug)}/download.csv`;
  return h("details", { class: "file-columns" },
    h("summary", {}, `ستون‌های پروندهٔ «${dataset.title_fa}» (${fa(dataset.columns.length)} ستون)`),
    h("p", { class: "hint" }, "سرستون هر ستون نام لاتین آن یا عنوان فارسی آن است، به هر ترتیب. تاریخ شمسی یا میلادی و "
      + "ارقام فارسی یا لاتین پذیرفته است؛ ستون‌های تاریخ شمسی از تاریخ‌ها ساخته می‌شوند. ",
    h("a", { href: download }, "پروندهٔ منتشرشدهٔ کنونی (CSV)"), " را می‌توانید ویرایش و دوباره بارگذاری کنید."),
    h("ul", {}, dataset.columns.map((c) => h("li", {}, h("span", { class: "ltr", dir: "ltr" }, c.name),
      ` — ${c.title_fa} — ${nameOf("column_type", c.type)}${c.required ? "" : " (اختیاری)"}`))));
}

/** The file's errors, each naming its line (the header is line 1) and column, in the API's own Persian. */
function report(error) {
  const errors = error.fieldErrors;
  return h("section", { id: "upload-report", class: "alert error", role: "alert", tabindex: "-1",
    "aria-labelledby": "report-title" },
  h("h2", { id: "report-title" }, "پرونده پذیرفته نشد و هیچ ردیفی منتشر نشد"),
  h("p", {}, `${fa(errors.length)} خطا${errors.length >= MAX_ERRORS ? ` (فقط ${fa(MAX_ERRORS)} خطای نخست)` : ""}؛ `
    + "همه را در پرونده اصلاح کنید و آن را دوباره بارگذاری کنید. شمارهٔ سطرها همان شمارهٔ سطر در Excel است."),
  h("ol", { class: "upload-errors" }, errors.map((e) => h("li", { "data-line": e.line ?? "", "data-column": e.column ?? "" },
    e.message))));
}

function uploadForm(datasets, reload) {
  const picker = select(datasets.map((d) => ({ value: d.slug, label: d.title_fa })), { empty: "— برگزینید —" });
  const file = h("input", { type: "file", accept: ".csv,.xlsx" });
  const note = h("input", { type: "text", maxlength: "500" });
  const columns = h("div", { id: "file-columns" });
  const out = h("div", { id: "upload-result" });
  const submit = h("button", { type: "submit" }, "بارگذاری و بررسی");
  picker.addEventListener("change", () => clear(columns, columnsOf(datasets.find((d) => d.slug === picker.value))));
  const form = h("form", { novalidate: true, id: "upload-form", "aria-labelledby": "upload-title" },
    h("h2", { id: "upload-title" }, "بارگذاری پروندهٔ مجموعه‌داده"),
    field({ label: "مجموعه‌داده", name: "dataset", control: picker }),
    columns,
    field({ label: "پرونده (CSV یا xlsx)", name: "file", control: file,
      hint: "همهٔ ردیف‌های مجموعه‌داده؛ جای نسخهٔ کنونی را می‌گیرد. حداکثر ۱۰ مگابایت." }),
    field({ label: "یادداشت (اختیاری)", name: "note", control: note, hint: "چه چیزی تغییر کرده است؛ با نسخه منتشر می‌شود." }),
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    clear(out);
    const missing = localProblem([
      { field: "dataset", message: picker.value ? null : "مجموعه‌داده را برگزینید." },
      { field: "file", message: file.files.length ? null : "پرونده را برگزینید." }]);
    if (missing) { showProblem(form, missing, { title: "بارگذاری انجام نشد" }); return; }
    const body = new FormData();
    body.append("file", file.files[0]);
    body.append("note", note.value.trim());
    await busy(submit, async () => {
      try {
        const upload = await request(`/staff/transparency/datasets/${encodeURIComponent(picker.value)}/uploads`,
          { method: "POST", auth: "staff", form: body });
        form.reset();
        clear(columns);
        await reload(`پرونده بی‌خطا بود: ${fa(upload.row_count)} ردیف «${upload.title_fa}» در انتظار تأیید است.`);
      } catch (error) {
        if (error instanceof ApiError && error.status === 400 && error.fieldErrors.some((e) => e.field === "file")) {
          clear(out, report(error));
          out.querySelector("section").focus();
          return;
        }
        showProblem(form, error, { title: "بارگذاری انجام نشد" });
      }
    }, "در حال بررسی…");
  });
  return h("div", {}, form, out);
}

function approveButton(upload, principal, reload) {
  const mine = upload.uploaded_by === principal.id;
  const approve = h("button", { type: "button", disabled: mine }, "تأیید و انتشار");
  approve.addEventListener("click", () => busy(approve, async () => {
    try {
      const done = await request(`/staff/transparency/uploads/${upload.id}/approve`, { method: "POST", auth: "staff" });
      await reload(`نسخهٔ ${fa(done.version)} «${done.title_fa}» منتشر شد.`);
    } catch (error) {
      approve.after(problemBox(error, "تأیید انجام نشد"));
    }
  }, "در حال انتشار…"));
  return h("div", { class: "actions" }, approve,
    mine ? h("p", { class: "hint" }, "پرونده‌ای را که خودتان بارگذاری کرده‌اید کس دیگری باید تأیید کند.") : null);
}

function uploadItem(upload, principal, reload) {
  const who = (name, stamp) => [h("span", { class: "ltr", dir: "ltr" }, name), `، ${jalali(stamp)}`];
  const shafaf = `/web/shafaf/dataset.html?slug=${encodeURIComponent(upload.slug)}`;
  return h("li", { class: "card", "data-upload": upload.id, "data-status": upload.status },
    h("h3", {}, upload.title_fa, " ", h("span", { class: "pill" }, nameOf("upload_status", upload.status))),
    h("dl", { class: "facts" },
      h("dt", {}, "پرونده"), h("dd", {}, h("span", { class: "ltr", dir: "ltr" }, upload.filename)),
      h("dt", {}, "تعداد ردیف"), h("dd", {}, fa(upload.row_count)),
      h("dt", {}, "بارگذاری"), h("dd", {}, who(upload.uploaded_by_name, upload.uploaded_at)),
      upload.note ? [h("dt", {}, "یادداشت"), h("dd", {}, upload.note)] : null,
      upload.version ? [h("dt", {}, "تأیید"), h("dd", {}, who(upload.decided_by_name, upload.decided_at)),
        h("dt", {}, "انتشار"), h("dd", {}, h("a", { href: shafaf }, `نسخهٔ ${fa(upload.version)} در سامانهٔ شفاف`))] : null),
    upload.status === "pending" && APPROVES.includes(principal.role) ? approveButton(upload, principal, reload) : null);
}

staffPage({
  roles: [...new Set([...HANDS_IN, ...APPROVES])],
  purpose: "مدیران و کارشناسان واحدهای ستادی، و مدیر سامانه.",
  async render(principal, main) {
    const status = h("div", { id: "datasets-status" });
    const upload = h("div", { id: "upload" });
    const list = h("div", { id: "uploads", "aria-live": "polite" });
    let formShown = false;
    const reload = async (done = null) => {
      try {
        const data = await request("/staff/transparency/uploads", { auth: "staff" });
        if (!formShown && HANDS_IN.includes(principal.role)) clear(upload, uploadForm(data.datasets, reload));
        formShown = true;
        clear(status, done ? message("ok", done) : null);
        clear(list, data.items.length
          ? h("ul", { class: "list" }, data.items.map((u) => uploadItem(u, principal, reload)))
          : h("p", {}, "هنوز پرونده‌ای بارگذاری نشده است."));
        if (done) { status.querySelector(".alert").focus(); announce(done); }
      } catch (error) {
        clear(list, problemBox(error, "فهرست پرونده‌ها باز نشد"));
      }
    };
    clear(main, status, upload, h("h2", {}, "پرونده‌های بارگذاری‌شده"), list);
    await reload();
  },
});
