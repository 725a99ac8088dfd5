"""The report as a person sees it in headless Chromium: overview, group page, hostile names."""

from __future__ import annotations

import os
import shutil
import struct
import sys
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_fixtures import chrome_fixture, find_browser, serve_dir_fixture  # noqa: F401

from repograder.fsutil import group_slug
from repograder.report import write_report
from report_factory import make_hostile_run, make_run

# Set to a folder to keep the screenshots for a human look.
SCREENSHOT_DIR = os.environ.get("REPOGRADER_SCREENSHOT_DIR")


def _png(width: int, height: int) -> bytes:
    """A tiny grey-on-white 'paper page' PNG, so thumbnails have something to show."""
    rows = []
    for y in range(height):
        line = bytearray()
        for x in range(width):
            ink = 12 < x < width - 12 and y % 9 in (0, 1) and 15 < y < height - 15
            line += b"\x80\x80\x80" if ink else b"\xff\xff\xff"
        rows.append(b"\x00" + bytes(line))
    raw = zlib.compress(b"".join(rows))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def _write_artifacts(out: Path) -> None:
    page = _png(85, 110)
    for group in ("group-1", "group-2"):
        (out / "groups" / group).mkdir(parents=True, exist_ok=True)
        for i in range(1, 7):
            (out / "groups" / group / f"paper-{i}.png").write_bytes(page)
    nb = out / "groups" / "group-1" / "notebooks"
    nb.mkdir(parents=True)
    # A rendered notebook is student content: its script must not run in the sandboxed frame.
    (nb / "eda.html").write_text(
        "<!DOCTYPE html><html><body><h1>EDA</h1><script>alert('notebook')</script></body></html>"
    )
    logs = out / "logs" / "group-1"
    logs.mkdir(parents=True)
    (logs / "build.log").write_text("Step 1/5 : FROM python:3.11-slim\n")
    (logs / "step-3.log").write_text("epoch 1/1\n")


def _no_alert(driver: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        _ = driver.switch_to.alert.text


def _severe(driver: Any) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE"
        # The sandboxed notebook frame refusing to run its script is the point, not an error.
        and "Blocked script execution" not in entry["message"]
    ]


def _shot(driver: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    driver.save_screenshot(str(path))
    if SCREENSHOT_DIR:
        Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SCREENSHOT_DIR) / name)
    return path


@pytest.mark.browser
def test_overview_and_group_page(
    chrome: Any, serve_dir: Callable[[Path], str], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    out = tmp_path / "report"
    run = make_run()
    write_report(run, out)
    _write_artifacts(out)
    base = serve_dir(out)

    chrome.get(base + "index.html")
    assert chrome.title == "Machine Learning for Audio Data"
    table = chrome.find_element(By.ID, "overview")
    text = table.text
    for group in run.groups:
        assert group.name in text
    assert "9.5 / 10" in text
    assert "1.5 / 10" in text
    assert "✓ graded" in text
    assert "⚠ error" in text
    assert "✗ fail" in text
    assert "✓ pass" in text
    assert "repository not found" in text
    summary = chrome.find_element(By.ID, "summary").text
    assert summary == "3 groups · 2 graded · 1 error"
    # Sticky header: the column titles are there, one per check.
    headers = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    assert headers[:2] == ["Group", "Status"]
    assert headers[-1] == "Total"
    assert "paper-pages" in headers
    _shot(chrome, tmp_path, "index.png")
    assert _severe(chrome) == []

    chrome.find_element(By.LINK_TEXT, "group-2").click()
    assert chrome.current_url == base + "groups/group-2.html"
    body = chrome.find_element(By.TAG_NAME, "body").text
    assert "Grace Hopper" in body
    assert "1.5 / 10" in body
    assert "paper.pdf has 6 pages; at most 4 are allowed" in body
    assert "final final version" in body
    steps = chrome.find_element(By.CSS_SELECTOR, "#steps table").text
    assert "python train.py" in steps
    assert "◷ timeout" in steps
    assert "killed after 600 s" in steps
    # Output is collapsed until opened.
    assert "Epoch 4812" not in steps
    chrome.find_element(By.CSS_SELECTOR, "#steps tr.step:nth-child(2) details summary").click()
    assert "Epoch 4812" in chrome.find_element(By.CSS_SELECTOR, "#steps table").text
    loaded = chrome.execute_script(
        "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
    )
    assert loaded == [True] * 6
    _shot(chrome, tmp_path, "group-2.png")
    assert _severe(chrome) == []

    chrome.get(base + "groups/group-1.html")
    for summary_el in chrome.find_elements(By.CSS_SELECTOR, "details > summary"):
        summary_el.click()
    body = chrome.find_element(By.TAG_NAME, "body").text
    assert "README with step-by-step instructions" in body
    assert "comment_lines" in body  # details table
    assert "build log" in body
    frame = chrome.find_element(By.CSS_SELECTOR, "iframe.notebook")
    assert frame.get_attribute("sandbox") == ""
    chrome.switch_to.frame(frame)
    assert chrome.find_element(By.TAG_NAME, "h1").text == "EDA"
    chrome.switch_to.default_content()
    _no_alert(chrome)
    _shot(chrome, tmp_path, "group-1.png")
    assert _severe(chrome) == []
    # .log has no MIME type (the browser would download it): fetch the link target directly.
    href = chrome.find_element(By.LINK_TEXT, "build log").get_attribute("href")
    assert href == base + "logs/group-1/build.log"
    with urllib.request.urlopen(href, timeout=10) as response:
        assert b"FROM python:3.11-slim" in response.read()


@pytest.mark.browser
@pytest.mark.parametrize("payload", ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'])
def test_hostile_names_are_literal_text(
    chrome: Any, serve_dir: Callable[[Path], str], tmp_path: Path, payload: str
) -> None:
    from selenium.webdriver.common.by import By

    out = tmp_path / "report"
    run = make_hostile_run(payload)
    write_report(run, out)
    base = serve_dir(out)

    chrome.get(base + "index.html")
    _no_alert(chrome)
    text = chrome.find_element(By.ID, "overview").text
    assert f"{payload} graded" in text
    assert f"{payload} broken" in text
    assert chrome.find_elements(By.CSS_SELECTOR, "#overview img, #overview script") == []
    assert _severe(chrome) == []

    chrome.get(base + "groups/" + group_slug(run.groups[0].name) + ".html")
    _no_alert(chrome)
    for summary_el in chrome.find_elements(By.CSS_SELECTOR, "details > summary"):
        summary_el.click()
    body = chrome.find_element(By.TAG_NAME, "body").text
    for expected in (
        f"{payload} graded",
        f"member {payload}",
        f"subject {payload}",
        f"echo {payload}",
        f"summary {payload}",
        f"value {payload}",
    ):
        assert expected in body, expected
    assert chrome.find_elements(By.CSS_SELECTOR, "main script, img[onerror]") == []
    # Only the one safe thumbnail path survived; the traversal and javascript: ones were dropped.
    srcs = [i.get_attribute("src") for i in chrome.find_elements(By.TAG_NAME, "img")]
    assert all(s.startswith(base) for s in srcs), srcs
    assert all("etc/passwd" not in s for s in srcs)
    _no_alert(chrome)
    if payload.startswith("<script>"):
        _shot(chrome, tmp_path, "hostile.png")
    # Broken thumbnail images (they do not exist) give 404s; nothing else may be logged.
    assert [m for m in _severe(chrome) if "404" not in m] == []


def test_missing_browser_fails_in_ci() -> None:
    def nothing(name: str) -> str | None:
        return None

    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        find_browser({"CI": "true"}, which=nothing)
    with pytest.raises(pytest.skip.Exception, match="not found"):
        find_browser({}, which=nothing)
    assert find_browser({}, which=lambda n: f"/usr/bin/{n}")[0] == "/usr/bin/chromium"


@pytest.mark.browser
def test_overview_shows_reasons_pass_rates_and_histogram(
    chrome: Any, serve_dir: Callable[[Path], str], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    out = tmp_path / "report"
    run = make_run()
    write_report(run, out)
    chrome.get(base := serve_dir(out) + "index.html")
    # Each verdict's reason is visible text in its cell, not only a tooltip.
    cells = chrome.find_elements(By.CSS_SELECTOR, "#overview td.cell .reason")
    assert len(cells) == sum(len(g.checks) for g in run.groups)
    assert all(c.is_displayed() for c in cells)
    table = chrome.find_element(By.ID, "overview").text
    assert "paper.pdf has 6 pages" in table
    # Pass rates per check below the groups.
    rates = chrome.find_element(By.CSS_SELECTOR, "#overview tbody.pass-rates").text
    assert "Passed" in rates
    assert "50 %" in rates
    # The histogram is drawn, one bar per point, its bars holding the graded groups.
    svg = chrome.find_element(By.CSS_SELECTOR, "#distribution svg.histogram")
    assert svg.is_displayed()
    assert svg.size["height"] > 50
    bars = chrome.find_elements(By.CSS_SELECTOR, "svg.histogram g.bar")
    counts = [int(b.get_attribute("data-count")) for b in bars]
    assert sum(counts) == 2
    drawn = [b.find_element(By.TAG_NAME, "rect").size["height"] for b in bars]
    assert [h > 0 for h in drawn] == [c > 0 for c in counts]
    links = {a.get_attribute("href") for a in chrome.find_elements(By.CSS_SELECTOR, ".downloads a")}
    assert base.replace("index.html", "grades.csv") in links
    assert base.replace("index.html", "results.json") in links
    _shot(chrome, tmp_path, "overview-glance.png")
    assert _severe(chrome) == []
    # Printed for the archive: the file links go, the histogram stays.
    chrome.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not chrome.find_element(By.CSS_SELECTOR, ".downloads").is_displayed()
    assert chrome.find_element(By.CSS_SELECTOR, "svg.histogram").is_displayed()
