// The staff side's shell: login, who is logged in, logout, and which pages each role may use.
import { ApiError, get, post, staffSession } from "./api.js";
import { localProblem, textProblem } from "./checks.js";
import { NAMES } from "./names-fa.js";
import { $, $$, announce, busy, clear, clearErrors, field, h, markCurrentNav, message, problemBox, showProblem } from "./ui.js";

export const ROLES_FA = NAMES.role;  // the Persian name of each role (names-fa.js)

export const ACTING = ["hq_operator", "hq_head", "hq_expert", "province_head", "province_expert", "county_head",
  "county_expert", "center_head", "center_staff"];
export const MANAGERS = ["hq_operator", "hq_head", "province_head", "county_head", "center_head"];
export const REPORTS = [...MANAGERS, "inspector", "admin"];
export const REGISTERS = ["hotline_operator", ...ACTING];
export const FINDS_BY_MOBILE = ["hotline_operator", "hq_operator", "inspector"];
export const FINANCE = ["finance_expert", "finance_approver", "auditor", "admin"];
export const ALL = Object.keys(ROLES_FA);

/** The principal of the stored session, checked with the gateway (a revoked account is out at once). */
async function currentPrincipal() {
  if (!staffSession.get()) return null;
  try {
    return await get("/auth/me", { auth: "staff" });
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      staffSession.clear();
      return null;
    }
    throw error;
  }
}

const LOGIN_HINT = {
  lock: "حساب هرگز قفل نمی‌شود؛ پس از ۵ گذرواژهٔ نادرست از این دستگاه، هر تلاش تازه چند ثانیه صبر می‌خواهد.",
  busy: "حساب شما قفل نشده است: از این شبکه ورودهای زیادی انجام شده (برای نمونه همکاران یک اداره) "
    + "و ورود تازه چند ثانیه پذیرفته نمی‌شود؛ این تلاش نادرست هم شمرده نشده است.",
};

/** After an administrator's reset (403 password_change_required): a password of one's own, before anything else. */
function newPasswordForm(username, given, onDone) {
  const fresh = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: "12", class: "ltr" });
  const again = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: "12", class: "ltr" });
  const submit = h("button", { type: "submit" }, "ثبت گذرواژه و ورود");
  const form = h("form", { class: "card", novalidate: true, "aria-labelledby": "new-password-title" },
    h("h2", { id: "new-password-title", tabindex: "-1" }, "گذرواژهٔ خودتان را برگزینید"),
    h("p", {}, "مدیر سامانه گذرواژهٔ شما را تازه کرده است؛ پیش از هر کاری گذرواژه‌ای برگزینید که فقط خودتان بدانید."),
    field({ label: "گذرواژهٔ تازه", name: "new_password", control: fresh, hint: "دست‌کم ۱۲ نویسه" }),
    field({ label: "تکرار گذرواژهٔ تازه", name: "new_password_again", control: again }),
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const found = localProblem([
      { field: "new_password", message: fresh.value.length >= 12 ? null : "گذرواژهٔ تازه دست‌کم ۱۲ نویسه است." },
      { field: "new_password_again", message: again.value === fresh.value ? null : "دو گذرواژه یکی نیستند." }]);
    if (found) { showProblem(form, found, { title: "گذرواژه ثبت نشد" }); return; }
    await busy(submit, async () => {
      try {
        staffSession.set(await post("/auth/password", { username, password: given, new_password: fresh.value }));
        announce("گذرواژهٔ تازه ثبت شد و وارد شدید.");
        onDone();
      } catch (error) {
        showProblem(form, error, { title: "گذرواژه ثبت نشد" });
      }
    }, "در حال ثبت…");
  });
  return form;
}

function loginForm(onDone, purpose) {
  const username = h("input", { type: "text", autocomplete: "username", required: true, class: "ltr",
    autocapitalize: "off", spellcheck: "false" });
  const password = h("input", { type: "password", autocomplete: "current-password", required: true, class: "ltr" });
  const submit = h("button", { type: "submit" }, "ورود");
  const form = h("form", { class: "card", novalidate: true, "aria-labelledby": "login-title" },
    h("h2", { id: "login-title" }, "ورود کارکنان"),
    h("p", { class: "hint" }, purpose),
    field({ label: "نام کاربری", name: "username", control: username }),
    field({ label: "گذرواژه", name: "password", control: password, hint: LOGIN_HINT.lock }),
    h("div", { class: "actions" }, submit));
  const hint = form.querySelector(`#${CSS.escape(password.id)}-hint`);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    hint.textContent = LOGIN_HINT.lock;
    const empty = localProblem([
      { field: "username", message: textProblem(username.value) },
      { field: "password", message: password.value ? null : textProblem("") }]);
    if (empty) {  // nothing to send: no login attempt is spent
      showProblem(form, empty, { title: "ورود انجام نشد" });
      return;
    }
    await busy(submit, async () => {
      try {
        const tokens = await post("/auth/login", { username: username.value.trim(), password: password.value });
        staffSession.set(tokens);
        announce("وارد شدید.");
        onDone();
      } catch (error) {
        if (error instanceof ApiError && error.code === "password_change_required") {
          const next = newPasswordForm(username.value.trim(), password.value, onDone);
          form.replaceWith(next);
          next.querySelector("h2").focus();
          return;
        }
        if (error instanceof ApiError && error.rateLimited) hint.textContent = LOGIN_HINT.busy;
        showProblem(form, error, { title: "ورود انجام نشد" });
        if (!(error instanceof ApiError) || !error.fieldErrors.length) password.focus();
      }
    }, "در حال ورود…");
  });
  return form;
}

function renderWho(principal) {
  const slot = $("#who");
  if (!slot) return;
  if (!principal) { clear(slot); return; }
  const logout = h("button", { type: "button", class: "small" }, "خروج");
  logout.addEventListener("click", async () => {
    const session = staffSession.get();
    staffSession.clear();
    try { if (session) await post("/auth/logout", { refresh_token: session.refresh_token }); } catch { /* ended anyway */ }
    location.reload();
  });
  clear(slot, h("span", {}, `${principal.full_name} — ${ROLES_FA[principal.role] || principal.role}`), logout);
  for (const link of $$(".site-nav [data-roles]")) {
    const allowed = link.dataset.roles.split(" ");
    link.closest("li").hidden = !allowed.includes(principal.role);
  }
}

/**
 * A staff page: the login form until someone is logged in, then render(principal, main) for the roles
 * given (others are told which pages are theirs).
 */
export async function staffPage({ roles, purpose, render }) {
  markCurrentNav();
  const main = $("#content");
  let principal;
  try {
    principal = await currentPrincipal();
  } catch (error) {
    clear(main, problemBox(error, "سامانه در دسترس نیست"));
    return;
  }
  renderWho(principal);
  if (!principal) {
    clear(main, loginForm(() => staffPage({ roles, purpose, render }), purpose));
    $("#content input")?.focus();
    return;
  }
  if (!roles.includes(principal.role)) {
    clear(main, message("warn", "این صفحه برای نقش شما نیست",
      h("p", {}, `نقش شما «${ROLES_FA[principal.role] || principal.role}» است. از فهرست بالای صفحه، صفحهٔ کار خود را باز کنید.`)));
    return;
  }
  clear(main);
  await render(principal, main);
}
