"""`repograder check` on real git repositories with the LOCAL backend (no Docker needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitrepo import git, isolate_git, make_repo, write
from repograder import cli
from repograder.model import CheckResult, GroupResult, GroupStatus, Status, StepResult, StepStatus
from repograder.report import github
from selfcheck_repos import bad_files, complete_files, good_files


@pytest.fixture(autouse=True)
def _git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path_factory, monkeypatch)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)


def check(
    capsys: pytest.CaptureFixture[str], repo: Path, out: Path, *extra: str
) -> tuple[int, str, str]:
    code = cli.main(["check", str(repo), "--out", str(out), "--quiet", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def statuses(results: Path) -> dict[str, str]:
    data = json.loads((results / "results.json").read_text())
    return {c["id"]: c["status"] for c in data["groups"][0]["checks"]}


def test_good_repo_passes_with_local_backend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "good", complete_files())
    out = tmp_path / "report"
    code, stdout, stderr = check(capsys, repo, out, "--sandbox", "local")
    assert code == 0, stdout + stderr
    assert "verdict: PASS — 10/10 — no check fails" in stdout
    assert "graded: commit" in stdout
    assert "✓ PASS  The README's commands run" in stdout
    assert "without isolation" in stderr  # the local backend says so plainly
    assert statuses(out)["env-build"] == "pass"
    assert statuses(out)["readme-steps"] == "pass"
    for name in ("index.html", "results.json", "junit.xml", "summary.md", "check-summary.md"):
        assert (out / name).is_file(), name
    assert "✅ pass" in (out / "check-summary.md").read_text()
    # The group page links the feedback to send; it exists.
    (page,) = (out / "groups").glob("*.html")
    assert (page.parent / page.stem / "feedback.md").is_file()


def test_failing_required_check_exits_1_and_says_what_to_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "bad", bad_files())
    out = tmp_path / "report"
    code, stdout, _ = check(capsys, repo, out, "--sandbox", "local")
    assert code == 1
    # The verdict names the score and every failing check, required or not.
    verdict = next(line for line in stdout.splitlines() if line.startswith("verdict:"))
    assert verdict.startswith("verdict: FAIL — ")
    assert "env-file" in verdict
    assert "readme-steps" in verdict
    assert "required check failing: env-file" in verdict
    assert "✗ FAIL  Environment file" in stdout
    assert "fix: add a requirements.txt" in stdout
    # The failing README step is named with its line.
    assert "fix: README line" in stdout
    assert "python missing_script.py" in stdout


def test_fail_on_modes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = make_repo(tmp_path / "good", good_files())
    bad = make_repo(tmp_path / "bad", bad_files())
    out = tmp_path / "report"
    # The good repo has no paper: a non-required failure. A student expects a failing check
    # to fail the check (the default, any-fail); --fail-on required keeps the old rule.
    assert check(capsys, good, out, "--static")[0] == 1
    assert check(capsys, good, out, "--static", "--fail-on", "required")[0] == 0
    assert check(capsys, good, out, "--static", "--fail-on", "any-fail")[0] == 1
    assert check(capsys, bad, out, "--static", "--fail-on", "never")[0] == 0
    assert check(capsys, bad, out, "--static")[0] == 1


def test_json_format_prints_only_json_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "bad", bad_files())
    code, stdout, stderr = check(
        capsys, repo, tmp_path / "r", "--sandbox", "local", "--format", "json"
    )
    assert code == 1
    data = json.loads(stdout)
    assert data["verdict"] == "fail"
    assert data["failing"] == ["env-file", "readme-steps", "paper-pages"]  # any-fail: all
    assert data["graded"] == "commit"
    assert data["group"]["name"] == "bad"
    assert data["group"]["commit"] == git(repo, "rev-parse", "HEAD")
    assert {c["id"] for c in data["group"]["checks"]} >= {"readme", "env-file", "readme-steps"}
    assert "verdict: FAIL" in stderr  # the checklist still reaches the terminal


def test_head_is_graded_and_uncommitted_changes_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "proj", complete_files())
    write(repo, {"main.py": "raise SystemExit(3)\n", "new_file.py": "x = 1\n"})
    out = tmp_path / "report"
    code, stdout, _ = check(capsys, repo, out, "--sandbox", "local")
    assert code == 0
    assert "2 uncommitted change(s) were NOT graded: main.py, new_file.py" in stdout
    assert statuses(out)["readme-steps"] == "pass"  # the committed main.py ran

    code, stdout, _ = check(capsys, repo, out, "--sandbox", "local", "--worktree")
    assert "graded: the working tree" in stdout
    assert "NOT graded" not in stdout
    assert statuses(out)["readme-steps"] == "fail"  # the edited main.py exits 3


def test_default_report_folder_in_repo_is_ignored_by_git(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "proj", good_files())
    out = repo / "repograder-report"
    check(capsys, repo, out, "--static")
    assert (out / "results.json").is_file()
    assert git(repo, "status", "--porcelain") == ""  # nothing for `git add -A` to pick up
    _, _stdout, _ = check(capsys, repo, out, "--static", "--worktree")
    data = json.loads((out / "results.json").read_text())
    comments = next(c for c in data["groups"][0]["checks"] if c["id"] == "comments")
    assert "repograder-report" not in json.dumps(comments["details"])


def test_plain_folder_with_report_inside_is_graded_without_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "plain"
    write(folder, complete_files())
    out = folder / "repograder-report"
    out.mkdir()
    (out / "junk.py").write_text("x = 1\n" * 50)  # would drag the comment density down
    code, stdout, _ = check(capsys, folder, out, "--static")
    assert code == 0
    assert "not a git repository" in stdout
    assert statuses(out)["comments"] == "pass"


def test_not_a_folder_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, stderr = check(capsys, tmp_path / "nope", tmp_path / "r", "--static")
    assert code == 2
    assert "not a folder" in stderr


def test_github_format_annotates_readme_lines_inside_stop_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "bad", bad_files())
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    code, stdout, _ = check(
        capsys, repo, tmp_path / "r", "--sandbox", "local", "--format", "github"
    )
    assert code == 1
    lines = stdout.splitlines()
    assert lines[0].startswith("::stop-commands::")
    token = lines[0].split("::")[2]
    resume = lines.index(f"::{token}::")
    assert "verdict: FAIL" in "\n".join(lines[:resume])
    annotations = lines[resume + 1 :]
    readme_line = next(
        i + 1
        for i, text in enumerate(bad_files()["README.md"].splitlines())
        if "missing_script" in text
    )
    step = [a for a in annotations if "missing_script" in a]
    assert step, annotations
    assert step[0].startswith(f"::error file=bad/README.md,line={readme_line},title=")
    assert any(a.startswith("::error title=Environment file") for a in annotations)
    assert all("\n" not in a for a in annotations)


def test_workflow_command_escaping() -> None:
    assert github.escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert github.escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    cmd = github.Annotation(
        "error", "line1\n::set-env name=X::y", file="dir,x/READ:ME.md", line=7, title="t: 1"
    ).command()
    assert cmd == (
        "::error file=dir%2Cx/READ%3AME.md,line=7,title=t%3A 1::line1%0A::set-env name=X::y"
    )


def test_annotations_point_at_files_from_check_details() -> None:
    def chk(cid: str, status: Status, details: dict[str, object]) -> CheckResult:
        return CheckResult(cid, cid.title(), status, 0, 1, f"{cid} bad", details)  # type: ignore[arg-type]

    group = GroupResult(
        name="g",
        repo="r",
        status=GroupStatus.GRADED,
        checks=(
            chk("readme", Status.PASS, {"path": "docs/README.md"}),
            chk("env-file", Status.WARN, {"path": "sub/requirements.txt"}),
            chk("env-build", Status.FAIL, {"env_file": "environment.yml"}),
            chk("paper-pages", Status.FAIL, {"path": "paper/p.pdf"}),
            chk("paper-format", Status.FAIL, {"paper": {"path": "paper/q.pdf"}}),
            chk(
                "notebooks",
                Status.FAIL,
                {
                    "notebooks": [
                        {"path": "a.ipynb", "status": "ok"},
                        {"path": "b.ipynb", "status": "failed", "error": "ZeroDivisionError"},
                    ]
                },
            ),
            chk("readme-steps", Status.FAIL, {}),
            chk("comments", Status.SKIP, {}),
        ),
        steps=(
            StepResult(1, "make all", 12, StepStatus.FAILED, reason="exit 2", hint="try x"),
            StepResult(2, "ok", 14, StepStatus.OK),
        ),
    )
    cmds = [a.command() for a in github.group_annotations(group, prefix="repo")]
    # In the rubric's check order.
    assert cmds == [
        "::warning file=repo/sub/requirements.txt,title=Env-File [warn]::env-file bad",
        "::error file=repo/environment.yml,title=Env-Build [fail]::env-build bad",
        "::error file=repo/paper/p.pdf,title=Paper-Pages [fail]::paper-pages bad",
        "::error file=repo/paper/q.pdf,title=Paper-Format [fail]::paper-format bad",
        "::error file=repo/b.ipynb,title=Notebooks [fail]::b.ipynb: failed: ZeroDivisionError",
        "::error file=repo/docs/README.md,line=12,title=Readme-Steps [fail]::"
        "README step 1 failed: make all%0Aexit 2%0Ahint: try x",
    ]
