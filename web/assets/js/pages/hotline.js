// The 1482 hotline console (SPEC C1, C17): register a case on a caller's behalf quickly, from the keyboard,
// and find a caller's cases by tracking code or mobile.
import { ApiError, actionKey, request } from "../api.js";
import { KINDS, TEXT_MAX, categoryControl, codeText, intakeBody, intakeProblems, timeline } from "../cases.js";
import { localProblem, secretGroups } from "../checks.js";
import { choicesOf, digitsOnly, fa, jalali, latin, spelled, trackingCode } from "../format.js";
import { $, announce, busy, clear, clearErrors, copyButton, field, fieldError, h, retryNotice, scroller, select, showProblem } from "../ui.js";
import { ACTING, FINDS_BY_MOBILE, REGISTERS, staffPage } from "../staff.js";

const registration = actionKey();  // one key per call registered: its retries and a re-press

function registerForm() {
  const mobile = h("input", { type: "tel", inputmode: "tel", autocomplete: "off", class: "ltr", dir: "ltr" });
  const submit = h("button", { type: "submit", "aria-keyshortcuts": "Control+Enter" }, "ثبت تماس");
  const form = h("form", { id: "call", class: "card", novalidate: true, "aria-labelledby": "call-title" },
    h("h2", { id: "call-title", tabindex: "-1" }, "تماس تازه"),
    h("p", { class: "hint" }, "همهٔ مشخصات تماس‌گیرنده اختیاری است؛ گزارش تخلف بدون مشخصات، بی‌نام ثبت می‌شود و رمز پیگیری را باید برای او بخوانید."),
    h("div", { class: "grid" },
      field({ label: "شمارهٔ همراه تماس‌گیرنده", name: "mobile", control: mobile }),
      field({ label: "نام", name: "name", control: h("input", { type: "text", autocomplete: "off" }) }),
      field({ label: "کد ملی", name: "national_id",
        control: h("input", { type: "text", inputmode: "numeric", autocomplete: "off", class: "ltr", dir: "ltr" }) }),
      field({ label: "نوع (الزامی)", name: "kind",
        control: select(KINDS.map(([value, label]) => ({ value, label })), { value: "complaint" }) }),
      field({ label: "فوریت", name: "urgency", hint: "فوری: زیر ۳ ساعت.", control: select(choicesOf("urgency")) }),
      field({ label: "موضوع", name: "category", control: categoryControl() })),
    field({ label: "شرح تماس (الزامی)", name: "text",
      control: h("textarea", { rows: "5", maxlength: String(TEXT_MAX), required: true }),
      hint: "آن‌چه تماس‌گیرنده می‌گوید؛ دست‌کم ۱۰ نویسه." }),
    h("div", { class: "actions" }, submit,
      h("button", { type: "reset", class: "secondary" }, "پاک کردن")),
    h("div", { id: "call-result" }));
  form.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("reset", () => { clearErrors(form); clear($("#call-result")); setTimeout(() => mobile.focus(), 0); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const problem = localProblem(intakeProblems(form));  // checked here: the caller's mistakes cost no request
    if (problem) {
      showProblem(form, problem);
      return;
    }
    const body = { ...intakeBody(form), channel: "hotline" };
    await busy(submit, async () => {
      try {
        const made = await request("/staff/cases", { method: "POST", auth: "staff", json: body,
          idempotency: registration, onRetry: retryNotice(form) });
        showRegistered(made);
      } catch (error) {
        showProblem(form, error);
      }
    }, "در حال ثبت…");
  });
  return form;
}

function showRegistered(made) {
  const result = $("#call-result");
  clear(result, h("section", { class: "keep", "aria-labelledby": "made-title" },
    h("h3", { id: "made-title", tabindex: "-1" }, "ثبت شد؛ کد را برای تماس‌گیرنده بخوانید"),
    h("dl", {},
      h("dt", {}, "کد رهگیری"),
      h("dd", {}, h("span", { class: "big-code", id: "made-code", "data-code": made.tracking_code },
        trackingCode(made.tracking_code)), copyButton(made.tracking_code, "کپی کد رهگیری")),
      made.secret ? [h("dt", {}, "رمز پیگیری گزارش بی‌نام (فقط همین یک بار)"),
        h("dd", {}, h("span", { class: "big-code", id: "made-secret", "data-secret": made.secret }, secretGroups(made.secret)),
          copyButton(made.secret, "کپی رمز")),
        h("dd", { class: "hint", id: "made-secret-spelled" }, "برای خواندن، چهار نویسه چهار نویسه: ",
          spelled(secretGroups(made.secret)), ". به تماس‌گیرنده بگویید خط تیره و فاصله و حروف کوچک یا بزرگ فرقی ندارد.")] : null,
      h("dt", {}, "وضعیت"), h("dd", {}, made.status_fa)),
    h("p", {}, "برای تماس بعدی ", h("span", { dir: "ltr" }, h("kbd", {}, "Alt"), "+", h("kbd", {}, "Shift"), "+", h("kbd", {}, "N")),
      " را بزنید.")));
  $("#made-title").focus();
  announce(`ثبت شد. کد رهگیری ${trackingCode(made.tracking_code)}`);
}

function findForm(principal) {
  const query = h("input", { type: "search", inputmode: "numeric", autocomplete: "off", class: "ltr", dir: "ltr" });
  const submit = h("button", { type: "submit", class: "secondary" }, "یافتن");
  const byMobile = FINDS_BY_MOBILE.includes(principal.role);
  // The hotline reads what the caller could read with the code; those who work cases open the whole case.
  const reads = ACTING.includes(principal.role) || principal.role === "inspector";
  const form = h("form", { id: "find", class: "card", role: "search", novalidate: true, "aria-labelledby": "find-title" },
    h("h2", { id: "find-title" }, "یافتن پرونده"),
    field({ label: byMobile ? "کد رهگیری یا شمارهٔ همراه" : "کد رهگیری", name: "q", control: query,
      hint: byMobile ? "۱۶ رقم کد رهگیری، یا شمارهٔ همراهی که تماس‌گیرنده با آن گزارش داده است." : "۱۶ رقم کد رهگیری." }),
    h("div", { class: "actions" }, submit),
    h("div", { id: "found", "aria-live": "polite" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const digits = digitsOnly(query.value);
    const found = $("#found");
    clear(found);  // a new search: the last one's results go, whatever this one brings (an error included)
    await busy(submit, async () => {
      try {
        if (digits.length === 16) {
          const seen = await request(reads ? `/staff/cases/${digits}` : `/staff/calls/cases/${digits}`, { auth: "staff" });
          clear(found, caseCard(seen, reads));
        } else if (byMobile && /^(\+?98|0)?9\d{9}$/.test(latin(query.value).replace(/[\s-]/g, ""))) {
          const page = await request(`/staff/cases?mobile=${encodeURIComponent(latin(query.value).replace(/[\s-]/g, ""))}&limit=50`,
            { auth: "staff" });
          clear(found, page.items.length ? casesTable(page.items, reads)
            : h("p", {}, "پرونده‌ای با این شمارهٔ همراه ثبت نشده است."));
        } else {
          fieldError(form, query, byMobile ? "کد رهگیری ۱۶ رقمی یا شمارهٔ همراه ۱۱ رقمی (۰۹…) وارد کنید." : "کد رهگیری ۱۶ رقم است.");
          query.focus();
          return;
        }
        found.querySelector("h3")?.focus();
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) {
          clear(found);
          fieldError(form, query, "پرونده‌ای با این کد پیدا نشد.");
          query.focus();
        } else {
          showProblem(form, error, { fieldMap: { mobile: "q" } });
        }
      }
    });
  });
  return form;
}

function caseCard(seen, reads) {
  return h("section", { "aria-labelledby": "seen-title" },
    h("h3", { id: "seen-title", tabindex: "-1" }, `${seen.kind_fa} — `, codeText(seen.tracking_code)),
    h("dl", { class: "facts" },
      h("dt", {}, "وضعیت"), h("dd", {}, h("strong", {}, seen.status_fa)),
      h("dt", {}, "در کارتابل"), h("dd", {}, seen.holder_unit_fa || seen.holder_unit),
      h("dt", {}, "ثبت"), h("dd", {}, jalali(seen.registered_at)),
      seen.answer ? [h("dt", {}, "پاسخ"), h("dd", {}, seen.answer.text)] : null),
    h("h4", {}, "مراحل (آن‌چه شهروند می‌بیند)"), timeline(seen.timeline),
    reads ? h("p", {}, h("a", { href: `/web/staff/case.html?code=${seen.tracking_code}` }, "پروندهٔ کامل")) : null);
}

function casesTable(items, reads) {
  return scroller(h("h3", { tabindex: "-1" }, `${fa(items.length)} پرونده با این شمارهٔ همراه`),
    h("table", { class: "responsive-table" },
    h("caption", { class: "visually-hidden" }, "پرونده‌های تماس‌گیرنده"),
    h("thead", {}, h("tr", {}, ["کد رهگیری", "نوع", "وضعیت", "ثبت"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, items.map((item) => h("tr", { "data-code": item.tracking_code },
      h("td", { "data-label": "کد رهگیری" }, reads
        ? h("a", { href: `/web/staff/case.html?code=${item.tracking_code}` }, codeText(item.tracking_code))
        : codeText(item.tracking_code)),
      h("td", { "data-label": "نوع" }, item.kind_fa),
      h("td", { "data-label": "وضعیت" }, item.status_fa),
      h("td", { "data-label": "ثبت" }, jalali(item.registered_at)))))));
}

staffPage({
  roles: [...new Set([...REGISTERS, ...FINDS_BY_MOBILE, ...ACTING])],
  purpose: "کارشناسان مرکز تماس ۱۴۸۲ با حساب خود وارد شوند.",
  render(principal, main) {
    const parts = [];
    if (REGISTERS.includes(principal.role)) parts.push(registerForm());
    parts.push(findForm(principal));
    clear(main, ...parts);
    document.addEventListener("keydown", (event) => {
      if (!event.altKey || !event.shiftKey) return;
      if (event.code === "KeyN" && $("#call")) {
        event.preventDefault();
        $("#call").reset();
        $("#call [name=mobile]").focus();
      } else if (event.code === "KeyF") {
        event.preventDefault();
        $("#find [name=q]").focus();
      }
    });
    ($("#call [name=mobile]") || $("#find [name=q]")).focus();
  },
});

