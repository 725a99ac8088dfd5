"""The shared environment layer, inferred from the course's own environment files.

When the rubric declares no ``environment: common:`` list, the packages that several groups ask
for form the shared layer: built once (bytecode compiled, system libraries and warm-ups
included), every group's environment then adds only its own difference on top, exactly as with
a declared layer (see docs/SANDBOX.md, "Layered environments"). The layer is only a speed-up:
each group's environment is still its own resolved lock (``templates/layer.py`` removes the
layer's packages a group did not ask for), so the inferred layer never changes a verdict.

The rules (:func:`infer_layer`): a group asks for the packages of the index its lines name, as
the sandbox (CPython :data:`SANDBOX_PYTHON` on Linux x86_64) sees them: options, paths, URLs
and distribution files (``course_utils-0.1-py3-none-any.whl``) stay with the group, environment
markers are evaluated (true: the line counts without it; false: not asked for; undecidable:
left with the group). A package enough groups ask for is shared; its line is decided by
cohorts of groups (the newest-version cohort, each bounded specifier), the largest winning,
ties going to the newest final version allowed; within the winning cohort a bound or exclusion
is kept only when a strict majority states it, an extra only when a strict majority of all the
groups asking for the package does. A group whose own lines contradict each other
(two pins, a pin it excludes itself) shapes nothing. Every group whose line the layer's is not
is listed as differing, and the report counts them (``scipy==1.11.4 (asked by 4; 3 with their
own version)``). Packages are decided one by one: lines that cannot be installed together
(``numba==0.58.1`` needs ``numpy<1.27``, the layer says ``numpy==2.1.0``) fail to resolve, and
``DockerSandbox`` builds what is left of the layer instead (``sandbox.layerfallback``).

:func:`infer_layer` is pure. :class:`CourseLayer` collects every group's requirements after the
static stage (fetch + environment detection) and decides once all groups have reported, before
the first build; the pipeline waits for it (``pipeline.grade_all``).
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from packaging.markers import UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import Specifier, SpecifierSet
from packaging.utils import canonicalize_name, canonicalize_version
from packaging.version import InvalidVersion, Version

from repograder.envparse import LINUX_MARKERS
from repograder.model import JSONDict

DEFAULT_MIN_SHARE = 0.5  # a package is shared when at least half the groups ask for it ...
DEFAULT_MIN_GROUPS = 2  # ... and at least two groups (one group shares nothing)

SANDBOX_PYTHON = "3.11"
"""The sandbox's Python, for which environment markers are evaluated: the base image's label
``repograder.python`` (``DockerSandbox`` reads it with this default; ``repograder sandbox
build --python`` sets it). ``infer_layer``/``CourseLayer`` take another one as ``python``."""

# The kernel's release and version are not known before a container runs: a marker naming
# them is not evaluated (its line stays with its group).
_UNKNOWN_MARKER_VARS = ("platform_release", "platform_version")

# Distribution files, which pip installs from a path relative to the working directory: a
# line naming one (`course_utils-0.1-py3-none-any.whl`) parses as a (wrong) package name.
_DIST_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip", ".egg")

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

    @property
    def agreeing(self) -> int:
        """How many of the groups asking for it get the layer's line as it is (1 when a
        one-group pin won a tie: the line is fine, but nothing was agreed on)."""
        return self.asked_by - len(self.differing)

    def describe(self) -> str:
        """The line and who asked: ``scipy==1.11.4 (asked by 4; 3 with their own version)``."""
        own = len(self.differing)
        if not own:
            return f"{self.line} (asked by {self.asked_by})"
        whose = "its" if own == 1 else "their"
        return f"{self.line} (asked by {self.asked_by}; {own} with {whose} own version)"


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
        if not self.packages and self.groups < self.threshold:
            have = f"{self.groups} group{'' if self.groups == 1 else 's'}"
            return (
                f"no shared layer: {have} with an environment file, fewer than the "
                f"{self.threshold} a shared package needs"
            )
        if not self.packages:
            return (
                f"no shared layer: no package is asked for by {self.threshold} of the "
                f"{self.groups} groups"
            )
        names = ", ".join(p.describe() for p in self.packages)
        return (
            f"shared layer inferred from the course: packages at least {self.threshold} of "
            f"{self.groups} groups ask for: {names}"
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
                    "agreeing": p.agreeing,
                }
                for p in self.packages
            ],
            "why": self.describe(),
        }


def marker_environment(python: str = SANDBOX_PYTHON) -> dict[str, str]:
    """The sandbox as PEP 508 environment markers see it, for Python ``python`` ("3.11" or
    "3.11.9"). Without a patch level (the base image's label says "3.11"; it runs 3.11.2)
    ``python_full_version`` and ``implementation_version`` are not known: "" here, and a
    marker naming them is not evaluated (:func:`_parse`)."""
    parts = python.strip().split(".")
    short = ".".join(parts[:2])
    full = ".".join(parts[:3]) if len(parts) >= 3 else ""
    return {
        **LINUX_MARKERS,
        "python_version": short,
        "python_full_version": full,
        "implementation_version": full,
    }


def _parse(line: str, environment: Mapping[str, str]) -> Requirement | None:
    """The requirement a line asks the sandbox for; None for what is not a package of the
    index (options, paths, URLs, distribution files) or not asked for there (a marker false
    for ``environment``), and for a marker that cannot be decided (it stays with its group)."""
    text = line.split("#", 1)[0].strip()
    if not text or text.startswith(("-", ".", "/", "~")):
        return None
    if "/" in text.split(";", 1)[0] or "\\" in text.split(";", 1)[0]:
        return None  # a path (`libs/pkg`, `C:\pkg`) or a URL: a file of the group's own
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return None
    if req.url or req.name.lower().endswith(_DIST_SUFFIXES):
        return None  # `course_utils-0.1-py3-none-any.whl`: a committed file, not a name
    if req.marker is not None:
        unknown = [var for var, value in environment.items() if not value]
        if any(var in str(req.marker) for var in (*_UNKNOWN_MARKER_VARS, *unknown)):
            return None  # packaging would fill in the grader's own interpreter's values
        try:
            applies = req.marker.evaluate(dict(environment))
        except (UndefinedComparison, UndefinedEnvironmentName, ValueError):
            return None
        if not applies:
            return None  # `pywin32 ; sys_platform == "win32"`: not asked for in the sandbox
        req.marker = None
    return req


def _reaches_latest(req: Requirement) -> bool:
    """True when the specifier has no upper bound: it resolves to the newest version, as an
    unpinned requirement does (lower bounds and exclusions only)."""
    return all(s.operator in (">=", ">", "!=") for s in req.specifier)


def _pinned(clause: Specifier) -> str | None:
    """The version an ``==``/``===`` clause pins (canonical text); None for other clauses and
    prefix matches (``==1.26.*``)."""
    if clause.operator == "===":
        return clause.version.lower()  # arbitrary equality: compared as text, any case
    if clause.operator == "==" and not clause.version.endswith(".*"):
        return canonicalize_version(clause.version)
    return None


def _contradictory(spec: SpecifierSet) -> bool:
    """True when a group's combined specifier evidently admits no version: two different pins
    (``==1.26.4`` and ``==2.0.0`` on two lines or in two files), or a pin its own other
    clauses exclude (``==1.26.4,!=1.26.4``, ``==1.26.4,>=2``), decided with packaging's
    ``Specifier.contains`` on the pinned version. Other empty ranges (``>=2,<1``) are not
    looked for: the group's own build reports them."""
    pins = {pin for clause in spec if (pin := _pinned(clause)) is not None}
    if len(pins) != 1:
        return len(pins) > 1
    (pin,) = pins
    try:
        return not all(clause.contains(pin, prereleases=True) for clause in spec)
    except InvalidVersion:  # `===foo` is no version: nothing evident
        return False


def _release_after(version: Version, length: int) -> Version:
    """The first version after the release prefix of ``length`` parts (1.26 -> 1.27)."""
    release = version.release[:length] or (0,)
    epoch = f"{version.epoch}!" if version.epoch else ""
    return Version(epoch + ".".join(str(p) for p in (*release[:-1], release[-1] + 1)))


def _upper_bound(clause: Specifier) -> tuple[Version, int] | None:
    """The newest version a clause allows: (version, 1) when it is allowed itself, (version,
    0) when only what is just below it is; None without an upper bound."""
    op, text = clause.operator, clause.version
    try:
        if op == "==" and text.endswith(".*"):  # ==1.26.*: below 1.27
            prefix = Version(text[:-2])
            return _release_after(prefix, len(prefix.release)), 0
        if op == "~=":  # ~=1.4.5: below 1.5; ~=2.2: below 3
            base = Version(text)
            return _release_after(base, len(base.release) - 1), 0
        if op in ("==", "===", "<="):
            return Version(text), 1
        if op == "<":
            return Version(text), 0
    except InvalidVersion:  # `===foo`: no version known, taken as the oldest
        return Version("0"), 0
    return None


def _newest_allowed(spec: frozenset[Specifier] | None) -> tuple[int, int, Version, int]:
    """Sort key (greater: newer) of the newest version a cohort's specifier allows: its lowest
    upper bound, compared as packaging Versions (``==X``: X); the newest-version cohort
    (``None``) and a specifier without an upper bound count as newer than any. A pre-release,
    development or local version (``==3.0.0.dev0``, ``==2.0.0+evil``) ranks below every final
    release: one group's pin of it must not win a tie (the index rarely has it)."""
    bounds = [b for clause in spec or () if (b := _upper_bound(clause)) is not None]
    if not bounds:
        return 1, 1, Version("0"), 0
    version, inclusive = min(bounds)
    # Only a version the cohort installs (`==X`, `<=X`) can be odd; `<2.0.0rc1` is a bound.
    odd = inclusive and (version.is_prerelease or version.is_devrelease or version.local)
    return 0, int(not odd), version, inclusive


def infer_layer(
    groups: Mapping[str, Sequence[str]],
    *,
    min_share: float = DEFAULT_MIN_SHARE,
    min_groups: int = DEFAULT_MIN_GROUPS,
    extra: Sequence[str] = (),
    python: str = SANDBOX_PYTHON,
) -> LayerChoice:
    """The shared layer of ``groups`` (group name -> its requirement lines).

    What a group asks for: its lines that name a package of the index. Options, paths, URLs
    and distribution files (``course_utils-0.1-py3-none-any.whl``, ``foo-1.0.tar.gz``: files
    pip installs relative to the working directory) stay with the group. An environment
    marker is evaluated for the sandbox (CPython ``python`` on Linux x86_64,
    :func:`marker_environment`): a line whose marker is true counts without it (the markers
    of ``poetry export``/``uv export``/``pip-compile``), a line whose marker is false
    (``pywin32 ; sys_platform == "win32"``, ``tomli ; python_version < "3.11"``) is not asked
    for, a marker that cannot be evaluated leaves the line with the group.

    A package is shared when at least ``max(min_groups, ceil(min_share * len(groups)))``
    groups ask for it (a group's lines for one package are combined). A group whose combined
    specifier is evidently unsatisfiable (:func:`_contradictory`: two different pins, or a pin
    its own clauses exclude) does not shape the line: it differs, and its own build reports
    its error. Its version: groups whose specifier has no upper bound (unpinned, ``>=``,
    ``>``, ``!=``) resolve to the newest version their exclusions allow, so they form one
    cohort; a lower bound or exclusion joins its line only when more than half of that cohort
    states it, so a minority's ``!=`` (the newest version excluded) or impossible ``>=3.0``
    cannot move or break the layer for the others (each group's own build resolves its own
    line; the groups on either side of an exclusion "differ"). Every distinct bounded
    specifier (``==``, ``<``, ``~=``; compared by meaning) is a cohort of its own. The largest
    cohort decides the layer's line; ties go to the cohort allowing the newest version
    (:func:`_newest_allowed`: ``==X`` allows X, the newest-version cohort is newest, a
    pre-release or local version ranks below final releases; an ancient pin may have no wheel
    for the sandbox's Python), then to the specifier text. An extra (``tensorflow[and-cuda]``)
    joins the line only when more than half of the groups asking for the package ask for it;
    the groups whose extras the line lacks differ. The other groups
    "differ": their own layer replaces the package. All chosen lines are resolved together
    when the layer is built (one ``uv pip compile``); if they conflict, the sandbox builds
    what is left of the layer (``sandbox.layerfallback``). ``extra``
    lines (the notebook tooling) are added when anything is shared.
    """
    environment = marker_environment(python)
    per_group: dict[str, dict[str, Requirement]] = {}
    for group, lines in groups.items():
        reqs: dict[str, Requirement] = {}
        for line in lines:
            req = _parse(line, environment)
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
        # None: the newest-version cohort; a bounded cohort is its clauses (a Specifier
        # compares canonically: `>=1.26` is `>= 1.26.0`, `==1.26.4.0` is `==1.26.4`).
        cohorts: dict[frozenset[Specifier] | None, list[str]] = {}
        texts: dict[frozenset[Specifier] | None, str] = {None: ""}
        extras_of: dict[str, frozenset[str]] = {}
        contradicting: list[str] = []
        # The newest-version cohort's bounds -> the groups stating them.
        clauses: dict[Specifier, list[str]] = {}
        for group, reqs in sorted(per_group.items()):
            req = reqs.get(name)
            if req is None:
                continue
            if _contradictory(req.specifier):
                contradicting.append(group)
                continue
            extras_of[group] = frozenset(canonicalize_name(e) for e in req.extras)
            if _reaches_latest(req):
                cohorts.setdefault(None, []).append(group)
                for clause in set(req.specifier):
                    clauses.setdefault(clause, []).append(group)
            else:
                own = frozenset(req.specifier)
                texts.setdefault(own, str(req.specifier))
                cohorts.setdefault(own, []).append(group)
        if not cohorts:
            continue  # every group asking contradicts itself: no line to share
        # Python's max keeps the first of equals: the text order decides the last ties.
        key = max(
            sorted(cohorts, key=lambda k: texts[k]),
            key=lambda k: (len(cohorts[k]), _newest_allowed(k)),
        )
        newest = cohorts.get(None, [])
        # A strict majority: in a cohort of two, one group's typo would otherwise decide.
        kept = {c for c, who in clauses.items() if 2 * len(who) > len(newest)}
        spec = ",".join(sorted(str(c) for c in kept)) if key is None else texts[key]
        # An extra (often heavy: tensorflow[and-cuda]) needs a strict majority of every group
        # asking for the package, not of the winning cohort: a one-group cohort that won a
        # tie is a majority of itself.
        wanted = Counter(e for extras_wanted in extras_of.values() for e in extras_wanted)
        extras = frozenset(e for e, k in wanted.items() if 2 * k > counts[name])
        extra_text = f"[{','.join(sorted(extras))}]" if extras else ""
        differing = {g for k, members in cohorts.items() if k != key for g in members}
        differing.update(contradicting)
        # A group asking for an extra the line lacks adds it in its own layer; one without
        # the line's extra gets the same version (its own lock drops the extra's packages).
        differing.update(g for g, own in extras_of.items() if not own <= extras)
        if key is None:
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
        python: str = SANDBOX_PYTHON,
    ) -> None:
        self._pending = set(expected)
        self._offers: dict[str, tuple[str, ...]] = {}
        self._on_ready = on_ready
        self._min_share = min_share
        self._min_groups = min_groups
        self._extra = tuple(extra)
        self._python = python
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
                    python=self._python,
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
