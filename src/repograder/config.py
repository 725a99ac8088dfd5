"""groups.yaml and rubric files -> validated, frozen values.

YAML is parsed once at the boundary. Every error names the file, the line and the key
(``groups.yaml:12: groups[3].repo: required``); unknown keys and duplicate keys are errors.
This module reads groups.yaml; :mod:`repograder.config_rubric` the rubric (re-exported here),
:mod:`repograder.config_yaml` the YAML with lines both use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    ValidationError,
    field_validator,
)

from repograder.config_rubric import DEFAULT_RUBRIC as DEFAULT_RUBRIC
from repograder.config_rubric import DEFAULT_WHEN_ABSENT as DEFAULT_WHEN_ABSENT
from repograder.config_rubric import KNOWN_CHECKS as KNOWN_CHECKS
from repograder.config_rubric import PACKAGE_RUBRICS as PACKAGE_RUBRICS
from repograder.config_rubric import CheckSpec as CheckSpec
from repograder.config_rubric import Duration as Duration
from repograder.config_rubric import GradeScale as GradeScale
from repograder.config_rubric import Rubric as Rubric
from repograder.config_rubric import RubricLimits as RubricLimits
from repograder.config_rubric import load_rubric as load_rubric
from repograder.config_rubric import parse_duration as parse_duration
from repograder.config_yaml import MAX_CONFIG_BYTES as MAX_CONFIG_BYTES
from repograder.config_yaml import _load_yaml, _raise_validation
from repograder.errors import ConfigError
from repograder.fsutil import group_file_names, group_slug

_URL_RE = re.compile(r"^(https?|ssh|git|file)://", re.IGNORECASE)
_SCP_RE = re.compile(r"^[\w.-]+@[\w.-]+:(?!//)")
_TRANSPORT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
OVERRIDES_FILE = "overrides.yaml"


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
