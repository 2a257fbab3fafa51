// The cartable (SPEC C14): the cases waiting on my unit, nearest deadline first (or newest first), searched and
// filtered, a page at a time (the API's keyset `next`), each with an excerpt and a live countdown; and my in-app
// notifications (SPEC N2).
import { get, post } from "../api.js";
import { categoryControl, codeText } from "../cases.js";
import { clock, fa, jalali, nameOf } from "../format.js";
import { NAMES } from "../names-fa.js";
import { $, $$, announce, busy, clear, field, h, problemBox, scroller, select } from "../ui.js";
import { ACTING, ALL, staffPage } from "../staff.js";

const REFRESH_MS = 60_000;
const SOON_SECONDS = 3600;
let deadlines = [];
let timer = null;

function countdownText(secondsLeft) {
  if (secondsLeft < 0) return `${clock(-secondsLeft)} گذشته`;
  return `${clock(secondsLeft)} مانده`;
}

function tick() {
  const now = Date.now();
  for (const item of deadlines) {
    const left = Math.round((item.due - now) / 1000);
    item.node.textContent = countdownText(left);
    const row = item.node.closest("tr");
    row.classList.toggle("overdue", left < 0);
    item.pill.hidden = !(left < SOON_SECONDS);
    item.pill.className = left < 0 ? "pill overdue" : "pill soon";
    item.pill.textContent = left < 0 ? "مهلت گذشته" : "نزدیک به پایان مهلت";
  }
}

const PAGE = 50;
const HEADINGS = ["کد رهگیری", "نوع", "خلاصهٔ متن", "وضعیت", "ثبت", "مهلت", "زمان مانده"];

function row(item) {
  const node = h("span", { class: "countdown", "data-seconds-left": String(item.seconds_left) });
  const pill = h("span", { class: "pill soon", hidden: true });
  deadlines.push({ node, pill, due: Date.now() + item.seconds_left * 1000 });
  return h("tr", { "data-code": item.tracking_code },
    h("td", { "data-label": "کد رهگیری" },
      h("a", { href: `/web/staff/case.html?code=${item.tracking_code}` }, codeText(item.tracking_code))),
    h("td", { "data-label": "نوع" }, item.kind_fa, " ",
      item.urgency === "urgent" ? h("span", { class: "pill urgent" }, nameOf("urgency", "urgent")) : null),
    h("td", { "data-label": "خلاصهٔ متن", class: "excerpt" }, item.excerpt),
    h("td", { "data-label": "وضعیت" }, item.status_fa),
    h("td", { "data-label": "ثبت" }, jalali(item.registered_at)),
    h("td", { "data-label": "مهلت" }, jalali(item.deadline_at)),
    h("td", { "data-label": "زمان مانده" }, node, " ", pill));
}

function table() {
  deadlines = [];
  return scroller(h("table", { class: "responsive-table", id: "cartable-table" },
    h("caption", { id: "cartable-caption" }),
    h("thead", {}, h("tr", {}, HEADINGS.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {})));
}

/** The filters as the API takes them (the codes; the pickers show their Persian names). */
function filtersOf(form) {
  const query = new URLSearchParams();
  for (const name of ["q", "kind", "urgency", "category", "due", "order"]) {
    const value = form.elements[name].value.trim();
    if (value) query.set(name, value);
  }
  return query;
}

function picker(label, name, group, empty) {
  const options = Object.entries(NAMES[group]).map(([value, title]) => ({ value, label: title }));
  return field({ label, name, control: select(options, empty === null ? {} : { empty }) });
}

function filterForm(onSearch) {
  const q = h("input", { type: "search", autocomplete: "off", maxlength: "100" });
  const category = field({ label: "موضوع", name: "category", control: categoryControl() });
  category.querySelector("option[value='']").textContent = "همه";
  const submit = h("button", { type: "submit" }, "جست‌وجو");
  const reset = h("button", { type: "reset", class: "secondary" }, "پاک کردن");
  const form = h("form", { class: "filters", id: "cartable-filters", role: "search", novalidate: true,
    "aria-label": "جست‌وجو و صافی کارتابل" },
    field({ label: "جست‌وجو", name: "q", control: q,
      hint: "کد رهگیری (یا چند رقم آن) یا واژه‌ای از متن؛ بازرسی با شمارهٔ همراه گزارش‌دهنده هم می‌تواند." }),
    h("div", { class: "filter-row" },
      picker("نوع", "kind", "case_kind", "همه"), picker("فوریت", "urgency", "urgency", "همه"), category,
      picker("مهلت", "due", "deadline_due", "همه"), picker("ترتیب", "order", "cartable_order", null)),
    h("div", { class: "actions" }, submit, reset));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, () => onSearch(filtersOf(form)), "در حال جست‌وجو…");
  });
  form.addEventListener("reset", () => setTimeout(() => onSearch(filtersOf(form))));
  return form;
}

async function loadCartable(section, query, { more = false } = {}) {
  const body = $("#cartable-body", section);
  const stamp = $("#cartable-stamp", section);
  const params = new URLSearchParams(query);
  params.set("limit", String(PAGE));
  if (more) params.set("after", section.dataset.next);
  try {
    const page = await get(`/staff/cartable?${params}`, { auth: "staff" });
    if (!more) {
      clear(body, page.items.length ? table()
        : h("p", { id: "cartable-empty" }, query.toString()
          ? "پرونده‌ای با این جست‌وجو و صافی در کارتابل شما نیست."
          : "کارتابل شما خالی است: پرونده‌ای منتظر واحد شما نیست."));
    }
    const tbody = $("#cartable-table tbody", body);
    if (tbody) tbody.append(...page.items.map(row));
    const shown = $$("#cartable-table tbody tr", body).length;
    const caption = $("#cartable-caption", body);
    if (caption) caption.textContent = `${fa(shown)} پرونده${page.next ? " (پرونده‌های بیشتری هم هست)" : ""}`;
    section.dataset.next = page.next || "";
    $("#cartable-more", section).hidden = !page.next;
    stamp.textContent = `به‌روز شده: ${jalali(new Date().toISOString())}`;
    if (more) announce(`${fa(page.items.length)} پروندهٔ دیگر افزوده شد؛ اکنون ${fa(shown)} پرونده.`);
    tick();
  } catch (error) {
    const box = problemBox(error, "کارتابل باز نشد");
    if (more) body.append(box); else clear(body, box);
  }
}

function cartable(principal) {
  let query = new URLSearchParams();
  const refresh = h("button", { type: "button", class: "secondary small" }, "به‌روزرسانی");
  const more = h("button", { type: "button", class: "secondary", id: "cartable-more", hidden: true }, "پرونده‌های بیشتر");
  const section = h("section", { class: "card", "aria-labelledby": "cartable-title" },
    h("h2", { id: "cartable-title" }, "کارتابل من"),
    h("p", { class: "hint" }, `پرونده‌هایی که منتظر واحد شما هستند. هر پرونده مهلتی دارد؛ اگر مهلت بگذرد، پرونده به ستاد برمی‌گردد و از دسترس واحد شما خارج می‌شود.`),
    filterForm((next) => { query = next; return loadCartable(section, query); }),
    h("div", { class: "toolbar" }, refresh, h("span", { id: "cartable-stamp", class: "hint" })),
    h("div", { id: "cartable-body" }, h("p", {}, "در حال بارگذاری…")),
    h("div", { class: "actions" }, more));
  refresh.addEventListener("click", () => busy(refresh, () => loadCartable(section, query)));
  more.addEventListener("click", () => busy(more, () => loadCartable(section, query, { more: true }), "در حال بارگذاری…"));
  loadCartable(section, query);
  // refreshed on its own only while the first page is all that is shown: never under a reader's feet
  setInterval(() => {
    if (!document.hidden && $$("#cartable-table tbody tr", section).length <= PAGE) loadCartable(section, query);
  }, REFRESH_MS);
  if (!timer) timer = setInterval(tick, 1000);
  return section;
}

// --- notifications -----------------------------------------------------------------------------------------
async function loadNotifications(section, { announceNew = false } = {}) {
  const list = $("#notifications-list", section);
  const badge = $("#unread-badge", section);
  try {
    const [page, count] = await Promise.all([
      get("/staff/notifications?limit=15", { auth: "staff" }),
      get("/staff/notifications/unread-count", { auth: "staff" })]);
    const previous = Number(badge.dataset.count || 0);
    badge.dataset.count = String(count.unread);
    badge.textContent = count.unread ? `${fa(count.unread)} خوانده‌نشده` : "همه خوانده شده";
    badge.className = count.unread ? "badge" : "hint";
    if (announceNew && count.unread > previous) announce(`${fa(count.unread - previous)} اعلان تازه دارید.`);
    clear(list, page.items.length ? page.items.map((n) => h("li", { class: n.read ? "" : "unread", "data-id": n.id },
      h("div", {}, n.read ? null : h("span", { class: "visually-hidden" }, "خوانده‌نشده: "), fa(n.title)),
      h("div", {}, fa(n.body)),
      h("div", { class: "hint" }, h("time", { datetime: n.created_at }, n.created_at_fa || jalali(n.created_at)),
        n.tracking_code ? [" — ", h("a", { href: `/web/staff/case.html?code=${n.tracking_code}` }, "دیدن پرونده")] : null),
      n.read ? null : h("button", { type: "button", class: "secondary small", "data-read": n.id,
        "aria-label": `خوانده شد: ${n.title}` }, "خوانده شد")))
      : h("li", {}, "اعلانی ندارید."));
  } catch (error) {
    clear(list, h("li", {}, problemBox(error, "اعلان‌ها باز نشد")));
  }
}

function notifications() {
  const markAll = h("button", { type: "button", class: "secondary small", id: "mark-all-read" }, "همه خوانده شد");
  const section = h("section", { class: "card", "aria-labelledby": "notifications-title", id: "notifications" },
    h("h2", { id: "notifications-title" }, "اعلان‌ها ", h("span", { id: "unread-badge", class: "hint" })),
    h("div", { class: "toolbar" }, markAll),
    h("ul", { class: "list", id: "notifications-list" }, h("li", {}, "در حال بارگذاری…")));
  markAll.addEventListener("click", () => busy(markAll, async () => {
    try {
      await post("/staff/notifications/read", { all: true }, { auth: "staff" });
      announce("همهٔ اعلان‌ها خوانده شد.");
    } catch (error) {
      announce(error.message);
    }
    await loadNotifications(section);
  }));
  section.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-read]");
    if (!button) return;
    try {
      await post("/staff/notifications/read", { ids: [button.dataset.read] }, { auth: "staff" });
    } catch (error) {
      announce(error.message);
    }
    await loadNotifications(section);
    $("#notifications-title").setAttribute("tabindex", "-1");
    $("#notifications-title").focus();
  });
  loadNotifications(section);
  setInterval(() => { if (!document.hidden) loadNotifications(section, { announceNew: true }); }, 30_000);
  return section;
}

staffPage({
  roles: ALL,
  purpose: "کارتابل، پرونده‌ها و اعلان‌های شما پس از ورود نمایش داده می‌شود.",
  render(principal, main) {
    const parts = [];
    if (ACTING.includes(principal.role)) parts.push(cartable(principal));
    else parts.push(h("p", { class: "card" }, "نقش شما کارتابل پرونده ندارد؛ از فهرست بالا صفحهٔ کار خود را باز کنید."));
    parts.push(notifications());
    clear(main, ...parts);
  },
});
