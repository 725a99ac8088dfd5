"""Grade on several machines: ``run --shard K/N`` takes a slice, ``merge`` joins the outputs.

Shards are round-robin over the order of groups.yaml: group i (0-based) belongs to shard
``i % N + 1``. That is deterministic on every machine (no hashing, no clock) and balanced to
within one group; every shard must read the same groups file, as a CI matrix does.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from repograder.errors import ConfigError
from repograder.fsutil import group_slug
from repograder.model import GroupResult, JSONDict, RunResult
from repograder.report import GROUPS_DIR, write_report
from repograder.report.results import read_results

T = TypeVar("T")
_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as in a CI matrix
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"2/5"`` -> Shard(2, 5); ConfigError when malformed or out of range."""
    match = _SHARD_RE.match(text)
    if not match:
        raise ConfigError(f"--shard: {text!r} is not K/N (e.g. 2/5)")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise ConfigError(f"--shard: {text!r}: K must be between 1 and N (N >= 1)")
    return Shard(index, count)


def select_shard(items: Sequence[T], shard: Shard) -> tuple[T, ...]:
    """The items of this shard: round-robin by position."""
    return tuple(item for i, item in enumerate(items) if i % shard.count == shard.index - 1)


@dataclass(frozen=True)
class MergeResult:
    run: RunResult
    missing: tuple[str, ...]  # groups of the groups file that no shard graded


def merge_runs(
    sources: Sequence[tuple[Path, RunResult]], order: Sequence[str] | None = None
) -> MergeResult:
    """Combine shard runs into one; ConfigError on overlapping groups or incompatible runs."""
    if not sources:
        raise ConfigError("merge: no input folders")
    first_path, first = sources[0]
    owner: dict[str, Path] = {}
    groups: list[GroupResult] = []
    for path, run in sources:
        for label, mine, theirs in (
            ("schema_version", run.schema_version, first.schema_version),
            ("rubric", run.rubric.sha256, first.rubric.sha256),
            ("deadline", run.deadline, first.deadline),
        ):
            if mine != theirs:
                raise ConfigError(
                    f"merge: {path} and {first_path} differ in {label} "
                    f"({mine!r} vs {theirs!r}); only shards of the same run can be merged"
                )
        # Rows of groups a shard did not grade carry nothing to merge.
        for group in (g for g in run.groups if not g.not_graded):
            if group.name in owner:
                raise ConfigError(
                    f"merge: group {group.name!r} is in both {owner[group.name]} and {path}; "
                    "were the shards run with the same --shard twice?"
                )
            owner[group.name] = path
            groups.append(group)
    missing: tuple[str, ...] = ()
    if order is not None:
        rank = {name: i for i, name in enumerate(order)}
        # Groups the file does not know keep their input order after the known ones.
        groups.sort(key=lambda g: rank.get(g.name, len(rank)))
        missing = tuple(name for name in order if name not in owner)
    runs = [run for _, run in sources]
    merged = RunResult(
        tool=first.tool,
        course=next((r.course for r in runs if r.course), None),
        deadline=first.deadline,
        rubric=first.rubric,
        started_at=min(r.started_at for r in runs),
        finished_at=max(r.finished_at for r in runs),
        groups=tuple(groups),
        schema_version=first.schema_version,
        shared_layer=_merged_layer(runs),
    )
    return MergeResult(merged, missing)


def _merged_layer(runs: Sequence[RunResult]) -> JSONDict:
    """The shards' shared layer: each decides it from the whole course's data, so they agree
    unless their builds ended differently (a fallback, a failure) or a shard used none. Their
    image tags are not compared (each runner builds its own base image). When they differ, no
    shard's layer is claimed for the others' groups."""
    if not any(r.shared_layer for r in runs):
        return {}
    kinds = {_layer_content(r.shared_layer) for r in runs}
    if len(kinds) == 1:
        return dict(next(r.shared_layer for r in runs if r.shared_layer))
    return {"why": "the shards built different shared layers: see each shard's own report"}


def _layer_content(layer: JSONDict) -> str:
    keys = ("requirements", "apt", "warmup", "fallback")
    return json.dumps([layer.get(k) for k in keys] + [bool(layer.get("error"))], sort_keys=True)


def _copy_artifacts(src_dir: Path, out_dir: Path, group: GroupResult) -> None:
    """Copy a group's artifact folder (thumbnails, logs, notebook renders) and cache state."""
    slug = group_slug(group.name)
    src_groups = src_dir / GROUPS_DIR
    dest_groups = out_dir / GROUPS_DIR
    folder = src_groups / slug
    if folder.is_dir() and not folder.is_symlink():
        dest = dest_groups / slug
        if dest.resolve() != folder.resolve():
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(folder, dest, symlinks=True)  # links are copied, never followed
    state = src_groups / f"{slug}.json"
    if state.is_file() and not state.is_symlink():
        dest_state = dest_groups / state.name
        if dest_state.resolve() != state.resolve():
            shutil.copyfile(state, dest_state)


def merge_dirs(
    inputs: Sequence[Path], out_dir: Path, order: Sequence[str] | None = None
) -> MergeResult:
    """Read each shard's results.json, merge, copy artifacts and write the report to out_dir."""
    sources = [(path, read_results(path / "results.json")) for path in inputs]
    result = merge_runs(sources, order)
    (out_dir / GROUPS_DIR).mkdir(parents=True, exist_ok=True)
    for path, run in sources:
        for group in run.groups:
            _copy_artifacts(path, out_dir, group)
    write_report(result.run, out_dir)
    return result
