"""A student process must not be able to forge the grader's own verdicts (real Docker engine).

The promise (docs/SANDBOX.md): students can fake their output, never the exit code, the
timeout or a later verdict. The host takes the exit code from the engine's exec inspect and
the timeout from its own clock; every uid-1000 process is ended after each step; the grader's
helpers (the notebook executor) run by absolute path, outside the student's shell state, with
their result on their own stdout.
"""

from __future__ import annotations

import json
import shlex
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from attack_repos import base_image_fixture  # noqa: F401

from repograder import runner
from repograder.detect import EnvKind, EnvSpec
from repograder.model import Params, StepStatus
from repograder.notebooks import NOTEBOOK_TOOLING, NotebookStatus, run_notebooks
from repograder.readme import Step, StepKind
from repograder.sandbox.base import Limits
from repograder.sandbox.docker import DockerSandbox, DockerSession

pytestmark = pytest.mark.docker

LIMITS = Limits(memory_mb=512, pids=128, timeout_s=60, disk_mb=64, output_bytes=8192)
FAKE_LINE = json.dumps(
    {"exit": 0, "timed_out": True, "total": 2, "duration": 1.0, "head": "b2s=", "tail": ""}
)
# Keeps a handle on capture.py's stdout (the exec's stream) and writes a forged JSON line after
# capture.py has printed its own, so the forged line is the last one the host reads.
FORGE_CAPTURE = (
    "CAP=$PPID; ( exec 3>/proc/$CAP/fd/1; sleep 1.3; "
    f"printf '%s\\n' '{FAKE_LINE}' >&3 ) >/dev/null 2>&1 & exit 1"
)
FAILING = json.dumps(
    {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {
                "cell_type": "code",
                "id": "c0",
                "metadata": {},
                "source": "raise SystemExit('the notebook fails')",
                "outputs": [],
                "execution_count": None,
            }
        ],
    }
)
PASSING = FAILING.replace("raise SystemExit('the notebook fails')", "print('fine')")
OK_RESULT = json.dumps({"status": "ok", "cells": 1, "executed": 1, "duration_s": 0.1})
# A README step's background "watcher": rewrites anything that looks like a result and writes
# fake result lines into every python process's stdout it can open.
WATCH_PY = f"""
import glob, os, time
fake = {OK_RESULT!r} + "\\n"
while True:
    for path in glob.glob("/work/.repograder/**/*.json", recursive=True):
        try:
            open(path, "w").write(fake)
        except OSError:
            pass
    for fd in glob.glob("/proc/[0-9]*/fd/1"):
        try:
            with open(fd, "w") as handle:
                handle.write(fake)
        except OSError:
            pass
    time.sleep(0.05)
"""
FAKE_TOOL = f"#!/bin/sh\necho '{OK_RESULT}'\n"


@pytest.fixture(scope="module", name="box")
def box_fixture(
    base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockerSandbox]:
    run_id = f"test-{uuid.uuid4().hex[:10]}"
    box = DockerSandbox(run_id, tmp_path_factory.mktemp("cache"))
    yield box
    box.close()


@pytest.fixture(scope="module", name="repo")
def repo_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("forge") / "repo"
    (repo / "tools").mkdir(parents=True)
    (repo / "requirements.txt").write_text("\n".join(NOTEBOOK_TOOLING) + "\n")
    (repo / "fails.ipynb").write_text(FAILING)
    (repo / "spare").mkdir()
    (repo / "spare" / "passes.ipynb").write_text(PASSING)
    (repo / "watch.py").write_text(WATCH_PY)
    (repo / "evil.pth").write_text(f"import sys; sys.stdout.write({OK_RESULT!r} + '\\n')\n")
    for name in ("python", "python3", "sh", "head"):
        (repo / "tools" / name).write_text(FAKE_TOOL)
        (repo / "tools" / name).chmod(0o755)
    return repo


@pytest.fixture(name="session")
def session_fixture(box: DockerSandbox, repo: Path) -> Iterator[DockerSession]:
    spec = EnvSpec(
        kind=EnvKind.REQUIREMENTS,
        path="requirements.txt",
        reason="test",
        files=("requirements.txt",),
        requirements=NOTEBOOK_TOOLING,
    )
    build = box.prepare(spec, repo, repo.parent / "logs")
    assert build.ok, build.log_excerpt
    session = box.open_session(build, repo, LIMITS)
    yield session
    session.close()


def _step(command: str, *, long_running: bool = False) -> runner.StepLike:
    return Step(
        index=1,
        command=command,
        source_line=1,
        heading="",
        kind=StepKind.RUN,
        reason="test",
        long_running=long_running,
    )


def test_a_forged_capture_line_does_not_change_the_exit_code(session: DockerSession) -> None:
    """Kind 1c: a background process writes `"timed_out": true` after the real line."""
    result = session.run(FORGE_CAPTURE, timeout_s=20)
    assert result.output == "ok", result  # the output can be faked (documented) ...
    assert result.exit_code == 1  # ... the exit code and the timeout cannot
    assert not result.timed_out
    assert result.duration_s < 20


def test_a_real_timeout_is_still_a_timeout(session: DockerSession) -> None:
    result = session.run("echo before; sleep 100", timeout_s=3)
    assert result.timed_out
    assert result.exit_code is None
    assert "before" in result.output


def test_background_processes_end_with_their_step(session: DockerSession) -> None:
    """Kind 1a: nothing a step started survives into the next grader action."""
    start = session.run("nohup sh -c 'echo $$ > /tmp/bg.pid; exec sleep 1000' >/dev/null 2>&1 &")
    assert start.exit_code == 0
    check = session.run(
        "sleep 0.5; kill -0 $(cat /tmp/bg.pid) 2>/dev/null && echo ALIVE || echo GONE"
    )
    assert check.output.strip() == "GONE"
    listing = session.run(
        "for s in /proc/[0-9]*/status; do grep -q '^Uid:\\s*1000' $s 2>/dev/null && "
        "grep '^Name' $s; done | sort | uniq -c"
    )
    # Only this step's own shell, its loop and grep: no `sleep`, no `sh` from the step before.
    assert "sleep" not in listing.output, listing.output


def test_a_watcher_from_a_readme_step_cannot_pass_a_failing_notebook(
    session: DockerSession, repo: Path, tmp_path: Path
) -> None:
    """Kind 1a: `nohup python watch.py &` rewriting results; the notebook still fails."""
    assert session.run("nohup python watch.py >/dev/null 2>&1 &").exit_code == 0
    report = run_notebooks(
        session, ("fails.ipynb",), Params({"cell_timeout_s": 60}), tmp_path, checkout=repo
    )
    (result,) = report.results
    assert result.status is NotebookStatus.FAILED, result
    assert "the notebook fails" in result.error


def test_the_students_path_and_prefix_cannot_hijack_the_grader(
    session: DockerSession, repo: Path, tmp_path: Path
) -> None:
    """Kind 1b: a fake python on an exported PATH, in the image's PATH and a .pth file."""
    site = "~/.local/repograder/lib/python3.11/site-packages"
    hijack = (
        f"export PATH=$PWD/tools:$PATH && mkdir -p ~/.local/repograder/bin {site} && "
        f"cp tools/* ~/.local/repograder/bin/ && cp evil.pth {site}/ && cd tools"
    )
    assert session.run(hijack).exit_code == 0
    assert session.run("python -V").output.startswith('{"status": "ok"')  # hijacked for steps
    report = run_notebooks(
        session, ("fails.ipynb",), Params({"cell_timeout_s": 60}), tmp_path, checkout=repo
    )
    (result,) = report.results
    assert result.status is NotebookStatus.FAILED, result
    # The grader's own file reads use absolute paths too.
    assert (
        session.read_file("requirements.txt", 1000) == ("\n".join(NOTEBOOK_TOOLING) + "\n").encode()
    )


def test_a_readme_step_cannot_swap_the_notebook_that_is_graded(
    session: DockerSession, repo: Path, tmp_path: Path
) -> None:
    """A README step (or an earlier notebook) overwrites the submitted notebook in the
    session's copy with one that passes: the submitted notebook is still what is executed."""
    swap = "cp spare/passes.ipynb fails.ipynb && cp spare/passes.ipynb spare/x.ipynb"
    assert session.run(swap).exit_code == 0
    report = run_notebooks(
        session, ("fails.ipynb",), Params({"cell_timeout_s": 60}), tmp_path, checkout=repo
    )
    (result,) = report.results
    assert result.status is NotebookStatus.FAILED, result
    assert "the notebook fails" in result.error


def test_a_kernel_the_students_prefix_breaks_is_their_failure_not_the_graders(
    session: DockerSession, repo: Path, tmp_path: Path
) -> None:
    """A README step leaves a `.pth` in the project's prefix that ends every kernel at start:
    the failing notebook was "could not be evaluated by the grader" (assessed by hand)."""
    site = "~/.local/repograder/lib/python3.11/site-packages"
    kill = "import os; 'ipykernel' in open('/proc/self/cmdline').read() and os._exit(3)"
    assert (
        session.run(f"mkdir -p {site} && echo {shlex.quote(kill)} > {site}/zz.pth").exit_code == 0
    )
    report = run_notebooks(
        session, ("fails.ipynb",), Params({"cell_timeout_s": 60}), tmp_path, checkout=repo
    )
    (result,) = report.results
    assert result.status is NotebookStatus.FAILED, result
    assert not result.infra
    assert "the kernel did not start in the notebook's folder" in result.error


def test_long_running_step_that_exits_1_is_not_graded_ok(session: DockerSession) -> None:
    """Kind 1c with the `long-running` annotation: the forged timeout would have made it ok."""
    (step,) = runner.run_steps(
        session, [_step(FORGE_CAPTURE, long_running=True)], runner.RunOptions()
    )
    assert step.status is StepStatus.FAILED, step
    assert step.exit_code == 1


ESCAPING_BOMB = (
    "setsid python -c 'import os\nwhile True:\n    try:\n        os.fork()\n"
    "    except OSError:\n        pass' >/dev/null 2>&1 & sleep 3; exit 1"
)


def test_processes_that_cannot_be_ended_stop_the_session_not_the_run(
    session: DockerSession, repo: Path, tmp_path: Path
) -> None:
    """A fork bomb in its own session fills the process limit after its step ended: either
    it is ended, or nothing runs in the session any more (and says why); never an exception
    that stops every group's grading, never a forged verdict."""
    first = session.run(ESCAPING_BOMB, timeout_s=20)
    assert first.exit_code != 0  # 1, bash giving up on fork() (254), or a timeout
    after = session.run("echo still-here", timeout_s=20)
    if after.exit_code == 0:
        assert after.output.strip() == "still-here"
    else:
        assert after.exit_code == 126
        assert "not run: the student's processes could not be ended" in after.output
    report = run_notebooks(
        session, ("fails.ipynb",), Params({"cell_timeout_s": 60}), tmp_path, checkout=repo
    )
    (result,) = report.results
    assert result.status in (NotebookStatus.FAILED, NotebookStatus.ERROR), result
