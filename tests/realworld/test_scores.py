"""Issue 14, kinds 5 and 6: scores and the student's checklist, through the real pipeline.

Real git repositories, the LOCAL sandbox (no Docker needed), the default rubric.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from gitrepo import isolate_git, make_repo
from repograder import cli, fixes
from repograder.config import load_rubric
from repograder.model import Applies, Checkout, CheckResult, GroupResult, GroupStatus, Status
from repograder.notebooks import NotebookReport
from repograder.rubric import Evidence, evaluate, total

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data" / "realworld"))
import repos


@pytest.fixture(autouse=True)
def _git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path_factory, monkeypatch)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)


def _check(
    capsys: pytest.CaptureFixture[str], repo: Path, out: Path, *extra: str
) -> tuple[int, str]:
    code = cli.main(["check", str(repo), "--out", str(out), "--quiet", *extra])
    return code, capsys.readouterr().out


def _group(out: Path) -> dict[str, object]:
    data = json.loads((out / "results.json").read_text())
    group = data["groups"][0]
    assert isinstance(group, dict)
    return group


def test_good_repo_without_notebooks_scores_full_total(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "birds", repos.good_without_notebooks())
    out = tmp_path / "report"
    code, stdout = _check(capsys, repo, out, "--sandbox", "local")
    assert code == 0, stdout
    group = _group(out)
    assert (group["score"], group["max_score"]) == (10, 10)
    checks = {c["id"]: c for c in group["checks"]}  # type: ignore[attr-defined]
    assert checks["notebooks"]["applies"] == "not-applicable"
    assert checks["notebooks"]["counted"] is False
    assert "left out of the total" in checks["notebooks"]["summary"]
    rows = list(csv.DictReader(io.StringIO((out / "grades.csv").read_text())))
    assert rows[0]["notebooks"] == "n/a"
    assert rows[0]["not_applicable"] == "notebooks"
    assert rows[0]["total"] == "10"
    page = (out / "groups").glob("*.html")
    html = next(page).read_text()
    assert "Not applicable: <b>The notebooks execute without errors</b>" in html
    assert "the repository has no notebooks" in html


def test_static_run_marks_unrun_checks_not_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "birds", repos.good_without_notebooks())
    out = tmp_path / "report"
    code, stdout = _check(capsys, repo, out, "--static")
    assert code == 0, stdout
    rows = list(csv.DictReader(io.StringIO((out / "grades.csv").read_text())))
    assert rows[0]["env-build"] == "not run"
    assert rows[0]["readme-steps"] == "not run"
    assert rows[0]["not_run"] == "env-build readme-steps"
    # No notebooks is known without running anything: not applicable, not "not run".
    assert rows[0]["notebooks"] == "n/a"
    assert rows[0]["not_applicable"] == "notebooks"
    # 6 points judged (all passed), the notebook's point shared out: 7 of the 7 that could be
    # judged without running; the 3 not run are not a final 0.
    assert (rows[0]["total"], rows[0]["max"]) == ("7", "7")
    assert "not run: env-build, readme-steps" in stdout
    assert re.search(r"The notebooks execute without errors +n/a\n", stdout)
    assert re.search(r"The README's commands run +not run\n", stdout)
    html = next((out / "groups").glob("*.html")).read_text()
    assert "Not run: <b>The environment builds in the sandbox</b>" in html


def _result(cid: str, score: float, points: float, applies: Applies, counted: bool) -> CheckResult:
    return CheckResult(cid, cid, Status.PASS, score, points, "", applies=applies, counted=counted)


def test_total_scales_excluded_checks_to_the_rubric_total() -> None:
    yes = Applies.YES
    checks = (
        _result("a", 4.5, 5, yes, True),
        _result("b", 4, 4, yes, True),
        _result("nb", 0, 1, Applies.NOT_APPLICABLE, False),
    )
    assert total(checks) == (9.44, 10)  # 8.5 of 9 counted points, scaled to 10
    full = (*checks[:2], _result("nb", 1, 1, Applies.NOT_APPLICABLE, True))
    assert total(full) == (9.5, 10)
    not_run = (*checks[:2], _result("nb", 0, 1, Applies.NOT_RUN, False))
    assert total(not_run) == (8.5, 9)


@pytest.mark.parametrize(
    ("when_absent", "score", "counted"),
    [("full", 1.0, True), ("zero", 0.0, True), (None, 0.0, False)],
)
def test_when_absent_per_check(
    tmp_path: Path, when_absent: str | None, score: float, counted: bool
) -> None:
    line = f"    when_absent: {when_absent}\n" if when_absent else ""
    rubric_file = tmp_path / "r.yaml"
    rubric_file.write_text(f"name: r\nchecks:\n  - id: notebooks\n    points: 1\n{line}")
    spec = load_rubric(rubric_file).checks[0]
    evidence = Evidence(checkout=Checkout(tmp_path, None, None), notebooks=NotebookReport(()))
    result = evaluate(spec, evidence)
    assert result.applies is Applies.NOT_APPLICABLE
    assert (result.score, result.counted) == (score, counted)


def test_unknown_when_absent_is_refused(tmp_path: Path) -> None:
    rubric_file = tmp_path / "r.yaml"
    rubric_file.write_text(
        "name: r\nchecks:\n  - id: notebooks\n    points: 1\n    when_absent: half\n"
    )
    with pytest.raises(Exception, match="when_absent"):
        load_rubric(rubric_file)


def test_checklist_names_score_failing_checks_and_fix_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "birds", repos.short_readme_long_paper())
    out = tmp_path / "report"
    code, stdout = _check(capsys, repo, out, "--sandbox", "local")
    assert code == 1  # a failing check fails the check (default --fail-on any-fail)
    group = _group(out)
    verdict = next(ln for ln in stdout.splitlines() if ln.startswith("verdict:"))
    assert verdict.startswith(f"verdict: FAIL — {group['score']:g}/10 — ")
    assert "checks fail (readme-steps, paper-pages)" in verdict
    assert verdict.endswith("; required checks pass")
    # Fix texts follow the findings: the README exists (short), the paper has 5 pages.
    assert "write a README.md" not in stdout
    assert "fix: README.md: explain what the project does and how to use it" in stdout
    assert "fix: shorten the paper by one page: at most 4 are allowed (paper/paper.pdf)" in stdout
    assert "commit the paper as a PDF" not in stdout
    assert "fix this first: The README's commands run (2 points): README line" in stdout
    # --fail-on required keeps the old rule; the verdict still names the failing checks.
    code, stdout = _check(capsys, repo, out, "--sandbox", "local", "--fail-on", "required")
    assert code == 0
    assert "verdict: PASS — " in stdout
    assert "checks fail (readme-steps, paper-pages); required checks pass" in stdout


def _group_of(*checks: CheckResult) -> GroupResult:
    return GroupResult(name="g", repo="r", status=GroupStatus.GRADED, checks=checks)


def test_notebook_missing_module_fix_names_the_package_and_env_file() -> None:
    env = CheckResult("env-file", "Env", Status.PASS, 1, 1, "", details={"path": "environment.yml"})
    nb = CheckResult(
        "notebooks",
        "Notebooks",
        Status.FAIL,
        0,
        1,
        "0 of 1 notebooks ran",
        details={
            "notebooks": [
                {
                    "path": "analysis.ipynb",
                    "status": "error",
                    "failing_cell": 2,
                    "error": "ModuleNotFoundError: No module named 'librosa'",
                }
            ]
        },
    )
    group = _group_of(env, nb)
    assert (
        fixes.fix_hint(nb, group)
        == "add librosa to environment.yml (analysis.ipynb cell 2 imports it)"
    )
    sk = replace(
        nb,
        details={
            "notebooks": [
                {"path": "a.ipynb", "status": "error", "error": "No module named 'sklearn.svm'"}
            ]
        },
    )
    assert fixes.fix_hint(sk, _group_of(sk)).startswith("add scikit-learn to requirements.txt")


def test_fix_first_is_the_check_that_costs_most() -> None:
    readme = CheckResult("readme", "README", Status.WARN, 1.5, 2, "", required=True)
    steps = CheckResult("readme-steps", "Steps", Status.FAIL, 0, 2, "")
    pages = CheckResult("paper-pages", "Pages", Status.FAIL, 0, 1, "")
    na = CheckResult(
        "notebooks", "NB", Status.SKIP, 0, 1, "", applies=Applies.NOT_APPLICABLE, counted=False
    )
    assert fixes.fix_first((readme, pages, na, steps)) is steps
    tie = CheckResult("env-file", "Env", Status.FAIL, 0, 2, "", required=True)
    assert fixes.fix_first((steps, tie)) is tie  # required first on a tie
    assert fixes.fix_first((na,)) is None


def test_env_file_and_comments_fixes_follow_the_findings() -> None:
    nested = CheckResult(
        "env-file",
        "Env",
        Status.WARN,
        0.75,
        1,
        "requirements file (3 requirements); not at the repository root",
        details={"path": "code/requirements.txt"},
    )
    assert fixes.fix_hint(nested, _group_of(nested)) == (
        "move code/requirements.txt to the repository root (as requirements.txt)"
    )
    comments = CheckResult(
        "comments",
        "Comments",
        Status.WARN,
        0.5,
        1,
        "comment density 0.10",
        details={
            "files": [
                {
                    "path": "a.py",
                    "code_lines": 40,
                    "density": 0.3,
                    "functions": 2,
                    "functions_documented": 2,
                },
                {
                    "path": "train.py",
                    "code_lines": 120,
                    "density": 0.02,
                    "functions": 5,
                    "functions_documented": 1,
                },
            ]
        },
    )
    assert fixes.fix_hint(comments, _group_of(comments)) == (
        "explain *why* in comments, starting with train.py; "
        "give the 4 functions without a docstring one"
    )
