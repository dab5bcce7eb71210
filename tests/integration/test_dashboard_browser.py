"""The dashboard in a real browser: Debian's Chromium, driven by Playwright, clicks from the
domain overview to a domain, to a run of its plan, to that run's evidence, at 1280 px and
390 px wide, over a store filled by real runs. Any console error fails the test; every
step leaves a screenshot under tmp/artifacts/dashboard/ (the path is printed).

PHASEGATE_DOCS_IMAGES=1 also writes the 1280 px ones (and the domain page at 390 px) to
docs/images/ for docs/dashboard.md.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.fixtures import real_systems
from tests.fixtures.dashboard import FilledStore, Served, serve
from tests.integration.cli_helpers import phasegate

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tmp" / "artifacts" / "dashboard"
DOCS_IMAGES = ROOT / "docs" / "images"
WIDTHS = {"wide": (1280, 800), "phone": (390, 844)}
OVERFLOWING = """[...document.querySelectorAll("body *")]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 1)
  .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > innerWidth + 1))
  .slice(0, 5).map(e => `${e.tagName.toLowerCase()}.${e.className}: ${e.textContent.slice(0, 80)}`)
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        real_systems.unavailable(
            "Chromium missing: scripts/ensure-test-tools installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


class Shots:
    """Screenshots of one walk through the pages, and the console errors met on the way."""

    def __init__(self, page: Page, width: str) -> None:
        self.page, self.width, self.errors = page, width, []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} at {message.location}")

    def take(self, name: str) -> None:
        path = ARTIFACTS / f"{name}-{self.width}.png"
        self.page.screenshot(path=str(path), full_page=self.width == "phone")
        wanted = self.width == "wide" or name == "domain"
        if wanted and os.environ.get("PHASEGATE_DOCS_IMAGES") == "1":
            DOCS_IMAGES.mkdir(exist_ok=True)
            shutil.copyfile(path, DOCS_IMAGES / f"dashboard-{name}-{self.width}.png")

    def fits(self) -> None:
        """Usable at this width: nothing wider than the window (no sideways scrolling).
        Measured once the page has loaded: before its stylesheet arrives, a page is laid
        out unstyled (an evidence table then runs 5,000 px wide)."""
        self.page.wait_for_load_state("load")
        wide = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 0, (f"{self.page.url} is {wide} px wider than {self.width}: "
                           f"{self.page.evaluate(OVERFLOWING)}")


@pytest.mark.parametrize("width", list(WIDTHS))
def test_overview_to_domain_to_run_to_evidence(
        browser: Browser, dashboard_store: FilledStore, served: list[Served], width: str,
        pytestconfig: pytest.Config) -> None:
    server = serve("--store", dashboard_store.url, "--tasks", str(dashboard_store.tasks),
                   "--domains", str(dashboard_store.domains))
    served.append(server)
    w, h = WIDTHS[width]
    context = browser.new_context(viewport={"width": w, "height": h})
    page = context.new_page()
    shots = Shots(page, width)

    page.goto(server.url)
    expect(page).to_have_url(f"{server.url}domains")
    shop = page.locator("article.domain", has=page.get_by_role("link", name="shop"))
    expect(shop).to_contain_text("healthy")
    expect(shop).to_contain_text("2 deploys today")
    expect(shop.locator("svg.strip rect.down")).to_have_count(1)  # the stretch it was down
    shots.fits()
    shots.take("overview")

    shop.get_by_role("link", name="shop", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("shop")
    expect(page.locator("article.probe")).to_have_count(2)
    expect(page.locator("article.report").first).to_contain_text("test_refund_rounding")
    shots.fits()
    shots.take("domain")

    page.get_by_role("link", name=dashboard_store.failed).click()
    expect(page).to_have_url(f"{server.url}runs/{dashboard_store.failed}")
    expect(page.locator("#timeline")).to_contain_text("I · implementation")
    expect(page.locator("#timeline")).to_contain_text("phase 3: frontends")
    expect(page.locator("article.failure").first).to_contain_text("exceeded quota")
    shots.fits()
    shots.take("run")

    page.get_by_role("link", name="Evidence").click()
    expect(page.get_by_role("heading", level=1).last).to_contain_text(
        f"Evidence — run {dashboard_store.failed}")
    expect(page.locator("#evidence")).to_contain_text("k8s.rollout")
    shots.fits()
    shots.take("evidence")

    page.get_by_role("link", name="Tasks").click()
    expect(page.locator(".board")).to_contain_text("DASH-2")
    shots.fits()
    shots.take("tasks")
    context.close()
    _say(pytestconfig, f"dashboard screenshots ({width}): {ARTIFACTS}")
    assert shots.errors == []


def test_the_runs_list_shows_a_new_run_without_a_reload(
        browser: Browser, dashboard_store: FilledStore, served: list[Served],
        tmp_path: Path) -> None:
    server = serve("--store", dashboard_store.url, "--refresh", "0.5")
    served.append(server)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    shots = Shots(page, "wide")
    page.goto(f"{server.url}runs?command=probe")
    expect(page.locator("#runs")).to_contain_text("No run matches")
    marker = tmp_path / "probed"
    marker.write_text("x")
    started = time.monotonic()
    probed = phasegate("probe", f"{{file: {{path: '{marker}'}}}}", "--store",
                       dashboard_store.url)
    assert probed.returncode == 0, probed.stdout + probed.stderr
    expect(page.locator("#runs table.rows tbody tr")).to_have_count(1, timeout=15_000)
    assert time.monotonic() - started < 30
    page.close()
    assert shots.errors == []


def _say(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
