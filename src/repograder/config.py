"""groups.yaml and rubric files -> validated, frozen values.

YAML is parsed once at the boundary. Every error names the file, the line and the key
(``groups.yaml:12: groups[3].repo: required``); unknown keys and duplicate keys are errors.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
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
from repograder.errors import ConfigError
from repograder.fsutil import group_file_names, group_slug
from repograder.model import JSONValue

MAX_CONFIG_BYTES = 5_000_000
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

_URL_RE = re.compile(r"^(https?|ssh|git|file)://", re.IGNORECASE)
_SCP_RE = re.compile(r"^[\w.-]+@[\w.-]+:(?!//)")
_TRANSPORT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
OVERRIDES_FILE = "overrides.yaml"


# ---------------------------------------------------------------- YAML with line numbers


@dataclass(frozen=True)
class _Located:
    """Plain Python data from YAML plus the line of every key path."""

    data: Any
    lines: Mapping[tuple[str | int, ...], int]


def _load_yaml(path: Path) -> _Located:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: file is larger than {MAX_CONFIG_BYTES} bytes")
    text = raw.decode("utf-8", errors="replace")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}:" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{line} invalid YAML: {problem}") from None
    lines: dict[tuple[str | int, ...], int] = {}
    if node is None:
        return _Located(None, lines)
    return _Located(_convert(node, (), lines, path), lines)


def _convert(
    node: yaml.Node,
    where: tuple[str | int, ...],
    lines: dict[tuple[str | int, ...], int],
    path: Path,
) -> Any:
    lines[where] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(
                    f"{path}:{key_node.start_mark.line + 1}: {_fmt(where) or 'top level'}: "
                    "keys must be plain names"
                )
            key = str(key_node.value)
            if key in result:
                raise ConfigError(
                    f"{path}:{key_node.start_mark.line + 1}: {_fmt((*where, key))}: duplicate key"
                )
            result[key] = _convert(value_node, (*where, key), lines, path)
            lines[(*where, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*where, i), lines, path) for i, item in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    # Resolve only the plain scalar types; timestamps stay strings and are parsed strictly below.
    if node.tag == "tag:yaml.org,2002:null":
        return None
    if node.tag == "tag:yaml.org,2002:bool":
        return node.value.lower() in ("true", "yes", "on", "y")
    if node.tag == "tag:yaml.org,2002:int":
        try:
            return int(node.value.replace("_", ""), 0)
        except ValueError:
            return node.value
    if node.tag == "tag:yaml.org,2002:float":
        try:
            return float(node.value.replace("_", ""))
        except ValueError:
            return node.value
    return str(node.value)


def _fmt(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _raise_validation(
    path: Path, located: _Located, exc: ValidationError, prefix: tuple[str | int, ...] = ()
) -> None:
    messages = []
    for err in exc.errors():
        loc = prefix + tuple(
            p for p in err["loc"] if not isinstance(p, str) or not p.startswith("function")
        )
        line = located.lines.get(tuple(loc))
        probe = tuple(loc)
        while line is None and probe:
            probe = probe[:-1]
            line = located.lines.get(probe)
        where = _fmt(loc) or "top level"
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "required"
        elif err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        messages.append(f"{path}:{line or 1}: {where}: {msg}")
    raise ConfigError("\n".join(messages))


# ---------------------------------------------------------------- groups.yaml


class _MemberModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: StrictStr = Field(min_length=1, max_length=200)
    email: StrictStr | None = Field(default=None, max_length=320)
    id: StrictStr | int | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL_RE.match(value.strip()):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value.strip() if value is not None else None


class _GroupModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: StrictStr = Field(min_length=1, max_length=200)
    repo: StrictStr = Field(min_length=1)
    ref: StrictStr | None = None
    # Plain names, or {name, email, id} for the LMS export.
    members: list[_MemberModel] = Field(default_factory=list)
    # member name -> other author names or e-mails that person committed under
    aliases: dict[str, list[StrictStr]] = Field(default_factory=dict)

    @field_validator("members", mode="before")
    @classmethod
    def _plain_names(cls, value: object) -> object:
        # A plain string is a member with a name only; errors keep the path members[i].key.
        if isinstance(value, list):
            return [{"name": m} if isinstance(m, str) else m for m in value]
        return value

    @field_validator("repo")
    @classmethod
    def _transport(cls, value: str) -> str:
        if _TRANSPORT_RE.match(value):
            raise ValueError(f"transport {value.split('::')[0]!r}:: is not allowed")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class _GroupsModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    course: StrictStr | None = None
    deadline: StrictStr | None = None
    rubric: StrictStr | None = None
    overrides: StrictStr | None = None  # default: overrides.yaml beside the groups file
    groups: list[_GroupModel] = Field(min_length=1)

    @field_validator("deadline")
    @classmethod
    def _deadline(cls, value: str | None) -> str | None:
        if value is not None:
            parse_deadline(value)
        return value


def parse_deadline(value: str) -> datetime:
    """ISO 8601 with a UTC offset; a deadline without one would depend on the grader's clock."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{value!r} is not an ISO 8601 date-time (e.g. 2026-03-31T23:59:59+02:00)"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset; write e.g. {text}+02:00 (or Z for UTC)")
    return moment


@dataclass(frozen=True)
class Member:
    """A student of a group; ``email`` and ``id`` are optional (for the LMS export)."""

    name: str
    email: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class GroupSpec:
    name: str
    repo: str  # URL, or an absolute local path (resolved against the groups file's folder)
    ref: str | None = None
    members: tuple[str, ...] = ()  # the members' names, as results.json shows them
    line: int = 0
    people: tuple[Member, ...] = ()  # the members with e-mail and id, same order as members
    # member name -> other author names or e-mails in the git history (groups.yaml `aliases`)
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        """The group's name as a safe folder/file name."""
        return group_slug(self.name)


@dataclass(frozen=True)
class CourseConfig:
    path: Path
    course: str | None
    deadline: datetime | None
    rubric_path: Path | None
    groups: tuple[GroupSpec, ...]
    overrides_path: Path | None = None  # groups.yaml `overrides`, else overrides.yaml beside it


def is_remote(repo: str) -> bool:
    return bool(_URL_RE.match(repo) or _SCP_RE.match(repo))


def _resolve_repo(repo: str, base: Path) -> str:
    if is_remote(repo):
        return repo
    path = Path(repo).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def load_groups(path: Path) -> CourseConfig:
    """Read and validate a groups file."""
    path = Path(path)
    located = _load_yaml(path)
    if not isinstance(located.data, dict):
        raise ConfigError(f"{path}:1: top level: expected a mapping with a 'groups' list")
    try:
        model = _GroupsModel.model_validate(located.data)
    except ValidationError as exc:
        _raise_validation(path, located, exc)
        raise  # unreachable
    base = path.resolve().parent
    seen: dict[str, tuple[int, str]] = {}  # every output name taken -> (line, group name)
    groups = []
    for i, g in enumerate(model.groups):
        line = located.lines.get(("groups", i, "name"), 0)
        files = group_file_names(g.name)
        clash = next((seen[n] for n in files if n in seen), None)
        if clash is not None:
            raise ConfigError(
                f"{path}:{line}: groups[{i}].name: {g.name!r} duplicates the group "
                f"{clash[1]!r} on line {clash[0]} (their files in the output folder would "
                "collide; names differing only in case or punctuation count as the same)"
            )
        seen.update(dict.fromkeys(files, (line, g.name)))
        people = tuple(
            Member(m.name, m.email, str(m.id) if m.id is not None else None) for m in g.members
        )
        names = [p.name for p in people]
        for member in g.aliases:
            if member not in names:
                where = ("groups", i, "aliases", member)
                raise ConfigError(
                    f"{path}:{located.lines.get(where, line)}: groups[{i}].aliases.{member}: "
                    f"not a member of {g.name!r} (members: {', '.join(names) or 'none'})"
                )
        groups.append(
            GroupSpec(
                name=g.name,
                repo=_resolve_repo(g.repo, base),
                ref=g.ref,
                members=tuple(names),
                line=line,
                people=people,
                aliases={k: tuple(v) for k, v in g.aliases.items()},
            )
        )
    return CourseConfig(
        path=path,
        course=model.course,
        deadline=parse_deadline(model.deadline) if model.deadline else None,
        rubric_path=(base / model.rubric).resolve() if model.rubric else None,
        groups=tuple(groups),
        overrides_path=(base / (model.overrides or OVERRIDES_FILE)).resolve(),
    )


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


def validate_file(path: Path) -> str:
    """Validate a groups file or a rubric (by its top-level keys); return a one-line summary."""
    located = _load_yaml(path)
    if isinstance(located.data, dict) and "checks" in located.data:
        rubric = load_rubric(path)
        size = f"{len(rubric.checks)} checks, {rubric.max_score:g} points"
        return f"{path}: rubric {rubric.name!r} OK ({size})"
    config = load_groups(path)
    # The rubric a run would use, the built-in one included (a broken install lacks it).
    rubric = load_rubric(config.rubric_path)
    return f"{path}: groups file OK ({len(config.groups)} groups), rubric {rubric.name!r} OK"
