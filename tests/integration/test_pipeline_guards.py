"""A crash in a pure function on student data costs that piece of evidence, never the group
(issue 12): envchain's step coverage and the contributions summary run under the pipeline's
guard, like the inspections."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gitrepo import commit, init_repo
from grading import grading_context
from repograder import contributions, envchain, pipeline
from repograder.config import load_groups
from repograder.model import GroupStatus, Status, StepStatus
from repograder.sandbox.fake import FakeSandbox

README = textwrap.dedent(
    """\
    # Demo

    A small project that prints a number; this README says how to install and run it, with
    enough words to pass the length rule of the default rubric without any padding at all.

    ## Setup

    ```bash
    pip install -r requirements.txt
    ```

    ## Usage

    ```bash
    python main.py
    ```
    """
)


def _grade(tmp_path: Path) -> pipeline.GroupResult:
    repo = tmp_path / "g"
    init_repo(repo)
    files = {"README.md": README, "requirements.txt": "six\n", "main.py": "print(1)\n"}
    commit(repo, files, "first", "2026-03-30T12:00:00+02:00")
    groups = tmp_path / "groups.yaml"
    groups.write_text("groups:\n  - {name: g, repo: g, members: [Ada]}\n", encoding="utf-8")
    config = load_groups(groups)
    ctx = grading_context(tmp_path, FakeSandbox())
    (group,) = pipeline.grade_all(config, config.groups, ctx).groups
    return group


def _crash(*args: object, **kwargs: object) -> None:
    raise ZeroDivisionError("injected")


def test_a_crash_in_step_coverage_keeps_the_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(envchain, "mark_uncovered", _crash)
    group = _grade(tmp_path)
    assert group.status is GroupStatus.GRADED
    assert [s.status for s in group.steps if s.command == "python main.py"] == [StepStatus.OK]
    checks = {c.id: c for c in group.checks}
    assert checks["readme-steps"].status is Status.PASS
    problems = group.artifacts["grader_problems"]
    assert isinstance(problems, list)
    assert any("environment coverage: ZeroDivisionError: injected" in p for p in problems)


def test_a_crash_in_contributions_keeps_the_grade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contributions, "summarise", _crash)
    group = _grade(tmp_path)
    assert group.status is GroupStatus.GRADED
    assert group.score > 0
    assert group.contributions == {}
    problems = group.artifacts["grader_problems"]
    assert isinstance(problems, list)
    assert any("contributions: ZeroDivisionError: injected" in p for p in problems)
