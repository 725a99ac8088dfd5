"""Realistic fake RunResults for report tests (and for anyone who needs one).

``make_run()`` gives three groups: a good one, a sloppy one (failures, a timeout step, late
commits) and one that could not be graded. ``make_hostile_run(payload)`` puts ``payload`` into
every student-controlled field, for escaping tests.
"""

from __future__ import annotations

from repograder.model import (
    CheckResult,
    GroupResult,
    GroupStatus,
    JSONDict,
    LateCommit,
    RubricInfo,
    RunResult,
    Status,
    StepResult,
    StepStatus,
    Timings,
    ToolInfo,
)

TOOL = ToolInfo("repograder", "0.1.0")
RUBRIC = RubricInfo("dl4ad", "3f5a" * 16)
DEADLINE = "2026-03-31T23:59:59+02:00"

CHECK_TITLES = {
    "readme": "README with step-by-step instructions",
    "env-file": "Environment file present",
    "env-build": "Environment builds",
    "readme-steps": "README steps run",
    "notebooks": "Notebooks execute",
    "comments": "Code is commented",
    "paper-pages": "Paper page limit",
    "paper-format": "IEEE conference format",
}


def check(
    cid: str,
    status: Status,
    score: float,
    max_score: float,
    summary: str,
    details: JSONDict | None = None,
    *,
    title: str | None = None,
) -> CheckResult:
    """A CheckResult with the default rubric's title for ``cid``."""
    return CheckResult(
        id=cid,
        title=title if title is not None else CHECK_TITLES.get(cid, cid),
        status=status,
        score=score,
        max_score=max_score,
        summary=summary,
        details=details or {},
    )


def good_group() -> GroupResult:
    """Everything passes; paper thumbnails, a rendered notebook and logs as artifacts."""
    checks = (
        check(
            "readme",
            Status.PASS,
            1,
            1,
            "README.md has 6 runnable steps under 'Usage'",
            {"file": "README.md", "steps": 6, "headings": ["Setup", "Usage", "Results"]},
        ),
        check("env-file", Status.PASS, 1, 1, "environment.yml found", {"file": "environment.yml"}),
        check(
            "env-build",
            Status.PASS,
            2,
            2,
            "conda environment built in 94.2 s",
            {"image": "repograder-env:3b1f0c", "cached": False, "duration_s": 94.2},
        ),
        check("readme-steps", Status.PASS, 2, 2, "6 of 6 steps succeeded"),
        check(
            "notebooks",
            Status.PASS,
            1,
            1,
            "2 of 2 notebooks executed without errors",
            {
                "notebooks": [
                    {"path": "notebooks/eda.ipynb", "status": "ok", "cells": 14},
                    {"path": "notebooks/results.ipynb", "status": "ok", "cells": 9},
                ]
            },
        ),
        check(
            "comments",
            Status.WARN,
            0.5,
            1,
            "comment density 8.1% (expected at least 10%)",
            {
                "density": 0.081,
                "files": [
                    {"file": "src/train.py", "lines": 212, "comment_lines": 15, "docstrings": 4},
                    {"file": "src/model.py", "lines": 98, "comment_lines": 11, "docstrings": 5},
                ],
            },
        ),
        check(
            "paper-pages",
            Status.PASS,
            1,
            1,
            "paper/main.pdf has 4 pages (limit 4)",
            {"file": "paper/main.pdf", "pages": 4, "limit": 4},
        ),
        check(
            "paper-format",
            Status.PASS,
            1,
            1,
            "looks like the IEEE conference template",
            {"columns": 2, "page_size": "Letter", "fonts": ["NimbusRomNo9L-Regu", "CMMI10"]},
        ),
    )
    steps = (
        StepResult(
            1,
            "conda env create -f environment.yml",
            12,
            StepStatus.SKIPPED,
            reason="environment setup is done by the grader",
            kind="env",
            heading="Setup",
        ),
        StepResult(
            2,
            "python -m src.download --small",
            20,
            StepStatus.OK,
            exit_code=0,
            duration_s=3.4,
            output_head="Downloading ESC-50 subset... done (40 files)\n",
            heading="Usage",
        ),
        StepResult(
            3,
            "python -m src.train --epochs 1",
            24,
            StepStatus.OK,
            exit_code=0,
            duration_s=41.7,
            output_head="epoch 1/1\n",
            output_tail="loss 1.93 acc 0.41\nsaved checkpoints/model.pt\n",
            heading="Usage",
        ),
        StepResult(
            4,
            "python -m src.evaluate checkpoints/model.pt",
            28,
            StepStatus.OK,
            exit_code=0,
            duration_s=5.0,
            output_head="accuracy: 0.43\n",
            heading="Usage",
        ),
    )
    return GroupResult(
        name="group-1",
        repo="https://github.com/ml4audio/group-1.git",
        status=GroupStatus.GRADED,
        commit="9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
        commit_date="2026-03-31T22:14:03+02:00",
        score=9.5,
        max_score=10,
        checks=checks,
        steps=steps,
        timings=Timings(fetch_s=0.8, build_s=94.2, run_s=50.1, total_s=146.0),
        members=("Ada Lovelace", "Alan Turing"),
        artifacts={
            "paper": {
                "thumbnails": ["groups/group-1/paper-1.png", "groups/group-1/paper-2.png"],
                "file": "paper/main.pdf",
            },
            "notebooks": [
                {
                    "path": "notebooks/eda.ipynb",
                    "html": "groups/group-1/notebooks/eda.html",
                    "status": "ok",
                    "error": None,
                },
                {"path": "notebooks/results.ipynb", "html": None, "status": "ok", "error": None},
            ],
            "logs": {"build log": "logs/group-1/build.log", "step 3": "logs/group-1/step-3.log"},
        },
    )


def sloppy_group() -> GroupResult:
    """Failures, a timed-out step, a failed notebook and commits after the deadline."""
    checks = (
        check(
            "readme",
            Status.WARN,
            0.5,
            1,
            "README.md has only 2 commands and no headings",
            {"file": "README.md", "steps": 2},
        ),
        check("env-file", Status.PASS, 1, 1, "requirements.txt found"),
        check(
            "env-build",
            Status.FAIL,
            0,
            2,
            "pip install failed: No matching distribution found for torch==1.4.0",
            {
                "exit_code": 1,
                "log_tail": "ERROR: Could not find a version that satisfies the "
                "requirement torch==1.4.0\nERROR: No matching distribution found for torch==1.4.0",
            },
        ),
        check("readme-steps", Status.FAIL, 0, 2, "1 of 2 steps timed out"),
        check(
            "notebooks",
            Status.FAIL,
            0,
            1,
            "1 of 1 notebook failed",
            {
                "notebooks": [
                    {
                        "path": "Untitled.ipynb",
                        "status": "error",
                        "error": "ModuleNotFoundError: No module named 'librosa'",
                    }
                ]
            },
        ),
        check(
            "comments",
            Status.FAIL,
            0,
            1,
            "comment density 1.2% (expected at least 10%)",
            {"density": 0.012},
        ),
        check(
            "paper-pages",
            Status.FAIL,
            0,
            1,
            "paper.pdf has 6 pages; at most 4 are allowed",
            {"file": "paper.pdf", "pages": 6, "limit": 4},
        ),
        check("paper-format", Status.SKIP, 0, 1, "skipped: the paper has too many pages"),
    )
    steps = (
        StepResult(
            1,
            "pip install -r requirements.txt",
            5,
            StepStatus.FAILED,
            reason="exit code 1",
            exit_code=1,
            duration_s=12.3,
            output_tail="ERROR: No matching distribution found for torch==1.4.0\n",
            kind="install",
            hint="pin a torch version that exists for Python 3.11",
        ),
        StepResult(
            2,
            "python train.py",
            7,
            StepStatus.TIMEOUT,
            reason="killed after 600 s (step timeout)",
            exit_code=None,
            duration_s=600.0,
            output_head="Epoch 1\n" * 3,
            output_tail="Epoch 4812\n" * 3,
        ),
    )
    return GroupResult(
        name="group-2",
        repo="https://github.com/ml4audio/group-2.git",
        status=GroupStatus.GRADED,
        commit="1234567890abcdef1234567890abcdef12345678",
        commit_date="2026-03-30T09:00:00+02:00",
        late_commits=(
            LateCommit(
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "2026-04-01T00:12:00+02:00",
                "fix paper length",
            ),
            LateCommit(
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                "2026-04-02T10:00:00+02:00",
                "final final version",
            ),
        ),
        score=1.5,
        max_score=10,
        checks=checks,
        steps=steps,
        timings=Timings(fetch_s=1.1, build_s=30.5, run_s=612.3, total_s=644.0),
        members=("Grace Hopper",),
        artifacts={
            "paper": {"thumbnails": [f"groups/group-2/paper-{i}.png" for i in range(1, 7)]},
            "notebooks": [
                {
                    "path": "Untitled.ipynb",
                    "html": None,
                    "status": "error",
                    "error": "ModuleNotFoundError: No module named 'librosa'",
                }
            ],
        },
    )


def error_group() -> GroupResult:
    """A group that could not be graded (repository not found)."""
    return GroupResult(
        name="group-3",
        repo="https://github.com/ml4audio/group-3.git",
        status=GroupStatus.ERROR,
        error="repository not found: https://github.com/ml4audio/group-3.git",
        members=("Edsger Dijkstra", "Barbara Liskov"),
        timings=Timings(fetch_s=2.0, total_s=2.0),
    )


def make_run(groups: tuple[GroupResult, ...] | None = None) -> RunResult:
    """A complete run: good, sloppy and error group unless ``groups`` is given."""
    return RunResult(
        tool=TOOL,
        course="Machine Learning for Audio Data",
        deadline=DEADLINE,
        rubric=RUBRIC,
        started_at="2026-04-01T08:00:00+02:00",
        finished_at="2026-04-01T08:14:37+02:00",
        groups=groups if groups is not None else (good_group(), sloppy_group(), error_group()),
    )


def make_hostile_run(payload: str) -> RunResult:
    """A run with ``payload`` in every field a student can influence (and artifact paths)."""
    p = payload
    graded = GroupResult(
        name=f"{p} graded",
        repo=f"https://example.org/{p}.git",
        status=GroupStatus.GRADED,
        commit="0123456789abcdef0123456789abcdef01234567",
        commit_date="2026-03-31T10:00:00+02:00",
        late_commits=(LateCommit("c" * 40, "2026-04-01T10:00:00+02:00", f"subject {p}"),),
        score=1,
        max_score=2,
        checks=(
            check(
                "readme",
                Status.FAIL,
                0,
                1,
                f"summary {p}",
                {
                    f"key {p}": f"value {p}",
                    "nested": {"deep": [f"item {p}", {p: p}]},
                    "rows": [{"file": p, p: "cell"}],
                    "long": f"line\n{p}\n" * 20,
                },
                title=f"title {p}",
            ),
            check("comments", Status.PASS, 1, 1, f"fine {p}", {"files": [p, p]}),
        ),
        steps=(
            StepResult(
                1,
                f"echo {p}",
                3,
                StepStatus.FAILED,
                reason=f"reason {p}",
                exit_code=2,
                duration_s=0.1,
                output_head=f"head {p}",
                output_tail=f"tail {p}",
                kind=f"kind {p}",
                heading=f"heading {p}",
                hint=f"hint {p}",
            ),
        ),
        members=(f"member {p}", "Normal Name"),
        artifacts={
            "paper": {
                "thumbnails": [
                    p,
                    f"groups/x/{p}.png",
                    "../../etc/passwd",
                    "javascript:alert(1)",
                    "/etc/passwd",
                ],
                "title": f"pdf title {p}",
            },
            "notebooks": [
                {"path": f"nb {p}.ipynb", "html": p, "status": "error", "error": f"Traceback {p}"}
            ],
            "logs": {f"log {p}": p, "ok log": "logs/ok.log", "bad": "../secret.log"},
            p: {p: p},
        },
    )
    broken = GroupResult(
        name=f"{p} broken",
        repo=f"file:///srv/{p}",
        status=GroupStatus.ERROR,
        error=f"error {p}",
        members=(p,),
    )
    return RunResult(
        tool=TOOL,
        course=f"course {p}",
        deadline=DEADLINE,
        rubric=RubricInfo(f"rubric {p}", "0" * 64),
        started_at="2026-04-01T08:00:00+02:00",
        finished_at="2026-04-01T08:01:00+02:00",
        groups=(graded, broken),
    )
