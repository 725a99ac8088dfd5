"""Shared test set-up.

Docker- and browser-marked tests need a real engine / a real Chromium. Locally they are skipped
with the reason when those are missing; in CI (``CI`` set) a missing one is a FAILURE, so the
suite can never pass by silently skipping the sandbox or report tests.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@functools.cache
def docker_problem() -> str | None:
    """None when a Docker engine answers, else why not."""
    if shutil.which("docker") is None:
        return "docker client not installed"
    try:
        proc = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker info failed: {exc}"
    if proc.returncode != 0:
        return f"no Docker engine reachable: {proc.stderr.strip()[:200]}"
    return None


@functools.cache
def browser_problem() -> str | None:
    for tool in ("chromium", "chromedriver"):
        if shutil.which(tool) is None and not Path(f"/usr/bin/{tool}").exists():
            return f"{tool} not installed (apt-get install chromium chromium-driver)"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, probe in (("docker", docker_problem), ("browser", browser_problem)):
        if item.get_closest_marker(marker) is None:
            continue
        problem = probe()
        if problem is None:
            continue
        if IN_CI:
            pytest.fail(f"{marker} test cannot run in CI: {problem}", pytrace=False)
        pytest.skip(f"{marker}: {problem}")


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests never touch the user's real cache (mirrors, environments)."""
    if "REPOGRADER_CACHE" not in os.environ or os.environ.get("REPOGRADER_TEST_KEEP_CACHE") != "1":
        monkeypatch.setenv("REPOGRADER_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
