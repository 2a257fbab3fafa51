// One dataset: its description, columns and rows (search, filter, sort, pages), downloads of each version,
// and a check of every version's signature and chain, here in the browser (WebCrypto Ed25519).
import { ApiError, get } from "../api.js";
import { byPersianName, fa, faText, isLatinId, jalali, jalaliDate, jalaliMonth, latin, nameOf, num } from "../format.js";
import { NAMES } from "../names-fa.js";
import { T, cryptoAvailable, downloads, importPublicKey, latinId, shafafProblem, verifyVersions } from "../shafaf.js";
import { $, announce, busy, clear, field, h, markCurrentNav, message, problemBox, scroller, select } from "../ui.js";

const slug = new URLSearchParams(location.search).get("slug") || "";
let detail = null;
let cursors = [null];  // the `after` of each page seen, for "previous"
let matched = null;  // how many rows the current search finds ({ count, capped }), told by its first page
// Rows asked so far: an answer to an earlier request that comes after a later one is dropped (a slow first load
// once replaced a province's search results with every row).
let rowsAsked = 0;
const FRACTIONS = new Intl.NumberFormat("fa-IR", { maximumFractionDigits: 4 });

const MONTH = /^\d{4}-\d{2}$/;
const PAGE = 20;

/** A column's title for people: «تاریخ امضا (میلادی)» is shown in Jalali, so without «(میلادی)»; no «(کد)». */
function titleOf(column) {
  const title = column.type === "date" ? column.title_fa.replace(/\s*\(میلادی\)/, "") : column.title_fa;
  return title.replace(/\s*\(کد(؛[^)]*)?\)/, "").trim();
}

/** The column that names a code column in Persian (services/transparency/browse.py label_column). */
function labelColumn(name, names) {
  if (names.has(`${name}_fa`)) return `${name}_fa`;
  if (name.endsWith("_code") && names.has(`${name.slice(0, -5)}_fa`)) return `${name.slice(0, -5)}_fa`;
  return null;
}

/**
 * The columns a person reads: a code is left out where its Persian name is beside it (the download has both),
 * and a date's `_jalali` text where the date itself is shown (in Jalali).
 */
function shownColumns(columns) {
  const names = new Set(columns.map((c) => c.name));
  const dates = new Set(columns.filter((c) => c.type === "date").map((c) => c.name));
  return columns.filter((c) => !labelColumn(c.name, names)
    && !(c.name === "period" && names.has("label_fa"))  // `monthly:1405-08`: its Persian name «آذر ۱۴۰۵» is beside it
    && !(c.name.endsWith("_jalali") && dates.has(c.name.slice(0, -"_jalali".length))));
}

/** One cell as people read it: Jalali dates, Persian digits in Persian text and numbers, Persian names for
 * codes; an internal id in Latin letters stays as it is (left to right), as it is copied and searched. */
function cell(column, value, row) {
  if (value === null || value === undefined || value === "") return "—";
  if (column.type === "date") return row[`${column.name}_jalali`] ? fa(row[`${column.name}_jalali`]) : jalaliDate(value);
  if (typeof value === "number") {
    if (column.type === "integer") return /year/.test(column.name) ? fa(value) : num(value);
    return FRACTIONS.format(value);
  }
  if (typeof value === "boolean") return nameOf("boolean", String(value));
  if (Array.isArray(value) || typeof value === "object") return JSON.stringify(value);
  if (NAMES[column.name]) return nameOf(column.name, value);
  if (/month$/.test(column.name) && MONTH.test(value)) return jalaliMonth(value);
  return isLatinId(value) ? latinId(value) : faText(value);
}

/** A filter: a picker of Persian names where the values are codes, else a box for the exact value. */
function filterField(column) {
  const label = titleOf(column);
  const options = column.choices?.length ? byPersianName(column.choices.map((c) => ({ value: c.value, label: c.title_fa })))
    : column.type === "boolean" ? [{ value: "true", label: nameOf("boolean", "true") }, { value: "false", label: nameOf("boolean", "false") }]
      : NAMES[column.name] ? Object.entries(NAMES[column.name]).map(([value, name]) => ({ value, label: name })) : null;
  if (options) return field({ label, name: column.name, control: select(options, { empty: "— همه —" }) });
  return field({ label: `${label} (دقیقاً)`, name: column.name,
    control: h("input", { type: "text", autocomplete: "off", inputmode: column.type === "integer" ? "numeric" : null }) });
}

function rowsQuery(after) {
  const form = $("#rows-form");
  const params = new URLSearchParams();
  const data = new FormData(form);
  for (const [key, value] of data.entries()) if (String(value).trim()) params.set(key, key === "q" ? String(value).trim() : latin(value));
  params.set("limit", String(PAGE));
  if (after) params.set("after", after);
  return params.toString();
}

/** Which rows these are, of how many: the version's count when nothing narrows them, else how many the search finds. */
function rowsLine(page, data, narrowed) {
  const first = page * PAGE + 1;
  const last = page * PAGE + data.items.length;
  const range = `ردیف‌های ${num(first)} تا ${num(last)}`;
  if (!narrowed) return `صفحهٔ ${fa(page + 1)} از ${num(Math.max(1, Math.ceil(detail.row_count / PAGE)))}: ${range} از ${num(detail.row_count)} ردیف`;
  if (matched && !matched.capped) {
    return `صفحهٔ ${fa(page + 1)} از ${num(Math.max(1, Math.ceil(matched.count / PAGE)))}: ${range} از ${num(matched.count)} ردیف یافته (همهٔ مجموعه ${num(detail.row_count)} ردیف)`;
  }
  if (matched) return `صفحهٔ ${fa(page + 1)}: ${range} از بیش از ${num(matched.count)} ردیف یافته (همهٔ مجموعه ${num(detail.row_count)} ردیف)`;
  return data.next ? `صفحهٔ ${fa(page + 1)}: ${range} از ردیف‌های یافته (همهٔ مجموعه ${num(detail.row_count)} ردیف)`
    : `صفحهٔ ${fa(page + 1)}، آخرین صفحه: ${range}؛ ${num(last)} ردیف یافته شد از ${num(detail.row_count)} ردیف مجموعه`;
}

function narrowed() {
  return [...new FormData($("#rows-form")).entries()].some(([key, value]) => !["sort", "order"].includes(key) && String(value).trim());
}

/** A page of rows; `moved` (the previous or next page): the focus and the scroll go to the top of the new rows. */
async function loadRows(page = 0, { moved = false } = {}) {
  const out = $("#rows-out");
  const mine = ++rowsAsked;
  out.setAttribute("aria-busy", "true");
  try {
    const data = await get(`${T}/datasets/${encodeURIComponent(slug)}/rows?${rowsQuery(cursors[page])}`);
    if (mine !== rowsAsked) return;  // a later search or page was asked meanwhile: its answer is the one shown
    cursors = cursors.slice(0, page + 1);
    if (data.next) cursors.push(data.next);
    if (page === 0) matched = data.matched == null ? null : { count: data.matched, capped: Boolean(data.matched_capped) };
    const columns = shownColumns(detail.columns);
    const previous = h("button", { type: "button", class: "secondary small", disabled: page === 0 }, "صفحهٔ قبل");
    const next = h("button", { type: "button", class: "secondary small", disabled: !data.next }, "صفحهٔ بعد");
    previous.addEventListener("click", () => busy(previous, () => loadRows(page - 1, { moved: true })));
    next.addEventListener("click", () => busy(next, () => loadRows(page + 1, { moved: true })));
    clear(out,
      h("p", { role: "status", id: "rows-status" }, data.items.length
        ? `${rowsLine(page, data, narrowed())} (نسخهٔ ${fa(data.version ?? detail.version)})`
        : "ردیفی با این جست‌وجو نیست."),
      data.items.length ? scroller(h("table", { class: "responsive-table wide", id: "rows" },
        h("caption", { class: "visually-hidden" }, `ردیف‌های ${detail.title_fa}`),
        h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, titleOf(c))))),
        h("tbody", {}, data.items.map((row) => h("tr", {}, columns.map((c) =>
          h("td", { "data-label": titleOf(c), "data-column": c.name }, cell(c, row[c.name], row)))))))) : null,
      h("div", { class: "actions" }, previous, next));
    if (moved) {
      $("#rows-title").scrollIntoView({ block: "start" });
      (out.querySelector(".table-wrap") || $("#rows-status")).focus({ preventScroll: true });
    }
  } catch (error) {
    if (mine !== rowsAsked) return;
    clear(out, error instanceof ApiError && error.status === 400 ? problemBox(error, "جست‌وجو پذیرفته نشد") : shafafProblem(error));
  } finally {
    if (mine === rowsAsked) out.setAttribute("aria-busy", "false");
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
        control: select(sortable.map((c) => ({ value: c.name, label: titleOf(c) })), { empty: "— پیش‌فرض —" }) }) : null,
      sortable.length ? field({ label: "ترتیب", name: "order",
        control: select([{ value: "asc", label: "صعودی" }, { value: "desc", label: "نزولی" }]) }) : null,
      filterable.map(filterField)),
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
      + "این بررسی در همین مرورگر انجام می‌شود. ردیف‌های هر نسخه را هم می‌توان با فایل JSON همان نسخه سنجید؛ "
      + "روش آن در مستندات API آمده است."),
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
        h("dt", {}, "پروانه"), h("dd", { id: "licence" }, detail.licence
          ? [nameOf("licence", detail.licence), " (", latinId(detail.licence), ")"] : "—"),
        h("dt", {}, "نسخهٔ کنونی"), h("dd", {}, detail.version ? `${fa(detail.version)} — ${detail.published_at_fa || jalali(detail.published_at)}` : "منتشر نشده"),
        h("dt", {}, "ردیف‌ها"), h("dd", {}, num(detail.row_count)),
        h("dt", {}, "دریافت"), h("dd", {}, downloads(slug, detail.formats).map((link, i) => [i ? "، " : "",
          h("a", { href: link.href, download: "" }, link.label)]))),
      h("details", { class: "data-table" }, h("summary", {}, `ستون‌ها (${fa(detail.columns.length)})`),
        scroller(h("table", { id: "columns" }, h("caption", { class: "visually-hidden" }, "ستون‌ها"),
          h("thead", {}, h("tr", {}, ["عنوان", "نوع", "نام در فایل‌های دریافتی"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, detail.columns.map((c) => h("tr", {}, h("td", {}, c.title_fa), h("td", {}, nameOf("column_type", c.type)),
            h("td", {}, latinId(c.name))))))))),
    rowsSection(),
    versionsSection());
  loadRows(0);
}

main();
