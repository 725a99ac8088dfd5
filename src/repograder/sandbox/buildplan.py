"""Pure parts of a sandbox build: what goes in, its content hash, and reading the log.

No docker import: the Docker backend turns a :class:`BuildPlan` into a container, an install
script and a committed image. Everything that determines the image is in the plan's hash, so a
code change never rebuilds and identical dependencies build once.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shlex
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from repograder import fsutil
from repograder.facts import EnvKind, EnvSpec
from repograder.sandbox.hostconfig import HostSettings, cpu_constraints, uv_index_args
from repograder.sandbox.layout import BUILD_DIR as BUILD_DIR
from repograder.sandbox.layout import NUMBA_CACHE as NUMBA_CACHE
from repograder.sandbox.layout import PRIVATE_UV_CACHE as PRIVATE_UV_CACHE
from repograder.sandbox.layout import SEED_FILE as SEED_FILE
from repograder.sandbox.layout import SESSION_PREFIX as SESSION_PREFIX
from repograder.sandbox.layout import STATE_DIR as STATE_DIR
from repograder.sandbox.layout import VENV_PYTHON as VENV_PYTHON
from repograder.sandbox.layout import WARM_HOME as WARM_HOME
from repograder.sandbox.pins import NEAREST_MARK as NEAREST_MARK
from repograder.sandbox.pins import Pin as Pin
from repograder.sandbox.pins import choose_nearest as choose_nearest
from repograder.sandbox.pins import nearest_script as nearest_script
from repograder.sandbox.pins import offending_pins as offending_pins
from repograder.sandbox.pins import parse_nearest as parse_nearest
from repograder.sandbox.pins import relax_line as relax_line

TEMPLATE_VERSION = "6"  # bump when the install script or image layout changes
RENDERED_REQUIREMENTS = ".repograder-requirements.txt"  # the sanitized lines, beside the env file
WHEELS_SCRIPT = "install-wheels.sh"  # phase 1: wheels only, run by root with the shared cache
NEEDS_BUILD = 75  # exit code of the wheels-only phase: something must be built from source
_NEEDS_BUILD_PATTERN = (
    "no usable wheels|building from source is disabled|building source distributions is "
    "disabled|no wheels with a matching|--no-build"
)
MAX_DEP_FILE_BYTES = 5_000_000
_DEFAULT_BUILD_REQUIRES = ("setuptools>=68", "wheel")
_LAYER_HELPER = resources.files("repograder.sandbox").joinpath("templates/layer.py").read_text()


@dataclass(frozen=True)
class BuildPlan:
    """Everything a build needs, already rendered; ``content_hash`` names the image."""

    content_hash: str
    requirements: tuple[str, ...]  # installable lines (local paths removed)
    build_requires: tuple[str, ...]
    constraints: tuple[str, ...]
    apt_packages: tuple[str, ...]
    files: tuple[tuple[str, bytes], ...]  # repo-relative dependency files and their bytes
    requirements_dir: str  # repo-relative folder of the environment file ("" for the root)
    python_version: str  # the version the image has
    install_project: bool
    notes: tuple[str, ...]
    # Built on a shared layer: resolve a lock, make the venv match it exactly (packages of the
    # shared layer the group did not ask for are removed), compile only the new files.
    layered: bool = False
    warmup: tuple[str, ...] = ()  # shell commands run after installing (shared layer only)
    # The rubric's shared layer (the lecturer's input, not a student's): no newer-sdist probe.
    trusted: bool = False


def _rendered_requirements(req_dir: str) -> str:
    """Where the sanitized requirements lie, relative to the checkout: beside the env file
    (``req_dir``, "" for the root), so its relative includes resolve as in the repository."""
    return f"{req_dir}/{RENDERED_REQUIREMENTS}" if req_dir else RENDERED_REQUIREMENTS


def _is_local_requirement(line: str) -> bool:
    text = line.strip()
    if text.startswith(("-e ", "--editable")):
        text = text.split(None, 1)[1] if " " in text else ""
    return text.startswith((".", "/", "file:")) or text in {"", "-e"}


def python_note(requested: str | None, source: str | None, available: str) -> str | None:
    """A note when the requested Python version is not the image's; None when it matches."""
    if not requested:
        return None
    text = requested.strip()
    ok = False
    try:
        if re.match(r"^[<>=!~]", text):
            ok = SpecifierSet(text.replace(" ", "")).contains(Version(available))
        else:
            match = re.match(r"^(\d+)(?:\.(\d+))?", text)
            if match:
                wanted = match.group(1) + ("." + match.group(2) if match.group(2) else "")
                ok = available == wanted or available.startswith(wanted + ".")
                if not match.group(2):
                    ok = available.split(".")[0] == wanted
    except (InvalidSpecifier, InvalidVersion):
        ok = False
    if ok:
        return None
    origin = f" (from {source})" if source else ""
    return f"requested Python {text}{origin} is not available; graded with {available}"


def make_plan(
    spec: EnvSpec,
    checkout: Path,
    *,
    base_image_id: str,
    python_version: str,
    host: HostSettings,
    cpu_wheels: dict[str, Version] | None = None,
    layered: bool = False,
    warmup: tuple[str, ...] = (),
) -> BuildPlan:
    """Collect the dependency inputs of ``spec`` (never the source) and hash them.

    ``base_image_id`` is the parent image's id: the base image, or the shared layer when
    ``layered`` (so a new shared layer changes every group's hash).
    """
    notes: list[str] = []
    requirements: list[str] = []
    for line in spec.requirements:
        if _is_local_requirement(line):
            notes.append(f"'{line.strip()}' is a local path: installed with the project instead")
        else:
            requirements.append(line.strip())
    build_requires = list(spec.build_requires)
    if spec.install_project and not build_requires:
        build_requires = list(_DEFAULT_BUILD_REQUIRES)
    if any(re.match(r"^setuptools\b", r) for r in build_requires) and not any(
        re.match(r"^wheel\b", r) for r in build_requires
    ):
        # setuptools < 70.1 needs `wheel` for PEP 660 editable installs.
        build_requires.append("wheel")
    req_dir = Path(spec.path).parent.as_posix() if spec.path else ""
    if req_dir == ".":
        req_dir = ""
    rendered = _rendered_requirements(req_dir)
    files: list[tuple[str, bytes]] = []
    for rel in sorted(set(spec.files)):
        if rel == rendered:
            # Unpacked after the sanitized file, it would replace it: uv would read the
            # group's raw lines (any -r path, local indexes), as root in a wheels-only build.
            notes.append(f"{rel} has the name of the grader's own requirements file: not used")
            continue
        data = fsutil.read_bytes(checkout, rel, MAX_DEP_FILE_BYTES)
        if data is None:
            notes.append(f"dependency file {rel} is not a regular file inside the repository")
            continue
        files.append((rel, data))
    constraints = cpu_constraints([*requirements, *build_requires], cpu_wheels or {})
    note = python_note(spec.python_version, spec.python_source, python_version)
    if note:
        notes.append(note)
    if spec.apt_packages:
        notes.append("apt packages requested: " + " ".join(spec.apt_packages))
    payload = {
        "template": TEMPLATE_VERSION,
        "base": base_image_id,
        "kind": str(spec.kind),
        "requirements": requirements,
        "build_requires": build_requires,
        "constraints": constraints,
        "apt": list(spec.apt_packages),
        "files": [[rel, hashlib.sha256(data).hexdigest()] for rel, data in files],
        "req_dir": req_dir,
        "python": python_version,
        "install_project": spec.install_project,
        "host": host.fingerprint(),
        "layered": layered,
        "warmup": list(warmup),
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return BuildPlan(
        content_hash=digest,
        requirements=tuple(requirements),
        build_requires=tuple(build_requires),
        constraints=tuple(constraints),
        apt_packages=tuple(spec.apt_packages),
        files=tuple(files),
        requirements_dir=req_dir,
        python_version=python_version,
        install_project=spec.install_project,
        notes=tuple(notes),
        layered=layered,
        warmup=tuple(warmup),
    )


def common_spec(requirements: tuple[str, ...], apt: tuple[str, ...] = ()) -> EnvSpec:
    """The spec of a shared layer: the course's common requirements and apt packages."""
    return EnvSpec(
        kind=EnvKind.REQUIREMENTS,
        path=None,
        reason="shared layer (rubric environment)",
        requirements=tuple(r.strip() for r in requirements if r.strip()),
        apt_packages=tuple(a.strip() for a in apt if a.strip()),
    )


def install_script(plan: BuildPlan, host: HostSettings, *, wheels_only: bool = False) -> str:
    """The build script: ``install.sh install`` installs, ``finish`` trims/compiles, none: both.

    ``wheels_only`` (phase 1, run by root with the shared uv cache) passes ``--no-build`` to every
    uv call, so no build backend (student code) runs, and exits with :data:`NEEDS_BUILD` when a
    requirement needs building or a newer version of a locked package exists only as an sdist.
    The finish section runs as the student user, never with access to the shared cache.
    """
    index = uv_index_args(host)
    no_build = ["--no-build"] if wheels_only else []
    req_file = f"{BUILD_DIR}/repo/{_rendered_requirements(plan.requirements_dir)}"
    inputs: list[str] = []
    if plan.requirements:
        inputs += ["-r", req_file]
    if plan.build_requires:
        inputs += ["-r", f"{BUILD_DIR}/build-requirements.txt"]
    cons = ["-c", f"{BUILD_DIR}/constraints.txt"] if plan.constraints else []
    # -S: no site module, so no package's .pth file runs (root runs SNAPSHOT and NEWER).
    helper = [VENV_PYTHON, "-I", "-S", f"{BUILD_DIR}/layer.py"]
    lock = f"{STATE_DIR}/lock.txt"
    before = f"{STATE_DIR}/before.txt"
    # uv's "--no-build" failures say so; any other failure is the build's real error.
    guard = "rg_uv " if wheels_only else ""
    lines = ["set -eu", 'section="${1:-all}"']
    if wheels_only:
        lines += [
            "rg_uv() {",
            "  set +e",
            f'  "$@" 2>&1 | tee {STATE_DIR}/uv.log',
            "  rc=${PIPESTATUS[0]}",
            "  set -e",
            '  [ "$rc" -eq 0 ] && return 0',
            f"  if grep -qiE {shlex.quote(_NEEDS_BUILD_PATTERN)} {STATE_DIR}/uv.log; then",
            "    echo '[repograder] a requirement has no usable wheel: it needs a source build'",
            f"    exit {NEEDS_BUILD}",
            "  fi",
            '  exit "$rc"',
            "}",
        ]
    if wheels_only:
        lines += _prefetch_function(lock, before)
    lines += ['if [ "$section" != finish ]; then', f"mkdir -p {STATE_DIR}", f"cd {BUILD_DIR}/repo"]
    lines.append('echo "[repograder] uv $(uv --version)"')
    if not plan.layered:
        # Any image may later be a shared layer: record what the bare venv holds.
        lines.append(f"[ -f {SEED_FILE} ] || " + shlex.join([*helper, "SNAPSHOT", SEED_FILE]))
    lines.append(shlex.join([*helper, "SNAPSHOT", before]))
    if inputs and (plan.layered or wheels_only):
        compile_args = ["uv", "pip", "compile", "--python", VENV_PYTHON, *index, *no_build]
        # `uv pip compile` takes its requirement files as plain arguments (no -r).
        compile_args += [a for a in inputs if a != "-r"]
        compile_args += [*cons, "--no-header", "--no-annotate", "-o", lock]
        lines.append("echo '[repograder] resolving:' " + shlex.join(compile_args))
        lines.append(guard + shlex.join(compile_args))
        if wheels_only and not plan.trusted:
            # --no-build silently skips sdist-only versions: a newer one means "build it".
            # The group's own specifiers (as constraints) keep an explicit pin from counting;
            # packages the shared layer already holds at the locked version are not probed.
            own = [a if a != "-r" else "-c" for a in inputs]
            lines.append(shlex.join([*helper, "NEWER", lock, before, *index, *own, *cons]))
    else:
        lines.append(f": > {lock}")
    if inputs:
        prefetching = wheels_only  # the lock exists: resolved above
        if prefetching:
            # Its own process group (set -m: made when forked, before any kill can come), ended
            # with the install or an early exit: what uv has not read by then it needs no more.
            lines.append("set -m; rg_prefetch > /dev/null 2>&1 & prefetch=$!; set +m")
            lines.append("""trap 'kill -- -"$prefetch" 2>/dev/null || true' EXIT""")
        if plan.layered:
            args = ["uv", "pip", "install", "--python", VENV_PYTHON, *index, *no_build, "-r", lock]
            lines.append("echo '[repograder] installing the differences to the shared layer'")
        else:
            args = ["uv", "pip", "install", "--python", VENV_PYTHON, *index, *no_build]
            args += [*inputs, *cons]
            lines.append("echo '[repograder] installing:' " + shlex.join(args))
        lines.append(guard + shlex.join(args))
        if prefetching:
            lines.append('kill -- -"$prefetch" 2>/dev/null || true; trap - EXIT')
    else:
        lines.append("echo '[repograder] nothing to install'")
    lines += ["fi", 'if [ "$section" != install ]; then']
    if plan.layered:
        lines.append(shlex.join([*helper, "FINISH", before, lock]))
    else:
        lines.append(shlex.join([*helper, "COMPILE", before]))
    lines.append("echo '[repograder] installed packages:'")
    lines.append(f"uv pip list --python {VENV_PYTHON} 2>/dev/null | tail -n +3 | wc -l")
    lines.append("fi")
    return "\n".join(lines) + "\n"


def _prefetch_function(lock: str, before: str) -> list[str]:
    """``rg_prefetch``: read the uv cache entries of the locked wheels the venv lacks, 16 files
    at a time, while ``uv pip install`` copies them (one file after the other per wheel).

    Only a page-cache warm-up, run by root with :data:`docker.build.ROOT_PATH` (no folder a
    package writes): it changes no file, follows no link inside a wheel, and when it finds
    nothing (another layout than uv's newest ``wheels-v*/<index>/<name>/<version>-<tags>``,
    links to the unpacked wheels) the install only reads as before. Measured on this project's
    2-core VM, the audio layer's 45 wheels (1.4 GB, 32,000 files) after the guest's page cache
    was dropped: the install took 8.3-11.4 s alone and 5.1-6.2 s beside the prefetch; a disk
    read of that cache took 12.7 s with one reader against 3.2 s with 16.
    """
    pins = r"s/^\([A-Za-z0-9._-]*\)==\([^ ;]*\).*/\1 \2/p"
    return [
        "rg_prefetch() {",
        '  bucket=$(ls -d "$UV_CACHE_DIR"/wheels-v* 2>/dev/null | sort -V | tail -n 1)',
        '  [ -n "$bucket" ] || return 0',
        f"  grep -vxF -f {before} {lock} | sed -n {shlex.quote(pins)} |",
        "  while read -r n v; do",
        '    for d in "$bucket"/*/"$n"/"$v"-* "$bucket"/*/*/"$n"/"$v"-*; do',
        '      [ -L "$d" ] && printf \'%s/\\0\' "$d"',
        "    done",
        "  done | xargs -0 -r -I{} find {} -type f -print0 | xargs -0 -r -P 16 -n 64 cat",
        "}",
    ]


def warmup_script(plan: BuildPlan) -> str:
    """The warm-up of a shared layer: ``plan.warmup``'s commands, one after the other, in bash.

    Run as ``nobody`` (``build.WARM_USER``, owner of nothing in the image) while the layer is
    committed, so it can write no venv file the commit could catch half-written: HOME,
    NUMBA_CACHE_DIR, MPLCONFIGDIR's default and TMPDIR lie in the :data:`WARM_HOME` tmpfs and
    Python writes no bytecode (it could still write /tmp or /var/tmp). A failing command only
    costs speed later: it is reported and the layer is kept. What HOME holds afterwards is the warm
    home every session starts with (``docker.warmup.warm_home``).
    """
    tmp = f"{WARM_HOME}/.repograder-tmp"
    lines = [
        f"export HOME={WARM_HOME} NUMBA_CACHE_DIR={NUMBA_CACHE} MPLBACKEND=Agg",
        f"export PYTHONDONTWRITEBYTECODE=1 TMPDIR={tmp}",
        f"mkdir -p {WARM_HOME}/.cache {tmp} && cd {tmp} || exit 1",
    ]
    for command in plan.warmup:
        lines.append("echo '[repograder] warm-up:' " + shlex.quote(command))
        lines.append(
            f"bash -c {shlex.quote(command)} "
            "|| echo '[repograder] the warm-up command failed (the layer is kept)'"
        )
    lines.append(f"cd / && rm -rf {tmp}")
    return "\n".join(lines) + "\n"


def context_tar(plan: BuildPlan, host: HostSettings) -> bytes:
    """The tar of the build folder: dependency files, rendered requirements, install script."""
    buf = io.BytesIO()
    req_rel = f"repo/{_rendered_requirements(plan.requirements_dir)}"
    entries: list[tuple[str, bytes, int]] = [
        ("install.sh", install_script(plan, host).encode(), 0o755),
        (WHEELS_SCRIPT, install_script(plan, host, wheels_only=True).encode(), 0o755),
        ("layer.py", _LAYER_HELPER.encode(), 0o644),
        (req_rel, ("\n".join(plan.requirements) + "\n").encode(), 0o644),
        ("build-requirements.txt", ("\n".join(plan.build_requires) + "\n").encode(), 0o644),
        ("constraints.txt", ("\n".join(plan.constraints) + "\n").encode(), 0o644),
    ]
    entries += [(f"repo/{rel}", data, 0o644) for rel, data in plan.files]
    with tarfile.open(fileobj=buf, mode="w") as tar:
        folders: set[str] = set()
        for name, data, mode in entries:
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                folder = "/".join(parts[:i])
                if folder not in folders:
                    folders.add(folder)
                    info = tarfile.TarInfo(folder)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# The decisive lines of a failed install, most specific first.
_DECISIVE = (
    (
        re.compile(r"Because (\S+) was not found in the package registry"),
        "{0} was not found in the package registry",
    ),
    (
        re.compile(r"Because there (?:is|are) no versions? of (\S+?)(?:\[.*?\])?(?: and|,| \(|$)"),
        "no version of {0} matches",
    ),
    (
        re.compile(
            r"Because (\S+) has no (?:usable )?wheels with a matching "
            r"(Python ABI tag|Python version tag|platform tag)"
        ),
        "{0} has no wheel for the grader's Python and platform (no matching {1})",
    ),
    (
        re.compile(r"No matching distribution found for (\S+)"),
        "no matching distribution found for {0}",
    ),
    (
        re.compile(r"Could not find a version that satisfies the requirement (\S+)"),
        "no version satisfies {0}",
    ),
    (re.compile(r"Failed to build `([^`]+)`"), "failed to build {0}"),
    (re.compile(r"Failed to (?:download|fetch)[^`]*`([^`]+)`"), "failed to download {0}"),
    (re.compile(r"E: Unable to locate package (\S+)"), "apt package {0} not found"),
)


def summarize_log(text: str, *, max_lines: int = 40) -> tuple[str, str]:
    """(one-line summary, excerpt) of a failed build log: the error that decided it."""
    lines = text.splitlines()
    anchor = None
    for index, line in enumerate(lines):
        if re.search(r"No solution found when resolving|error:|ERROR:|^E: |× ", line):
            anchor = index
            break
    summary = ""
    for pattern, template in _DECISIVE:
        match = pattern.search(text)
        if match:
            summary = template.format(*(g.strip("`'\",") for g in match.groups()))
            break
    if "No solution found when resolving" in text:
        summary = "dependency resolution failed: " + (summary or "no solution")
    elif not summary and anchor is not None:
        summary = lines[anchor].strip().lstrip("×").strip()[:300]
    if not summary:
        tail = [line.strip() for line in lines if line.strip()]
        summary = tail[-1][:300] if tail else "the build failed without output"
    if anchor is None:
        excerpt_lines = lines[-max_lines:]
    else:
        excerpt_lines = lines[max(0, anchor - 3) : anchor + max_lines]
    return summary, "\n".join(excerpt_lines)


def checkout_tar(checkout: Path, out: IO[bytes], max_bytes: int) -> list[str]:
    """Write a tar of the checkout to ``out``: no symlink followed, no special files, capped.

    Symlinks are archived as links (inside the container they point at the container's files,
    never the host's); fifos and devices are skipped; files are owned by uid 1000 and lose
    set-uid bits. Returns notes about skipped content.
    """
    notes: list[str] = []
    total = 0
    skipped = 0
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, st in _walk_all(checkout):
            info = tarfile.TarInfo(rel)
            info.mtime = int(st.st_mtime)
            info.uid = info.gid = 1000
            info.mode = stat.S_IMODE(st.st_mode) & 0o755 | 0o600
            path = checkout / rel
            if stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
                info.mode |= 0o700
                tar.addfile(info)
            elif stat.S_ISLNK(st.st_mode):
                info.type = tarfile.SYMTYPE
                try:
                    info.linkname = os.readlink(path)
                except OSError:
                    continue
                tar.addfile(info)
            elif stat.S_ISREG(st.st_mode):
                if total + st.st_size > max_bytes:
                    skipped += 1
                    continue
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
                except OSError:
                    continue
                with os.fdopen(fd, "rb") as handle:
                    real = os.fstat(handle.fileno())
                    if not stat.S_ISREG(real.st_mode):
                        continue
                    info.size = real.st_size
                    tar.addfile(info, _Exact(handle, real.st_size))
                total += real.st_size
            # fifos, sockets and devices are never copied
    if skipped:
        notes.append(
            f"{skipped} files not copied: the checkout copy is limited to {max_bytes >> 20} MB"
        )
    return notes


class _Exact(io.RawIOBase):
    """A file truncated/padded to exactly ``size`` bytes (it may change while being read)."""

    def __init__(self, handle: IO[bytes], size: int) -> None:
        self._handle = handle
        self._left = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if n < 0 else min(n, self._left)
        data = self._handle.read(want) or b""
        if len(data) < want:
            data += b"\0" * (want - len(data))
        self._left -= len(data)
        return data


def _walk_all(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every entry below ``root`` (dirs first), never descending into a symlink."""
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = sorted(os.scandir(root / rel_dir), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            yield rel, st
            if stat.S_ISDIR(st.st_mode):
                stack.append(rel)
