"""What a student should do about a check that did not pass, derived from its findings.

Pure: reads a :class:`~repograder.model.GroupResult` (the checks' ``details`` and the README
steps), never the repository. Every text says what the finding says: a README that exists but
is short is told what is missing, not to "write a README"; a 5-page paper is told to shorten
by one page, not to "commit the paper as a PDF".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from repograder.model import CheckResult, GroupResult, JSONValue, Status, StepStatus
from repograder.runner import LFS_HINT

# Only for checks whose findings say nothing more specific.
_GENERIC = {
    "readme": "write a README.md with an installation and a usage section whose commands are in "
    "```bash code blocks, in the order a reader runs them",
    "env-file": "add a requirements.txt (or environment.yml / pyproject.toml) at the repository "
    "root that lists every package your code imports",
    "env-build": "install your environment file into a fresh virtualenv and fix the package that "
    "fails (the build log in the report shows the error)",
    "readme-steps": "run the README's commands one by one in a fresh clone and fix the first one "
    "that fails",
    "notebooks": "restart the kernel and run all cells of the notebook; fix the first failing cell",
    "comments": "explain *why* in comments and give every function a docstring",
    "paper-pages": "commit the paper as a PDF (e.g. paper/paper.pdf) with at most the allowed "
    "number of pages",
    "paper-format": "write the paper with the IEEE conference template (IEEEtran, two columns)",
}

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


def _str(value: JSONValue) -> str:
    return value if isinstance(value, str) else ""


def _int(value: JSONValue) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _env_file(group: GroupResult) -> str:
    for c in group.checks:
        if c.id == "env-file":
            path = _str(c.details.get("path"))
            if path:
                return path
    return "requirements.txt"


def _readme(check: CheckResult, group: GroupResult) -> str:
    path = _str(check.details.get("path"))
    if not path:
        return _GENERIC["readme"]
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
            words = _int(check.details.get("words"))
            have = f" (it has {words} words)" if words is not None else ""
            fixes.append(f"explain what the project does and how to use it{have}")
        else:
            fixes.append(problem)
    return f"{path}: " + "; ".join(fixes)


def _steps(check: CheckResult, group: GroupResult) -> str:
    step = next(
        (s for s in group.steps if s.status in (StepStatus.FAILED, StepStatus.TIMEOUT)), None
    )
    if step is None:
        return _GENERIC["readme-steps"]
    what = "timed out" if step.status is StepStatus.TIMEOUT else "failed"
    fix = f"README line {step.source_line}: `{step.command}` {what}"
    if step.reason:
        fix += f" ({step.reason})"
    return fix + (f"; {step.hint}" if step.hint else "")


def _notebooks(check: CheckResult, group: GroupResult) -> str:
    notebooks = check.details.get("notebooks")
    for nb in notebooks if isinstance(notebooks, list) else []:
        if not isinstance(nb, dict) or nb.get("status") == "ok":
            continue
        error = _str(nb.get("error")) or _str(nb.get("status"))
        module = _MODULE.search(error)
        cell = _int(nb.get("failing_cell"))
        where = f"{_str(nb.get('path'))}{f' cell {cell}' if cell is not None else ''}"
        if module:
            name = _PIP_NAMES.get(module.group(1), module.group(1))
            return f"add {name} to {_env_file(group)} ({where} imports it)"
        first = error.splitlines()[0] if error else ""
        return f"{where}: {first}"
    return _GENERIC["notebooks"]


def _pages(check: CheckResult, group: GroupResult) -> str:
    counted = _int(check.details.get("counted_pages"))
    allowed = _int(check.details.get("max_pages"))
    path = _str(check.details.get("path"))
    if counted is not None and allowed is not None and path and counted > allowed:
        over = counted - allowed
        by = "one page" if over == 1 else f"{over} pages"
        return f"shorten the paper by {by}: at most {allowed} are allowed ({path})"
    if "; the course asks for a PDF" in check.summary or "but no PDF" in check.summary:
        return (
            "export the paper as a PDF and commit it (e.g. paper/paper.pdf); the grader reads "
            "only PDFs"
        )
    if "LaTeX source" in check.summary:
        return "compile the LaTeX source and commit the PDF beside it (e.g. paper/main.pdf)"
    return _GENERIC["paper-pages"]


def _format(check: CheckResult, group: GroupResult) -> str:
    rows = check.details.get("findings")
    bad = [
        r
        for r in (rows if isinstance(rows, list) else [])
        if isinstance(r, dict) and r.get("status") in ("fail", "warn")
    ]
    if not bad:
        return _GENERIC["paper-format"]
    parts = [
        f"{_str(r.get('check'))}: {_str(r.get('measured'))} (expected {_str(r.get('expected'))})"
        for r in bad[:3]
    ]
    return "use the IEEE conference template; " + "; ".join(parts)


def _build(check: CheckResult, group: GroupResult) -> str:
    env = _str(check.details.get("env_file"))
    if env:
        return (
            f"install {env} into a fresh virtualenv and fix the package that fails "
            "(the build log in the report shows the error)"
        )
    return _GENERIC["env-build"]


def _env_file_fix(check: CheckResult, group: GroupResult) -> str:
    path = _str(check.details.get("path"))
    if not path:
        return _GENERIC["env-file"]
    if "cannot be parsed" in check.summary:
        return f"fix the syntax of {path} (the report shows where it fails to parse)"
    if "not at the repository root" in check.summary:
        name = path.rsplit("/", 1)[-1]
        return f"move {path} to the repository root (as {name})"
    if "prefer requirements.txt" in check.summary:
        return f"list your packages in a requirements.txt at the root (only {path} was found)"
    return _GENERIC["env-file"]


def _density(row: dict[str, JSONValue]) -> float:
    value = row.get("density")
    return float(value) if isinstance(value, int | float) else 1.0


def _comments(check: CheckResult, group: GroupResult) -> str:
    rows = check.details.get("files")
    files = [r for r in (rows if isinstance(rows, list) else []) if isinstance(r, dict)]
    undocumented = sum(
        max((_int(r.get("functions")) or 0) - (_int(r.get("functions_documented")) or 0), 0)
        for r in files
    )
    worst = min(
        (r for r in files if (_int(r.get("code_lines")) or 0) >= 20),
        key=_density,
        default=None,
    )
    parts = []
    if worst is not None:
        parts.append(f"explain *why* in comments, starting with {_str(worst.get('path'))}")
    if undocumented:
        parts.append(f"give the {undocumented} functions without a docstring one")
    return "; ".join(parts) or _GENERIC["comments"]


_DERIVED: dict[str, Callable[[CheckResult, GroupResult], str]] = {
    "env-file": _env_file_fix,
    "comments": _comments,
    "readme": _readme,
    "readme-steps": _steps,
    "notebooks": _notebooks,
    "paper-pages": _pages,
    "paper-format": _format,
    "env-build": _build,
}


def fix_hint(check: CheckResult, group: GroupResult) -> str:
    """The one thing to do about a check that did not pass ('' when it passed or was skipped)."""
    if check.status in (Status.PASS, Status.SKIP):
        return ""
    if check.status is Status.ERROR:
        lfs = next((st.hint for st in group.steps if st.hint.startswith(LFS_HINT)), "")
        if check.id == "readme-steps" and lfs:
            return f"{lfs}; commit the data itself or add a download step to the README"
        return "the grader could not evaluate this: check the report, then ask your lecturer"
    derive = _DERIVED.get(check.id)
    if derive is not None:
        return derive(check, group)
    return _GENERIC.get(check.id, "see the report for details")


def lost_points(check: CheckResult) -> float:
    """Points the check costs the group (0 for checks not in the total)."""
    if not check.counted:
        return 0.0
    return max(check.max_score - check.score, 0.0)


def fix_first(checks: Sequence[CheckResult]) -> CheckResult | None:
    """The check to fix first: the most points lost; required checks, then rubric order win ties.

    Only checks that fail, warn or error; None when every check passed or was skipped.
    """
    candidates = [
        c
        for c in checks
        if c.status in (Status.FAIL, Status.WARN, Status.ERROR) and lost_points(c) > 0
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda c: (lost_points(c), c.required, -checks.index(c)))
