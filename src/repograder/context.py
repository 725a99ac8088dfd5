"""What grading receives from the run: the course plan, the sandbox, the clock, the progress
sink and the run's controls (``GradingContext``), and the progress protocol.
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
class GradingContext:
    """Everything a group's grading needs besides the group itself."""

    rubric: Rubric
    out_dir: Path
    cache_dir: Path
    fetch: git.FetchOptions
    deadline: datetime | None = None
    sandbox: Sandbox | None = None  # None: static checks only
    limits: Limits = field(default_factory=Limits)
    static_only: bool = False
    force: bool = False
    run_id: str = "run"
    clock: Clock = utc_now
    progress: Progress = field(default_factory=NoProgress)
    # Set on Ctrl-C or an infrastructure error: workers stop and store nothing half-done.
    cancel: threading.Event = field(default_factory=threading.Event)
    # Which groups may build or run in a sandbox now (grade_all sets `jobs` slots).
    sandbox_slots: SandboxSlots | None = None
    # The shared layer inferred from every group's environment (grade_all sets it when the
    # rubric declares none): groups report after fetching, builds wait for the decision.
    course_layer: layerplan.CourseLayer | None = None
    # At most STATIC_WORKERS clones at once, however many worker threads wait (one per group
    # while an inferred layer is decided).
    fetch_slots: threading.Semaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(STATIC_WORKERS)
    )

    @property
    def sandbox_id(self) -> str:
        if self.sandbox is None or self.static_only:
            return "static"
        # Backends with an `identity` (docker: base image and shared layer) name it exactly.
        return str(getattr(self.sandbox, "identity", self.sandbox.name))
