"""Check ``env-build``: the environment builds in the sandbox from the environment file.

Judges the sandbox's :class:`~repograder.facts.BuildResult`: a build that worked passes (a warn
when pins had to be relaxed or the project itself did not install, issue 13), a failed build
fails with its decisive error. The table of changes joins detection's and the build's.
"""

from __future__ import annotations

from pydantic import StrictBool

from repograder import detect, model
from repograder.checks import base
from repograder.checks.base import Evidence, Spot, StrictParams
from repograder.facts import BuildResult, EnvSpec
from repograder.model import CheckResult, GroupResult, JSONDict, JSONValue, Status, Verdict
from repograder.textio import LFS_NOT_FETCHED

ID = "env-build"
TITLE = "The environment builds in the sandbox"
STAGE: base.Stage = "build"

GENERIC_FIX = (
    "install your environment file into a fresh virtualenv and fix the package that "
    "fails (the build log in the report shows the error)"
)


class Params(StrictParams):
    warn_on_notes: StrictBool = False
    relax_pins: StrictBool = True
    relaxed_fraction: base.Fraction = 0.5
    project_install_fraction: base.Fraction = 0.5


def judge(ev: Evidence, params: model.Params) -> Verdict:
    build = ev.build
    if build is None:
        return base.missing_run(ev)
    details: JSONDict = {
        "backend": build.backend,
        "image": build.image,
        "reused": build.reused,
        "duration_s": round(build.duration_s, 1),
        "python": build.python_version,
        "notes": list(build.notes),
    }
    if ev.env is not None:
        details["env_file"] = ev.env.path
        details["dropped"] = list(ev.env.dropped)
    changes = _change_rows(ev.env, build)
    if changes:
        details["changes"] = changes
    if build.log_excerpt:
        details["log_excerpt"] = build.log_excerpt
    if ev.env is not None and ev.env.lfs_pointers:
        # What was built came from the pointer's three lines, not from the student's file.
        details["lfs_pointers"] = list(ev.env.lfs_pointers)
        return Verdict.error(
            f"{', '.join(ev.env.lfs_pointers)} {LFS_NOT_FETCHED}: the environment the student "
            "asked for is unknown (a human needs to fetch it)",
            details,
        )
    if build.ok:
        what = ev.env.path if ev.env is not None and ev.env.path else "a bare environment"
        how = (
            "reused a cached environment" if build.reused else f"built in {build.duration_s:.0f} s"
        )
        problems: list[str] = []
        fraction = 1.0
        if build.relaxed:
            # issue 13: one pin without a distribution costs a warning, not the group's run
            problems.append(build.summary)
            fraction = min(fraction, params.get_float("relaxed_fraction", 0.5))
        if ev.project_install:
            # issue 13: the dependencies built, the project itself did not install
            details["project_install"] = ev.project_install
            problems.append(f"but {ev.project_install}")
            fraction = min(fraction, params.get_float("project_install_fraction", 0.5))
        if problems:
            summary = f"environment from {what}: {how}; " + "; ".join(problems)
            return Verdict(Status.WARN, fraction, summary, details)
        status = (
            Status.WARN if build.notes and params.get_bool("warn_on_notes", False) else Status.PASS
        )
        return Verdict(status, 1.0, f"environment from {what}: {how}", details)
    return Verdict(Status.FAIL, 0.0, build.summary or "the environment did not build", details)


def _change_rows(env: EnvSpec | None, build: BuildResult) -> list[JSONValue]:
    """One table of what was done to the student's entries: dropped, translated, re-encoded
    (detection) and relaxed (the build's second attempt)."""
    rows = detect.change_rows(env.changes) if env is not None else []
    where = env.path if env is not None and env.path else ""
    for item in build.relaxed:
        entry, _, rest = item.partition(" → ")
        version, _, why = rest.partition(" (")
        rows.append(
            {
                "file": where,
                "entry": entry,
                "action": "relaxed",
                "why": f"{why.removesuffix(')')}; built with {version} instead",
            }
        )
    return rows


error_fix = base.ask_lecturer


def fix(check: CheckResult, group: GroupResult) -> str:
    env = base.text(check.details.get("env_file"))
    if env:
        return (
            f"install {env} into a fresh virtualenv and fix the package that fails "
            "(the build log in the report shows the error)"
        )
    return GENERIC_FIX


def spots(check: CheckResult, group: GroupResult) -> list[Spot]:
    return base.summary_at(check, base.detail(check.details, "env_file"))
