// Bar charts as HTML lists: each bar has its label and its value as text (what a screen reader reads);
// the bar itself is decoration. Drawn right to left like the page.
import { num } from "./format.js";
import { h } from "./ui.js";

/**
 * barChart({id, title, items: [{label, value, text?, bad?}], max?, empty?})
 * value drives the bar's length; text (default: the value in Persian digits) is what is shown.
 */
export function barChart({ id, title, items, max = null, empty = "داده‌ای برای این بازه نیست.", note = null }) {
  const top = max ?? Math.max(0, ...items.map((i) => Number(i.value) || 0));
  const titleId = `${id}-title`;
  return h("figure", { class: "chart card", id, "aria-labelledby": titleId },
    h("figcaption", { id: titleId }, title),
    note ? h("p", { class: "hint" }, note) : null,
    items.length ? h("ul", { class: "bars list", "aria-labelledby": titleId }, items.map((item) => {
      const share = top > 0 ? Math.max(0, Math.min(100, (Number(item.value) || 0) / top * 100)) : 0;
      return h("li", { class: "bar-row" },
        h("span", {}, item.label),
        h("span", { class: "bar-track", "aria-hidden": "true" },
          h("span", { class: `bar-fill${item.bad ? " bad" : ""}`, "data-share": share.toFixed(1) })),
        h("span", { class: "bar-value" }, item.text ?? num(item.value)));
    })) : h("p", {}, empty));
}

/** Set the bars' widths (after insertion: the CSP allows no inline style attribute, only CSSOM). */
export function sizeBars(root = document) {
  for (const bar of root.querySelectorAll(".bar-fill[data-share]")) bar.style.width = `${bar.dataset.share}%`;
}
