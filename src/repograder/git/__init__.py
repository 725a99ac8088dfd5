"""Fetch a group's repository: mirror cache, the commit at the deadline, late commits.

GitPython lives only in this package (:mod:`.runner`; :mod:`.tree` reads blobs). Student
repositories are untrusted, so git runs with hooks off, only a few transports allowed, no
prompts, a timeout, and credentials passed as an HTTP header through the environment (never in a
URL, on a command line or in a stored config). The graded tree is written by reading blobs from
our own bare mirror: no checkout, so no hooks, filters, LFS smudge or submodules ever run.

:mod:`.source` (transports, token, redaction), :mod:`.runner` (hardened git calls),
:mod:`.mirror` (mirror cache, deadline commit, late commits), :mod:`.tree` (writing the graded
tree), :mod:`.worktree` (a student's own checkout); ``fetch`` and ``resolve_commit`` here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from repograder import model
from repograder.errors import FetchError
from repograder.git.mirror import MAX_HISTORY_COMMITS as MAX_HISTORY_COMMITS
from repograder.git.mirror import (
    _clone_mirror,
    _commit_stats,
    _history,
    _is_mirror,
    _locked,
    _mirror_name,
    _resolve,
    _select,
    _update_mirror,
)
from repograder.git.runner import _Git
from repograder.git.source import ALLOWED_SCHEMES as ALLOWED_SCHEMES
from repograder.git.source import MAX_CHECKOUT_BYTES as MAX_CHECKOUT_BYTES
from repograder.git.source import MAX_CHECKOUT_FILES as MAX_CHECKOUT_FILES
from repograder.git.source import FetchOptions as FetchOptions
from repograder.git.source import _parse_source, _Source
from repograder.git.source import describe_source as describe_source
from repograder.git.source import redact as redact
from repograder.git.source import token_from_env as token_from_env
from repograder.git.tree import LFS_POINTER_MAX_BYTES as LFS_POINTER_MAX_BYTES
from repograder.git.tree import LFS_POINTER_PREFIX as LFS_POINTER_PREFIX
from repograder.git.tree import _capped, _fetch_lfs, _materialise
from repograder.git.worktree import uncommitted_changes as uncommitted_changes
from repograder.git.worktree import worktree_files as worktree_files


@contextlib.contextmanager
def _updated_mirror(
    source: _Source, ref: str | None, options: FetchOptions, notes: list[str]
) -> Iterator[tuple[_Git, Path]]:
    """The mirror of ``source`` cloned or updated (offline: as cached, with a note), held under
    its lock for the block. Raises FetchError for a bad ``ref`` or an offline miss."""
    if ref is not None and (not ref or ref.startswith("-") or any(ord(c) < 32 for c in ref)):
        raise FetchError(f"invalid ref {source.redact(ref)!r}")
    options.cache_dir.mkdir(parents=True, exist_ok=True)
    name = _mirror_name(source.display)
    mirror = options.cache_dir / f"{name}.git"
    runner = _Git(source, options.timeout_s)
    with _locked(options.cache_dir / f"{name}.lock"):
        if _is_mirror(mirror):
            if options.offline:
                notes.append("offline: graded the cached mirror without fetching")
            else:
                _update_mirror(runner, mirror, update_head=ref is None)
        elif options.offline and not source.local:
            raise FetchError(f"offline and no cached mirror of {source.display}")
        else:
            _clone_mirror(runner, mirror)
        yield runner, mirror


def fetch(
    repo: str, ref: str | None, deadline: datetime | None, dest: Path, options: FetchOptions
) -> model.Checkout:
    """Update the cached mirror of `repo` and write the graded commit's tree into `dest`."""
    source = _parse_source(repo, options.token)
    if isinstance(source, Path):
        # Returned in place, not copied: later stages only read it, the sandbox copies it.
        return model.Checkout(
            path=source,
            commit=None,
            commit_date=None,
            notes=("plain folder: no commit and no deadline",),
        )
    notes: list[str] = []
    with _updated_mirror(source, ref, options, notes) as (runner, mirror):
        tip = _resolve(runner, mirror, ref)
        chosen, late = _select(_history(runner, mirror, tip), deadline, source.display)
        lfs = _materialise(runner, mirror, chosen.sha, dest, notes, options.max_checkout_bytes)
        history = _commit_stats(runner, mirror, chosen.sha, notes)
    if lfs and options.fetch_lfs:
        lfs = _fetch_lfs(source, dest, lfs, options, notes)
    return model.Checkout(
        path=dest,
        commit=chosen.sha,
        commit_date=chosen.date,
        late_commits=tuple(model.LateCommit(c.sha, c.date, c.subject) for c in late),
        lfs_pointers=lfs,
        notes=_capped(notes),
        history=history,
    )


# --- snapshots and students' self-checks ------------------------------------------------------


def resolve_commit(repo: str, ref: str | None, options: FetchOptions) -> tuple[str, str] | None:
    """Update the mirror of `repo`; return (sha, committer date) of `ref`'s tip, None if no git.

    No deadline and no tree: a snapshot records what the remote holds *now*, by our clock.
    """
    source = _parse_source(repo, options.token)
    if isinstance(source, Path):
        return None
    with _updated_mirror(source, ref, options, []) as (runner, mirror):
        tip = _resolve(runner, mirror, ref)
        date = runner.run([f"--git-dir={mirror}", "log", "-1", "--format=%cI", tip, "--"], "read")
    return tip, date.decode("utf-8", "replace").strip()
