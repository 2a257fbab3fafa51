// The public gateway API, from the browser. Errors come back as ApiError carrying the API's
// application/problem+json (a Persian `message`, and `errors[]` naming the field at fault).

export const API = "/api/v1";

export const MESSAGES = {
  network: "ارتباط با سامانه برقرار نشد؛ اتصال خود را بررسی کنید و دوباره تلاش کنید.",
  missing: "این بخش از سامانه هنوز آماده نیست یا در دسترس نیست؛ کمی بعد دوباره سر بزنید.",
  generic: "درخواست انجام نشد؛ لطفاً دوباره تلاش کنید.",
  session: "نشست شما به پایان رسیده است؛ دوباره وارد شوید.",
};

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.message || MESSAGES.generic);
    this.status = status;
    this.problem = problem || {};
  }

  get code() { return this.problem.code; }
  get fieldErrors() { return Array.isArray(this.problem.errors) ? this.problem.errors : []; }
  /** A route this page expects is not in the gateway (an API not deployed yet), not a missing record. */
  get routeMissing() { return this.status === 404 && (this.code === "not_found" || this.code === "not_json"); }
}

/** A fresh idempotency key: the same one is sent again when a request is retried. */
export function newKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

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
 * request(path, {method, json, form, headers, auth, bearer, raw})
 *   auth: "staff" sends the staff access token (refreshed once when it expired);
 *   bearer: a token of its own (a beneficiary's session);
 *   raw: the Response itself (downloads).
 */
export async function request(path, options = {}) {
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
  let response;
  try {
    response = await fetch(path.startsWith("/") && !path.startsWith(API) ? API + path : path, init);
  } catch {
    throw new ApiError(0, { code: "network", message: MESSAGES.network });
  }
  if (response.status === 401 && auth === "staff" && !retried) {
    const problem = await response.clone().json().catch(() => ({}));
    if (problem.code === "token_expired") {
      await refreshStaff();
      return request(path, { ...options, retried: true });
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
    throw new ApiError(response.status, problem);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  if (!type.includes("json")) throw new ApiError(404, { code: "not_json", message: MESSAGES.missing });
  return response.json();
}

export const get = (path, options = {}) => request(path, { ...options, method: "GET" });
export const post = (path, json, options = {}) => request(path, { ...options, method: "POST", json });
