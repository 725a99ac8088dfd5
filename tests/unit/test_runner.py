"""runner: README steps executed in a real local session; hints; readme-steps scoring."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from repograder.errors import ConfigError
from repograder.model import Params, Status, StepResult, StepStatus
from repograder.runner import (
    STOP_REASON,
    RunOptions,
    evaluate_steps,
    hint_for,
    run_steps,
)
from repograder.sandbox.base import Limits
from repograder.sandbox.fake import FakeSandbox, exec_result
from repograder.sandbox.localsession import LocalSession


@dataclass(frozen=True)
class Step:
    """Same fields as readme.Step (the runner only relies on these)."""

    index: int
    command: str
    source_line: int
    heading: str
    kind: str
    reason: str
    timeout_s: float | None = None
    expect_fail: bool = False
    long_running: bool = False
    block_lang: str = ""


def _steps(*commands: str | tuple[str, dict[str, object]]) -> list[Step]:
    steps = []
    for i, item in enumerate(commands, start=1):
        command, extra = (item, {}) if isinstance(item, str) else item
        fields: dict[str, object] = {"kind": "run", "reason": ""}
        fields.update(extra)
        steps.append(Step(i, command, 10 + i, "Usage", **fields))  # type: ignore[arg-type]
    return steps


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "sub").mkdir(parents=True)
    (root / "main.py").write_text("print('hello from main')\n")
    (root / "sub" / "tool.py").write_text("import sys\nprint('tool', sys.argv[1:])\n")
    (root / "fails.py").write_text("import torchaudio_missing_xyz\n")
    return root


@pytest.fixture
def session(repo: Path) -> Iterator[LocalSession]:
    sess = LocalSession(repo, Limits(timeout_s=20, output_bytes=8192))
    yield sess
    sess.close()


def test_all_steps_run_and_state_carries_over(session: LocalSession):
    steps = _steps(
        "python main.py",
        "cd sub",
        "pwd",
        "export X=1",
        "echo $X",
        "python tool.py a b",
    )
    results = run_steps(session, steps, RunOptions())
    assert [r.status for r in results] == [StepStatus.OK] * 6
    assert "hello from main" in results[0].output_head
    assert results[2].output_head.strip().endswith("/sub")
    assert results[4].output_head.strip() == "1"
    assert "tool ['a', 'b']" in results[5].output_head
    assert results[0].source_line == 11
    assert results[0].heading == "Usage"
    verdict = evaluate_steps(results, Params())
    assert verdict.status == Status.PASS
    assert verdict.fraction == 1.0
    assert verdict.summary == "6 of 6 README steps ran successfully"


def test_failing_step_and_the_rest_still_run(session: LocalSession):
    steps = _steps("python main.py", "python fails.py", "echo still here")
    results = run_steps(session, steps, RunOptions())
    assert [r.status for r in results] == [StepStatus.OK, StepStatus.FAILED, StepStatus.OK]
    failed = results[1]
    assert failed.exit_code == 1
    assert failed.reason == "exit code 1"
    assert "ModuleNotFoundError" in failed.output_head
    assert "torchaudio_missing_xyz" in failed.hint
    assert "missing from the environment file" in failed.hint
    verdict = evaluate_steps(results, Params())
    assert verdict.status == Status.WARN  # 2 of 3 >= warn_share 0.5
    assert verdict.summary.startswith("2 of 3 README steps ran successfully; step 2 (line 12:")
    assert "ModuleNotFoundError: No module named 'torchaudio_missing_xyz'" in verdict.summary


def test_stop_on_failure_skips_the_rest(session: LocalSession):
    steps = _steps("false", "echo never > marker.txt", ("true", {"kind": "placeholder"}))
    results = run_steps(session, steps, RunOptions(stop_on_failure=True))
    statuses = [r.status for r in results]
    assert statuses == [StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.SKIPPED]
    assert results[1].reason == STOP_REASON
    assert results[2].reason != STOP_REASON  # classification reasons are kept
    assert session.read_file("marker.txt", 10) is None


def test_classified_steps_are_skipped_with_reason(session: LocalSession):
    steps = _steps(
        ("python train.py --data <path/to/data>", {"kind": "placeholder", "reason": "placeholder"}),
        ("jupyter notebook", {"kind": "interactive", "reason": "opens an interactive program"}),
        ("pip install -r requirements.txt", {"kind": "env", "reason": "done by the build"}),
        "echo ran",
    )
    results = run_steps(session, steps, RunOptions())
    assert [r.status for r in results[:3]] == [StepStatus.SKIPPED] * 3
    assert results[0].reason == "placeholder"
    assert results[0].kind == "placeholder"
    assert results[1].reason == "opens an interactive program"
    assert results[3].status == StepStatus.OK
    verdict = evaluate_steps(results, Params())
    assert verdict.status == Status.PASS  # classification skips do not count against
    assert verdict.summary.startswith("1 of 1")


def test_timeout_keeps_output_and_next_steps_run(session: LocalSession):
    steps = _steps(("echo started; sleep 60", {"timeout_s": 1.0}), "echo next")
    start = time.monotonic()
    results = run_steps(session, steps, RunOptions())
    assert time.monotonic() - start < 4
    assert results[0].status == StepStatus.TIMEOUT
    assert results[0].exit_code is None
    assert "started" in results[0].output_head
    assert results[0].reason == "timed out after 1 s"
    assert results[0].hint.startswith("still running after 1 s")
    assert results[1].status == StepStatus.OK
    assert evaluate_steps(results, Params()).status == Status.WARN
    assert evaluate_steps(results, Params({"on_timeout": "pass"})).status == Status.PASS
    assert evaluate_steps(results, Params({"on_timeout": "fail"})).status == Status.WARN
    assert evaluate_steps(results, Params({"on_timeout": "fail"})).fraction == 0.5


def test_long_running_step_still_running_is_ok(session: LocalSession):
    steps = _steps(("sleep 30", {"timeout_s": 0.5, "long_running": True}), "echo next")
    results = run_steps(session, steps, RunOptions())
    assert results[0].status == StepStatus.OK
    assert "long-running" in results[0].reason
    crash = run_steps(session, _steps(("exit 2", {"long_running": True})), RunOptions())
    assert crash[0].status == StepStatus.FAILED


def test_expect_fail_inverts_success(session: LocalSession):
    steps = _steps(("python fails.py", {"expect_fail": True}), ("true", {"expect_fail": True}))
    results = run_steps(session, steps, RunOptions())
    assert results[0].status == StepStatus.OK
    assert "expects" in results[0].reason
    assert results[1].status == StepStatus.FAILED


def test_total_budget_skips_remaining_steps(session: LocalSession):
    steps = _steps("sleep 5", "echo never")
    start = time.monotonic()
    results = run_steps(session, steps, RunOptions(total_budget_s=0.5))
    assert time.monotonic() - start < 3
    assert results[0].status == StepStatus.TIMEOUT
    assert "budget" in results[0].reason
    assert results[1].status == StepStatus.SKIPPED
    assert "budget" in results[1].reason


def test_infinite_output_is_capped(session: LocalSession):
    results = run_steps(session, _steps("yes | head -c 50000000; echo END"), RunOptions())
    res = results[0]
    assert res.status == StepStatus.OK
    assert res.output_head.startswith("y\n")
    assert res.output_tail.rstrip().endswith("END")
    assert len(res.output_head) + len(res.output_tail) <= 8192


def test_runner_with_fake_sandbox_passes_timeouts(tmp_path: Path):
    fake = FakeSandbox({"python train.py": exec_result(1, "RuntimeError: boom")})
    build = fake.prepare(None, tmp_path, tmp_path)  # type: ignore[arg-type]
    session = fake.open_session(build, tmp_path, Limits())
    steps = _steps("python train.py", ("python eval.py", {"timeout_s": 5.0}))
    results = run_steps(session, steps, RunOptions(default_timeout_s=77))
    assert session.commands == [("python train.py", 77), ("python eval.py", 5.0)]
    assert results[0].status == StepStatus.FAILED
    assert "RuntimeError: boom" in evaluate_steps(results, Params()).summary


# ------------------------------------------------------------------------------------ hints

FILES = frozenset({"main.py", "src/model.py", "data/train.csv", "run.sh"})


@pytest.mark.parametrize(
    ("output", "exit_code", "expected"),
    [
        ("ModuleNotFoundError: No module named 'librosa'", 1, "module 'librosa' is missing"),
        ("ModuleNotFoundError: No module named 'cv2'", 1, "'opencv-python'"),
        ("ModuleNotFoundError: No module named 'src.model'", 1, "part of the repository"),
        ("ImportError: cannot import name 'x' from 'y'", 1, "pin it"),
        (
            "OSError: cannot load library 'libsndfile.so': cannot open shared object file",
            1,
            "libsndfile.so",
        ),
        ("socket.gaierror: Temporary failure in name resolution", 1, "needs the network"),
        ("curl: (6) Could not resolve host: example.org", 6, "needs the network"),
        ("requests.exceptions.ConnectionError: HTTPSConnectionPool(host='x')", 1, "network"),
        ("AssertionError: Torch not compiled with CUDA enabled", 1, "GPU"),
        ("RuntimeError: Found no NVIDIA driver on your system", 1, "CPU-only"),
        (
            "FileNotFoundError: [Errno 2] No such file or directory: 'data/test.csv'",
            1,
            "file 'data/test.csv' is not in the repository: add it or a download step",
        ),
        (
            "FileNotFoundError: [Errno 2] No such file or directory: 'train.csv'",
            1,
            "in the repository but not where",
        ),
        (
            "FileNotFoundError: [Errno 2] No such file or directory: '/home/ada/data.wav'",
            1,
            "absolute path",
        ),
        (
            "python: can't open file '/tmp/x/work/train.py': [Errno 2] No such file or directory",
            2,
            "'train.py' is not in the repository",
        ),
        ("bash: line 1: ffmpeg: command not found", 127, "'ffmpeg' is not installed"),
        # a program or library the grading environment lacks: the lecturer's gap, not a file
        # the group forgot or a version to pin
        (
            "FileNotFoundError: [Errno 2] No such file or directory: 'ffmpeg'",
            1,
            "program 'ffmpeg' is not installed in the grading environment (Debian package "
            "ffmpeg): the grader's gap",
        ),
        (
            "ImportError: Unable to find zbar shared library",
            1,
            "system library 'libzbar.so.0' is not installed in the grading environment "
            "(Debian package libzbar0)",
        ),
        (
            "ImportError: libatomic.so.1: cannot open shared object file",
            1,
            "`apt: [libatomic1]`",
        ),
        # found by a review: a library the table does not know (libjack) got the verdict
        # `error` ("not the group's fault") and a hint telling the group to name its package;
        # unknown to the table, it may as well be the group's own (helper-32): both readings
        (
            "OSError: libjack.so.0: cannot open shared object file: No such file or directory",
            1,
            "the library 'libjack.so.0' could not be loaded and the grading environment does "
            "not have it either; the grader could not tell whether it is a system library or "
            "the group's own",
        ),
        (
            "bash: line 1: my_tool: command not found",
            127,
            "'my_tool' is not installed in the sandbox",
        ),
        ("bash: line 1: conda: command not found", 127, "conda commands are not needed"),
        ("bash: line 1: ./run.sh: Permission denied", 126, "chmod +x"),
        ("Killed", 137, "killed: probably the memory limit (512 MB)"),
        ("", 137, "memory limit"),
        ("MemoryError", 1, "out of memory"),
        ("Traceback ... ValueError: bad shape", 1, ""),
    ],
)
def test_hint_for_known_causes(output: str, exit_code: int, expected: str):
    hint = hint_for("cmd", output, exit_code, False, FILES, memory_mb=512)
    if expected:
        assert expected in hint
    else:
        assert hint == ""


def test_hint_network_only_when_network_is_off():
    output = "urllib.error.URLError: <urlopen error [Errno -3] Temporary failure>"
    assert "network" in hint_for("python dl.py", output, 1, False)
    assert hint_for("python dl.py", output, 1, True) == ""


def test_hint_for_timeout():
    assert hint_for("python train.py", "epoch 1", None, False, timeout_s=600).startswith(
        "still running after 600 s"
    )


# ---------------------------------------------------------------------------------- scoring


def _result(index: int, status: StepStatus, kind: str = "run") -> StepResult:
    return StepResult(index, f"cmd{index}", index, status, kind=kind)


def test_evaluate_thresholds_and_params():
    ok, failed = StepStatus.OK, StepStatus.FAILED
    four = [_result(1, ok), _result(2, ok), _result(3, ok), _result(4, failed)]
    assert evaluate_steps(four, Params()).status == Status.WARN
    assert evaluate_steps(four, Params()).fraction == 0.75
    assert evaluate_steps(four, Params({"pass_share": 0.75})).status == Status.PASS
    assert evaluate_steps(four, Params({"warn_share": 0.8})).status == Status.FAIL
    one_of_four = [_result(1, ok), _result(2, failed), _result(3, failed), _result(4, failed)]
    verdict = evaluate_steps(one_of_four, Params())
    assert verdict.status == Status.FAIL
    assert "(+2 more)" in verdict.summary
    rows = verdict.details["steps"]
    assert isinstance(rows, list)
    assert len(rows) == 4
    assert verdict.details["succeeded"] == 1


def test_evaluate_no_runnable_steps():
    skipped = [_result(1, StepStatus.SKIPPED, kind="placeholder")]
    verdict = evaluate_steps(skipped, Params())
    assert verdict.status == Status.FAIL
    assert verdict.summary == "no runnable steps in the README"
    assert evaluate_steps([], Params({"fail_if_none": False})).status == Status.SKIP


def test_evaluate_rejects_bad_on_timeout():
    with pytest.raises(ConfigError, match="on_timeout"):
        evaluate_steps([_result(1, StepStatus.OK)], Params({"on_timeout": "maybe"}))


def test_parsed_readme_runs_end_to_end(session: LocalSession):
    readme = pytest.importorskip("repograder.readme")
    text = (
        "# Demo\n\n## Setup\n\n```bash\npip install -r requirements.txt\n```\n\n"
        "## Run\n\n```bash\npython main.py\ncd sub\npython tool.py a b\n"
        "python train.py --data <path/to/data>\n```\n"
    )
    steps, _notes = readme.parse_readme(text)
    results = run_steps(session, steps, RunOptions())
    by_command = {r.command: r for r in results}
    assert by_command["pip install -r requirements.txt"].status == StepStatus.SKIPPED
    assert by_command["python main.py"].status == StepStatus.OK
    assert by_command["python tool.py a b"].status == StepStatus.OK
    assert "tool ['a', 'b']" in by_command["python tool.py a b"].output_head
    placeholder = by_command["python train.py --data <path/to/data>"]
    assert placeholder.status == StepStatus.SKIPPED
    assert placeholder.kind == "placeholder"
    assert "placeholder" in placeholder.reason
    verdict = evaluate_steps(results, Params())
    assert verdict.status == Status.PASS
    assert verdict.summary == "3 of 3 README steps ran successfully"


def test_decisive_line_of_a_failed_project_install() -> None:
    """uv/setuptools output: the backend's `error:` line says why; the closing hint does not."""
    from repograder.runner import decisive_line

    output = (
        "Resolved 1 package in 5ms\n"
        "  × Failed to build `proj @ file:///work`\n"
        "  ╰─▶ The build backend returned an error\n"
        "      [stderr]\n"
        "      running egg_info\n"
        "      error: package directory 'proj_missing' does not exist\n"
        "\n"
        "      hint: This usually indicates a problem with the package or the build environment.\n"
    )
    assert decisive_line(output) == "error: package directory 'proj_missing' does not exist"
    assert decisive_line("ok\nhint: try again\n") == "ok"
    assert decisive_line("x\nValueError: bad\nhint: h\n") == "ValueError: bad"


@pytest.mark.parametrize(
    "output",
    ["lib" + "a.so." * 13_000, "A" * 65_536, "a/" * 32_768],
    ids=["lib-run", "base64", "slashes"],
)
def test_hint_reads_a_step_s_whole_kept_output_in_linear_time(output: str) -> None:
    # 64 KiB is what a step keeps (Limits.output_bytes); main took 9 s on half of "AAAA...".
    started = time.perf_counter()
    hint_for("cmd", output, 1, False, FILES)
    assert time.perf_counter() - started < 2.0
