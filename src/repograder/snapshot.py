"""Deadline snapshots: record every group's commit by *our* clock, grade exactly those later.

Committer dates are written by the students' machines and can be forged; the time at which the
grader fetched a commit cannot. ``repograder snapshot`` at the deadline records, for every group,
the tip of its ref and when it was fetched; ``repograder run --snapshot FILE`` grades exactly
those commits, with no committer-date filtering (the snapshot *is* the deadline).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from repograder import git
from repograder.config import CourseConfig, GroupSpec
from repograder.errors import ConfigError, FetchError
from repograder.model import GroupResult, GroupStatus, JSONDict, JSONValue
from repograder.report.results import write_json_atomic

SNAPSHOT_SCHEMA_VERSION = 1
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class SnapshotEntry:
    """One group at snapshot time: the commit fetched, or why none was."""

    name: str
    repo: str  # credentials redacted
    commit: str | None
    commit_date: str | None  # the committer date, as claimed by the commit (informational)
    fetched_at: str  # the grader's clock: the trustworthy time
    ref: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Snapshot:
    taken_at: str
    course: str | None
    deadline: str | None
    entries: tuple[SnapshotEntry, ...]
    schema_version: int = SNAPSHOT_SCHEMA_VERSION

    def entry(self, name: str) -> SnapshotEntry | None:
        """The entry of the group called `name`, if recorded."""
        return next((e for e in self.entries if e.name == name), None)


def take_snapshot(
    config: CourseConfig,
    groups: Sequence[GroupSpec],
    options: git.FetchOptions,
    clock: Clock = _now,
    on_entry: Callable[[SnapshotEntry], None] | None = None,
) -> Snapshot:
    """Fetch the tip of every group's ref into the mirror cache and record it with the time."""
    taken_at = clock().isoformat()
    entries = []
    for group in groups:
        shown = git.describe_source(group.repo)
        commit = date = error = None
        try:
            found = git.resolve_commit(group.repo, group.ref, options)
            if found is not None:
                commit, date = found
        except FetchError as exc:
            error = git.redact(str(exc), options.token)
        entry = SnapshotEntry(
            name=group.name,
            repo=shown,
            commit=commit,
            commit_date=date,
            fetched_at=clock().isoformat(),
            ref=group.ref,
            error=error,
        )
        entries.append(entry)
        if on_entry is not None:
            on_entry(entry)
    return Snapshot(
        taken_at=taken_at,
        course=config.course,
        deadline=config.deadline.isoformat() if config.deadline else None,
        entries=tuple(entries),
    )


def snapshot_to_json(snap: Snapshot) -> JSONDict:
    """The snapshot file's JSON object."""
    groups: list[JSONValue] = [
        {
            "name": e.name,
            "repo": e.repo,
            "ref": e.ref,
            "commit": e.commit,
            "commit_date": e.commit_date,
            "fetched_at": e.fetched_at,
            "error": e.error,
        }
        for e in snap.entries
    ]
    return {
        "schema_version": snap.schema_version,
        "tool": "repograder",
        "taken_at": snap.taken_at,
        "course": snap.course,
        "deadline": snap.deadline,
        "groups": groups,
    }


def write_snapshot(snap: Snapshot, path: Path) -> None:
    """Write the snapshot file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, snapshot_to_json(snap))


def _opt_str(data: dict[str, object], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where}.{key}: expected a string or null")
    return value


def _req_str(data: dict[str, object], key: str, where: str) -> str:
    value = _opt_str(data, key, where)
    if not value:
        raise ConfigError(f"{where}.{key}: missing")
    return value


def read_snapshot(path: Path) -> Snapshot:
    """Read a snapshot file; ConfigError naming the file and key when it is unusable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError):
        raise ConfigError(f"{path}: not a JSON snapshot file") from None
    where = str(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected an object")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ConfigError(f"{where}.schema_version: missing or invalid")
    if version > SNAPSHOT_SCHEMA_VERSION:
        raise ConfigError(
            f"{where}: schema_version {version} was written by a newer repograder "
            f"(this one reads up to {SNAPSHOT_SCHEMA_VERSION})"
        )
    raw_groups = data.get("groups")
    if not isinstance(raw_groups, list):
        raise ConfigError(f"{where}.groups: expected a list")
    entries = []
    for i, item in enumerate(raw_groups):
        at = f"{where}.groups[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{at}: expected an object")
        entries.append(
            SnapshotEntry(
                name=_req_str(item, "name", at),
                repo=_opt_str(item, "repo", at) or "",
                ref=_opt_str(item, "ref", at),
                commit=_opt_str(item, "commit", at),
                commit_date=_opt_str(item, "commit_date", at),
                fetched_at=_req_str(item, "fetched_at", at),
                error=_opt_str(item, "error", at),
            )
        )
    return Snapshot(
        taken_at=_req_str(data, "taken_at", where),
        course=_opt_str(data, "course", where),
        deadline=_opt_str(data, "deadline", where),
        entries=tuple(entries),
        schema_version=version,
    )


@dataclass(frozen=True)
class SnapshotPlan:
    """What ``run --snapshot`` grades: pinned groups, and results for groups it cannot."""

    pinned: tuple[GroupSpec, ...]
    unfetched: tuple[GroupResult, ...]


def apply_snapshot(
    snap: Snapshot, groups: Sequence[GroupSpec], all_groups: Sequence[GroupSpec] | None = None
) -> SnapshotPlan:
    """Pin each group's ref to its recorded commit; groups without one become error results.

    ``all_groups`` (default: ``groups``) is the whole groups file, used to tell a snapshot of
    another course from one that merely does not cover this selection.
    """
    known = {g.name for g in (all_groups if all_groups is not None else groups)}
    strangers = [e.name for e in snap.entries if e.name not in known]
    if strangers and not any(e.name in known for e in snap.entries):
        raise ConfigError(
            "the snapshot names none of these groups (was it taken from another groups file?): "
            + ", ".join(map(repr, strangers[:5]))
        )
    pinned: list[GroupSpec] = []
    unfetched: list[GroupResult] = []
    for group in groups:
        entry = snap.entry(group.name)
        shown = git.describe_source(group.repo)
        if entry is None:
            reason = f"not in the snapshot taken at {snap.taken_at}"
        elif entry.repo and entry.repo != shown:
            raise ConfigError(
                f"group {group.name!r}: the snapshot recorded {entry.repo}, the groups file "
                f"now says {shown}; take a new snapshot or restore the groups file"
            )
        elif entry.error is not None:
            reason = f"could not be fetched at the snapshot ({entry.fetched_at}): {entry.error}"
        else:
            # A plain folder has no commit: it is graded as it is now.
            pinned.append(replace(group, ref=entry.commit) if entry.commit else group)
            continue
        unfetched.append(
            GroupResult(
                name=group.name,
                repo=shown,
                status=GroupStatus.ERROR,
                error=reason,
                members=group.members,
            )
        )
    return SnapshotPlan(pinned=tuple(pinned), unfetched=tuple(unfetched))
