// «گزارش دوباره» on the case-following page (SPEC C10): offered only when the API says it means something
// (`report_again_from`: once the result promised is late, or after the answer), told in advance when it becomes
// possible, and sent only after the citizen confirms where the case will go (`report_again_to_fa`).
import { NOTE_MAX } from "./cases.js";
import { localProblem, textProblem } from "./checks.js";
import { jalali } from "./format.js";
import { busy, clearErrors, field, h, showProblem } from "./ui.js";

/** The card for this case: the form, a note of when it becomes possible, or null when it is not offered. */
export function reportAgainCard(found, send) {
  if (!found.report_again_from) return null;
  const now = new Date();
  if (found.report_again_until && new Date(found.report_again_until.iso) < now) return null;
  if (new Date(found.report_again_from.iso) > now) {
    return h("section", { class: "card no-print", id: "report-again-later", "aria-labelledby": "again-later-title" },
      h("h2", { id: "again-later-title" }, "گزارش دوباره"),
      h("p", {}, `رسیدگی به درخواست شما تا ${jalali(found.report_again_from)} زمان دارد. اگر تا آن زمان پاسخی نرسید، `
        + `از همان هنگام می‌توانید گزارش دوباره بدهید تا پرونده به «${found.report_again_to_fa}» برود.`));
  }
  return reportAgainForm(found, send);
}

function reportAgainForm(found, send) {
  const text = h("textarea", { rows: "4", maxlength: String(NOTE_MAX) });
  const submit = h("button", { type: "submit", class: "secondary" }, "گزارش دوباره");
  const confirm = h("div", { class: "confirm", id: "report-again-confirm", hidden: true, role: "group",
    "aria-labelledby": "again-confirm-title" },
    h("p", { id: "again-confirm-title", tabindex: "-1" }, h("strong", {}, "مطمئن هستید؟ "),
      `پرونده به «${found.report_again_to_fa}» می‌رود و مدیران آن باخبر می‌شوند. گزارش دوباره را نمی‌توان پس گرفت.`),
    h("div", { class: "actions" },
      h("button", { type: "button", id: "report-again-yes" }, "بله، گزارش دوباره بده"),
      h("button", { type: "button", class: "secondary", id: "report-again-no" }, "انصراف")));
  const form = h("form", { class: "card no-print", id: "report-again", novalidate: true, "aria-labelledby": "again-title" },
    h("h2", { id: "again-title" }, "پیگیری نشده است؟"),
    h("p", { class: "hint" }, `اگر رسیدگی پیگیری نشده یا پاسخ کار را درست نکرده، دوباره گزارش دهید: پرونده به «${found.report_again_to_fa}»، `
      + "یک سطح بالاتر از واحدی که اکنون آن را در دست دارد، می‌رود و مدیران آن باخبر می‌شوند."
      + (found.report_again_until ? ` این کار تا ${jalali(found.report_again_until)} ممکن است.` : "")),
    field({ label: "توضیح (اختیاری)", name: "text", control: text }),
    h("div", { class: "actions" }, submit), confirm);
  const yes = confirm.querySelector("#report-again-yes");
  form.addEventListener("submit", (event) => {  // first press: only the confirmation; nothing is sent
    event.preventDefault();
    clearErrors(form);
    const problem = localProblem([{ field: "text", message: textProblem(text.value, { min: 2, max: NOTE_MAX, required: false }) }]);
    if (problem) {
      showProblem(form, problem);
      return;
    }
    confirm.hidden = false;
    submit.hidden = true;
    confirm.querySelector("#again-confirm-title").focus();
  });
  confirm.querySelector("#report-again-no").addEventListener("click", () => {
    confirm.hidden = true;
    submit.hidden = false;
    submit.focus();
  });
  yes.addEventListener("click", () => busy(yes, async () => {
    try {
      await send(text.value.trim() ? { text: text.value.trim() } : {});
    } catch (error) {
      confirm.hidden = true;
      submit.hidden = false;
      showProblem(form, error);
    }
  }, "در حال ثبت…"));
  return form;
}
