"""Check ``readme``: a README exists and gives step-by-step instructions.

Judged here by :func:`evaluate_readme` over :class:`~repograder.facts.ReadmeFacts` that
:mod:`repograder.readme` measures (steps, words, headings).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictInt

from repograder import model
from repograder.checks import base
from repograder.checks.base import Spot, StrictParams
from repograder.facts import ReadmeFacts, Step
from repograder.model import CheckResult, GroupResult
from repograder.readme_commands import StepKind, effective_words, wordset
from repograder.textio import LFS_NOT_FETCHED

ID = "readme"
TITLE = "README with step-by-step instructions"
STAGE: base.Stage = "static"

GENERIC_FIX = (
    "write a README.md with an installation and a usage section whose commands are in "
    "```bash code blocks, in the order a reader runs them"
)


class Params(StrictParams):
    min_words: Annotated[StrictInt, Field(ge=0)] = 50
    require_install_step: StrictBool = True
    require_run_step: StrictBool = True
    warn_placeholders: StrictBool = True


_SETUP_WORDS = wordset(
    "cd mkdir export set ls echo wget curl chmod unzip tar cp mv rm touch cat git gdown kaggle "
    "source unset ln which where dir"
)


def _is_run_step(step: Step) -> bool:
    """A step that runs the project's code (not setup, download or navigation)."""
    base = step.base_kind or step.kind
    if base not in (StepKind.RUN, StepKind.INTERACTIVE, StepKind.PLACEHOLDER, StepKind.PLATFORM):
        return False
    words = effective_words(step.command)
    return bool(words) and words[0].lower() not in _SETUP_WORDS


def evaluate_readme(facts: ReadmeFacts, params: model.Params) -> model.Verdict:
    """Check ``readme``: a README exists and gives install and run instructions.

    Params: ``min_words`` (int, 50; 0 disables), ``require_install_step`` (bool, true),
    ``require_run_step`` (bool, true), ``warn_placeholders`` (bool, true).
    """
    min_words = params.get_int("min_words", 50)
    require_install = params.get_bool("require_install_step", True)
    require_run = params.get_bool("require_run_step", True)
    warn_placeholders = params.get_bool("warn_placeholders", True)
    if facts.path is None:
        looked = "README.md, README.rst, README.txt, README, README.ipynb (any case), docs/README.*"
        extra = f"; {facts.symlink_refused[0]} is a symlink" if facts.symlink_refused else ""
        return model.Verdict(
            model.Status.FAIL,
            0.0,
            f"no README found (looked for {looked}){extra}",
            {"path": None, "candidates": list(facts.candidates), "missing": ["README"]},
        )
    if facts.lfs_pointer:
        return model.Verdict.error(
            f"{facts.path} {LFS_NOT_FETCHED}: the grader cannot read the README "
            "(a human needs to fetch it)",
            {"path": facts.path, "lfs_pointers": [facts.path]},
        )
    install = [s for s in facts.steps if (s.base_kind or s.kind) == StepKind.ENV]
    runs = [s for s in facts.steps if _is_run_step(s)]
    placeholders = [s for s in facts.steps if s.kind == StepKind.PLACEHOLDER]
    missing: list[str] = []
    notes: list[str] = []
    short = min_words > 0 and facts.word_count < min_words
    if short:
        size = "nearly empty" if facts.word_count < min_words // 2 else "short"
        notes.append(f"README is {size} ({facts.word_count} words; expected {min_words}+)")
    if require_install and not install:
        missing.append("no installation step (e.g. pip install -r requirements.txt)")
    if require_run and not runs:
        missing.append("no command that runs the code (e.g. python main.py)")
    if warn_placeholders and runs and all(s.kind == StepKind.PLACEHOLDER for s in runs):
        notes.append(
            f"the run commands use placeholders ({placeholders[0].command.splitlines()[0][:80]}):"
            " give a runnable example"
        )
    details = _details(facts, missing + notes)
    details["install_steps"] = [s.index for s in install]
    details["run_steps"] = [s.index for s in runs]
    if not facts.steps:
        what = "no runnable steps (no shell code blocks or commands in numbered lists)"
        summary = "; ".join([f"{facts.path}: {what}", *notes])
        return model.Verdict(model.Status.FAIL, 0.0 if short else 0.25, summary, details)
    problems = missing + notes
    if not problems:
        summary = f"{facts.path}: {len(facts.steps)} steps with install and run instructions"
        return model.Verdict(model.Status.PASS, 1.0, summary, details)
    fraction = max(0.25, 1.0 - 0.25 * len(problems))
    return model.Verdict(
        model.Status.WARN, fraction, f"{facts.path}: " + "; ".join(problems), details
    )


def _details(facts: ReadmeFacts, problems: list[str]) -> model.JSONDict:
    tally: dict[str, int] = {}
    for step in facts.steps:
        tally[str(step.kind)] = tally.get(str(step.kind), 0) + 1
    counts: dict[str, model.JSONValue] = dict(tally)
    steps: list[model.JSONValue] = [
        {
            "index": s.index,
            "line": s.source_line,
            "kind": str(s.kind),
            "command": s.command[:200],
            "reason": s.reason,
        }
        for s in facts.steps[:100]
    ]
    return {
        "path": facts.path,
        "words": facts.word_count,
        "headings": len(facts.headings),
        "code_blocks": facts.code_blocks,
        "steps_total": len(facts.steps),
        "steps_by_kind": counts,
        "steps": steps,
        "missing": list[model.JSONValue](problems),
        "warnings": list[model.JSONValue](facts.warnings[:50]),
    }


judge = base.static(lambda ev: ev.readme, evaluate_readme)
error_fix = base.ask_lecturer


def path_in(group: GroupResult) -> str | None:
    """The README's repo-relative path as this check found it (None when unknown)."""
    found = next((c for c in group.checks if c.id == ID), None)
    return base.detail(found.details, "path") if found else None


def fix(check: CheckResult, group: GroupResult) -> str:
    path = base.text(check.details.get("path"))
    if not path:
        return GENERIC_FIX
    raw = check.details.get("missing")
    missing = [m for m in raw if isinstance(m, str)] if isinstance(raw, list) else []
    if not missing:
        return f"{path}: add shell code blocks with the install and run commands"
    fixes = []
    for problem in missing:
        if problem.startswith("no installation step"):
            fixes.append("add the install command (e.g. pip install -r requirements.txt)")
        elif problem.startswith("no command that runs"):
            fixes.append("add the command that runs your code (e.g. python main.py)")
        elif problem.startswith("README is"):
            words = base.integer(check.details.get("words"))
            have = f" (it has {words} words)" if words is not None else ""
            fixes.append(f"explain what the project does and how to use it{have}")
        else:
            fixes.append(problem)
    return f"{path}: " + "; ".join(fixes)


def spots(check: CheckResult, group: GroupResult) -> list[Spot]:
    return base.summary_at(check, path_in(group))
