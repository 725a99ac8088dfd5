"""Feedback to send: one plain-language Markdown text per group, addressed to the students.

It says the score, each check's verdict with the one thing to fix, the lecturer's comments and
the late commits. No grader internals (check ids, details, cache keys, stack traces). The same
text goes into ``groups/<name>/feedback.md`` and the LMS worksheet's feedback column.

Student text (summaries quoting file names, commit subjects, group names) is made inert Markdown
by :func:`repograder.report.tables.md_text`.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from repograder.checks import readme_steps
from repograder.fixes import fix_hint
from repograder.fsutil import group_slug
from repograder.model import (
    CheckResult,
    GroupResult,
    GroupStatus,
    OverrideState,
    RunResult,
    Status,
    StepStatus,
)
from repograder.report.results import write_text_atomic
from repograder.report.tables import check_points, format_score, md_text

__all__ = ["FEEDBACK_FILE", "feedback_html", "feedback_markdown", "write_feedback"]

FEEDBACK_FILE = "feedback.md"  # in groups/<name>/ of the output folder

_VERDICT = {
    Status.PASS: "passed",
    Status.WARN: "passed with remarks",
    Status.FAIL: "not passed",
    Status.SKIP: "not assessed",
    Status.ERROR: "assessed by your lecturer",
}


def _points(check: CheckResult) -> str:
    if not check.counted:  # not applicable or not run: left out of the total
        return check_points(check)
    return f"{format_score(check.score)}/{format_score(check.max_score)} points"


class _Style:
    """Markdown (student text escaped) or plain text (for HTML escaping afterwards)."""

    def __init__(self, markdown: bool) -> None:
        self.markdown = markdown
        # Plain text lands in CSV cells (students.csv, the LMS worksheet), where a line starting
        # with "-" would be taken for a formula and neutralised with a visible quote.
        self.bullet = "- " if markdown else "• "

    def text(self, value: str, limit: int = 600) -> str:
        if self.markdown:
            return md_text(value, limit)
        value = " ".join(value.split())
        return value if len(value) <= limit else value[: limit - 1] + "…"

    def bold(self, value: str) -> str:
        return f"**{value}**" if self.markdown else value

    def code(self, value: str) -> str:
        return f"`{value}`" if self.markdown else value


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def _first_failed_step(group: GroupResult, st: _Style) -> str | None:
    """'step 2 (README line 17: python train.py) failed: reason. hint' for readme-steps."""
    for step in group.steps:
        if step.status in (StepStatus.FAILED, StepStatus.TIMEOUT):
            what = (
                f"step {step.index} (README line {step.source_line}: {st.text(step.command, 120)})"
            )
            why = f": {st.text(step.reason, 300)}" if step.reason else ""
            hint = f" Hint: {_sentence(st.text(step.hint, 300))}" if step.hint else ""
            verb = "timed out" if step.status is StepStatus.TIMEOUT else "failed"
            return f"{what} {verb}{why}.{hint} Fix it, then run the steps after it."
    return None


def _check_lines(check: CheckResult, st: _Style, group: GroupResult) -> list[str]:
    title = st.bold(st.text(check.title or check.id, 200))
    lines = [f"{st.bullet}{title}: {_VERDICT[check.status]}, {_points(check)}."]
    override = check.override
    applied = override is not None and override.state is OverrideState.APPLIED
    if check.summary and not (applied and check.status is Status.PASS):
        lines.append(f"  {st.text(check.summary)}")
    # A skip says why in its summary (not applicable, or a prerequisite failed): no fix of its own.
    if check.status in (Status.FAIL, Status.WARN) and not applied:
        # The fix derived from the finding, as `repograder check` shows it (fixes.py).
        derived = fix_hint(check, group)
        hint = _sentence(st.text(derived, 600)) if derived else ""
        if check.id == readme_steps.ID:
            hint = _first_failed_step(group, st) or hint  # already escaped
        if hint:
            lines.append(f"  {st.bullet}To fix: {hint}")
    if override is not None and applied:
        lines.append(f"  {st.bullet}Lecturer's comment: {st.text(override.comment, 2000)}")
    return lines


def feedback_markdown(
    run: RunResult, group: GroupResult, grade: str | None = None, *, markdown: bool = True
) -> str:
    """The group's feedback as Markdown (or plain text); ``grade`` is the scale grade, if any."""
    st = _Style(markdown)
    _text = st.text
    title = run.course or "your project"
    lines = [
        f"{'# ' if markdown else ''}Feedback for {_text(group.name, 200)}: {_text(title, 200)}",
        "",
    ]
    if group.status is not GroupStatus.GRADED:
        reason = _text(group.error or "unknown reason")
        lines += [
            f"Your repository could not be graded automatically ({reason}).",
            "Your lecturer will look at it; please check that the repository address is right "
            "and that it has commits before the deadline.",
        ]
        return "\n".join(lines) + "\n"
    score = f"{format_score(group.score)} of {format_score(group.max_score)} points"
    graded = f", grade {st.bold(_text(grade, 40))}." if grade else "."
    lines.append(f"Your score: {st.bold(score)}{graded}")
    if group.commit:
        when = f" from {_text(group.commit_date, 60)}" if group.commit_date else ""
        lines.append(f"We graded commit {st.code(group.commit[:12])}{when}.")
    lines.append("")
    if group.checks:
        lines += [f"{'## ' if markdown else ''}What we checked", ""]
        for check in group.checks:
            lines += _check_lines(check, st, group)
        lines.append("")
    if group.late_commits:
        n = len(group.late_commits)
        deadline = f" ({_text(run.deadline, 60)})" if run.deadline else ""
        lines += [
            f"{'## ' if markdown else ''}Late commits",
            "",
            f"{n} commit{'' if n == 1 else 's'} came after the deadline{deadline} and "
            f"{'was' if n == 1 else 'were'} not graded:",
            "",
        ]
        for lc in group.late_commits[:20]:
            lines.append(
                f"{st.bullet}{st.code(lc.sha[:12])} {_text(lc.date, 60)}: {_text(lc.subject, 200)}"
            )
        if n > 20:
            lines.append(f"{st.bullet}… and {n - 20} more")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def feedback_html(run: RunResult, group: GroupResult, grade: str | None = None) -> str:
    """The same feedback for an LMS comment field that takes HTML (Moodle's feedback comments).

    The plain-text version, escaped line by line with ``<br>`` between lines: it reads like
    feedback.md, and no student text can become markup in the LMS.
    """
    text = feedback_markdown(run, group, grade, markdown=False)
    return "<br>\n".join(html.escape(line) for line in text.rstrip("\n").split("\n"))


def write_feedback(
    run: RunResult,
    out_dir: Path,
    grade: Callable[[GroupResult], str | None] | None = None,
) -> list[Path]:
    """Write ``groups/<name>/feedback.md`` for every group; return the paths.

    ``grade`` gives a group's scale grade (export --scale). Raises InfrastructureError when a
    file cannot be written.
    """
    from repograder.errors import InfrastructureError

    paths = []
    for group in run.groups:
        path = out_dir / "groups" / group_slug(group.name) / FEEDBACK_FILE
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InfrastructureError(f"cannot create {path.parent}: {exc.strerror}") from None
        text = feedback_markdown(run, group, grade(group) if grade is not None else None)
        write_text_atomic(path, text)
        paths.append(path)
    return paths
