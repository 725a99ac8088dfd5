"""Safe reading of untrusted repository files.

Nothing here follows a symlink: a ``paper.pdf -> /etc/passwd`` in a student repository must
never put host content in the report. Sizes are capped so a 50 MB README cannot exhaust memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Environments, caches and version-control data: never anyone's writing, and can be huge.
ENVIRONMENT_DIRS = frozenset(
    {
        ".conda",
        ".eggs",
        ".git",
        ".hg",
        ".ipynb_checkpoints",
        ".mypy_cache",
        ".nox",
        ".pytest_cache",
        ".ruff_cache",
        ".svn",
        ".tox",
        ".venv",
        "__pycache__",
        "dist-packages",
        "lightning_logs",
        "mlruns",
        "node_modules",
        "site-packages",
        "venv",
        "wandb",
    }
)
# Folders that hold someone else's code or generated files, never the project's own.
VENDORED_DIRS = ENVIRONMENT_DIRS | frozenset(
    {
        ".env",
        ".idea",
        ".vscode",
        "build",
        "conda-env",
        "deps",
        "dist",
        "env",
        "extern",
        "external",
        "externals",
        "lib64",
        "third-party",
        "third_party",
        "thirdparty",
        "vendor",
        "vendored",
        "virtualenv",
    }
)

MAX_WALK_FILES = 50_000


def is_virtualenv(path: Path) -> bool:
    """A folder with pyvenv.cfg or conda-meta is an environment, whatever its name."""
    return _lexists(path / "pyvenv.cfg") or _lexists(path / "conda-meta")


def _lexists(path: Path) -> bool:
    try:
        os.lstat(path)
    except (OSError, ValueError):
        return False
    return True


def is_inside(root: Path, rel: str | Path) -> bool:
    """True when ``root/rel`` is a regular file reached without any symlink on the way."""
    try:
        parts = Path(rel).parts
    except (TypeError, ValueError):
        return False
    if not parts or Path(rel).is_absolute() or ".." in parts or "\x00" in str(rel):
        return False  # a NUL (e.g. from "-r \x00" in requirements.txt) makes os calls raise
    current = root
    for part in parts:
        current = current / part
        try:
            st = os.lstat(current)
        except OSError:
            return False
        if stat.S_ISLNK(st.st_mode):
            return False
    return True


def read_bytes(root: Path, rel: str | Path, max_bytes: int) -> bytes | None:
    """Read at most ``max_bytes`` of a regular file inside ``root``; None for links/others.

    Refuses symlinks anywhere on the path and anything that is not a regular file (fifos,
    devices). Uses O_NOFOLLOW so a swap between check and open cannot escape either.
    """
    if not is_inside(root, rel):
        return None
    path = root / rel
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        chunks: list[bytes] = []
        remaining = max_bytes
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_text(root: Path, rel: str | Path, max_bytes: int = 2_000_000) -> str | None:
    """Like :func:`read_bytes`, decoded by :func:`repograder.textio.decode` (BOM, UTF-8, then a
    fallback), newlines normalised. Use :func:`repograder.textio.read` to learn the encoding."""
    from repograder import textio  # textio reads through this module: import at call time

    data = read_bytes(root, rel, max_bytes)
    return None if data is None else textio.decode(data).text


def file_size(root: Path, rel: str | Path) -> int | None:
    if not is_inside(root, rel):
        return None
    try:
        st = os.lstat(root / rel)
    except OSError:
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def is_symlink(root: Path, rel: str | Path) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(root / rel).st_mode)
    except (OSError, ValueError):
        return False


def walk_files(root: Path, *, skip_vendored: bool = True) -> Iterator[str]:
    """Yield repo-relative POSIX paths of regular files, never entering symlinked folders.

    Vendored folders and virtualenvs are skipped when ``skip_vendored``. Yields at most
    MAX_WALK_FILES paths, in a stable (sorted) order.
    """
    count = 0
    stack: list[Path] = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        subdirs: list[Path] = []
        for entry in entries:
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if entry.name == ".git":
                        continue
                    sub = Path(entry.path)
                    if skip_vendored and (
                        entry.name.lower() in VENDORED_DIRS or is_virtualenv(sub)
                    ):
                        continue
                    subdirs.append(sub)
                elif entry.is_file(follow_symlinks=False):
                    count += 1
                    if count > MAX_WALK_FILES:
                        return
                    yield Path(entry.path).relative_to(root).as_posix()
            except (OSError, ValueError):
                continue
        stack.extend(reversed(subdirs))


GROUP_FILE_SUFFIXES = ("", ".html", ".json")  # groups/<slug>/, <slug>.html, <slug>.json


def group_slug(name: str, max_len: int = 80) -> str:
    """A group's name as the stem of its files in the output folder (``GROUP_FILE_SUFFIXES``).

    Like :func:`safe_filename` but without dots: the files of the groups ``team1`` and
    ``team1.html`` (``groups/team1.html`` the page, ``groups/team1.html/`` the folder) would
    otherwise be one path. With no dot in any slug, ``<slug><suffix>`` of two groups are equal
    only when their slugs are. Names that needed cleaning get a digest of the original name.
    """
    return _cleaned(name, _NOT_SLUG, "_-", max_len)


def group_file_names(name: str) -> tuple[str, ...]:
    """Every name a group takes in ``groups/`` (lower-cased: some file systems ignore case)."""
    slug = group_slug(name).lower()
    return tuple(slug + suffix for suffix in GROUP_FILE_SUFFIXES)


def safe_filename(name: str, max_len: int = 80) -> str:
    """Turn an untrusted name (a group name, a file name) into one safe path component.

    Keeps letters, digits, ``-``, ``_`` and ``.``; everything else becomes ``_``. Never empty,
    never ``.``/``..``, never starting with a dot or dash, at most ``max_len`` characters.
    """
    return _cleaned(name, _NOT_FILENAME, "._-", max_len)


_NOT_SLUG = re.compile(r"[^A-Za-z0-9_-]+")
_NOT_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def _cleaned(name: str, disallowed: re.Pattern[str], strip: str, max_len: int) -> str:
    """``name`` with each run of ``disallowed`` characters as ``_``, ``strip`` trimmed from
    both ends, cut to ``max_len``; never empty. A name that needed cleaning gets a digest of
    the original, so distinct unsafe names never collide after cleaning."""
    cleaned = disallowed.sub("_", name).strip(strip)[:max_len]
    if not cleaned:
        cleaned = "x"
    if cleaned != name:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        cleaned = f"{cleaned[: max_len - 9]}-{digest}"
    return cleaned


_REMOVE_MAX_DEPTH = 32  # open folder descriptors at once while removing a tree


def remove_tree(path: Path) -> None:
    """Delete ``path`` (a folder tree, a file or a link) at any depth; never raises.

    ``shutil.rmtree`` recurses once per folder level: a repository nesting one file 1100
    folders deep raises RecursionError (not OSError, so ``ignore_errors`` does not catch it),
    and a deep tree's paths outgrow PATH_MAX. This walks with folder descriptors (``*at``
    calls, symlinks never followed), keeps at most ``_REMOVE_MAX_DEPTH`` of them open, and
    moves a subtree that lies deeper up to the top folder to finish it from there. Entries that
    cannot be removed are left in place (skipped on rescans, so this always ends).
    """
    try:
        info = os.lstat(path)
    except OSError:
        return
    if not stat.S_ISDIR(info.st_mode):
        with _suppress_os():
            os.unlink(path)
        return
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        top = os.open(path, flags)
    except OSError:
        return
    stuck: set[int] = set()  # inodes that could not be removed
    moved = 0
    stack: list[tuple[int, str, int]] = [(top, "", info.st_ino)]
    try:
        while stack:
            fd = stack[-1][0]
            child: tuple[int, str, int] | None = None
            try:
                with os.scandir(fd) as entries:
                    listing = [
                        (e.name, e.inode(), e.is_dir(follow_symlinks=False)) for e in entries
                    ]
            except OSError:
                listing = []
            for name, inode, is_dir in listing:
                if inode in stuck:
                    continue
                if not is_dir:
                    try:
                        os.unlink(name, dir_fd=fd)
                    except OSError:
                        stuck.add(inode)
                    continue
                if len(stack) >= _REMOVE_MAX_DEPTH:
                    moved += 1
                    try:
                        os.rename(name, f".rg-deep-{moved}", src_dir_fd=fd, dst_dir_fd=top)
                    except OSError:
                        stuck.add(inode)
                    continue
                try:
                    child = (os.open(name, flags, dir_fd=fd), name, inode)
                except OSError:
                    stuck.add(inode)
                    continue
                break
            if child is not None:
                stack.append(child)
                continue
            done_fd, done_name, done_inode = stack.pop()
            if not stack:
                break  # the top folder itself: closed and removed below
            os.close(done_fd)
            try:
                os.rmdir(done_name, dir_fd=stack[-1][0])
            except OSError:
                # The number the listing gave (d_ino): overlayfs may report another st_ino.
                stuck.add(done_inode)
    finally:
        for fd, _name, _inode in stack:
            with _suppress_os():
                os.close(fd)
        with _suppress_os():
            os.close(top)
    with _suppress_os():
        os.rmdir(path)


def _suppress_os() -> contextlib.suppress:
    return contextlib.suppress(OSError)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all or nothing: a temp file of its own (``mkstemp``, so two
    processes writing one path never share it) in the same folder, fsync'ed, mode 0644, then
    ``os.replace``. The temp file is removed on failure; raises OSError."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
