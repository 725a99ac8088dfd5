"""Check ``env-file``: requirements.txt, environment.yml or pyproject.toml is present.

Judged by :func:`repograder.detect.evaluate_env_file` over :class:`~repograder.facts.EnvSpec`.
"""

from __future__ import annotations

from pydantic import StrictBool

from repograder import detect
from repograder.checks import base
from repograder.checks.base import Spot, StrictParams
from repograder.model import CheckResult, GroupResult

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


judge = base.static(lambda ev: ev.env, detect.evaluate_env_file)
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
