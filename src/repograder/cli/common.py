"""What every subcommand shares: printing to the terminal, error lines, the cache folder, and
the overrides file a run and ``adjust`` apply.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import platformdirs

from repograder.config import (
    CourseConfig,
    Rubric,
)
from repograder.model import GroupStatus, RunResult
from repograder.termtext import terminal_safe


def _say(*values: object, file: Any = None, end: str = "\n", flush: bool = False) -> None:
    """print() for everything the CLI shows: student text (README lines, file names, group
    names, errors) has its control characters and bidi marks made visible (termtext)."""
    text = " ".join(str(v) for v in values)
    print(terminal_safe(text), file=file, end=end, flush=flush)


TEMPLATE_CACHE = "templates"  # compiled report templates, under the cache folder


def cache_dir() -> Path:
    """``REPOGRADER_CACHE`` or the user's cache folder."""
    env = os.environ.get("REPOGRADER_CACHE")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("repograder"))


def _err(message: str) -> None:
    _say(f"repograder: {message}", file=sys.stderr, flush=True)


def overrides_path(config: CourseConfig, option: str | None) -> Path:
    """``--overrides``, else groups.yaml's ``overrides``, else overrides.yaml beside it."""
    if option:
        return Path(option)
    return config.overrides_path or config.path.resolve().parent / "overrides.yaml"


def with_overrides(
    run: RunResult, config: CourseConfig, rubric: Rubric | None, option: str | None
) -> RunResult:
    """``run`` with the lecturer's overrides applied; says which were flagged or unmatched."""
    from repograder import overrides

    path = overrides_path(config, option)
    items = overrides.load_overrides(path, config, rubric)
    if not items:
        return overrides.apply_overrides(run, ())
    run = overrides.apply_overrides(run, items)
    graded = {g.name for g in run.groups if g.status is GroupStatus.GRADED}
    for o in overrides.unmatched(run, items):
        if o.group in graded:
            _err(f"{path}:{o.line}: override of {o.group}/{o.check}: the group has no such check")
    for group, check in overrides.stale(run):
        _err(
            f"override of {group}/{check} was written for another commit: NOT applied, "
            "review it (the report flags it; `repograder adjust` renews it)"
        )
    return run
