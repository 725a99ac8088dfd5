"""Conda environment files for :mod:`repograder.detect`: found by content, ranked, translated.

A YAML file is a conda environment when it has ``dependencies`` (any name, the usual folders);
several are ranked (portable over GPU/OS-specific ones, main over dev/test) and the choice says
why. Student YAML is loaded without aliases.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from repograder import fsutil
from repograder.detect_files import (
    _Acc,
    _is_dir,
    _is_file,
    _join,
    _listdir,
    _name_rank,
    _read,
    _read_requirements,
    _resolve_in_repo,
    _unparseable,
    _where,
)
from repograder.envparse import (
    parse_include,
    translate_conda,
)
from repograder.facts import (
    EnvKind,
    EnvSpec,
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
        acc.add_requirement(line, f"{rel}: pip")
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
