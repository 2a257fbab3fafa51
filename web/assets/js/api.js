// The public gateway API, from the browser. Errors come back as ApiError carrying the API's
// application/problem+json (a Persian `message`, and `errors[]` naming the field at fault).
//
// Every POST, PUT, PATCH and DELETE carries an `Idempotency-Key`. A creating request (a route that takes
// the key: `idempotency: actionKey()`) keeps one key per user action: the same key on its automatic
// retries and when the person presses the button again on an unchanged form; a changed form is a new
// action with a new key. On a network error, 503 or 504 the outcome is unknown (the thing may have been
// created): such a request is sent again, with the same key, a few times, waiting as `Retry-After` says
// (at most RETRY.maxWaitMs a wait, RETRY.budgetMs in all); after that the person is told, in Persian, that
// the result is not known yet and that pressing again is safe.
//
// A 429 (too many requests from this client in a short time) is not a lock and not the person's mistake: its
// message says, in Persian, how many seconds to wait (from Retry-After); ui.js counts them down.
import { fa, seconds as secondsText } from "./format.js";

export const API = "/api/v1";

export const MESSAGES = {
  network: "ارتباط با سامانه برقرار نشد؛ اتصال خود را بررسی کنید و دوباره تلاش کنید.",
  missing: "این بخش از سامانه هنوز آماده نیست یا در دسترس نیست؛ کمی بعد دوباره سر بزنید.",
  generic: "درخواست انجام نشد؛ لطفاً دوباره تلاش کنید.",
  session: "نشست شما به پایان رسیده است؛ دوباره وارد شوید.",
  unknownTitle: "نتیجهٔ درخواست هنوز معلوم نیست",
  unknown: "سامانه به‌موقع پاسخ نداد و هنوز معلوم نیست درخواست شما ثبت شده است یا نه. "
    + "زدن دوبارهٔ همان دکمه بی‌خطر است: همان درخواست با همان شناسه فرستاده می‌شود و چیزی دو بار ثبت نمی‌شود. "
    + "چند لحظهٔ دیگر دوباره بزنید و تا آن وقت فرم را تغییر ندهید؛ فرمِ تغییرکرده درخواست تازه‌ای حساب می‌شود.",
  retrying: (attempt, of, seconds) => "پاسخ سامانه نرسید و هنوز معلوم نیست درخواست شما ثبت شده است یا نه. "
    + `همان درخواست را با همان شناسه خودکار دوباره می‌فرستیم (تلاش ${fa(attempt)} از ${fa(of)}`
    + (seconds > 0 ? `، ${fa(seconds)} ثانیهٔ دیگر` : "") + ")؛ چیزی دو بار ثبت نمی‌شود. لطفاً صفحه را نبندید.",
  rateLimitedTitle: "کمی صبر کنید",
  rateLimited: (seconds) => "در چند دقیقهٔ گذشته از این دستگاه یا شبکه درخواست‌های زیادی به این بخش رسیده است "
    + "(برای نمونه همکارانی که از یک اداره وارد می‌شوند) و سامانه برای مدتی کوتاه درخواست تازه نمی‌پذیرد. "
    + (seconds ? `${secondsText(seconds)} دیگر دوباره تلاش کنید.` : "کمی بعد دوباره تلاش کنید.")
    + " این پیام به معنی قفل شدن حساب یا اشتباه شما نیست.",
};

/** Automatic retries of a creating request whose outcome is unknown. */
export const RETRY = { attempts: 4, baseMs: 1000, maxWaitMs: 10_000, budgetMs: 30_000 };

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export class ApiError extends Error {
  constructor(status, problem, { retryAfterMs = null, idempotencyKey = null } = {}) {
    super(problem?.message || MESSAGES.generic);
    this.status = status;
    this.problem = problem || {};
    this.retryAfterMs = retryAfterMs;
    this.idempotencyKey = idempotencyKey;
    this.unknownOutcome = false;  // set when a creating request's retries ran out: pressing again is safe
  }

  get code() { return this.problem.code; }
  get fieldErrors() { return Array.isArray(this.problem.errors) ? this.problem.errors : []; }
  /** A route this page expects is not in the gateway (an API not deployed yet), not a missing record. */
  get routeMissing() { return this.status === 404 && (this.code === "not_found" || this.code === "not_json"); }
  /** Too many requests from this client: wait retryAfterMs (a 429 is never retried by itself). */
  get rateLimited() { return this.status === 429; }
  /** The whole seconds to wait before trying again, from Retry-After (null when it did not say). */
  get waitSeconds() { return this.retryAfterMs === null ? null : Math.max(1, Math.ceil(this.retryAfterMs / 1000)); }
  /** No answer, 503 or 504: the request may or may not have had its effect. */
  get transient() { return this.status === 0 || this.status === 503 || this.status === 504; }
}

/** A fresh idempotency key (a UUID; version 4 from getRandomValues where randomUUID is missing). */
export function newKey() {
  if (typeof globalThis.crypto?.randomUUID === "function") return globalThis.crypto.randomUUID();
  const bytes = new Uint8Array(16);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function fingerprint(method, path, body) {
  if (typeof FormData !== "undefined" && body instanceof FormData) {
    body = Array.from(body.entries(), ([name, value]) => (typeof value === "string" ? [name, value]
      : [name, value.name, value.size, value.type, value.lastModified]));
  }
  return JSON.stringify([method, path, body ?? null]);
}

/**
 * One user action's idempotency key, for a form or a button: request(…, {idempotency: action}) sends
 * the same key for the same request (method, path and body) until it changes; then a new one.
 */
export function actionKey() {
  let key = null;
  let seen = null;
  return {
    keyFor(method, path, body) {
      const serial = fingerprint(method, path, body);
      if (key === null || serial !== seen) {
        key = newKey();
        seen = serial;
      }
      return key;
    },
    get current() { return key; },
    /** The next request is a new action (e.g. the gateway refused this key with another body). */
    forget() { key = null; seen = null; },
  };
}

/** Retry-After (seconds or an HTTP date) in milliseconds; null when absent or unreadable. */
export function retryAfterMs(value, now = Date.now()) {
  if (value === null || value === undefined || String(value).trim() === "") return null;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** How long to wait before retry number `retry` (1, 2, …): Retry-After, else 1 s, 2 s, 4 s…; capped. */
export function retryDelay(error, retry) {
  const asked = error?.retryAfterMs;
  const wait = asked ?? RETRY.baseMs * 2 ** (retry - 1) + Math.floor(Math.random() * 250);
  return Math.min(Math.max(0, wait), RETRY.maxWaitMs);
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// --- staff session (sessionStorage: gone when the tab closes) -------------------------------------------
const STAFF_KEY = "behzisti.staff";
let refreshing = null;

export const staffSession = {
  get() {
    try { return JSON.parse(sessionStorage.getItem(STAFF_KEY) || "null"); } catch { return null; }
  },
  set(tokens) {
    const stored = { access_token: tokens.access_token, refresh_token: tokens.refresh_token,
      principal: tokens.principal, at: Date.now() };
    sessionStorage.setItem(STAFF_KEY, JSON.stringify(stored));
    return stored;
  },
  clear() { sessionStorage.removeItem(STAFF_KEY); },
};

async function refreshStaff() {
  const session = staffSession.get();
  if (!session?.refresh_token) throw new ApiError(401, { code: "session_ended", message: MESSAGES.session });
  if (!refreshing) {
    refreshing = request("/auth/refresh", { method: "POST", json: { refresh_token: session.refresh_token } })
      .then((tokens) => staffSession.set(tokens))
      .catch((error) => { staffSession.clear(); throw error; })
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

/**
 * request(path, {method, json, form, headers, auth, bearer, raw, idempotency, onRetry})
 *   auth: "staff" sends the staff access token (refreshed once when it expired);
 *   bearer: a token of its own (a beneficiary's session);
 *   raw: the Response itself (downloads);
 *   idempotency: an actionKey() for a route that takes the Idempotency-Key: one key per user action, and
 *     automatic retries (same key) when the outcome is unknown; without it a POST still carries a key of
 *     its own, but is not retried;
 *   onRetry({state: "retrying", attempt, of, seconds} | {state: "settled"}): told before each automatic
 *     retry, and once at the end if there was one (ui.js retryNotice shows it to the person).
 */
export async function request(path, options = {}) {
  const method = String(options.method || "GET").toUpperCase();
  if (!UNSAFE.has(method)) return send(path, { ...options, method });
  const headers = { ...(options.headers || {}) };
  const named = Object.keys(headers).find((name) => name.toLowerCase() === "idempotency-key");
  const key = named ? headers[named]
    : options.idempotency ? options.idempotency.keyFor(method, path, options.json ?? options.form) : newKey();
  if (!named) headers["Idempotency-Key"] = key;
  const keyed = { ...options, method, headers };
  if (!options.idempotency) return send(path, keyed);
  return sendWithRetries(path, keyed, key);
}

async function sendWithRetries(path, options, key) {
  const { onRetry = null, idempotency } = options;
  let waited = 0;
  let retries = 0;
  try {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await send(path, options);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.code === "idempotency_key_reused") idempotency.forget();
        if (!error.transient) throw error;
        const wait = retryDelay(error, attempt);
        if (attempt >= RETRY.attempts || waited + wait > RETRY.budgetMs) {
          const unknown = new ApiError(error.status, { ...error.problem, message: MESSAGES.unknown },
            { retryAfterMs: error.retryAfterMs, idempotencyKey: error.idempotencyKey || key });
          unknown.unknownOutcome = true;
          unknown.cause = error;
          throw unknown;
        }
        retries += 1;
        onRetry?.({ state: "retrying", attempt: attempt + 1, of: RETRY.attempts, seconds: Math.ceil(wait / 1000), key });
        await sleep(wait);
        waited += wait;
      }
    }
  } finally {
    if (retries) onRetry?.({ state: "settled" });
  }
}

async function send(path, options) {
  const { method = "GET", json, form, headers = {}, auth = null, bearer = null, raw = false, retried = false } = options;
  const init = { method, headers: { Accept: "application/json, application/problem+json", ...headers },
    credentials: "same-origin" };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form) {
    init.body = form;
  }
  if (auth === "staff") {
    const session = staffSession.get();
    if (session) init.headers.Authorization = `Bearer ${session.access_token}`;
  } else if (bearer) {
    init.headers.Authorization = `Bearer ${bearer}`;
  }
  const sentKey = init.headers["Idempotency-Key"] || null;
  let response;
  try {
    response = await fetch(path.startsWith("/") && !path.startsWith(API) ? API + path : path, init);
  } catch {
    throw new ApiError(0, { code: "network", message: MESSAGES.network }, { idempotencyKey: sentKey });
  }
  if (response.status === 401 && auth === "staff" && !retried) {
    const problem = await response.clone().json().catch(() => ({}));
    if (problem.code === "token_expired") {
      await refreshStaff();
      return send(path, { ...options, retried: true });  // the same Idempotency-Key
    }
  }
  const type = response.headers.get("Content-Type") || "";
  if (!response.ok) {
    let problem = null;
    if (type.includes("json")) problem = await response.json().catch(() => null);
    if (!problem || typeof problem.message !== "string") {
      problem = { code: response.status === 404 ? "not_json" : `http_${response.status}`,
        message: response.status === 404 ? MESSAGES.missing : MESSAGES.generic };
    }
    const wait = retryAfterMs(response.headers.get("Retry-After"));
    if (response.status === 429) {
      problem = { ...problem, message: MESSAGES.rateLimited(wait === null ? null : Math.ceil(wait / 1000)) };
    }
    throw new ApiError(response.status, problem, { retryAfterMs: wait,
      idempotencyKey: response.headers.get("Idempotency-Key") || sentKey });
  }
  if (raw) return response;
  if (response.status === 204) return null;
  if (!type.includes("json")) throw new ApiError(404, { code: "not_json", message: MESSAGES.missing });
  return response.json();
}

export const get = (path, options = {}) => request(path, { ...options, method: "GET" });
export const post = (path, json, options = {}) => request(path, { ...options, method: "POST", json });
