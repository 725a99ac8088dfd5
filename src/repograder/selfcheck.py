"""``repograder check``: a student grades their own repository the way the lecturer will.

The same pipeline as ``repograder run`` grades one group. A git repository is graded at its
committed HEAD, fetched through the mirror exactly as the lecturer's run does, so uncommitted
work is *not* graded (and the output says so); ``--worktree`` previews the working tree
instead: the files ``git add -A`` would commit.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from repograder import fixes, git
from repograder.config import CourseConfig, GroupSpec
from repograder.errors import ConfigError
from repograder.model import (
    Applies,
    CheckResult,
    GroupResult,
    GroupStatus,
    JSONDict,
    JSONValue,
    RunResult,
    Status,
)
from repograder.pipeline import GradingContext, grade_all
from repograder.report import github
from repograder.report.results import group_to_json, write_text_atomic
from repograder.report.tables import check_points, format_score, md_text

FAIL_ON = ("required", "any-fail", "never")
# A student expects a check to fail when any check fails; `--fail-on required` keeps the rule
# for courses that only block on required checks.
DEFAULT_FAIL_ON = "any-fail"
CHECK_SUMMARY = "check-summary.md"
_SHOWN_CHANGES = 8


@dataclass(frozen=True)
class Source:
    """What is graded: the spec handed to the pipeline and how it relates to the folder."""

    group: GroupSpec
    path: Path  # the student's folder
    mode: str  # "commit" (HEAD of a git repo), "worktree" (git add -A preview) or "folder"
    uncommitted: tuple[str, ...] = ()  # changes that were NOT graded (mode "commit" only)


@dataclass(frozen=True)
class CheckOutcome:
    run: RunResult
    group: GroupResult
    source: Source
    out_dir: Path


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def _rel_prefix(out_dir: Path, root: Path) -> str | None:
    """The report folder relative to the repository, when it lies inside it."""
    if out_dir != root and _inside(out_dir, root):
        return out_dir.relative_to(root).as_posix() + "/"
    return None


def _copy_files(root: Path, files: Sequence[str], dest: Path) -> None:
    """Copy listed repo-relative files; symlinks stay links (never followed), others skipped."""
    for rel in files:
        src = root / rel
        target = dest / rel
        try:
            if not src.is_symlink() and not src.is_file():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target, follow_symlinks=False)
        except OSError:
            continue  # vanished or unreadable: graded as missing, as the lecturer would see it


def prepare_source(path: Path, out_dir: Path, scratch: Path, worktree: bool) -> Source:
    """Decide what to grade for `path` and stage a copy in `scratch` when needed."""
    root = path.resolve()
    if not root.is_dir():
        raise ConfigError(f"{path}: not a folder")
    name = root.name or "repository"
    report_prefix = _rel_prefix(out_dir.resolve(), root)
    changes = git.uncommitted_changes(root)
    if changes is not None:
        ignored = [c for c in changes if report_prefix and c.startswith(report_prefix)]
        changes = tuple(c for c in changes if c not in ignored)
        if not worktree:
            return Source(GroupSpec(name=name, repo=str(root)), root, "commit", changes)
        files = git.worktree_files(root) or ()
        files = tuple(f for f in files if not (report_prefix and f.startswith(report_prefix)))
        staged = scratch / name
        _copy_files(root, files, staged)
        staged.mkdir(parents=True, exist_ok=True)
        return Source(GroupSpec(name=name, repo=str(staged)), root, "worktree")
    if report_prefix is None:
        return Source(GroupSpec(name=name, repo=str(root)), root, "folder")
    # The report lives inside the folder: grade a copy without it, or it would be graded too.
    top = report_prefix.split("/", 1)[0]
    staged = scratch / name
    shutil.copytree(
        root,
        staged,
        symlinks=True,
        ignore=lambda folder, names: [n for n in names if Path(folder) == root and n == top],
    )
    return Source(GroupSpec(name=name, repo=str(staged)), root, "folder")


def grade_local(source: Source, ctx: GradingContext) -> CheckOutcome:
    """Grade the prepared source with the lecturer's pipeline."""
    config = CourseConfig(
        path=source.path,
        course=f"repograder check: {source.group.name}",
        deadline=None,
        rubric_path=ctx.plan.rubric.path,
        groups=(source.group,),
    )
    run = grade_all(config, config.groups, ctx, jobs=1)
    # Show the student's folder, not the staging copy the worktree was graded from.
    group = replace(run.groups[0], repo=str(source.path))
    run = replace(run, groups=(group,))
    return CheckOutcome(run=run, group=group, source=source, out_dir=ctx.plan.out_dir)


def write_gitignore(out_dir: Path) -> None:
    """Make git ignore the report folder, so `git add -A` never commits (and grades) it."""
    ignore = out_dir / ".gitignore"
    if not ignore.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(ignore, "# written by repograder check: the report is not yours\n*\n")


# --- verdict ------------------------------------------------------------------------------


def blocking(group: GroupResult, fail_on: str) -> tuple[CheckResult, ...]:
    """The checks that make the self-check fail under `fail_on`."""
    if fail_on == "never":
        return ()
    bad = (Status.FAIL, Status.ERROR)
    return tuple(
        c for c in group.checks if c.status in bad and (fail_on == "any-fail" or c.required)
    )


def passed(outcome: CheckOutcome, fail_on: str) -> bool:
    """True when the check exits 0: graded and no blocking check."""
    if fail_on == "never":
        return True
    return outcome.group.status is GroupStatus.GRADED and not blocking(outcome.group, fail_on)


def fix_hint(check: CheckResult, group: GroupResult) -> str:
    """The one thing to do about a check that did not pass (see :func:`fixes.fix_hint`)."""
    return fixes.fix_hint(check, group)


def verdict_line(outcome: CheckOutcome, fail_on: str) -> str:
    """``verdict: FAIL — 4.5/10 — 4 checks fail (…); required checks pass``.

    Names the score and every failing check whatever ``fail_on`` is, so a PASS under
    ``--fail-on required`` never hides failing checks.
    """
    g = outcome.group
    word = "PASS" if passed(outcome, fail_on) else "FAIL"
    if g.status is not GroupStatus.GRADED:
        return f"verdict: {word} — the repository could not be graded"
    parts = [f"{format_score(g.score)}/{format_score(g.max_score)}"]
    failing = [c for c in g.checks if c.status in (Status.FAIL, Status.ERROR)]
    if failing:
        n = len(failing)
        ids = ", ".join(c.id for c in failing)
        what = f"{n} check{'s' if n != 1 else ''} fail{'' if n != 1 else 's'} ({ids})"
        required = [c for c in failing if c.required]
        if any(c.required for c in g.checks):
            what += (
                f"; required check{'s' if len(required) != 1 else ''} failing: "
                + ", ".join(c.id for c in required)
                if required
                else "; required checks pass"
            )
        parts.append(what)
    else:
        parts.append("no check fails")
    not_run = [c.id for c in g.checks if c.applies is Applies.NOT_RUN]
    if not_run:
        parts.append("not run: " + ", ".join(not_run))
    return f"verdict: {word} — " + " — ".join(parts)


_MARK = {
    Status.PASS: "✓",
    Status.WARN: "!",
    Status.FAIL: "✗",
    Status.SKIP: "-",
    Status.ERROR: "?",
}


def _what_was_graded(outcome: CheckOutcome) -> str:
    g = outcome.group
    if outcome.source.mode == "commit" and g.commit:
        return f"commit {g.commit[:12]} (HEAD, what your lecturer grades)"
    if outcome.source.mode == "worktree":
        return "the working tree, including uncommitted changes (--worktree)"
    return "the folder as it is (not a git repository)"


def uncommitted_note(outcome: CheckOutcome) -> str | None:
    """The warning that uncommitted changes were not graded, or None."""
    changes = outcome.source.uncommitted
    if outcome.source.mode != "commit" or not changes:
        return None
    shown = ", ".join(changes[:_SHOWN_CHANGES])
    more = f" and {len(changes) - _SHOWN_CHANGES} more" if len(changes) > _SHOWN_CHANGES else ""
    return (
        f"{len(changes)} uncommitted change(s) were NOT graded: {shown}{more}. "
        "Commit and push them (your lecturer grades commits), or preview them with --worktree."
    )


def render_text(outcome: CheckOutcome, fail_on: str) -> str:
    """The terminal checklist: every check, its status and the one thing to fix."""
    g = outcome.group
    lines = [f"repograder check: {g.name}", f"graded: {_what_was_graded(outcome)}"]
    note = uncommitted_note(outcome)
    if note:
        lines.append(f"NOTE: {note}")
    lines.append("")
    if g.status is GroupStatus.ERROR:
        lines.append(f"could not be graded: {g.error}")
    width = max((len(c.title) for c in g.checks), default=0)
    for c in g.checks:
        req = " (required)" if c.required else ""
        score = f"{format_score(c.score)}/{format_score(c.max_score)}"
        if not c.counted:
            score = check_points(c)  # "n/a" or "not run": never a 0 that looks final
        lines.append(
            f" {_MARK[c.status]} {c.status.value.upper():5} {c.title:<{width}}  {score}{req}"
        )
        if c.status is not Status.PASS:
            lines.append(f"          {c.summary}")
        fix = fix_hint(c, g)
        if fix:
            lines.append(f"          fix: {fix}")
    lines.append("")
    if g.status is GroupStatus.GRADED:
        lines.append(f"score: {format_score(g.score)}/{format_score(g.max_score)}")
    first = fixes.fix_first(g.checks)
    if first is not None:
        lost = format_score(fixes.lost_points(first))
        lines.append(f"fix this first: {first.title} ({lost} points): {fix_hint(first, g)}")
    lines.append(verdict_line(outcome, fail_on))
    lines.append(f"report: {outcome.out_dir / 'index.html'}")
    return "\n".join(lines) + "\n"


def to_json(outcome: CheckOutcome, fail_on: str) -> JSONDict:
    """The machine-readable result: verdict, what was graded, and the group's results.json."""
    failing: list[JSONValue] = [c.id for c in blocking(outcome.group, fail_on)]
    return {
        "schema_version": outcome.run.schema_version,
        "verdict": "pass" if passed(outcome, fail_on) else "fail",
        "fail_on": fail_on,
        "failing": failing,
        "graded": outcome.source.mode,
        "uncommitted": list(outcome.source.uncommitted),
        "rubric": {"name": outcome.run.rubric.name, "sha256": outcome.run.rubric.sha256},
        "report_dir": str(outcome.out_dir),
        "group": group_to_json(outcome.group),
    }


def _points(c: CheckResult) -> str:
    if not c.counted:
        return check_points(c)
    return f"{format_score(c.score)}/{format_score(c.max_score)}"


def check_markdown(outcome: CheckOutcome, fail_on: str) -> str:
    """A Markdown checklist for ``$GITHUB_STEP_SUMMARY``; student text is made inert."""
    g = outcome.group
    verdict = "✅ pass" if passed(outcome, fail_on) else "❌ fail"
    lines = [f"## repograder check: {md_text(g.name)}: {verdict}", ""]
    facts = [md_text(_what_was_graded(outcome)), f"rubric {md_text(outcome.run.rubric.name)}"]
    if g.status is GroupStatus.GRADED:
        facts.insert(0, f"**{format_score(g.score)}/{format_score(g.max_score)}** points")
    lines += [" · ".join(facts), ""]
    lines += [md_text(verdict_line(outcome, fail_on).removeprefix("verdict: "), 1000), ""]
    first = fixes.fix_first(g.checks)
    if first is not None:
        lines += [f"**Fix this first:** {md_text(first.title)}: {md_text(fix_hint(first, g))}", ""]
    note = uncommitted_note(outcome)
    if note:
        lines += [f"> {md_text(note, 1000)}", ""]
    if g.status is GroupStatus.ERROR:
        lines += [f"Could not be graded: {md_text(g.error or 'unknown error', 500)}", ""]
    lines += ["| | Check | Score | Result | What to fix |", "|:-:|---|--:|---|---|"]
    for c in g.checks:
        title = md_text(c.title) + (" (required)" if c.required else "")
        lines.append(
            f"| {_MARK[c.status]} {c.status.value} | {title} | "
            f"{_points(c)} | {md_text(c.summary)} | "
            f"{md_text(fix_hint(c, g))} |"
        )
    return "\n".join(lines) + "\n"


def github_annotations(outcome: CheckOutcome, workspace: Path) -> list[str]:
    """``::error``/``::warning`` lines; file paths relative to the Actions workspace."""
    root = outcome.source.path
    base = workspace.resolve()
    prefix = root.relative_to(base).as_posix() if _inside(root, base) else str(root)
    return [a.command() for a in github.group_annotations(outcome.group, prefix)]


def workspace_dir() -> Path:
    """``$GITHUB_WORKSPACE`` on Actions, else the current folder."""
    return Path(os.environ.get("GITHUB_WORKSPACE") or Path.cwd())
