"""Check ``env-file``: requirements.txt, environment.yml or pyproject.toml is present.

Judged here by :func:`evaluate_env_file` over the :class:`~repograder.facts.EnvSpec` that
:mod:`repograder.detect` finds.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

from pydantic import StrictBool

from repograder import model
from repograder.checks import base
from repograder.checks.base import Spot, StrictParams
from repograder.detect import CONDA_FOLDERS, LOCK_FILES, spec_to_json
from repograder.facts import EnvKind, EnvSpec
from repograder.model import CheckResult, GroupResult
from repograder.textio import LFS_NOT_FETCHED

ID = "env-file"
TITLE = "Environment file (requirements.txt, environment.yml or pyproject.toml)"
STAGE: base.Stage = "static"

GENERIC_FIX = (
    "add a requirements.txt (or environment.yml / pyproject.toml) at the repository "
    "root that lists every package your code imports"
)


class Params(StrictParams):
    warn_unpinned: StrictBool = False
    courtesy_fraction: base.Fraction = 0.5
    nested_fraction: base.Fraction = 0.75


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
    if spec.lfs_pointers:
        return model.Verdict.error(
            f"{', '.join(spec.lfs_pointers)} {LFS_NOT_FETCHED}: the grader cannot read the "
            "environment file (a human needs to fetch it)",
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


judge = base.static(lambda ev: ev.env, evaluate_env_file)
error_fix = base.ask_lecturer


def path_in(group: GroupResult) -> str:
    """The environment file this check found (requirements.txt when none was)."""
    for c in group.checks:
        if c.id == ID:
            path = base.text(c.details.get("path"))
            if path:
                return path
    return "requirements.txt"


def fix(check: CheckResult, group: GroupResult) -> str:
    path = base.text(check.details.get("path"))
    if not path:
        return GENERIC_FIX
    if "cannot be parsed" in check.summary:
        return f"fix the syntax of {path} (the report shows where it fails to parse)"
    if "not at the repository root" in check.summary:
        name = path.rsplit("/", 1)[-1]
        return f"move {path} to the repository root (as {name})"
    if "prefer requirements.txt" in check.summary:
        return f"list your packages in a requirements.txt at the root (only {path} was found)"
    return GENERIC_FIX


def spots(check: CheckResult, group: GroupResult) -> list[Spot]:
    return base.summary_at(check, base.detail(check.details, "path"))
