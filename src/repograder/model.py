"""Result types shared by every stage. Frozen values, no I/O.

``results.json`` (see CONTRACTS.md) is these types serialised by :mod:`repograder.report.json`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

from repograder.errors import ConfigError

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
JSONDict: TypeAlias = dict[str, JSONValue]

SCHEMA_VERSION = 1


class Status(enum.StrEnum):
    """Outcome of one rubric check."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"  # not applicable, or a prerequisite failed (the summary says which)
    ERROR = "error"  # the grader could not evaluate: needs a human


class Applies(enum.StrEnum):
    """Whether a check's points count in the group's total.

    ``not-applicable``: there is nothing to judge (a repository without notebooks); the rubric's
    ``when_absent`` decides the points. ``not-run``: the grader did not run the stage (``--static``,
    no sandbox), so the points are unknown, never a final 0.
    """

    YES = "yes"
    NOT_APPLICABLE = "not-applicable"
    NOT_RUN = "not-run"


class GroupStatus(enum.StrEnum):
    GRADED = "graded"
    ERROR = "error"


class StepStatus(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Verdict:
    """What a check function returns; the rubric turns it into points.

    ``fraction`` is the share of the check's points earned (0.0 to 1.0).
    """

    status: Status
    fraction: float
    summary: str
    details: JSONDict = field(default_factory=dict)
    applies: Applies = Applies.YES

    @staticmethod
    def skip(reason: str, details: JSONDict | None = None) -> Verdict:
        """Skipped because a prerequisite failed: the points are lost."""
        return Verdict(Status.SKIP, 0.0, reason, details or {})

    @staticmethod
    def not_applicable(reason: str, details: JSONDict | None = None) -> Verdict:
        """Nothing to judge (the course does not ask for it): the rubric's ``when_absent``."""
        return Verdict(Status.SKIP, 0.0, reason, details or {}, Applies.NOT_APPLICABLE)

    @staticmethod
    def not_run(reason: str, details: JSONDict | None = None) -> Verdict:
        """The grader did not run this stage: the points are unknown, not 0."""
        return Verdict(Status.SKIP, 0.0, reason, details or {}, Applies.NOT_RUN)

    @staticmethod
    def error(reason: str, details: JSONDict | None = None) -> Verdict:
        return Verdict(Status.ERROR, 0.0, reason, details or {})


@dataclass(frozen=True)
class Params:
    """A rubric check's parameters with typed getters; wrong types raise ConfigError."""

    values: Mapping[str, JSONValue] = field(default_factory=dict)
    where: str = "rubric"

    def _get(self, key: str, default: object, kinds: tuple[type, ...]) -> object:
        value = self.values.get(key, default)
        if isinstance(value, bool) and bool not in kinds:
            raise ConfigError(f"{self.where}.{key}: expected {kinds[0].__name__}, got {value!r}")
        if not isinstance(value, kinds):
            raise ConfigError(f"{self.where}.{key}: expected {kinds[0].__name__}, got {value!r}")
        return value

    def get_float(self, key: str, default: float) -> float:
        value = self._get(key, default, (float, int))
        assert isinstance(value, int | float)
        return float(value)

    def get_int(self, key: str, default: int) -> int:
        value = self._get(key, default, (int,))
        assert isinstance(value, int)
        return value

    def get_bool(self, key: str, default: bool) -> bool:
        value = self._get(key, default, (bool,))
        assert isinstance(value, bool)
        return value

    def get_str(self, key: str, default: str) -> str:
        value = self._get(key, default, (str,))
        assert isinstance(value, str)
        return value

    def get_str_list(self, key: str, default: list[str]) -> list[str]:
        value = self.values.get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.where}.{key}: expected a list of strings, got {value!r}")
        return [str(v) for v in value]


@dataclass(frozen=True)
class LateCommit:
    sha: str
    date: str  # ISO 8601 committer date
    subject: str


@dataclass(frozen=True)
class Checkout:
    """A group's files at the graded commit, as fetched. Evidence: never modified."""

    path: Path
    commit: str | None  # None for a plain folder
    commit_date: str | None
    late_commits: tuple[LateCommit, ...] = ()
    lfs_pointers: tuple[str, ...] = ()  # repo-relative paths of Git LFS pointer files
    notes: tuple[str, ...] = ()
    # Every commit reachable from the graded commit, newest first (empty for a plain folder).
    history: tuple[CommitStat, ...] = ()


@dataclass(frozen=True)
class ExecResult:
    """One command run inside a sandbox session."""

    exit_code: int | None  # None when killed by the timeout
    timed_out: bool
    duration_s: float
    output_head: str
    output_tail: str  # empty when the whole output fits in output_head
    output_bytes: int  # total bytes the command wrote (stdout and stderr merged)

    @property
    def output(self) -> str:
        """Head and tail with a marker where the middle was dropped."""
        if not self.output_tail:
            return self.output_head
        dropped = (
            self.output_bytes - len(self.output_head.encode()) - len(self.output_tail.encode())
        )
        return f"{self.output_head}\n[... {max(dropped, 0)} bytes omitted ...]\n{self.output_tail}"


@dataclass(frozen=True)
class StepResult:
    index: int
    command: str
    source_line: int
    status: StepStatus
    reason: str = ""
    exit_code: int | None = None
    duration_s: float = 0.0
    output_tail: str = ""
    output_head: str = ""
    kind: str = "run"  # classification of the step (see facts.StepKind)
    heading: str = ""
    hint: str = ""
    # The system library the step's output says could not load, when the grader itself could
    # not load it in the session either (runner.confirm_missing_library); "" otherwise.
    missing_library: str = ""


class OverrideState(enum.StrEnum):
    """Whether a lecturer's override was applied to a check."""

    APPLIED = "applied"
    # Written for another commit than the one graded now: not applied, a human must look.
    STALE = "stale"


@dataclass(frozen=True)
class OverrideInfo:
    """A lecturer's override as it met one check (see overrides.py).

    ``auto_status``/``auto_score`` keep the automatic verdict, so the report shows both and
    re-applying overrides always starts from the automatic result.
    """

    state: OverrideState
    auto_status: Status
    auto_score: float
    comment: str
    by: str = ""
    at: str = ""  # ISO 8601, when the override was written
    commit: str | None = None  # the group's commit when the override was written
    status: Status | None = None  # the lecturer's status, None keeps the automatic one
    points: float | None = None  # the lecturer's points, None derives them from the status
    # The automatic verdict's place in the total: an applied override always counts (a lecturer
    # who grades a not-applicable or not-run check means those points).
    auto_applies: Applies = Applies.YES
    auto_counted: bool = True


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    status: Status
    score: float
    max_score: float
    summary: str
    details: JSONDict = field(default_factory=dict)
    required: bool = False
    override: OverrideInfo | None = None  # a lecturer's override, applied or flagged
    applies: Applies = Applies.YES  # see Applies
    # False: score and max_score are left out of the group's total (not run, or not applicable
    # with the rubric's `when_absent: exclude`); the total is scaled to the rubric's points.
    counted: bool = True


@dataclass(frozen=True)
class FileChange:
    """One file of one commit as ``git log --numstat`` counts it."""

    path: str
    added: int | None  # None for a binary file
    removed: int | None


@dataclass(frozen=True)
class CommitStat:
    """One commit of the graded history (git data only), for contribution figures."""

    sha: str
    author_name: str
    author_email: str
    date: str  # ISO 8601 author date
    parents: int  # 2 or more for a merge
    files: tuple[FileChange, ...] = ()


@dataclass(frozen=True)
class Timings:
    fetch_s: float = 0.0
    build_s: float = 0.0
    run_s: float = 0.0
    total_s: float = 0.0


@dataclass(frozen=True)
class GroupResult:
    name: str
    repo: str  # credentials redacted
    status: GroupStatus
    error: str | None = None
    commit: str | None = None
    commit_date: str | None = None
    late_commits: tuple[LateCommit, ...] = ()
    score: float = 0.0
    max_score: float = 0.0
    checks: tuple[CheckResult, ...] = ()
    steps: tuple[StepResult, ...] = ()
    timings: Timings = field(default_factory=Timings)
    members: tuple[str, ...] = ()
    # Extra sections for the group page (paper thumbnails, notebook renders, build log, ...),
    # keyed by section name; values are JSON and file paths relative to the output folder.
    artifacts: JSONDict = field(default_factory=dict)
    # Who contributed what (contributions.py); empty when not measured. Never part of the score.
    contributions: JSONDict = field(default_factory=dict)

    @property
    def not_graded(self) -> bool:
        """A report row standing in for a group this run did not grade (``NOT_GRADED``...)."""
        return (
            self.status == GroupStatus.ERROR
            and self.commit is None
            and (self.error or "").startswith(NOT_GRADED)
        )


NOT_GRADED = "not graded"  # how the error of a row without any result begins


@dataclass(frozen=True)
class ToolInfo:
    name: str
    version: str


@dataclass(frozen=True)
class RubricInfo:
    name: str
    sha256: str


@dataclass(frozen=True)
class RunResult:
    tool: ToolInfo
    course: str | None
    deadline: str | None
    rubric: RubricInfo
    started_at: str
    finished_at: str
    groups: tuple[GroupResult, ...]
    schema_version: int = SCHEMA_VERSION
    # The course's inferred shared environment layer as this run used it (shared-layer.json:
    # what was shared and why, its apt packages and warm-ups, a failure or fallback); empty
    # when the rubric declares the layer, turns it off, or the run built nothing.
    shared_layer: JSONDict = field(default_factory=dict)
