"""How the gateway serves the pages, in process (no browser, no service): the files of web/ at / and
/web/…, their caching and security headers, nothing outside web/, exempt from the API's rate limits, and
outside the OpenAPI document. Also: every page names only this origin's scripts, styles and fonts."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from common.config import Settings
from gateway.app import create_app
from gateway.pages import WEB_ROOT
from gateway.rpc import RpcClient


class NoRpc(RpcClient):
    def call(self, service, method, *args, **kwargs):  # static files never call a service
        raise AssertionError("no RPC expected")


@pytest.fixture
def client():
    return create_app(NoRpc(config={}, timeout=1), Settings(rate_limit_default="5/minute")).test_client()


PAGES = sorted(p.relative_to(WEB_ROOT).as_posix() for p in WEB_ROOT.rglob("*.html"))


def test_the_home_page_and_every_page_are_persian_right_to_left_html(client):
    home = client.get("/")
    assert home.status_code == 200 and home.mimetype == "text/html"
    assert len(PAGES) >= 15
    for page in PAGES:
        response = client.get(f"/web/{page}")
        assert response.status_code == 200, page
        html = response.get_data(as_text=True)
        assert '<html lang="fa" dir="rtl">' in html, page
        assert 'name="viewport" content="width=device-width, initial-scale=1"' in html, page
        assert '<main id="main"' in html and 'class="skip-link" href="#main"' in html, page
        # only this origin: no scheme-qualified or protocol-relative address in what the page loads
        assert not re.search(r'(src|href)="(https?:)?//', html), page


def test_folders_have_their_index_and_redirect_without_the_slash(client):
    assert client.get("/web/").status_code == 200
    assert client.get("/web/staff/").status_code == 200
    moved = client.get("/web/staff")
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/web/staff/")


def test_caching_revalidates_pages_and_scripts_and_keeps_the_versioned_font(client):
    page = client.get("/web/citizen/new.html")
    assert page.headers["Cache-Control"] == "no-cache" and page.headers["ETag"]
    again = client.get("/web/citizen/new.html", headers={"If-None-Match": page.headers["ETag"]})
    assert again.status_code == 304
    script = client.get("/web/assets/js/api.js")
    assert script.mimetype == "text/javascript" and script.headers["Cache-Control"] == "no-cache"
    font = client.get("/web/assets/fonts/vazirmatn-33.0.3-variable.woff2")
    assert font.status_code == 200 and font.mimetype == "font/woff2"
    assert font.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_pages_allow_only_their_own_origin(client):
    csp = client.get("/").headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "connect-src 'self'", "font-src 'self'",
                      "frame-ancestors 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert client.get("/").headers["X-Content-Type-Options"] == "nosniff"


def test_nothing_outside_web_is_served_and_a_missing_page_is_a_persian_page(client):
    for path in ("/web/../gateway/app.py", "/web/%2e%2e/gateway/app.py", "/web/.hidden", "/web/package.json",
                 "/web/nothing-here.html"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "gateway" not in response.get_data(as_text=True)
    missing = client.get("/web/nothing-here.html")
    assert missing.mimetype == "text/html" and "این صفحه پیدا نشد" in missing.get_data(as_text=True)


def test_static_files_are_not_rate_limited_but_the_api_still_is(client):
    for _ in range(12):
        assert client.get("/web/assets/css/app.css").status_code == 200
    answers = [client.get("/api/v1/events/schemas").status_code for _ in range(7)]
    assert 429 in answers


def test_the_pages_are_not_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith("/web")]


def _sms_link(step: str = "evidence_requested", code: str = "4203917755102846") -> str:
    """The link a case SMS carries, as the notifications service makes it (read, not changed, here)."""
    from services.notifications.case_messages import for_case_step

    data = {"tracking_code": code, "reporter_mobile": "09121234567", "holder_unit_fa": "اداره"}
    body = for_case_step(step, {"type": "t", "id": "i", "data": data}, "https://behzisti.example")[0].render()
    return re.search(r"https://\S+", body).group(0)


def test_the_link_in_a_case_sms_opens_the_case_following_page_for_its_code(client):
    link = _sms_link()
    assert link == "https://behzisti.example/track/4203917755102846"
    answer = client.get(urlsplit(link).path)
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/web/citizen/track.html?code=4203917755102846")
    typed = client.get("/track/۴۲۰۳-۹۱۷۷-۵۵۱۰-۲۸۴۶")  # as a person might type it from the SMS
    assert typed.headers["Location"].endswith("/web/citizen/track.html?code=4203917755102846")
    assert client.get("/track/").headers["Location"].endswith("/web/citizen/track.html")
    assert client.get("/track/<script>").headers["Location"].endswith("/web/citizen/track.html")
    for _ in range(8):  # a page's address, not the API: no rate limit
        assert client.get("/track/4203917755102846").status_code == 302


def test_an_unknown_address_is_the_persian_page_and_the_api_keeps_problem_json(client):
    for path in ("/track-case/1", "/web/citizen/nothing", "/citizen/track.html", "/favicon.ico/x"):
        missing = client.get(path)
        assert missing.status_code == 404 and missing.mimetype == "text/html", path
        assert "این صفحه پیدا نشد" in missing.get_data(as_text=True), path
        assert "default-src 'self'" in missing.headers["Content-Security-Policy"]
    for path in ("/api/v1/nothing", "/api/nothing", "/api"):
        missing = client.get(path)
        assert missing.status_code == 404 and missing.mimetype == "application/problem+json", path
        assert missing.get_json()["code"] == "not_found"
