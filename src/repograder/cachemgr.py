"""`repograder cache info|prune`: what the caches hold on disk, and trimming them.

Caches (under the cache folder unless noted): git mirrors (``mirrors/``), local-backend
environments (``envs/``, ``builds/``, ``uv-cache/``), per-run work folders (``work/<run>``,
``check/<run>``), build logs and locks, and in Docker the environment images
(``repograder-env:*``, shared layers tagged ``common-*``), the base images and the shared uv
cache volume. Docker keeps no "last used" time, so the Docker sandbox touches
``images/<hash>.used`` whenever it uses an environment image; pruning reads those.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from repograder import fsutil

if TYPE_CHECKING:  # the Docker side is imported only when it is used
    from repograder.sandbox.docker import DockerCaches

DAY = 86400.0
WORK_GRACE_S = 3600.0  # a work folder touched within the last hour may belong to a live run
_AGE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")


@dataclass(frozen=True)
class CacheEntry:
    """One line of `cache info`."""

    name: str
    where: str
    count: int
    size: int | None  # bytes; None when unknown (e.g. no Docker engine)
    last_used: float | None = None  # epoch seconds
    note: str = ""


@dataclass(frozen=True)
class PruneResult:
    """What `cache prune` removed (or would remove with ``dry_run``) and what it kept."""

    removed: tuple[str, ...]
    freed: int  # bytes (for images: the bytes no other image shared)
    kept: tuple[str, ...]  # things that could not be removed, with the reason


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``2w``, ``90m``, ``0`` -> seconds (a bare number means days)."""
    match = _AGE_RE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not an age like 30d, 12h or 2w")
    factor = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY, "w": 7 * DAY}[match.group(2) or "d"]
    return float(match.group(1)) * factor


def _tree(path: Path) -> tuple[int, int, float | None]:
    """(bytes, files, newest mtime) below ``path``, never following symlinks."""
    size = files = 0
    newest: float | None = None
    stack = [path]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            newest = st.st_mtime if newest is None else max(newest, st.st_mtime)
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            else:
                size += st.st_blocks * 512 if st.st_blocks else st.st_size
                files += 1
    return size, files, newest


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if not p.is_symlink())
    except OSError:
        return []


def _work_dirs(cache_dir: Path) -> Iterator[Path]:
    for parent in ("work", "check"):
        yield from (p for p in _children(cache_dir / parent) if p.is_dir())


def _folder_entry(name: str, paths: list[Path], where: str) -> CacheEntry:
    total = 0
    newest: float | None = None
    for path in paths:
        size, _files, last = _tree(path) if path.is_dir() else (0, 0, None)
        total += size
        if last is not None:
            newest = last if newest is None else max(newest, last)
    return CacheEntry(name, where, len(paths), total, newest)


def _docker(caches: DockerCaches | None) -> DockerCaches:
    from repograder.sandbox.docker import DockerCaches

    return caches if caches is not None else DockerCaches()


def cache_info(
    cache_dir: Path, *, use_docker: bool = True, docker: DockerCaches | None = None
) -> tuple[CacheEntry, ...]:
    """Sizes of every cache; Docker entries say why they are missing without an engine.

    ``docker``: the Docker side (default: the local engine's, see ``DockerCaches``).
    """
    entries = [
        _folder_entry("git mirrors", _children(cache_dir / "mirrors"), str(cache_dir / "mirrors")),
        _folder_entry(
            "local environments",
            [p for p in _children(cache_dir / "envs") if p.is_dir()],
            str(cache_dir / "envs"),
        ),
        _folder_entry(
            "local uv cache",
            [cache_dir / "uv-cache"] if (cache_dir / "uv-cache").is_dir() else [],
            str(cache_dir / "uv-cache"),
        ),
        _folder_entry("work folders", list(_work_dirs(cache_dir)), str(cache_dir / "work")),
    ]
    if not use_docker:
        return tuple(entries)
    sd = _docker(docker)
    ok, why = sd.available()
    if not ok:
        note = f"Docker not reachable: {why}"
        entries.append(CacheEntry("docker environment images", sd.env_repo, 0, None, note=note))
        return tuple(entries)
    images = sd.list_images()
    for layer, label in (("common", "docker shared layers"), ("group", "docker env images")):
        chosen = [i for i in images if i.layer == layer]
        last = [sd.last_used(cache_dir, i) for i in chosen]
        entries.append(
            CacheEntry(
                label,
                sd.env_repo,
                len(chosen),
                sum(i.unique_size for i in chosen),
                max(last) if last else None,
                "bytes not shared with other images",
            )
        )
    base = [i for i in images if i.layer == "base"]
    entries.append(
        CacheEntry(
            "docker base images",
            ", ".join(i.tag for i in base) or sd.base_image,
            len(base),
            sum(i.unique_size for i in base)
            + max((i.size - i.unique_size for i in base), default=0),
            note="kept by prune unless --all",
        )
    )
    volume = sd.uv_cache_volume_size()
    entries.append(
        CacheEntry(
            "docker uv cache volume",
            sd.uv_cache_volume,
            0 if volume is None else 1,
            volume or 0,
        )
    )
    return tuple(entries)


def format_size(size: int | None) -> str:
    """Bytes as a short human text (``1.7 GB``)."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover


def format_info(entries: tuple[CacheEntry, ...], now: float | None = None) -> str:
    """The `cache info` table."""
    now = time.time() if now is None else now
    lines = [f"{'cache':28} {'items':>6} {'size':>10}  {'last used':>10}  where"]
    for e in entries:
        age = "-" if e.last_used is None else _age_text(now - e.last_used)
        line = f"{e.name:28} {e.count:>6} {format_size(e.size):>10}  {age:>10}  {e.where}"
        lines.append(line + (f"  ({e.note})" if e.note else ""))
    total = sum(e.size or 0 for e in entries)
    lines.append(f"{'total':28} {'':>6} {format_size(total):>10}")
    return "\n".join(lines) + "\n"


def _age_text(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(seconds, 0) / 60:.0f} min ago"
    if seconds < 2 * DAY:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / DAY:.0f} d ago"


def _remove_tree(path: Path, dry_run: bool) -> int:
    size = _tree(path)[0]
    if not dry_run:
        fsutil.remove_tree(path)
    return size


def prune(
    cache_dir: Path,
    *,
    older_than_s: float = 30 * DAY,
    remove_all: bool = False,
    dry_run: bool = False,
    use_docker: bool = True,
    now: float | None = None,
    docker: DockerCaches | None = None,
) -> PruneResult:
    """Remove environments unused for ``older_than_s`` and unreferenced work folders.

    ``remove_all`` empties every cache, the base images and the uv cache volume included;
    without it the base images, git mirrors and the uv cache are never touched. ``docker``:
    the Docker side (default: the local engine's, see ``DockerCaches``).
    """
    now = time.time() if now is None else now
    cutoff = now - older_than_s
    removed: list[str] = []
    kept: list[str] = []
    freed = 0
    live: set[str] = set()
    docker_ok = False
    sd = _docker(docker) if use_docker else None
    if sd is not None:
        docker_ok = sd.available()[0]
        if docker_ok:
            live = sd.live_run_ids()
    # Work folders: left behind by crashed runs (a finished run removes its own).
    for path in _work_dirs(cache_dir):
        last = _tree(path)[2] or path.stat().st_mtime
        if path.name in live or (not remove_all and last > now - WORK_GRACE_S):
            continue
        freed += _remove_tree(path, dry_run)
        removed.append(f"work folder {path}")
    # Local-backend environments: by age like the images.
    for path in _children(cache_dir / "envs"):
        last = _tree(path)[2] or 0.0
        if remove_all or last < cutoff:
            freed += _remove_tree(path, dry_run)
            removed.append(f"local environment {path.name}")
    if remove_all:
        for name in ("mirrors", "uv-cache", "builds", "logs", "locks"):
            if (cache_dir / name).is_dir():
                freed += _remove_tree(cache_dir / name, dry_run)
                removed.append(f"{name} folder {cache_dir / name}")
    if sd is not None and docker_ok:
        freed += _prune_images(sd, cache_dir, cutoff, remove_all, dry_run, removed, kept)
    elif use_docker:
        kept.append("docker images: no Docker engine reachable")
    return PruneResult(tuple(removed), freed, tuple(kept))


def _prune_images(
    sd: DockerCaches,
    cache_dir: Path,
    cutoff: float,
    remove_all: bool,
    dry_run: bool,
    removed: list[str],
    kept: list[str],
) -> int:
    freed = 0
    images = sd.list_images()
    # Group layers first: a shared layer can only go once no group image sits on it.
    order = {"group": 0, "common": 1, "base": 2}
    for image in sorted(images, key=lambda i: (order.get(i.layer, 0), i.tag)):
        if image.layer == "base" and not remove_all:
            continue
        last = sd.last_used(cache_dir, image)
        if not remove_all and last >= cutoff:
            continue
        name = f"image {image.tag or image.id[:19]}"
        if image.containers:
            kept.append(f"{name}: used by {image.containers} container(s)")
            continue
        why = None if dry_run else sd.remove_image(image)
        if why:
            kept.append(f"{name}: {why}")
            continue
        freed += image.unique_size
        removed.append(name)
        if not dry_run:
            sd.forget(cache_dir, image)
    if remove_all:
        size = sd.uv_cache_volume_size()
        if size is not None:
            why = None if dry_run else sd.remove_uv_cache_volume()
            if why:
                kept.append(f"volume {sd.uv_cache_volume}: {why}")
            else:
                freed += size
                removed.append(f"volume {sd.uv_cache_volume}")
    return freed
