// What the case pages share: kinds, categories, the intake form, the case's timeline and the unit pickers.
import { get } from "./api.js";
import { mobileProblem, nationalIdProblem, textProblem } from "./checks.js";
import { fa, jalali, latin, trackingCode } from "./format.js";
import { NAMES } from "./names-fa.js";
import { clear, field, h, select } from "./ui.js";

// SPEC C2: the kinds, most asked first, with their Persian names (names-fa.js)
export const KINDS = Object.entries(NAMES.case_kind);

// services/complaints/domain.py: TEXT_MIN, TEXT_MAX, NAME_MAX
export const TEXT_MIN = 10;
export const TEXT_MAX = 4000;
export const NAME_MAX = 100;
export const NOTE_MAX = 2000;

export function kindChoices(name = "kind", checked = "complaint") {
  return h("fieldset", { class: "group" },
    h("legend", {}, "نوع درخواست ", h("span", { class: "hint" }, "(الزامی)")),
    h("div", { class: "choices" }, KINDS.map(([value, label]) =>
      h("label", { class: "choice" }, h("input", { type: "radio", name, value, checked: value === checked }), label))));
}

let categories = null;

/** What a case can be about, as GET /org/categories lists it: {code: Persian title}, fetched once. */
export function categoryNames() {
  categories ||= get("/org/categories").then((data) => Object.fromEntries(data.items.map((c) => [c.code, c.title_fa])))
    .catch(() => ({}));
  return categories;
}

/** A category picker whose options fill in when the list arrives. */
export function categoryControl() {
  const control = select([], { empty: "— انتخاب نشده —" });
  categoryNames().then((names) => control.append(
    ...Object.entries(names).map(([code, title]) => h("option", { value: code }, title))));
  return control;
}

export function categorySelect() {
  return field({ label: "موضوع (اختیاری)", name: "category", control: categoryControl() });
}

export function textArea(label = "شرح", hint = null) {
  const area = h("textarea", { required: true, maxlength: String(TEXT_MAX), rows: "7" });
  const counter = h("span", { class: "counter", "aria-live": "off" });
  const update = () => { counter.textContent = `${fa(area.value.length)} از ${fa(TEXT_MAX)} نویسه`; };
  area.addEventListener("input", update);
  update();
  const wrap = field({ label: `${label} (الزامی)`, name: "text", control: area,
    hint: hint || `دست‌کم ${fa(TEXT_MIN)} نویسه. هر چه روشن‌تر بنویسید، زودتر رسیدگی می‌شود.` });
  wrap.append(counter);
  return wrap;
}

/** Province → county → center pickers over GET /org/units; the value is the chosen center's id. */
export function centerPicker() {
  const province = select([], { empty: "— استان —", name: "center_province", id: "f-center-province" });
  const county = select([], { empty: "— شهرستان —", name: "center_county", id: "f-center-county", disabled: true });
  const center = select([], { empty: "— مرکز —", name: "center", id: "f-center", disabled: true });
  const status = h("span", { class: "hint", role: "status" });
  const fill = (node, items, empty) => clear(node, h("option", { value: "" }, empty),
    items.map((u) => h("option", { value: u.id }, u.name_fa)));
  get("/org/units?kind=province").then((data) => fill(province, data.items, "— استان —"))
    .catch(() => { status.textContent = "فهرست مراکز اکنون در دسترس نیست؛ این بخش اختیاری است."; });
  province.addEventListener("change", async () => {
    fill(county, [], "— شهرستان —"); fill(center, [], "— مرکز —");
    county.disabled = center.disabled = true;
    if (!province.value) return;
    const data = await get(`/org/units?kind=county&parent=${encodeURIComponent(province.value)}`);
    fill(county, data.items, "— شهرستان —");
    county.disabled = false;
  });
  county.addEventListener("change", async () => {
    fill(center, [], "— مرکز —");
    center.disabled = true;
    if (!county.value) return;
    const data = await get(`/org/units?kind=center&parent=${encodeURIComponent(county.value)}`);
    fill(center, data.items, "— مرکز —");
    center.disabled = !data.items.length;
    status.textContent = data.items.length ? `${fa(data.items.length)} مرکز در این شهرستان` : "مرکزی در این شهرستان ثبت نشده است.";
  });
  return h("fieldset", {},
    h("legend", {}, "مرکز مورد نظر (اختیاری)"),
    h("span", { class: "hint" }, "اگر درخواست دربارهٔ یک مرکز (مهدکودک، مرکز توانبخشی، مرکز نگهداری و …) است، آن را انتخاب کنید."),
    h("div", { class: "grid" },
      h("div", { class: "field" }, h("label", { for: province.id }, "استان"), province),
      h("div", { class: "field" }, h("label", { for: county.id }, "شهرستان"), county),
      h("div", { class: "field" }, h("label", { for: center.id }, "مرکز"), center)),
    status);
}

/** The case as its intake body, from a form built of the pieces above (digits made Latin). */
export function intakeBody(form, { anonymous = false } = {}) {
  const data = new FormData(form);
  const body = { kind: data.get("kind"), text: String(data.get("text") || "").trim() };
  // urgency: only staff forms have it (the public does not choose it; staff and the rules do)
  for (const key of ["urgency", "category", "center"]) if (data.get(key)) body[key] = data.get(key);
  if (!anonymous) {
    const name = String(data.get("name") || "").trim();
    const mobile = latin(data.get("mobile") || "").replace(/[\s-]/g, "");
    const nationalId = latin(data.get("national_id") || "").replace(/[\s-]/g, "");
    if (name) body.name = name;
    if (mobile) body.mobile = mobile;
    if (nationalId) body.national_id = nationalId;
  }
  return body;
}

/**
 * What an intake body (intakeBody) would be refused for, checked here before it is sent: the text's length,
 * the name's, the mobile and the national ID with its check digit. [{field, message}] (empty: send it).
 */
export function intakeProblems(form, { anonymous = false } = {}) {
  const data = new FormData(form);
  const problems = [{ field: "text", message: textProblem(data.get("text"), { min: TEXT_MIN, max: TEXT_MAX }) }];
  if (!anonymous) {
    problems.push(
      { field: "name", message: textProblem(data.get("name"), { max: NAME_MAX, required: false }) },
      { field: "mobile", message: mobileProblem(data.get("mobile") || "") },
      { field: "national_id", message: nationalIdProblem(data.get("national_id") || "") });
  }
  return problems.filter((p) => p.message);
}

/** A case's timeline as an ordered list (SPEC C3). */
export function timeline(steps) {
  return h("ol", { class: "timeline" }, steps.map((step) => h("li", {},
    h("strong", {}, step.stage_fa),
    step.unit_fa ? h("span", {}, ` — ${step.unit_fa}`) : null,
    h("time", { datetime: step.at?.iso || "" }, jalali(step.at)),
    step.note ? h("div", { class: "note" }, step.note) : null)));
}

export function codeText(code) {
  return h("span", { class: "ltr", dir: "ltr" }, trackingCode(code));
}

// --- the organization tree, for referral pickers -----------------------------------------------------------
export function levelOf(unit) {
  if (unit === "hq") return "hq";
  if (unit.startsWith("hq.")) return "hq_unit";
  if (unit.includes(".center.")) return "center";
  if (unit.includes(".county.")) return "county";
  if (unit.includes(".unit.")) return "province_unit";
  return "province";
}

function parentOf(unit) {
  const parts = unit.split(".");
  return parts.slice(0, -2).join(".");
}

/** The units a holder may refer a case to (SPEC C5: one level down), as GET /org/units lists them. */
export async function referralTargets(holder) {
  const level = levelOf(holder);
  let query;
  if (holder === "hq.inspection") query = "kind=hq_unit";
  else if (level === "hq_unit") query = "kind=province";
  else if (level === "province") query = `parent=${encodeURIComponent(holder)}`;
  else if (level === "province_unit") query = `kind=county&parent=${encodeURIComponent(parentOf(holder))}`;
  else if (level === "county") query = `kind=center&parent=${encodeURIComponent(holder)}`;
  else return [];
  const data = await get(`/org/units?${query}`);
  return data.items.filter((u) => u.id !== "hq.inspection" && u.id !== holder);
}

let names = null;

/** Every unit's Persian name by id (for histories that name units by id); {} when the tree is unavailable. */
export function unitNames() {
  names ||= get("/org/units").then((data) => Object.fromEntries(data.items.map((u) => [u.id, u.name_fa])))
    .catch(() => ({}));
  return names;
}
