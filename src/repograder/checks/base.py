"""The ``Check`` protocol every module under ``repograder.checks`` meets, and what it judges.

A check is a module (like a pre-commit language module) with:

- ``ID`` (the rubric's check id), ``TITLE`` (the default title), ``STAGE`` (the evidence it
  needs: ``static`` facts, the environment ``build`` or the sandbox ``run``);
- ``Params``: a pydantic model of its rubric parameters (unknown keys and wrong types are
  errors when the rubric is loaded; :mod:`repograder.config`);
- ``judge(evidence, params) -> Verdict``: pure, over :class:`Evidence`;
- ``fix(check, group) -> str``: the student's one thing to do when it failed or warned, and
  ``error_fix`` for an ``error`` result (usually :func:`ask_lecturer`);
- ``spots(check, group) -> list[Spot]``: where ``check --format github`` points.

``registry.CHECKS`` lists them; adding a check is one module and one line there
(docs/ARCHITECTURE.md, "How to add a check").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic import StrictFloat as _StrictFloat

from repograder import model
from repograder.facts import (
    BuildResult,
    CommentFacts,
    EnvSpec,
    NotebookReport,
    PaperFacts,
    ReadmeFacts,
)
from repograder.model import (
    Checkout,
    CheckResult,
    GroupResult,
    JSONValue,
    StepResult,
    Verdict,
)

Stage = Literal["static", "build", "run"]
T = TypeVar("T")

ERROR_FIX = "the grader could not evaluate this: check the report, then ask your lecturer"


@dataclass(frozen=True)
class Evidence:
    """Everything the checks judge. ``None`` means the stage did not run (with ``why``)."""

    checkout: Checkout
    readme: ReadmeFacts | None = None
    env: EnvSpec | None = None
    comments: CommentFacts | None = None
    paper: PaperFacts | None = None
    build: BuildResult | None = None
    steps: tuple[StepResult, ...] | None = None
    notebooks: NotebookReport | None = None
    not_run_reason: str = "not run"  # why build/run evidence is missing (e.g. --static)
    project_install: str | None = None  # why the project's own install failed in the session
    # True when the grader chose not to build or run (--static, no sandbox): those checks are
    # "not run", never 0 points that look final. False: a failed prerequisite (the build).
    grader_skipped_run: bool = False


@dataclass(frozen=True)
class Spot:
    """One annotation of a check: a message and where it points (repo-relative file, line)."""

    message: str
    file: str | None = None
    line: int | None = None


class StrictParams(BaseModel):
    """Base of every check's ``Params``: unknown keys are errors; the values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# Strict: YAML `4` for a float parameter is fine; a string ("5m") or a bool is not.
Number = _StrictFloat
Fraction = Annotated[Number, Field(ge=0, le=1)]
Seconds = Annotated[Number, Field(gt=0)]
Points = Annotated[Number, Field(ge=0)]


def not_above(field: str, value: float, info: ValidationInfo, bound: str) -> float:
    """``value`` of ``field`` must not exceed the (earlier declared) field ``bound``."""
    limit = info.data.get(bound)
    if limit is not None and value > limit:
        raise ValueError(f"{field} ({value:g}) is above {bound} ({limit:g})")
    return value


class Shares(StrictParams):
    """A pass share and a lower warn share of successes."""

    pass_share: Fraction = 1.0
    warn_share: Fraction = 0.5

    @field_validator("warn_share")
    @classmethod
    def _order(cls, value: float, info: ValidationInfo) -> float:
        return not_above("warn_share", value, info, "pass_share")


class Check(Protocol):
    """What ``registry.CHECKS`` holds: a check module (see the module docstring)."""

    ID: str
    TITLE: str
    STAGE: Stage

    @property
    def Params(self) -> type[BaseModel]: ...

    def judge(self, evidence: Evidence, params: model.Params, /) -> Verdict: ...

    def fix(self, check: CheckResult, group: GroupResult, /) -> str: ...

    def error_fix(self, check: CheckResult, group: GroupResult, /) -> str: ...

    def spots(self, check: CheckResult, group: GroupResult, /) -> list[Spot]: ...


def ask_lecturer(check: CheckResult, group: GroupResult) -> str:
    """The fix text of an ``error`` result: the grader, not the student, is in question.

    When the check could not read a file because it is a Git LFS pointer whose object was not
    fetched (``details["lfs_pointers"]``), the student can act: say how.
    """
    pointers = check.details.get("lfs_pointers")
    if isinstance(pointers, list) and pointers:
        names = ", ".join(str(p) for p in pointers[:3])
        return (
            f"{names}: push the Git LFS objects (`git lfs push --all origin`), or commit "
            "the file without Git LFS (remove its pattern from .gitattributes): text files "
            "need no LFS"
        )
    return ERROR_FIX


def missing_run(ev: Evidence) -> Verdict:
    """The verdict of a build/run check whose evidence is missing."""
    if ev.grader_skipped_run:
        return Verdict.not_run(ev.not_run_reason)
    return Verdict.skip(ev.not_run_reason)


def static(
    facts: Callable[[Evidence], T | None], judge: Callable[[T, model.Params], Verdict]
) -> Callable[[Evidence, model.Params], Verdict]:
    """A check on static facts; missing facts mean the grader failed to gather them."""

    def check(ev: Evidence, params: model.Params) -> Verdict:
        found = facts(ev)
        if found is None:
            return Verdict.error("the grader could not inspect this (see grader problems)")
        return judge(found, params)

    return check


def executed(
    facts: Callable[[Evidence], T | None], judge: Callable[[T, model.Params], Verdict]
) -> Callable[[Evidence, model.Params], Verdict]:
    """A check on what ran in the sandbox; skipped with the reason when nothing ran."""

    def check(ev: Evidence, params: model.Params) -> Verdict:
        found = facts(ev)
        return missing_run(ev) if found is None else judge(found, params)

    return check


def text(value: JSONValue) -> str:
    """``value`` when it is a string, else ''."""
    return value if isinstance(value, str) else ""


def integer(value: JSONValue) -> int | None:
    """``value`` when it is an int (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def detail(details: dict[str, JSONValue] | object, *keys: str) -> str | None:
    """The first non-empty string under ``details[k0][k1]…`` (None when absent)."""
    value: object = details
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value if isinstance(value, str) and value else None


def summary_at(check: CheckResult, file: str | None) -> list[Spot]:
    """The default annotation: the check's summary, at ``file`` when known."""
    return [Spot(check.summary, file, None)]
