"""A pipeline GradingContext for tests: everything under one temporary folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repograder import pipeline
from repograder.config import Rubric, load_rubric
from repograder.git import FetchOptions
from repograder.sandbox.base import Sandbox


def grading_context(
    root: Path, sandbox: Sandbox | None, rubric: Rubric | None = None, **kw: Any
) -> pipeline.GradingContext:
    """Output in ``root/out``, caches and mirrors in ``root/cache``; ``rubric`` defaults to
    the built-in one; ``kw`` sets any other field (deadline, force, ...)."""
    return pipeline.GradingContext.build(
        rubric=rubric or load_rubric(),
        out_dir=root / "out",
        cache_dir=root / "cache",
        fetch=FetchOptions(cache_dir=root / "cache" / "mirrors"),
        sandbox=sandbox,
        **kw,
    )
