"""`repograder check` on a folder with its own .git runs nothing of that repository (issue 15,
kind 6); no Docker needed.

The folder's ``.gitattributes`` names filters whose commands its own ``.git/config`` defines;
``git status`` used to run the clean filter (as whoever runs `check`) for files newer than the
index. Neither attributes, filters, hooks nor fsmonitor of the tree or its config may run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gitrepo import commit, git, init_repo
from repograder import cli
from repograder import git as rg_git


def _evil_repo(tmp_path: Path, marker: Path) -> Path:
    repo = tmp_path / "student"
    init_repo(repo)
    commit(
        repo,
        {
            "README.md": "# Demo\n\nSome words.\n",
            "train.py": "print('hi')\n",
            ".gitattributes": "* filter=evil\n*.py filter=evil.two diff=evil\n",
        },
        "init",
        "2026-03-30T12:00:00+02:00",
    )
    hit = f"echo ran >> {marker}"
    for key, value in [
        ("filter.evil.clean", f"sh -c '{hit}; cat'"),
        ("filter.evil.smudge", f"sh -c '{hit}; cat'"),
        ("filter.evil.two.process", f"sh -c '{hit}'"),
        ("filter.evil.two.required", "true"),
        ("diff.evil.textconv", f"sh -c '{hit}; cat'"),
        ("core.fsmonitor", f"sh -c '{hit}'"),
        ("core.hooksPath", str(repo / "hooks")),
    ]:
        git(repo, "config", key, value)
    (repo / "hooks").mkdir()
    for hook in ("post-index-change", "pre-commit", "post-checkout"):
        (repo / "hooks" / hook).write_text(f"#!/bin/sh\n{hit}\n")
        (repo / "hooks" / hook).chmod(0o755)
    # Newer than the index: git status would re-read (and clean-filter) them.
    later = time.time() + 5
    for name in ("README.md", "train.py"):
        (repo / name).write_text((repo / name).read_text() + "# changed\n")
        os.utime(repo / name, (later, later))
    return repo


def test_check_runs_no_filter_hook_or_fsmonitor_of_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "marker.txt"
    repo = _evil_repo(tmp_path, marker)
    monkeypatch.setenv("REPOGRADER_CACHE", str(tmp_path / "cache"))
    cli.main(["check", str(repo), "--static", "--out", str(tmp_path / "out")])
    assert not marker.exists(), marker.read_text()
    # The same kind, without the CLI: both work-tree commands, also with --worktree's listing.
    assert {"README.md", "train.py"} <= set(rg_git.uncommitted_changes(repo) or ())
    assert rg_git.worktree_files(repo) is not None
    assert not marker.exists()


def test_the_attack_is_real_without_the_guard(tmp_path: Path) -> None:
    """Plain `git status` in that folder does run the filter: the test above tests something."""
    marker = tmp_path / "marker.txt"
    repo = _evil_repo(tmp_path, marker)
    git(repo, "-c", "core.fsmonitor=false", "status", "--porcelain")
    assert marker.exists()
