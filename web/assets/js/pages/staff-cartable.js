// The cartable (SPEC C14): the cases waiting on my unit, nearest deadline first, each with a live
// countdown; and my in-app notifications (SPEC N2).
import { get, post } from "../api.js";
import { codeText } from "../cases.js";
import { clock, fa, jalali } from "../fa.js";
import { $, announce, busy, clear, h, problemBox, scroller } from "../ui.js";
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

function table(items) {
  deadlines = [];
  const rows = items.map((item) => {
    const node = h("span", { class: "countdown", "data-seconds-left": String(item.seconds_left) });
    const pill = h("span", { class: "pill soon", hidden: true });
    deadlines.push({ node, pill, due: Date.now() + item.seconds_left * 1000 });
    return h("tr", { "data-code": item.tracking_code },
      h("td", { "data-label": "کد رهگیری" },
        h("a", { href: `/web/staff/case.html?code=${item.tracking_code}` }, codeText(item.tracking_code))),
      h("td", { "data-label": "نوع" }, item.kind_fa, " ",
        item.urgency === "urgent" ? h("span", { class: "pill urgent" }, "فوری") : null),
      h("td", { "data-label": "وضعیت" }, item.status_fa),
      h("td", { "data-label": "ثبت" }, jalali(item.registered_at)),
      h("td", { "data-label": "مهلت" }, jalali(item.deadline_at)),
      h("td", { "data-label": "زمان مانده" }, node, " ", pill));
  });
  return scroller(h("table", { class: "responsive-table", id: "cartable-table" },
    h("caption", {}, `${fa(items.length)} پرونده، به ترتیب نزدیک‌ترین مهلت`),
    h("thead", {}, h("tr", {}, ["کد رهگیری", "نوع", "وضعیت", "ثبت", "مهلت", "زمان مانده"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows)));
}

async function loadCartable(section) {
  const body = $("#cartable-body", section);
  const stamp = $("#cartable-stamp", section);
  try {
    const page = await get("/staff/cartable?limit=100", { auth: "staff" });
    clear(body, page.items.length ? table(page.items)
      : h("p", { id: "cartable-empty" }, "کارتابل شما خالی است: پرونده‌ای منتظر واحد شما نیست."),
    page.next ? h("p", { class: "hint" }, "بیش از ۱۰۰ پرونده منتظر است؛ نخست این‌ها را ببینید.") : null);
    stamp.textContent = `به‌روز شده: ${jalali(new Date().toISOString())}`;
    tick();
  } catch (error) {
    clear(body, problemBox(error, "کارتابل باز نشد"));
  }
}

function cartable(principal) {
  const refresh = h("button", { type: "button", class: "secondary small" }, "به‌روزرسانی");
  const section = h("section", { class: "card", "aria-labelledby": "cartable-title" },
    h("h2", { id: "cartable-title" }, "کارتابل من"),
    h("p", { class: "hint" }, `پرونده‌هایی که منتظر واحد شما هستند. هر پرونده مهلتی دارد؛ اگر مهلت بگذرد، پرونده به ستاد برمی‌گردد و از دسترس واحد شما خارج می‌شود.`),
    h("div", { class: "toolbar" }, refresh, h("span", { id: "cartable-stamp", class: "hint" })),
    h("div", { id: "cartable-body" }, h("p", {}, "در حال بارگذاری…")));
  refresh.addEventListener("click", () => busy(refresh, () => loadCartable(section)));
  loadCartable(section);
  setInterval(() => { if (!document.hidden) loadCartable(section); }, REFRESH_MS);
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
