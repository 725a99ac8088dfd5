"""The environment a README's set-up sequence installs, from the files (and packages) it names.

Students write set-up as a sequence: ``conda env create -f environment.yml`` (only Python in it)
then ``poetry install``; or ``conda create -n x python=3.10``, ``pip install -r
requirements.txt``, ``pip install -e .``. Detection alone takes the first matching file and
builds half of that. :func:`follow_readme` reads the README's environment steps in order and
combines what each installs into one :class:`~repograder.detect.EnvSpec`; when the README names
no file, package or Python version, the detected spec is kept unchanged. Pure: files are read
through :mod:`repograder.detect` (and so :mod:`repograder.textio`).
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from repograder import detect, readme
from repograder.detect import EnvKind, EnvSpec
from repograder.envparse import sanitize_requirement, translate_conda
from repograder.model import StepResult

__all__ = ["Install", "follow_readme", "follow_readme_steps", "mark_uncovered", "parse_setup"]

_SEPARATORS = frozenset({"&&", "||", ";", "|", "&", ";;"})
# pip options that take a value (the value is not a package)
_PIP_VALUE_OPTIONS = frozenset(
    {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix",
     "--root", "--upgrade-strategy", "--python", "-p", "--platform", "--python-version",
     "--implementation", "--abi", "--src", "--cache-dir", "--log", "--timeout", "--retries",
     "--trusted-host", "--config-settings", "-C", "--global-option", "--install-option",
     "--progress-bar", "--only-binary", "--no-binary", "--index-strategy", "--exclude-newer"}
)  # fmt: skip
_CONDA_VALUE_OPTIONS = frozenset(
    {"-n", "--name", "-p", "--prefix", "-c", "--channel", "--override-channels", "--solver",
     "--repodata-fn", "--platform", "--subdir"}
)  # fmt: skip


@dataclass(frozen=True)
class Install:
    """What one README set-up command installs."""

    command: str  # the simple command as written
    file: str | None = None  # repo-relative environment file it installs from
    project: str | None = None  # repo-relative folder of a project it installs (".": the root)
    packages: tuple[str, ...] = ()  # pip requirements named on the command line
    conda_packages: tuple[str, ...] = ()  # conda specs named on the command line (not python)
    python: str | None = None  # `conda create ... python=3.10`
    interpreter: str | None = None  # `python3.10 -m venv`, `uv venv -p 3.10`: the Python asked for


_WIN_SEPARATOR_RE = re.compile(r"(?<=[\w.])\\(?=[\w.])")


def _words(command: str) -> list[list[str]]:
    """Simple commands of a shell line (``&&``, ``;``, ``|`` split), words unquoted.

    A backslash between two name characters is a Windows path separator (`pip install -r
    req\\dev.txt` in a cmd or PowerShell block), not a shell escape: read as `/`.
    """
    command = _WIN_SEPARATOR_RE.sub("/", command)
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes
        return []
    commands: list[list[str]] = [[]]
    for token in tokens:
        if token in _SEPARATORS:
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def _strip_prefix(words: list[str]) -> list[str]:
    """Drop ``sudo``, ``!``/``%`` (notebook magics) and ``VAR=value`` assignments in front."""
    out = list(words)
    while out and (
        out[0] in ("sudo", "!", "%", "command", "exec")
        or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", out[0])
    ):
        out = out[1:]
    if out and out[0].startswith(("!", "%")) and len(out[0]) > 1:
        out[0] = out[0][1:]
    return out


def _join(cwd: str, target: str) -> str | None:
    if target.startswith(("/", "~", "$")) or re.match(r"^[a-z][a-z0-9+.-]*://", target):
        return None
    if re.match(r"^[A-Za-z]:[\\/]", target):
        return None  # a Windows drive path: outside the repository
    target = target.replace("\\", "/")  # `pip install -r requirements\dev.txt` on Windows
    joined = posixpath.normpath(posixpath.join(cwd or ".", target))
    if joined.startswith(".."):
        return None
    return "" if joined == "." else joined


def _pip_install(command: str, args: list[str], cwd: str) -> list[Install]:
    found: list[Install] = []
    packages: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        value: str | None = None
        if arg in ("-r", "--requirement") and index + 1 < len(args):
            value, index = args[index + 1], index + 2
        elif arg.startswith("--requirement="):
            value, index = arg.split("=", 1)[1], index + 1
        elif arg.startswith("-r") and len(arg) > 2:
            value, index = arg[2:], index + 1
        if value is not None:
            rel = _join(cwd, value)
            if rel is not None:
                found.append(Install(command, file=rel))
            continue
        if arg in ("-e", "--editable") and index + 1 < len(args):
            target, index = args[index + 1], index + 2
            if "://" not in target and not target.startswith(("git+", "hg+", "svn+", "bzr+")):
                rel = _join(cwd, re.sub(r"\[[^\]]*\]$", "", target))
                if rel is not None:
                    found.append(Install(command, project=rel))
            else:
                packages.append(target)
            continue
        if arg in ("-c", "--constraint") or arg in _PIP_VALUE_OPTIONS:
            index += 2
            continue
        index += 1
        if arg.startswith("-"):
            continue
        bare = re.sub(r"\[[^\]]*\]$", "", arg)
        if bare.endswith((".whl", ".tar.gz", ".zip")) and "://" not in bare:
            continue  # a local archive: not in the repository's dependency files
        if bare in (".", "./") or bare.startswith(("./", "../")):
            rel = _join(cwd, bare)
            if rel is not None:
                found.append(Install(command, project=rel))
        elif "/" not in bare or "://" in bare:
            packages.append(arg)
    if packages:
        found.append(Install(command, packages=tuple(packages)))
    return found


def _conda(command: str, args: list[str], cwd: str) -> list[Install]:
    if not args:
        return []
    if args[0] == "env" and len(args) > 1 and args[1] in ("create", "update"):
        rest, default = args[2:], "environment.yml"
    elif args[0] in ("create", "install", "update"):
        rest, default = args[1:], ""
    else:
        return []
    file: str | None = None
    specs: list[str] = []
    index = 0
    while index < len(rest):
        arg = rest[index]
        if arg in ("-f", "--file") and index + 1 < len(rest):
            file, index = rest[index + 1], index + 2
            continue
        if arg.startswith("--file="):
            file, index = arg.split("=", 1)[1], index + 1
            continue
        if arg in _CONDA_VALUE_OPTIONS:
            index += 2
            continue
        index += 1
        if not arg.startswith("-"):
            specs.append(arg)
    found: list[Install] = []
    target = file or default
    if target:
        rel = _join(cwd, target)
        if rel is not None:
            found.append(Install(command, file=rel))
    python = next((s for s in specs if re.match(r"^python(?:[=<>!~ ]|$)", s)), None)
    others = tuple(s for s in specs if s != python)
    if python or others:
        version = re.sub(r"^python\s*=?=?", "", python).strip() if python else ""
        found.append(Install(command, conda_packages=others, python=version or None))
    return found


def parse_setup(commands: Iterable[str], root: Path | None = None) -> list[Install]:
    """What each README set-up command installs, in order (``cd`` inside the repo followed;
    with ``root``, a ``cd`` into a folder the repository does not have is ignored, as after
    ``git clone …``)."""
    found: list[Install] = []
    cwd = ""
    for command in commands:
        for raw in _words(command):
            words = _strip_prefix(raw)
            if not words:
                continue
            head = posixpath.basename(words[0])
            text = " ".join(words)
            if head == "cd" and len(words) > 1:
                moved = _join(cwd, words[1])
                if moved is not None and (root is None or (root / moved).is_dir()):
                    cwd = moved
                continue
            interpreter = _venv_python(head, words)
            if interpreter is not None:
                found.append(Install(text, interpreter=interpreter))
                continue
            if re.match(r"^python(?:3(?:\.\d+)?)?$", head) and words[1:3] == ["-m", "pip"]:
                words, head = words[2:], "pip"
            if head == "uv" and words[1:2] == ["pip"]:
                words, head = words[1:], "pip"
            if re.match(r"^pip(?:3(?:\.\d+)?)?$", head) and words[1:2] == ["install"]:
                found += _pip_install(text, words[2:], cwd)
            elif head in ("conda", "mamba", "micromamba"):
                found += _conda(text, words[1:], cwd)
            elif (head, words[1:2]) in (
                ("poetry", ["install"]),
                ("poetry", ["sync"]),
                ("pdm", ["install"]),
                ("pdm", ["sync"]),
                ("uv", ["sync"]),
            ):
                found.append(Install(text, project=cwd or "", file=_join(cwd, "pyproject.toml")))
            elif head == "pipenv" and words[1:2] in (["install"], ["sync"]):
                named = tuple(w for w in words[2:] if not w.startswith("-"))
                if named and words[1] == "install":
                    found.append(Install(text, packages=named))
                else:
                    found.append(Install(text, file=_join(cwd, "Pipfile")))
    return found


# A Python version in an interpreter's name or a version option: python3.10, cpython-3.10.12,
# /usr/bin/python3.9, 3.11
_VERSION_IN_RE = re.compile(r"(?:^|python|cpython-|[/-])(3\.\d{1,2}(?:\.\d{1,2})?)(?![\d.])")


def _venv_python(head: str, words: list[str]) -> str | None:
    """The Python version a command that makes a virtual environment or installs an interpreter
    asks for: ``python3.10 -m venv``, ``py -3.10 -m venv``, ``uv venv --python 3.10``,
    ``uv python install 3.10``, ``virtualenv -p python3.10``; None for any other command."""
    value: str | None = None
    if words[1:3] in (["-m", "venv"], ["-m", "virtualenv"]) and re.match(r"^python3\.", head):
        value = head
    elif head == "py" and words[2:4] in (["-m", "venv"], ["-m", "virtualenv"]):
        value = words[1]
    elif head == "uv" and words[1:3] in (["python", "install"], ["python", "pin"]):
        value = next((w for w in words[3:] if not w.startswith("-")), None)
    elif (head == "uv" and words[1:2] == ["venv"]) or head == "virtualenv":
        for index, word in enumerate(words):
            if word in ("-p", "--python") and index + 1 < len(words):
                value = words[index + 1]
            elif word.startswith("--python="):
                value = word.split("=", 1)[1]
    match = _VERSION_IN_RE.search(value) if value else None
    return match.group(1) if match else None


def _project_file(root: Path, folder: str) -> str | None:
    for name in ("pyproject.toml", "setup.py", "setup.cfg"):
        rel = posixpath.join(folder, name) if folder else name
        spec = detect.spec_for_file(root, rel)
        if spec is not None and (spec.install_project or name == "pyproject.toml"):
            return rel
    return None


def _key(line: str) -> str:
    match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else line


def _merge(lines: Iterable[str]) -> tuple[str, ...]:
    """Later entries with a version or URL replace earlier ones of the same package, as a later
    ``pip install`` would; a later bare name leaves the earlier pin (pip: already satisfied)."""
    merged: dict[str, str] = {}
    for line in lines:
        key = _key(line)
        if key in merged and not re.search(r"[=<>~!@]", line.split(";", 1)[0]):
            continue
        merged.pop(key, None)
        merged[key] = line
    return tuple(merged.values())


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def follow_readme(root: Path, detected: EnvSpec, commands: Sequence[str]) -> EnvSpec:
    """The environment the README's set-up ``commands`` install, in order; ``detected`` when
    they name nothing beyond it. A named file that cannot be installed is a dropped entry.

    When no file states a Python version, the one the README's virtual environment is made
    with (``python3.10 -m venv .venv``) is the environment's Python.
    """
    installs = parse_setup(commands, root)
    spec = _follow(root, detected, installs)
    asked = next((i for i in installs if i.interpreter), None)
    if asked is not None and spec.python_version is None:
        spec = dataclasses.replace(
            spec, python_version=asked.interpreter, python_source=f"README: {asked.command}"
        )
    return spec


def _follow(root: Path, detected: EnvSpec, installs: Sequence[Install]) -> EnvSpec:
    parts: list[tuple[str, EnvSpec]] = []  # (what the README step did, its spec)
    missing: list[str] = []
    for item in installs:
        if item.file is not None and item.project is None:
            spec = detect.spec_for_file(root, item.file)
            if spec is None:
                missing.append(f"README: {item.command}: {item.file} is not in the repository")
            else:
                parts.append((item.file, spec))
        if item.project is not None:
            rel = _project_file(root, item.project)
            spec = detect.spec_for_file(root, rel) if rel else None
            if rel is None or spec is None:
                where = item.project or "the repository root"
                missing.append(f"README: {item.command}: no pyproject.toml or setup.py in {where}")
            else:
                parts.append((f"the project {rel}", spec))
        if item.packages:
            lines, dropped, warnings = [], [], []
            for package in item.packages:
                result = sanitize_requirement(package)
                if result.line:
                    lines.append(result.line)
                if result.dropped:
                    dropped.append(f"README: {result.dropped}")
                if result.warning:
                    warnings.append(f"README: {result.warning}")
            spec = EnvSpec(
                kind=EnvKind.REQUIREMENTS,
                path=None,
                reason="",
                requirements=tuple(lines),
                dropped=tuple(dropped),
                warnings=tuple(warnings),
            )
            parts.append((f"`{item.command}`", spec))
        if item.conda_packages or item.python:
            translation = translate_conda({"dependencies": list(item.conda_packages)})
            spec = EnvSpec(
                kind=EnvKind.CONDA,
                path=None,
                reason="",
                requirements=translation.requirements,
                apt_packages=translation.apt_packages,
                python_version=item.python,
                python_source=f"README: {item.command}" if item.python else None,
                conda_strategy="translated",
                dropped=tuple(f"README: {d}" for d in translation.dropped),
            )
            parts.append((f"`{item.command}`", spec))
    if not parts:
        if not missing:
            return detected
        # Nothing the README names can be installed: the detected file stays, the reason shows.
        spec = dataclasses.replace(detected, dropped=(*detected.dropped, *missing))
        return dataclasses.replace(spec, changes=detect.changes_of(spec))
    known = {detected.path, *detected.files}
    same = all(
        spec.path in known and (not spec.install_project or detected.install_project)
        for _, spec in parts
    )
    if same and not missing:
        return detected  # the README installs exactly what detection found
    return _combine(detected, parts, missing)


def _combine(detected: EnvSpec, parts: list[tuple[str, EnvSpec]], missing: list[str]) -> EnvSpec:
    """One spec from the README's parts, in order (packages only: on top of ``detected``)."""
    specs = [spec for _, spec in parts]
    with_file = [s for s in specs if s.path]
    primary = with_file[0] if with_file else detected
    python: tuple[str | None, str | None] = next(
        ((s.python_version, s.python_source) for s in specs if s.python_version),
        (detected.python_version, detected.python_source),
    )
    steps = ", then ".join(
        what + ("" if spec.requirements or spec.install_project else " (no packages)")
        for what, spec in parts
    )
    reason = f"the README's set-up installs, in order: {steps}" if parts else detected.reason
    dropped = [*(d for s in specs for d in s.dropped), *missing]
    combined = EnvSpec(
        kind=primary.kind if with_file else (specs[0].kind if specs else detected.kind),
        path=primary.path if with_file else detected.path,
        reason=reason,
        files=_unique(f for s in specs for f in s.files),
        requirements=_merge(r for s in specs for r in s.requirements),
        apt_packages=_unique(a for s in specs for a in s.apt_packages),
        build_requires=_unique(b for s in specs for b in s.build_requires),
        install_project=any(s.install_project for s in specs),
        python_version=python[0],
        python_source=python[1],
        conda_strategy=next((s.conda_strategy for s in specs if s.conda_strategy), None),
        dropped=tuple(dropped),
        warnings=_unique(w for s in specs for w in s.warnings),
        scripts=_unique(x for s in specs for x in s.scripts),
        constraints=_unique(c for s in specs for c in s.constraints),
        parse_error=next((s.parse_error for s in specs if s.parse_error), None),
    )
    if not with_file and detected.path is not None:
        # The README names packages only: they come on top of the detected file.
        combined = dataclasses.replace(
            combined,
            files=_unique((*detected.files, *combined.files)),
            requirements=_merge((*detected.requirements, *combined.requirements)),
            dropped=(*detected.dropped, *combined.dropped),
            warnings=_unique((*detected.warnings, *combined.warnings)),
            install_project=detected.install_project or combined.install_project,
            build_requires=detected.build_requires or combined.build_requires,
        )
    combined = dataclasses.replace(
        combined, candidates=tuple(c for c in detected.candidates if c not in combined.files)
    )
    return dataclasses.replace(combined, changes=detect.changes_of(combined))


def follow_readme_steps(root: Path, detected: EnvSpec, steps: Sequence[readme.Step]) -> EnvSpec:
    """:func:`follow_readme` over the README steps classified as environment set-up."""
    commands = [s.command for s in steps if s.kind == readme.StepKind.ENV]
    return follow_readme(root, detected, commands) if commands else detected


def mark_uncovered(steps: Sequence[StepResult], env: EnvSpec) -> tuple[StepResult, ...]:
    """Set-up steps the build did not do (a named file is missing, a package was dropped) lose
    their "covered by the environment build" reason and say why instead."""
    result = []
    for step in steps:
        if step.kind != str(readme.StepKind.ENV):
            result.append(step)
            continue
        simple = [" ".join(_strip_prefix(w)) for w in _words(step.command)]
        why = [
            d.split(": ", 2)[2]
            for d in env.dropped
            if d.startswith("README: ") and any(d.startswith(f"README: {s}: ") for s in simple)
        ]
        if why:
            reason = "not covered by the environment build: " + "; ".join(why)
            step = dataclasses.replace(step, reason=reason)
        result.append(step)
    return tuple(result)
