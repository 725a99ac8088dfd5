"""Fault tolerance of `repograder run`: Ctrl-C, the engine failing, a bad output folder, a crash.

Ctrl-C is a real SIGINT to a `repograder run` child process during a real build and during a
real step. The engine "stopping" is simulated inside this process (the real dockerd is shared): the
real engine is wrapped (``docker_fake.WrappedEngine``) and its exec call fails with the
connection error a dead engine gives.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from attack_repos import (
    attack_repo,
    base_image_fixture,  # noqa: F401
    groups_file,
    isolated_run,
    rubric_file,
    run_containers,
)

from docker_fake import WrappedEngine
from polling import wait_until
from repograder import cli, comments
from repograder.errors import ExitCode
from repograder.model import GroupStatus, Status
from repograder.report import results as report_results
from repograder.sandbox.docker import engine as docker_engine
from repograder.sandbox.docker.engine import Engine, EngineError

FAIL_MARK = "engine-dies-here"


def _no_partial_files(out: Path) -> list[str]:
    """Temp files of an atomic write left behind, and group JSONs that do not parse."""
    bad = [str(p) for p in out.rglob("*.tmp")]
    for path in (out / "groups").glob("*.json"):
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            bad.append(str(path))
    return bad


# ------------------------------------------------------------------------- engine failure


def _three_groups(tmp_path: Path, middle_step: str) -> tuple[Path, list[str]]:
    repos = tmp_path / "repos"
    first = attack_repo(repos / "first", ["python -c 'print(1)'"])
    second = attack_repo(repos / "second", [middle_step])
    third = attack_repo(repos / "third", ["python -c 'print(3)'"])
    groups = groups_file(tmp_path, [("first", first), ("second", second), ("third", third)])
    args = [
        "run",
        str(groups),
        "--rubric",
        str(rubric_file(tmp_path)),
        "--out",
        str(tmp_path / "out"),
        "-q",
        "-j",
        "1",
    ]
    return groups, args


_CONNECTION_LOST = "('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))"


@pytest.mark.docker
def test_engine_failure_mid_run_exits_3_and_the_next_run_resumes(
    base_image: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, args = _three_groups(tmp_path, f"echo {FAIL_MARK}")
    real_connect = docker_engine.connect
    gone = False

    def dying_engine(method: str, args: tuple[object, ...], _kwargs: dict[str, object]) -> None:
        # From the marked step on, the engine is gone: every call fails, pings too.
        nonlocal gone
        if method == "exec_create":
            gone = gone or FAIL_MARK in json.dumps(args[1])
        if gone and method in ("exec_create", "ping"):
            raise EngineError(_CONNECTION_LOST, transient=True)

    def connect(timeout: int = docker_engine.DEFAULT_TIMEOUT_S) -> Engine:
        return WrappedEngine(real_connect(timeout), dying_engine)  # type: ignore[return-value]

    monkeypatch.setattr(docker_engine, "connect", connect)
    with isolated_run(tmp_path) as (run_id, run_tmp):
        code = cli.main(args)
    err = capsys.readouterr().err
    assert code == ExitCode.INFRASTRUCTURE
    assert "Docker engine failed" in err
    assert "Traceback" not in err
    assert run_containers(run_id) == []
    assert os.listdir(run_tmp) == []
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "groups").glob("*.json")) == ["first.json"]
    assert _no_partial_files(out) == []
    stored = (out / "groups" / "first.json").stat().st_mtime_ns
    # The report is written all the same, naming every group: the finished one graded, the
    # others "not graded" with the reason.
    run = report_results.read_results(out / "results.json")
    assert [g.name for g in run.groups] == ["first", "second", "third"]
    first, second, third = run.groups
    assert first.status == GroupStatus.GRADED
    for group in (second, third):
        assert group.status == GroupStatus.ERROR
        assert group.error is not None
        assert group.error.startswith("not graded: ")
    assert "Docker engine failed" in (second.error or "")
    index = (out / "index.html").read_text(encoding="utf-8")
    assert all(name in index for name in ("first", "second", "third"))

    monkeypatch.setattr(docker_engine, "connect", real_connect)
    with isolated_run(tmp_path, "run-tmp-2") as (run_id, _):
        code = cli.main(args)
    assert code == ExitCode.OK
    assert run_containers(run_id) == []
    # "first" was resumed from its stored result, not graded again.
    assert (out / "groups" / "first.json").stat().st_mtime_ns == stored
    run = report_results.read_results(out / "results.json")
    assert [g.name for g in run.groups] == ["first", "second", "third"]
    assert all(g.status == GroupStatus.GRADED for g in run.groups)


@pytest.mark.docker
def test_engine_hiccup_is_retried_and_one_groups_failure_stays_its_own(
    base_image: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A call that fails once is tried again; a group whose sandbox keeps failing while the
    engine still answers gets `error`, and the groups after it are graded."""
    hiccup, broken = "engine-hiccup-here", "engine-fails-this-group"
    repos = tmp_path / "repos"
    first = attack_repo(repos / "first", [f"echo {hiccup}"])
    second = attack_repo(repos / "second", [f"echo {broken}"])
    third = attack_repo(repos / "third", ["python -c 'print(3)'"])
    groups = groups_file(tmp_path, [("first", first), ("second", second), ("third", third)])
    args = ["run", str(groups), "--rubric", str(rubric_file(tmp_path))]
    args += ["--out", str(tmp_path / "out"), "-q", "-j", "1"]
    real_connect = docker_engine.connect
    calls = {hiccup: 0, broken: 0}

    def flaky_engine(method: str, args: tuple[object, ...], _kwargs: dict[str, object]) -> None:
        if method != "exec_create":
            return
        text = json.dumps(args[1])
        for mark in calls:
            if mark in text:
                calls[mark] += 1
                if mark == broken or calls[mark] == 1:
                    raise EngineError("Read timed out. (read timeout=120)", transient=True)

    def connect(timeout: int = docker_engine.DEFAULT_TIMEOUT_S) -> Engine:
        return WrappedEngine(real_connect(timeout), flaky_engine)  # type: ignore[return-value]

    monkeypatch.setattr(docker_engine, "connect", connect)
    with isolated_run(tmp_path) as (run_id, _):
        code = cli.main(args)
    capsys.readouterr()
    assert calls[hiccup] == 2  # failed once, then went through
    assert calls[broken] == 3  # every try failed
    assert code == ExitCode.GROUP_ERRORS
    assert run_containers(run_id) == []
    run = report_results.read_results(tmp_path / "out" / "results.json")
    first, second, third = run.groups
    assert first.status == GroupStatus.GRADED
    assert first.steps[0].status.value == "ok"
    assert second.status == GroupStatus.ERROR
    assert "the sandbox failed while grading this group" in (second.error or "")
    assert "Read timed out" in (second.error or "")
    assert third.status == GroupStatus.GRADED
    assert third.steps[0].status.value == "ok"


# ------------------------------------------------------------------------- Ctrl-C


def _start_run(tmp_path: Path, groups: Path, run_id: str) -> subprocess.Popen[str]:
    """`repograder run` in a child process with a known run id (to find its containers)."""
    code = (
        "import sys, uuid, repograder.cli as c\n"
        f"c.uuid.uuid4 = lambda: uuid.UUID({run_id.ljust(32, '0')!r})\n"
        "sys.argv[0] = 'repograder'\n"
        "c.console_main()  # the `repograder` command's entry point\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path / "run-tmp")}
    (tmp_path / "run-tmp").mkdir(exist_ok=True)
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "run",
            str(groups),
            "--rubric",
            str(rubric_file(tmp_path, step_timeout="120s")),
            "--out",
            str(tmp_path / "out"),
            "-q",
            "-j",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _interrupt(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, err


def _run_inside_a_slow_step(tmp_path: Path) -> tuple[subprocess.Popen[str], str]:
    """A run of two groups, stopped in its tracks: "done" is stored, "slow" is in its step."""
    repos = tmp_path / "repos"
    done = attack_repo(repos / "done", ["python -c 'print(1)'"])
    slow = attack_repo(repos / "slow", ["python -c 'import time; time.sleep(100)'"])
    groups = groups_file(tmp_path, [("done", done), ("slow", slow)])
    run_id = uuid.uuid4().hex[:12]
    proc = _start_run(tmp_path, groups, run_id)
    # The slow group's session container exists once "done" is stored.
    if not wait_until(
        lambda: (tmp_path / "out" / "groups" / "done.json").exists() and run_containers(run_id),
        120,
        interval=0.1,
    ):
        proc.kill()
        pytest.fail(f"the run did not reach the slow step: {proc.communicate()[1][-2000:]}")
    time.sleep(2)  # inside the step now
    return proc, run_id


def _assert_stopped_report(out: Path) -> None:
    """The report of a stopped run is written all the same, naming every group."""
    run = report_results.read_results(out / "results.json")
    done_row, slow_row = run.groups
    assert (done_row.name, done_row.status) == ("done", GroupStatus.GRADED)
    assert (slow_row.name, slow_row.status) == ("slow", GroupStatus.ERROR)
    assert (slow_row.error or "").startswith("not graded: interrupted")
    assert "slow" in (out / "index.html").read_text(encoding="utf-8")


@pytest.mark.docker
def test_ctrl_c_during_a_step_leaves_nothing_behind(base_image: str, tmp_path: Path) -> None:
    proc, run_id = _run_inside_a_slow_step(tmp_path)
    code, err = _interrupt(proc)
    assert code == ExitCode.INTERRUPTED, err
    assert "interrupted" in err
    assert "Traceback" not in err
    assert run_containers(run_id) == []
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "groups").glob("*.json")) == ["done.json"]
    assert _no_partial_files(out) == []
    assert os.listdir(tmp_path / "run-tmp") == []
    _assert_stopped_report(out)


@pytest.mark.docker
def test_sigterm_then_more_ctrl_c_still_leave_the_report(base_image: str, tmp_path: Path) -> None:
    """A cancelled CI job sends SIGTERM; an impatient lecturer presses Ctrl-C again."""
    proc, run_id = _run_inside_a_slow_step(tmp_path)
    try:
        proc.send_signal(signal.SIGTERM)
        for _ in range(3):
            time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
    finally:
        _, err = proc.communicate(timeout=90)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    # Whether a later Ctrl-C still finds the report being written ("... writing the report ...")
    # or the process already exiting is a race here; tests/unit/test_cli_signals.py pins the
    # message. What must hold either way: the code, no traceback, no container, the report.
    assert "Traceback" not in err
    assert run_containers(run_id) == []
    _assert_stopped_report(tmp_path / "out")


@pytest.mark.docker
def test_ctrl_c_during_a_build_leaves_no_container_or_lock(base_image: str, tmp_path: Path) -> None:
    # A requirement whose marker is false: nothing to install, but a content hash of its own,
    # so this run really builds.
    unique = uuid.uuid4().hex[:8]
    repo = attack_repo(tmp_path / "repos" / "build", ["python -c 'print(1)'"])
    (repo / "requirements.txt").write_text(
        f'six; platform_machine == "rg{unique}"\n', encoding="utf-8"
    )
    from gitrepo import git

    git(repo, "commit", "-q", "-am", "reqs", date="2026-03-30T13:00:00+02:00")
    groups = groups_file(tmp_path, [("build", repo)])
    run_id = uuid.uuid4().hex[:12]
    proc = _start_run(tmp_path, groups, run_id)
    try:
        seen = wait_until(lambda: run_containers(run_id), 120, interval=0.1)
    finally:
        code, err = _interrupt(proc)
    assert seen, err
    assert code == ExitCode.INTERRUPTED, err
    assert "Traceback" not in err
    assert run_containers(run_id) == []
    out = tmp_path / "out"
    assert not list((out / "groups").glob("*.json"))
    assert _no_partial_files(out) == []
    # No build lock is held: each can be taken at once.
    for lock in (Path(os.environ["REPOGRADER_CACHE"]) / "locks").glob("*.lock"):
        with open(lock, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(handle, fcntl.LOCK_UN)


# ------------------------------------------------------------------------- output folder, crashes


def _static_group(tmp_path: Path) -> Path:
    repo = attack_repo(tmp_path / "repos" / "g", ["python -c 'print(1)'"])
    return groups_file(tmp_path, [("g", repo)])


def test_output_folder_under_a_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    code = cli.main(
        ["run", str(_static_group(tmp_path)), "--static", "-q", "--out", str(blocker / "out")]
    )
    err = capsys.readouterr().err
    assert code == ExitCode.INFRASTRUCTURE
    assert "Traceback" not in err
    assert str(blocker) in err
    assert "Not a directory" in err


def test_full_disk_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(small)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        code = cli.main(
            ["run", str(_static_group(tmp_path)), "--static", "-q", "--out", str(small / "out")]
        )
        err = capsys.readouterr().err
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)
    assert code == ExitCode.INFRASTRUCTURE
    assert "Traceback" not in err
    assert "No space left on device" in err, err


def test_a_crashing_check_is_an_error_for_that_check_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(_root: Path) -> object:
        raise RuntimeError("grader bug in the comment counter")

    monkeypatch.setattr(comments, "measure_comments", boom)
    out = tmp_path / "out"
    code = cli.main(["run", str(_static_group(tmp_path)), "--static", "-q", "--out", str(out)])
    assert code == ExitCode.OK
    (group,) = report_results.read_results(out / "results.json").groups
    assert group.status == GroupStatus.GRADED
    checks = {c.id: c for c in group.checks}
    assert checks["comments"].status == Status.ERROR
    assert checks["readme"].status != Status.ERROR
    assert "grader bug in the comment counter" in json.dumps(group.artifacts["grader_problems"])
