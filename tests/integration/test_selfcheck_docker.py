"""`repograder check --sandbox docker`: the same verdicts as the local backend, isolated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from docker_fixtures import base_image_fixture, docker_engine_fixture  # noqa: F401

from gitrepo import isolate_git, make_repo
from repograder import cli
from selfcheck_repos import bad_files, complete_files

pytestmark = pytest.mark.docker


@pytest.fixture(autouse=True)
def _git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path_factory, monkeypatch)


def _check(repo: Path, out: Path, *extra: str) -> int:
    return cli.main(["check", str(repo), "--out", str(out), "--quiet", "--format", "json", *extra])


def test_check_with_docker_backend(
    base_image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = make_repo(tmp_path / "good", complete_files(requirements=""))
    assert _check(good, tmp_path / "r1", "--sandbox", "docker") == 0
    data = json.loads(capsys.readouterr().out)
    checks = {c["id"]: c for c in data["group"]["checks"]}
    assert data["verdict"] == "pass"
    assert checks["env-build"]["status"] == "pass"
    assert checks["env-build"]["details"]["backend"] == "docker"
    assert checks["readme-steps"]["status"] == "pass"

    bad = make_repo(tmp_path / "bad", bad_files())
    assert _check(bad, tmp_path / "r2", "--sandbox", "auto") == 1  # auto picks Docker here
    data = json.loads(capsys.readouterr().out)
    checks = {c["id"]: c for c in data["group"]["checks"]}
    assert data["failing"] == ["env-file", "readme-steps", "paper-pages"]  # any-fail: all
    assert checks["env-build"]["details"]["backend"] == "docker"
    assert checks["readme-steps"]["status"] == "fail"
