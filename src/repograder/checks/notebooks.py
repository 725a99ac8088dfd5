"""Check ``notebooks``: the repository's notebooks execute without errors.

:mod:`repograder.notebooks` finds and executes them in the sandbox; this module judges the
:class:`~repograder.facts.NotebookReport`: the share of notebooks that ran against
``pass_share`` / ``warn_share``. A notebook that could not load a system library is the
grader's gap (``error``).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field

from repograder import model, syslibs
from repograder.checks import base, env_file
from repograder.checks.base import Spot
from repograder.facts import NotebookReport, NotebookResult, NotebookStatus
from repograder.model import CheckResult, GroupResult

ID = "notebooks"
TITLE = "The notebooks execute without errors"
STAGE: base.Stage = "run"

GENERIC_FIX = "restart the kernel and run all cells of the notebook; fix the first failing cell"
MAX_ANNOTATIONS = 10
_MODULE = re.compile(r"No module named '([^'.]+)")

# pip names of modules whose import name differs (the common ones in student code).
_PIP_NAMES = {
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
    "skimage": "scikit-image",
    "PIL": "Pillow",
    "yaml": "PyYAML",
    "bs4": "beautifulsoup4",
    "dotenv": "python-dotenv",
}


class Params(base.Shares):
    cell_timeout_s: base.Seconds = 300.0
    total_budget_s: base.Seconds = 1800.0
    max_notebook_mb: Annotated[base.Number, Field(gt=0)] = 20.0


# The error name data/nbexec.py gives a notebook that is a Git LFS pointer (not fetched).
LFS_POINTER_ERROR = "GitLfsPointer"


def evaluate_notebooks(report: NotebookReport, params: model.Params) -> model.Verdict:
    """Check ``notebooks``: the share of notebooks that executed completely."""
    pass_share = params.get_float("pass_share", 1.0)
    warn_share = params.get_float("warn_share", 0.5)
    results = report.results
    details: model.JSONDict = {"notebooks": [_result_json(r) for r in results]}
    if not results:
        return model.Verdict.not_applicable("the repository has no notebooks", details)
    infra = [r for r in results if r.infra]
    if infra:
        first = infra[0]
        pointers = [r.path for r in infra if r.error.startswith(LFS_POINTER_ERROR)]
        if pointers:
            details["lfs_pointers"] = list[model.JSONValue](pointers)
        return model.Verdict.error(
            f"{len(infra)} of {len(results)} notebooks could not be evaluated by the grader; "
            f"{first.path}: {first.error}",
            details,
        )
    for result in results:
        # Only a library the grader could not load either: the error text is the notebook's.
        if result.status is not NotebookStatus.FAILED or not result.missing_library:
            continue
        missing = syslibs.missing_library(result.error + "\n" + result.traceback_tail)
        if missing is not None and missing.library == result.missing_library:
            # The grader's environment lacks a system library: the lecturer's gap to fix.
            details["missing_system_library"] = missing.details(notebook=result.path)
            return model.Verdict.error(
                f"{result.path} could not run: {missing.describe()}", details
            )
    ran = sum(1 for r in results if r.status is NotebookStatus.OK)
    fraction = ran / len(results)
    summary = f"{ran} of {len(results)} notebooks ran"
    problems = [_describe(r) for r in results if r.status is not NotebookStatus.OK]
    if problems:
        summary += "; " + "; ".join(problems[:3])
        if len(problems) > 3:
            summary += f"; and {len(problems) - 3} more"
    if fraction >= pass_share:
        status = model.Status.PASS
    elif fraction >= warn_share:
        status = model.Status.WARN
    else:
        status = model.Status.FAIL
    return model.Verdict(status, fraction, summary, details)


def _describe(result: NotebookResult) -> str:
    name = result.path
    if result.status is NotebookStatus.SKIPPED:
        return f"{name} skipped ({result.error})"
    verb = "timed out" if result.status is NotebookStatus.TIMEOUT else "failed"
    where = f" in cell {result.failing_cell}" if result.failing_cell is not None else ""
    error = result.error.splitlines()[0][:200] if result.error else result.status.value
    return f"{name} {verb}{where}: {error}"


def _result_json(result: NotebookResult) -> model.JSONDict:
    return {
        "path": result.path,
        "status": result.status.value,
        "failing_cell": result.failing_cell,
        "source_excerpt": result.source_excerpt,
        "error": result.error,
        "traceback_tail": result.traceback_tail,
        "duration_s": result.duration_s,
        "cells": result.cells,
        "executed": result.executed,
        "html": result.html,
        "infra": result.infra,
        "missing_library": result.missing_library,
    }


def report_to_json(report: NotebookReport) -> model.JSONDict:
    """The full report as JSON (for results.json / logs)."""
    return {
        "cell_timeout_s": report.cell_timeout_s,
        "total_budget_s": report.total_budget_s,
        "duration_s": report.duration_s,
        "notebooks": [_result_json(r) for r in report.results],
    }


judge = base.executed(lambda ev: ev.notebooks, evaluate_notebooks)
error_fix = base.ask_lecturer


def fix(check: CheckResult, group: GroupResult) -> str:
    notebooks = check.details.get("notebooks")
    for nb in notebooks if isinstance(notebooks, list) else []:
        if not isinstance(nb, dict) or nb.get("status") == "ok":
            continue
        error = base.text(nb.get("error")) or base.text(nb.get("status"))
        module = _MODULE.search(error)
        cell = base.integer(nb.get("failing_cell"))
        where = f"{base.text(nb.get('path'))}{f' cell {cell}' if cell is not None else ''}"
        if module:
            name = _PIP_NAMES.get(module.group(1), module.group(1))
            return f"add {name} to {env_file.path_in(group)} ({where} imports it)"
        first = error.splitlines()[0] if error else ""
        return f"{where}: {first}"
    return GENERIC_FIX


def spots(check: CheckResult, group: GroupResult) -> list[Spot]:
    notebooks = check.details.get("notebooks")
    spots = []
    for nb in notebooks[:MAX_ANNOTATIONS] if isinstance(notebooks, list) else []:
        if not isinstance(nb, dict) or nb.get("status") == "ok":
            continue
        path = nb.get("path")
        error = nb.get("error")
        message = f"{path}: {nb.get('status')}"
        if isinstance(error, str) and error:
            message += f": {error}"
        spots.append(Spot(message, path if isinstance(path, str) else None))
    return spots or base.summary_at(check, None)
