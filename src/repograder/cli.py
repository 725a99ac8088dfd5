"""Command line: ``repograder run|check|validate|steps|sandbox|cache|merge``."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import dataclasses
import os
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import platformdirs

from repograder import __version__, fsutil, git, readme
from repograder.checks import env_build
from repograder.config import (
    CourseConfig,
    GroupSpec,
    Rubric,
    load_groups,
    load_rubric,
    parse_duration,
    validate_file,
)
from repograder.errors import (
    ConfigError,
    ExitCode,
    InfrastructureError,
    Interrupted,
    RepograderError,
    SandboxUnavailable,
)
from repograder.feedback import write_feedback
from repograder.model import NOT_GRADED, GroupResult, GroupStatus, Params, RunResult
from repograder.pipeline import (
    NOT_GRADED_YET,
    FinishedGroups,
    GradingContext,
    NoProgress,
    grade_all,
    load_stored,
    not_graded,
    partial_run,
)
from repograder.progress import make_progress
from repograder.report import results as report_results
from repograder.sandbox.base import Limits, Sandbox
from repograder.termtext import json_safe, terminal_safe

SANDBOXES = ("docker", "local", "auto")


def _say(*values: object, file: Any = None, end: str = "\n", flush: bool = False) -> None:
    """print() for everything the CLI shows: student text (README lines, file names, group
    names, errors) has its control characters and bidi marks made visible (termtext)."""
    text = " ".join(str(v) for v in values)
    print(terminal_safe(text), file=file, end=end, flush=flush)


TEMPLATE_CACHE = "templates"  # compiled report templates, under the cache folder


def cache_dir() -> Path:
    """``REPOGRADER_CACHE`` or the user's cache folder."""
    env = os.environ.get("REPOGRADER_CACHE")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("repograder"))


def _err(message: str) -> None:
    _say(f"repograder: {message}", file=sys.stderr, flush=True)


def make_sandbox(kind: str, run_id: str, cache: Path, rubric: Rubric) -> Sandbox:
    """The chosen backend; ``auto`` falls back to the local one and says so plainly.

    The rubric gives the build timeout and the shared environment layer (docker only).
    """
    if kind in ("docker", "auto"):
        from repograder.sandbox import docker as docker_backend

        ok, why = docker_backend.docker_available()
        if ok and not docker_backend.base_image_available():
            ok, why = False, "the sandbox base image is missing: run `repograder sandbox build`"
        if ok:
            return docker_backend.DockerSandbox(
                run_id,
                cache,
                build_timeout_s=rubric.limits.build_timeout_s or 1800.0,
                log=_err,
                common=common_requirements(rubric),
                common_apt=rubric.common_apt,
                warmup=rubric.common_warmup,
                relax_pins=relax_pins(rubric),
            )
        if kind == "docker":
            raise SandboxUnavailable(
                f"{why}\n  start a Docker engine (e.g. `sudo dockerd &`), then "
                "`repograder sandbox build`; or grade without isolation: --sandbox local"
            )
        _err(f"Docker sandbox unavailable ({why}); falling back to the LOCAL backend.")
    from repograder.sandbox import local

    _err(f"WARNING: {local.LOCAL_BACKEND_WARNING}")
    return local.LocalSandbox(cache, run_id, log=_err)


def relax_pins(rubric: Rubric) -> bool:
    """The rubric's ``env-build`` param ``relax_pins`` (default on): retry a build whose exact
    pins have no installable version, with those pins moved to the nearest one."""
    for spec in rubric.checks:
        if spec.id == env_build.ID:
            return Params(spec.params, where=f"rubric checks[{env_build.ID}].params").get_bool(
                "relax_pins", True
            )
    return True


def common_requirements(rubric: Rubric) -> tuple[str, ...]:
    """The rubric's shared layer, plus the notebook tooling every notebook group needs."""
    if not rubric.common_requirements and not rubric.common_apt:
        return ()
    from repograder.checks import notebooks as notebooks_check
    from repograder.notebooks import NOTEBOOK_TOOLING

    tooling = NOTEBOOK_TOOLING if any(c.id == notebooks_check.ID for c in rubric.checks) else ()
    return (*rubric.common_requirements, *tooling)


def _limits(rubric: Rubric, args: argparse.Namespace) -> Limits:
    base = Limits()
    lim = rubric.limits
    return Limits(
        memory_mb=args.memory_mb or lim.memory_mb or base.memory_mb,
        cpus=args.cpus or lim.cpus or base.cpus,
        pids=lim.pids or base.pids,
        timeout_s=(
            parse_duration(args.step_timeout)
            if args.step_timeout
            else lim.step_timeout_s or base.timeout_s
        ),
        output_bytes=lim.output_bytes or base.output_bytes,
        disk_mb=lim.disk_mb or base.disk_mb,
        network=args.network if args.network is not None else bool(lim.network),
    )


def _select(config: CourseConfig, only: Sequence[str] | None) -> tuple[GroupSpec, ...]:
    if not only:
        return config.groups
    names = {g.name for g in config.groups}
    unknown = [n for n in only if n not in names]
    if unknown:
        raise ConfigError(
            f"--only: no group named {', '.join(map(repr, unknown))} in {config.path}"
        )
    return tuple(g for g in config.groups if g.name in set(only))


def _exit_code(graded: Sequence[GroupResult]) -> int:
    """1 when a group graded in this run could not be graded (groups kept from earlier runs
    do not count), else 0."""
    if any(g.status == GroupStatus.ERROR for g in graded):
        return ExitCode.GROUP_ERRORS
    return ExitCode.OK


def cmd_run(args: argparse.Namespace) -> int:
    config = load_groups(Path(args.groups))
    rubric = load_rubric(Path(args.rubric) if args.rubric else config.rubric_path)
    # A broken overrides file must stop us before hours of grading, not after.
    from repograder.overrides import load_overrides

    load_overrides(overrides_path(config, args.overrides), config, rubric)
    groups = _select(config, args.only)
    if args.shard:
        from repograder import shard

        groups = shard.select_shard(groups, shard.parse_shard(args.shard))
    unfetched: tuple[GroupResult, ...] = ()
    course = config  # its groups decide an inferred shared layer, also for a shard
    if args.snapshot:
        from repograder import snapshot

        snap = snapshot.read_snapshot(Path(args.snapshot))
        plan = snapshot.apply_snapshot(snap, groups, config.groups)
        groups, unfetched = plan.pinned, plan.unfetched
        # Every group at its snapshot commit, so shards decide the layer from the same data.
        pinned = snapshot.apply_snapshot(snap, config.groups).pinned
        course = dataclasses.replace(config, groups=tuple(pinned))
    out_dir = Path(args.out) if args.out else config.path.resolve().parent / "grading-report"
    cache = cache_dir()
    run_id = uuid.uuid4().hex[:12]
    limits = _limits(rubric, args)
    sandbox = None
    if not args.static:
        sandbox = make_sandbox(args.sandbox, run_id, cache, rubric)
    jobs = args.jobs or default_jobs(limits)
    recorder = FinishedGroups(NoProgress() if args.quiet else make_progress())
    ctx = GradingContext(
        rubric=rubric,
        out_dir=out_dir.resolve(),
        cache_dir=cache,
        fetch=git.FetchOptions(cache_dir=cache / "mirrors", token=git.token_from_env()),
        # A snapshot is the deadline: its commits were recorded by our clock, not theirs.
        deadline=None if args.snapshot else config.deadline,
        sandbox=sandbox,
        limits=limits,
        static_only=args.static,
        force=args.force,
        run_id=run_id,
        progress=recorder,
    )
    started_at = ctx.clock()
    stopped: RepograderError | None = None
    run: RunResult | None = None
    # Ctrl-C and SIGTERM (a cancelled CI job, `timeout`, `kill`) stop the run; the ones after
    # the first wait until the report of what was done is written.
    with _stop_signals():
        try:
            run = grade_all(course, groups, ctx, jobs=jobs)
        except (InfrastructureError, Interrupted) as exc:
            stopped = exc  # the report is written all the same
        except KeyboardInterrupt:  # a Ctrl-C just before or after the workers ran
            stopped = Interrupted(
                "interrupted: finished groups are saved; run the same command again to resume"
            )
        except BaseException:
            if sandbox is not None:
                sandbox.close()
            raise
        finally:
            _defer_stop_signals()
        if sandbox is not None:
            sandbox.close()
        if run is None:
            reason = f"{NOT_GRADED}: {stopped}"
            run = partial_run(config, groups, ctx, started_at, recorder.results, reason)
        fresh = (*unfetched, *run.groups)  # what this run was asked to grade
        others: tuple[GroupResult, ...] = unfetched
        if not args.shard:
            # Every group of groups.yaml is in the report: the ones not graded now keep their
            # stored results from earlier runs into the same folder, or say they were not graded.
            selected = {g.name for g in groups} | {g.name for g in unfetched}
            others = (
                *others,
                *(
                    load_stored(ctx, g) or not_graded(g, NOT_GRADED_YET)
                    for g in config.groups
                    if g.name not in selected
                ),
            )
        if others:
            by_name = {g.name: g for g in (*others, *run.groups)}  # fresh results win
            order = [g.name for g in config.groups if g.name in by_name]
            run = dataclasses.replace(run, groups=tuple(by_name[n] for n in order))
        from repograder.report import write_report

        try:
            run = with_overrides(run, config, rubric, args.overrides)
        except ConfigError as exc:
            # Checked at the start; broken since (edited by hand mid-run): the report of the
            # graded work is written without overrides, and the run says why.
            _err(f"overrides NOT applied: {exc}")
            stopped = stopped or exc
        write_report(run, ctx.out_dir, ctx.cache_dir / TEMPLATE_CACHE)
        write_feedback(run, ctx.out_dir, ctx.rubric.grade_scale)
    graded = sum(g.status == GroupStatus.GRADED for g in run.groups)
    _say(f"graded {graded} of {len(run.groups)} group(s); report: {ctx.out_dir / 'index.html'}")
    for g in run.groups:
        if g.status == GroupStatus.ERROR:
            _say(f"  {g.name}: could not be graded: {g.error}")
    if stopped is not None:
        raise stopped
    return _exit_code(fresh)


def _first_stop(_signum: int, _frame: object) -> None:
    """The first Ctrl-C or SIGTERM: stop grading (the pipeline turns this into Interrupted)."""
    _defer_stop_signals()
    raise KeyboardInterrupt


def _still_writing(_signum: int, _frame: object) -> None:
    _err("stopping: removing containers and writing the report of what was graded; a moment")


def _defer_stop_signals() -> None:
    """From now on Ctrl-C and SIGTERM only say that the report is being written."""
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _still_writing)


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """Inside the block the first Ctrl-C or SIGTERM raises KeyboardInterrupt and later ones
    wait (main thread only, as Python requires). Once a stop began, the waiting handlers stay
    until main() returns; otherwise the previous ones come back at the block's end."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _first_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            if signal.getsignal(sig) is _first_stop:
                signal.signal(sig, old)


def overrides_path(config: CourseConfig, option: str | None) -> Path:
    """``--overrides``, else groups.yaml's ``overrides``, else overrides.yaml beside it."""
    if option:
        return Path(option)
    return config.overrides_path or config.path.resolve().parent / "overrides.yaml"


def with_overrides(
    run: RunResult, config: CourseConfig, rubric: Rubric | None, option: str | None
) -> RunResult:
    """``run`` with the lecturer's overrides applied; says which were flagged or unmatched."""
    from repograder import overrides

    path = overrides_path(config, option)
    items = overrides.load_overrides(path, config, rubric)
    if not items:
        return overrides.apply_overrides(run, ())
    run = overrides.apply_overrides(run, items)
    graded = {g.name for g in run.groups if g.status is GroupStatus.GRADED}
    for o in overrides.unmatched(run, items):
        if o.group in graded:
            _err(f"{path}:{o.line}: override of {o.group}/{o.check}: the group has no such check")
    for group, check in overrides.stale(run):
        _err(
            f"override of {group}/{check} was written for another commit: NOT applied, "
            "review it (the report flags it; `repograder adjust` renews it)"
        )
    return run


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


def default_jobs(limits: Limits) -> int:
    """One worker per core, fewer when memory cannot hold that many sandboxes."""
    cores = os.cpu_count() or 1
    try:
        mem_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError):
        mem_mb = limits.memory_mb * cores
    return max(1, min(cores, mem_mb // max(limits.memory_mb, 1)))


def _validate_one(path: Path) -> str:
    """A groups file (and its overrides file, if any), a rubric or an overrides file."""
    from repograder import overrides

    if overrides.is_overrides_file(path):
        return f"{path}: overrides file OK ({len(overrides.load_overrides(path))} overrides)"
    summary = validate_file(path)
    if "groups file" in summary:
        config = load_groups(path)
        found = overrides_path(config, None)
        if found.is_file():
            rubric = load_rubric(config.rubric_path)
            items = overrides.load_overrides(found, config, rubric)
            summary += f"\n{found}: overrides file OK ({len(items)} overrides)"
    return summary


def cmd_validate(args: argparse.Namespace) -> int:
    failed = False
    for name in args.files:
        try:
            _say(_validate_one(Path(name)))
        except ConfigError as exc:
            failed = True
            _say(str(exc), file=sys.stderr)
    return ExitCode.USAGE if failed else ExitCode.OK


def cmd_steps(args: argparse.Namespace) -> int:
    root = Path(args.path)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a folder")
    facts = readme.inspect_readme(root)
    if facts.path is None:
        _say(f"{root}: no README found")
        return ExitCode.GROUP_ERRORS
    _say(f"{facts.path}: {len(facts.steps)} step(s)")
    _say(readme.format_steps(facts.steps))
    for warning in facts.warnings:
        _say(f"warning: {warning}")
    return ExitCode.OK


def cmd_sandbox(args: argparse.Namespace) -> int:
    from repograder.sandbox import docker as docker_backend

    if args.sandbox_cmd == "build":
        offline = True if args.offline else (False if args.online else None)
        tag = docker_backend.build_base_image(
            offline=offline, python=args.python, force=args.force, log=_say
        )
        _say(f"base image ready: {tag}")
        return ExitCode.OK
    outcome = docker_backend.clean_leftovers(args.run, include_live=args.include_live)
    for name in outcome.removed:
        _say(f"removed {name}")
    for name in outcome.kept_live:
        _say(f"kept {name}: its run is still going on (--include-live removes it)")
    _say(f"removed {len(outcome.removed)} leftover container(s)")
    return ExitCode.OK


def cmd_cache(args: argparse.Namespace) -> int:
    """Show or trim the caches (git mirrors, environments, work folders, Docker images)."""
    from repograder import cachemgr

    cache = cache_dir()
    if args.cache_cmd == "info":
        _say(f"cache folder: {cache}")
        _say(
            cachemgr.format_info(cachemgr.cache_info(cache, use_docker=not args.no_docker)), end=""
        )
        return ExitCode.OK
    try:
        older = cachemgr.parse_age(args.older_than)
    except ValueError as exc:
        raise ConfigError(f"--older-than: {exc}") from None
    result = cachemgr.prune(
        cache,
        older_than_s=older,
        remove_all=args.all,
        dry_run=args.dry_run,
        use_docker=not args.no_docker,
    )
    verb = "would remove" if args.dry_run else "removed"
    for line in result.removed:
        _say(f"  {verb} {line}")
    for line in result.kept:
        _say(f"  kept {line}")
    _say(f"{verb} {len(result.removed)} item(s), {cachemgr.format_size(result.freed)}")
    return ExitCode.OK


def cmd_check(args: argparse.Namespace) -> int:
    """Grade one local repository as the lecturer would; exit 1 when a blocking check fails."""
    from repograder import selfcheck
    from repograder.report import write_report

    # In JSON mode stdout carries only the JSON document; everything else goes to stderr.
    text_out = sys.stderr if args.format == "json" else sys.stdout
    rubric = load_rubric(Path(args.rubric) if args.rubric else None)
    out_dir = Path(args.out).resolve()
    cache = cache_dir()
    run_id = uuid.uuid4().hex[:12]
    scratch = cache / "check" / run_id
    stop = f"repograder-{run_id}"
    if args.format == "github":
        # Student text (README commands, errors) must not act as workflow commands.
        _say(f"::stop-commands::{stop}", flush=True)
    try:
        source = selfcheck.prepare_source(Path(args.path), out_dir, scratch, args.worktree)
        limits = _limits(rubric, args)
        sandbox = None
        if not args.static:
            sandbox = make_sandbox(args.sandbox, run_id, cache, rubric)
        ctx = GradingContext(
            rubric=rubric,
            out_dir=out_dir,
            cache_dir=cache,
            fetch=git.FetchOptions(cache_dir=cache / "mirrors", token=git.token_from_env()),
            sandbox=sandbox,
            limits=limits,
            static_only=args.static,
            force=args.force,
            run_id=run_id,
            progress=make_progress(not args.quiet and args.format != "json"),
        )
        try:
            outcome = selfcheck.grade_local(source, ctx)
        finally:
            if sandbox is not None:
                sandbox.close()
        selfcheck.write_gitignore(out_dir)
        write_report(outcome.run, out_dir, cache / TEMPLATE_CACHE)
        write_feedback(outcome.run, out_dir, rubric.grade_scale)  # the group page links it
        report_results.write_text_atomic(
            out_dir / selfcheck.CHECK_SUMMARY, selfcheck.check_markdown(outcome, args.fail_on)
        )
        _say(selfcheck.render_text(outcome, args.fail_on), end="", file=text_out, flush=True)
    finally:
        if args.format == "github":
            _say(f"::{stop}::", flush=True)
        fsutil.remove_tree(scratch)
    if args.format == "json":
        _say(json_safe(report_results.dumps_json(selfcheck.to_json(outcome, args.fail_on))), end="")
    elif args.format == "github":
        for line in selfcheck.github_annotations(outcome, selfcheck.workspace_dir()):
            _say(line)
    return ExitCode.OK if selfcheck.passed(outcome, args.fail_on) else ExitCode.GROUP_ERRORS


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


def cmd_snapshot(args: argparse.Namespace) -> int:
    """Record every group's current commit with the grader's clock."""
    from repograder import snapshot

    config = load_groups(Path(args.groups))
    groups = _select(config, args.only)
    cache = cache_dir()
    options = git.FetchOptions(cache_dir=cache / "mirrors", token=git.token_from_env())

    def show(entry: snapshot.SnapshotEntry) -> None:
        what = entry.commit[:12] if entry.commit else (entry.error or "plain folder, no commit")
        _say(f"  {entry.name}: {what}", flush=True)

    snap = snapshot.take_snapshot(config, groups, options, on_entry=show)
    snapshot.write_snapshot(snap, Path(args.out))
    failed = [e for e in snap.entries if e.error is not None]
    _say(f"snapshot of {len(snap.entries)} group(s) at {snap.taken_at}: {args.out}")
    return ExitCode.GROUP_ERRORS if failed else ExitCode.OK


def cmd_show(args: argparse.Namespace) -> int:
    run = report_results.read_results(Path(args.results))
    for g in run.groups:
        _say(f"{g.name}: {g.status.value} {g.score:g}/{g.max_score:g}")
    return _exit_code(run.groups)


def _add_limit_options(parser: argparse.ArgumentParser) -> None:
    """Sandbox overrides shared by ``run`` and ``check`` (read by :func:`_limits`)."""
    parser.add_argument(
        "--network",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="allow network while student code runs (default: the rubric's, off)",
    )
    parser.add_argument(
        "--step-timeout", metavar="DURATION", help="per-step timeout, e.g. 90s, 20m"
    )
    parser.add_argument("--memory-mb", type=int, metavar="MB", help="memory limit per sandbox")
    parser.add_argument("--cpus", type=float, metavar="N", help="CPU quota per sandbox")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress display")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="repograder",
        description=(
            "Grade student project repositories: fetch each group's repository at the "
            "deadline, build its environment in a Docker sandbox, run the README's steps and "
            "notebooks, check the IEEE paper, and write an HTML report, results.json and "
            "grades.csv."
        ),
        epilog="Exit codes: 0 all graded, 1 some group could not be graded, 2 usage or "
        "config error, 3 infrastructure error (e.g. no Docker engine), 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"repograder {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="grade every group of a groups file")
    run.add_argument("groups", metavar="GROUPS.yaml", help="the groups file")
    run.add_argument(
        "--rubric",
        metavar="FILE",
        help="rubric YAML (default: the groups file's rubric, else the built-in dl4ad rubric)",
    )
    run.add_argument(
        "--out",
        metavar="DIR",
        help="output folder (default: grading-report/ beside the groups file)",
    )
    run.add_argument(
        "--jobs",
        "-j",
        type=int,
        metavar="N",
        help="groups graded in parallel (default: from cores and memory)",
    )
    run.add_argument(
        "--only",
        nargs="+",
        action="extend",
        metavar="NAME",
        help="grade only these groups (repeatable); the report keeps the others",
    )
    run.add_argument(
        "--static",
        action="store_true",
        help="only the checks that execute no student code (a quick first look)",
    )
    run.add_argument(
        "--sandbox",
        choices=SANDBOXES,
        default="docker",
        help="docker (default, isolated), local (no isolation) or auto",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="grade again even groups whose commit and rubric are unchanged",
    )
    _add_limit_options(run)
    run.add_argument(
        "--shard",
        metavar="K/N",
        help="grade only shard K of N (round-robin over groups.yaml); "
        "join the outputs with `repograder merge`",
    )
    run.add_argument(
        "--snapshot",
        metavar="FILE",
        help="grade exactly the commits recorded by `repograder snapshot` "
        "(no committer-date deadline filtering)",
    )
    run.add_argument(
        "--overrides",
        metavar="FILE",
        help="lecturer overrides (default: the groups file's `overrides`, else overrides.yaml "
        "beside it)",
    )
    run.set_defaults(func=cmd_run)

    adj = sub.add_parser(
        "adjust", help="override one check of one group (kept across re-runs, with a comment)"
    )
    adj.add_argument("group", metavar="GROUP", help="the group's name in the groups file")
    adj.add_argument("check", metavar="CHECK", help="the check id, e.g. paper-pages")
    adj.add_argument("--points", type=float, metavar="P", help="the points the group gets")
    adj.add_argument(
        "--status",
        choices=("pass", "warn", "fail", "skip", "error"),
        help="the verdict (alone: pass gives all points, warn keeps the automatic points, "
        "fail/skip/error give none)",
    )
    adj.add_argument("--comment", metavar="TEXT", help="why (shown to the students)")
    adj.add_argument("--by", metavar="NAME", help="who decided (default: your user name)")
    adj.add_argument("--remove", action="store_true", help="delete this override")
    adj.add_argument(
        "--groups",
        metavar="GROUPS.yaml",
        default="groups.yaml",
        help="the groups file (default: ./groups.yaml)",
    )
    adj.add_argument("--rubric", metavar="FILE", help="rubric YAML (default: the groups file's)")
    adj.add_argument("--overrides", metavar="FILE", help="overrides file (default as for run)")
    adj.add_argument(
        "--out",
        metavar="DIR",
        help="report folder whose commit is recorded and whose pages are updated "
        "(default: grading-report/ beside the groups file)",
    )
    adj.set_defaults(func=cmd_adjust)

    exp = sub.add_parser(
        "export", help="per-student grades and feedback for the LMS (students.csv, Moodle)"
    )
    exp.add_argument("groups", metavar="GROUPS.yaml", help="the groups file (members, e-mails)")
    exp.add_argument(
        "--out",
        metavar="DIR",
        help="the report folder with results.json (default: grading-report/ beside the groups "
        "file)",
    )
    exp.add_argument("--rubric", metavar="FILE", help="rubric YAML (default: the groups file's)")
    exp.add_argument("--overrides", metavar="FILE", help="overrides file (default as for run)")
    exp.add_argument(
        "--csv", metavar="FILE", help="the per-student CSV (default: students.csv in --out)"
    )
    exp.add_argument(
        "--moodle-worksheet",
        metavar="FILE",
        help="a grading worksheet downloaded from a Moodle assignment: fill Grade and "
        "Feedback comments by e-mail",
    )
    exp.add_argument(
        "--worksheet-out",
        metavar="FILE",
        help="where the filled worksheet goes (default: moodle-worksheet.csv in --out, linked "
        "from the overview)",
    )
    exp.add_argument(
        "--scale",
        action="store_true",
        help="grade columns on the rubric's grade_scale (e.g. 1,0-5,0) instead of points",
    )
    exp.set_defaults(func=cmd_export)

    chk = sub.add_parser(
        "check", help="self-check one local repository with the course rubric (for students)"
    )
    chk.add_argument(
        "path",
        nargs="?",
        default=".",
        metavar="PATH",
        help="the repository (default: the current folder)",
    )
    chk.add_argument("--rubric", metavar="FILE", help="rubric YAML (default: built-in dl4ad)")
    chk.add_argument(
        "--out",
        metavar="DIR",
        default="repograder-report",
        help="report folder (default: ./repograder-report; git ignores it)",
    )
    chk.add_argument(
        "--sandbox",
        choices=SANDBOXES,
        default="auto",
        help="auto (default: Docker if ready, else local), docker or local",
    )
    chk.add_argument("--static", action="store_true", help="only the checks that execute no code")
    chk.add_argument(
        "--worktree",
        action="store_true",
        help="grade uncommitted changes too (default: the committed HEAD, "
        "which is what your lecturer grades)",
    )
    chk.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="text checklist, json on stdout, or github (annotations)",
    )
    chk.add_argument(
        "--fail-on",
        choices=("required", "any-fail", "never"),
        default="any-fail",  # selfcheck.DEFAULT_FAIL_ON
        help="exit 1 when any check fails or errors (any-fail, the default), only when a "
        "required check does (required), or never",
    )
    chk.add_argument("--force", action="store_true", help="do not reuse an earlier result")
    _add_limit_options(chk)
    chk.set_defaults(func=cmd_check)

    mrg = sub.add_parser("merge", help="merge the output folders of sharded runs")
    mrg.add_argument("dirs", nargs="+", metavar="DIR", help="shard output folders")
    mrg.add_argument("--out", metavar="DIR", required=True, help="merged output folder")
    mrg.add_argument(
        "--groups",
        metavar="GROUPS.yaml",
        help="order groups as in this file and report the missing ones",
    )
    mrg.set_defaults(func=cmd_merge)

    snp = sub.add_parser("snapshot", help="record every group's commit now (at the deadline)")
    snp.add_argument("groups", metavar="GROUPS.yaml", help="the groups file")
    snp.add_argument(
        "--out",
        metavar="FILE",
        default="snapshot.json",
        help="snapshot file (default: snapshot.json)",
    )
    snp.add_argument(
        "--only", nargs="+", action="extend", metavar="NAME", help="only these groups (repeatable)"
    )
    snp.set_defaults(func=cmd_snapshot)

    val = sub.add_parser("validate", help="check groups and rubric files")
    val.add_argument("files", nargs="+", metavar="FILE")
    val.set_defaults(func=cmd_validate)

    steps = sub.add_parser("steps", help="print the classified README steps of a local repository")
    steps.add_argument("path", nargs="?", default=".", metavar="PATH")
    steps.set_defaults(func=cmd_steps)

    sbx = sub.add_parser("sandbox", help="prepare or clean the Docker sandbox")
    sbx_sub = sbx.add_subparsers(dest="sandbox_cmd", metavar="ACTION")
    sbx_sub.required = True
    build = sbx_sub.add_parser("build", help="build the sandbox base image")
    mode = build.add_mutually_exclusive_group()
    mode.add_argument(
        "--offline",
        action="store_true",
        help="no registry: bootstrap Debian with debootstrap and docker import",
    )
    mode.add_argument("--online", action="store_true", help="FROM python:3.x-slim (registry)")
    build.add_argument("--python", default="3.11", help="Python version of the image")
    build.add_argument("--force", action="store_true", help="rebuild even if it exists")
    clean = sbx_sub.add_parser("clean", help="remove containers left behind by earlier runs")
    clean.add_argument("--run", metavar="RUN_ID", help="only this run's containers")
    clean.add_argument(
        "--include-live",
        action="store_true",
        help="also remove the containers of runs that are still going on (they then fail)",
    )
    sbx.set_defaults(func=cmd_sandbox)

    cch = sub.add_parser("cache", help="show or trim the caches (mirrors, environments, images)")
    cch_sub = cch.add_subparsers(dest="cache_cmd", metavar="ACTION")
    cch_sub.required = True
    info = cch_sub.add_parser("info", help="disk use of every cache")
    info.add_argument("--no-docker", action="store_true", help="only the cache folder")
    prn = cch_sub.add_parser(
        "prune", help="remove environments not used recently and leftover work folders"
    )
    prn.add_argument(
        "--older-than",
        default="30d",
        metavar="AGE",
        help="remove environments not used for this long (default 30d; e.g. 12h, 2w, 0)",
    )
    prn.add_argument(
        "--all",
        action="store_true",
        help="empty every cache, including git mirrors, the uv cache and the base image",
    )
    prn.add_argument("--dry-run", action="store_true", help="only list what would go")
    prn.add_argument("--no-docker", action="store_true", help="leave Docker images alone")
    cch.set_defaults(func=cmd_cache)

    show = sub.add_parser("show", help="print the scores of a results.json")
    show.add_argument("results", metavar="RESULTS.json")
    show.set_defaults(func=cmd_show)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with _signal_handlers_kept():
        try:
            return int(args.func(args))
        except RepograderError as exc:
            _err(str(exc))
            return int(exc.exit_code)
        except KeyboardInterrupt:
            _err("interrupted")
            return int(ExitCode.INTERRUPTED)


@contextlib.contextmanager
def _signal_handlers_kept() -> Iterator[None]:
    """The SIGINT/SIGTERM handlers are as before when main() returns (a stopped run keeps its
    "still writing" handlers until then, so a late Ctrl-C cannot cut the report short)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def console_main() -> None:
    """The ``repograder`` command: main(), then exit with its code; a Ctrl-C or SIGTERM that
    arrives while the process exits ends it at once with that same code."""
    code = main()
    stops = (signal.SIGINT, signal.SIGTERM)
    for sig in stops:
        signal.signal(sig, lambda _signum, _frame: os._exit(code))
    # Late in its shutdown (after the atexit calls) Python puts its own handlers back to the
    # default, and a signal then kills the process (status -2, not the code). Ignored handlers
    # are left alone, so from the atexit calls on, late signals are ignored.
    atexit.register(lambda: [signal.signal(sig, signal.SIG_IGN) for sig in stops])
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    console_main()
