"""Check ``readme``: a README exists and gives step-by-step instructions.

Judged by :func:`repograder.readme.evaluate_readme` over :class:`~repograder.facts.ReadmeFacts`
(thresholds and their sources are documented there).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictInt

from repograder import readme
from repograder.checks import base
from repograder.checks.base import Spot, StrictParams
from repograder.model import CheckResult, GroupResult

ID = "readme"
TITLE = "README with step-by-step instructions"
STAGE: base.Stage = "static"

GENERIC_FIX = (
    "write a README.md with an installation and a usage section whose commands are in "
    "```bash code blocks, in the order a reader runs them"
)


class Params(StrictParams):
    min_words: Annotated[StrictInt, Field(ge=0)] = 50
    require_install_step: StrictBool = True
    require_run_step: StrictBool = True
    warn_placeholders: StrictBool = True


judge = base.static(lambda ev: ev.readme, readme.evaluate_readme)
error_fix = base.ask_lecturer


def path_in(group: GroupResult) -> str | None:
    """The README's repo-relative path as this check found it (None when unknown)."""
    found = next((c for c in group.checks if c.id == ID), None)
    return base.detail(found.details, "path") if found else None


def fix(check: CheckResult, group: GroupResult) -> str:
    path = base.text(check.details.get("path"))
    if not path:
        return GENERIC_FIX
    raw = check.details.get("missing")
    missing = [m for m in raw if isinstance(m, str)] if isinstance(raw, list) else []
    if not missing:
        return f"{path}: add shell code blocks with the install and run commands"
    fixes = []
    for problem in missing:
        if problem.startswith("no installation step"):
            fixes.append("add the install command (e.g. pip install -r requirements.txt)")
        elif problem.startswith("no command that runs"):
            fixes.append("add the command that runs your code (e.g. python main.py)")
        elif problem.startswith("README is"):
            words = base.integer(check.details.get("words"))
            have = f" (it has {words} words)" if words is not None else ""
            fixes.append(f"explain what the project does and how to use it{have}")
        else:
            fixes.append(problem)
    return f"{path}: " + "; ".join(fixes)


def spots(check: CheckResult, group: GroupResult) -> list[Spot]:
    return base.summary_at(check, path_in(group))
