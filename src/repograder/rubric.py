"""Rubric scoring: evidence + rubric -> CheckResults. Pure: no I/O.

Each check id maps to one function ``(Evidence, Params) -> Verdict``; the module that gathers
the evidence owns the judgement (readme.evaluate_readme, paper.evaluate_pages, ...). A check
whose evidence is missing is skipped with the reason; a check that crashes is an ``error``
for that check only, never a lost group.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from repograder import comments, detect, notebooks, paper, readme, runner
from repograder.config import CheckSpec, Rubric
from repograder.errors import ConfigError
from repograder.model import (
    Checkout,
    CheckResult,
    JSONDict,
    JSONValue,
    Params,
    Status,
    StepResult,
    Verdict,
)
from repograder.sandbox.base import BuildResult

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


def _env_build(ev: Evidence, params: Params) -> Verdict:
    build = ev.build
    if build is None:
        return Verdict.skip(ev.not_run_reason)
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
        return Verdict.skip(ev.not_run_reason) if found is None else judge(found, params)

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
    return CheckResult(
        id=spec.id,
        title=spec.title,
        status=verdict.status,
        score=round(spec.points * fraction, 2),
        max_score=spec.points,
        summary=verdict.summary,
        details=verdict.details,
        required=spec.required,
    )


def score(rubric: Rubric, evidence: Evidence) -> tuple[CheckResult, ...]:
    """Evaluate every check of the rubric, in rubric order."""
    return tuple(evaluate(spec, evidence) for spec in rubric.checks)
