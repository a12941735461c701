"""Headless Chromium driven by Selenium (Debian's ``chromium`` and ``chromium-driver``): the page
as a person sees it, each step waited for with a bound, screenshots for the README on request."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

WAIT = 20.0  # upper bound for anything to appear on the page
SCREENSHOTS_ENV = "SHARDKIT_SCREENSHOTS"  # "1": write docs/img/*.png (the README's pictures)
IMG_DIR = Path(__file__).resolve().parents[1] / "docs" / "img"
T = TypeVar("T")


def require_browser() -> tuple[str, str]:
    """Chromium and its driver; under CI missing ones fail, elsewhere the test is skipped."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    reason = ("needs Debian's 'chromium' and 'chromium-driver' packages"
              " (./scripts/test installs them)")
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: they must be installed in CI")
    pytest.skip(reason)


class Browser:
    """One headless Chromium window (1280x900) and helpers that wait for what a page shows."""

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        chromium, driver = require_browser()
        self.profile = tempfile.mkdtemp(prefix="shardkit-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,900", "--no-first-run",
                     "--ignore-certificate-errors",  # the TLS test's certificate is self-signed
                     f"--user-data-dir={self.profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(driver), options=options)
        self.driver.set_script_timeout(WAIT)

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    # ----------------------------------------------------------- reading the page
    def wait(self, what: str, probe: Callable[[], T | None], timeout: float = WAIT) -> T:
        """Poll ``probe`` (a few times a second) until it gives something truthy, at most
        ``timeout`` seconds; fails with ``what``, the page's status line and its console."""
        deadline = time.monotonic() + timeout
        while True:
            found = probe()
            if found:
                return found
            if time.monotonic() > deadline:
                page = str(self.driver.execute_script("return document.body.innerText"))
                raise AssertionError(f"page never showed {what}; status line:"
                                     f" {self.text('status')!r}; console: {self.console()};"
                                     f" page: {page[:2000]!r}")
            time.sleep(0.1)

    def text(self, element_id: str) -> str:
        value = self.driver.execute_script(
            "const e = document.getElementById(arguments[0]); return e ? e.innerText : '';",
            element_id)
        return str(value)

    def visible(self, element_id: str) -> bool:
        return bool(self.driver.execute_script(
            "const e = document.getElementById(arguments[0]);"
            " return !!e && !e.hidden && e.offsetParent !== null;", element_id))

    def data(self, element_id: str, key: str) -> Any:
        """A JSON ``data-`` attribute of an element (None if not set yet)."""
        raw = self.driver.execute_script(
            "const e = document.getElementById(arguments[0]); return e ? e.dataset[arguments[1]]"
            " : null;", element_id, key)
        return json.loads(raw) if raw else None

    def console(self) -> list[str]:
        try:
            return [entry["message"] for entry in self.driver.get_log("browser")][-10:]
        except Exception:  # not every driver keeps the log
            return []

    # ------------------------------------------------------------ acting on it
    def fill(self, element_id: str, text: str) -> None:
        element = self.driver.find_element("id", element_id)
        element.clear()
        element.send_keys(text)

    def click(self, css: str) -> None:
        self.wait(f"something to click at {css}", lambda: self.driver.find_elements(
            "css selector", css))[0].click()

    def screenshot(self, name: str) -> Path | None:
        """docs/img/<name>.png, only when SHARDKIT_SCREENSHOTS=1 (so a test run leaves the tree
        as it was); the PNG is checked either way."""
        driver = self.driver
        driver.execute_script("window.scrollTo(0, 0); document.activeElement?.blur();")
        size = driver.get_window_size()
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        driver.set_window_size(size["width"], min(2400, max(size["height"], height + 140)))
        try:
            png = driver.get_screenshot_as_png()
        finally:
            driver.set_window_size(size["width"], size["height"])
        assert png.startswith(b"\x89PNG") and len(png) > 5000
        if os.environ.get(SCREENSHOTS_ENV) != "1":
            return None
        IMG_DIR.mkdir(parents=True, exist_ok=True)
        path = IMG_DIR / f"{name}.png"
        path.write_bytes(png)
        return path


def browser_session() -> Iterator[Browser]:
    browser = Browser()
    try:
        yield browser
    finally:
        browser.close()


async def in_thread(action: Callable[..., T], *args: Any) -> T:
    """Run a blocking Selenium step off the event loop (the Python clients keep playing)."""
    return await asyncio.to_thread(action, *args)
