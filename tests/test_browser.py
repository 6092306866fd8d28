"""End to end in a real browser: headless Chromium (Debian's chromium + chromium-driver) via Selenium.

Search, open an article, open a diff, follow the feed link, on a live server over
the demo archive. Screenshots go to test-artifacts/ (ignored by git). Without
Chromium these tests skip with a message; under CI they fail instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from editions.api import Editions
from editions.demo.run import run_demo
from editions.settings import Settings
from editions.web.server import BackgroundServer
from tests.conftest import ROOT, _missing

ARTIFACTS = ROOT / "test-artifacts"


def _chromium() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        _missing(
            "Chromium",
            "no chromium or chromedriver on PATH: apt-get install -y chromium chromium-driver",
        )
    assert browser and driver
    return browser, driver


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    binary, driver_path = _chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1200,900")
    # An explicit driver path: Selenium Manager must never try to download one.
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BackgroundServer, list[str]]]:
    database = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'demo.db'}"
    figures = run_demo(database_url=database, echo=lambda *a, **k: None)
    with (
        Editions(database, settings=Settings.defaults()) as ed,
        BackgroundServer(ed) as server,
    ):
        yield server, list(figures["changed"])  # type: ignore[arg-type]


def _wait(driver: Any, css: str, count: int | None = None) -> list[Any]:
    """The elements matching ``css`` once the page that follows a click has them."""
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(d: Any) -> list[Any] | bool:
        found = d.find_elements("css selector", css)
        return found if found and (count is None or len(found) == count) else False

    return WebDriverWait(driver, 15).until(ready)


def _shot(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def test_search_article_diff_and_feed(browser: Any, live: tuple[BackgroundServer, list[str]]) -> None:
    from selenium.webdriver.common.by import By

    server, changed = live
    browser.get(server.url)
    box = browser.find_element(By.NAME, "q")
    box.send_keys("bridge")
    box.submit()
    hits = _wait(browser, ".hit a.title")
    assert browser.find_elements(By.TAG_NAME, "mark")
    _shot(browser, "search")

    bridge = next(u for u in changed if "bridge" in u)
    next(h for h in hits if "Bridge" in h.text).click()
    _wait(browser, "ol.timeline li")
    assert "Versions" in browser.page_source
    assert bridge in browser.page_source
    _shot(browser, "article")

    browser.find_element(By.CSS_SELECTOR, "a.diff-link").click()
    inserted = " ".join(e.text for e in _wait(browser, "#diff ins"))
    assert "Correction" in inserted
    _shot(browser, "diff")

    # The same diff side by side, then on a phone-sized screen: nothing spills sideways.
    browser.find_element(By.CSS_SELECTOR, "input[value=side]").click()
    browser.find_element(By.CSS_SELECTOR, "form.pick button").click()
    assert len(_wait(browser, ".sides section")) == 2
    _shot(browser, "diff-side-by-side")
    browser.set_window_size(390, 844)
    try:
        browser.refresh()
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        _shot(browser, "diff-phone")
    finally:
        browser.set_window_size(1200, 900)

    browser.find_element(By.LINK_TEXT, "Recent changes").click()
    assert len(_wait(browser, ".changes li")) == len(changed)
    browser.find_element(By.CSS_SELECTOR, "a.feed").click()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 15).until(lambda d: "/feeds/changes.atom" in d.current_url)
    source = browser.page_source
    assert "Old Mill Bridge" in source and "Correction" in source
    _shot(browser, "feed")


def test_raw_capture_runs_no_script(browser: Any, live: tuple[BackgroundServer, list[str]]) -> None:
    server, changed = live
    from urllib.parse import urlencode

    browser.get(server.url + "raw?" + urlencode({"url": changed[0], "v": 1}))
    # Sandboxed: an opaque origin, so the page cannot even read its own cookies.
    origin = browser.execute_script("return window.origin")
    assert origin == "null"
