// Finance staff prepare, approve and follow a month's payment cycle (SPEC P1–P4): four eyes, then the
// files to the bank, statements and settlement, with the progress shown as it moves.
import { ApiError, actionKey, get, request } from "../api.js";
import { fa, jalaliMonth, jalaliToday, JALALI_MONTHS, num, rials } from "../format.js";
import { NAMES } from "../names-fa.js";
import { $, announce, busy, clear, clearErrors, field, h, message, problemBox, retryNotice, scroller, select, showProblem } from "../ui.js";
import { FINANCE, staffPage } from "../staff.js";

const STAGES = ["open", "entitlements_computed", "approved", "orders_issued", "bank_file_sent", "statement_received",
  "reconciled", "settled"];
const STAGES_FA = NAMES.cycle_stage;  // the Persian names (names-fa.js)
const ORDERS_FA = NAMES.order_state;
const BATCHES_FA = NAMES.batch_state;
const PREPARE = ["finance_expert"];  // four eyes: the administrator neither prepares nor approves (issue 18)
const APPROVE = ["finance_approver"];
let lines = [];
let poller = null;
let principal = null;
let lastStage = null;
const approval = actionKey();  // a re-press approving the same cycle keeps its key

function lineTitle(code) {
  return lines.find((l) => l.code === code)?.title_fa || code;
}

/** A colleague as the cycle names them (by username): the logged-in person by name, another by username, said so. */
function person(username) {
  if (!username) return "—";
  if (username === principal.username) return `${principal.full_name} (شما)`;
  return h("span", {}, "همکار با نام کاربری ", h("bdi", { dir: "ltr", class: "ltr id" }, username));
}

function stepsList(stage) {
  const at = STAGES.indexOf(stage);
  return h("ol", { class: "steps", "aria-label": "مراحل دوره" }, STAGES.map((s, i) => h("li", {
    class: stage === "stopped" ? "" : i < at ? "done" : i === at ? "current" : "",
    "aria-current": i === at ? "step" : null }, STAGES_FA[s])));
}

function countsTable(id, caption, counts, names) {
  const entries = Object.entries(counts || {});
  if (!entries.length) return h("p", { class: "hint", id }, `${caption}: هنوز نیست.`);
  return h("table", { id },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "وضعیت"), h("th", { scope: "col", class: "num" }, "تعداد"))),
    h("tbody", {}, entries.map(([key, n]) => h("tr", { "data-state": key },
      h("th", { scope: "row" }, names[key] || key), h("td", { class: "num" }, num(n))))));
}

function showCycle(cycle, done = null) {
  const panel = $("#cycle");
  const at = STAGES.indexOf(cycle.stage);
  const paid = cycle.orders?.paid || 0;
  const canApprove = APPROVE.includes(principal.role) && cycle.stage === "entitlements_computed";
  const approve = canApprove ? h("button", { type: "button", id: "approve-cycle" }, "تأیید دوره و فرستادن به بانک") : null;
  clear(panel,
    done ? message("ok", done) : null,
    h("section", { class: "card", "aria-labelledby": "cycle-title", "data-stage": cycle.stage, id: "cycle-card" },
      h("h2", { id: "cycle-title", tabindex: "-1" }, `دورهٔ ${jalaliMonth(cycle.month)} — ${lineTitle(cycle.line)}`),
      h("p", {}, "مرحله: ", h("strong", { id: "cycle-stage" }, cycle.stage_fa || STAGES_FA[cycle.stage])),
      cycle.stage === "stopped" ? message("error", "دوره متوقف شد", h("p", {}, cycle.stopped_reason || "")) : null,
      h("label", { for: "cycle-progress" }, "پیشرفت دوره"),
      h("progress", { id: "cycle-progress", class: "progress", max: String(STAGES.length - 1),
        value: String(Math.max(0, at)) }, `${fa(Math.max(0, at))} از ${fa(STAGES.length - 1)}`),
      stepsList(cycle.stage),
      h("dl", { class: "facts" },
        h("dt", {}, "شمار مددجویان"), h("dd", { id: "cycle-beneficiaries" }, num(cycle.beneficiaries)),
        h("dt", {}, "جمع مبلغ"), h("dd", {}, rials(cycle.total_rials)),
        h("dt", {}, "پرداخت‌شده"), h("dd", { id: "cycle-paid" }, `${num(paid)} از ${num(cycle.beneficiaries)}`),
        h("dt", {}, "آماده‌کننده"), h("dd", { id: "cycle-prepared-by" }, person(cycle.prepared_by)),
        h("dt", {}, "تأییدکننده"), h("dd", { id: "cycle-approved-by" }, person(cycle.approved_by))),
      h("div", { class: "grid two" },
        countsTable("cycle-orders", "دستورهای پرداخت", cycle.orders, ORDERS_FA),
        countsTable("cycle-batches", "فایل‌های بانکی", cycle.batches, BATCHES_FA)),
      cycle.stage === "entitlements_computed" && !canApprove
        ? h("p", { class: "hint" }, "منتظر تأیید «تأییدکنندهٔ پرداخت» (کسی جز آماده‌کننده).") : null,
      h("div", { class: "actions" }, approve,
        h("button", { type: "button", class: "secondary", id: "refresh-cycle" }, "به‌روزرسانی"),
        h("button", { type: "button", class: "secondary", id: "check-failed" }, "پرداخت‌های ناموفق"),
        h("button", { type: "button", class: "secondary", id: "check-ledger" }, "بررسی تراز دفتر")),
      h("div", { id: "cycle-extra", "aria-live": "polite" })));
  if (approve) approve.addEventListener("click", () => busy(approve, () => approveCycle(cycle.id), "در حال تأیید…"));
  $("#refresh-cycle").addEventListener("click", (e) => busy(e.currentTarget, () => follow(cycle.id)));
  $("#check-failed").addEventListener("click", (e) => busy(e.currentTarget, () => failed(cycle.id)));
  $("#check-ledger").addEventListener("click", (e) => busy(e.currentTarget, ledger));
  if (poller) clearTimeout(poller);
  const moving = !["entitlements_computed", "settled", "stopped"].includes(cycle.stage);
  if (moving) poller = setTimeout(() => follow(cycle.id, { quiet: true }), 1500);
  if (lastStage !== null && lastStage !== cycle.stage) {
    announce(cycle.stage === "settled" ? `دوره تسویه شد: ${num(paid)} پرداخت.` : `مرحلهٔ دوره: ${STAGES_FA[cycle.stage]}`);
    if (cycle.stage === "settled") refreshBudget();
  }
  lastStage = cycle.stage;
}

async function follow(cycleId, { quiet = false, done = null } = {}) {
  try {
    const cycle = await get(`/staff/payments/cycles/${encodeURIComponent(cycleId)}`, { auth: "staff" });
    const focused = document.activeElement?.id;
    showCycle(cycle, done);
    if (!quiet) (done ? $("#cycle .alert") : $("#cycle-title")).focus();
    else if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
  } catch (error) {
    clear($("#cycle"), problemBox(error, "دوره باز نشد"));
  }
}

async function approveCycle(cycleId) {
  try {
    await request(`/staff/payments/cycles/${encodeURIComponent(cycleId)}/approve`, { method: "POST", auth: "staff",
      idempotency: approval, onRetry: retryNotice($("#cycle")) });  // per cycle: the key follows the path
    await follow(cycleId, { done: "دوره تأیید شد؛ دستورهای پرداخت به بانک می‌رود." });
    loadWaiting();
  } catch (error) {
    $("#cycle").prepend(problemBox(error, "تأیید انجام نشد"));
    $("#cycle .alert").focus();
  }
}

async function failed(cycleId) {
  const out = $("#cycle-extra");
  try {
    const data = await get(`/staff/payments/failed?cycle=${encodeURIComponent(cycleId)}`, { auth: "staff" });
    clear(out, data.items.length ? h("table", {},
      h("caption", {}, "پرداخت‌های ناموفق این دوره (منتظر تصمیم)"),
      h("thead", {}, h("tr", {}, ["دستور", "کد ملی", "مبلغ", "وضعیت", "دلیل"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, data.items.map((o) => h("tr", {}, h("td", { class: "ltr" }, o.order_id), h("td", { class: "ltr" }, o.national_id),
        h("td", {}, rials(o.amount_rials)), h("td", {}, ORDERS_FA[o.status] || o.status), h("td", {}, o.reason || "—")))))
      : message("ok", "پرداخت ناموفقی در این دوره نیست."));
  } catch (error) {
    clear(out, problemBox(error));
  }
}

async function ledger() {
  const out = $("#cycle-extra");
  try {
    const check = await get("/staff/payments/ledger/check", { auth: "staff" });
    clear(out, check.balanced ? message("ok", "دفتر تراز است (تا ریال).")
      : message("error", "دفتر تراز نیست", h("ul", {}, check.problems.map((p) => h("li", {}, p)))));
  } catch (error) {
    clear(out, problemBox(error));
  }
}

// --- the cycles waiting for approval (GET /staff/payments/cycles?stage=entitlements_computed, however old) ---
function waitingSection() {
  return h("section", { class: "card", id: "waiting-section", "aria-labelledby": "waiting-title" },
    h("h2", { id: "waiting-title" }, "دوره‌های منتظر تأیید"),
    h("p", { class: "hint" }, APPROVE.includes(principal.role)
      ? "دوره‌هایی که آماده شده‌اند و تأیید شما را می‌خواهند؛ دوره‌ای را که خودتان آماده کرده‌اید، شخص دیگری باید تأیید کند."
      : "دوره‌هایی که آماده شده‌اند و منتظر «تأییدکنندهٔ پرداخت» هستند."),
    h("div", { id: "waiting-out", "aria-busy": "true" }, h("p", {}, "در حال بارگذاری…")));
}

async function loadWaiting() {
  const out = $("#waiting-out");
  if (!out) return;
  try {
    const waiting = (await get("/staff/payments/cycles?stage=entitlements_computed", { auth: "staff" })).items;
    clear(out, waiting.length ? scroller(h("table", { class: "responsive-table", id: "waiting-cycles" },
      h("caption", {}, `${fa(waiting.length)} دوره منتظر تأیید`),
      h("thead", {}, h("tr", {}, ["دوره", "ردیف بودجه", "مددجویان", "جمع مبلغ", "آماده‌کننده", ""].map((t) =>
        h("th", { scope: "col" }, t || h("span", { class: "visually-hidden" }, "کار"))))),
      h("tbody", {}, waiting.map((c) => {
        const open = h("button", { type: "button", class: "secondary small", "data-cycle": c.id,
          "aria-label": `باز کردن دورهٔ ${jalaliMonth(c.month)} — ${lineTitle(c.line)}` }, "باز کردن");
        open.addEventListener("click", () => busy(open, () => follow(c.id)));
        return h("tr", { "data-cycle": c.id },
          h("th", { scope: "row", "data-label": "دوره" }, jalaliMonth(c.month)),
          h("td", { "data-label": "ردیف بودجه" }, lineTitle(c.line)),
          h("td", { "data-label": "مددجویان", class: "num" }, num(c.beneficiaries)),
          h("td", { "data-label": "جمع مبلغ", class: "num" }, rials(c.total_rials)),
          h("td", { "data-label": "آماده‌کننده" }, person(c.prepared_by)),
          h("td", { "data-label": "کار" }, open));
      }))))
      : h("p", { id: "waiting-none" }, "دوره‌ای منتظر تأیید نیست."));
  } catch (error) {
    clear(out, problemBox(error, "فهرست دوره‌ها باز نشد"));
  } finally {
    out.setAttribute("aria-busy", "false");
  }
}

function cycleForm() {
  const today = jalaliToday();
  const year = select([today.year - 1, today.year, today.year + 1].map((y) => ({ value: String(y), label: fa(y) })),
    { value: String(today.year) });
  const month = select(JALALI_MONTHS.map((m, i) => ({ value: String(i + 1).padStart(2, "0"), label: m })),
    { value: String(today.month).padStart(2, "0") });
  const line = select(lines.map((l) => ({ value: l.code, label: l.title_fa })), { value: "pension_elderly" });
  const canPrepare = PREPARE.includes(principal.role);
  const show = h("button", { type: "submit", value: "show", class: canPrepare ? "secondary" : "" }, "نمایش دوره");
  const prepare = canPrepare ? h("button", { type: "submit", value: "prepare", id: "prepare-cycle" }, "آماده‌سازی دوره") : null;
  const form = h("form", { class: "card", id: "cycle-form", novalidate: true, "aria-labelledby": "cycle-form-title" },
    h("h2", { id: "cycle-form-title" }, "دورهٔ پرداخت"),
    h("p", { class: "hint" }, "هر ماه و هر ردیف بودجه یک دوره دارد. آماده‌سازی، استحقاق مددجویان فعال را محاسبه می‌کند؛ اگر اعتبار ردیف کافی نباشد، دوره با دلیل متوقف می‌شود."),
    h("div", { class: "grid" },
      field({ label: "سال", name: "year", control: year }),
      field({ label: "ماه", name: "month", control: month }),
      field({ label: "ردیف بودجه", name: "line", control: line })),
    h("div", { class: "actions" }, prepare, show));
  const opening = actionKey();  // one key per cycle opened: its retries and a re-press for the same month and line
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const chosen = `${year.value}-${month.value}`;
    const cycleId = `${chosen}.${line.value}`;
    const button = event.submitter || show;
    if (button.value !== "prepare") {
      await busy(button, async () => {
        try {
          await get(`/staff/payments/cycles/${encodeURIComponent(cycleId)}`, { auth: "staff" });
          await follow(cycleId);
        } catch (error) {
          if (error instanceof ApiError && error.status === 404) {
            clear($("#cycle"), message("info", "این دوره هنوز آماده نشده است",
              h("p", {}, canPrepare ? "با «آماده‌سازی دوره» آن را بسازید." : "کارشناس مالی باید آن را آماده کند.")));
          } else {
            showProblem(form, error);
          }
        }
      });
      return;
    }
    const body = { month: chosen, line: line.value };
    await busy(button, async () => {
      try {
        const cycle = await request("/staff/payments/cycles", { method: "POST", auth: "staff", json: body,
          idempotency: opening, onRetry: retryNotice(form) });
        await follow(cycle.id, { done: cycle.stage === "stopped" ? "دوره متوقف شد." : "دوره آماده شد؛ اکنون شخص دیگری باید آن را تأیید کند." });
        loadWaiting();
      } catch (error) {
        showProblem(form, error, { fieldMap: { month: "month" } });
      }
    }, "در حال آماده‌سازی…");
  });
  return form;
}

async function refreshBudget() {
  try {
    lines = (await get("/payments/budget-lines")).items;
    $("#lines-section")?.replaceWith(budgetTable());
  } catch { /* the table keeps what it showed */ }
}

function budgetTable() {
  return h("section", { class: "card", id: "lines-section", "aria-labelledby": "lines-title" },
    h("h2", { id: "lines-title" }, "ردیف‌های بودجه"),
    scroller(h("table", { class: "responsive-table", id: "budget-lines" },
      h("caption", {}, `${fa(lines.length)} ردیف بودجهٔ سال ${fa(lines[0]?.year || "")}`),
      h("thead", {}, h("tr", {}, ["ردیف", "سرانه", "اعتبار سالانه", "هزینه‌شده", "مانده"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, lines.map((l) => h("tr", {},
        h("th", { scope: "row", "data-label": "ردیف" }, l.title_fa),
        h("td", { "data-label": "سرانه", class: "num" }, rials(l.per_capita_rials)),
        h("td", { "data-label": "اعتبار سالانه", class: "num" }, rials(l.yearly_allocation_rials)),
        h("td", { "data-label": "هزینه‌شده", class: "num" }, rials(l.spent_rials)),
        h("td", { "data-label": "مانده", class: "num" }, rials(l.remaining_rials))))))));
}

staffPage({
  roles: FINANCE,
  purpose: "کارشناس مالی، تأییدکنندهٔ پرداخت و حسابرس وارد شوند.",
  async render(who, main) {
    principal = who;
    try {
      lines = (await get("/payments/budget-lines")).items;
    } catch (error) {
      clear(main, problemBox(error, "ردیف‌های بودجه باز نشد"));
      return;
    }
    clear(main, waitingSection(), cycleForm(), h("div", { id: "cycle" }), budgetTable());
    loadWaiting();
  },
});
