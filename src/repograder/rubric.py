"""Rubric scoring: evidence + rubric -> CheckResults. Pure: no I/O.

Each check id maps to one check module (``checks.registry.CHECKS``) whose
``judge(Evidence, Params) -> Verdict`` decides. A check whose evidence is missing is skipped
with the reason; a check that crashes is an ``error`` for that check only, never a lost group.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence

from repograder.checks.base import Evidence as Evidence
from repograder.checks.registry import CHECKS
from repograder.config import CheckSpec, Rubric
from repograder.errors import ConfigError
from repograder.model import Applies, CheckResult, Params, Status, Verdict


def evaluate(spec: CheckSpec, evidence: Evidence) -> CheckResult:
    """Run one check; a crash becomes an ``error`` result that names the exception."""
    params = Params(spec.params, where=f"rubric checks[{spec.id}].params")
    try:
        verdict = CHECKS[spec.id].judge(evidence, params)
    except ConfigError:
        raise  # a wrongly typed rubric parameter stops the run: it is the lecturer's to fix
    except Exception as exc:
        last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f" ({last.filename.rsplit('/', 1)[-1]}:{last.lineno})" if last else ""
        verdict = Verdict.error(
            f"the grader failed to evaluate this check: {type(exc).__name__}: {exc}"[:300] + where
        )
    fraction = min(max(verdict.fraction, 0.0), 1.0)
    if verdict.status in (Status.SKIP, Status.ERROR):
        fraction = 0.0
    counted = True
    summary = verdict.summary
    if verdict.applies is Applies.NOT_APPLICABLE:
        fraction = 1.0 if spec.when_absent == "full" else 0.0
        counted = spec.when_absent != "exclude"
        summary += {
            "full": " (not applicable: full points)",
            "zero": " (not applicable: no points)",
            "exclude": " (not applicable: left out of the total)",
        }[spec.when_absent]
    elif verdict.applies is Applies.NOT_RUN:
        counted = False
    return CheckResult(
        id=spec.id,
        title=spec.title,
        status=verdict.status,
        score=round(spec.points * fraction, 2),
        max_score=spec.points,
        summary=summary,
        details=verdict.details,
        required=spec.required,
        applies=verdict.applies,
        counted=counted,
    )


def score(rubric: Rubric, evidence: Evidence) -> tuple[CheckResult, ...]:
    """Evaluate every check of the rubric, in rubric order."""
    return tuple(evaluate(spec, evidence) for spec in rubric.checks)


def total(checks: Sequence[CheckResult]) -> tuple[float, float]:
    """The group's ``(score, max_score)`` from its checks.

    Checks left out of the total (``counted`` False) do not count; the points of those that are
    not applicable are shared out by scaling the counted score up to the rubric's total minus
    the points of checks that were not run. Example: the default rubric (10 points), no
    notebooks (1 point, ``when_absent: exclude``), 9 of 9 counted points -> (10.0, 10.0);
    ``--static`` (4 points not run), 5 of 6 -> (5.0, 6.0).
    """
    not_run = sum(c.max_score for c in checks if c.applies is Applies.NOT_RUN)
    target = sum(c.max_score for c in checks) - not_run
    counted_max = sum(c.max_score for c in checks if c.counted)
    counted_score = sum(c.score for c in checks if c.counted)
    if counted_max <= 0:
        return 0.0, round(target, 2)
    return round(counted_score * target / counted_max, 2), round(target, 2)


def left_out(checks: Sequence[CheckResult]) -> dict[str, list[str]]:
    """Ids of the checks not in the total: ``{"not-applicable": [...], "not-run": [...]}``."""
    out: dict[str, list[str]] = {Applies.NOT_APPLICABLE.value: [], Applies.NOT_RUN.value: []}
    for c in checks:
        if c.applies is not Applies.YES:
            out[c.applies.value].append(c.id)
    return out
