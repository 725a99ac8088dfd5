"""Issue 14, kind 2: a README step that reads a Git LFS pointer is an error for a human."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gitrepo import isolate_git
from repograder import cli
from repograder.runner import LFS_HINT, lfs_hint
from selfcheck_repos import make_repo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data" / "realworld"))
import repos


@pytest.fixture(autouse=True)
def _git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path_factory, monkeypatch)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)


def test_step_reading_an_lfs_pointer_is_an_error_with_the_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "birds", repos.lfs_data())
    out = tmp_path / "report"
    cli.main(["check", str(repo), "--out", str(out), "--quiet", "--sandbox", "local"])
    stdout = capsys.readouterr().out
    group = json.loads((out / "results.json").read_text())["groups"][0]
    step = next(s for s in group["steps"] if s["command"] == "python main.py")
    assert step["status"] == "failed"
    assert step["hint"].startswith(LFS_HINT)
    assert "data/train.csv" in step["hint"]
    checks = {c["id"]: c for c in group["checks"]}
    assert checks["readme-steps"]["status"] == "error"  # needs a human, never a plain fail
    assert LFS_HINT in checks["readme-steps"]["summary"]
    assert f"fix: {LFS_HINT}" in stdout
    assert "add a download step" in stdout


def test_lfs_hint_kinds() -> None:
    pointers = frozenset({"data/train.csv", "models/net.pt"})
    assert lfs_hint("python main.py", "ValueError: x", frozenset()) == ""
    assert lfs_hint("python main.py", "all fine", pointers) == ""
    named = lfs_hint("python eval.py --model models/net.pt", "Traceback", pointers)
    assert named.startswith(f"{LFS_HINT}: models/net.pt")
    # Not named, but the error is what reading a pointer as data says.
    unnamed = lfs_hint("python a.py", "_pickle.UnpicklingError: invalid load key, 'v'.", pointers)
    assert unnamed.startswith(f"{LFS_HINT} (the repository's LFS files: data/train.csv")
