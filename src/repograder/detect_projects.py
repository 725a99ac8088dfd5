"""Project files for :mod:`repograder.detect`: pyproject.toml, setup.py / setup.cfg, Pipfile,
and lock files without their project file.

setup.py is read with ``ast`` (never run); the others are parsed as TOML/INI data. A file that
cannot be parsed becomes a spec with its ``parse_error`` (student failures are data).
"""

from __future__ import annotations

import ast
import configparser
import json
import posixpath
import re
import tomllib
from pathlib import Path
from typing import Any

from repograder import fsutil
from repograder.detect_files import (
    _Acc,
    _is_file,
    _join,
    _read,
    _read_requirements,
    _resolve_in_repo,
    _unparseable,
    _where,
)
from repograder.envparse import (
    poetry_constraint_to_pip,
)
from repograder.facts import (
    EnvKind,
    EnvSpec,
)

# --- pyproject.toml -------------------------------------------------------------------------------

_DEFAULT_BUILD = ("setuptools>=61", "wheel")


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
    marker_text = _dependency_markers(spec)
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


# Pipfile's marker keys (pipenv docs, "Specifying Package Indexes ... and markers": `os_name =
# "== 'nt'"`, `sys_platform = "== 'win32'"`, ...): an operator and a quoted value.
_PIPFILE_MARKER_KEYS = ("sys_platform", "platform_system", "os_name", "platform_machine")
_MARKER_VALUE_RE = re.compile(r"^\s*(?:==|!=)\s*(['\"])[\w.-]+\1\s*$")


def _dependency_markers(spec: dict[str, Any]) -> str:
    """'; <marker>' of a table dependency: its ``markers``, Poetry's ``platform = "darwin"``
    (a ``sys.platform`` value) and Pipfile's marker keys, so that the platform rules of
    :func:`repograder.envparse.sanitize_requirement` see them; '' when it has none."""
    parts: list[str] = []
    markers = spec.get("markers")
    if isinstance(markers, str) and markers.strip():
        parts.append(markers.strip())
    platform = spec.get("platform")
    if isinstance(platform, str) and re.fullmatch(r"[A-Za-z0-9_]+", platform.strip()):
        parts.append(f'sys_platform == "{platform.strip()}"')
    for key in _PIPFILE_MARKER_KEYS:
        value = spec.get(key)
        if isinstance(value, str) and _MARKER_VALUE_RE.match(value):
            parts.append(f"{key} {value.strip()}")
    if len(parts) > 1:
        parts = [f"({part})" for part in parts]
    return f"; {' and '.join(parts)}" if parts else ""


def _add_line(acc: _Acc, line: str, where: str) -> None:
    """One dependency of a structured file (pyproject, setup.py/cfg, Pipfile, a lock file).

    Such lists hold PEP 508 strings, never pip options: ``-r /etc/passwd`` there would pass the
    include checks that only a requirements file's own lines get (:func:`_read_requirements`).
    """
    if line.lstrip().startswith("-"):
        acc.dropped.append(f"{where}: {line.strip()!r}: a pip option, not a package")
        return
    acc.add_requirement(line, where)


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
# Lock files list every file of every locked version with its hash: a uv.lock or poetry.lock
# of an ML project with torch runs to a few MB (real ones seen: 0.06-2.4 MB), so they get a cap
# of their own; tomllib/json parse 16 MB in about a second.
MAX_LOCK_FILE_BYTES = 16_000_000


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
