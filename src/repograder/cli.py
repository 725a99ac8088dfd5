"""Command line: ``repograder run|check|validate|steps|sandbox|cache|merge``."""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import platformdirs

from repograder import __version__, git, readme
from repograder.config import (
    CourseConfig,
    GroupSpec,
    Rubric,
    load_groups,
    load_rubric,
    parse_duration,
    validate_file,
)
from repograder.errors import ConfigError, ExitCode, RepograderError, SandboxUnavailable
from repograder.model import GroupStatus, RunResult
from repograder.pipeline import GradingContext, grade_all
from repograder.progress import make_progress
from repograder.report import results as report_results
from repograder.sandbox.base import Limits, Sandbox

SANDBOXES = ("docker", "local", "auto")


def cache_dir() -> Path:
    """``REPOGRADER_CACHE`` or the user's cache folder."""
    env = os.environ.get("REPOGRADER_CACHE")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("repograder"))


def _err(message: str) -> None:
    print(f"repograder: {message}", file=sys.stderr, flush=True)


def make_sandbox(kind: str, run_id: str, cache: Path, build_timeout_s: float | None) -> Sandbox:
    """The chosen backend; ``auto`` falls back to the local one and says so plainly."""
    if kind in ("docker", "auto"):
        from repograder.sandbox import docker as docker_backend

        ok, why = docker_backend.docker_available()
        if ok and not docker_backend.base_image_available():
            ok, why = False, "the sandbox base image is missing: run `repograder sandbox build`"
        if ok:
            return docker_backend.DockerSandbox(
                run_id, cache, build_timeout_s=build_timeout_s or 1800.0, log=_err
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


def _exit_code(run: RunResult) -> int:
    if any(g.status == GroupStatus.ERROR for g in run.groups):
        return ExitCode.GROUP_ERRORS
    return ExitCode.OK


def cmd_run(args: argparse.Namespace) -> int:
    config = load_groups(Path(args.groups))
    rubric = load_rubric(Path(args.rubric) if args.rubric else config.rubric_path)
    groups = _select(config, args.only)
    out_dir = Path(args.out) if args.out else config.path.resolve().parent / "grading-report"
    cache = cache_dir()
    run_id = uuid.uuid4().hex[:12]
    limits = _limits(rubric, args)
    sandbox = None
    if not args.static:
        sandbox = make_sandbox(args.sandbox, run_id, cache, rubric.limits.build_timeout_s)
    jobs = args.jobs or default_jobs(limits)
    ctx = GradingContext(
        rubric=rubric,
        out_dir=out_dir.resolve(),
        cache_dir=cache,
        fetch=git.FetchOptions(cache_dir=cache / "mirrors", token=git.token_from_env()),
        deadline=config.deadline,
        sandbox=sandbox,
        limits=limits,
        static_only=args.static,
        force=args.force,
        run_id=run_id,
        progress=make_progress(not args.quiet),
    )
    try:
        run = grade_all(config, groups, ctx, jobs=jobs)
    finally:
        if sandbox is not None:
            sandbox.close()
    from repograder.report import write_report

    write_report(run, ctx.out_dir)
    graded = sum(g.status == GroupStatus.GRADED for g in run.groups)
    print(f"graded {graded} of {len(run.groups)} group(s); report: {ctx.out_dir / 'index.html'}")
    for g in run.groups:
        if g.status == GroupStatus.ERROR:
            print(f"  {g.name}: could not be graded: {g.error}")
    return _exit_code(run)


def default_jobs(limits: Limits) -> int:
    """One worker per core, fewer when memory cannot hold that many sandboxes."""
    cores = os.cpu_count() or 1
    try:
        mem_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError):
        mem_mb = limits.memory_mb * cores
    return max(1, min(cores, mem_mb // max(limits.memory_mb, 1)))


def cmd_validate(args: argparse.Namespace) -> int:
    failed = False
    for name in args.files:
        try:
            print(validate_file(Path(name)))
        except ConfigError as exc:
            failed = True
            print(str(exc), file=sys.stderr)
    return ExitCode.USAGE if failed else ExitCode.OK


def cmd_steps(args: argparse.Namespace) -> int:
    root = Path(args.path)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a folder")
    facts = readme.inspect_readme(root)
    if facts.path is None:
        print(f"{root}: no README found")
        return ExitCode.GROUP_ERRORS
    print(f"{facts.path}: {len(facts.steps)} step(s)")
    print(readme.format_steps(facts.steps))
    for warning in facts.warnings:
        print(f"warning: {warning}")
    return ExitCode.OK


def cmd_sandbox(args: argparse.Namespace) -> int:
    from repograder.sandbox import docker as docker_backend

    if args.sandbox_cmd == "build":
        offline = True if args.offline else (False if args.online else None)
        tag = docker_backend.build_base_image(
            offline=offline, python=args.python, force=args.force, log=print
        )
        print(f"base image ready: {tag}")
        return ExitCode.OK
    removed = docker_backend.clean_containers(args.run)
    print(f"removed {removed} leftover container(s)")
    return ExitCode.OK


def cmd_show(args: argparse.Namespace) -> int:
    run = report_results.read_results(Path(args.results))
    for g in run.groups:
        print(f"{g.name}: {g.status.value} {g.score:g}/{g.max_score:g}")
    return _exit_code(run)


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
    run.add_argument("--only", nargs="+", metavar="NAME", help="grade only these groups")
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
    run.add_argument(
        "--network",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="allow network while student code runs (default: the rubric's, off)",
    )
    run.add_argument("--step-timeout", metavar="DURATION", help="per-step timeout, e.g. 90s, 20m")
    run.add_argument("--memory-mb", type=int, metavar="MB", help="memory limit per sandbox")
    run.add_argument("--cpus", type=float, metavar="N", help="CPU quota per sandbox")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    run.set_defaults(func=cmd_run)

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
    sbx.set_defaults(func=cmd_sandbox)

    show = sub.add_parser("show", help="print the scores of a results.json")
    show.add_argument("results", metavar="RESULTS.json")
    show.set_defaults(func=cmd_show)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except RepograderError as exc:
        _err(str(exc))
        return int(exc.exit_code)
    except KeyboardInterrupt:
        _err("interrupted")
        return int(ExitCode.INTERRUPTED)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
