"""Subcommands around a run: ``check`` (a student's own repository), ``validate``, ``steps``,
``sandbox build|clean`` and ``cache info|prune``.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

from repograder import fsutil, git, readme
from repograder.cli.common import TEMPLATE_CACHE, _say, cache_dir, overrides_path
from repograder.cli.run import _limits, make_sandbox
from repograder.config import (
    load_groups,
    load_rubric,
    validate_file,
)
from repograder.errors import (
    ConfigError,
    ExitCode,
)
from repograder.feedback import write_feedback
from repograder.pipeline import (
    GradingContext,
)
from repograder.progress import make_progress
from repograder.report import results as report_results
from repograder.termtext import json_safe


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
        ctx = GradingContext.build(
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
