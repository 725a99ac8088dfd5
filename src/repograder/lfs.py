"""Fetch the Git LFS objects of a checkout, without git-lfs and without running anything.

A checkout made from git objects holds LFS *pointers* (``version https://git-lfs...``, an
``oid sha256:...`` and a ``size``) instead of the data. This module replaces them with the
objects, safely: no filter, hook or program of the student's repository runs (the batch API
is spoken here, in Python), every object is size-capped and verified by its SHA-256, and
the server gets the same credentials as the clone (the batch request only; downloads get the
headers the server hands out). Sources, per the Git LFS spec (git-lfs/docs/api/batch.md):

- a local repository: ``.git/lfs/objects/<oid[0:2]>/<oid[2:4]>/<oid>`` (bare: ``lfs/...``);
- an http(s) remote: ``POST <url>.git/info/lfs/objects/batch`` with operation ``download``.

Whatever cannot be fetched stays a pointer and is reported (the steps that read it get a hint
and a human decides, see runner.lfs_hint).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from repograder import fsutil

_POINTER = re.compile(
    rb"^version https://git-lfs\.github\.com/spec/v1\n(?:.*\n)*?oid sha256:([0-9a-f]{64})\n"
    rb"(?:.*\n)*?size (\d{1,15})\n",
)
MEDIA_TYPE = "application/vnd.git-lfs+json"
MAX_OBJECT_BYTES = 200_000_000
MAX_TOTAL_BYTES = 500_000_000
MAX_OBJECTS = 200


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are refused: urllib would carry the Authorization header to another host."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Pointer:
    """One pointer file of the checkout: its repo-relative path, object id and size."""

    path: str
    oid: str
    size: int


@dataclass(frozen=True)
class Outcome:
    """``fetched``: paths whose content was written; ``notes``: what could not be and why."""

    fetched: tuple[str, ...]
    notes: tuple[str, ...]


def read_pointer(root: Path, rel: str) -> Pointer | None:
    """Parse a pointer file (at most 1 KiB); None when it is not one."""
    head = fsutil.read_bytes(root, rel, 1024)
    if head is None:
        return None
    match = _POINTER.match(head)
    return Pointer(rel, match.group(1).decode(), int(match.group(2))) if match else None


def fetch_objects(
    dest: Path,
    paths: Sequence[str],
    *,
    local_repo: Path | None = None,
    url: str | None = None,
    auth_header: str | None = None,
    timeout_s: float = 60.0,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> Outcome:
    """Replace the pointers at ``paths`` in ``dest`` with their objects where possible."""
    pointers = [p for p in (read_pointer(dest, rel) for rel in paths[:MAX_OBJECTS]) if p]
    notes: list[str] = []
    if len(paths) > MAX_OBJECTS:
        notes.append(f"Git LFS: only the first {MAX_OBJECTS} of {len(paths)} pointers fetched")
    fetched: list[str] = []
    budget = max_total_bytes
    wanted: list[Pointer] = []
    for pointer in pointers:
        if pointer.size > MAX_OBJECT_BYTES or pointer.size > budget:
            notes.append(f"Git LFS: {pointer.path} not fetched ({pointer.size} bytes: too large)")
            continue
        budget -= pointer.size
        wanted.append(pointer)
    if local_repo is not None:
        for pointer in wanted:
            data = _local_object(local_repo, pointer)
            if data is not None and _write(dest, pointer, data):
                fetched.append(pointer.path)
    elif url is not None and url.startswith(("https://", "http://")) and wanted:
        fetched += _remote(dest, wanted, url, auth_header, timeout_s, notes)
    missing = [p.path for p in wanted if p.path not in fetched]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        notes.append(f"Git LFS content not fetched: {shown}")
    return Outcome(tuple(fetched), tuple(notes))


def _local_object(repo: Path, pointer: Pointer) -> bytes | None:
    oid = pointer.oid
    for base in (repo / ".git" / "lfs" / "objects", repo / "lfs" / "objects"):
        path = base / oid[:2] / oid[2:4] / oid
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size != pointer.size:
                continue
            with path.open("rb") as handle:
                return handle.read(pointer.size + 1)
        except OSError:
            continue
    return None


def _write(dest: Path, pointer: Pointer, data: bytes) -> bool:
    """Verify size and SHA-256, then replace the pointer file atomically (never via a link)."""
    if len(data) != pointer.size or hashlib.sha256(data).hexdigest() != pointer.oid:
        return False
    target = dest / pointer.path
    if target.is_symlink() or not target.is_file():
        return False
    mode = target.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".lfs-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return False
    return True


def _batch_url(url: str) -> str:
    base = url.rstrip("/")
    return (base if base.endswith(".git") else base + ".git") + "/info/lfs/objects/batch"


def _remote(
    dest: Path,
    wanted: Sequence[Pointer],
    url: str,
    auth_header: str | None,
    timeout_s: float,
    notes: list[str],
) -> list[str]:
    body = json.dumps(
        {
            "operation": "download",
            "transfers": ["basic"],
            "objects": [{"oid": p.oid, "size": p.size} for p in wanted],
        }
    ).encode()
    headers = {"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE}
    if auth_header:
        name, _, value = auth_header.partition(": ")
        headers[name] = value
    batch = _batch_url(url)  # http(s) only: checked by the caller
    request = urllib.request.Request(batch, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            answer = json.loads(response.read(5_000_000))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        notes.append(f"Git LFS batch request failed: {type(exc).__name__}")
        return []
    by_oid = {p.oid: p for p in wanted}
    fetched: list[str] = []
    objects = answer.get("objects") if isinstance(answer, dict) else None
    for item in objects if isinstance(objects, list) else []:
        if not isinstance(item, dict) or item.get("oid") not in by_oid:
            continue
        pointer = by_oid[str(item["oid"])]
        action = (item.get("actions") or {}).get("download") if isinstance(item, dict) else None
        href = action.get("href") if isinstance(action, dict) else None
        if not isinstance(href, str) or not href.startswith(("https://", "http://")):
            continue
        extra = action.get("header") if isinstance(action, dict) else None
        get_headers = {
            str(k): str(v) for k, v in (extra.items() if isinstance(extra, dict) else [])
        }
        try:
            get = urllib.request.Request(href, headers=get_headers)  # noqa: S310 - http(s) only
            with _OPENER.open(get, timeout=timeout_s) as response:
                data = response.read(pointer.size + 1)
        except (urllib.error.URLError, OSError, ValueError):
            continue
        for other in wanted:  # several paths may share one object
            if other.oid == pointer.oid and _write(dest, other, data):
                fetched.append(other.path)
    return fetched
