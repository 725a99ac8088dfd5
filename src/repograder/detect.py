"""Environment detection: repository -> EnvSpec.

An ordered list of detectors; the first match wins and says why. No code is executed: setup.py
is read with ``ast``, everything else is parsed as data. Bad student files become warnings.

The detectors live by file kind: :mod:`repograder.detect_files` (shared reads, requirements
files), :mod:`repograder.detect_conda` (conda files), :mod:`repograder.detect_projects`
(pyproject.toml, setup.py/cfg, Pipfile, lock files); this module orders them, adds the
Python pin and the changes table, and gives the JSON form.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from repograder import fsutil, model, textio
from repograder.detect_conda import CONDA_FOLDERS as CONDA_FOLDERS
from repograder.detect_conda import CONDA_NAMES as CONDA_NAMES
from repograder.detect_conda import _conda_spec, _detect_conda
from repograder.detect_conda import load_student_yaml as load_student_yaml
from repograder.detect_files import MAX_ENV_FILE_BYTES as MAX_ENV_FILE_BYTES
from repograder.detect_files import MAX_INCLUDES as MAX_INCLUDES
from repograder.detect_files import (
    _detect_requirements,
    _is_dir,
    _is_file,
    _listdir,
    _read,
    _requirements_spec,
    _where,
    _with,
)
from repograder.detect_projects import LOCK_FILES as LOCK_FILES
from repograder.detect_projects import MAX_LOCK_FILE_BYTES as MAX_LOCK_FILE_BYTES
from repograder.detect_projects import (
    _detect_lockfile,
    _detect_pipfile,
    _detect_pyproject,
    _detect_setup,
)
from repograder.envparse import (
    choose_python,
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
    "spec_to_json",
    "translate_conda",
]


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


# The Python version at the start of a line of .python-version or runtime.txt, as students and
# their tools write it: pyenv's `3.10.12`, `3.11-dev`, `3.13t`, `pypy3.10-7.3.12` and its
# virtualenv form `3.10.12/envs/audio` (pyenv's README, "Choosing the Python version"; several
# lines: the first that names a version wins); Heroku's `python-3.10.12` and the `python3.10`,
# `3.10`, `Python 3.10` that students write there. Names without a Python version
# (`miniconda3-4.7.12`, `system`, an environment name) are none.
_PIN_VERSION_RE = re.compile(r"^\s*(?:c?python|pypy)?[-\s]?(\d+\.\d+(?:\.\d+)?)(?![\d.])", re.I)


def _python_pin(root: Path) -> tuple[str, str] | None:
    for rel in (".python-version", "runtime.txt"):
        for line in (_read(root, rel) or "").splitlines():
            match = _PIN_VERSION_RE.match(line)
            if match:
                return match.group(1), rel
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
    """A warning for every dependency file that was not plain UTF-8 (how it was read); the
    files that are Git LFS pointers (what was parsed is not the student's file)."""
    notes = []
    pointers = []
    for rel in spec.files:
        decoded = textio.read(root, rel, MAX_ENV_FILE_BYTES)
        if decoded is not None and decoded.note:
            notes.append(f"{rel}: {_ENCODING_PREFIX}{decoded.note}")
        if decoded is not None and decoded.lfs_pointer:
            pointers.append(rel)
    if pointers:
        spec = _with(spec, lfs_pointers=tuple(pointers))
    return _with(spec, warnings=(*notes, *spec.warnings)) if notes else spec


_ENCODING_PREFIX = "encoding: "
# Warnings that say an entry was rewritten (envparse's wording).
_TRANSLATED_RE = re.compile(r"translated to|replaced by|build tag removed")


def _split_entry(text: str) -> tuple[str, str, str]:
    """'file:line: entry: why' (or 'file: pip: entry: why') -> (file, entry, why)."""
    head, _, rest = text.partition(": ")
    file = re.sub(r":\d+$", "", head)
    if rest.startswith("pip: ") and ": " in rest[len("pip: ") :]:
        rest = rest[len("pip: ") :]  # a `pip:` section's entry, not the conda package `pip`
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


# --- JSON ----------------------------------------------------------------------------------------


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
        **({"lfs_pointers": list(spec.lfs_pointers)} if spec.lfs_pointers else {}),
    }
