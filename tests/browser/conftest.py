"""Browser tests: headless Chromium (Debian's package, installed by .ci/browser-setup) drives the web pages
against the real running platform (the e2e tests' `platform` fixture: real processes, RabbitMQ, PostgreSQL).

Every page a test opens is screenshotted (desktop and 360 px wide) into test-artifacts/screenshots/, checked
with axe-core (no serious or critical violation; the full results in test-artifacts/axe/), and checked for
horizontal scrolling at 360 px. Every request the browser makes is recorded: none may leave this machine."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from urllib.parse import urlsplit

import pytest

from common.config import PROJECT_ROOT
from tests.helpers import in_ci
from tests.platform_fixtures import (  # noqa: F401  (as the e2e tests have them)
    api,  # the staff client, with the demo staff loaded
    campaigns,  # the published campaigns
    funded,  # the budget lines, funded
    paid,  # a month paid to tests/e2e/transparency.py's PEOPLE
    platform,  # a module's running platform, as the e2e tests start it
)

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
AXE_RESULTS = ARTIFACTS / "axe"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
BLOCKING = {"serious", "critical"}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
PHONE_WIDTH = 360
# JPEG: a whole page's PNG costs Chromium twice the CPU (1.07 s against 0.48 s for a 300-row page measured here),
# and the suite takes two screenshots of every page it checks
SHOT = {"full_page": True, "type": "jpeg", "quality": 85}
SETUP = "run .ci/browser-setup (it installs Debian's chromium and chromium-driver)"


def _unavailable(reason: str):
    if in_ci():
        pytest.fail(f"browser tests cannot run: {reason}; {SETUP}", pytrace=False)
    pytest.skip(f"{reason}; {SETUP}")


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


def without_raised_priority(path: str, folder) -> str:
    """Chromium run as root raises its own threads' priority (nice -8 for its IO and compositor threads), above
    the fault suite's processes (scripts/run_tests.py runs the other parts at nice 10): run it without the
    capability to do so, where there is one to drop."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or not setpriv:
        return path
    wrapper = folder / "chromium"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(setpriv)} --inh-caps=-sys_nice --bounding-set=-sys_nice -- {shlex.quote(path)} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    path = chromium_path()
    if not path:
        _unavailable("no chromium on PATH")
    path = without_raised_priority(path, tmp_path_factory.mktemp("chromium"))
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (requirements.lock)")
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=path, args=[
        "--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--disable-default-apps", "--disable-sync", "--no-first-run", "--disable-features=Translate,OptimizationHints"])
    yield chromium
    chromium.close()
    # playwright.stop() is not called: under eventlet's monkey patching (tests/conftest.py) the driver's
    # greenlet is re-parented to eventlet's hub and stop() never returns. The driver exits when this process
    # closes its pipe.


class Web:
    """One test's browser: contexts that record every request, and the checks each page goes through."""

    def __init__(self, browser, base: str, test_name: str):
        self.browser, self.base, self.test_name = browser, base, test_name
        self.requests: list[str] = []
        self.contexts = []
        self.checked: list[dict] = []

    def page(self, path: str = "/", width: int = 1280, height: int = 900):
        """A fresh browser (context: its own storage, as another person's would be) at `path`."""
        context = self.browser.new_context(viewport={"width": width, "height": height}, locale="fa-IR",
                                           timezone_id="Asia/Tehran", base_url=self.base)
        context.set_default_timeout(30_000)  # a bound on each wait: a slow machine under the CI's load took >15 s
        context.on("request", lambda request: self.requests.append(request.url))
        self.contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        if path:
            page.goto(path)
        return page

    def check(self, page, name: str, wait_for: str | None = None) -> dict:
        """Screenshot (desktop, then 360 px), axe-core with no serious or critical violation, no horizontal
        scroll at 360 px, no script error."""
        from axe_playwright_python.sync_playwright import Axe

        if wait_for:
            page.locator(wait_for).first.wait_for()
        page.evaluate("document.fonts.ready.then(() => true)")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        AXE_RESULTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.jpg"), **SHOT)
        results = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS},
                                           "resultTypes": ["violations"]}).response
        violations = [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                       "nodes": [n["target"] for n in v["nodes"]][:10]} for v in results["violations"]]
        (AXE_RESULTS / f"{name}.json").write_text(json.dumps({"url": page.url, "violations": violations},
                                                             ensure_ascii=False, indent=2), encoding="utf-8")
        blocking = [v for v in violations if v["impact"] in BLOCKING]
        assert blocking == [], f"{name}: axe-core found serious or critical violations: {blocking}"

        desktop = page.viewport_size
        page.set_viewport_size({"width": PHONE_WIDTH, "height": 780})
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        page.screenshot(path=str(SCREENSHOTS / f"{name}-360.jpg"), **SHOT)
        page.set_viewport_size(desktop)
        assert overflow <= 1, f"{name}: the page scrolls sideways at {PHONE_WIDTH} px ({overflow} px too wide)"
        assert page.errors == [], f"{name}: script errors {page.errors}"
        self.checked.append({"page": name, "violations": len(violations)})
        return results

    def keep_failure(self) -> None:
        """Every open page as it was when the test failed, in test-artifacts/failures/."""
        folder = ARTIFACTS / "failures"
        folder.mkdir(parents=True, exist_ok=True)
        for i, page in enumerate(p for context in self.contexts for p in context.pages):
            try:
                page.screenshot(path=str(folder / f"{self.test_name}-{i}.png"), full_page=True)
                (folder / f"{self.test_name}-{i}.txt").write_text(f"{page.url}\n{page.errors}\n", encoding="utf-8")
            except Exception:  # noqa: BLE001  (a page that is gone has nothing to show)
                pass

    def close(self) -> None:
        for context in self.contexts:
            context.close()

    def outside_requests(self) -> list[str]:
        outside = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about"):
                continue
            if parts.hostname not in LOCAL_HOSTS and f"[{parts.hostname}]" not in LOCAL_HOSTS:
                outside.append(url)
        return outside


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.browser_call_failed = report.failed


@pytest.fixture
def web(browser, platform, api, request):  # noqa: F811  (api: the demo staff are there to log in)
    session = Web(browser, platform["base"], re.sub(r"\W+", "_", request.node.name))
    yield session
    if getattr(request.node, "browser_call_failed", False):
        session.keep_failure()
    session.close()
    assert session.requests, "the browser made no request at all"
    assert session.outside_requests() == [], "requests left this machine"

