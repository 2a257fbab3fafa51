// A donation's receipt at an address of its own (to keep, print or come back to).
import { ApiError, get } from "../api.js";
import { receiptCard } from "../receipt.js";
import { $, clear, h, markCurrentNav, message, problemBox } from "../ui.js";

markCurrentNav();
(async () => {
  const content = $("#content");
  const id = new URLSearchParams(location.search).get("id") || "";
  if (!/^[0-9a-f-]{36}$/.test(id)) {
    clear(content, message("warn", "شناسهٔ رسید در نشانی نیست", h("p", {}, h("a", { href: "/web/donate/" }, "درگاه کمک مردمی"))));
    return;
  }
  try {
    const receipt = await get(`/donations/${id}/receipt`);
    clear(content, receiptCard(receipt));
  } catch (error) {
    clear(content, error instanceof ApiError && error.status === 404
      ? message("warn", "رسیدی با این شناسه نیست", h("p", {}, "نشانی را بررسی کنید."))
      : problemBox(error, "رسید باز نشد"));
  }
})();
