"""The result store of an output folder: each finished group in ``groups/<slug>.json`` (resume)
and the result cache keyed by commit, rubric, tool version and sandbox (``cache_key``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from repograder import (
    __version__,
)
from repograder.config import GroupSpec
from repograder.errors import RepograderError
from repograder.model import (
    GroupResult,
    JSONDict,
)
from repograder.report import results as report_results

if TYPE_CHECKING:
    from repograder.context import GradingContext


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
            ctx.plan.rubric.sha256,
            __version__,
            ctx.sandbox_id,
            ctx.plan.deadline.isoformat() if ctx.plan.deadline else None,
            list(group.members),
            sorted(lfs_missing),
        ]
    )
    return hashlib.sha256(material.encode()).hexdigest()


class ResultStore:
    """The finished groups of one output folder: ``<out_dir>/groups/<slug>.json``, each
    ``{"cache_key": str | null, "group": <GroupResult JSON>}``."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir

    def _path(self, group: GroupSpec) -> Path:
        return self.out_dir / "groups" / f"{group.slug}.json"

    def load_stored(self, group: GroupSpec, key: str | None = None) -> GroupResult | None:
        """The group's stored result; with ``key``, only if it was graded under that key."""
        try:
            data = json.loads(self._path(group).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or (key is not None and data.get("cache_key") != key):
            return None
        try:
            return report_results.group_from_json(data.get("group"))
        except RepograderError:
            return None

    def load_cached(self, group: GroupSpec, key: str | None) -> GroupResult | None:
        """The stored result of an earlier identical grading (same ``key``), if any; never
        for ``key=None`` (a grading that is not to be reused)."""
        if key is None:
            return None
        return self.load_stored(group, key)

    def store(self, group: GroupSpec, result: GroupResult, key: str | None) -> None:
        """Writes the group's result atomically (a reader sees the old file or the new)."""
        data: JSONDict = {"cache_key": key, "group": report_results.group_to_json(result)}
        report_results.write_json_atomic(self._path(group), data)
