"""Check ``comments``: the source code is well commented (comment and docstring density).

Judged by :func:`repograder.comments.evaluate_comments` over
:class:`~repograder.facts.CommentFacts` (thresholds and their sources are documented there).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator

from repograder import comments
from repograder.checks import base
from repograder.checks.base import Spot, StrictParams
from repograder.model import CheckResult, GroupResult, JSONValue

ID = "comments"
TITLE = "Well-commented source code"
STAGE: base.Stage = "static"

GENERIC_FIX = "explain *why* in comments and give every function a docstring"


class Params(StrictParams):
    min_density: Annotated[base.Number, Field(ge=0)] = 0.15
    warn_density: Annotated[base.Number, Field(ge=0)] = 0.08
    min_docstring_share: base.Fraction = 0.5

    @field_validator("warn_density")
    @classmethod
    def _order(cls, value: float, info: ValidationInfo) -> float:
        return base.not_above("warn_density", value, info, "min_density")


judge = base.static(lambda ev: ev.comments, comments.evaluate_comments)
error_fix = base.ask_lecturer


def _density(row: dict[str, JSONValue]) -> float:
    value = row.get("density")
    return float(value) if isinstance(value, int | float) else 1.0


def fix(check: CheckResult, group: GroupResult) -> str:
    rows = check.details.get("files")
    files = [r for r in (rows if isinstance(rows, list) else []) if isinstance(r, dict)]
    undocumented = sum(
        max(
            (base.integer(r.get("functions")) or 0)
            - (base.integer(r.get("functions_documented")) or 0),
            0,
        )
        for r in files
    )
    worst = min(
        (r for r in files if (base.integer(r.get("code_lines")) or 0) >= 20),
        key=_density,
        default=None,
    )
    parts = []
    if worst is not None:
        parts.append(f"explain *why* in comments, starting with {base.text(worst.get('path'))}")
    if undocumented:
        parts.append(f"give the {undocumented} functions without a docstring one")
    return "; ".join(parts) or GENERIC_FIX


def spots(check: CheckResult, group: GroupResult) -> list[Spot]:
    return base.summary_at(check, None)
