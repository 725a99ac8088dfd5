"""Subcommands over an output folder: ``adjust`` (overrides), ``export`` (per-student grades),
``merge`` (sharded runs) and ``show`` (the scores of a results.json).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from repograder.cli.common import TEMPLATE_CACHE, _say, cache_dir, overrides_path, with_overrides
from repograder.cli.run import _exit_code
from repograder.config import (
    CourseConfig,
    load_groups,
    load_rubric,
)
from repograder.errors import (
    ConfigError,
    ExitCode,
)
from repograder.feedback import write_feedback
from repograder.report import results as report_results


def _adjust_report(out_dir: Path, config: CourseConfig, args: argparse.Namespace) -> None:
    """Re-apply overrides to an existing report so it shows the change without a re-run."""
    from repograder.report import write_report

    results = out_dir / "results.json"
    if not results.is_file():
        return
    run = report_results.read_results(results)
    rubric = load_rubric(Path(args.rubric) if args.rubric else config.rubric_path)
    run = with_overrides(run, config, rubric, args.overrides)
    write_report(run, out_dir, cache_dir() / TEMPLATE_CACHE)
    write_feedback(run, out_dir, rubric.grade_scale)
    _say(f"report updated: {out_dir / 'index.html'}")


def _user_name(lookup: Callable[[], str]) -> str:
    try:
        return lookup()
    except (OSError, KeyError):  # no USER and no passwd entry (some containers)
        return "unknown"


def cmd_adjust(args: argparse.Namespace) -> int:
    """Record (or remove) a lecturer's override of one check of one group."""
    import getpass
    from datetime import UTC, datetime

    from repograder import overrides
    from repograder.model import Status

    config = load_groups(Path(args.groups))
    rubric = load_rubric(Path(args.rubric) if args.rubric else config.rubric_path)
    group = next((g for g in config.groups if g.name == args.group), None)
    if group is None:
        raise ConfigError(f"no group named {args.group!r} in {config.path}")
    spec = next((c for c in rubric.checks if c.id == args.check), None)
    if spec is None:
        known = ", ".join(c.id for c in rubric.checks)
        raise ConfigError(f"the rubric {rubric.name!r} has no check {args.check!r} ({known})")
    path = overrides_path(config, args.overrides)
    items = overrides.load_overrides(path, config, rubric)
    out_dir = Path(args.out) if args.out else config.path.resolve().parent / "grading-report"
    if args.remove:
        items, found = overrides.remove_override(items, group.name, spec.id)
        if not found:
            _say(f"no override of {group.name}/{spec.id} in {path}")
            return ExitCode.OK
        overrides.save_overrides(path, items)
        _say(f"removed the override of {group.name}/{spec.id} from {path}")
        _adjust_report(out_dir, config, args)
        return ExitCode.OK
    if args.points is None and args.status is None:
        raise ConfigError("adjust: give --points, --status or both (or --remove)")
    if not args.comment or not args.comment.strip():
        raise ConfigError(
            "adjust: --comment is required: say why, for the students and the archive"
        )
    if args.points is not None and not 0 <= args.points <= spec.points:
        raise ConfigError(f"--points: {args.points:g} is not between 0 and {spec.points:g}")
    commit = None
    results = out_dir / "results.json"
    if results.is_file():
        run = report_results.read_results(results)
        graded = next((g for g in run.groups if g.name == group.name), None)
        commit = graded.commit if graded is not None else None
    new = overrides.Override(
        group=group.name,
        check=spec.id,
        comment=args.comment.strip(),
        status=Status(args.status) if args.status else None,
        points=args.points,
        by=args.by or os.environ.get("REPOGRADER_USER") or _user_name(getpass.getuser),
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        commit=commit,
    )
    overrides.save_overrides(path, overrides.set_override(items, new))
    what = " and ".join(
        part
        for part in (
            f"status {args.status}" if args.status else "",
            f"{args.points:g} points" if args.points is not None else "",
        )
        if part
    )
    pinned = f" (commit {commit[:12]})" if commit else " (no graded commit known yet)"
    _say(f"{group.name}/{spec.id}: {what}{pinned}; saved in {path}")
    _adjust_report(out_dir, config, args)
    return ExitCode.OK


def cmd_export(args: argparse.Namespace) -> int:
    """Per-student grades (students.csv) and, optionally, a filled Moodle grading worksheet."""
    from repograder import export

    config = load_groups(Path(args.groups))
    rubric = load_rubric(Path(args.rubric) if args.rubric else config.rubric_path)
    out_dir = Path(args.out) if args.out else config.path.resolve().parent / "grading-report"
    run = report_results.read_results(out_dir / "results.json")
    run = with_overrides(run, config, rubric, args.overrides)
    if args.scale and rubric.grade_scale is None:
        raise ConfigError(f"--scale: the rubric {rubric.path} has no grade_scale")
    scale = bool(args.scale)  # the scale's grade in the grade columns (feedback: always)
    rows = export.student_rows(run, config, rubric.grade_scale)
    write_feedback(run, out_dir, rubric.grade_scale)
    students = Path(args.csv) if args.csv else out_dir / "students.csv"
    report_results.write_text_atomic(students, export.students_csv(run, rows, scale))
    _say(f"{len(rows)} student(s): {students}")
    missing = [f"{r.group}: {r.member.name}" for r in rows if not r.graded]
    if missing:
        _say(f"  not graded: {', '.join(missing)}")
    if not args.moodle_worksheet:
        return ExitCode.GROUP_ERRORS if missing else ExitCode.OK
    source = Path(args.moodle_worksheet)
    text = export.read_worksheet(source)
    filled = export.fill_moodle_worksheet(text, rows, scale=scale, where=str(source))
    target = Path(args.worksheet_out) if args.worksheet_out else out_dir / export.WORKSHEET_FILE
    if target.resolve() == source.resolve():
        raise ConfigError("--worksheet-out: choose another file than the downloaded worksheet")
    report_results.write_text_atomic(target, filled.text)
    _say(f"Moodle worksheet: {target} (upload it with 'Upload grading worksheet')")
    for line in export.summary_lines(filled):
        _say(f"  {line}")
    return ExitCode.OK if filled.complete and not missing else ExitCode.GROUP_ERRORS


def cmd_merge(args: argparse.Namespace) -> int:
    """Merge the output folders of sharded runs into one report."""
    from repograder import shard

    order = None
    if args.groups:
        order = [g.name for g in load_groups(Path(args.groups)).groups]
    out_dir = Path(args.out)
    result = shard.merge_dirs([Path(d) for d in args.dirs], out_dir, order)
    _say(
        f"merged {len(result.run.groups)} group(s) from {len(args.dirs)} folder(s); "
        f"report: {out_dir / 'index.html'}"
    )
    if result.missing:
        _say(f"  not in any shard: {', '.join(result.missing)}")
        return ExitCode.GROUP_ERRORS
    return _exit_code(result.run.groups)


def cmd_show(args: argparse.Namespace) -> int:
    run = report_results.read_results(Path(args.results))
    for g in run.groups:
        _say(f"{g.name}: {g.status.value} {g.score:g}/{g.max_score:g}")
    return _exit_code(run.groups)
