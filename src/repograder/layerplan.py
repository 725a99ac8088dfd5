"""The shared environment layer, inferred from the course's own environment files.

When the rubric declares no ``environment: common:`` list, the packages that several groups ask
for form the shared layer: built once (bytecode compiled, system libraries and warm-ups
included), every group's environment then adds only its own difference on top, exactly as with
a declared layer (see docs/SANDBOX.md, "Layered environments"). The layer is only a speed-up:
each group's environment is still its own resolved lock (``templates/layer.py`` removes the
layer's packages a group did not ask for), so the inferred layer never changes a verdict.

:func:`infer_layer` is pure. :class:`CourseLayer` collects every group's requirements after the
static stage (fetch + environment detection) and decides once all groups have reported, before
the first build; the pipeline waits for it (``pipeline.grade_all``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import Specifier
from packaging.utils import canonicalize_name

from repograder.model import JSONDict

DEFAULT_MIN_SHARE = 0.5  # a package is shared when at least half the groups ask for it ...
DEFAULT_MIN_GROUPS = 2  # ... and at least two groups (one group shares nothing)

# Warm-ups that pay a first-use cost once, in the layer, instead of in every session. Run with
# HOME and NUMBA_CACHE_DIR under the layer's warm home, which every session copies
# (buildplan.WARM_HOME). Measured on the benchmark's audio groups (docs/SANDBOX.md):
# - librosa: numba JIT-compiles its stft/mel helpers on first call (cached per source file);
# - matplotlib: the first pyplot import builds the font cache (~/.cache/matplotlib).
# A bare `import torch` is not here: its cost is reading the files (page cache), which a
# committed image does not keep.
WARMUPS: dict[str, str] = {
    "librosa": (
        "python -c 'import numpy as np, librosa; y = np.zeros(16000, dtype=np.float32); "
        "librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=16000, n_mels=64)); "
        "librosa.stft(y); librosa.stft(y.astype(np.float64))'"
    ),
    "matplotlib": "python -c 'import matplotlib.pyplot'",  # MPLBACKEND=Agg in the warm-up
}


@dataclass(frozen=True)
class SharedPackage:
    """One package of the inferred layer: its line, who asks for it and who differs."""

    name: str  # canonical distribution name
    line: str  # the requirement line the layer installs
    asked_by: int  # how many groups ask for it
    differing: tuple[str, ...]  # groups whose own specifier differs (their layer replaces it)


@dataclass(frozen=True)
class LayerChoice:
    """The inferred shared layer (empty ``packages``: no layer) and why."""

    packages: tuple[SharedPackage, ...]
    groups: int  # groups whose environment file was read
    threshold: int  # a package is shared when at least this many groups ask for it
    warmup: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()  # lines added for every group (notebook tooling)

    @property
    def requirements(self) -> tuple[str, ...]:
        """The layer's requirement lines, in a stable order."""
        return tuple(p.line for p in self.packages) + self.extra

    def describe(self) -> str:
        """One line for the report: what was shared and why."""
        if not self.packages:
            return (
                f"no shared layer: no package is asked for by {self.threshold} of the "
                f"{self.groups} groups"
            )
        names = ", ".join(f"{p.line} ({p.asked_by})" for p in self.packages)
        return (
            f"shared layer inferred from the course: packages at least {self.threshold} of "
            f"{self.groups} groups ask for (count in brackets): {names}"
        )

    def group_note(self, group: str) -> str:
        """The report note of one group: the layer and this group's own differences."""
        own = [p.name for p in self.packages if group in p.differing]
        if own:
            return self.describe() + "; this group's own versions of: " + ", ".join(own)
        return self.describe()

    def to_json(self) -> JSONDict:
        """Plain data for ``shared-layer.json`` in the output folder."""
        return {
            "groups": self.groups,
            "threshold": self.threshold,
            "requirements": list(self.requirements),
            "warmup": list(self.warmup),
            "packages": [
                {
                    "name": p.name,
                    "line": p.line,
                    "asked_by": p.asked_by,
                    "differing": list(p.differing),
                }
                for p in self.packages
            ],
            "why": self.describe(),
        }


def _parse(line: str) -> Requirement | None:
    text = line.split("#", 1)[0].strip()
    if not text or text.startswith(("-", ".", "/")):
        return None
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return None
    if req.url or req.marker is not None:
        return None  # URLs and platform-specific lines stay with their group
    return req


def _reaches_latest(req: Requirement) -> bool:
    """True when the specifier has no upper bound: it resolves to the newest version, as an
    unpinned requirement does (lower bounds and exclusions only)."""
    return all(s.operator in (">=", ">", "!=") for s in req.specifier)


def infer_layer(
    groups: Mapping[str, Sequence[str]],
    *,
    min_share: float = DEFAULT_MIN_SHARE,
    min_groups: int = DEFAULT_MIN_GROUPS,
    extra: Sequence[str] = (),
) -> LayerChoice:
    """The shared layer of ``groups`` (group name -> its requirement lines).

    A package is shared when at least ``max(min_groups, ceil(min_share * len(groups)))``
    groups ask for it (a group's lines for one package are combined). Its version: groups
    whose specifier has no upper bound (unpinned, ``>=``, ``>``, ``!=``) resolve to the newest
    version their exclusions allow, so they form one cohort; a lower bound or exclusion joins
    its line only when more than half of that cohort states it, so a minority's ``!=`` (the
    newest version excluded) or impossible ``>=3.0`` cannot move or break the layer for the
    others (each group's own build resolves its own line; the groups on either side of an
    exclusion "differ"). Every distinct bounded specifier (``==``, ``<``, ``~=``) is a cohort
    of its own. The largest cohort (ties: the newest-version cohort, then the specifier text)
    decides the layer's line; the other groups "differ", their own layer replaces it. All
    chosen lines are resolved together when the layer is built (one ``uv pip compile``); if
    they conflict, the layer fails to build and groups are built on the base image (noted).
    ``extra`` lines (the notebook tooling) are added when anything is shared.
    """
    per_group: dict[str, dict[str, Requirement]] = {}
    for group, lines in groups.items():
        reqs: dict[str, Requirement] = {}
        for line in lines:
            req = _parse(line)
            if req is None:
                continue
            known = reqs.setdefault(canonicalize_name(req.name), req)
            if known is not req:  # `numpy>=1.20` and `numpy!=2.4.6` on two lines: both hold
                known.specifier &= req.specifier
                known.extras |= req.extras
        per_group[group] = reqs
    n = len(per_group)
    threshold = max(min_groups, math.ceil(min_share * n - 1e-9))
    counts: dict[str, int] = {}
    for reqs in per_group.values():
        for name in reqs:
            counts[name] = counts.get(name, 0) + 1
    shared: list[SharedPackage] = []
    for name in sorted(counts):
        if counts[name] < threshold:
            continue
        cohorts: dict[str, list[str]] = {}  # "" = newest-version cohort
        extras: set[str] = set()
        # The newest-version cohort's bounds -> the groups stating them; a Specifier compares
        # canonically (`>=1.26` is `>= 1.26.0`).
        clauses: dict[Specifier, list[str]] = {}
        for group, reqs in sorted(per_group.items()):
            req = reqs.get(name)
            if req is None:
                continue
            extras.update(canonicalize_name(e) for e in req.extras)
            if _reaches_latest(req):
                cohorts.setdefault("", []).append(group)
                for clause in set(req.specifier):
                    clauses.setdefault(clause, []).append(group)
            else:
                cohorts.setdefault(str(req.specifier), []).append(group)
        key = min(cohorts, key=lambda k: (-len(cohorts[k]), k != "", k))
        newest = cohorts.get("", [])
        # A strict majority: in a cohort of two, one group's typo would otherwise decide.
        kept = {c for c, who in clauses.items() if 2 * len(who) > len(newest)}
        spec = ",".join(sorted(str(c) for c in kept)) if key == "" else key
        extra_text = f"[{','.join(sorted(extras))}]" if extras else ""
        differing = {g for k, members in cohorts.items() if k != key for g in members}
        if key == "":
            # A left-out lower bound is met by the newest version; an exclusion may name it:
            # a group on the other side of one (left out: who states it; kept: who does not)
            # may resolve another version than the layer's, and its own build decides.
            for clause, who in clauses.items():
                if clause.operator == "!=":
                    differing.update(who if clause not in kept else set(newest) - set(who))
        shared.append(
            SharedPackage(name, f"{name}{extra_text}{spec}", counts[name], tuple(sorted(differing)))
        )
    names = {p.name for p in shared}
    warmup = tuple(command for package, command in WARMUPS.items() if package in names)
    return LayerChoice(
        packages=tuple(shared),
        groups=n,
        threshold=threshold,
        warmup=warmup,
        extra=tuple(extra) if shared else (),
    )


class CourseLayer:
    """Collects every group's requirements, then decides the shared layer once.

    ``offer`` (a group's requirement lines, after its static stage) or ``withdraw`` (no
    environment: fetch failed, no environment file) must be called once per expected group;
    when the last one arrives, :func:`infer_layer` runs and ``on_ready`` gets the choice (the
    pipeline hands it to the sandbox) before any ``wait`` returns.
    """

    def __init__(
        self,
        expected: Sequence[str],
        on_ready: Callable[[LayerChoice], None],
        *,
        min_share: float = DEFAULT_MIN_SHARE,
        min_groups: int = DEFAULT_MIN_GROUPS,
        extra: Sequence[str] = (),
    ) -> None:
        self._pending = set(expected)
        self._offers: dict[str, tuple[str, ...]] = {}
        self._on_ready = on_ready
        self._min_share = min_share
        self._min_groups = min_groups
        self._extra = tuple(extra)
        self._cond = threading.Condition()
        self.choice: LayerChoice | None = None
        self._failure: BaseException | None = None

    def offer(self, group: str, requirements: Sequence[str]) -> None:
        """Report a group's requirement lines (idempotent per group)."""
        self._arrive(group, tuple(requirements))

    def withdraw(self, group: str) -> None:
        """Report that a group has no environment to share (no-op after ``offer``)."""
        self._arrive(group, None)

    def _arrive(self, group: str, requirements: tuple[str, ...] | None) -> None:
        with self._cond:
            if group not in self._pending:
                return
            self._pending.discard(group)
            if requirements is not None:
                self._offers[group] = requirements
            if self._pending:
                return
            try:
                choice = infer_layer(
                    self._offers,
                    min_share=self._min_share,
                    min_groups=self._min_groups,
                    extra=self._extra,
                )
                self._on_ready(choice)
                self.choice = choice
            except BaseException as exc:  # waiters must not hang on a grader bug
                self._failure = exc
            self._cond.notify_all()

    def wait(self, cancel: threading.Event) -> LayerChoice | None:
        """Block until the layer is decided; None when ``cancel`` is set first.

        Re-raises an error of the decision itself (a grader bug, not a student's).
        """
        with self._cond:
            while self.choice is None and self._failure is None and not cancel.is_set():
                self._cond.wait(0.5)
            if self._failure is not None:
                raise self._failure
            return self.choice
