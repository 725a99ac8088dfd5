"""Reading a student repository's environment files for :mod:`repograder.detect`.

The shared helpers of every detector: size-capped reads inside the repository, joins and
"where" wording, the accumulator one detector fills, and the requirements-file parser with its
``-r``/``-c`` includes (also used for conda files' ``pip:`` sections and setup.cfg).
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repograder import fsutil
from repograder.envparse import (
    parse_include,
    sanitize_requirement,
    split_logical_lines,
)
from repograder.facts import (
    EnvKind,
    EnvSpec,
)

MAX_ENV_FILE_BYTES = 1_000_000
MAX_INCLUDES = 50


@dataclass
class _Acc:
    """Mutable accumulator used while one detector builds its spec."""

    files: list[str] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    install_project: bool = False
    python: tuple[str, str] | None = None  # (version, "file:line") of a `python` line

    def add_file(self, rel: str) -> None:
        if rel not in self.files:
            self.files.append(rel)

    def add_requirement(self, line: str, where: str, *, constraint: bool = False) -> None:
        """One requirement line, sanitized (:func:`sanitize_requirement`): kept once, or dropped
        or warned about with ``where`` ("file:line", "file: pip") in front of the reason."""
        result = sanitize_requirement(line)
        self.install_project = self.install_project or result.install_project
        if result.python and self.python is None:
            self.python = (result.python, where)
        if result.dropped:
            self.dropped.append(f"{where}: {result.dropped}")
        if result.warning:
            self.warnings.append(f"{where}: {result.warning}")
        target = self.constraints if constraint else self.requirements
        if result.line and result.line not in target:
            target.append(result.line)


def _read(root: Path, rel: str) -> str | None:
    return fsutil.read_text(root, rel, MAX_ENV_FILE_BYTES)


def _is_file(root: Path, rel: str) -> bool:
    if not fsutil.is_inside(root, rel):
        return False
    try:
        return stat.S_ISREG(os.lstat(root / rel).st_mode)
    except OSError:
        return False


def _is_dir(root: Path, rel: str) -> bool:
    if rel and not fsutil.is_inside(root, rel):
        return False
    try:
        return stat.S_ISDIR(os.lstat(root / rel).st_mode)
    except OSError:
        return False


def _listdir(root: Path, rel: str) -> list[str]:
    if not _is_dir(root, rel):
        return []
    try:
        return sorted(os.listdir(root / rel))[:2000]
    except OSError:
        return []


def _join(base: str, name: str) -> str:
    return f"{base}/{name}" if base else name


def _where(rel: str) -> str:
    folder = posixpath.dirname(rel)
    return "at the repository root" if not folder else f"in {folder}/"


# --- requirements files -------------------------------------------------------------------------


def _resolve_in_repo(including: str, target: str) -> str | None:
    """Repo-relative path of an include, or None when it leaves the repo or is a URL.

    A Windows path (`-r requirements\\base.txt`, as pip on Windows reads it) names the same file
    with `/`: no student's file name holds a backslash.
    """
    if re.match(r"^[a-z][a-z0-9+.-]*://", target, re.IGNORECASE) or target.startswith(("/", "~")):
        return None
    if re.match(r"^[A-Za-z]:[\\/]", target):
        return None  # a Windows drive path: outside the repository
    target = target.replace("\\", "/")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(including), target))
    if joined.startswith("..") or joined.startswith("/") or joined == ".":
        return None
    return joined


def _read_requirements(
    root: Path, rel: str, acc: _Acc, *, constraint: bool = False, depth: int = 0
) -> None:
    """Parse one requirements file into ``acc``, following -r/-c includes inside the repo."""
    text = _read(root, rel)
    if text is None:
        acc.warnings.append(f"{rel}: cannot be read (missing, a symlink or not a regular file)")
        return
    acc.add_file(rel)
    for number, line in split_logical_lines(text):
        include = parse_include(line)
        if include is not None:
            kind, target = include
            resolved = _resolve_in_repo(rel, target)
            if resolved is None:
                acc.dropped.append(f"{rel}:{number}: {line}: include outside the repository")
            elif resolved in acc.files:
                continue
            elif depth >= 10 or len(acc.files) >= MAX_INCLUDES:
                acc.dropped.append(f"{rel}:{number}: {line}: too many nested includes")
            elif not _is_file(root, resolved):
                acc.dropped.append(f"{rel}:{number}: {line}: included file not found")
            else:
                _read_requirements(
                    root, resolved, acc, constraint=constraint or kind == "c", depth=depth + 1
                )
            continue
        acc.add_requirement(line, f"{rel}:{number}", constraint=constraint)


_REQ_FOLDER_NAMES = ("base.txt", "requirements.txt", "main.txt", "common.txt", "prod.txt")


def _requirements_choice(root: Path, base: str, *, variants_ok: bool) -> tuple[str, str] | None:
    names = _listdir(root, base)
    if not variants_ok:
        for name in names:
            if name.lower() == "requirements.txt" and _is_file(root, _join(base, name)):
                return _join(base, name), ""
        req_dir = _join(base, "requirements")
        for name in _REQ_FOLDER_NAMES:
            if _is_file(root, _join(req_dir, name)):
                return _join(req_dir, name), ""
        return None
    variants = [
        n
        for n in names
        if re.match(r"^requirements?[-_.][\w.-]*\.txt$", n, re.IGNORECASE)
        and _is_file(root, _join(base, n))
    ]
    req_dir = _join(base, "requirements")
    variants += [
        f"requirements/{n}"
        for n in _listdir(root, req_dir)
        if n.lower().endswith(".txt") and _is_file(root, _join(req_dir, n))
    ]
    if not variants:
        return None
    ranked = sorted(variants, key=lambda n: (_name_rank(n)[0], n.lower()))
    chosen = ranked[0]
    note = f" (no plain requirements.txt; {chosen} used"
    if len(ranked) > 1:
        why = _name_rank(chosen)[1]
        others = [
            o + (f" ({', '.join(_name_rank(o)[1])})" if _name_rank(o)[1] else "")
            for o in ranked[1:4]
        ]
        note += (f", {', '.join(why)}," if why else "") + f" over {'; '.join(others)}"
    return _join(base, chosen), note + ")"


def _detect_requirements(root: Path, base: str, *, variants_ok: bool = False) -> EnvSpec | None:
    choice = _requirements_choice(root, base, variants_ok=variants_ok)
    if choice is None:
        return None
    rel, note = choice
    return _requirements_spec(root, rel, note)


def _requirements_spec(root: Path, rel: str, note: str = "") -> EnvSpec:
    """The spec of the requirements file ``rel`` (its ``-r``/``-c`` includes read too)."""
    acc = _Acc()
    _read_requirements(root, rel, acc)
    return EnvSpec(
        kind=EnvKind.REQUIREMENTS,
        path=rel,
        reason=f"{posixpath.basename(rel)} {_where(rel)}{note}",
        files=tuple(acc.files),
        requirements=tuple(acc.requirements),
        constraints=tuple(acc.constraints),
        install_project=acc.install_project,
        dropped=tuple(acc.dropped),
        warnings=tuple(acc.warnings),
        python_version=acc.python[0] if acc.python else None,
        python_source=f"the python line in {acc.python[1]}" if acc.python else None,
    )


# Choosing among several conda files (issue 13, names seen in public student repositories:
# environment-cpu.yaml + environment-gpu.yaml, conda_env.yaml + environment_crossplat.yaml).
# Lower ranks first: portable and CPU files beat GPU and OS-specific exports.
_PORTABLE_RE = re.compile(
    r"cpu|cross[-_]?plat|portable|no[-_]?builds?|from[-_]?history|minimal|linux", re.IGNORECASE
)
_GPU_RE = re.compile(r"gpu|cuda|cu\d{2,3}|rocm|mps", re.IGNORECASE)
_OS_RE = re.compile(
    r"win(?:dows|32|64)?(?![a-z])|mac(?:os)?|osx|darwin|apple|m[12](?![0-9])", re.IGNORECASE
)
_AUX_RE = re.compile(r"dev|test|doc|lint|(?<![a-z])ci(?![a-z])", re.IGNORECASE)


def _name_rank(rel: str) -> tuple[tuple[int, ...], list[str]]:
    """(sort key, reasons) of an environment file's name: CPU/portable first; GPU, OS-specific
    and development files last. Shared by requirements variants and conda files."""
    name = posixpath.basename(rel).rsplit(".", 1)[0]
    why: list[str] = []
    aux = bool(_AUX_RE.search(name))
    gpu = bool(_GPU_RE.search(name))
    osx = bool(_OS_RE.search(name))
    portable = bool(_PORTABLE_RE.search(name))
    if portable:
        why.append("CPU/portable by its name")
    if gpu:
        why.append("GPU-specific")
    if osx:
        why.append("OS-specific by its name")
    if aux:
        why.append("for development/tests/docs")
    return (int(aux), int(gpu), int(osx), int(not portable)), why


def _unparseable(kind: EnvKind, rel: str, reason: str, error: str) -> EnvSpec:
    """The spec of an environment file that exists but cannot be parsed: the error is data."""
    return EnvSpec(
        kind=kind, path=rel, reason=reason, files=(rel,), warnings=(error,), parse_error=error
    )


def _with(spec: EnvSpec, **changes: Any) -> EnvSpec:
    return dataclasses.replace(spec, **changes)
