"""Notebooks executed in the real Docker sandbox (network off, non-root, the group's venv)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_fixtures import base_image_fixture, docker_engine_fixture, sandbox_fixture  # noqa: F401

from notebook_files import code, markdown, notebook_json
from repograder.detect import EnvKind, EnvSpec
from repograder.model import Params, Status
from repograder.notebooks import (
    NOTEBOOK_TOOLING,
    NotebookReport,
    NotebookStatus,
    evaluate_notebooks,
    find_notebooks,
    run_notebooks,
)
from repograder.sandbox.base import Limits
from repograder.sandbox.docker import DockerSandbox

pytestmark = pytest.mark.docker

LIMITS = Limits(memory_mb=1024, pids=256, timeout_s=120, disk_mb=64)


@pytest.fixture(scope="module")
def report(
    sandbox: DockerSandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[NotebookReport, Path]]:
    base = tmp_path_factory.mktemp("nbdocker")
    repo = base / "repo"
    (repo / "notebooks").mkdir(parents=True)
    (repo / "requirements.txt").write_text("\n".join(NOTEBOOK_TOOLING) + "\n")
    (repo / "notebooks" / "data.txt").write_text("42\n")
    (repo / "notebooks" / "good.ipynb").write_text(
        notebook_json(
            [
                markdown("# ok <script>alert(1)</script>"),
                code("import os, sys\nprint(open('data.txt').read().strip(), sys.executable)"),
                code("from IPython.display import HTML\nHTML('<img src=x onerror=alert(1)>')"),
            ]
        )
    )
    (repo / "notebooks" / "net.ipynb").write_text(
        notebook_json(
            [code("import urllib.request\nurllib.request.urlopen('https://pypi.org', timeout=5)")]
        )
    )
    spec = EnvSpec(
        kind=EnvKind.REQUIREMENTS,
        path="requirements.txt",
        reason="test",
        files=("requirements.txt",),
        requirements=(*NOTEBOOK_TOOLING, f"# {uuid.uuid4().hex[:6]}"),
    )
    build = sandbox.prepare(spec, repo, base / "logs")
    assert build.ok, build.log_excerpt
    session = sandbox.open_session(build, repo, LIMITS)
    try:
        out = base / "out"
        found = find_notebooks(repo)
        params = Params({"cell_timeout_s": 60})
        yield run_notebooks(session, found, params, out, checkout=repo), out
    finally:
        session.close()


def test_notebooks_run_inside_the_container(report: tuple[NotebookReport, Path]) -> None:
    rep, out = report
    results = {r.path: r for r in rep.results}
    good = results["notebooks/good.ipynb"]
    assert good.status is NotebookStatus.OK, good
    assert good.html is not None
    page = (out / good.html).read_text()
    assert "42 /opt/venv/bin/python" in page
    assert "<script" not in page.lower()
    assert "<img src=x" not in page  # the HTML output is replaced by its text/plain repr

    net = results["notebooks/net.ipynb"]
    assert net.status is NotebookStatus.FAILED  # network is off while student code runs
    assert net.failing_cell == 1
    verdict = evaluate_notebooks(rep, Params())
    assert verdict.status is Status.WARN
    assert verdict.summary.startswith("1 of 2 notebooks ran; notebooks/net.ipynb failed in cell 1")
