"""The web pages send an Idempotency-Key on every creating request, through the one helper that does it
(web/assets/js/api.js), and retry a creating request whose outcome is unknown (no answer, 503, 504) with
the SAME key, honouring Retry-After within bounds, before telling the person in Persian.

Two halves: a scan of web/ (no request bypasses the helper; every call to a route that takes
`IdempotencyHeader` in gateway/routes/ passes the helper an action key), and the helper itself run under
Node with a scripted fetch (skipped where Node is not installed)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from common.config import PROJECT_ROOT

WEB = PROJECT_ROOT / "web"
HELPER = WEB / "assets" / "js" / "api.js"
ROUTES = PROJECT_ROOT / "gateway" / "routes"
API_PREFIX = "/api/v1"  # api.js puts it before a path that starts with "/" and not with it
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# the creating routes the pages use today: the scan must find each of them (it is not vacuous)
PAGES_CREATE = {("POST", "/api/v1/cases"), ("POST", "/api/v1/staff/cases"), ("POST", "/api/v1/donations"),
                ("POST", "/api/v1/staff/payments/cycles"), ("POST", "/api/v1/staff/payments/cycles/{}/approve")}


def _scripts() -> dict[str, str]:
    """Every script of web/: the .js files and any inline <script> of the pages."""
    found = {str(p.relative_to(PROJECT_ROOT)): p.read_text(encoding="utf-8") for p in WEB.rglob("*.js")}
    for page in WEB.rglob("*.html"):
        inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", page.read_text(encoding="utf-8"), re.S)
        if any(s.strip() for s in inline):
            found[str(page.relative_to(PROJECT_ROOT))] = "\n".join(inline)
    return found


def _normalise(path: str) -> str:
    """/cases/<tracking_code>/evidence and /cases/${code}/evidence alike: /cases/{}/evidence"""
    path = re.sub(r"<[^>]+>", "{}", path)
    path = re.sub(r"\$\{[^}]*\}", "{}", path)
    path = path.split("?")[0].rstrip("/")
    return path or "/"


def keyed_routes() -> set[tuple[str, str]]:
    """(method, path) of every gateway route whose handler takes IdempotencyHeader."""
    keyed = set()
    for source in ROUTES.glob("*.py"):
        text = source.read_text(encoding="utf-8")
        prefix = re.search(r"APIBlueprint\([^)]*?url_prefix=\"([^\"]*)\"", text, re.S)
        prefix = prefix.group(1) if prefix else ""
        for match in re.finditer(r"@bp\.(post|put|patch|delete)\(\s*\"([^\"]*)\"", text):
            signature = re.search(r"\ndef \w+\((.*?)\):", text[match.end():], re.S)
            if signature and "IdempotencyHeader" in signature.group(1):
                keyed.add((match.group(1).upper(), _normalise(prefix + match.group(2))))
    return keyed


def _call_at(text: str, start: int) -> str:
    """The text of a call from its opening parenthesis to the matching one (strings and templates skipped)."""
    depth, i, quote = 0, start, None
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return text[start:i + 1]
        i += 1
    raise AssertionError(f"unbalanced call at {start}")


def helper_calls() -> list[dict]:
    """Each request(…)/post(…) of the pages that changes something: where, method, API path, call text."""
    calls = []
    for name, text in _scripts().items():
        if name == str(HELPER.relative_to(PROJECT_ROOT)):
            continue  # the helper's own definitions (and its token refresh)
        for match in re.finditer(r"(?<![\w.])(request|post)\(", text):
            call = _call_at(text, match.end() - 1)
            literal = re.match(r"\(\s*([\"'`])(.*?)\1", call, re.S)
            method = "POST" if match.group(1) == "post" else None
            stated = re.search(r"\bmethod:\s*[\"'](\w+)[\"']", call)
            if stated:
                method = stated.group(1).upper()
            if method not in UNSAFE:
                continue
            assert literal, f"{name}: a {method} whose path is not a literal: {call[:120]}"
            path = literal.group(2)
            if path.startswith("/") and not path.startswith(API_PREFIX) and not path.startswith("${"):
                path = API_PREFIX + path
            if path.startswith("${T}"):  # shafaf-me.js: T is the transparency API's prefix
                path = API_PREFIX + "/transparency" + path[len("${T}"):]
            calls.append({"where": name, "method": method, "path": _normalise(path), "call": call})
    return calls


def test_no_page_sends_a_request_around_the_helper():
    offenders = []
    for name, text in _scripts().items():
        if name == str(HELPER.relative_to(PROJECT_ROOT)):
            continue
        for pattern in (r"(?<![\w.])fetch\(", r"\bXMLHttpRequest\b", r"\bsendBeacon\(", r"\.ajax\(", r"\baxios\b",
                        r"<form[^>]*method=[\"']?post"):
            offenders += [f"{name}: {m.group(0)}" for m in re.finditer(pattern, text, re.I)]
    for page in WEB.rglob("*.html"):  # a plain HTML form posting by itself would carry no key
        offenders += [f"{page.name}: {m.group(0)}" for m in
                      re.finditer(r"<form[^>]*method=[\"']?post", page.read_text(encoding="utf-8"), re.I)]
    assert offenders == [], "requests that do not go through web/assets/js/api.js (which sets the Idempotency-Key)"


def test_the_helper_sets_the_key_on_every_unsafe_request():
    text = HELPER.read_text(encoding="utf-8")
    assert re.search(r"const UNSAFE = new Set\(\[\"POST\", \"PUT\", \"PATCH\", \"DELETE\"\]\)", text)
    assert 'headers["Idempotency-Key"] = key' in text
    assert len(re.findall(r"(?<![\w.])fetch\(", text)) == 1, "one fetch, in send()"


def test_every_creating_call_of_the_pages_passes_an_action_key_to_the_helper():
    keyed = keyed_routes()
    assert PAGES_CREATE <= keyed, f"gateway/routes no longer take IdempotencyHeader on {PAGES_CREATE - keyed}"
    calls = helper_calls()
    used = {(c["method"], c["path"]) for c in calls}
    assert PAGES_CREATE <= used, f"the scan missed {PAGES_CREATE - used}"
    missing = [f"{c['where']}: {c['method']} {c['path']}" for c in calls
               if (c["method"], c["path"]) in keyed and not re.search(r"\bidempotency:\s*\w", c["call"])]
    assert missing == [], "creating calls without `idempotency: actionKey()` (one key per action, retried safely)"
    by_hand = [f"{c['where']}: {c['method']} {c['path']}" for c in calls if "Idempotency-Key" in c["call"]]
    assert by_hand == [], "the helper sets the Idempotency-Key; a key made by hand is not reused on a retry"


# --- the helper itself, under Node ---------------------------------------------------------------------
HARNESS = r"""
const api = await import(process.argv[2]);
const { request, actionKey, newKey, ApiError, MESSAGES, RETRY, retryAfterMs } = api;
const out = {};
let script = [];
let seen = [];
globalThis.fetch = async (url, init) => {
  seen.push({ url, method: init.method, key: init.headers["Idempotency-Key"] ?? null, body: init.body ?? null });
  const next = script.shift();
  if (!next) throw new Error("no scripted answer");
  if (next === "network") throw new TypeError("Failed to fetch");
  const [status, headers = {}] = next;
  const body = status >= 400
    ? JSON.stringify({ code: status === 503 ? "service_unavailable" : status === 504 ? "service_timeout" : "invalid",
                       message: "پیام سامانه", request_id: "r-1" })
    : JSON.stringify({ tracking_code: "1234567890123456" });
  return new Response(body, { status, headers: { "Content-Type": status >= 400 ? "application/problem+json"
                                                                                 : "application/json", ...headers } });
};
let delays = [];
globalThis.setTimeout = (fn, ms) => { delays.push(ms); fn(); return 0; };

async function run(name, answers, path, options) {
  script = answers; seen = []; delays = []; const notices = [];
  let result = null, error = null;
  try {
    result = await request(path, { ...options, onRetry: (info) => notices.push(info) });
  } catch (e) {
    error = { status: e.status, message: e.message, unknown: e.unknownOutcome === true, key: e.idempotencyKey,
              code: e.code, isApiError: e instanceof ApiError };
  }
  out[name] = { result, error, seen, delays, notices, left: script.length };
}

const form = actionKey();
await run("retried", [[503, { "Retry-After": "3" }], [504], [201]], "/cases",
          { method: "POST", json: { text: "a" }, idempotency: form });
await run("capped", [[503, { "Retry-After": "120" }], [201]], "/cases",
          { method: "POST", json: { text: "a" }, idempotency: form });
await run("network", ["network", [201]], "/cases", { method: "POST", json: { text: "a" }, idempotency: form });
await run("exhausted", [[503, { "Retry-After": "0" }], [503], [504], ["network"][0], [201]], "/cases",
          { method: "POST", json: { text: "a" }, idempotency: form });
await run("pressed_again", [[201]], "/cases", { method: "POST", json: { text: "a" }, idempotency: form });
await run("changed", [[201]], "/cases", { method: "POST", json: { text: "b" }, idempotency: form });
await run("refused", [[422]], "/cases", { method: "POST", json: { text: "b" }, idempotency: form });
await run("slow_retry_after", [[503, { "Retry-After": "10" }], [503, { "Retry-After": "10" }],
                               [503, { "Retry-After": "10" }], [503, { "Retry-After": "10" }]], "/cases",
          { method: "POST", json: { text: "c" }, idempotency: actionKey() });
const approve = actionKey();
await run("approve_a", [[200]], "/staff/payments/cycles/1405-01.x/approve", { method: "POST", idempotency: approve });
await run("approve_b", [[200]], "/staff/payments/cycles/1405-02.x/approve", { method: "POST", idempotency: approve });
await run("plain_post", [[503]], "/cases/1/rating", { method: "POST", json: { score: 5 } });
await run("plain_post_2", [[200]], "/cases/1/rating", { method: "POST", json: { score: 5 } });
await run("get", [[503]], "/cases/1", {});
await run("limited", [[429, { "Retry-After": "37" }], [201]], "/cases", { method: "POST", json: { text: "d" },
                                                                       idempotency: actionKey() });
await run("limited_no_header", [[429]], "/auth/login", { method: "POST", json: { username: "a" } });
out.date = retryAfterMs(new Date(Date.now() + 5000).toUTCString());
out.messages = MESSAGES;
out.retry = RETRY;
out.uuid = newKey();
Object.defineProperty(globalThis, "crypto", { value: { getRandomValues: (a) => { for (let i = 0; i < a.length; i++) a[i] = (i * 37 + 11) % 256; return a; } },
                                              configurable: true });
out.fallback = newKey();
Object.defineProperty(globalThis, "crypto", { value: undefined, configurable: true });
out.no_crypto = newKey();
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def helper_run(tmp_path_factory):
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        pytest.skip("Node is not installed (apt-get install nodejs): the helper's behaviour is not run")
    folder = tmp_path_factory.mktemp("web-api")
    shutil.copytree(HELPER.parent, folder / "js")  # api.js with the modules it imports (format.js, …)
    (folder / "package.json").write_text('{"type": "module"}', encoding="utf-8")  # .js files are ES modules
    (folder / "harness.mjs").write_text(HARNESS, encoding="utf-8")
    done = subprocess.run([node, str(folder / "harness.mjs"), (folder / "js" / "api.js").as_uri()],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _keys(run: dict) -> list[str]:
    return [s["key"] for s in run["seen"]]


def test_an_unknown_outcome_is_retried_with_the_same_key_honouring_retry_after(helper_run):
    run = helper_run["retried"]
    assert run["result"] == {"tracking_code": "1234567890123456"} and run["error"] is None
    keys = _keys(run)
    assert len(keys) == 3 and len(set(keys)) == 1 and UUID.match(keys[0])
    assert run["seen"][0]["body"] == run["seen"][2]["body"]
    assert run["delays"][0] == 3000, "Retry-After: 3"
    assert 2000 <= run["delays"][1] <= 2250, "no Retry-After: back-off, 1 s, 2 s, 4 s… (the second retry: 2 s)"
    assert [n["state"] for n in run["notices"]] == ["retrying", "retrying", "settled"]
    assert helper_run["capped"]["delays"] == [10_000], "a wait is capped at ten seconds"
    assert len(set(_keys(helper_run["network"]))) == 1 and len(helper_run["network"]["seen"]) == 2
    assert 4000 <= helper_run["date"] <= 5000, "Retry-After as an HTTP date"


def test_the_same_unchanged_form_keeps_its_key_and_a_changed_one_gets_another(helper_run):
    first = _keys(helper_run["retried"])[0]
    assert set(_keys(helper_run["capped"]) + _keys(helper_run["network"]) + _keys(helper_run["exhausted"])
               + _keys(helper_run["pressed_again"])) == {first}
    changed = _keys(helper_run["changed"])[0]
    assert changed != first and UUID.match(changed)
    assert _keys(helper_run["refused"]) == [changed], "a refusal (422) is not retried"
    a, b = _keys(helper_run["approve_a"])[0], _keys(helper_run["approve_b"])[0]
    assert a != b, "another cycle's approval is another action"


def test_after_bounded_retries_the_person_is_told_in_persian_that_pressing_again_is_safe(helper_run):
    run = helper_run["exhausted"]
    retry = helper_run["retry"]
    assert len(run["seen"]) == retry["attempts"] == 4 and run["left"] == 1
    error = run["error"]
    assert error["isApiError"] and error["unknown"] and error["status"] == 0
    assert error["message"] == helper_run["messages"]["unknown"]
    assert "معلوم نیست" in error["message"] and "بی‌خطر" in error["message"]
    assert error["key"] == _keys(run)[0]
    assert [n["state"] for n in run["notices"]] == ["retrying"] * 3 + ["settled"]
    slow = helper_run["slow_retry_after"]
    assert all(d <= retry["maxWaitMs"] for d in slow["delays"]) and sum(slow["delays"]) <= retry["budgetMs"]
    assert slow["error"]["unknown"] and slow["error"]["code"] == "service_unavailable"
    assert retry["maxWaitMs"] == 10_000 and retry["budgetMs"] == 30_000


def test_every_unsafe_request_carries_a_key_but_only_keyed_ones_are_retried(helper_run):
    plain, again = helper_run["plain_post"], helper_run["plain_post_2"]
    assert len(plain["seen"]) == 1 and UUID.match(plain["seen"][0]["key"]), "a 503 to a route without keys: not retried"
    assert plain["error"]["status"] == 503 and not plain["error"]["unknown"]
    assert _keys(again)[0] != _keys(plain)[0], "a key per call where the page gives no action key"
    get = helper_run["get"]
    assert _keys(get) == [None] and len(get["seen"]) == 1


def test_keys_are_uuids_with_or_without_crypto_random_uuid(helper_run):
    assert UUID.match(helper_run["uuid"])
    assert UUID.match(helper_run["fallback"]) and UUID.match(helper_run["no_crypto"])


def test_a_429_says_in_persian_how_many_seconds_to_wait_and_is_not_retried(helper_run):
    limited = helper_run["limited"]
    assert len(limited["seen"]) == 1 and limited["left"] == 1, "a 429 is not sent again by itself"
    error = limited["error"]
    assert error["status"] == 429 and not error["unknown"]
    assert "۳۷ ثانیه" in error["message"] and not re.search(r"[0-9]", error["message"])
    assert "قفل" in error["message"]  # it says this is not an account lock
    bare = helper_run["limited_no_header"]["error"]
    assert bare["status"] == 429 and "کمی بعد" in bare["message"]
