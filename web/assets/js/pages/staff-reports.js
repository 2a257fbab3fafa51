// Dashboards per level (SPEC C13, C15): cases by kind and status, on-time rates per unit and manager,
// misses, the most frequent problems of the past year; and the managers' scorecards.
import { get } from "../api.js";
import { barChart, sizeBars } from "../charts.js";
import { fa, jalali, num, percent } from "../format.js";
import { $, busy, clear, field, h, problemBox, scroller, select } from "../ui.js";
import { REPORTS, ROLES_FA, staffPage } from "../staff.js";

const PERIODS = [
  { value: "7", label: "هفتهٔ گذشته" }, { value: "30", label: "۳۰ روز گذشته" },
  { value: "90", label: "سه ماه گذشته" }, { value: "365", label: "یک سال گذشته" },
];

function bounds(days) {
  const to = new Date();
  const from = new Date(to.getTime() - Number(days) * 86400_000);
  return `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
}

function counts(rows) {
  return rows.map((r) => ({ label: r.label_fa || r.key, value: r.count }));
}

function rates(rows, labelOf) {
  return rows.filter((r) => r.rate !== null && r.rate !== undefined).map((r) => ({
    label: labelOf(r), value: r.rate, text: `${percent(r.rate)} (${fa(r.on_time)} از ${fa(r.on_time + r.missed)})`,
    bad: r.rate < 0.8,
  }));
}

function scorecardTable(cards) {
  if (!cards.length) return h("p", {}, "در این بازه مهلتی به مدیران این حوزه سپرده نشده است.");
  return scroller(h("table", { class: "responsive-table", id: "scorecards" },
    h("caption", {}, "کارنامهٔ مدیران، از ضعیف‌ترین (امتیاز = درصد به‌موقع − ۵ برای هر مهلت ازدست‌رفته)"),
    h("thead", {}, h("tr", {}, ["مدیر", "واحد", "مهلت‌ها", "به‌موقع", "ازدست‌رفته", "دیرهنگام", "میانگین رسیدگی", "امتیاز"]
      .map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, cards.map((c) => h("tr", {},
      h("th", { scope: "row", "data-label": "مدیر" }, c.name, h("div", { class: "hint" }, ROLES_FA[c.role] || c.role || "")),
      h("td", { "data-label": "واحد" }, c.unit_fa || c.unit),
      h("td", { "data-label": "مهلت‌ها", class: "num" }, fa(c.hops)),
      h("td", { "data-label": "به‌موقع", class: "num" }, fa(c.on_time)),
      h("td", { "data-label": "ازدست‌رفته", class: "num" }, fa(c.missed)),
      h("td", { "data-label": "دیرهنگام", class: "num" }, fa(c.late ?? 0)),
      h("td", { "data-label": "میانگین رسیدگی", class: "num" }, c.avg_minutes === null || c.avg_minutes === undefined ? "—" : `${fa(Math.round(c.avg_minutes))} دقیقه`),
      h("td", { "data-label": "امتیاز", class: "num" }, c.score === null || c.score === undefined ? "—" : h("strong", {}, fa(c.score))))))));
}

async function load(days, out) {
  const query = bounds(days);
  const [board, cards] = await Promise.all([
    get(`/staff/reports/dashboard?${query}`, { auth: "staff" }),
    get(`/staff/reports/scorecards?${query}`, { auth: "staff" })]);
  clear(out,
    h("p", { id: "scope" }, "حوزه: ", h("strong", {}, board.scope_fa || board.scope), ` — از ${jalali(board.from)} تا ${jalali(board.to)}`),
    h("div", { class: "kpis" },
      h("div", { class: "kpi" }, "پرونده‌ها", h("b", { id: "total" }, num(board.total))),
      h("div", { class: "kpi" }, "مهلت‌های ازدست‌رفته", h("b", {}, num(board.misses?.count ?? 0))),
      h("div", { class: "kpi" }, "مدیران با کارنامه", h("b", {}, num(cards.items.length)))),
    h("div", { class: "grid two" },
      barChart({ id: "by-kind", title: "پرونده‌ها به تفکیک نوع", items: counts(board.by_kind || []) }),
      barChart({ id: "by-status", title: "پرونده‌ها به تفکیک وضعیت", items: counts(board.by_status || []) }),
      barChart({ id: "on-time-units", title: "درصد به‌موقع هر واحد", max: 1,
        items: rates(board.on_time_by_unit || [], (r) => r.unit_fa || r.unit),
        note: "سهم مهلت‌های بسته‌شده که به‌موقع انجام شد؛ زیر ۸۰٪ با رنگ قرمز." }),
      barChart({ id: "on-time-managers", title: "درصد به‌موقع هر مدیر", max: 1,
        items: rates(board.on_time_by_manager || [], (r) => r.name) }),
      barChart({ id: "misses", title: "مهلت‌های ازدست‌رفته به تفکیک واحد",
        items: (board.misses?.by_unit || []).map((r) => ({ label: r.unit_fa || r.unit, value: r.count, bad: true })) }),
      barChart({ id: "top-problems", title: "پرتکرارترین مسائل یک سال گذشته",
        items: (board.top_problems || []).map((r) => ({ label: r.label_fa || r.category, value: r.count })) }),
      barChart({ id: "by-category", title: "پرونده‌ها به تفکیک موضوع", items: counts(board.by_category || []) }),
      barChart({ id: "by-center", title: "مراکزی که بیشترین پرونده را داشتند", items: counts(board.by_center || []) })),
    h("section", { class: "card", "aria-labelledby": "cards-title" },
      h("h2", { id: "cards-title" }, "کارنامهٔ مدیران"), scorecardTable(cards.items)));
  sizeBars(out);
}

staffPage({
  roles: REPORTS,
  purpose: "مدیران، بازرسان و مدیر سامانه گزارش‌های حوزهٔ خود را می‌بینند.",
  async render(principal, main) {
    const period = select(PERIODS, { value: "30" });
    const show = h("button", { type: "submit", class: "secondary" }, "نمایش");
    const out = h("div", { id: "report", "aria-live": "polite", "aria-busy": "false" });
    const form = h("form", { class: "toolbar no-print", "aria-label": "بازهٔ گزارش" },
      field({ label: "بازه", name: "period", control: period }), show,
      h("button", { type: "button", class: "secondary", onclick: () => window.print() }, "چاپ"));
    const run = () => busy(show, async () => {
      out.setAttribute("aria-busy", "true");
      try {
        await load(period.value, out);
      } catch (error) {
        clear(out, problemBox(error, "گزارش باز نشد"));
      } finally {
        out.setAttribute("aria-busy", "false");
      }
    });
    form.addEventListener("submit", (event) => { event.preventDefault(); run(); });
    clear(main, form, out);
    await run();
    $("#scope")?.setAttribute("tabindex", "-1");
  },
});
