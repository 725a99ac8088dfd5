"""A sandbox that runs nothing: canned results and a record of calls, for pipeline tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from repograder.facts import EnvSpec
from repograder.model import ExecResult
from repograder.sandbox.base import BuildResult, HelperResult, Limits, Sandbox, Session

OK_RESULT = ExecResult(
    exit_code=0, timed_out=False, duration_s=0.0, output_head="", output_tail="", output_bytes=0
)


def exec_result(
    exit_code: int | None = 0, output: str = "", *, timed_out: bool = False
) -> ExecResult:
    """A canned ExecResult (timed_out forces exit_code None)."""
    return ExecResult(
        exit_code=None if timed_out else exit_code,
        timed_out=timed_out,
        duration_s=0.0,
        output_head=output,
        output_tail="",
        output_bytes=len(output.encode()),
    )


@dataclass(frozen=True)
class PrepareCall:
    spec: EnvSpec
    checkout: Path
    log_dir: Path


@dataclass
class FakeSession:
    """Answers commands from the sandbox's table; records them in order."""

    sandbox: FakeSandbox
    checkout: Path
    limits: Limits
    commands: list[tuple[str, float | None]] = field(default_factory=list)
    closed: bool = False

    def run(self, command: str, timeout_s: float | None = None) -> ExecResult:
        """Return the canned result for ``command`` (OK with no output when unknown)."""
        self.commands.append((command, timeout_s))
        self.sandbox.commands.append(command)
        return self.sandbox.result_for(command)

    def run_helper(
        self,
        script: str,
        args: Sequence[str],
        timeout_s: float,
        max_bytes: int,
        stdin: bytes = b"",
    ) -> HelperResult:
        """Return the sandbox's canned helper answer for ``args`` (empty stdout by default)."""
        self.sandbox.helper_calls.append(tuple(args))
        self.sandbox.helper_inputs.append(stdin)
        if self.sandbox.helper is None:
            return HelperResult(0, False, 0.0, b"")
        done = self.sandbox.helper(tuple(args))
        return HelperResult(
            done.exit_code, done.timed_out, done.duration_s, done.stdout[:max_bytes]
        )

    def read_file(self, path: str, max_bytes: int) -> bytes | None:
        """Return the canned file content, capped; None when not given."""
        data = self.sandbox.files.get(path)
        return None if data is None else data[:max_bytes]

    def close(self) -> None:
        """Mark the session closed."""
        self.closed = True


class FakeSandbox:
    """Implements the Sandbox protocol without running anything."""

    name = "fake"
    isolates = True

    def __init__(
        self,
        results: Mapping[str, ExecResult] | Callable[[str], ExecResult] | None = None,
        build_ok: bool = True,
        build_summary: str = "",
        *,
        files: Mapping[str, bytes] | None = None,
        helper: Callable[[tuple[str, ...]], HelperResult] | None = None,
    ) -> None:
        self._results = results if results is not None else {}
        self.build_ok = build_ok
        self.build_summary = build_summary
        self.files: Mapping[str, bytes] = files or {}
        self.helper = helper  # answers Session.run_helper, given the helper's arguments
        self.helper_calls: list[tuple[str, ...]] = []
        self.helper_inputs: list[bytes] = []  # each helper call's stdin
        self.prepared: list[PrepareCall] = []
        self.sessions: list[FakeSession] = []
        self.commands: list[str] = []
        self.closed = False

    def result_for(self, command: str) -> ExecResult:
        """The canned result for ``command``."""
        if callable(self._results):
            return self._results(command)
        return self._results.get(command, OK_RESULT)

    def prepare(self, spec: EnvSpec, checkout: Path, log_dir: Path) -> BuildResult:
        """Record the call and report the configured build outcome."""
        self.prepared.append(PrepareCall(spec, checkout, log_dir))
        summary = self.build_summary or ("built (fake)" if self.build_ok else "build failed")
        return BuildResult(
            ok=self.build_ok,
            backend=self.name,
            image="fake:env" if self.build_ok else None,
            reused=len(self.prepared) > 1,
            content_hash="fake",
            duration_s=0.0,
            summary=summary,
            log_excerpt="" if self.build_ok else summary,
        )

    def open_session(self, build: BuildResult, checkout: Path, limits: Limits) -> FakeSession:
        """Open a recording session."""
        session = FakeSession(self, checkout, limits)
        self.sessions.append(session)
        return session

    def close(self) -> None:
        """Close every session. Idempotent."""
        for session in self.sessions:
            session.close()
        self.closed = True


def _conforms(sandbox: FakeSandbox, session: FakeSession) -> tuple[Sandbox, Session]:
    return sandbox, session  # mypy proves the fake implements the protocols
