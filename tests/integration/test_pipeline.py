"""The whole `repograder run`: real git repositories, static checks and a fake sandbox.

These tests cover the lecturer's promises: every group graded, nothing lost when a group's
repository is broken, no host content or live student markup in the report, resume.
"""

from __future__ import annotations

import json
import os
import textwrap
import threading
from pathlib import Path

import pytest

from gitrepo import commit, git, init_repo
from grading import grading_context
from repograder import cli, pipeline
from repograder.cli import run as cli_run
from repograder.config import load_groups
from repograder.errors import ExitCode, InfrastructureError, Interrupted
from repograder.model import ExecResult, GroupStatus, Status, StepStatus
from repograder.report import results as report_results
from repograder.sandbox.fake import FakeSandbox, exec_result

HOSTILE = "<script>alert('pwn')</script>"
GOOD_README = textwrap.dedent(
    """\
    # Chirp classifier

    We classify synthetic bird calls with a nearest-centroid classifier. This README explains
    how to install the environment and how to run training and evaluation on your machine.
    Training takes a few seconds on a laptop CPU; no GPU and no downloads are needed.

    ## Setup

    ```bash
    pip install -r requirements.txt
    ```

    ## Usage

    ```bash
    python train.py --epochs 1
    python evaluate.py
    ```
    """
)
TRAIN_PY = '"""Train the model."""\n\n# One epoch is enough for the demo.\nprint("training")\n'


def make_good_repo(path: Path) -> tuple[str, str]:
    """A repository with one commit before and one after 2026-03-31T23:59:59+02:00."""
    init_repo(path)
    on_time = commit(
        path,
        {
            "README.md": GOOD_README,
            "requirements.txt": "six\n",
            "train.py": TRAIN_PY,
            "evaluate.py": '"""Evaluate."""\n# Prints the score.\nprint(1)\n',
        },
        "first version",
        "2026-03-30T12:00:00+02:00",
    )
    late = commit(
        path, {"train.py": TRAIN_PY + "# late fix\n"}, "late fix", "2026-04-01T09:00:00+02:00"
    )
    return on_time, late


def write_groups(tmp_path: Path, body: str, deadline: bool = True) -> Path:
    head = "course: Test course\n"
    if deadline:
        head += "deadline: 2026-03-31T23:59:59+02:00\n"
    path = tmp_path / "groups.yaml"
    path.write_text(head + textwrap.dedent(body), encoding="utf-8")
    return path


def every_file_text(folder: Path) -> str:
    return "\n".join(
        p.read_text(encoding="utf-8", errors="replace") for p in folder.rglob("*") if p.is_file()
    )


def test_run_static_grades_every_group_and_keeps_going(tmp_path: Path) -> None:
    on_time, late = make_good_repo(tmp_path / "good")
    init_repo(tmp_path / "empty")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "README.md").write_text("# Plain\n\n```bash\npython main.py\n```\n")
    (plain / "requirements.txt").write_text("numpy\n")
    # A hostile group: markup in its name, README and commit message, a paper that is a
    # symlink to a host file.
    hostile = init_repo(tmp_path / "hostile")
    (hostile / "paper").mkdir()
    os.symlink("/etc/passwd", hostile / "paper" / "paper.pdf")
    commit(
        hostile,
        {"README.md": f"# {HOSTILE}\n\n```bash\necho '{HOSTILE}'\n```\n"},
        f"fix {HOSTILE} <img src=x onerror=alert(1)>",
        "2026-03-30T10:00:00+00:00",
    )
    groups = write_groups(
        tmp_path,
        f"""\
        groups:
          - name: good
            repo: good
            members: [Ada Lovelace]
          - name: missing
            repo: does-not-exist
          - name: empty
            repo: empty
          - name: plain
            repo: plain
          - name: "{HOSTILE}"
            repo: hostile
        """,
    )
    out = tmp_path / "report"
    code = cli.main(["run", str(groups), "--static", "--out", str(out), "--quiet"])
    assert code == ExitCode.GROUP_ERRORS  # two groups could not be graded; the rest were

    run = report_results.read_results(out / "results.json")
    by_name = {g.name: g for g in run.groups}
    assert list(by_name) == ["good", "missing", "empty", "plain", HOSTILE]

    good = by_name["good"]
    assert good.status == GroupStatus.GRADED
    assert good.commit == on_time
    assert [c.sha for c in good.late_commits] == [late]
    assert good.late_commits[0].subject == "late fix"
    checks = {c.id: c for c in good.checks}
    assert checks["readme"].status == Status.PASS
    assert checks["env-file"].status == Status.PASS
    assert checks["env-build"].status == Status.SKIP
    assert "--static" in checks["env-build"].summary
    assert checks["paper-pages"].status == Status.FAIL  # no paper at all

    assert by_name["missing"].status == GroupStatus.ERROR
    assert "not found" in (by_name["missing"].error or "")
    assert by_name["empty"].status == GroupStatus.ERROR
    assert "empty" in (by_name["empty"].error or "")
    assert by_name["plain"].status == GroupStatus.GRADED
    assert by_name["plain"].commit is None

    # The symlinked "paper" is refused, and no host content reaches the output folder.
    hostile_checks = {c.id: c for c in by_name[HOSTILE].checks}
    assert hostile_checks["paper-pages"].status == Status.FAIL
    text = every_file_text(out)
    assert "root:x:0:0" not in text
    # Student markup is never live in any HTML page.
    for page in out.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "<script>alert" not in html, page
        assert "<img src=x" not in html, page
    assert (out / "index.html").exists()
    assert (out / "grades.csv").read_text().count("\n") == 6  # header + 5 groups
    # Group names become safe file names.
    assert all(".." not in p.name and "<" not in p.name for p in out.rglob("*"))


def test_fake_sandbox_runs_steps_in_order_and_scores(tmp_path: Path) -> None:
    make_good_repo(tmp_path / "good")
    config = load_groups(write_groups(tmp_path, "groups:\n  - {name: good, repo: good}\n"))

    def answer(command: str) -> ExecResult:
        if command == "python evaluate.py":
            return exec_result(1, "Traceback...\nModuleNotFoundError: No module named 'torchaudio'")
        return exec_result(0, "ok")

    sandbox = FakeSandbox(answer)
    ctx = grading_context(tmp_path, sandbox, deadline=config.deadline)
    run = pipeline.grade_all(config, config.groups, ctx)
    (group,) = run.groups
    assert [p.spec.path for p in sandbox.prepared] == ["requirements.txt"]
    statuses = [(s.command, s.status) for s in group.steps]
    assert statuses == [
        ("pip install -r requirements.txt", StepStatus.SKIPPED),  # covered by the build
        ("python train.py --epochs 1", StepStatus.OK),
        ("python evaluate.py", StepStatus.FAILED),
    ]
    assert "torchaudio" in group.steps[2].hint
    # Only the README's commands run in the shell: no `pwd` or `cd` of the grader's own (each
    # is two execs in a Docker session; notebooks run from the checkout's root regardless).
    assert sandbox.commands == ["python train.py --epochs 1", "python evaluate.py"]
    checks = {c.id: c for c in group.checks}
    assert checks["env-build"].status == Status.PASS
    assert checks["readme-steps"].status == Status.WARN
    assert checks["readme-steps"].score == 1.0  # half of 2 points: one of two steps ran
    assert checks["notebooks"].status == Status.SKIP
    assert all(s.closed for s in sandbox.sessions)


def test_failed_build_skips_run_checks_with_reason(tmp_path: Path) -> None:
    make_good_repo(tmp_path / "good")
    config = load_groups(write_groups(tmp_path, "groups:\n  - {name: good, repo: good}\n"))
    sandbox = FakeSandbox(build_ok=False, build_summary="No solution: nonexistent-pkg-xyz")
    ctx = grading_context(tmp_path, sandbox)
    (group,) = pipeline.grade_all(config, config.groups, ctx).groups
    checks = {c.id: c for c in group.checks}
    assert checks["env-build"].status == Status.FAIL
    assert "nonexistent-pkg-xyz" in checks["env-build"].summary
    assert checks["readme-steps"].status == Status.SKIP
    assert "did not build" in checks["readme-steps"].summary
    assert sandbox.sessions == []


def _ctx(tmp_path: Path, sandbox: FakeSandbox, **kw: object) -> pipeline.GradingContext:
    return grading_context(tmp_path, sandbox, **kw)


def test_unchanged_groups_are_not_graded_again(tmp_path: Path) -> None:
    make_good_repo(tmp_path / "a")
    make_good_repo(tmp_path / "b")
    config = load_groups(
        write_groups(tmp_path, "groups:\n  - {name: a, repo: a}\n  - {name: b, repo: b}\n")
    )
    first = FakeSandbox()
    pipeline.grade_all(config, config.groups, _ctx(tmp_path, first))
    assert len(first.prepared) == 2

    again = FakeSandbox()
    run = pipeline.grade_all(config, config.groups, _ctx(tmp_path, again))
    assert again.prepared == []  # nothing rebuilt, nothing run
    assert [g.status for g in run.groups] == [GroupStatus.GRADED] * 2

    # A new commit in one group grades that group only.
    commit(tmp_path / "b", {"x.py": "# new\n"}, "new", "2026-03-31T10:00:00+02:00")
    third = FakeSandbox()
    pipeline.grade_all(config, config.groups, _ctx(tmp_path, third))
    assert len(third.prepared) == 1

    forced = FakeSandbox()
    pipeline.grade_all(config, config.groups, _ctx(tmp_path, forced, force=True))
    assert len(forced.prepared) == 2


def test_interrupted_run_removes_sandbox_and_resumes(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        make_good_repo(tmp_path / name)
    config = load_groups(
        write_groups(
            tmp_path,
            "groups:\n  - {name: a, repo: a}\n  - {name: b, repo: b}\n  - {name: c, repo: c}\n",
        )
    )
    calls: list[str] = []

    def answer(command: str) -> ExecResult:
        calls.append(command)
        if command.startswith("python evaluate") and len(calls) > 2:
            raise KeyboardInterrupt  # Ctrl-C while the second group runs its steps
        return exec_result(0, "ok")

    sandbox = FakeSandbox(answer)
    with pytest.raises(Interrupted):
        pipeline.grade_all(config, config.groups, _ctx(tmp_path, sandbox), jobs=1)
    assert sandbox.closed
    saved = sorted(p.name for p in (tmp_path / "out" / "groups").glob("*.json"))
    assert saved == ["a.json"]  # the finished group only; no half-written result

    resumed = FakeSandbox()
    run = pipeline.grade_all(config, config.groups, _ctx(tmp_path, resumed))
    assert len(resumed.prepared) == 2  # b and c; a is reused
    assert [g.name for g in run.groups] == ["a", "b", "c"]


def test_infrastructure_error_stops_the_run_with_exit_3(tmp_path: Path) -> None:
    make_good_repo(tmp_path / "good")
    groups = write_groups(tmp_path, "groups:\n  - {name: good, repo: good}\n")

    class DeadEngine(FakeSandbox):
        def prepare(self, spec, checkout, log_dir):  # type: ignore[no-untyped-def]
            raise InfrastructureError("the Docker engine stopped responding")

    sandbox = DeadEngine()
    original = cli_run.make_sandbox
    try:
        cli_run.make_sandbox = lambda *a, **k: sandbox  # type: ignore[assignment]
        code = cli.main(["run", str(groups), "--out", str(tmp_path / "out"), "--quiet"])
    finally:
        cli_run.make_sandbox = original  # type: ignore[assignment]
    assert code == ExitCode.INFRASTRUCTURE
    assert sandbox.closed
    assert not (tmp_path / "out" / "groups" / "good.json").exists()


def test_token_never_reaches_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "ghp_SECRETTOKEN1234567890"
    monkeypatch.setenv("REPOGRADER_GIT_TOKEN", secret)
    groups = write_groups(
        tmp_path,
        f"""\
        groups:
          - name: private
            repo: https://x-access-token:{secret}@127.0.0.1:1/org/repo.git
          - name: private2
            repo: https://127.0.0.1:1/org/repo2.git
        """,
    )
    out = tmp_path / "out"
    code = cli.main(["run", str(groups), "--static", "--out", str(out), "--quiet"])
    assert code == ExitCode.GROUP_ERRORS
    assert secret not in every_file_text(out)
    run = json.loads((out / "results.json").read_text())
    assert all(g["status"] == "error" for g in run["groups"])


def test_validate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_groups(tmp_path, "groups:\n  - {name: a}\n")
    assert cli.main(["validate", str(bad)]) == ExitCode.USAGE
    assert "groups.yaml:4: groups[0].repo: required" in capsys.readouterr().err


def test_only_selects_groups_and_rejects_unknown(tmp_path: Path) -> None:
    make_good_repo(tmp_path / "a")
    groups = write_groups(tmp_path, "groups:\n  - {name: a, repo: a}\n  - {name: b, repo: b}\n")
    out = tmp_path / "out"
    assert cli.main(["run", str(groups), "--static", "--only", "a", "--out", str(out), "-q"]) == 0
    # Issue 11: every group of groups.yaml is in the report; b was never graded here.
    a, b = report_results.read_results(out / "results.json").groups
    assert (a.name, a.status) == ("a", GroupStatus.GRADED)
    assert (b.name, b.status) == ("b", GroupStatus.ERROR)
    assert b.error == pipeline.NOT_GRADED_YET
    assert cli.main(["run", str(groups), "--static", "--only", "zz", "-q"]) == ExitCode.USAGE


def test_only_is_repeatable_and_error_groups_stay_in_the_report(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        make_good_repo(tmp_path / name)
    groups = write_groups(
        tmp_path,
        "groups:\n  - {name: a, repo: a}\n  - {name: b, repo: b}\n  - {name: c, repo: c}\n"
        "  - {name: gone, repo: does-not-exist}\n",
    )
    out = tmp_path / "out"
    base = ["run", str(groups), "--static", "--out", str(out), "-q"]
    assert cli.main(base) == ExitCode.GROUP_ERRORS  # "gone" cannot be fetched
    first = {g.name: g for g in report_results.read_results(out / "results.json").groups}
    assert first["gone"].status == GroupStatus.ERROR

    # `--only A --only B` grades both (argparse used to keep only the last one).
    commit(tmp_path / "a", {"new.py": "# new\n"}, "new", "2026-03-31T10:00:00+02:00")
    commit(tmp_path / "c", {"new.py": "# new\n"}, "new", "2026-03-31T10:00:00+02:00")
    assert cli.main([*base, "--only", "a", "--only", "c"]) == 0
    after = {g.name: g for g in report_results.read_results(out / "results.json").groups}
    assert list(after) == ["a", "b", "c", "gone"]
    assert after["a"].commit != first["a"].commit
    assert after["c"].commit != first["c"].commit
    assert after["b"] == first["b"]
    # The group that ended in error is still there, with its reason.
    assert after["gone"] == first["gone"]


def test_default_output_folder_is_beside_the_groups_file(tmp_path: Path) -> None:
    make_good_repo(tmp_path / "a")
    groups = write_groups(tmp_path, "groups:\n  - {name: a, repo: a}\n")
    assert cli.main(["run", str(groups), "--static", "-q"]) == 0
    assert (tmp_path / "grading-report" / "index.html").exists()
    git(tmp_path / "a", "log", "-1")  # the student's repository is untouched


def test_only_regrades_one_group_and_keeps_the_others_in_the_report(tmp_path: Path) -> None:
    make_good_repo(tmp_path / "a")
    make_good_repo(tmp_path / "b")
    groups = write_groups(tmp_path, "groups:\n  - {name: a, repo: a}\n  - {name: b, repo: b}\n")
    out = tmp_path / "out"
    assert cli.main(["run", str(groups), "--static", "--out", str(out), "-q"]) == 0
    before = {g.name: g for g in report_results.read_results(out / "results.json").groups}

    commit(tmp_path / "a", {"new.py": "# new\n"}, "new", "2026-03-31T10:00:00+02:00")
    assert cli.main(["run", str(groups), "--static", "--only", "a", "--out", str(out), "-q"]) == 0
    after = {g.name: g for g in report_results.read_results(out / "results.json").groups}
    assert list(after) == ["a", "b"]  # the whole course, in groups.yaml order
    assert after["a"].commit != before["a"].commit  # re-graded at the new commit
    assert after["b"] == before["b"]  # kept as it was


def test_static_checks_do_not_wait_behind_a_slow_build(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        make_good_repo(tmp_path / name)
    config = load_groups(
        write_groups(
            tmp_path,
            "groups:\n  - {name: a, repo: a}\n  - {name: b, repo: b}\n  - {name: c, repo: c}\n",
        )
    )
    waiting: set[str] = set()
    all_waiting = threading.Event()
    order: list[str] = []

    class Recorder(pipeline.NoProgress):
        def stage(self, group: str, stage: str) -> None:
            if stage == "waiting for a sandbox":
                waiting.add(group)
                if len(waiting) == 3:
                    all_waiting.set()

    class SlowBuild(FakeSandbox):
        def prepare(self, spec, checkout, log_dir):  # type: ignore[no-untyped-def]
            order.append(str(checkout))
            if len(order) == 1:
                # The first build is slow; meanwhile b and c must get through fetch and
                # their static checks and queue for the sandbox.
                assert all_waiting.wait(20), f"only {sorted(waiting)} got past static checks"
            return super().prepare(spec, checkout, log_dir)

    sandbox = SlowBuild()
    run = pipeline.grade_all(
        config, config.groups, _ctx(tmp_path, sandbox, progress=Recorder()), jobs=1
    )
    assert [g.status for g in run.groups] == [GroupStatus.GRADED] * 3
    assert len(sandbox.prepared) == 3
    # Admitted to the sandbox in groups.yaml order, one at a time.
    assert [Path(p).parent.name for p in order] == ["a", "b", "c"]
