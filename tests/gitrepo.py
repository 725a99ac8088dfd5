"""Real git repositories with dated commits, for tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest


def git(repo: Path, *args: str, date: str | None = None) -> str:
    """Run git in ``repo`` as the test author; ``date`` sets both commit dates. The repository's
    own hooks and filters run (tests/adversarial/test_check_worktree.py relies on that)."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Student",
        "GIT_AUTHOR_EMAIL": "student@example.org",
        "GIT_COMMITTER_NAME": "Student",
        "GIT_COMMITTER_EMAIL": "student@example.org",
    }
    if date:
        env["GIT_AUTHOR_DATE"] = date
        env["GIT_COMMITTER_DATE"] = date
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def init_repo(path: Path, branch: str = "main") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    return path


def write(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Write ``files`` (relative path -> text or bytes) below ``root``, folders as needed."""
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")


def commit(repo: Path, files: Mapping[str, str | bytes], message: str, date: str) -> str:
    """Write ``files`` (relative path -> content), commit them at ``date``; return the sha."""
    write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, date=date)
    return git(repo, "rev-parse", "HEAD")


def make_repo(
    root: Path, files: Mapping[str, str | bytes], date: str = "2026-03-30T10:00:00+00:00"
) -> Path:
    """A new repository at ``root`` (which must not exist) with ``files`` in one commit."""
    root.mkdir(parents=True)
    init_repo(root)
    commit(root, files, "initial", date)
    return root


def isolate_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private global git config, so the machine's config neither helps nor hurts."""
    home = tmp_path_factory.mktemp("home")
    config = home / "gitconfig"
    config.write_text(
        "[user]\n\tname = Test\n\temail = test@example.org\n[init]\n\tdefaultBranch = main\n"
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(home))
    for name in ("REPOGRADER_GIT_TOKEN", "GITHUB_TOKEN", "GIT_DIR", "GIT_WORK_TREE"):
        monkeypatch.delenv(name, raising=False)
    return config
