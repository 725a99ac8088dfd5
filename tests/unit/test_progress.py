"""Progress: plain lines for logs and pipes, a live table on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from repograder.model import CheckResult, GroupResult, GroupStatus, Status
from repograder.progress import LiveProgress, PlainProgress

GRADED = GroupResult(
    name="g1",
    repo="r",
    status=GroupStatus.GRADED,
    score=3,
    max_score=4,
    checks=(
        CheckResult("readme", "README", Status.PASS, 3, 3, "ok"),
        CheckResult("env-file", "env", Status.FAIL, 0, 1, "none"),
    ),
)
FAILED = GroupResult(name="g2", repo="r", status=GroupStatus.ERROR, error="repository not found")


def test_plain_lines_name_group_stage_and_outcome() -> None:
    out = io.StringIO()
    progress = PlainProgress(out)
    progress.begin(["g1", "g2"])
    progress.stage("g1", "build")
    progress.done("g1", GRADED, cached=False)
    progress.done("g2", FAILED, cached=False)
    lines = out.getvalue().splitlines()
    assert lines == [
        "grading 2 group(s)",
        "[g1] build",
        "[g1] done 1/2: 3/4 points (1 fail, 1 pass)",
        "[g2] done 2/2: error: repository not found",
    ]


def test_live_table_shows_every_group_and_freezes_finished_rows() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    progress = LiveProgress(console)
    progress.begin(["g1", "g2"])
    progress.stage("g1", "fetch")
    progress.done("g1", GRADED, cached=True)
    rendered = io.StringIO()
    Console(file=rendered, width=100).print(progress._table())
    progress.end()
    text = rendered.getvalue()
    assert "3/4 points" in text
    assert "(reused)" in text
    assert "waiting" in text  # g2 has not started
