"""The mirror cache, the commit at the deadline and the late commits.

One bare mirror per remote under the cache folder (locked while in use), cloned once and
fetched after; the graded commit is the newest one reachable from the ref whose committer
date is at or before the deadline; newer ones are reported as late.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from repograder import model
from repograder.errors import FetchError
from repograder.git.runner import _Git, log


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # flock excludes other threads too: each open() is its own open file description.
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _mirror_name(display: str) -> str:
    digest = hashlib.sha256(display.encode()).hexdigest()[:16]
    tail = "-".join(display.rstrip("/").replace(":", "/").split("/")[-2:])
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", tail.removesuffix(".git")).strip("-.")[:40]
    return f"{slug or 'repo'}-{digest}"


def _is_mirror(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "config").is_file()


@dataclass(frozen=True)
class _Commit:
    sha: str
    timestamp: int
    date: str
    subject: str


# Contribution figures stop here; a student history is far shorter, a vendored fork is not.
MAX_HISTORY_COMMITS = 5000


def _commit_stats(
    runner: _Git, mirror: Path, commit: str, notes: list[str]
) -> tuple[model.CommitStat, ...]:
    """Author, parents and per-file line counts of every commit reachable from ``commit``.

    ``git log --numstat`` without renames (a rename counts as removed + added) and without merge
    diffs (a merge has no files of its own). Newest first; at most MAX_HISTORY_COMMITS.
    A failure is a note, never a lost group: contributions are not part of the score.
    """
    fmt = "--format=%x1e%H%x1f%an%x1f%ae%x1f%aI%x1f%P"
    args = [f"--git-dir={mirror}", "-c", "core.quotePath=false", "log", "--numstat"]
    args += ["--no-renames", f"--max-count={MAX_HISTORY_COMMITS}", fmt, commit, "--"]
    status, out, err = runner.try_run(args, "read")
    if status != 0:
        notes.append(f"contributions: git log failed: {runner.source.redact(err.strip())[:200]}")
        return ()
    stats = []
    for record in out.decode("utf-8", "replace").split("\x1e")[1:]:
        head, _, body = record.partition("\n")
        fields = head.split("\x1f")
        if len(fields) != 5:
            continue
        files = []
        for line in body.splitlines():
            parts = line.split("\t", 2)
            if len(parts) != 3:
                continue
            added, removed, path = parts
            files.append(
                model.FileChange(
                    path=path,
                    added=int(added) if added.isdigit() else None,
                    removed=int(removed) if removed.isdigit() else None,
                )
            )
        stats.append(
            model.CommitStat(
                sha=fields[0],
                author_name=fields[1],
                author_email=fields[2],
                date=fields[3],
                parents=len(fields[4].split()),
                files=tuple(files),
            )
        )
    if len(stats) >= MAX_HISTORY_COMMITS:
        notes.append(f"contributions: only the newest {MAX_HISTORY_COMMITS} commits counted")
    return tuple(stats)


def _clone_mirror(runner: _Git, mirror: Path) -> None:
    log.info("cloning %s into the mirror cache", runner.source.display)
    partial = mirror.with_name(mirror.name + ".partial")
    for stale in (partial, mirror):
        shutil.rmtree(stale, ignore_errors=True)
    # --no-local: read a local repository through upload-pack, never hard-link or copy its files.
    local = ["--no-local"] if runner.source.local else []
    try:
        runner.run(
            ["clone", "--mirror", "--quiet", *local, "--", runner.source.url, str(partial)], "clone"
        )
        partial.rename(mirror)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _update_mirror(runner: _Git, mirror: Path, *, update_head: bool) -> None:
    log.info("fetching %s into its cached mirror", runner.source.display)
    git_dir = f"--git-dir={mirror}"
    runner.run([git_dir, "fetch", "--prune", "--quiet", "origin"], "fetch")
    if not update_head:
        return
    # A mirror fetch leaves HEAD alone; follow the remote if its default branch changed.
    status, out, _ = runner.try_run([git_dir, "ls-remote", "--symref", "origin", "HEAD"], "fetch")
    first = out.decode("utf-8", "replace").splitlines()[:1] if status == 0 else []
    if first and first[0].startswith("ref: ") and "\t" in first[0]:
        target = first[0][5:].split("\t", 1)[0]
        if target.startswith("refs/heads/"):
            runner.try_run([git_dir, "symbolic-ref", "HEAD", target], "fetch")


def _resolve(runner: _Git, mirror: Path, ref: str | None) -> str:
    git_dir = f"--git-dir={mirror}"
    if ref is None:
        candidates = ["HEAD"]
    elif ref.startswith("refs/"):
        candidates = [ref]
    else:
        candidates = [f"refs/heads/{ref}", f"refs/tags/{ref}", ref]
    for candidate in candidates:
        args = [git_dir, "rev-parse", "--verify", "--quiet", "--end-of-options"]
        status, out, _ = runner.try_run([*args, f"{candidate}^{{commit}}"], "read")
        if status == 0 and out.strip():
            return out.decode().strip()
    # Asked only now: one git process less per group when the ref resolves (the usual case).
    if not runner.run([git_dir, "for-each-ref", "--count=1"], "read").strip():
        raise FetchError("repository is empty (no commits)")
    if ref is None:
        raise FetchError(f"the default branch of {runner.source.display} has no commits")
    raise FetchError(f"ref {runner.source.redact(ref)!r} not found in {runner.source.display}")


def _history(runner: _Git, mirror: Path, tip: str) -> list[_Commit]:
    fmt = "--format=%H%x1f%ct%x1f%cI%x1f%s%x00"
    out = runner.run([f"--git-dir={mirror}", "log", fmt, tip, "--"], "read")
    commits = []
    for record in out.decode("utf-8", "replace").split("\x00"):
        fields = record.lstrip("\n").split("\x1f", 3)
        if len(fields) == 4:
            commits.append(_Commit(fields[0], int(fields[1]), fields[2], fields[3]))
    return commits


def _select(
    commits: list[_Commit], deadline: datetime | None, where: str
) -> tuple[_Commit, list[_Commit]]:
    """The newest commit at or before the deadline (committer date), and those after it."""
    if deadline is None:
        return commits[0], []
    if deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=UTC)  # contract: deadlines carry an offset
    limit = deadline.timestamp()
    on_time = [c for c in commits if c.timestamp <= limit]
    if not on_time:
        raise FetchError(f"no commit at or before the deadline {deadline.isoformat()} in {where}")
    chosen = max(on_time, key=lambda c: c.timestamp)  # ties: the one nearest the tip
    late = sorted((c for c in commits if c.timestamp > limit), key=lambda c: -c.timestamp)
    return chosen, late
