"""What grading receives from the run (``GradingContext``) in three parts: the frozen plan
(``GradingPlan``: rubric, deadline, folders, fetch options, limits, flags), the effects
(``Effects``: sandbox, result store, clock, progress) and the run control (``RunControl``:
cancel event, sandbox and fetch slots, the inferred course layer); and the progress protocol.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from repograder import (
    git,
    layerplan,
)
from repograder.config import Rubric
from repograder.model import (
    GroupResult,
)
from repograder.resultstore import ResultStore
from repograder.sandbox.base import Limits, Sandbox
from repograder.stages import (
    SandboxSlots,
)

Clock = Callable[[], datetime]
STATIC_WORKERS = 6  # groups fetched and inspected at once, whatever --jobs says
STOP_GRACE_S = 15.0  # on Ctrl-C or an infrastructure error, time for finished groups to store


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Progress(Protocol):
    """Receives stage changes; implementations must be thread-safe."""

    def begin(self, groups: Sequence[str]) -> None: ...

    def stage(self, group: str, stage: str) -> None: ...

    def done(self, group: str, result: GroupResult, cached: bool) -> None: ...

    def end(self) -> None: ...


class NoProgress:
    def begin(self, groups: Sequence[str]) -> None:
        pass

    def stage(self, group: str, stage: str) -> None:
        pass

    def done(self, group: str, result: GroupResult, cached: bool) -> None:
        pass

    def end(self) -> None:
        pass


@dataclass(frozen=True)
class GradingPlan:
    """What to grade and how, fixed for the whole run (frozen; safe to share between threads).

    ``deadline`` cuts each group's history (``None``: the branch head); ``static_only`` skips
    every build and run; ``force`` ignores stored results; ``run_id`` names the run's work
    folder ``cache_dir/work/<run_id>`` and its sandbox resources.
    """

    rubric: Rubric
    out_dir: Path
    cache_dir: Path
    fetch: git.FetchOptions
    deadline: datetime | None = None
    limits: Limits = field(default_factory=Limits)
    static_only: bool = False
    force: bool = False
    run_id: str = "run"


@dataclass(frozen=True)
class Effects:
    """What grading does to the world or reads from it: the sandbox (``None``: static checks
    only), the result store of the output folder, the clock and the progress sink."""

    results: ResultStore
    sandbox: Sandbox | None = None
    clock: Clock = utc_now
    progress: Progress = field(default_factory=NoProgress)


@dataclass(frozen=True)
class RunControl:
    """The run's shared coordination between worker threads."""

    # Set on Ctrl-C or an infrastructure error: workers stop and store nothing half-done.
    cancel: threading.Event = field(default_factory=threading.Event)
    # Which groups may build or run in a sandbox now (grade_all sets `jobs` slots).
    sandbox_slots: SandboxSlots | None = None
    # At most STATIC_WORKERS clones at once, however many worker threads wait (one per group
    # while an inferred layer is decided).
    fetch_slots: threading.Semaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(STATIC_WORKERS)
    )
    # The shared layer inferred from every group's environment (grade_all sets it when the
    # rubric declares none): groups report after fetching, builds wait for the decision.
    course_layer: layerplan.CourseLayer | None = None


@dataclass(frozen=True)
class GradingContext:
    """Everything a group's grading needs besides the group itself, in three parts: the frozen
    ``plan``, the ``effects`` and the run ``control``. Build one with :meth:`build`."""

    plan: GradingPlan
    effects: Effects
    control: RunControl = field(default_factory=RunControl)

    @classmethod
    def build(
        cls,
        rubric: Rubric,
        out_dir: Path,
        cache_dir: Path,
        fetch: git.FetchOptions,
        *,
        deadline: datetime | None = None,
        sandbox: Sandbox | None = None,
        limits: Limits | None = None,
        static_only: bool = False,
        force: bool = False,
        run_id: str = "run",
        clock: Clock = utc_now,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> GradingContext:
        """The context from flat keywords; the result store is the one of ``out_dir``."""
        plan = GradingPlan(
            rubric=rubric,
            out_dir=out_dir,
            cache_dir=cache_dir,
            fetch=fetch,
            deadline=deadline,
            limits=limits if limits is not None else Limits(),
            static_only=static_only,
            force=force,
            run_id=run_id,
        )
        effects = Effects(
            results=ResultStore(out_dir),
            sandbox=sandbox,
            clock=clock,
            progress=progress if progress is not None else NoProgress(),
        )
        control = RunControl(cancel=cancel) if cancel is not None else RunControl()
        return cls(plan, effects, control)

    @property
    def builds(self) -> bool:
        """True when this run builds environments: a sandbox, not static-only, and the rubric
        has build or run checks."""
        return (
            self.effects.sandbox is not None
            and not self.plan.static_only
            and any(c.stage in ("build", "run") for c in self.plan.rubric.checks)
        )

    @property
    def sandbox_id(self) -> str:
        """The sandbox's part of the result-cache identity: ``"static"`` without builds."""
        sandbox = self.effects.sandbox
        if sandbox is None or self.plan.static_only:
            return "static"
        # Backends with an `identity` (docker: base image and shared layer) name it exactly.
        return str(getattr(sandbox, "identity", sandbox.name))
