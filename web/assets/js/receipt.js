// A donation's receipt (SPEC P5): number, amount, province, purpose, the gateway's reference, the Jalali date.
import { fa, jalali, rialsAndToman } from "./format.js";
import { copyButton, h, message } from "./ui.js";

export function receiptCard(receipt) {
  const paid = receipt.status === "paid";
  return h("section", { class: "keep", id: "receipt", "aria-labelledby": "receipt-title", "data-status": receipt.status },
    h("h2", { id: "receipt-title", tabindex: "-1" }, paid ? "رسید کمک شما" : "وضعیت کمک شما"),
    paid ? h("p", {}, "سپاسگزاریم. کمک شما ثبت شد و در سامانهٔ شفاف منتشر می‌شود.")
      : receipt.status === "failed" ? message("error", "پرداخت انجام نشد", h("p", {}, "مبلغی از حساب شما برداشت نشده است یا در صورت برداشت، بانک آن را برمی‌گرداند."))
        : message("info", "در انتظار پرداخت", h("p", {}, "پرداخت هنوز از درگاه تأیید نشده است.")),
    h("dl", {},
      h("dt", {}, "شمارهٔ رسید"),
      h("dd", {}, h("span", { class: "big-code", id: "receipt-number" }, fa(receipt.receipt_number)),
        copyButton(receipt.receipt_number, "کپی شمارهٔ رسید")),
      h("dt", {}, "وضعیت"), h("dd", { id: "receipt-status" }, receipt.status_fa),
      h("dt", {}, "مبلغ"), h("dd", { id: "receipt-amount" }, rialsAndToman(receipt.amount_rials)),
      h("dt", {}, "استان"), h("dd", {}, receipt.province_fa),
      h("dt", {}, "هدف"), h("dd", {}, receipt.purpose?.title_fa || receipt.purpose?.code || "—"),
      receipt.donor_name ? [h("dt", {}, "به نام"), h("dd", {}, receipt.donor_name)] : null,
      receipt.company_national_id ? [h("dt", {}, "شناسهٔ ملی شرکت"), h("dd", {}, fa(receipt.company_national_id))] : null,
      receipt.psp_reference ? [h("dt", {}, "شمارهٔ پیگیری بانک"), h("dd", { class: "ltr" }, fa(receipt.psp_reference))] : null,
      receipt.card_masked ? [h("dt", {}, "کارت"), h("dd", { class: "ltr" }, fa(receipt.card_masked))] : null,
      receipt.mobile_masked ? [h("dt", {}, "پیامک رسید به"), h("dd", { class: "ltr" }, fa(receipt.mobile_masked))] : null,
      h("dt", {}, paid ? "تاریخ پرداخت" : "تاریخ ثبت"),
      h("dd", { id: "receipt-date" }, jalali(paid ? receipt.paid_at : receipt.created_at))),
    h("div", { class: "actions no-print" },
      h("button", { type: "button", onclick: () => window.print() }, "چاپ رسید"),
      h("a", { class: "button secondary", href: `/web/donate/receipt.html?id=${encodeURIComponent(receipt.id)}` },
        "نشانی ماندگار این رسید")));
}
