"""Check ``readme-steps``: the README's commands run in the sandbox.

The runner (:mod:`repograder.runner`) executes the ``run`` steps; this module judges their
:class:`~repograder.model.StepResult` list: the share of runnable steps that succeeded against
``pass_share`` / ``warn_share`` (timeouts count by ``on_timeout``). A step that could not load
a system library is the grader's gap (``error``), as is a step that read an unfetched Git LFS
pointer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from pydantic import StrictBool

from repograder import model, syslibs, textio
from repograder.checks import base, readme
from repograder.checks.base import Spot
from repograder.errors import ConfigError
from repograder.facts import StepKind
from repograder.model import CheckResult, GroupResult, StepResult, StepStatus
from repograder.textio import LFS_NOT_FETCHED

ID = "readme-steps"
TITLE = "The README's commands run"
STAGE: base.Stage = "run"

ON_TIMEOUT_CHOICES = ("pass", "warn", "fail")
RUN_KIND = StepKind.RUN
LFS_HINT = "this file is a Git LFS pointer; its content was not fetched"
GENERIC_FIX = (
    "run the README's commands one by one in a fresh clone and fix the first one that fails"
)
MAX_ANNOTATIONS = 10


class Params(base.Shares):
    on_timeout: Literal["pass", "warn", "fail"] = "warn"
    stop_on_failure: StrictBool = False
    total_budget_s: base.Seconds = 3600.0
    fail_if_none: StrictBool = True


def evaluate_steps(steps: Sequence[StepResult], params: model.Params) -> model.Verdict:
    """Check ``readme-steps``: the share of runnable README steps that succeeded."""
    pass_share = params.get_float("pass_share", 1.0)
    warn_share = params.get_float("warn_share", 0.5)
    on_timeout = params.get_str("on_timeout", "warn")
    fail_if_none = params.get_bool("fail_if_none", True)
    if on_timeout not in ON_TIMEOUT_CHOICES:
        raise ConfigError(
            f"{params.where}.on_timeout: expected one of {', '.join(ON_TIMEOUT_CHOICES)}, "
            f"got {on_timeout!r}"
        )
    table: list[model.JSONValue] = [_row(s) for s in steps]
    runnable = [s for s in steps if s.kind == RUN_KIND]
    if not runnable:
        details: model.JSONDict = {"steps": table, "runnable": 0}
        if fail_if_none:
            return model.Verdict(model.Status.FAIL, 0.0, "no runnable steps in the README", details)
        return model.Verdict.skip("the README has no runnable steps", details)
    timeout_credit = {"pass": 1.0, "warn": 0.5, "fail": 0.0}[on_timeout]
    credit = 0.0
    ok = timeouts = 0
    for step in runnable:
        if step.status == StepStatus.OK:
            credit += 1.0
            ok += 1
        elif step.status == StepStatus.TIMEOUT:
            credit += timeout_credit
            timeouts += 1
    share = credit / len(runnable)
    if share >= pass_share - 1e-9:
        status = model.Status.PASS
    elif share >= warn_share - 1e-9:
        status = model.Status.WARN
    else:
        status = model.Status.FAIL
    if status == model.Status.PASS and timeouts and on_timeout == "warn":
        status = model.Status.WARN
    summary = f"{ok} of {len(runnable)} README steps ran successfully"
    details = {
        "steps": table,
        "runnable": len(runnable),
        "succeeded": ok,
        "timeouts": timeouts,
        "share": round(share, 4),
    }
    problems = [s for s in runnable if s.status != StepStatus.OK]
    gap = _environment_gap(problems)
    if gap is not None:
        step, missing = gap
        details["missing_system_library"] = missing.details(step=step.index)
        text = f"step {step.index} could not run: {missing.describe()}"
        # The reviewer sees the group's other failures too: a step's output (which the
        # group writes) must not hide them behind the gap (helper-35).
        others = [s for s in problems if s is not step]
        if others:
            text += f"; besides, {_describe(others[0])}"
            if len(others) > 1:
                text += f" (+{len(others) - 1} more)"
        return model.Verdict.error(text, details)
    if problems:
        summary += "; " + _describe(problems[0])
        if len(problems) > 1:
            summary += f" (+{len(problems) - 1} more)"
    lfs_failed = [s for s in problems if s.hint.startswith(LFS_HINT)]
    if lfs_failed and status is not model.Status.PASS:
        # Not the students' failure for sure: the data was never fetched. A human decides.
        status = model.Status.ERROR
        summary += f"; step {lfs_failed[0].index}: {lfs_failed[0].hint}"
    return model.Verdict(status, round(share, 4), summary, details)


def _environment_gap(
    problems: Sequence[StepResult],
) -> tuple[StepResult, syslibs.MissingLibrary] | None:
    """The first failed step that could not load a system library: the grader's environment
    lacks it (a gap for the lecturer to fix, not the group's failure). Only when the grader
    could not load it either (``StepResult.missing_library``): the output is the student's."""
    for step in problems:
        if step.status != StepStatus.FAILED or not step.missing_library:
            continue
        missing = syslibs.missing_library(step.output_head + "\n" + step.output_tail)
        if missing is not None and missing.library == step.missing_library:
            return step, missing
    return None


def _describe(step: StepResult) -> str:
    where = f"step {step.index} (line {step.source_line}: {_short(step.command, 60)})"
    if step.status == StepStatus.TIMEOUT:
        return f"{where} {step.reason}"
    if step.status == StepStatus.SKIPPED:
        return f"{where} was {step.reason}"
    error = decisive_line(step.output_head + "\n" + step.output_tail)
    return f"{where} failed: {error}" if error else f"{where} failed ({step.reason})"


def _row(step: StepResult) -> model.JSONValue:
    return {
        "index": step.index,
        "line": step.source_line,
        "command": _short(step.command, 200),
        "kind": step.kind,
        "status": step.status.value,
        "reason": step.reason,
        "exit_code": step.exit_code,
        "duration_s": step.duration_s,
        "hint": step.hint,
    }


# The line that says why: an exception line, a tool's own "error:" line (pip, uv, setuptools,
# git), or a shell's "command not found". Closing advice ("hint: ...") never says why.
_DECISIVE = re.compile(r"^(?:[\w.]*(?:Error|Exception|Interrupt)\b|(?:error|fatal):)", re.I)
_ADVICE = ("[...", "hint:", "note:")


def decisive_line(output: str) -> str:
    """The line of a failed command's output that best says why (the last exception line)."""
    lines = [line.strip() for line in textio.matchable(output).splitlines() if line.strip()]
    for line in reversed(lines):
        if _DECISIVE.match(line) or "command not found" in line:
            return _short(line, 160)
    for line in reversed(lines):
        if not line.lower().startswith(_ADVICE):
            return _short(line, 160)
    return ""


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


_judge_steps = base.executed(lambda ev: ev.steps, evaluate_steps)


def judge(ev: base.Evidence, params: model.Params) -> model.Verdict:
    """The README's steps; none can be read from a README that is an unfetched LFS pointer."""
    if ev.steps is not None and ev.readme is not None and ev.readme.lfs_pointer:
        return model.Verdict.error(
            f"{ev.readme.path} {LFS_NOT_FETCHED}: its steps cannot be read "
            "(a human needs to fetch it)",
            {"lfs_pointers": [ev.readme.path]},
        )
    return _judge_steps(ev, params)


def fix(check: CheckResult, group: GroupResult) -> str:
    step = next(
        (s for s in group.steps if s.status in (StepStatus.FAILED, StepStatus.TIMEOUT)), None
    )
    if step is None:
        return GENERIC_FIX
    what = "timed out" if step.status is StepStatus.TIMEOUT else "failed"
    text = f"README line {step.source_line}: `{step.command}` {what}"
    if step.reason:
        text += f" ({step.reason})"
    return text + (f"; {step.hint}" if step.hint else "")


def error_fix(check: CheckResult, group: GroupResult) -> str:
    lfs = next((st.hint for st in group.steps if st.hint.startswith(LFS_HINT)), "")
    if lfs:
        return f"{lfs}; commit the data itself or add a download step to the README"
    return base.ask_lecturer(check, group)


def spots(check: CheckResult, group: GroupResult) -> list[Spot]:
    path = readme.path_in(group)  # the README check knows the README's path
    bad = [s for s in group.steps if s.status in (StepStatus.FAILED, StepStatus.TIMEOUT)]
    spots = []
    for step in bad[:MAX_ANNOTATIONS]:
        what = "timed out" if step.status is StepStatus.TIMEOUT else "failed"
        message = f"README step {step.index} {what}: {step.command}"
        if step.reason:
            message += f"\n{step.reason}"
        if step.hint:
            message += f"\nhint: {step.hint}"
        spots.append(Spot(message, path, step.source_line or None))
    return spots or base.summary_at(check, path)
