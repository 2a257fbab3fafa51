// Small DOM helpers. Text goes in as text (never as HTML), so nothing the API returns can run.
import { ApiError, MESSAGES } from "./api.js";
import { fa, seconds } from "./format.js";

/** h("p", {class: "x", onclick: fn}, "text", child) */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

/** Text for a polite live region (one per page, #announcer). */
export function announce(message) {
  let region = document.getElementById("announcer");
  if (!region) {
    region = h("div", { id: "announcer", class: "visually-hidden", role: "status", "aria-live": "polite" });
    document.body.append(region);
  }
  region.textContent = "";
  setTimeout(() => { region.textContent = message; }, 50);
}

/** A message box: kind is error | ok | warn | info. Errors are alerts (read at once). */
export function message(kind, title, ...body) {
  return h("div", { class: `alert ${kind}`, role: kind === "error" ? "alert" : "status", tabindex: "-1" },
    title ? h("p", {}, h("strong", {}, title)) : null, ...body);
}

/** The Persian message of any failure. */
export function messageOf(error) {
  if (error instanceof ApiError) return error.message;
  return MESSAGES.generic;
}

/**
 * The message of a 429, counting down the seconds Retry-After gave (in Persian digits), then saying that
 * trying again is fine now. The count stops when the message leaves the page.
 */
export function waitMessage(error) {
  const node = h("p", { class: "wait-message" }, messageOf(error));
  const total = error?.waitSeconds;
  if (!total) return node;
  node.dataset.seconds = String(total);
  const until = Date.now() + total * 1000;
  const timer = setInterval(() => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (!node.isConnected && left < total) { clearInterval(timer); return; }
    if (left > 0) {
      node.textContent = MESSAGES.rateLimited(left);
    } else {
      clearInterval(timer);
      node.textContent = "اکنون می‌توانید دوباره تلاش کنید.";
      delete node.dataset.seconds;
    }
  }, 1000);
  return node;
}

/** The first paragraph of an error box: the countdown of a 429, else the Persian message. */
function reason(error) {
  return error instanceof ApiError && error.rateLimited ? waitMessage(error) : h("p", {}, messageOf(error));
}

/** A problem shown where it belongs: an error box, the request id to quote to support. A creating request
 * whose outcome is unknown (its automatic retries ran out) says so, and that pressing again is safe. A 429
 * says how long to wait. */
export function problemBox(error, title = "کار انجام نشد") {
  const requestId = error?.problem?.request_id;
  const unknown = error instanceof ApiError && error.unknownOutcome;
  const limited = error instanceof ApiError && error.rateLimited;
  return message("error", unknown ? MESSAGES.unknownTitle : limited ? MESSAGES.rateLimitedTitle : title, reason(error),
    unknown ? keyHint(error) : null,
    requestId ? h("p", { class: "hint" }, "شناسهٔ پیگیری خطا برای پشتیبانی: ", h("span", { class: "ltr" }, requestId)) : null);
}

function keyHint(error) {
  return error.idempotencyKey
    ? h("p", { class: "hint" }, "شناسهٔ این درخواست: ", h("span", { class: "ltr", dir: "ltr" }, error.idempotencyKey)) : null;
}

/**
 * request(…, {onRetry: retryNotice(form)}): while a creating request is sent again automatically (its
 * outcome unknown), a notice at the top of `container` says so in Persian; it goes when the request settles.
 */
export function retryNotice(container) {
  let note = null;
  return (info) => {
    if (info?.state === "retrying") {
      const text = MESSAGES.retrying(info.attempt, info.of, info.seconds);
      if (!note) {
        note = message("warn", MESSAGES.unknownTitle, h("p", {}, text));
        note.classList.add("retry-note");
        container.prepend(note);
      } else {
        note.querySelector("p:last-child").textContent = text;
      }
      announce(text);
    } else if (note) {
      note.remove();
      note = null;
    }
  };
}

// --- forms: the API's errors next to the fields they name ----------------------------------------------
/** What a control is called on the page: its label, or its group's legend (without «(الزامی)»). */
function labelOf(form, control) {
  const label = control.id ? form.querySelector(`label[for="${CSS.escape(control.id)}"]`) : null;
  const text = label?.textContent || control.closest("fieldset")?.querySelector("legend")?.textContent || "";
  return text.replace(/\((الزامی|اختیاری)\)/g, "").replace(/\s+/g, " ").trim();
}

function controlFor(form, field, fieldMap) {
  const names = [fieldMap[field], field, field.replace(/\[\d+\]/g, ""), field.split(".").pop()].filter(Boolean);
  for (const name of names) {
    const control = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (control) return control;
  }
  return null;
}

export function clearErrors(form) {
  for (const node of form.querySelectorAll(".field-error, .form-errors, .retry-note")) node.remove();
  for (const node of form.querySelectorAll("[aria-invalid]")) {
    node.removeAttribute("aria-invalid");
    const described = (node.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && !id.startsWith("err-"));
    if (described.length) node.setAttribute("aria-describedby", described.join(" "));
    else node.removeAttribute("aria-describedby");
  }
}

let errorSeq = 0;

/** One field's error, as the API would name it. */
export function fieldError(form, control, text) {
  const id = `err-${++errorSeq}`;
  const note = h("span", { class: "field-error", id }, text);
  const group = control.closest("fieldset.group");
  if (control.type === "radio" || control.type === "checkbox") {
    const anchor = group || control.closest(".field") || control.parentElement;
    (anchor.querySelector("legend") || anchor).after(note);
    for (const radio of form.querySelectorAll(`[name="${CSS.escape(control.name)}"]`)) {
      radio.setAttribute("aria-invalid", "true");
      radio.setAttribute("aria-describedby", [radio.getAttribute("aria-describedby"), id].filter(Boolean).join(" "));
    }
  } else {
    control.after(note);
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", [control.getAttribute("aria-describedby"), id].filter(Boolean).join(" "));
  }
  return id;
}

/**
 * Show an API failure on a form: each errors[] item beside its field (aria-invalid, aria-describedby),
 * a summary at the top linking to them, focus on the summary. fieldMap maps an API field
 * ("purpose.code") to a control's name when they differ.
 */
export function showProblem(form, error, { fieldMap = {}, title = "لطفاً موارد زیر را بررسی کنید" } = {}) {
  clearErrors(form);
  const items = [];
  const errors = error instanceof ApiError ? error.fieldErrors : [];
  let firstControl = null;
  for (const item of errors) {
    const control = controlFor(form, item.field || "", fieldMap);
    const text = item.message || error.message;
    if (control) {
      fieldError(form, control, text);
      firstControl ||= control;
      if (!control.id) control.id = `f-${control.name}-${errorSeq}`;
      const name = labelOf(form, control);  // each item names its field: two fields, two different lines
      items.push(h("li", {}, h("a", { href: `#${control.id}` }, name ? `${name}: ${text}` : text)));
    } else {
      items.push(h("li", {}, text));
    }
  }
  const unknown = error instanceof ApiError && error.unknownOutcome;
  const limited = error instanceof ApiError && error.rateLimited;
  const heading = unknown ? MESSAGES.unknownTitle : limited ? MESSAGES.rateLimitedTitle
    : errors.length ? title : "کار انجام نشد";
  const summary = h("div", { class: "alert error form-errors", role: "alert", tabindex: "-1" },
    h("p", {}, h("strong", {}, heading)),
    reason(error),
    items.length ? h("ul", {}, items) : null,
    unknown ? keyHint(error) : null,
    error?.problem?.request_id
      ? h("p", { class: "hint" }, "شناسهٔ پیگیری خطا: ", h("span", { class: "ltr" }, error.problem.request_id)) : null);
  summary.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='#']");
    if (!link) return;
    event.preventDefault();
    document.getElementById(link.getAttribute("href").slice(1))?.focus();
  });
  form.prepend(summary);
  summary.focus();
  return firstControl;
}

/** Disable a form's submit button while its request runs; the label says it is working. */
export async function busy(button, work, label = "در حال انجام…") {
  const original = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = original;
  }
}

/** A button that copies `text` (a string, or a function giving it) and says so. */
export function copyButton(text, label) {
  const button = h("button", { type: "button", class: "secondary small no-print", "aria-label": label }, "کپی");
  button.addEventListener("click", async () => {
    let copied = false;
    try {
      await navigator.clipboard.writeText(typeof text === "function" ? text() : text);
      copied = true;
    } catch {
      const area = h("textarea", { class: "visually-hidden", "aria-hidden": "true", tabindex: "-1" });
      area.value = typeof text === "function" ? text() : text;
      document.body.append(area);
      area.select();
      try { copied = document.execCommand("copy"); } catch { copied = false; }
      area.remove();
    }
    button.textContent = copied ? "کپی شد ✓" : "کپی نشد";
    announce(copied ? `${label}: کپی شد` : "کپی انجام نشد؛ لطفاً آن را یادداشت کنید.");
    setTimeout(() => { button.textContent = "کپی"; }, 2500);
  });
  return button;
}

let fieldSeq = 0;

/** A labelled field: field({label, name, hint, control}) → div.field (ids are unique on the page) */
export function field({ label, name, hint, control, id }) {
  const controlId = id || control.id || `f-${name}-${++fieldSeq}`;
  control.id = controlId;
  if (name) control.name = name;
  const hintId = hint ? `${controlId}-hint` : null;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: controlId }, label),
    hint ? h("span", { class: "hint", id: hintId }, hint) : null, control);
}

/** <select> with options [{value, label}] and an optional empty first choice. */
export function select(options, { empty = null, value = null, ...attrs } = {}) {
  const node = h("select", attrs,
    empty !== null ? h("option", { value: "" }, empty) : null,
    options.map((o) => h("option", { value: o.value, selected: o.value === value }, o.label)));
  return node;
}

/** A page-wide failure that leaves the page usable (e.g. an API that is not deployed). */
export function pageProblem(container, error, title) {
  clear(container, problemBox(error, title));
  container.querySelector(".alert")?.focus();
}

export function faNumberInput(input) {
  // Persian or Arabic digits typed in a numeric field are fine: they are read as digits.
  input.setAttribute("inputmode", "numeric");
  return input;
}

export function plural(n, word) {
  return `${fa(n)} ${word}`;
}

/** Mark the current page's link in the site navigation. */
export function markCurrentNav() {
  const here = location.pathname.replace(/index\.html$/, "");
  for (const link of $$(".site-nav a")) {
    const target = new URL(link.href, location.href).pathname.replace(/index\.html$/, "");
    if (target === here) link.setAttribute("aria-current", "page");
  }
}

/** A table that may scroll sideways: a named region a keyboard can reach and scroll. */
export function scroller(...children) {
  const caption = children.map((c) => (c instanceof Element ? c.querySelector("caption") : null)).find(Boolean);
  const label = caption?.textContent || "جدول";
  return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": label }, ...children);
}
