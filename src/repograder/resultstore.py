"""The result store of an output folder: each finished group in ``groups/<slug>.json`` (resume)
and the result cache keyed by commit, rubric, tool version and sandbox (``cache_key``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from repograder import (
    __version__,
)
from repograder.config import GroupSpec
from repograder.context import GradingContext
from repograder.errors import RepograderError
from repograder.model import (
    GroupResult,
    JSONDict,
)
from repograder.report import results as report_results


def cache_key(
    group: GroupSpec, commit: str | None, ctx: GradingContext, lfs_missing: Sequence[str] = ()
) -> str | None:
    """Identity of a grading: same key, same result. Plain folders (no commit) never cache.

    ``lfs_missing`` are the Git LFS files left as pointers (objects not fetched: offline, a
    server error, a size cap): the same commit graded once they arrive is another grading.
    """
    if commit is None:
        return None
    material = json.dumps(
        [
            group.repo,
            group.ref,
            commit,
            ctx.rubric.sha256,
            __version__,
            ctx.sandbox_id,
            ctx.deadline.isoformat() if ctx.deadline else None,
            list(group.members),
            sorted(lfs_missing),
        ]
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _state_path(ctx: GradingContext, group: GroupSpec) -> Path:
    return ctx.out_dir / "groups" / f"{group.slug}.json"


def load_stored(
    ctx: GradingContext, group: GroupSpec, key: str | None = None
) -> GroupResult | None:
    """The group's stored result; with ``key``, only if it was graded under that key."""
    path = _state_path(ctx, group)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or (key is not None and data.get("cache_key") != key):
        return None
    try:
        return report_results.group_from_json(data.get("group"))
    except RepograderError:
        return None


def load_cached(ctx: GradingContext, group: GroupSpec, key: str | None) -> GroupResult | None:
    """The stored result of an earlier identical grading, if any."""
    if key is None or ctx.force:
        return None
    return load_stored(ctx, group, key)


def store(ctx: GradingContext, group: GroupSpec, result: GroupResult, key: str | None) -> None:
    data: JSONDict = {"cache_key": key, "group": report_results.group_to_json(result)}
    report_results.write_json_atomic(_state_path(ctx, group), data)
