// Shafaf (SPEC T2–T12): every dataset, searchable; downloads in every format; the budget lines and
// what was spent, as charts.
import { get } from "../api.js";
import { barChart, sizeBars } from "../charts.js";
import { byPersianName, choicesOf, fa, jalali, nameOf, num, percent } from "../format.js";
import { T, downloads, normalise, shafafProblem } from "../shafaf.js";
import { $, clear, field, h, markCurrentNav, problemBox, scroller, select } from "../ui.js";

let datasets = [];

function datasetCard(d) {
  return h("li", { class: "card", "data-slug": d.slug },
    h("h3", {}, h("a", { href: `/web/shafaf/dataset.html?slug=${encodeURIComponent(d.slug)}` }, d.title_fa)),
    h("p", {}, d.description_fa),
    h("p", { class: "hint" }, d.version
      ? `نسخهٔ ${fa(d.version)} — منتشرشده ${d.published_at_fa || jalali(d.published_at)} — ${num(d.row_count)} ردیف`
      : "هنوز منتشر نشده است"),
    d.version ? h("p", {}, "دریافت: ", downloads(d.slug, d.formats).map((link, i) => [i ? "، " : "",
      h("a", { href: link.href, download: "", "aria-label": `دریافت ${d.title_fa} با قالب ${link.label}` }, link.label)])) : null);
}

function renderList() {
  const query = normalise($("#dataset-q").value.trim());
  const words = query.split(/\s+/).filter(Boolean);
  const shown = datasets.filter((d) => {
    const text = normalise([d.title_fa, d.description_fa, ...(d.keywords_fa || []), d.slug].join(" "));
    return words.every((w) => text.includes(w));
  });
  $("#dataset-count").textContent = words.length
    ? `${fa(shown.length)} مجموعه‌داده از ${fa(datasets.length)} با «${$("#dataset-q").value.trim()}»`
    : `${fa(datasets.length)} مجموعه‌داده`;
  clear($("#dataset-list"), shown.length ? shown.map(datasetCard) : h("li", {}, "مجموعه‌داده‌ای با این واژه‌ها نیست."));
}

function catalogSection() {
  const q = h("input", { type: "search", id: "dataset-q", autocomplete: "off" });
  q.addEventListener("input", renderList);
  return h("section", { "aria-labelledby": "datasets-title" },
    h("h2", { id: "datasets-title" }, "مجموعه‌داده‌ها"),
    h("form", { role: "search", class: "toolbar", "aria-label": "جست‌وجوی مجموعه‌داده‌ها",
      onsubmit: (e) => e.preventDefault() },
    field({ label: "جست‌وجو در عنوان و توضیح", name: "q", control: q })),
    h("p", { id: "dataset-count", role: "status" }),
    h("ul", { class: "list grid", id: "dataset-list" }, h("li", {}, "در حال بارگذاری…")),
    h("p", {}, "برای سامانه‌های دیگر: ", h("a", { href: `${T}/catalog.jsonld` }, "کاتالوگ DCAT-AP (JSON-LD)"),
      "؛ ", h("a", { href: `${T}/public-key` }, "کلید عمومی امضای انتشارها")));
}

async function loadCatalog() {
  try {
    datasets = (await get(`${T}/datasets`)).items;
    renderList();
  } catch (error) {
    clear($("#dataset-list"), h("li", {}, shafafProblem(error)));
    $("#dataset-count").textContent = "";
  }
}

// --- budget and spending -------------------------------------------------------------------------------
async function budgetCharts(out) {
  try {
    const lines = (await get("/payments/budget-lines")).items;
    const total = lines.reduce((sum, l) => sum + l.yearly_allocation_rials, 0);
    clear(out,
      barChart({ id: "budget-allocation", title: `اعتبار سالانهٔ ۱۶ ردیف بودجه (سال ${fa(lines[0]?.year || "")}، به میلیارد ریال)`,
        items: lines.map((l) => ({ label: l.title_fa, value: l.yearly_allocation_rials,
          text: `${num(Math.round(l.yearly_allocation_rials / 1e9))} (${percent(l.yearly_allocation_rials / total)})` })) }),
      barChart({ id: "budget-spent", title: "هزینه‌شده از اعتبار هر ردیف", max: 1,
        items: lines.map((l) => ({ label: l.title_fa, value: l.yearly_allocation_rials ? l.spent_rials / l.yearly_allocation_rials : 0,
          text: `${percent(l.yearly_allocation_rials ? l.spent_rials / l.yearly_allocation_rials : 0)} — ${num(l.spent_rials)} ریال` })) }),
      h("details", { class: "data-table card" }, h("summary", {}, "جدول ردیف‌ها: سرانه، هدف و مبنای قانونی"),
        scroller(h("table", { class: "responsive-table" },
          h("caption", {}, "ردیف‌های بودجه"),
          h("thead", {}, h("tr", {}, ["ردیف", "سرانه (ریال)", "هدف", "مبنای قانونی"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, lines.map((l) => h("tr", {},
            h("th", { scope: "row", "data-label": "ردیف" }, l.title_fa),
            h("td", { "data-label": "سرانه", class: "num" }, num(l.per_capita_rials)),
            h("td", { "data-label": "هدف" }, l.purpose_fa),
            h("td", { "data-label": "مبنای قانونی" }, l.legal_basis_fa))))))));
    sizeBars(out);
  } catch (error) {
    clear(out, problemBox(error, "ردیف‌های بودجه باز نشد"));
  }
}

async function spendingChart(by, out) {
  try {
    const data = await get(`${T}/spending?by=${by}`);
    // provinces in the order of their Persian names (البرز، اردبیل، …), not of their English codes; months in time
    const cells = by === "province" ? byPersianName(data.cells || [], (c) => c.title_fa || c.key) : data.cells || [];
    clear(out,
      h("p", {}, `جمع پرداخت به مددجویان: ${data.amount_rials === null ? "—" : `${num(data.amount_rials)} ریال`}`
        + (data.households === null ? "" : ` به ${num(data.households)} خانوار`)),
      barChart({ id: "spending", title: `پرداخت‌ها به تفکیک ${nameOf("spending_by", by)} (ریال)`,
        note: `خانه‌ای با کمتر از ${fa(data.threshold ?? 5)} خانوار برای حفظ حریم افراد منتشر نمی‌شود (—).`,
        items: cells.map((c) => ({ label: c.title_fa || c.key, value: c.amount_rials ?? 0,
          text: c.amount_rials === null ? "—" : num(c.amount_rials) })) }));
    sizeBars(out);
  } catch (error) {
    clear(out, shafafProblem(error, "آمار هزینه‌کرد باز نشد"));
  }
}

function budgetSection() {
  const by = select(choicesOf("spending_by"), { value: "line" });
  const spending = h("div", { id: "spending-out" });
  by.addEventListener("change", () => spendingChart(by.value, spending));
  const lines = h("div", { id: "budget-out" });
  const section = h("section", { "aria-labelledby": "budget" },
    h("h2", { id: "budget", tabindex: "-1" }, "بودجه و هزینه‌کرد"),
    h("p", { class: "hint", id: "money-unit" }, "همهٔ مبلغ‌های این بخش به ریال است."),
    lines,
    h("h3", {}, "پرداخت‌های انجام‌شده"),
    h("div", { class: "toolbar" }, field({ label: "تفکیک بر اساس", name: "by", control: by })),
    spending);
  budgetCharts(lines);
  spendingChart("line", spending);
  return section;
}

markCurrentNav();
clear($("#content"), catalogSection(), budgetSection());
loadCatalog();
if (location.hash === "#budget") setTimeout(() => $("#budget").focus(), 300);
