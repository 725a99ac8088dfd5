"""Check ``comments``: the source code is well commented (comment and docstring density).

Judged here by :func:`evaluate_comments` over the :class:`~repograder.facts.CommentFacts`
that :mod:`repograder.comments` measures.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator

from repograder import model
from repograder.checks import base
from repograder.checks.base import Spot, StrictParams
from repograder.comments import facts_to_json
from repograder.facts import CommentFacts
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


def evaluate_comments(facts: CommentFacts, params: model.Params) -> model.Verdict:
    """Check ``comments``: is the code commented well enough (density, docstrings)?"""
    min_density = params.get_float("min_density", 0.15)
    warn_density = params.get_float("warn_density", 0.08)
    min_doc_share = params.get_float("min_docstring_share", 0.5)
    details = facts_to_json(facts)
    if not facts.files or facts.code_lines == 0:
        if facts.skipped:
            # Only oversized/generated files: say so instead of "no Python files".
            return model.Verdict.skip(
                f"no measurable code: {facts.skipped[0]}"
                + (f" (+{len(facts.skipped) - 1} more)" if len(facts.skipped) > 1 else ""),
                details,
            )
        return model.Verdict.skip("no Python files or notebooks with code found", details)
    density = facts.density
    summary = (
        f"comment density {density:.2f} ({facts.commentary_lines} comment/docstring lines for "
        f"{facts.code_lines} code lines in {len(facts.files)} files)"
    )
    if facts.functions:
        share = facts.functions_documented / facts.functions
        summary += f"; {share:.0%} of {facts.functions} functions have docstrings"
    else:
        share = 1.0
    if facts.commented_out_lines:
        summary += f"; {facts.commented_out_lines} lines of commented-out code not counted"
    if density >= min_density:
        if share < min_doc_share:
            return model.Verdict(
                model.Status.WARN,
                0.75,
                f"{summary} (at least {min_doc_share:.0%} expected)",
                details,
            )
        return model.Verdict(model.Status.PASS, 1.0, summary, details)
    if density >= warn_density:
        fraction = round(density / min_density, 2) if min_density > 0 else 0.0
        return model.Verdict(
            model.Status.WARN,
            fraction,
            f"{summary}; at least {min_density:.2f} expected",
            details,
        )
    return model.Verdict(
        model.Status.FAIL, 0.0, f"{summary}; at least {min_density:.2f} expected", details
    )


judge = base.static(lambda ev: ev.comments, evaluate_comments)
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
