// One dataset: its description, columns and rows (search, filter, sort, pages), downloads of each version,
// and a check of every version's signature and chain, here in the browser (WebCrypto Ed25519).
import { ApiError, get } from "../api.js";
import { fa, jalali, num } from "../fa.js";
import { T, cryptoAvailable, downloads, importPublicKey, shafafProblem, verifyVersions } from "../shafaf.js";
import { $, announce, busy, clear, field, h, markCurrentNav, message, problemBox, scroller, select } from "../ui.js";

const slug = new URLSearchParams(location.search).get("slug") || "";
let detail = null;
let cursors = [null];  // the `after` of each page seen, for "previous"
const FRACTIONS = new Intl.NumberFormat("fa-IR", { maximumFractionDigits: 4 });

function cell(column, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "number") {
    if (column.type === "integer") return /year/.test(column.name) ? fa(value) : num(value);
    return FRACTIONS.format(value);
  }
  if (typeof value === "boolean") return value ? "بله" : "خیر";
  if (Array.isArray(value) || typeof value === "object") return JSON.stringify(value);
  return fa(value);
}

function rowsQuery(after) {
  const form = $("#rows-form");
  const params = new URLSearchParams();
  const data = new FormData(form);
  for (const [key, value] of data.entries()) if (String(value).trim()) params.set(key, String(value).trim());
  params.set("limit", "20");
  if (after) params.set("after", after);
  return params.toString();
}

async function loadRows(page = 0) {
  const out = $("#rows-out");
  out.setAttribute("aria-busy", "true");
  try {
    const data = await get(`${T}/datasets/${encodeURIComponent(slug)}/rows?${rowsQuery(cursors[page])}`);
    cursors = cursors.slice(0, page + 1);
    if (data.next) cursors.push(data.next);
    // a code beside its Persian name (kind, kind_fa): people read the name; the download has both
    const names = new Set(detail.columns.map((c) => c.name));
    const columns = detail.columns.filter((c) => !names.has(`${c.name}_fa`));
    const previous = h("button", { type: "button", class: "secondary small", disabled: page === 0 }, "صفحهٔ قبل");
    const next = h("button", { type: "button", class: "secondary small", disabled: !data.next }, "صفحهٔ بعد");
    previous.addEventListener("click", () => loadRows(page - 1));
    next.addEventListener("click", () => loadRows(page + 1));
    clear(out,
      h("p", { role: "status", id: "rows-status" }, data.items.length
        ? `صفحهٔ ${fa(page + 1)}: ${fa(data.items.length)} ردیف (نسخهٔ ${fa(data.version ?? detail.version)})`
        : "ردیفی با این جست‌وجو نیست."),
      data.items.length ? scroller(h("table", { class: "responsive-table wide", id: "rows" },
        h("caption", { class: "visually-hidden" }, `ردیف‌های ${detail.title_fa}`),
        h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.title_fa)))),
        h("tbody", {}, data.items.map((row) => h("tr", {}, columns.map((c) =>
          h("td", { "data-label": c.title_fa }, cell(c, row[c.name])))))))) : null,
      h("div", { class: "actions" }, previous, next));
  } catch (error) {
    clear(out, error instanceof ApiError && error.status === 400 ? problemBox(error, "جست‌وجو پذیرفته نشد") : shafafProblem(error));
  } finally {
    out.setAttribute("aria-busy", "false");
  }
}

function rowsSection() {
  const cols = detail.columns;
  const sortable = cols.filter((c) => c.sortable);
  const filterable = cols.filter((c) => c.filterable);
  const submit = h("button", { type: "submit" }, "جست‌وجو");
  const form = h("form", { id: "rows-form", role: "search", novalidate: true, "aria-label": `جست‌وجو در ${detail.title_fa}` },
    h("div", { class: "grid" },
      field({ label: "جست‌وجو", name: "q", control: h("input", { type: "search", autocomplete: "off" }),
        hint: "با حروف فارسی یا عربی و هر نوع رقم." }),
      sortable.length ? field({ label: "مرتب‌سازی", name: "sort",
        control: select(sortable.map((c) => ({ value: c.name, label: c.title_fa })), { empty: "— پیش‌فرض —" }) }) : null,
      sortable.length ? field({ label: "ترتیب", name: "order",
        control: select([{ value: "asc", label: "صعودی" }, { value: "desc", label: "نزولی" }]) }) : null,
      filterable.map((c) => field({ label: `${c.title_fa} (دقیقاً)`, name: c.name,
        control: h("input", { type: "text", autocomplete: "off" }) }))),
    h("div", { class: "actions" }, submit, h("button", { type: "reset", class: "secondary" }, "پاک کردن")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    cursors = [null];
    busy(submit, () => loadRows(0));
  });
  form.addEventListener("reset", () => setTimeout(() => { cursors = [null]; loadRows(0); }, 0));
  return h("section", { class: "card", "aria-labelledby": "rows-title" },
    h("h2", { id: "rows-title" }, "ردیف‌ها"), form, h("div", { id: "rows-out" }));
}

function versionsSection() {
  const verify = h("button", { type: "button", id: "verify" }, "بررسی امضای همهٔ نسخه‌ها");
  const section = h("section", { class: "card", "aria-labelledby": "versions-title" },
    h("h2", { id: "versions-title" }, "نسخه‌ها و امضا"),
    h("p", { class: "hint" }, "هر انتشار نسخه‌ای تازه است و هیچ نسخه‌ای ویرایش نمی‌شود. هر نسخه با کلید سازمان امضا شده و به نسخهٔ پیش از خود زنجیر شده است؛ "
      + "این بررسی در همین مرورگر انجام می‌شود. برای بررسی ردیف‌ها هم: python -m services.transparency.verify --api <نشانی>"),
    scroller(h("table", { id: "versions" },
      h("caption", {}, `${fa(detail.versions.length)} نسخه`),
      h("thead", {}, h("tr", {}, ["نسخه", "انتشار", "ردیف‌ها", "یادداشت", "دریافت", "امضا"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, detail.versions.map((v) => h("tr", { "data-version": String(v.version) },
        h("th", { scope: "row" }, fa(v.version)),
        h("td", {}, jalali(v.published_at)),
        h("td", { class: "num" }, num(v.row_count)),
        h("td", {}, v.note || "—"),
        h("td", {}, downloads(slug, detail.formats, v.version).slice(0, 2).map((link, i) => [i ? "، " : "",
          h("a", { href: link.href, download: "", "aria-label": `دریافت نسخهٔ ${fa(v.version)} با قالب ${link.label}` }, link.label)])),
        h("td", { class: "verdict", "data-version": String(v.version) }, "بررسی نشده")))))),
    h("div", { class: "actions" }, verify),
    h("div", { id: "verify-out" }));
  verify.addEventListener("click", () => busy(verify, checkSignatures, "در حال بررسی…"));
  return section;
}

async function checkSignatures() {
  const out = $("#verify-out");
  if (!cryptoAvailable()) {
    clear(out, message("warn", "این مرورگر بررسی امضا را پشتیبانی نمی‌کند", h("p", {}, "صفحه را با نشانی امن (HTTPS) یا مرورگر تازه‌تری باز کنید.")));
    return;
  }
  try {
    const published = await get(`${T}/public-key`);
    let key;
    try {
      key = await importPublicKey(published.public_key);
    } catch {
      clear(out, message("warn", "این مرورگر امضای Ed25519 را پشتیبانی نمی‌کند", h("p", {}, "مرورگر را به‌روز کنید.")));
      return;
    }
    // each version's record as the API answers it at its own address
    const records = [];
    for (const v of detail.versions) records.push(await get(`${T}/datasets/${encodeURIComponent(slug)}/versions/${v.version}`));
    const results = await verifyVersions(records, key);
    let intact = true;
    for (const r of results) {
      const ok = r.signature && r.record !== false && r.chain !== false;
      intact &&= ok;
      const verdict = $(`td.verdict[data-version="${r.version}"]`);
      if (verdict) {
        verdict.textContent = ok ? "✓ امضا و زنجیره درست است"
          : `✗ ${[!r.signature && "امضا نادرست", r.record === false && "رکورد دست‌خورده", r.chain === false && "زنجیره گسسته"].filter(Boolean).join("، ")}`;
        verdict.dataset.ok = String(ok);
      }
    }
    clear(out, intact
      ? message("ok", "همهٔ نسخه‌ها سالم است", h("p", { id: "verify-result", "data-ok": "true" },
        `امضای ${fa(results.length)} نسخه با کلید عمومی سازمان (Ed25519) درست است و هر نسخه به نسخهٔ پیش از خود زنجیر شده است.`))
      : message("error", "نسخه‌ای دست‌خورده است", h("p", { id: "verify-result", "data-ok": "false" },
        "دست‌کم یک نسخه امضا یا زنجیرهٔ درستی ندارد؛ جزئیات در جدول آمده است.")));
    out.querySelector(".alert").focus();
    announce(intact ? "امضای همهٔ نسخه‌ها درست است." : "نسخه‌ای دست‌خورده است.");
  } catch (error) {
    clear(out, shafafProblem(error, "بررسی امضا انجام نشد"));
  }
}

async function main() {
  markCurrentNav();
  const content = $("#content");
  if (!/^[a-z][a-z0-9_]{1,40}$/.test(slug)) {
    clear(content, message("warn", "مجموعه‌داده‌ای انتخاب نشده است", h("p", {}, h("a", { href: "/web/shafaf/" }, "فهرست مجموعه‌داده‌ها"))));
    return;
  }
  try {
    detail = await get(`${T}/datasets/${encodeURIComponent(slug)}`);
  } catch (error) {
    clear(content, error instanceof ApiError && error.status === 404 && !error.routeMissing
      ? message("warn", "چنین مجموعه‌داده‌ای منتشر نشده است", h("p", {}, h("a", { href: "/web/shafaf/" }, "فهرست مجموعه‌داده‌ها")))
      : shafafProblem(error));
    return;
  }
  document.title = `${detail.title_fa} — شفاف`;
  $("main h1").textContent = detail.title_fa;
  clear(content,
    h("section", { class: "card", "aria-labelledby": "about-title" },
      h("h2", { id: "about-title" }, "دربارهٔ این مجموعه‌داده"),
      h("p", {}, detail.description_fa),
      h("dl", { class: "facts" },
        h("dt", {}, "ناشر"), h("dd", {}, detail.publisher_fa || "سازمان بهزیستی کشور"),
        h("dt", {}, "پروانه"), h("dd", { class: "ltr" }, detail.licence || "—"),
        h("dt", {}, "نسخهٔ کنونی"), h("dd", {}, detail.version ? `${fa(detail.version)} — ${detail.published_at_fa || jalali(detail.published_at)}` : "منتشر نشده"),
        h("dt", {}, "ردیف‌ها"), h("dd", {}, num(detail.row_count)),
        h("dt", {}, "دریافت"), h("dd", {}, downloads(slug, detail.formats).map((link, i) => [i ? "، " : "",
          h("a", { href: link.href, download: "" }, link.label)]))),
      h("details", { class: "data-table" }, h("summary", {}, `ستون‌ها (${fa(detail.columns.length)})`),
        h("table", {}, h("caption", { class: "visually-hidden" }, "ستون‌ها"),
          h("thead", {}, h("tr", {}, ["نام", "عنوان", "نوع"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, detail.columns.map((c) => h("tr", {}, h("td", { class: "ltr" }, c.name), h("td", {}, c.title_fa),
            h("td", { class: "ltr" }, c.type))))))),
    rowsSection(),
    versionsSection());
  loadRows(0);
}

main();
