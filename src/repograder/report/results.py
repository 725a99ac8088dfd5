"""results.json: the run's source of truth, serialised and parsed back (resume, merge).

The writer emits keys in the CONTRACTS.md order so the same RunResult always gives the same
bytes; the reader is strict about types and names the offending key, because a hand-edited or
truncated results.json must produce a clear message, not a traceback.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from repograder import fsutil
from repograder.errors import ConfigError, InfrastructureError
from repograder.model import (
    SCHEMA_VERSION,
    Applies,
    CheckResult,
    GroupResult,
    GroupStatus,
    JSONDict,
    JSONValue,
    LateCommit,
    OverrideInfo,
    OverrideState,
    RubricInfo,
    RunResult,
    Status,
    StepResult,
    StepStatus,
    Timings,
    ToolInfo,
)

__all__ = [
    "dumps_json",
    "group_from_json",
    "group_to_json",
    "read_results",
    "result_to_json",
    "run_from_json",
    "write_json_atomic",
    "write_text_atomic",
]

_T = TypeVar("_T")
_E = TypeVar("_E", Status, GroupStatus, StepStatus, OverrideState, Applies)

# Deep structures in details/artifacts are cut here; the report never needs more.
_MAX_DEPTH = 32


def _num(value: float) -> JSONValue:
    """Whole numbers as ints (``10`` not ``10.0``); non-finite numbers cannot go into JSON."""
    if not math.isfinite(value):
        return None
    if float(value).is_integer():
        return int(value)
    return float(value)


def _clean(value: object, depth: int = 0) -> JSONValue:
    """Coerce check-provided JSON to strict JSON: tuples become lists, NaN becomes null."""
    if depth > _MAX_DEPTH:
        return None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v, depth + 1) for v in value]
    return str(value)


def _clean_dict(value: JSONDict) -> JSONDict:
    cleaned = _clean(value)
    return cleaned if isinstance(cleaned, dict) else {}


def _override_to_json(o: OverrideInfo) -> JSONDict:
    return {
        "state": o.state.value,
        "auto_status": o.auto_status.value,
        "auto_score": _num(o.auto_score),
        "status": o.status.value if o.status is not None else None,
        "points": _num(o.points) if o.points is not None else None,
        "comment": o.comment,
        "by": o.by,
        "at": o.at,
        "commit": o.commit,
        # Written only when they differ from the default, as for checks.
        **({"auto_applies": o.auto_applies.value} if o.auto_applies is not Applies.YES else {}),
        **({"auto_counted": False} if not o.auto_counted else {}),
    }


def _check_to_json(c: CheckResult) -> JSONDict:
    data: JSONDict = {
        "id": c.id,
        "title": c.title,
        "status": c.status.value,
        "score": _num(c.score),
        "max_score": _num(c.max_score),
        "summary": c.summary,
        "details": _clean_dict(c.details),
        "required": c.required,
    }
    if c.override is not None:  # optional: absent when the lecturer did not override
        data["override"] = _override_to_json(c.override)
    # Written only when they differ from the default, so older results.json files read alike.
    if c.applies is not Applies.YES:
        data["applies"] = c.applies.value
    if not c.counted:
        data["counted"] = False
    return data


def _step_to_json(s: StepResult) -> JSONDict:
    data: JSONDict = {
        "index": s.index,
        "command": s.command,
        "source_line": s.source_line,
        "status": s.status.value,
        "reason": s.reason,
        "exit_code": s.exit_code,
        "duration_s": _num(s.duration_s),
        "output_tail": s.output_tail,
        "output_head": s.output_head,
        "kind": s.kind,
        "heading": s.heading,
        "hint": s.hint,
    }
    if s.missing_library:  # only when the grader confirmed a gap (runner.confirm_missing_library)
        data["missing_library"] = s.missing_library
    return data


def group_to_json(g: GroupResult) -> JSONDict:
    """One group as the CONTRACTS.md ``groups[]`` object (plus members and artifacts)."""
    data: JSONDict = {
        "name": g.name,
        "repo": g.repo,
        "members": list(g.members),
        "status": g.status.value,
        "error": g.error,
        "commit": g.commit,
        "commit_date": g.commit_date,
        "late_commits": [
            {"sha": lc.sha, "date": lc.date, "subject": lc.subject} for lc in g.late_commits
        ],
        "score": _num(g.score),
        "max_score": _num(g.max_score),
        "checks": [_check_to_json(c) for c in g.checks],
        "steps": [_step_to_json(s) for s in g.steps],
        "timings": {
            "fetch_s": _num(g.timings.fetch_s),
            "build_s": _num(g.timings.build_s),
            "run_s": _num(g.timings.run_s),
            "total_s": _num(g.timings.total_s),
        },
        "artifacts": _clean_dict(g.artifacts),
    }
    if g.contributions:  # optional: absent for plain folders and older results
        data["contributions"] = _clean_dict(g.contributions)
    return data


def result_to_json(run: RunResult) -> JSONDict:
    """The whole run as the results.json object (CONTRACTS.md schema, keys in schema order;
    ``shared_layer`` last, only when the run used an inferred layer)."""
    data: JSONDict = {
        "schema_version": run.schema_version,
        "tool": {"name": run.tool.name, "version": run.tool.version},
        "course": run.course,
        "deadline": run.deadline,
        "rubric": {"name": run.rubric.name, "sha256": run.rubric.sha256},
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "groups": [group_to_json(g) for g in run.groups],
    }
    if run.shared_layer:  # optional: absent without an inferred layer and in older results
        data["shared_layer"] = _clean_dict(run.shared_layer)
    return data


# --- parsing ---------------------------------------------------------------------------------


class _Obj:
    """A JSON object being parsed, with the path used in every error message."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected an object, got {_kind(data)}")
        self.data: dict[str, object] = data
        self.where = where

    def _at(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def _value(self, key: str, default: object, required: bool) -> object:
        if key not in self.data:
            if required:
                raise ConfigError(f"{self._at(key)}: missing")
            return default
        return self.data[key]

    def str_(self, key: str, default: str | None = None) -> str:
        value = self._value(key, default, default is None)
        if not isinstance(value, str):
            raise ConfigError(f"{self._at(key)}: expected a string, got {_kind(value)}")
        return value

    def opt_str(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{self._at(key)}: expected a string or null, got {_kind(value)}")
        return value

    def int_(self, key: str, default: int | None = None) -> int:
        value = self._value(key, default, default is None)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self._at(key)}: expected an integer, got {_kind(value)}")
        return value

    def opt_int(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self._at(key)}: expected an integer or null, got {_kind(value)}")
        return value

    def float_(self, key: str, default: float | None = None) -> float:
        value = self._value(key, default, default is None)
        if value is None and default is not None:
            # Non-finite numbers were written as null.
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{self._at(key)}: expected a number, got {_kind(value)}")
        return float(value)

    def bool_(self, key: str, default: bool) -> bool:
        value = self._value(key, default, False)
        if not isinstance(value, bool):
            raise ConfigError(f"{self._at(key)}: expected true or false, got {_kind(value)}")
        return value

    def obj(self, key: str) -> _Obj:
        return _Obj(self._value(key, None, True), self._at(key))

    def json_dict(self, key: str) -> JSONDict:
        value = self._value(key, {}, False)
        if not isinstance(value, dict):
            raise ConfigError(f"{self._at(key)}: expected an object, got {_kind(value)}")
        return _clean_dict(value)

    def items(self, key: str, parse: Callable[[object, str], _T]) -> tuple[_T, ...]:
        value = self._value(key, [], False)
        if not isinstance(value, list):
            raise ConfigError(f"{self._at(key)}: expected a list, got {_kind(value)}")
        return tuple(parse(item, f"{self._at(key)}[{i}]") for i, item in enumerate(value))

    def enum(self, key: str, kind: type[_E]) -> _E:
        value = self.str_(key)
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            raise ConfigError(f"{self._at(key)}: {value!r} is not one of {allowed}") from None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _str_item(data: object, where: str) -> str:
    if not isinstance(data, str):
        raise ConfigError(f"{where}: expected a string, got {_kind(data)}")
    return data


def _late_from_json(data: object, where: str) -> LateCommit:
    o = _Obj(data, where)
    return LateCommit(sha=o.str_("sha"), date=o.str_("date"), subject=o.str_("subject", ""))


def _override_from_json(data: object, where: str) -> OverrideInfo:
    o = _Obj(data, where)
    status = o.opt_str("status")
    points = o.data.get("points")
    if points is not None and (isinstance(points, bool) or not isinstance(points, int | float)):
        raise ConfigError(f"{where}.points: expected a number or null, got {_kind(points)}")
    try:
        lecturer_status = Status(status) if status is not None else None
    except ValueError:
        raise ConfigError(f"{where}.status: {status!r} is not a check status") from None
    return OverrideInfo(
        state=o.enum("state", OverrideState),
        auto_status=o.enum("auto_status", Status),
        auto_score=o.float_("auto_score", 0.0),
        comment=o.str_("comment", ""),
        by=o.str_("by", ""),
        at=o.str_("at", ""),
        commit=o.opt_str("commit"),
        status=lecturer_status,
        points=float(points) if points is not None else None,
        auto_applies=o.enum("auto_applies", Applies) if "auto_applies" in o.data else Applies.YES,
        auto_counted=o.bool_("auto_counted", True),
    )


def _check_from_json(data: object, where: str) -> CheckResult:
    o = _Obj(data, where)
    override = o.data.get("override")
    return CheckResult(
        id=o.str_("id"),
        title=o.str_("title", ""),
        status=o.enum("status", Status),
        score=o.float_("score", 0.0),
        max_score=o.float_("max_score", 0.0),
        summary=o.str_("summary", ""),
        details=o.json_dict("details"),
        required=o.bool_("required", False),
        override=(
            _override_from_json(override, f"{where}.override") if override is not None else None
        ),
        applies=o.enum("applies", Applies) if "applies" in o.data else Applies.YES,
        counted=o.bool_("counted", True),
    )


def _step_from_json(data: object, where: str) -> StepResult:
    o = _Obj(data, where)
    return StepResult(
        index=o.int_("index"),
        command=o.str_("command"),
        source_line=o.int_("source_line", 0),
        status=o.enum("status", StepStatus),
        reason=o.str_("reason", ""),
        exit_code=o.opt_int("exit_code"),
        duration_s=o.float_("duration_s", 0.0),
        output_tail=o.str_("output_tail", ""),
        output_head=o.str_("output_head", ""),
        kind=o.str_("kind", "run"),
        heading=o.str_("heading", ""),
        hint=o.str_("hint", ""),
        missing_library=o.str_("missing_library", ""),
    )


def _group_from_json(data: object, where: str) -> GroupResult:
    o = _Obj(data, where)
    timings = _Obj(o.data.get("timings", {}), f"{where}.timings")
    return GroupResult(
        name=o.str_("name"),
        repo=o.str_("repo", ""),
        status=o.enum("status", GroupStatus),
        error=o.opt_str("error"),
        commit=o.opt_str("commit"),
        commit_date=o.opt_str("commit_date"),
        late_commits=o.items("late_commits", _late_from_json),
        score=o.float_("score", 0.0),
        max_score=o.float_("max_score", 0.0),
        checks=o.items("checks", _check_from_json),
        steps=o.items("steps", _step_from_json),
        timings=Timings(
            fetch_s=timings.float_("fetch_s", 0.0),
            build_s=timings.float_("build_s", 0.0),
            run_s=timings.float_("run_s", 0.0),
            total_s=timings.float_("total_s", 0.0),
        ),
        members=o.items("members", _str_item),
        artifacts=o.json_dict("artifacts"),
        contributions=o.json_dict("contributions"),
    )


def group_from_json(data: object) -> GroupResult:
    """Parse one ``groups[]`` object; ConfigError names the bad key."""
    return _group_from_json(data, "group")


def run_from_json(data: object, where: str = "results.json") -> RunResult:
    """Parse a results.json object back into a RunResult; ConfigError names the bad key."""
    o = _Obj(data, where)
    version = o.int_("schema_version")
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"{where}: schema_version {version} was written by a newer repograder "
            f"(this one reads up to {SCHEMA_VERSION})"
        )
    if version < 1:
        raise ConfigError(f"{where}.schema_version: {version} is not a valid version")
    tool = o.obj("tool")
    rubric = o.obj("rubric")
    return RunResult(
        tool=ToolInfo(name=tool.str_("name"), version=tool.str_("version", "")),
        course=o.opt_str("course"),
        deadline=o.opt_str("deadline"),
        rubric=RubricInfo(name=rubric.str_("name"), sha256=rubric.str_("sha256", "")),
        started_at=o.str_("started_at"),
        finished_at=o.str_("finished_at", ""),
        groups=o.items("groups", _group_from_json),
        schema_version=version,
        shared_layer=o.json_dict("shared_layer"),
    )


def read_results(path: Path) -> RunResult:
    """Read and parse a results.json file; ConfigError (naming the file) when unusable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: line {exc.lineno}: not valid JSON ({exc.msg}); is the file truncated?"
        ) from None
    return run_from_json(data, where=str(path))


# --- writing ---------------------------------------------------------------------------------


def _holds(path: Path, data: bytes) -> bool:
    """True when ``path`` is a regular file (not a link), mode 0644, with exactly ``data``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size != len(data):
            return False
        if stat.S_IMODE(info.st_mode) != 0o644:
            return False
        return fh.read(len(data) + 1) == data


def dumps_json(data: JSONDict) -> str:
    """The canonical results.json text: 2-space indent, UTF-8, trailing newline.

    ``<``, ``>`` and ``&`` only occur inside JSON strings, so writing them as ``\\u`` escapes
    keeps the data identical while no student markup survives if the file is ever served as HTML.
    """
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)
    text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return text + "\n"


def write_text_atomic(path: Path, text: str) -> None:
    """Write a file via a temp file in the same folder and os.replace: all or nothing.

    A regular file that already holds exactly this text is left as it is (a warm re-run
    rewrites most of its report unchanged; each write costs an fsync). Raises
    InfrastructureError when the folder is unwritable or the disk is full.
    """
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        # Non-UTF-8 student file names arrive as lone surrogates (os.fsdecode): show U+FFFD.
        data = text.encode("utf-8", "surrogateescape" if _only_escapes(text) else "surrogatepass")
        data = data.decode("utf-8", "replace").encode("utf-8")
    if _holds(path, data):
        return
    try:
        fsutil.write_bytes_atomic(path, data)
    except OSError as exc:
        raise InfrastructureError(f"cannot write {path}: {exc.strerror or exc}") from None


def _only_escapes(text: str) -> bool:
    """True when every surrogate in ``text`` is a surrogateescape'd byte (U+DC80..U+DCFF)."""
    return all("\udc80" <= ch <= "\udcff" for ch in text if "\ud800" <= ch <= "\udfff")


def write_json_atomic(path: Path, data: JSONDict) -> None:
    """Serialise ``data`` first, then write it atomically (never half a file)."""
    write_text_atomic(path, dumps_json(data))
