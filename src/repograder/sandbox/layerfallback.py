"""What to build when an inferred shared layer did not build (pure).

``layerplan.infer_layer`` decides each package's line on its own, from what the students
wrote, so the layer can fail where every group's own build works (``numba==0.58.1`` needs
``numpy<1.27`` while the layer says ``numpy==2.1.0``; a package half the course misspelled).
Without a fallback the whole course built without a layer, and without the rubric's ``apt``
that rides on it (helper-32, helper-35). :func:`next_step` gives what is left of the layer,
one step at a time; ``DockerSandbox`` builds it, and asks again when that fails too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from repograder.sandbox import pins

# The build summary of a failed resolution (buildplan.summarize_log).
RESOLUTION_FAILED = "dependency resolution failed"
# A package the failed build names as the cause (buildplan._DECISIVE's summaries): not on the
# index (left out), or no such version, no wheel for the sandbox, failed to build (unpinned).
# Names bounded and starting after a space: linear on a long summary (helper-37).
_NOT_ON_INDEX = re.compile(r"(?<!\S)(\S{1,300}) was not found in the package registry")
_UNAVAILABLE = re.compile(
    r"no version of (\S{1,300}) matches|(?<!\S)(\S{1,300}) has no wheel for the grader's"
    r"|failed to build (\S{1,300})"
)
# Steps that each drop or unpin what the last failure named: uv names one package per
# failure, and a course can list hundreds (1,100 made-up names made ~980 nested builds and a
# RecursionError before: helper-36).
MAX_LEAVE_OUTS = 3


@dataclass(frozen=True)
class Step:
    """One fallback: the layer's requirements and warm-ups, and why (for the report)."""

    requirements: tuple[str, ...]
    warmup: tuple[str, ...]
    why: str
    leave_out: bool = False  # counts against MAX_LEAVE_OUTS


def _unpinned_or_dropped(line: str) -> str:
    """``line`` without its version, or "" (left out) when it has none to lose."""
    bare = pins.unversioned((line,))[0]
    return bare if bare != line else ""


def next_step(
    summary: str,
    requirements: tuple[str, ...],
    warmup: tuple[str, ...],
    *,
    leave_outs: int,
    rubric_apt: tuple[str, ...],
    rubric_warmup: tuple[str, ...],
) -> Step | None:
    """What to build after a layer of ``requirements`` failed with ``summary``; None when
    nothing is left to try. In order, each bounded, so a chain of them ends within
    :data:`MAX_LEAVE_OUTS` + 2 builds:

    1. the packages the summary names: left out when the index does not have them, else
       without their version, or left out when they have none to lose (at most
       :data:`MAX_LEAVE_OUTS` times, ``leave_outs`` so far);
    2. for a resolution failure, the same packages without their versions
       (``pins.unversioned``: lines that exclude each other);
    3. when the rubric adds apt packages (``rubric_apt``), a layer of those alone with the
       rubric's own warm-ups; also after a timed-out build, which is not retried otherwise.
    """
    summary = summary[:4000]
    timed_out = "timed out" in summary
    gone = {pins.line_name(m.group(1)) for m in _NOT_ON_INDEX.finditer(summary)}
    unusable = {
        pins.line_name(next(g for g in m.groups() if g)) for m in _UNAVAILABLE.finditer(summary)
    }
    changed = tuple(
        kept
        for line in requirements
        if (
            kept := ""
            if pins.line_name(line) in gone
            else _unpinned_or_dropped(line)
            if pins.line_name(line) in unusable
            else line
        )
    )
    if not timed_out and changed != requirements and leave_outs < MAX_LEAVE_OUTS:
        named = ", ".join(sorted((gone | unusable) - {""}))
        return Step(changed, warmup, f"without the version of, or leaving out, {named}", True)
    unversioned = pins.unversioned(requirements)
    if not timed_out and summary.startswith(RESOLUTION_FAILED) and unversioned != requirements:
        why = "the same packages without their versions (lines that exclude each other)"
        return Step(unversioned, warmup, why)
    if requirements and rubric_apt:
        why = "the rubric's apt packages alone (its Python packages did not build)"
        return Step((), rubric_warmup, why)
    return None
