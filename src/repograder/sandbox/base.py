"""The Sandbox protocol and the values that cross it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from repograder.facts import (  # re-exported: their old home
    BuildResult as BuildResult,
)
from repograder.facts import (
    EnvSpec as EnvSpec,
)
from repograder.model import ExecResult

# Memory of one environment build container (MiB): builds run without the rubric's limits
# (pip and compilers need more than most sessions), so the number of builds at once is bounded
# by this too.
BUILD_MEMORY_MB = 4096


@dataclass(frozen=True)
class Limits:
    """Resource limits for everything that runs student code.

    Defaults follow PrairieLearn / INGInious / autograder.io practice; rubric ``limits:`` and
    CLI options override them.
    """

    memory_mb: int = 2048
    cpus: float = 1.0
    pids: int = 512
    timeout_s: float = 600.0  # per command
    output_bytes: int = 64 * 1024  # kept per command: head and tail halves
    disk_mb: int = 1024  # writable space: 3/4 for the checkout copy, 1/8 each for /tmp and home
    network: bool = False  # network while running student code (always on while installing)


@dataclass(frozen=True)
class HelperResult:
    """Outcome of one of the grader's own helper scripts run inside a session.

    ``exit_code`` and ``timed_out`` are decided by the host (the engine's exec inspect and a
    host-side timer), never by anything the helper or student code printed. ``stdout`` holds at
    most the ``max_bytes`` the caller asked for.
    """

    exit_code: int | None  # None when timed out
    timed_out: bool
    duration_s: float  # host wall clock
    stdout: bytes


class Session(Protocol):
    """One shell session for a group: ``cd`` and ``export`` carry over between commands."""

    def run(self, command: str, timeout_s: float | None = None) -> ExecResult:
        """Run a shell command (bash) in the session's working directory."""
        ...

    def read_file(self, path: str, max_bytes: int) -> bytes | None:
        """Read a file the commands produced (relative to the checkout copy); None if absent."""
        ...

    def run_helper(
        self,
        script: str,
        args: Sequence[str],
        timeout_s: float,
        max_bytes: int,
        stdin: bytes = b"",
    ) -> HelperResult:
        """Run the grader's own Python ``script`` (source text) with ``args`` in the session.

        The environment's interpreter runs by absolute path, isolated (``-I``), from the
        checkout copy's root, in the session's clean environment: never through the student's
        saved shell state (``cd``/``export``/PATH). Its input is ``stdin``, sent by the host
        (never a file in the copy, which README steps and notebooks can rewrite); its result
        travels back on its stdout (at most ``max_bytes``). On the Docker backend every student
        process is ended before the helper starts and after it ends, so nothing a README step
        left behind can touch it.
        """
        ...

    def close(self) -> None:
        """Stop and remove everything the session started. Idempotent."""
        ...


class Sandbox(Protocol):
    name: str
    isolates: bool  # False for the local backend: it says so in the report

    def prepare(self, spec: EnvSpec, checkout: Path, log_dir: Path) -> BuildResult:
        """Build (or reuse) the environment described by ``spec``."""
        ...

    def open_session(self, build: BuildResult, checkout: Path, limits: Limits) -> Session:
        """Start a session on a writable copy of ``checkout`` in the built environment."""
        ...

    def close(self) -> None:
        """Release everything this sandbox started (containers, temp dirs). Idempotent."""
        ...
