"""The web pages (issue 11): static HTML, CSS and ES modules from web/, served at / and under /web/…,
outside the OpenAPI document. Every page calls the public JSON API from the browser; nothing here
calls a service or holds a rule.

Caching: HTML, scripts and styles are revalidated on every use (ETag / Last-Modified, so a 304 is
cheap and a new deployment is seen at once); fonts and images carry their version in their name and
are cached for a year. The pages' own Content-Security-Policy allows nothing but this origin: no CDN,
no outside request, no inline script.

Every SMS about a case links to `<PUBLIC_BASE_URL>/track/<tracking code>` (services/notifications): that
address opens the case-following page for the code. Any other address that is not the API's answers the
Persian 404 page (`not_found_page`), never JSON."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, Flask, Response, redirect, request, send_from_directory
from werkzeug.exceptions import NotFound

from common.text import normalise_digits

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
LONG_LIVED = {".woff2", ".woff", ".png", ".svg", ".ico", ".webp"}
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".woff2": "font/woff2", ".json": "application/json",
         ".webmanifest": "application/manifest+json"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'")
NOT_SERVED = {"package.json", "package-lock.json", "node_modules"}
TRACK_PAGE = "/web/citizen/track.html"
# Paths that belong to the API and its probes: their 404 stays application/problem+json.
API_PATHS = ("/api/", "/open311/")
API_EXACT = {"/api", "/open311", "/healthz", "/readyz", "/metrics"}

bp = Blueprint("pages", __name__)


def register(app: Flask) -> None:
    """Serve the pages from `app`; static files are exempt from the API's per-client rate limits
    (a page is a dozen small files, each answered from disk)."""
    app.register_blueprint(bp)
    limiter = app.extensions.get("limiter")
    if limiter is not None:
        limiter.exempt(bp)


@bp.get("/")
def home():
    return _serve("index.html")


@bp.get("/track")
@bp.get("/track/")
@bp.get("/track/<path:code>")
def track(code: str = ""):
    """The link in every case SMS: the case-following page, opened on this code. Persian or Arabic digits,
    spaces and dashes are read as the tracking form reads them; anything else is dropped."""
    digits = re.sub(r"[^0-9]", "", normalise_digits(code))[:32]
    return redirect(f"{TRACK_PAGE}?code={quote(digits)}" if digits else TRACK_PAGE, code=302)


@bp.get("/web")
def web_root():
    return redirect("/web/", code=301)


@bp.get("/web/")
@bp.get("/web/<path:path>")
def asset(path: str = ""):
    if path == "" or path.endswith("/"):
        path += "index.html"
    elif (WEB_ROOT / path).is_dir():
        return redirect(f"/web/{path}/", code=301)
    return _serve(path)


def _serve(path: str) -> Response:
    if any(part in NOT_SERVED or part.startswith(".") for part in Path(path).parts):
        return _not_found()
    try:
        response = send_from_directory(WEB_ROOT, path, conditional=True, etag=True, max_age=0,
                                       mimetype=TYPES.get(Path(path).suffix))
    except NotFound:
        return _not_found()
    response.headers.pop("Content-Disposition", None)
    suffix = Path(path).suffix
    if suffix in LONG_LIVED:
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response.headers["Cache-Control"] = "no-cache"
    _page_headers(response)
    return response


def is_page_path(path: str) -> bool:
    """A path a person's browser opens (a page, an asset, a mistyped address), not the API's."""
    return not (path.startswith(API_PATHS) or path.rstrip("/") in API_EXACT)


def not_found_page() -> Response:
    """The Persian 404 page, for an address that is not the API's."""
    return _not_found()


def _not_found() -> Response:
    page = WEB_ROOT / "404.html"
    body = page.read_bytes() if page.exists() else "<!doctype html><title>پیدا نشد</title>".encode()
    response = Response(body, status=404, mimetype="text/html")
    response.headers["Cache-Control"] = "no-cache"
    _page_headers(response)
    return response


def _page_headers(response: Response) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if request.path.endswith(".html") or request.path.endswith("/") or request.path == "/":
        response.headers.setdefault("Content-Language", "fa")
