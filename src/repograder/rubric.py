"""Rubric scoring: evidence + rubric -> CheckResults. Pure: no I/O.

Each check id maps to one function ``(Evidence, Params) -> Verdict``; the module that gathers
the evidence owns the judgement (readme.evaluate_readme, paper.evaluate_pages, ...). A check
whose evidence is missing is skipped with the reason; a check that crashes is an ``error``
for that check only, never a lost group.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from repograder import comments, detect, notebooks, paper, readme, runner
from repograder.config import CheckSpec, Rubric
from repograder.errors import ConfigError
from repograder.model import (
    Applies,
    Checkout,
    CheckResult,
    JSONDict,
    JSONValue,
    Params,
    Status,
    StepResult,
    Verdict,
)
from repograder.facts import BuildResult

T = TypeVar("T")


@dataclass(frozen=True)
class Evidence:
    """Everything the checks judge. ``None`` means the stage did not run (with ``why``)."""

    checkout: Checkout
    readme: readme.ReadmeFacts | None = None
    env: detect.EnvSpec | None = None
    comments: comments.CommentFacts | None = None
    paper: paper.PaperFacts | None = None
    build: BuildResult | None = None
    steps: tuple[StepResult, ...] | None = None
    notebooks: notebooks.NotebookReport | None = None
    not_run_reason: str = "not run"  # why build/run evidence is missing (e.g. --static)
    project_install: str | None = None  # why the project's own install failed in the session
    # True when the grader chose not to build or run (--static, no sandbox): those checks are
    # "not run", never 0 points that look final. False: a failed prerequisite (the build).
    grader_skipped_run: bool = False


def _missing_run(ev: Evidence) -> Verdict:
    if ev.grader_skipped_run:
        return Verdict.not_run(ev.not_run_reason)
    return Verdict.skip(ev.not_run_reason)


def _env_build(ev: Evidence, params: Params) -> Verdict:
    build = ev.build
    if build is None:
        return _missing_run(ev)
    details: JSONDict = {
        "backend": build.backend,
        "image": build.image,
        "reused": build.reused,
        "duration_s": round(build.duration_s, 1),
        "python": build.python_version,
        "notes": list(build.notes),
    }
    if ev.env is not None:
        details["env_file"] = ev.env.path
        details["dropped"] = list(ev.env.dropped)
    changes = _change_rows(ev.env, build)
    if changes:
        details["changes"] = changes
    if build.log_excerpt:
        details["log_excerpt"] = build.log_excerpt
    if build.ok:
        what = ev.env.path if ev.env is not None and ev.env.path else "a bare environment"
        how = (
            "reused a cached environment" if build.reused else f"built in {build.duration_s:.0f} s"
        )
        problems: list[str] = []
        fraction = 1.0
        if build.relaxed:
            # issue 13: one pin without a distribution costs a warning, not the group's run
            problems.append(build.summary)
            fraction = min(fraction, params.get_float("relaxed_fraction", 0.5))
        if ev.project_install:
            # issue 13: the dependencies built, the project itself did not install
            details["project_install"] = ev.project_install
            problems.append(f"but {ev.project_install}")
            fraction = min(fraction, params.get_float("project_install_fraction", 0.5))
        if problems:
            summary = f"environment from {what}: {how}; " + "; ".join(problems)
            return Verdict(Status.WARN, fraction, summary, details)
        status = (
            Status.WARN if build.notes and params.get_bool("warn_on_notes", False) else Status.PASS
        )
        return Verdict(status, 1.0, f"environment from {what}: {how}", details)
    return Verdict(Status.FAIL, 0.0, build.summary or "the environment did not build", details)


def _change_rows(env: detect.EnvSpec | None, build: BuildResult) -> list[JSONValue]:
    """One table of what was done to the student's entries: dropped, translated, re-encoded
    (detection) and relaxed (the build's second attempt)."""
    rows = detect.change_rows(env.changes) if env is not None else []
    where = env.path if env is not None and env.path else ""
    for item in build.relaxed:
        entry, _, rest = item.partition(" → ")
        version, _, why = rest.partition(" (")
        rows.append(
            {
                "file": where,
                "entry": entry,
                "action": "relaxed",
                "why": f"{why.removesuffix(')')}; built with {version} instead",
            }
        )
    return rows


def _static(
    facts: Callable[[Evidence], T | None], judge: Callable[[T, Params], Verdict]
) -> Callable[[Evidence, Params], Verdict]:
    """A check on static facts; missing facts mean the grader failed to gather them."""

    def check(ev: Evidence, params: Params) -> Verdict:
        found = facts(ev)
        if found is None:
            return Verdict.error("the grader could not inspect this (see grader problems)")
        return judge(found, params)

    return check


def _executed(
    facts: Callable[[Evidence], T | None], judge: Callable[[T, Params], Verdict]
) -> Callable[[Evidence, Params], Verdict]:
    """A check on what ran in the sandbox; skipped with the reason when nothing ran."""

    def check(ev: Evidence, params: Params) -> Verdict:
        found = facts(ev)
        return _missing_run(ev) if found is None else judge(found, params)

    return check


CHECKS: Mapping[str, Callable[[Evidence, Params], Verdict]] = {
    "readme": _static(lambda ev: ev.readme, readme.evaluate_readme),
    "env-file": _static(lambda ev: ev.env, detect.evaluate_env_file),
    "env-build": _env_build,
    "readme-steps": _executed(lambda ev: ev.steps, runner.evaluate_steps),
    "notebooks": _executed(lambda ev: ev.notebooks, notebooks.evaluate_notebooks),
    "comments": _static(lambda ev: ev.comments, comments.evaluate_comments),
    "paper-pages": _static(lambda ev: ev.paper, paper.evaluate_pages),
    "paper-format": _static(lambda ev: ev.paper, paper.evaluate_format),
}


def evaluate(spec: CheckSpec, evidence: Evidence) -> CheckResult:
    """Run one check; a crash becomes an ``error`` result that names the exception."""
    params = Params(spec.params, where=f"rubric checks[{spec.id}].params")
    try:
        verdict = CHECKS[spec.id](evidence, params)
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
