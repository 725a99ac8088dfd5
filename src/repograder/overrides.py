"""Lecturer overrides: ``overrides.yaml`` read, edited (``repograder adjust``) and applied.

An override changes one check of one group: a new status and/or points, with a comment, who
wrote it and when, and the group's commit at that time. Overrides live beside groups.yaml, never
inside the output folder, so every re-run keeps them. An override written for another commit than
the one graded now is *stale*: it is not applied, and the report flags it for review (the students
may have changed exactly what the lecturer judged).

File format (CONTRACTS-style promise, documented in docs/FORMATS.md)::

    overrides:
      - group: group-1
        check: paper-pages
        points: 1                 # and/or status: pass|warn|fail|skip|error
        comment: "page 5 holds only references, which the course allows"
        by: lecturer              # optional
        at: "2026-04-02T10:00:00+00:00"   # optional
        commit: 3f5a...           # optional; the graded commit when the override was written

Errors name the file, the line and the key, as for groups.yaml.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, model_validator

from repograder.config import KNOWN_CHECKS, CourseConfig, Rubric
from repograder.config_yaml import _load_yaml, _raise_validation
from repograder.errors import ConfigError
from repograder.model import (
    Applies,
    CheckResult,
    GroupResult,
    OverrideInfo,
    OverrideState,
    RunResult,
    Status,
)
from repograder.report.results import write_text_atomic
from repograder.rubric import total

__all__ = [
    "Override",
    "apply_overrides",
    "automatic",
    "is_overrides_file",
    "load_overrides",
    "overridden_score",
    "remove_override",
    "save_overrides",
    "set_override",
]

_STATUSES = Literal["pass", "warn", "fail", "skip", "error"]


class _OverrideModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    group: StrictStr = Field(min_length=1)
    check: StrictStr = Field(min_length=1)
    status: _STATUSES | None = None
    points: float | None = Field(default=None, ge=0, le=1000)
    comment: StrictStr = Field(min_length=1, max_length=5000)
    by: StrictStr = ""
    at: StrictStr = ""
    commit: StrictStr | None = None

    @model_validator(mode="after")
    def _something(self) -> _OverrideModel:
        if self.status is None and self.points is None:
            raise ValueError("give points, status or both")
        return self


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    overrides: list[_OverrideModel] = Field(default_factory=list)


@dataclass(frozen=True)
class Override:
    """One lecturer decision on one check of one group."""

    group: str
    check: str
    comment: str
    status: Status | None = None
    points: float | None = None
    by: str = ""
    at: str = ""
    commit: str | None = None
    line: int = 0  # where it is in overrides.yaml (0 when made in memory)


def load_overrides(
    path: Path, config: CourseConfig | None = None, rubric: Rubric | None = None
) -> tuple[Override, ...]:
    """Read ``path``; a missing file means no overrides.

    With ``config``/``rubric``, unknown groups, checks the rubric does not have and points above
    the check's maximum are errors too. Raises ConfigError naming file, line and key.
    """
    if not path.exists():
        return ()
    located = _load_yaml(path)
    if located.data is None:
        return ()
    if not isinstance(located.data, dict):
        raise ConfigError(f"{path}:1: top level: expected a mapping with an 'overrides' list")
    try:
        model = _FileModel.model_validate(located.data)
    except ValidationError as exc:
        _raise_validation(path, located, exc)
        raise  # unreachable
    groups = {g.name for g in config.groups} if config is not None else None
    points = {c.id: c.points for c in rubric.checks} if rubric is not None else None
    seen: dict[tuple[str, str], int] = {}
    result = []
    for i, o in enumerate(model.overrides):
        line = located.lines.get(("overrides", i), 0)

        def fail(key: str, message: str, i: int = i, line: int = line) -> ConfigError:
            where = located.lines.get(("overrides", i, key), line)
            return ConfigError(f"{path}:{where}: overrides[{i}].{key}: {message}")

        if groups is not None and o.group not in groups:
            raise fail("group", f"no group named {o.group!r} in the groups file")
        if o.check not in KNOWN_CHECKS:
            raise fail("check", f"unknown check {o.check!r}")
        if points is not None:
            if o.check not in points:
                raise fail("check", f"the rubric has no check {o.check!r}")
            if o.points is not None and o.points > points[o.check]:
                raise fail(
                    "points", f"{o.points:g} is more than the check's {points[o.check]:g} points"
                )
        key = (o.group, o.check)
        if key in seen:
            raise fail("check", f"{o.group}/{o.check} is already overridden on line {seen[key]}")
        seen[key] = line
        result.append(
            Override(
                group=o.group,
                check=o.check,
                comment=o.comment,
                status=Status(o.status) if o.status is not None else None,
                points=o.points,
                by=o.by,
                at=o.at,
                commit=o.commit,
                line=line,
            )
        )
    return tuple(result)


def is_overrides_file(path: Path) -> bool:
    """True for a YAML file whose top level has ``overrides`` and no ``groups``/``checks``."""
    data = _load_yaml(path).data
    return isinstance(data, dict) and "overrides" in data and not {"groups", "checks"} & set(data)


def _to_yaml(overrides: Sequence[Override]) -> str:
    items = []
    for o in overrides:
        item: dict[str, object] = {"group": o.group, "check": o.check}
        if o.status is not None:
            item["status"] = o.status.value
        if o.points is not None:
            item["points"] = int(o.points) if float(o.points).is_integer() else o.points
        item.update(comment=o.comment, by=o.by, at=o.at, commit=o.commit)
        items.append(item)
    header = (
        "# Lecturer overrides for repograder (`repograder adjust` writes this file).\n"
        "# An override whose commit differs from the graded one is flagged, not applied.\n"
    )
    body = yaml.safe_dump(
        {"overrides": items}, sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    return header + body


def save_overrides(path: Path, overrides: Sequence[Override]) -> None:
    """Write all overrides (atomically); comments in a hand-edited file are not kept."""
    write_text_atomic(path, _to_yaml(overrides))


def set_override(overrides: Iterable[Override], new: Override) -> tuple[Override, ...]:
    """``overrides`` with ``new`` replacing any override of the same group and check."""
    kept = [o for o in overrides if (o.group, o.check) != (new.group, new.check)]
    return (*kept, dataclasses.replace(new, line=0))


def remove_override(
    overrides: Iterable[Override], group: str, check: str
) -> tuple[tuple[Override, ...], bool]:
    """``overrides`` without the one for ``group``/``check``; and whether there was one."""
    before = tuple(overrides)
    after = tuple(o for o in before if (o.group, o.check) != (group, check))
    return after, len(after) != len(before)


def overridden_score(status: Status | None, points: float | None, auto: CheckResult) -> float:
    """The points an override gives: its points; else from its status (pass: all, warn: the
    automatic points, fail/skip/error: none)."""
    if points is not None:
        return points
    if status is Status.PASS:
        return auto.max_score
    if status is Status.WARN or status is None:
        return auto.score
    return 0.0


def automatic(check: CheckResult) -> CheckResult:
    """The check as the grader judged it, without any override."""
    o = check.override
    if o is None:
        return check
    return dataclasses.replace(
        check,
        status=o.auto_status,
        score=o.auto_score,
        applies=o.auto_applies,
        counted=o.auto_counted,
        override=None,
    )


def _apply_one(check: CheckResult, o: Override, group_commit: str | None) -> CheckResult:
    info = OverrideInfo(
        state=OverrideState.APPLIED,
        auto_status=check.status,
        auto_score=check.score,
        comment=o.comment,
        by=o.by,
        at=o.at,
        commit=o.commit,
        status=o.status,
        points=o.points,
        auto_applies=check.applies,
        auto_counted=check.counted,
    )
    if o.commit is not None and group_commit is not None and o.commit != group_commit:
        return dataclasses.replace(
            check, override=dataclasses.replace(info, state=OverrideState.STALE)
        )
    return dataclasses.replace(
        check,
        status=o.status if o.status is not None else check.status,
        score=round(overridden_score(o.status, o.points, check), 2),
        applies=Applies.YES,
        counted=True,
        override=info,
    )


def _apply_group(group: GroupResult, mine: Mapping[str, Override]) -> GroupResult:
    base = [automatic(c) for c in group.checks]
    checks = [_apply_one(c, mine[c.id], group.commit) if c.id in mine else c for c in base]
    if checks == list(group.checks):
        return group
    # The same rule as the automatic total (checks left out, the rest scaled to the rubric).
    score, max_score = total(checks)
    return dataclasses.replace(group, checks=tuple(checks), score=score, max_score=max_score)


def apply_overrides(run: RunResult, overrides: Iterable[Override]) -> RunResult:
    """``run`` with every override applied (totals use them) or flagged as stale.

    Idempotent: overrides already in ``run`` are undone first, so re-applying after ``adjust``
    gives the same result as applying once to the automatic verdicts. An override for a check
    a group does not have is ignored here (see :func:`unmatched`).
    """
    by_group: dict[str, dict[str, Override]] = {}
    for o in overrides:
        by_group.setdefault(o.group, {})[o.check] = o
    groups = tuple(_apply_group(g, by_group.get(g.name, {})) for g in run.groups)
    return dataclasses.replace(run, groups=groups)


def unmatched(run: RunResult, overrides: Iterable[Override]) -> list[Override]:
    """Overrides that met no check (group not in the run, or without that check)."""
    present = {(g.name, c.id) for g in run.groups for c in g.checks}
    return [o for o in overrides if (o.group, o.check) not in present]


def stale(run: RunResult) -> list[tuple[str, str]]:
    """(group, check) of every override flagged for review."""
    return [
        (g.name, c.id)
        for g in run.groups
        for c in g.checks
        if c.override is not None and c.override.state is OverrideState.STALE
    ]
