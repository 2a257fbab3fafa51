// Administrators restore revoked access with a new password, or revoke it (SPEC C12).
import { request } from "../api.js";
import { unitNames } from "../cases.js";
import { jalali } from "../format.js";
import { $, announce, busy, clear, clearErrors, copyButton, field, h, message, problemBox, showProblem } from "../ui.js";
import { ROLES_FA, staffPage } from "../staff.js";

function suggestPassword() {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("").replace(/(.{4})(?=.)/g, "$1-");
}

function restoreForm(account, reload) {
  const password = h("input", { type: "text", autocomplete: "new-password", class: "ltr", dir: "ltr", minlength: "12",
    required: true, value: suggestPassword() });
  const submit = h("button", { type: "submit" }, "بازگرداندن دسترسی");
  const form = h("form", { novalidate: true, class: "restore", "aria-label": `بازگرداندن دسترسی ${account.full_name}` },
    field({ label: `گذرواژهٔ تازهٔ ${account.full_name}`, name: "new_password", control: password, id: `pw-${account.id}`,
      hint: "دست‌کم ۱۲ نویسه؛ آن را از راهی امن به خود او بدهید." }),
    h("div", { class: "actions" }, submit, copyButton(() => password.value, "کپی گذرواژه")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    await busy(submit, async () => {
      try {
        const done = await request(`/staff/accounts/${account.id}/restore`, { method: "POST", auth: "staff",
          json: { new_password: password.value } });
        await reload(done.state === "pending"
          ? `بازنشانی گذرواژهٔ ${account.full_name} ثبت شد و باید مدیر سامانهٔ دیگری آن را تأیید کند.`
          : `دسترسی ${account.full_name} بازگردانده شد؛ در ورود بعدی باید گذرواژهٔ خود را برگزیند.`);
      } catch (error) {
        showProblem(form, error);
      }
    });
  });
  return form;
}

/** Resets of finance and administrator accounts wait for a second administrator (four eyes). */
function pendingResets(items, principal, reload) {
  if (!items.length) return null;
  return h("section", { "aria-labelledby": "resets-title" },
    h("h2", { id: "resets-title" }, "بازنشانی‌های در انتظار تأیید"),
    h("ul", { class: "list" }, items.map((reset) => {
      const approve = h("button", { type: "button" }, "تأیید بازنشانی");
      const mine = reset.requested_by === principal.username || reset.staff_id === principal.id;
      approve.disabled = mine;
      approve.addEventListener("click", () => busy(approve, async () => {
        try {
          await request(`/staff/password-resets/${reset.id}/approve`, { method: "POST", auth: "staff" });
          await reload(`گذرواژهٔ ${reset.full_name} بازنشانی شد.`);
        } catch (error) {
          approve.after(problemBox(error, "تأیید انجام نشد"));
        }
      }));
      return h("li", { class: "card", "data-reset": reset.id },
        h("p", {}, `${reset.full_name} (${ROLES_FA[reset.role] || reset.role}) — درخواست ${reset.requested_by}، ${jalali(reset.requested_at)}`),
        mine ? h("p", { class: "hint" }, "مدیر سامانهٔ دیگری باید این را تأیید کند.") : null,
        h("div", { class: "actions" }, approve));
    })));
}

function revokeForm(account, reload) {
  const reason = h("input", { type: "text", required: true, maxlength: "500" });
  const submit = h("button", { type: "submit", class: "danger" }, "لغو دسترسی");
  const form = h("form", { novalidate: true, "aria-label": `لغو دسترسی ${account.full_name}` },
    field({ label: "دلیل لغو", name: "reason", control: reason, id: `reason-${account.id}` }),
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    await busy(submit, async () => {
      try {
        await request(`/staff/accounts/${account.id}/revoke`, { method: "POST", auth: "staff",
          json: { reason: reason.value.trim() } });
        await reload(`دسترسی ${account.full_name} لغو شد؛ همهٔ نشست‌های او در درخواست بعدی بسته می‌شود.`);
      } catch (error) {
        showProblem(form, error);
      }
    });
  });
  return form;
}

function accountItem(account, reload, names) {
  return h("li", { class: "card", "data-username": account.username },
    h("h3", {}, account.full_name, " ", h("span", { class: account.active ? "pill" : "pill overdue" },
      account.active ? "فعال" : "لغوشده")),
    h("dl", { class: "facts" },
      h("dt", {}, "نام کاربری"), h("dd", { class: "ltr" }, account.username),
      h("dt", {}, "نقش"), h("dd", {}, ROLES_FA[account.role] || account.role),
      h("dt", {}, "واحد"), h("dd", {}, names[account.unit] || account.unit),
      h("dt", {}, "آخرین بازکردن کارتابل"), h("dd", {}, account.last_cartable_at ? jalali(account.last_cartable_at) : "—"),
      account.revoked_reason ? [h("dt", {}, "دلیل لغو"), h("dd", {}, account.revoked_reason)] : null),
    account.active ? h("details", {}, h("summary", {}, "لغو دسترسی…"), revokeForm(account, reload))
      : restoreForm(account, reload));
}

staffPage({
  roles: ["admin"],
  purpose: "فقط مدیر سامانه.",
  async render(principal, main) {
    const onlyRevoked = h("input", { type: "checkbox", id: "only-revoked", checked: true });
    const list = h("div", { id: "accounts" });
    const resets = h("div", { id: "resets" });
    const status = h("div", { id: "admin-status" });
    const reload = async (done = null) => {
      try {
        const data = await request(`/staff/accounts?revoked=${onlyRevoked.checked}`, { auth: "staff" });
        const waiting = await request("/staff/password-resets", { auth: "staff" });
        const names = await unitNames();
        clear(status, done ? message("ok", done) : null);
        clear(resets, pendingResets(waiting.items, principal, reload));
        clear(list, data.items.length
          ? h("ul", { class: "list" }, data.items.map((a) => accountItem(a, reload, names)))
          : h("p", { id: "no-revoked" }, onlyRevoked.checked ? "هیچ دسترسی لغوشده‌ای نیست." : "حسابی نیست."));
        if (done) { status.querySelector(".alert").focus(); announce(done); }
      } catch (error) {
        clear(list, problemBox(error, "فهرست حساب‌ها باز نشد"));
      }
    };
    onlyRevoked.addEventListener("change", () => reload());
    clear(main, status, resets,
      h("h2", {}, "حساب‌های کارکنان"),
      h("div", { class: "toolbar" }, h("label", { class: "choice", for: "only-revoked" }, onlyRevoked, "فقط دسترسی‌های لغوشده")),
      list);
    await reload();
    $("#accounts")?.setAttribute("aria-live", "polite");
  },
});
