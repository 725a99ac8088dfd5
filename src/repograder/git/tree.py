"""Writing the graded tree from our own bare mirror: blobs read one by one (no checkout, so no
hooks, filters, LFS smudge or submodules), with size and file caps; LFS pointers fetched
through :mod:`repograder.lfs`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import git as gitpython

from repograder import lfs as lfs_fetch
from repograder.errors import FetchError, InfrastructureError
from repograder.git.runner import _Git
from repograder.git.source import MAX_CHECKOUT_FILES, FetchOptions, _Source

LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1"
LFS_POINTER_MAX_BYTES = 1024
MAX_NOTES = 20


def _fetch_lfs(
    source: _Source, dest: Path, pointers: tuple[str, ...], options: FetchOptions, notes: list[str]
) -> tuple[str, ...]:
    """Fetch LFS objects with the clone's credentials; return the paths still pointers."""
    if source.local:
        outcome = lfs_fetch.fetch_objects(dest, pointers, local_repo=Path(source.url))
    elif options.offline:
        notes.append("offline: Git LFS content not fetched")
        return pointers
    else:
        outcome = lfs_fetch.fetch_objects(
            dest,
            pointers,
            url=source.url,
            auth_header=source.auth_header or source.lfs_auth_header,
            timeout_s=min(options.timeout_s, 120.0),
        )
    notes.extend(source.redact(n) for n in outcome.notes)
    if outcome.fetched:
        notes.append(f"Git LFS: fetched {len(outcome.fetched)} object(s)")
    return tuple(p for p in pointers if p not in outcome.fetched)


@dataclass(frozen=True)
class _Entry:
    mode: str
    kind: str
    sha: str
    size: int
    path: str


def _list_tree(runner: _Git, mirror: Path, commit: str) -> list[_Entry]:
    out = runner.run(
        [f"--git-dir={mirror}", "ls-tree", "-r", "-l", "-z", "--full-tree", commit], "read"
    )
    entries = []
    for record in out.split(b"\x00"):
        meta, sep, raw_path = record.partition(b"\t")
        fields = meta.split()
        if not sep or len(fields) != 4:
            continue
        size = int(fields[3]) if fields[3].isdigit() else 0
        entries.append(
            _Entry(
                fields[0].decode(),
                fields[1].decode(),
                fields[2].decode(),
                size,
                os.fsdecode(raw_path),
            )
        )
    return entries


def _materialise(
    runner: _Git, mirror: Path, commit: str, dest: Path, notes: list[str], max_bytes: int
) -> tuple[str, ...]:
    """Write the commit's tree into dest from the mirror's objects; return LFS pointer paths."""
    entries = _list_tree(runner, mirror, commit)
    total = sum(e.size for e in entries if e.kind == "blob")
    if total > max_bytes or len(entries) > MAX_CHECKOUT_FILES:
        raise FetchError(
            f"repository too large: {len(entries)} files, {total / 1e6:.0f} MB at {commit[:12]}"
        )
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ValueError(f"destination folder is not empty: {dest}")
    lfs: list[str] = []
    repo = gitpython.Repo(str(mirror))
    try:
        for entry in entries:
            parts = entry.path.split("/")
            if any(p in ("", ".", "..") or p.lower() == ".git" for p in parts):
                notes.append(f"skipped unsafe path: {entry.path!r}")
                continue
            try:
                _write_entry(repo, dest, parts, entry, notes, lfs)
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                    raise InfrastructureError(f"cannot write checkout to {dest}: {exc}") from exc
                notes.append(f"skipped {entry.path!r}: {exc.strerror or exc}")
    finally:
        repo.close()
    return tuple(lfs)


def _write_entry(
    repo: Any, dest: Path, parts: list[str], entry: _Entry, notes: list[str], lfs: list[str]
) -> None:
    parent = dest
    for part in parts[:-1]:
        parent = parent / part
        with contextlib.suppress(FileExistsError):
            parent.mkdir(mode=0o755)
        # Never write through a symlink the tree itself created.
        if not stat.S_ISDIR(os.lstat(parent).st_mode):
            notes.append(f"skipped {entry.path!r}: a parent is not a folder")
            return
    target = parent / parts[-1]
    if entry.mode == "160000":
        target.mkdir(mode=0o755, exist_ok=True)
        notes.append(f"submodule not fetched: {entry.path} (commit {entry.sha[:12]})")
        return
    if entry.kind != "blob" or entry.mode not in ("100644", "100755", "100664", "120000"):
        notes.append(f"skipped {entry.path!r}: unsupported entry mode {entry.mode}")
        return
    stream: IO[bytes] = repo.odb.stream(bytes.fromhex(entry.sha))
    if entry.mode == "120000":
        link = stream.read()
        if b"\x00" in link or len(link) > 4096 or not link:
            notes.append(f"skipped symlink {entry.path!r}: invalid target")
            return
        os.symlink(os.fsdecode(link), target)  # kept as a link; readers never follow it
        return
    mode = 0o755 if entry.mode == "100755" else 0o644
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(target, flags, mode)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(fd, mode)
        head = stream.read(LFS_POINTER_MAX_BYTES)
        out.write(head)
        shutil.copyfileobj(stream, out, 1024 * 1024)
    if entry.size < LFS_POINTER_MAX_BYTES and head.startswith(LFS_POINTER_PREFIX):
        lfs.append(entry.path)


def _capped(notes: list[str]) -> tuple[str, ...]:
    if len(notes) <= MAX_NOTES:
        return tuple(notes)
    return (*notes[:MAX_NOTES], f"... and {len(notes) - MAX_NOTES} more")
