"""A student's own working tree (``repograder check``): its uncommitted changes and its files,
read with git's filters switched off.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from repograder.git.runner import _Git
from repograder.git.source import _Source

_FILTER_KEY = re.compile(r"^filter\.(.+)\.(?:clean|smudge|process|required)$", re.IGNORECASE)


def _worktree_runner(path: Path) -> tuple[_Git, list[str]] | None:
    """A hardened git runner for a student's local work tree, or None when `path` is not in one.

    The tree and its repository are the student's: its ``.gitattributes`` may name a filter
    whose commands its own ``.git/config`` defines, and ``git status`` runs a clean filter on
    files newer than the index. So every filter driver that any config git would read defines
    is switched off on the command line (``-c`` wins over every config file), on top of
    ``_HARDENING`` (no hooks, no fsmonitor); ``--git-dir``/``--work-tree`` are explicit so a
    ``core.worktree`` cannot point git elsewhere. Reading the config list runs nothing.
    """
    if not (path / ".git").exists():
        return None
    source = _Source(str(path), str(path), True, None, ())
    runner = _Git(source, 60.0)
    where = [f"--git-dir={path / '.git'}", f"--work-tree={path}"]
    status, out, _ = runner.try_run([*where, "config", "--list", "-z", "--name-only"], "config")
    if status != 0:
        return None
    drivers = sorted(
        {
            match.group(1)
            for key in out.decode("utf-8", "replace").split("\x00")
            if (match := _FILTER_KEY.match(key.strip()))
        }
    )
    off: list[str] = []
    for driver in drivers:
        for key in ("clean", "smudge", "process"):
            off += ["-c", f"filter.{driver}.{key}="]
        off += ["-c", f"filter.{driver}.required=false"]
    return runner, [*off, *where]


def uncommitted_changes(path: Path) -> tuple[str, ...] | None:
    """Paths with changes not in HEAD (modified, staged, untracked); None if not a git work tree."""
    found = _worktree_runner(path)
    if found is None:
        return None
    runner, where = found
    status, out, _ = runner.try_run(
        [*where, "status", "--porcelain=v1", "-z", "--untracked-files=all"], "status"
    )
    if status != 0:
        return None
    paths: list[str] = []
    records = out.split(b"\x00")
    i = 0
    while i < len(records):
        record = records[i]
        i += 1
        if len(record) < 4:
            continue
        paths.append(os.fsdecode(record[3:]))
        if record[:1] in (b"R", b"C"):
            i += 1  # a rename's source path follows as its own record
    return tuple(paths)


def worktree_files(path: Path) -> tuple[str, ...] | None:
    """Files `git add -A` would commit (tracked and untracked, minus ignored); None if no git."""
    found = _worktree_runner(path)
    if found is None:
        return None
    runner, where = found
    status, out, _ = runner.try_run(
        [*where, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], "ls-files"
    )
    if status != 0:
        return None
    return tuple(sorted({os.fsdecode(p) for p in out.split(b"\x00") if p}))
