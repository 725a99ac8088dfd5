"""Find a project's notebooks and execute them inside the sandbox (:mod:`repograder.nbrender`
renders them to inert HTML).

Execution happens only inside a sandbox :class:`~repograder.sandbox.base.Session`: the executor
script ``data/nbexec.py`` runs as the grader's helper (``Session.run_helper``: the group's
Python by absolute path, which must hold :data:`NOTEBOOK_TOOLING`, a clean environment, never
the student's shell state, no student process alive). The notebook it executes is the
submitted one, read by the host from the checkout and sent on the helper's stdin: the session's
copy is the student's to rewrite (a README step or an earlier notebook could put a notebook
that passes in its place). It prints a small JSON result and the executed ``.ipynb`` on its
stdout; the host reads both as text with size limits and checks them defensively. Nothing is
read back from a file a student process could have rewritten.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from repograder import fsutil, model, runner
from repograder.checks.notebooks import evaluate_notebooks as evaluate_notebooks
from repograder.facts import (  # re-exported: their old home
    NotebookReport as NotebookReport,
)
from repograder.facts import (
    NotebookResult as NotebookResult,
)
from repograder.facts import (
    NotebookStatus as NotebookStatus,
)
from repograder.nbrender import CSP as CSP
from repograder.nbrender import EXECUTED_MAX_BYTES as EXECUTED_MAX_BYTES
from repograder.nbrender import IMAGE_CAP as IMAGE_CAP
from repograder.nbrender import RENDER_MAX_CELLS as RENDER_MAX_CELLS
from repograder.nbrender import RENDER_MAX_CHARS as RENDER_MAX_CHARS
from repograder.nbrender import RENDER_MAX_OUTPUTS as RENDER_MAX_OUTPUTS
from repograder.nbrender import RENDER_MEMORY_BYTES as RENDER_MEMORY_BYTES
from repograder.nbrender import RENDER_TIMEOUT_S as RENDER_TIMEOUT_S
from repograder.nbrender import TEXT_OUTPUT_CAP as TEXT_OUTPUT_CAP
from repograder.nbrender import _nonneg_int
from repograder.nbrender import render_notebook_html as render_notebook_html
from repograder.sandbox.base import Session

# Installed into the group's environment when the repository has notebooks, so the kernel runs
# with the students' own packages.
NOTEBOOK_TOOLING: tuple[str, ...] = ("nbclient>=0.10", "ipykernel>=6", "nbformat>=5")

RESULT_MAX_BYTES = 64 * 1024
MIN_START_S = 15.0  # below this much budget a kernel start is pointless
INSTALL_TIMEOUT_S = 60.0
EXCERPT_CAP = 2000
ERROR_CAP = 500
TRACEBACK_CAP = 4000
HELPER_GRACE_S = 30.0  # the executor stops itself before its budget; this is the host's margin


def find_notebooks(root: Path) -> tuple[str, ...]:
    """Repo-relative paths of the project's own ``*.ipynb`` files, sorted.

    Vendored folders, virtualenvs and ``.ipynb_checkpoints`` are skipped (fsutil.walk_files).
    Oversized notebooks are still listed: the executor skips them with a reason, so the report
    names them instead of silently ignoring them.
    """
    found = (p for p in fsutil.walk_files(root) if p.lower().endswith(".ipynb"))
    return tuple(sorted(found))


def run_notebooks(
    session: Session,
    notebooks: Sequence[str],
    params: model.Params,
    out_dir: Path,
    *,
    checkout: Path,
) -> NotebookReport:
    """Execute ``notebooks`` one by one in ``session`` and render each executed copy to HTML.

    ``checkout``: the evidence the session's copy was made from; each notebook's text comes
    from there, never from the copy. Params: ``cell_timeout_s`` (300),
    ``total_budget_s`` (1800), ``max_notebook_mb`` (20). Notebooks that no longer fit in the
    budget are skipped with the reason.
    """
    cell_timeout = params.get_float("cell_timeout_s", 300.0)
    budget = params.get_float("total_budget_s", 1800.0)
    max_bytes = int(params.get_float("max_notebook_mb", 20.0) * 1024 * 1024)
    started = time.monotonic()

    def report(results: list[NotebookResult]) -> NotebookReport:
        return NotebookReport(
            tuple(results), cell_timeout, budget, round(time.monotonic() - started, 3)
        )

    if not notebooks:
        return report([])
    script = executor_script()
    results: list[NotebookResult] = []
    for number, notebook in enumerate(notebooks, start=1):
        remaining = budget - (time.monotonic() - started)
        if remaining < MIN_START_S:
            reason = f"not run: the total notebook budget of {budget:.0f} s was used up"
            results.append(NotebookResult(notebook, NotebookStatus.SKIPPED, error=reason))
            continue
        submitted = _submitted(checkout, notebook, max_bytes)
        if isinstance(submitted, NotebookResult):
            results.append(submitted)
            continue
        result, executed = _run_one(
            session, script, notebook, submitted, cell_timeout, remaining, max_bytes
        )
        if result.status is NotebookStatus.FAILED:
            missing = runner.confirm_missing_library(
                session, result.error + "\n" + result.traceback_tail
            )
            result = dataclasses.replace(result, missing_library=missing)
        if executed is not None and result.status in (
            NotebookStatus.OK,
            NotebookStatus.FAILED,
            NotebookStatus.TIMEOUT,
        ):
            result = _render_executed(executed, result, number, out_dir)
        results.append(result)
    return report(results)


def executor_script() -> str:
    """The notebook executor's source (``data/nbexec.py``) for ``Session.run_helper``, with
    repograder's one decoder (``textio.py``) importable inside it as ``rg_textio``."""
    files = resources.files("repograder")
    executor = files.joinpath("data/nbexec.py").read_text("utf-8")
    decoder = files.joinpath("textio.py").read_text("utf-8")
    return (
        "import sys as _sys, types as _types\n"
        "_decoder = _sys.modules['rg_textio'] = _types.ModuleType('rg_textio')\n"
        f"exec(compile({decoder!r}, 'rg_textio.py', 'exec'), _decoder.__dict__)\n"
        f"exec(compile({executor!r}, 'nbexec.py', 'exec'), {{'__name__': '__main__'}})\n"
    )


def _submitted(checkout: Path, notebook: str, max_bytes: int) -> bytes | NotebookResult:
    """The submitted notebook's bytes from ``checkout``, or the result when it is not run."""
    if fsutil.is_symlink(checkout, notebook):
        return NotebookResult(
            notebook, NotebookStatus.ERROR, error="NotebookError: the notebook is a symbolic link"
        )
    size = fsutil.file_size(checkout, notebook)
    if size is not None and size > max_bytes:
        return NotebookResult(
            notebook,
            NotebookStatus.SKIPPED,
            error=f"NotebookTooLarge: the notebook has {size} bytes; "
            f"at most {max_bytes} are executed",
        )
    data = None if size is None else fsutil.read_bytes(checkout, notebook, max_bytes)
    if data is None:
        return NotebookResult(
            notebook,
            NotebookStatus.ERROR,
            error="NotebookError: not a regular file inside the checkout",
        )
    return data


def _run_one(
    session: Session,
    script: str,
    notebook: str,
    submitted: bytes,
    cell_timeout: float,
    remaining: float,
    max_bytes: int,
) -> tuple[NotebookResult, bytes | None]:
    """Run the executor on one notebook; the result and the executed copy's bytes (or None)."""
    args = [notebook, f"{cell_timeout:g}", f"{remaining:.0f}", str(max_bytes), "-"]
    done = session.run_helper(
        script,
        args,
        remaining + HELPER_GRACE_S,
        RESULT_MAX_BYTES + EXECUTED_MAX_BYTES + 2,
        stdin=submitted,
    )
    line, newline, rest = done.stdout.partition(b"\n")
    if not newline:
        if done.timed_out:
            return NotebookResult(
                notebook,
                NotebookStatus.TIMEOUT,
                error=f"stopped: the total notebook budget of {remaining:.0f} s was used up",
                duration_s=round(done.duration_s, 3),
            ), None
        return NotebookResult(
            notebook,
            NotebookStatus.ERROR,
            error=f"the notebook executor wrote no result (exit code {done.exit_code})",
            duration_s=round(done.duration_s, 3),
            infra=True,
        ), None
    return parse_result(notebook, line), (rest or None)


_RESULT_STATUSES = {s.value for s in NotebookStatus}


def parse_result(notebook: str, raw: bytes) -> NotebookResult:
    """Turn the executor's JSON into a result; anything malformed becomes an ERROR result."""

    def bad(reason: str) -> NotebookResult:
        return NotebookResult(
            notebook,
            NotebookStatus.ERROR,
            error=f"unreadable executor result: {reason}",
            infra=True,
        )

    if len(raw) > RESULT_MAX_BYTES:
        return bad(f"larger than {RESULT_MAX_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return bad(f"not JSON ({exc})"[:ERROR_CAP])
    if not isinstance(data, dict):
        return bad("not a JSON object")
    status = data.get("status")
    if status not in _RESULT_STATUSES:
        return bad(f"unknown status {str(status)[:40]!r}")
    cells = _nonneg_int(data.get("cells"))
    executed = _nonneg_int(data.get("executed"))
    if cells is None or executed is None or executed > cells:
        return bad("cell counts missing or inconsistent")
    raw_failing = data.get("failing_cell")
    failing = _nonneg_int(raw_failing)
    if (raw_failing is not None and failing is None) or (
        failing is not None and not 1 <= failing <= cells
    ):
        return bad("failing_cell out of range")
    duration = data.get("duration_s")
    if not isinstance(duration, int | float) or isinstance(duration, bool):
        return bad("duration_s missing")
    if not math.isfinite(duration) or duration < 0:
        return bad("duration_s invalid")
    texts: dict[str, str] = {}
    for key in ("ename", "evalue", "source_excerpt", "traceback_tail"):
        value = data.get(key, "")
        if not isinstance(value, str):
            return bad(f"{key} is not a string")
        texts[key] = value
    ename, evalue = texts["ename"][:200], texts["evalue"][:ERROR_CAP]
    error = f"{ename}: {evalue}" if ename and evalue else ename or evalue
    return NotebookResult(
        path=notebook,
        status=NotebookStatus(status),
        failing_cell=failing,
        source_excerpt=texts["source_excerpt"][:EXCERPT_CAP],
        error=error,
        traceback_tail=texts["traceback_tail"][-TRACEBACK_CAP:],
        duration_s=round(float(duration), 3),
        cells=cells,
        executed=executed,
        infra=data.get("infra") is True,
    )


def _render_executed(
    raw: bytes, result: NotebookResult, number: int, out_dir: Path
) -> NotebookResult:
    if len(raw) > EXECUTED_MAX_BYTES:
        return result
    page = render_notebook_html(raw, title=result.path)
    if page is None:
        return result
    name = f"{number:02d}-{fsutil.safe_filename(Path(result.path).stem)}.html"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / name).write_text(page, encoding="utf-8")
    return dataclasses.replace(result, html=name)


# ---------------------------------------------------------------------------------------------
# Scoring and serialisation


def report_artifacts(report: NotebookReport, html_prefix: str = "") -> list[model.JSONValue]:
    """The HTML report's notebook section: one entry per notebook.

    ``html_prefix`` (e.g. ``"groups/g1/notebooks/"``) is prepended to the render's file name so
    the path becomes relative to the output folder.
    """
    return [
        {
            "path": r.path,
            "html": f"{html_prefix}{r.html}" if r.html else None,
            "status": r.status.value,
            "error": r.error or None,
        }
        for r in report.results
    ]
