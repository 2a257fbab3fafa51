// What the Shafaf pages share: the API's base, download addresses, Persian-aware search, a clear
// message when the transparency API is not there, and the signature check (WebCrypto Ed25519).
import { ApiError } from "./api.js";
import { latin, nameOf } from "./format.js";
import { h, message, problemBox } from "./ui.js";

export const T = "/api/v1/transparency";

/** Where each format of a dataset (a version of it) is downloaded. */
export function downloads(slug, formats, version = null) {
  const v = version ? `?version=${version}` : "";
  const href = { csv: `${T}/datasets/${slug}/download.csv${v}`, json: `${T}/datasets/${slug}/download.json${v}`,
    ocds: `${T}/datasets/contracts/ocds.json${v}`, fdp: `${T}/datasets/budget/datapackage.json${v}` };
  return (formats || ["csv", "json"]).filter((f) => href[f]).map((f) => ({ format: f, label: nameOf("download_format", f), href: href[f] }));
}

/** An internal id or a code in Latin letters, as it is (its Latin digits), isolated left to right inside Persian
 * text; it wraps anywhere on a phone, and its row keeps the page's right-to-left alignment. */
export function latinId(value) {
  return h("bdi", { dir: "ltr", class: "id" }, String(value));
}

/** Letters and digits as the API compares them: ي→ی, ك→ک, Persian and Arabic digits → Latin. */
export function normalise(text) {
  return latin(String(text ?? "").replace(/ي/g, "ی").replace(/ى/g, "ی").replace(/ك/g, "ک"))
    .replace(/\u200c/g, " ").toLowerCase();
}

/** The box shown when a Shafaf call fails: "not there yet" reads differently from "went wrong". */
export function shafafProblem(error, title = "داده‌ها باز نشد") {
  if (error instanceof ApiError && error.routeMissing) {
    return message("warn", "سامانهٔ شفاف هنوز راه‌اندازی نشده است",
      h("p", {}, "این بخش از سامانه هنوز در دسترس نیست؛ کمی بعد دوباره سر بزنید. بخش‌های دیگر سامانه کار می‌کنند."));
  }
  return problemBox(error, title);
}

// --- verification ------------------------------------------------------------------------------------------
const RECORD_FIELDS = ["slug", "version", "published_at", "row_count", "content_sha256", "prev_sha256", "note"];
const GENESIS = "0".repeat(64);

/** JSON with keys sorted and no spaces, as services/transparency/signing.py canonical() writes it. */
export function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export async function sha256Hex(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

export function cryptoAvailable() {
  return Boolean(globalThis.crypto?.subtle);
}

export async function importPublicKey(publicKeyB64) {
  return crypto.subtle.importKey("raw", fromBase64(publicKeyB64), { name: "Ed25519" }, false, ["verify"]);
}

/**
 * Check one dataset's versions (in order) with the public key: each signature (Ed25519 over the record
 * hash's hex text), each record hash recomputed from its fields, each link to the version before it.
 * Returns [{version, signature, record, chain}] with true/false/null (null: the record has no such field).
 */
export async function verifyVersions(versions, key) {
  const results = [];
  let prev = GENESIS;
  for (const record of versions) {
    const signed = record.record_sha256 ?? record.sha256;
    let signature = false;
    try {
      signature = await crypto.subtle.verify({ name: "Ed25519" }, key, fromBase64(record.signature),
        new TextEncoder().encode(signed));
    } catch {
      signature = false;
    }
    let recordOk = null;
    if (record.record_sha256 && RECORD_FIELDS.every((f) => f in record)) {
      const fields = Object.fromEntries(RECORD_FIELDS.map((f) => [f, record[f]]));
      recordOk = (await sha256Hex(canonical(fields))) === record.record_sha256;
    }
    const chain = record.prev_sha256 === undefined ? null : record.prev_sha256 === prev;
    prev = signed;
    results.push({ version: record.version, signature, record: recordOk, chain });
  }
  return results;
}
