"""Rubric YAML -> a validated, frozen :class:`Rubric`: checks (each one's ``Params`` validated
by its module in :mod:`repograder.checks`), limits, environment, grade scale.

Every error names the file, the line and the key; unknown keys and check ids are errors.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    field_validator,
)

from repograder.checks.registry import CHECKS
from repograder.config_yaml import _load_yaml, _Located, _raise_validation
from repograder.errors import ConfigError
from repograder.model import JSONValue

PACKAGE_RUBRICS = Path(__file__).parent / "rubrics"
DEFAULT_RUBRIC = PACKAGE_RUBRICS / "dl4ad.yaml"


class _StageByCheck(Mapping[str, str]):
    """Check ids the grader implements, with the stage whose evidence they need: a live view
    of ``checks.registry.CHECKS`` (a check registered there is known here)."""

    def __getitem__(self, check_id: str) -> str:
        return CHECKS[check_id].STAGE

    def __iter__(self) -> Iterator[str]:
        return iter(CHECKS)

    def __len__(self) -> int:
        return len(CHECKS)


KNOWN_CHECKS: Mapping[str, str] = _StageByCheck()

# A check that does not apply (no notebooks, when the course does not ask for them) is left
# out of the maximum: a good repository without notebooks earns the rubric's full total.
DEFAULT_WHEN_ABSENT: Literal["full", "exclude", "zero"] = "exclude"


# ---------------------------------------------------------------- rubric

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$")


def parse_duration(value: str | float) -> float:
    """``90``, ``"90s"``, ``"20m"``, ``"1.5h"`` -> seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value <= 0:
            raise ValueError("must be positive")
        return float(value)
    match = _DURATION_RE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration like 90s, 20m or 1h")
    number = float(match.group(1))
    unit = match.group(2) or "s"
    factor = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}[unit]
    if number <= 0:
        raise ValueError("must be positive")
    return number * factor


Duration = Annotated[float | StrictStr, Field()]


class _LimitsModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    memory_mb: int | None = Field(default=None, ge=64, le=1_000_000)
    cpus: float | None = Field(default=None, gt=0, le=256)
    pids: int | None = Field(default=None, ge=16, le=1_000_000)
    step_timeout: Duration | None = None
    build_timeout: Duration | None = None
    output_kb: int | None = Field(default=None, ge=1, le=100_000)
    disk_mb: int | None = Field(default=None, ge=16, le=1_000_000)
    network: StrictBool | None = None

    @field_validator("step_timeout", "build_timeout")
    @classmethod
    def _duration(cls, value: float | str | None) -> float | str | None:
        if value is not None:
            parse_duration(value)
        return value


class _EnvironmentModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Requirements most groups share, built once as a layer under every group's environment.
    common: list[StrictStr] = Field(default_factory=list, max_length=500)
    # Debian packages for that layer (system libraries such as libsndfile1, ffmpeg).
    apt: list[StrictStr] = Field(default_factory=list, max_length=100)
    # Shell commands run once in that layer after installing (lecturer code, not student
    # code): JIT caches they fill (numba, matplotlib fonts) are copied into every session.
    warmup: list[StrictStr] = Field(default_factory=list, max_length=50)
    # Without `common`, the shared layer is inferred from the groups' environment files: a
    # package is shared when at least `min_share` of the groups (and `min_groups`) ask for it.
    min_share: float = Field(default=0.5, gt=0, le=1)
    min_groups: int = Field(default=2, ge=2, le=100_000)
    infer: StrictBool = True  # `environment: none` sets this to false


class _CheckModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: StrictStr
    title: StrictStr | None = None
    points: float = Field(ge=0, le=1000)
    required: StrictBool = False
    # What a check that does not apply (a repository without notebooks) is worth.
    when_absent: Literal["full", "exclude", "zero"] | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in KNOWN_CHECKS:
            raise ValueError(
                f"unknown check {value!r}; known checks: {', '.join(sorted(KNOWN_CHECKS))}"
            )
        return value


class _ScaleStepModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    grade: StrictStr | float = Field()
    min_percent: float = Field(ge=0, le=100)


class _ScaleModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: StrictStr = "grade"
    steps: list[_ScaleStepModel] = Field(min_length=1, max_length=100)


class _RubricModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    grade_scale: _ScaleModel | None = None

    name: StrictStr = Field(min_length=1)
    title: StrictStr | None = None
    description: StrictStr | None = None
    limits: _LimitsModel = Field(default_factory=_LimitsModel)
    environment: _EnvironmentModel = Field(default_factory=_EnvironmentModel)
    checks: list[_CheckModel] = Field(min_length=1)

    @field_validator("environment", mode="before")
    @classmethod
    def _none_turns_off(cls, value: object) -> object:
        # `environment: none`: no shared layer at all, neither declared nor inferred.
        if value == "none":
            return {"infer": False}
        return value


@dataclass(frozen=True)
class CheckSpec:
    id: str
    title: str
    points: float
    required: bool
    params: Mapping[str, JSONValue]
    stage: Literal["static", "build", "run"]
    # A check with nothing to judge: "full" points, "exclude" it from the total (the total is
    # scaled to the rubric's points) or "zero" points. Default: "exclude" (DEFAULT_WHEN_ABSENT).
    when_absent: Literal["full", "exclude", "zero"] = "exclude"


@dataclass(frozen=True)
class RubricLimits:
    """Sandbox limit overrides from the rubric; None keeps the backend's default."""

    memory_mb: int | None = None
    cpus: float | None = None
    pids: int | None = None
    step_timeout_s: float | None = None
    build_timeout_s: float | None = None
    output_bytes: int | None = None
    disk_mb: int | None = None
    network: bool | None = None


@dataclass(frozen=True)
class GradeScale:
    """Points -> a grade by percentage thresholds (rubric ``grade_scale``).

    ``steps`` are (min_percent, grade), best grade first; the last step starts at 0 %, so every
    score has a grade. E.g. the German 1,0-5,0 steps.
    """

    name: str
    steps: tuple[tuple[float, str], ...]

    def grade_for(self, score: float, max_score: float) -> str:
        """The grade of ``score`` out of ``max_score`` points (the first step it reaches)."""
        percent = 100.0 * score / max_score if max_score > 0 else 0.0
        for minimum, grade in self.steps:
            # Rounded so 0.95 * 20 points reaches "95 %" despite binary fractions.
            if round(percent, 6) >= minimum:
                return grade
        return self.steps[-1][1]


@dataclass(frozen=True)
class Rubric:
    path: Path
    name: str
    title: str
    sha256: str
    checks: tuple[CheckSpec, ...]
    limits: RubricLimits = field(default_factory=RubricLimits)
    # rubric `environment.common`: requirements of the shared environment layer
    common_requirements: tuple[str, ...] = ()
    common_apt: tuple[str, ...] = ()  # rubric `environment.apt`
    common_warmup: tuple[str, ...] = ()  # rubric `environment.warmup`
    grade_scale: GradeScale | None = None  # rubric `grade_scale`
    # Infer the shared layer from the course when `common` is not declared (see layerplan.py);
    # `environment: none` turns it off.
    infer_layer: bool = True
    layer_min_share: float = 0.5  # rubric `environment.min_share`
    layer_min_groups: int = 2  # rubric `environment.min_groups`

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)


def load_rubric(path: Path | None = None) -> Rubric:
    """Read and validate a rubric file (default: the built-in dl4ad rubric)."""
    path = Path(path) if path is not None else DEFAULT_RUBRIC
    located = _load_yaml(path)
    if not isinstance(located.data, dict):
        raise ConfigError(f"{path}:1: top level: expected a mapping with 'name' and 'checks'")
    try:
        model = _RubricModel.model_validate(located.data)
    except ValidationError as exc:
        _raise_validation(path, located, exc)
        raise  # unreachable
    seen: dict[str, int] = {}
    checks = []
    for i, c in enumerate(model.checks):
        line = located.lines.get(("checks", i, "id"), 0)
        if c.id in seen:
            raise ConfigError(
                f"{path}:{line}: checks[{i}].id: {c.id!r} is already defined on line {seen[c.id]}"
            )
        seen[c.id] = line
        try:  # the check's own parameters: unknown keys, wrong types, inverted thresholds
            CHECKS[c.id].Params.model_validate(c.params)
        except ValidationError as exc:
            _raise_validation(path, located, exc, prefix=("checks", i, "params"))
        checks.append(
            CheckSpec(
                id=c.id,
                title=c.title or c.id,
                points=c.points,
                required=c.required,
                params=c.params,
                stage=CHECKS[c.id].STAGE,
                when_absent=c.when_absent or DEFAULT_WHEN_ABSENT,
            )
        )
    lim = model.limits
    limits = RubricLimits(
        memory_mb=lim.memory_mb,
        cpus=lim.cpus,
        pids=lim.pids,
        step_timeout_s=parse_duration(lim.step_timeout) if lim.step_timeout else None,
        build_timeout_s=parse_duration(lim.build_timeout) if lim.build_timeout else None,
        output_bytes=lim.output_kb * 1024 if lim.output_kb else None,
        disk_mb=lim.disk_mb,
        network=lim.network,
    )
    return Rubric(
        grade_scale=_grade_scale(path, located, model.grade_scale),
        path=path,
        name=model.name,
        title=model.title or model.name,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        checks=tuple(checks),
        limits=limits,
        common_requirements=tuple(r.strip() for r in model.environment.common if r.strip()),
        common_apt=tuple(a.strip() for a in model.environment.apt if a.strip()),
        common_warmup=tuple(w for w in model.environment.warmup if w.strip()),
        infer_layer=model.environment.infer,
        layer_min_share=model.environment.min_share,
        layer_min_groups=model.environment.min_groups,
    )


def _grade_scale(path: Path, located: _Located, model: _ScaleModel | None) -> GradeScale | None:
    if model is None:
        return None
    steps: list[tuple[float, str]] = []
    for i, step in enumerate(model.steps):
        line = located.lines.get(("grade_scale", "steps", i), 0)
        if steps and step.min_percent >= steps[-1][0]:
            raise ConfigError(
                f"{path}:{line}: grade_scale.steps[{i}].min_percent: {step.min_percent:g} must "
                f"be below the step before ({steps[-1][0]:g}); list the best grade first"
            )
        grade = step.grade if isinstance(step.grade, str) else format(step.grade, "g")
        steps.append((step.min_percent, grade))
    if steps[-1][0] != 0:
        line = located.lines.get(("grade_scale", "steps", len(steps) - 1), 0)
        raise ConfigError(
            f"{path}:{line}: grade_scale.steps[{len(steps) - 1}].min_percent: the last step "
            "must start at 0 so that every score has a grade"
        )
    return GradeScale(model.name, tuple(steps))
