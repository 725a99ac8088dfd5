"""The argparse declarations of every subcommand (``build_parser``), in the order ``--help``
lists them; each subcommand's function lives in its own module of this package.
"""

from __future__ import annotations

import argparse

from repograder import __version__
from repograder.cli.results import cmd_adjust, cmd_export, cmd_merge, cmd_show
from repograder.cli.run import SANDBOXES, cmd_run, cmd_snapshot
from repograder.cli.tools import cmd_cache, cmd_check, cmd_sandbox, cmd_steps, cmd_validate


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
