"""Environment detection: repository -> EnvSpec.

An ordered list of detectors; the first match wins and says why. No code is executed: setup.py
is read with ``ast``, everything else is parsed as data. Bad student files become warnings.
"""

from __future__ import annotations

import ast
import configparser
import dataclasses
import functools
import json
import os
import posixpath
import re
import stat
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from repograder import fsutil, model, textio
from repograder.envparse import (
    choose_python,
    parse_include,
    poetry_constraint_to_pip,
    sanitize_requirement,
    split_logical_lines,
    translate_conda,
)
from repograder.facts import (  # re-exported: their old home
    EnvChange as EnvChange,
)
from repograder.facts import (
    EnvKind as EnvKind,
)
from repograder.facts import (
    EnvSpec as EnvSpec,
)

__all__ = [
    "EnvChange",
    "EnvKind",
    "EnvSpec",
    "choose_python",
    "detect_env",
    "evaluate_env_file",
    "spec_to_json",
    "translate_conda",
]

MAX_ENV_FILE_BYTES = 1_000_000
# Lock files list every file of every locked version with its hash: a uv.lock or poetry.lock
# of an ML project with torch runs to a few MB (real ones seen: 0.06-2.4 MB), so they get a cap
# of their own; tomllib/json parse 16 MB in about a second.
MAX_LOCK_FILE_BYTES = 16_000_000
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

    def add_file(self, rel: str) -> None:
        if rel not in self.files:
            self.files.append(rel)


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
    """Repo-relative path of an include, or None when it leaves the repo or is a URL."""
    if re.match(r"^[a-z][a-z0-9+.-]*://", target, re.IGNORECASE) or target.startswith(("/", "~")):
        return None
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
        result = sanitize_requirement(line)
        if result.install_project:
            acc.install_project = True
        if result.dropped:
            acc.dropped.append(f"{rel}:{number}: {result.dropped}")
        if result.warning:
            acc.warnings.append(f"{rel}:{number}: {result.warning}")
        if result.line:
            target_list = acc.constraints if constraint else acc.requirements
            if result.line not in target_list:
                target_list.append(result.line)


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
    )


# --- conda ----------------------------------------------------------------------------------------

CONDA_NAMES = (
    "environment.yml",
    "environment.yaml",
    "env.yml",
    "env.yaml",
    "conda.yml",
    "conda.yaml",
)
CONDA_FOLDERS = ("environment", "environments", "env", "envs", "conda", "binder", ".binder")

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


def _conda_doc(text: str) -> dict[str, Any] | None:
    """The parsed document when it is a conda environment (a ``dependencies:`` list)."""
    if not re.search(r"^dependencies\s*:", text, re.MULTILINE):
        return None
    try:
        doc = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError):
        return None
    if isinstance(doc, dict) and isinstance(doc.get("dependencies"), list):
        return doc
    return None


def _is_export(doc: dict[str, Any]) -> bool:
    """A `conda env export` of one machine: a prefix, or build strings (name=version=build)."""
    if "prefix" in doc:
        return True
    deps = [d for d in doc.get("dependencies", [])[:200] if isinstance(d, str)]
    return sum(1 for d in deps if d.count("=") >= 2 and "==" not in d) >= 3


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


def _conda_rank(rel: str, doc: dict[str, Any]) -> tuple[tuple[int, ...], list[str]]:
    """(sort key, reasons) of one conda file: its name, then whether it is one machine's export."""
    (aux, gpu, osx, not_portable), why = _name_rank(rel)
    export = _is_export(doc)
    if export:
        why.append("an export of one machine (build strings or a prefix)")
    standard = posixpath.basename(rel).lower() in CONDA_NAMES
    return (aux, gpu, osx, int(export), not_portable, int(not standard)), why


def _conda_files(root: Path, base: str) -> list[tuple[str, dict[str, Any]]]:
    """Every YAML file that is a conda environment, in ``base`` and its usual env folders."""
    found: list[tuple[str, dict[str, Any]]] = []
    folders = [base] + [
        _join(base, f)
        for f in CONDA_FOLDERS
        if _is_dir(root, _join(base, f)) and not fsutil.is_virtualenv(root / _join(base, f))
    ]
    for folder in folders:
        names = [
            n
            for n in _listdir(root, folder)
            if n.lower().endswith((".yml", ".yaml")) and _is_file(root, _join(folder, n))
        ]
        for name in names[:50]:
            rel = _join(folder, name)
            text = _read(root, rel)
            doc = _conda_doc(text) if text is not None else None
            if doc is not None:
                found.append((rel, doc))
    return found


def _conda_choice(root: Path, base: str) -> tuple[str, str] | None:
    """(path, note on the choice) of the conda file to build, or None."""
    for name in CONDA_NAMES:
        if _is_file(root, _join(base, name)):
            return _join(base, name), ""
    files = _conda_files(root, base)
    if not files:
        # A standard name that does not parse is still the environment file (its error is data).
        for folder in CONDA_FOLDERS:
            for name in CONDA_NAMES:
                rel = _join(_join(base, folder), name)
                if _is_file(root, rel):
                    return rel, ""
        return None
    ranked = sorted(files, key=lambda item: (_conda_rank(*item)[0], item[0]))
    chosen, doc = ranked[0]
    if len(ranked) == 1:
        return chosen, ""
    _, why = _conda_rank(chosen, doc)
    others = []
    for rel, other in ranked[1:4]:
        _, other_why = _conda_rank(rel, other)
        others.append(f"{rel}" + (f" ({', '.join(other_why)})" if other_why else ""))
    because = f" ({', '.join(why)})" if why else ""
    return chosen, f"; chosen{because} over {'; '.join(others)}"


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (``*name``) in student YAML.

    Aliases let a few hundred bytes expand into gigabytes ("billion laughs": nine levels of
    ten aliases each are 10^9 entries once anything walks the tree). Without them, the parsed
    document is never larger than its text, which ``_read`` caps. Environment files have no
    need for them.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in student files", event.start_mark
            )
        return super().compose_node(parent, index)


def load_student_yaml(text: str) -> Any:
    """Parse untrusted YAML: safe types only, no aliases (``yaml.YAMLError`` otherwise).

    Deep nesting raises RecursionError, which callers treat as invalid YAML.
    """
    return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass


def _yaml_error(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)


def _detect_conda(root: Path, base: str) -> EnvSpec | None:
    choice = _conda_choice(root, base)
    if choice is None:
        return None
    rel, note = choice
    return _conda_spec(root, rel, f"{posixpath.basename(rel)} (conda) {_where(rel)}{note}")


def _conda_spec(root: Path, rel: str, reason: str) -> EnvSpec:
    text = _read(root, rel) or ""
    try:
        doc = load_student_yaml(text)
    except yaml.YAMLError as exc:
        spec = _unparseable(EnvKind.CONDA, rel, reason, f"{rel}: invalid YAML: {_yaml_error(exc)}")
        return replace(spec, conda_strategy="translated")
    except (RecursionError, ValueError) as exc:  # deeply nested or odd scalars
        spec = _unparseable(EnvKind.CONDA, rel, reason, f"{rel}: invalid YAML: {exc}")
        return replace(spec, conda_strategy="translated")
    translation = translate_conda(doc)
    acc = _Acc(files=[rel])
    acc.requirements.extend(translation.requirements)
    acc.dropped.extend(f"{rel}: {d}" for d in translation.dropped)
    acc.warnings.extend(f"{rel}: {w}" for w in translation.warnings)
    for line in translation.pip_lines:
        include = parse_include(line)
        if include is not None:
            resolved = _resolve_in_repo(rel, include[1])
            if resolved is None or not _is_file(root, resolved):
                acc.dropped.append(f"{rel}: pip {line}: included file missing or outside the repo")
            else:
                _read_requirements(root, resolved, acc, constraint=include[0] == "c")
            continue
        result = sanitize_requirement(line)
        acc.install_project = acc.install_project or result.install_project
        if result.dropped:
            acc.dropped.append(f"{rel}: pip: {result.dropped}")
        if result.warning:
            acc.warnings.append(f"{rel}: pip: {result.warning}")
        if result.line and result.line not in acc.requirements:
            acc.requirements.append(result.line)
    parse_error = None if isinstance(doc, dict) else f"{rel}: not a conda environment mapping"
    return EnvSpec(
        kind=EnvKind.CONDA,
        path=rel,
        reason=reason,
        files=tuple(acc.files),
        requirements=tuple(acc.requirements),
        constraints=tuple(acc.constraints),
        apt_packages=translation.apt_packages,
        install_project=acc.install_project,
        python_version=translation.python_version,
        python_source=f"python= in {rel}" if translation.python_version else None,
        conda_strategy="translated",
        dropped=tuple(acc.dropped),
        warnings=tuple(acc.warnings),
        parse_error=parse_error,
    )


# --- pyproject.toml -------------------------------------------------------------------------------

_DEFAULT_BUILD = ("setuptools>=61", "wheel")


def _unparseable(kind: EnvKind, rel: str, reason: str, error: str) -> EnvSpec:
    """The spec of an environment file that exists but cannot be parsed: the error is data."""
    return EnvSpec(
        kind=kind, path=rel, reason=reason, files=(rel,), warnings=(error,), parse_error=error
    )


def _load_toml(root: Path, rel: str) -> tuple[dict[str, Any] | None, str | None]:
    text = _read(root, rel)
    if text is None:
        return None, f"{rel}: cannot be read"
    try:
        return tomllib.loads(text), None
    except (tomllib.TOMLDecodeError, RecursionError, ValueError) as exc:
        return None, f"{rel}: invalid TOML: {exc}"


def _table(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str_list(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _dict_dependency(name: str, spec: dict[str, Any], where: str, acc: _Acc) -> str | None:
    """A poetry/Pipfile table dependency -> pip line (None when dropped)."""
    if spec.get("optional") is True:
        acc.dropped.append(f"{where}: {name}: optional dependency (an extra) not installed")
        return None
    if "path" in spec:
        acc.dropped.append(f"{where}: {name}: local path dependency {spec['path']!r} not installed")
        return None
    extras = _str_list(spec.get("extras"))
    extra_text = f"[{','.join(extras)}]" if extras else ""
    markers = spec.get("markers")
    marker_text = f"; {markers}" if isinstance(markers, str) and markers.strip() else ""
    if isinstance(spec.get("git"), str):
        ref = next(
            (spec[k] for k in ("rev", "tag", "branch", "ref") if isinstance(spec.get(k), str)), ""
        )
        url = f"git+{spec['git']}" + (f"@{ref}" if ref else "")
        acc.warnings.append(f"{where}: {name}: git dependency {url!r} is fetched at build time")
        return f"{name}{extra_text} @ {url}{marker_text}"
    if isinstance(spec.get("url"), str):
        return f"{name}{extra_text} @ {spec['url']}{marker_text}"
    version = spec.get("version", "*")
    pip_spec, warning = poetry_constraint_to_pip(str(version))
    if warning:
        acc.warnings.append(f"{where}: {name}: {warning}")
    return f"{name}{extra_text}{pip_spec}{marker_text}"


def _add_line(acc: _Acc, line: str, where: str) -> None:
    """One dependency of a structured file (pyproject, setup.py/cfg, Pipfile, a lock file).

    Such lists hold PEP 508 strings, never pip options: ``-r /etc/passwd`` there would pass the
    include checks that only a requirements file's own lines get (:func:`_read_requirements`).
    """
    if line.lstrip().startswith("-"):
        acc.dropped.append(f"{where}: {line.strip()!r}: a pip option, not a package")
        return
    result = sanitize_requirement(line)
    acc.install_project = acc.install_project or result.install_project
    if result.dropped:
        acc.dropped.append(f"{where}: {result.dropped}")
    if result.warning:
        acc.warnings.append(f"{where}: {result.warning}")
    if result.line and result.line not in acc.requirements:
        acc.requirements.append(result.line)


def _detect_pyproject(root: Path, base: str) -> EnvSpec | None:
    rel = _join(base, "pyproject.toml")
    if not _is_file(root, rel):
        return None
    reason = f"pyproject.toml {_where(rel)}"
    doc, error = _load_toml(root, rel)
    if doc is None:
        return _unparseable(EnvKind.PYPROJECT, rel, reason, error or f"{rel}: cannot be read")
    project = _table(doc.get("project"))
    poetry = _table(_table(doc.get("tool")).get("poetry"))
    build_system = doc.get("build-system")
    acc = _Acc(files=[rel])
    python: str | None = None
    scripts: list[str] = []
    has_deps = False
    if project:
        deps = project.get("dependencies")
        has_deps = isinstance(deps, list)
        for dep in _str_list(deps)[:5000]:
            _add_line(acc, dep, rel)
        if isinstance(project.get("requires-python"), str):
            python = project["requires-python"].strip()
        scripts.extend(k for k in _table(project.get("scripts")) if isinstance(k, str))
        scripts.extend(k for k in _table(project.get("gui-scripts")) if isinstance(k, str))
        if "dependencies" in _str_list(project.get("dynamic")):
            dynamic = _table(_table(_table(doc.get("tool")).get("setuptools")).get("dynamic"))
            files = _table(dynamic.get("dependencies")).get("file")
            for target in [files] if isinstance(files, str) else _str_list(files):
                resolved = _resolve_in_repo(rel, target)
                if resolved and _is_file(root, resolved):
                    has_deps = True
                    _read_requirements(root, resolved, acc)
    if poetry:
        poetry_deps = _table(poetry.get("dependencies"))
        has_deps = has_deps or bool(poetry_deps)
        for name, value in list(poetry_deps.items())[:5000]:
            if name.lower() == "python":
                if isinstance(value, str):
                    spec, _ = poetry_constraint_to_pip(value)
                    python = python or spec or None
                continue
            if isinstance(value, list):
                acc.warnings.append(f"{rel}: {name}: several constraints; the first is used")
                value = value[0] if value else "*"
            if isinstance(value, str):
                pip_spec, warning = poetry_constraint_to_pip(value)
                if warning:
                    acc.warnings.append(f"{rel}: {name}: {warning}")
                _add_line(acc, f"{name}{pip_spec}", rel)
            elif isinstance(value, dict):
                line = _dict_dependency(name, value, rel, acc)
                if line:
                    _add_line(acc, line, rel)
        scripts.extend(k for k in _table(poetry.get("scripts")) if isinstance(k, str))
    project_name = project.get("name") or poetry.get("name")
    installable = isinstance(project_name, str) and (isinstance(build_system, dict) or bool(poetry))
    if not has_deps and not installable:
        return None  # tools-only configuration (ruff, black, pytest): not an environment file
    requires = _str_list(_table(build_system).get("requires"))
    if isinstance(build_system, dict):
        build = tuple(requires)
    elif poetry:
        build = ("poetry-core>=1.0",)
    else:
        build = _DEFAULT_BUILD
    return EnvSpec(
        kind=EnvKind.PYPROJECT,
        path=rel,
        reason=reason + (f" (project {project_name!r})" if isinstance(project_name, str) else ""),
        files=tuple(acc.files),
        requirements=tuple(acc.requirements),
        constraints=tuple(acc.constraints),
        build_requires=build,
        install_project=installable or acc.install_project,
        python_version=python,
        python_source=f"requires-python in {rel}" if python else None,
        dropped=tuple(acc.dropped),
        warnings=tuple(acc.warnings),
        scripts=tuple(scripts),
    )


# --- setup.py / setup.cfg -------------------------------------------------------------------------


def _setup_call_kwargs(tree: ast.Module) -> dict[str, ast.expr]:
    assigned: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                assigned[target.id] = node.value
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        fname = (
            func.id
            if isinstance(func, ast.Name)
            else func.attr
            if isinstance(func, ast.Attribute)
            else ""
        )
        if fname == "setup":
            kwargs: dict[str, ast.expr] = {}
            for kw in call.keywords:
                if kw.arg is None:
                    continue
                value = kw.value
                if isinstance(value, ast.Name) and value.id in assigned:
                    value = assigned[value.id]
                kwargs[kw.arg] = value
            return kwargs
    return {}


def _literal_strings(node: ast.expr | None) -> list[str] | None:
    if node is None:
        return None
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    if isinstance(value, str):
        return [v for v in value.splitlines() if v.strip()]
    return None


def _detect_setup(root: Path, base: str) -> EnvSpec | None:
    setup_py, setup_cfg = _join(base, "setup.py"), _join(base, "setup.cfg")
    has_py, has_cfg = _is_file(root, setup_py), _is_file(root, setup_cfg)
    if not has_py and not has_cfg:
        return None
    if not has_py:
        cfg_text = _read(root, setup_cfg) or ""
        if "[options]" not in cfg_text and "[metadata]" not in cfg_text:
            return None  # tool configuration only (flake8, pytest)
    acc = _Acc()
    python: str | None = None
    found_static = False
    if has_py:
        acc.add_file(setup_py)
        text = _read(root, setup_py) or ""
        try:
            tree = ast.parse(text, filename=setup_py)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            acc.warnings.append(f"{setup_py}: cannot be parsed ({exc}); pip reads it at build time")
            tree = None
        if tree is not None:
            kwargs = _setup_call_kwargs(tree)
            requires = _literal_strings(kwargs.get("install_requires"))
            if requires is not None:
                found_static = True
                for line in requires[:5000]:
                    _add_line(acc, line, setup_py)
            elif "install_requires" in kwargs:
                acc.warnings.append(
                    f"{setup_py}: install_requires is computed; pip resolves it when installing"
                )
            pyreq = _literal_strings(kwargs.get("python_requires"))
            python = pyreq[0].strip() if pyreq else None
            # setup.py often reads requirements.txt: ship those files into the build as well
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    cand = _resolve_in_repo(setup_py, node.value)
                    if cand and cand.endswith(".txt") and _is_file(root, cand):
                        acc.add_file(cand)
    if has_cfg:
        acc.add_file(setup_cfg)
        parser = configparser.RawConfigParser(strict=False)
        try:
            parser.read_string(_read(root, setup_cfg) or "", source=setup_cfg)
            if not found_static and parser.has_option("options", "install_requires"):
                for line in parser.get("options", "install_requires").splitlines()[:5000]:
                    if line.strip() and not line.strip().startswith("#"):
                        _add_line(acc, line.strip(), setup_cfg)
            if python is None and parser.has_option("options", "python_requires"):
                python = parser.get("options", "python_requires").strip() or None
        except configparser.Error as exc:
            acc.warnings.append(f"{setup_cfg}: invalid: {str(exc).splitlines()[0]}")
    if _is_file(root, _join(base, "pyproject.toml")):
        acc.add_file(_join(base, "pyproject.toml"))
    rel = setup_py if has_py else setup_cfg
    return EnvSpec(
        kind=EnvKind.SETUP_PY,
        path=rel,
        reason=f"{posixpath.basename(rel)} {_where(rel)} (installed as a package)",
        files=tuple(acc.files),
        requirements=tuple(acc.requirements),
        build_requires=_DEFAULT_BUILD,
        install_project=True,
        python_version=python,
        python_source=f"python_requires in {rel}" if python else None,
        dropped=tuple(acc.dropped),
        warnings=tuple(acc.warnings),
    )


# --- Pipfile --------------------------------------------------------------------------------------


def _detect_pipfile(root: Path, base: str) -> EnvSpec | None:
    rel = _join(base, "Pipfile")
    if not _is_file(root, rel):
        return None
    reason = f"Pipfile {_where(rel)}"
    doc, error = _load_toml(root, rel)
    if doc is None:
        return _unparseable(EnvKind.PIPFILE, rel, reason, error or f"{rel}: cannot be read")
    acc = _Acc(files=[rel])
    for name, value in list(_table(doc.get("packages")).items())[:5000]:
        if isinstance(value, str):
            spec = "" if value.strip() == "*" else value.strip()
            _add_line(acc, f"{name}{spec}", rel)
        elif isinstance(value, dict):
            version = value.get("version", "*")
            table = dict(value)
            if isinstance(version, str) and re.match(r"^\s*[<>=!~]", version):
                table["version"] = "*"
                line = _dict_dependency(name, table, rel, acc)
                line = f"{line}{version.strip()}" if line and "@" not in line else line
            else:
                line = _dict_dependency(name, table, rel, acc)
            if line:
                _add_line(acc, line, rel)
    requires = _table(doc.get("requires"))
    python = requires.get("python_version") or requires.get("python_full_version")
    return EnvSpec(
        kind=EnvKind.PIPFILE,
        path=rel,
        reason=reason,
        files=tuple(acc.files),
        requirements=tuple(acc.requirements),
        python_version=str(python) if isinstance(python, str | int | float) else None,
        python_source=f"[requires] in {rel}" if python else None,
        dropped=tuple(acc.dropped),
        warnings=tuple(acc.warnings),
    )


# --- lock files without their project file --------------------------------------------------------

# Lock files whose project file (pyproject.toml, Pipfile) was not committed; the first found wins.
LOCK_FILES = ("poetry.lock", "uv.lock", "pdm.lock", "Pipfile.lock")


# A lock entry's name (PEP 508 "names") and version (PEP 440 characters; Pipfile.lock writes
# "==1.2" or "*"): anything else, e.g. a name "-r /etc/passwd", would become a pip option line
# that the include checks of requirements files never saw.
_LOCKED_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,200}[A-Za-z0-9])?")
_LOCKED_VERSION = re.compile(r"(?:===?|~=|!=|<=|>=|<|>)?[A-Za-z0-9.*+!_-]{0,100}")


def _locked_entry(name: object, version: object) -> bool:
    return (
        isinstance(name, str)
        and isinstance(version, str)
        and bool(_LOCKED_NAME.fullmatch(name))
        and bool(_LOCKED_VERSION.fullmatch(version))
    )


def _locked_packages(name: str, text: str) -> tuple[list[str], list[str], str | None]:
    """(``name==version`` lines of the packages a project needs at run time, entries dropped
    because their name or version is not one, error).

    poetry.lock/pdm.lock/uv.lock: ``[[package]]`` tables; optional (extra) and Poetry 1.x
    ``category = "dev"`` packages, packages outside the run-time group (Poetry 2's ``groups``
    without ``main``, pdm's without ``default``) and uv's entry
    for the project itself are left out; a Poetry ``markers`` string is kept as the line's
    marker. Pipfile.lock: its ``default`` section (``develop`` holds the dev tools).
    """
    lines: list[str] = []
    dropped: list[str] = []
    if name == "Pipfile.lock":
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            return [], [], f"invalid JSON: {exc}"
        for pkg, value in list(_table(_table(doc).get("default")).items())[:5000]:
            fields = _table(value)
            version = fields.get("version")
            version = version if isinstance(version, str) else ""
            if not _locked_entry(pkg, version):
                dropped.append(f"{pkg!r} {version!r}: not a package name and version")
                continue
            marker = fields.get("markers")
            lines.append(
                f"{pkg}{'' if version == '*' else version}"
                + (f"; {marker}" if isinstance(marker, str) and marker else "")
            )
        return lines, dropped, None
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError) as exc:
        return [], [], f"invalid TOML: {exc}"
    packages = doc.get("package")
    for raw in (packages if isinstance(packages, list) else [])[:5000]:
        entry = _table(raw)
        locked, version = entry.get("name"), entry.get("version")
        if not isinstance(locked, str) or not isinstance(version, str):
            continue
        if not _locked_entry(locked, version):
            dropped.append(f"{locked!r} {version!r}: not a package name and version")
            continue
        groups = entry.get("groups")
        source = _table(entry.get("source"))
        if (
            entry.get("optional") is True
            or entry.get("category") == "dev"
            or (isinstance(groups, list) and not {"main", "default"} & set(map(str, groups)))
            or "editable" in source
            or "virtual" in source
        ):
            continue
        marker = entry.get("markers") if isinstance(entry.get("markers"), str) else ""
        lines.append(f"{locked}=={version}" + (f"; {marker}" if marker else ""))
    return lines, dropped, None


def _lock_python(name: str, text: str) -> str | None:
    """The Python version range a lock file records (Poetry, pdm, uv, Pipfile.lock)."""
    try:
        doc = json.loads(text) if name == "Pipfile.lock" else tomllib.loads(text)
    except (ValueError, RecursionError):
        return None
    doc = _table(doc)
    meta = _table(doc.get("metadata"))
    candidates = (
        _table(_table(doc.get("_meta")).get("requires")).get("python_version"),
        meta.get("python-versions"),
        meta.get("requires_python"),
        doc.get("requires-python"),
    )
    return next((c for c in candidates if isinstance(c, str) and c.strip() not in ("", "*")), None)


def _detect_lockfile(root: Path, base: str) -> EnvSpec | None:
    rel = next((_join(base, n) for n in LOCK_FILES if _is_file(root, _join(base, n))), None)
    if rel is None:
        return None
    name = posixpath.basename(rel)
    project = "Pipfile" if name == "Pipfile.lock" else "pyproject.toml"
    state = "declares no dependencies" if _is_file(root, _join(base, project)) else "is missing"
    reason = f"{name} {_where(rel)} (its {project} {state}; the locked versions are used)"
    size = fsutil.file_size(root, rel) or 0
    if size > MAX_LOCK_FILE_BYTES:
        too_big = f"{rel}: too large to read ({size / 1e6:.1f} MB; at most "
        too_big += f"{MAX_LOCK_FILE_BYTES // 1_000_000} MB)"
        return _unparseable(EnvKind.REQUIREMENTS, rel, reason, too_big)
    text = fsutil.read_text(root, rel, MAX_LOCK_FILE_BYTES)
    if text is None:
        return _unparseable(EnvKind.REQUIREMENTS, rel, reason, f"{rel}: cannot be read")
    lines, dropped, error = _locked_packages(name, text)
    if error is not None:
        return _unparseable(EnvKind.REQUIREMENTS, rel, reason, f"{rel}: {error}")
    acc = _Acc(files=[rel])
    acc.dropped += [f"{rel}: {d}" for d in dropped]
    for line in lines:
        _add_line(acc, line, rel)
    python = _lock_python(name, text)
    return EnvSpec(
        kind=EnvKind.REQUIREMENTS,
        path=rel,
        reason=reason,
        files=tuple(acc.files),
        requirements=tuple(acc.requirements),
        python_version=python,
        python_source=f"the Python range recorded in {rel}" if python else None,
        dropped=tuple(acc.dropped),
        warnings=tuple(acc.warnings),
    )


# --- orchestration --------------------------------------------------------------------------------

Detector = Callable[[Path, str], "EnvSpec | None"]
DETECTORS: tuple[Detector, ...] = (
    _detect_requirements,
    _detect_conda,
    _detect_pyproject,
    _detect_setup,
    _detect_pipfile,
    # requirements-cpu.txt & co. only when nothing better exists
    functools.partial(_detect_requirements, variants_ok=True),
    # a lock file whose pyproject.toml / Pipfile was not committed
    _detect_lockfile,
)

_ENV_FILE_RE = re.compile(
    r"^(?:requirements?[\w.-]*\.txt|(?:env|environment|conda)[\w.-]*\.ya?ml|pyproject\.toml"
    r"|setup\.py|setup\.cfg|Pipfile)$",
    re.IGNORECASE,
)


def _python_pin(root: Path) -> tuple[str, str] | None:
    text = _read(root, ".python-version")
    if text:
        for line in text.splitlines():
            match = re.match(r"^\s*(?:python-?|cpython-?)?(\d+\.\d+(?:\.\d+)?)\s*$", line)
            if match:
                return match.group(1), ".python-version"
    text = _read(root, "runtime.txt")
    if text:
        match = re.match(r"^\s*python-(\d+\.\d+(?:\.\d+)?)", text)
        if match:
            return match.group(1), "runtime.txt"
    return None


# Their requirements files are for docs builds or tests, not for running the project.
_NOT_PROJECT_DIRS = frozenset({"docs", "doc", "test", "tests", "examples", "example"})


def _subfolders(root: Path) -> list[str]:
    result = []
    for name in _listdir(root, ""):
        if name.startswith(".") or name.lower() in fsutil.VENDORED_DIRS | _NOT_PROJECT_DIRS:
            continue
        if _is_dir(root, name) and not fsutil.is_virtualenv(root / name):
            result.append(name)
    return result


def _candidates(root: Path, chosen: Iterable[str]) -> tuple[str, ...]:
    skip = set(chosen)
    found = []
    for rel in fsutil.walk_files(root):
        if rel not in skip and _ENV_FILE_RE.match(posixpath.basename(rel)):
            found.append(rel)
            if len(found) >= 100:
                break
    return tuple(found)


def detect_env(root: Path) -> EnvSpec:
    """Find the repository's environment file and describe what to build from it."""
    spec: EnvSpec | None = None
    for base in ["", *_subfolders(root)]:
        for detector in DETECTORS:
            spec = detector(root, base)
            if spec is not None:
                break
        if spec is not None:
            if base:
                spec = _with(spec, reason=f"{spec.reason} (one level below the root)")
            break
    if spec is None:
        spec = EnvSpec(
            kind=EnvKind.NONE,
            path=None,
            reason="no environment file found; a bare Python environment is used",
        )
    if spec.python_version is None:
        pin = _python_pin(root)
        if pin is not None:
            spec = _with(spec, python_version=pin[0], python_source=pin[1])
    spec = _with_encodings(root, spec)
    return _with(spec, candidates=_candidates(root, spec.files), changes=_changes(spec))


def _with_encodings(root: Path, spec: EnvSpec) -> EnvSpec:
    """A warning for every dependency file that was not plain UTF-8 (how it was read)."""
    notes = []
    for rel in spec.files:
        decoded = textio.read(root, rel, MAX_ENV_FILE_BYTES)
        if decoded is not None and decoded.note:
            notes.append(f"{rel}: {_ENCODING_PREFIX}{decoded.note}")
    return _with(spec, warnings=(*notes, *spec.warnings)) if notes else spec


_ENCODING_PREFIX = "encoding: "
# Warnings that say an entry was rewritten (envparse's wording).
_TRANSLATED_RE = re.compile(r"translated to|replaced by|build tag removed")


def _split_entry(text: str) -> tuple[str, str, str]:
    """'file:line: entry: why' (or 'file: pip: entry: why') -> (file, entry, why)."""
    head, _, rest = text.partition(": ")
    file = re.sub(r":\d+$", "", head)
    rest = rest.removeprefix("pip: ")
    entry, _, why = rest.rpartition(": ")
    return file, (entry or rest), (why if entry else "")


def _changes(spec: EnvSpec) -> tuple[EnvChange, ...]:
    """The dropped, translated and re-encoded entries of ``spec`` as table rows."""
    rows: list[EnvChange] = []
    for warning in spec.warnings:
        file, _, rest = warning.partition(": ")
        if rest.startswith(_ENCODING_PREFIX):
            why = f"{file} is {rest.removeprefix(_ENCODING_PREFIX)}"
            rows.append(EnvChange(file, "(whole file)", "re-encoded", why))
        elif _TRANSLATED_RE.search(warning):
            file, entry, why = _split_entry(warning)
            rows.append(EnvChange(file, entry, "translated", why))
    for dropped in spec.dropped:
        file, entry, why = _split_entry(dropped)
        rows.append(EnvChange(file, entry, "dropped", why))
    return tuple(rows)


def change_rows(changes: Iterable[EnvChange]) -> list[model.JSONValue]:
    """Changes as JSON rows (one table in the report: entry, what was done, why)."""
    return [{"file": c.file, "entry": c.entry, "action": c.action, "why": c.why} for c in changes]


def spec_for_file(root: Path, rel: str) -> EnvSpec | None:
    """The spec of one named environment file (as a README's set-up step names it), with its
    encoding notes and changes table; None when it is missing or not an environment file."""
    if not _is_file(root, rel):
        return None
    name = posixpath.basename(rel).lower()
    base = posixpath.dirname(rel)
    spec: EnvSpec | None
    if name == "pipfile":
        spec = _detect_pipfile(root, base)
    elif name == "pyproject.toml":
        spec = _detect_pyproject(root, base)
    elif name in ("setup.py", "setup.cfg"):
        spec = _detect_setup(root, base)
    elif name.endswith((".yml", ".yaml")):
        spec = _conda_spec(root, rel, f"{posixpath.basename(rel)} (conda) {_where(rel)}")
    else:
        spec = _requirements_spec(root, rel)
    if spec is None:
        return None
    spec = _with_encodings(root, spec)
    return _with(spec, changes=_changes(spec))


def changes_of(spec: EnvSpec) -> tuple[EnvChange, ...]:
    """The changes table of ``spec`` from its dropped entries and warnings."""
    return _changes(spec)


def _with(spec: EnvSpec, **changes: Any) -> EnvSpec:
    return dataclasses.replace(spec, **changes)


# --- check, JSON, hash ----------------------------------------------------------------------------

_COURTESY = {EnvKind.SETUP_PY: "setup.py", EnvKind.PIPFILE: "Pipfile"}


def _unpinned(requirements: Iterable[str]) -> list[str]:
    return [r for r in requirements if not r.startswith("-") and not re.search(r"[=<>~@]", r)]


def evaluate_env_file(spec: EnvSpec, params: model.Params) -> model.Verdict:
    """Check ``env-file``: is there a supported environment file in the expected place?"""
    warn_unpinned = params.get_bool("warn_unpinned", False)
    courtesy_fraction = params.get_float("courtesy_fraction", 0.5)
    nested_fraction = params.get_float("nested_fraction", 0.75)
    details = spec_to_json(spec)
    if spec.kind is EnvKind.NONE or spec.path is None:
        return model.Verdict(
            model.Status.FAIL,
            0.0,
            "no environment file found (requirements.txt, environment.yml or pyproject.toml)",
            details,
        )
    count = len(spec.requirements)
    summary = f"{spec.reason} ({count} requirement{'s' if count != 1 else ''})"
    done = [c for c in spec.changes if c.action != "re-encoded"]
    if done:
        names = ", ".join(c.entry for c in done[:3]) + (", …" if len(done) > 3 else "")
        summary += f"; {len(done)} entr{'ies' if len(done) != 1 else 'y'} dropped or translated"
        summary += f" for the Linux sandbox ({names}; see the table)"
    summary += "".join(f"; {c.why}" for c in spec.changes if c.action == "re-encoded")
    if spec.parse_error:
        return model.Verdict(
            model.Status.WARN,
            courtesy_fraction,
            f"{spec.path} cannot be parsed: {spec.parse_error}",
            details,
        )
    if posixpath.basename(spec.path) in LOCK_FILES:
        return model.Verdict(
            model.Status.WARN,
            courtesy_fraction,
            f"{summary}; commit the project file the lock belongs to, with its dependencies, "
            "so that its own install command works",
            details,
        )
    if spec.kind in _COURTESY:
        return model.Verdict(
            model.Status.WARN,
            courtesy_fraction,
            f"{summary}; only {_COURTESY[spec.kind]} was found, prefer requirements.txt, "
            "environment.yml or pyproject.toml",
            details,
        )
    folder = posixpath.dirname(spec.path)
    recognised = {"", "requirements", *CONDA_FOLDERS}
    if folder not in recognised:
        return model.Verdict(
            model.Status.WARN, nested_fraction, f"{summary}; not at the repository root", details
        )
    if warn_unpinned:
        loose = _unpinned(spec.requirements)
        if loose:
            return model.Verdict(
                model.Status.WARN,
                nested_fraction,
                f"{summary}; {len(loose)} without a version: {', '.join(loose[:5])}",
                details,
            )
    return model.Verdict(model.Status.PASS, 1.0, summary, details)


def spec_to_json(spec: EnvSpec) -> model.JSONDict:
    """The spec as JSON for results.json and the report."""
    return {
        "kind": spec.kind.value,
        "path": spec.path,
        "reason": spec.reason,
        "files": list(spec.files),
        "requirements": list(spec.requirements),
        "constraints": list(spec.constraints),
        "apt_packages": list(spec.apt_packages),
        "build_requires": list(spec.build_requires),
        "install_project": spec.install_project,
        "python_version": spec.python_version,
        "python_source": spec.python_source,
        "conda_strategy": spec.conda_strategy,
        "dropped": list(spec.dropped),
        "warnings": list(spec.warnings),
        "candidates": list(spec.candidates),
        "scripts": list(spec.scripts),
        "parse_error": spec.parse_error,
        "changes": change_rows(spec.changes),
    }
