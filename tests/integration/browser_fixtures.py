"""Headless Chromium fixtures for report tests (Debian ``chromium`` + ``chromium-driver``).

Import the fixtures into a test module (``from browser_fixtures import chrome_fixture, ...``).
When Chromium is missing the tests skip locally but FAIL in CI (``CI`` set): a report that was
never looked at in a browser must not pass silently there.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER_NAMES = ("chromedriver",)
CHROME_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--window-size=1400,1000",
)


def find_browser(
    env: Mapping[str, str] | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> tuple[str, str]:
    """Paths of chromium and chromedriver; skip when missing, or fail when ``CI`` is set."""
    env = os.environ if env is None else env
    browser = next((p for n in CHROMIUM_NAMES if (p := which(n))), None)
    driver = next((p for n in CHROMEDRIVER_NAMES if (p := which(n))), None)
    if browser and driver:
        return browser, driver
    missing = ", ".join(n for n, p in (("chromium", browser), ("chromedriver", driver)) if not p)
    message = f"{missing} not found (apt-get install -y chromium chromium-driver)"
    if env.get("CI"):
        pytest.fail(f"browser tests are required in CI: {message}")
    pytest.skip(message)


@pytest.fixture(name="chrome")
def chrome_fixture(tmp_path: Path) -> Iterator[Any]:
    """A headless Chromium WebDriver with browser console logging, closed afterwards."""
    browser, driver_path = find_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    profile = tmp_path / "chrome-profile"
    profile.mkdir()
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(name="serve_dir")
def serve_dir_fixture() -> Iterator[Callable[[Path], str]]:
    """Serve a folder over http on 127.0.0.1 (random port); returns its base URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def serve(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()
