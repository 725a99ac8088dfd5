"""Run a README's classified steps in one sandbox session; hints (judged by checks/readme_steps.py).

Timeouts, defined once here:

- A step that hits its timeout gets status ``timeout`` (``exit_code`` None, output so far kept).
- A step the README marks as long-running (a server, a training loop meant to be stopped)
  that is *still running* at its timeout did what it should: status ``ok``, and the reason
  says it was stopped. Without its own timeout it gets ``LONG_RUNNING_TIMEOUT_S``.
- ``checks.readme_steps.evaluate_steps`` scores ``timeout`` steps by the ``on_timeout``
  parameter: ``pass`` counts them as successes, ``warn`` as half a success and caps the status
  at warn, ``fail`` as failures.
- ``RunOptions.on_timeout == "fail"`` also makes a timeout stop the run when
  ``stop_on_failure`` is set; otherwise only failed steps stop it.
"""

from __future__ import annotations

import posixpath
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from repograder import model, readme_translate, syslibs, textio
from repograder.checks.readme_steps import LFS_HINT as LFS_HINT
from repograder.checks.readme_steps import decisive_line as decisive_line
from repograder.checks.readme_steps import evaluate_steps as evaluate_steps
from repograder.facts import Step, StepKind
from repograder.model import ExecResult, StepResult, StepStatus
from repograder.sandbox.base import Session

RUN_KIND = StepKind.RUN  # the only kind that is executed
LONG_RUNNING_TIMEOUT_S = 30.0
STOP_REASON = "not run: an earlier step failed and the rubric says stop"


StepLike = Step  # the old name of the step the runner takes (facts.Step)


@dataclass(frozen=True)
class RunOptions:
    """How to run the steps; ``network``, ``memory_mb`` and ``repo_files`` only shape hints."""

    default_timeout_s: float = 600.0
    stop_on_failure: bool = False
    on_timeout: str = "warn"  # pass | warn | fail
    total_budget_s: float = 3600.0
    network: bool = False
    memory_mb: int | None = None
    repo_files: frozenset[str] | None = None
    # Git LFS pointer files of the checkout (their content was not fetched).
    lfs_pointers: frozenset[str] = frozenset()


def run_steps(
    session: Session, steps: Sequence[Step], options: RunOptions
) -> tuple[StepResult, ...]:
    """Execute the runnable steps in order in ``session``; the others become SKIPPED."""
    started = time.monotonic()
    stop_reason = ""
    results: list[StepResult] = []
    for step in steps:
        if step.kind != RUN_KIND:
            results.append(_skipped(step, step.reason or f"not run: {step.kind}"))
            continue
        if stop_reason:
            results.append(_skipped(step, stop_reason))
            continue
        remaining = options.total_budget_s - (time.monotonic() - started)
        if remaining <= 0:
            stop_reason = (
                f"not run: the total time budget of {options.total_budget_s:g} s was used up"
            )
            results.append(_skipped(step, stop_reason))
            continue
        result = _run_one(session, step, options, remaining)
        results.append(result)
        failed = result.status == StepStatus.FAILED or (
            result.status == StepStatus.TIMEOUT and options.on_timeout == "fail"
        )
        if failed and options.stop_on_failure:
            stop_reason = STOP_REASON
    return tuple(results)


def _skipped(step: Step, reason: str) -> StepResult:
    return StepResult(
        index=step.index,
        command=step.command,
        source_line=step.source_line,
        status=StepStatus.SKIPPED,
        reason=reason,
        kind=str(step.kind),
        heading=step.heading,
    )


def _run_one(session: Session, step: Step, options: RunOptions, remaining: float) -> StepResult:
    wanted = step.timeout_s
    if wanted is None:
        wanted = LONG_RUNNING_TIMEOUT_S if step.long_running else options.default_timeout_s
    timeout = min(wanted, remaining)
    # python3.10 / py / poetry run / src\main.py: run what the grader's environment has.
    translated = readme_translate.translate(step.command, options.repo_files)
    res = session.run(translated.command, timeout)
    status, reason = _judge(step, res, timeout, cut_by_budget=timeout < wanted)
    if translated.notes:
        reason = "; ".join(filter(None, [reason, *translated.notes]))
    missing = ""
    own = None
    if status == StepStatus.FAILED:
        own = own_library(session, res.output, options.repo_files)
        if own is None:
            missing = confirm_missing_library(session, res.output)
    hint = ""
    if status != StepStatus.OK:
        hint = hint_for(
            step.command,
            res.output,
            res.exit_code,
            options.network,
            options.repo_files,
            memory_mb=options.memory_mb,
            timeout_s=timeout if res.timed_out else None,
            gap_confirmed=bool(missing),
            own_library=own,
        )
    if status != StepStatus.OK and options.lfs_pointers:
        hint = lfs_hint(step.command, res.output, options.lfs_pointers) or hint
    return StepResult(
        index=step.index,
        command=step.command,
        source_line=step.source_line,
        status=status,
        reason=reason,
        exit_code=res.exit_code,
        duration_s=round(res.duration_s, 3),
        output_tail=res.output_tail,
        output_head=res.output_head,
        kind=str(step.kind),
        heading=step.heading,
        hint=hint,
        missing_library=missing,
    )


PROBE_TIMEOUT_S = 60.0


def confirm_missing_library(session: Session, output: str) -> str:
    """The system library ``output`` says could not load, if the grader cannot load it in
    ``session`` either; "" otherwise.

    The output is the student's: a step or notebook can print "libGL.so.1: cannot open shared
    object file" and exit 1 to turn its failure into "a grader environment gap, not the
    group's fault". Only the grader's own attempt (syslibs.LIBRARY_PROBE, run as a helper)
    makes it one; a library the image has is the group's failure.
    """
    claim = syslibs.missing_library(output)
    if claim is None:
        return ""
    done = session.run_helper(syslibs.LIBRARY_PROBE, [claim.library], PROBE_TIMEOUT_S, 64)
    confirmed = done.exit_code == 0 and done.stdout.strip() == b"missing"
    return claim.library if confirmed else ""


# At most this many build files (shallowest first) of at most this many bytes are read for
# evidence of the group's own library: only for a failed step naming a library no table knows.
MAX_BUILD_FILES = 20
BUILD_FILE_BYTES = 256 * 1024


def own_library(
    session: Session, output: str, repo_files: frozenset[str] | None
) -> syslibs.OwnLibrary | None:
    """The group's own library ``output`` says could not be loaded, or None.

    Only a library no table knows (its Debian package unknown) that the checkout evidently
    holds or builds (syslibs.own_library_evidence: a file named after it, its source file, or
    a build file declaring it; the build files are read from the session's copy). Its absence
    is the group's failure, not a gap for the grader's probe to confirm. None without
    ``repo_files``.
    """
    if repo_files is None:
        return None
    claim = syslibs.missing_library(output)
    if claim is None or claim.kind != "library" or claim.attributed:
        return None
    found = syslibs.own_library_evidence(claim.library, repo_files)
    if found is not None:
        return found
    build_files = sorted(
        (f for f in repo_files if posixpath.basename(f) in syslibs.BUILD_FILES),
        key=lambda path: (path.count("/"), path),
    )
    texts: dict[str, str] = {}
    for path in build_files[:MAX_BUILD_FILES]:
        data = session.read_file(path, BUILD_FILE_BYTES)
        if data is not None:
            texts[path] = data.decode("utf-8", "replace")
    return syslibs.own_library_evidence(claim.library, repo_files, texts)


def _judge(
    step: Step, res: ExecResult, timeout: float, *, cut_by_budget: bool
) -> tuple[StepStatus, str]:
    if res.timed_out:
        if step.long_running and not cut_by_budget:
            return StepStatus.OK, f"long-running step: still running after {timeout:g} s, stopped"
        if cut_by_budget:
            return StepStatus.TIMEOUT, f"stopped after {timeout:g} s: the total time budget ran out"
        return StepStatus.TIMEOUT, f"timed out after {timeout:g} s"
    code = res.exit_code
    if step.expect_fail:
        if code == 0:
            return StepStatus.FAILED, "the README expects this step to fail, but it exited 0"
        return StepStatus.OK, f"failed as the README expects (exit code {code})"
    if code == 0:
        return StepStatus.OK, ""
    return StepStatus.FAILED, f"exit code {code}"


# ---------------------------------------------------------------------------------------- hints

_NETWORK_MARKERS = (
    "Temporary failure in name resolution",
    "Could not resolve host",
    "Network is unreachable",
    "urlopen error",
    "ConnectionError",
    "HTTPSConnectionPool",
    "HTTPConnectionPool",
    "Name or service not known",
    "nodename nor servname",
    "Failed to establish a new connection",
)
# Import names whose PyPI package is called differently.
_PACKAGE_NAMES = {
    "cv2": "opencv-python",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "PIL": "Pillow",
    "yaml": "PyYAML",
    "bs4": "beautifulsoup4",
    "dotenv": "python-dotenv",
    "soundfile": "soundfile",
    "attr": "attrs",
    "Crypto": "pycryptodome",
}
_MODULE = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")
_IMPORT = re.compile(r"ImportError: (.+)")
# Tokens start at a word's start and are bounded: a failed step's kept output (64 KiB; a long
# base64 or progress line) made the unanchored forms quadratic (9 s for 32 KiB of "AAAA").
_SHARED_LIB = re.compile(
    r"(?<![\w.+-])(lib[\w.+-]{1,100}\.so[\w.]{0,40})'?: cannot open shared object file"
)
# A library named by a path outside the system's folders: the group's own file.
_OWN_LIB_PATH = re.compile(
    r"(?<![\w.+/-])((?:\.{1,2}/|/|[\w.+-]{1,100}/)(?:[\w.+-]{1,100}/){0,30}lib[\w.+-]{1,100}"
    r"\.so[\w.]{0,40})'?: cannot open shared object file"
    r"|cannot load library '((?:\.{1,2}/|/|[\w.+-]{1,100}/)[^'\n]{0,300})'"
)
_MISSING_FILE = re.compile(
    r"(?:FileNotFoundError|No such file or directory|OSError)[^'\n]*?:\s*'([^'\n]+)'"
)
_PY_SCRIPT = re.compile(r"can't open file '([^']+)'")
_NOT_FOUND = re.compile(r"(?:^|\s|:)([\w.+-]+): (?:command not found|not found)$", re.MULTILINE)
_PERMISSION = re.compile(r"(?<![\w./+-])([\w./+-]{1,300}): Permission denied")


def hint_for(
    command: str,
    output: str,
    exit_code: int | None,
    network: bool,
    repo_files: frozenset[str] | None = None,
    *,
    memory_mb: int | None = None,
    timeout_s: float | None = None,
    gap_confirmed: bool = True,
    own_library: syslibs.OwnLibrary | None = None,
) -> str:
    """The likely cause of a failed step as one actionable sentence; "" when unknown.

    ``gap_confirmed`` False: the grader's probe loaded the library the output names
    (confirm_missing_library), so the output's claim does not make it the grader's gap.
    ``own_library``: the library is the group's own (runner.own_library found it in the
    checkout). Warning lines (syslibs.without_warnings) never decide a library hint: the
    step went on after them.
    """
    output = textio.matchable(output)
    if timeout_s is not None:
        return (
            f"still running after {timeout_s:g} s: make the README step quicker "
            "(fewer epochs, a small data subset) or mark it as long-running"
        )
    module = _MODULE.search(output)
    if module:
        return _module_hint(module.group(1), repo_files)
    if own_library is not None:
        return own_library.hint
    gap = syslibs.missing_library(output) if gap_confirmed else None
    # A confirmed gap is the verdict (`error`): the hint must say the same, also when a GPU
    # library is named beside it.
    if gap is None and syslibs.needs_gpu(output):
        return (
            "the code requires a GPU; the grader is CPU-only: fall back to CPU when CUDA is "
            "unavailable (torch.device('cuda' if torch.cuda.is_available() else 'cpu'))"
        )
    if gap is not None and gap.warned:
        return (
            f"a warning said the library '{gap.library}' could not be loaded (the grading "
            "environment lacks it) and the step failed later: if it failed for want of it, "
            "it is the grader's gap"
            + (
                f" (the lecturer adds `apt: [{gap.debian}]` to the rubric's environment)"
                if gap.debian
                else ""
            )
            + "; otherwise it is the group's own error"
        )
    if gap is not None and not gap.attributed:
        # No table knows it and the checkout showed nothing of it (else own_library): the
        # verdict is `error` for a human, and the advice gives both readings.
        return (
            f"the library '{gap.library}' could not be loaded and the grading environment "
            "does not have it either; the grader could not tell whether it is a system "
            "library or the group's own: if it is the group's own, build it in a README "
            "step or commit it; if it is a Debian library, the lecturer should find its "
            f"package (`apt-file search {gap.library}`) and add it as `apt: [<package>]` to "
            "the rubric's environment"
        )
    if gap is not None:
        # The verdict is `error` (the lecturer's gap), so the advice must not send the group
        # after a file ('ffmpeg' is not in the repository) or a version pin.
        what = "program" if gap.kind == "program" else "system library"
        return (
            f"the {what} '{gap.library}' is not installed in the grading environment "
            f"(Debian package {gap.debian}): the grader's gap, not the group's; the "
            f"lecturer adds `apt: [{gap.debian}]` to the rubric's environment"
        )
    failed = syslibs.without_warnings(output)
    own_path = next(
        (
            path
            for match in _OWN_LIB_PATH.finditer(failed)
            if not (path := match.group(1) or match.group(2)).startswith(
                syslibs.SYSTEM_LIBRARY_DIRS
            )
        ),
        None,
    )
    if own_path:
        # Named by a path outside the system's library folders (/work/build/libx.so, a
        # package's own folder): the project's file, as syslibs decides for the verdict.
        return (
            f"the library {own_path} is a file of the project's own that is not "
            "there: build it in a README step before it is loaded, or commit it"
        )
    library = _SHARED_LIB.search(failed)
    if library or "sndfile library not found" in failed:
        name = library.group(1) if library else "libsndfile"
        return (
            f"the system library {name} is missing: name its Debian package in the README "
            "or environment file (e.g. libsndfile1, ffmpeg)"
        )
    imported = _IMPORT.search(output)
    if imported:
        return (
            f"an import failed ({imported.group(1).strip()[:120]}): the installed version "
            "probably differs from the one the code was written for; pin it in the environment file"
        )
    if not network and any(marker in output for marker in _NETWORK_MARKERS):
        return "the step needs the network, which is off while running (the rubric can allow it)"
    killed = exit_code in (137, -9) or re.search(r"(^|\s)Killed(\s|$)", output)
    if killed:
        limit = f" ({memory_mb} MB)" if memory_mb else ""
        return f"killed: probably the memory limit{limit}; use less memory (smaller batches)"
    if "MemoryError" in output or "Cannot allocate memory" in output:
        limit = f" of {memory_mb} MB" if memory_mb else ""
        return f"out of memory: the step needs more than the limit{limit}; use less memory"
    script = _PY_SCRIPT.search(output)
    if script:
        name = _repo_relative(script.group(1))
        return _file_hint(name, repo_files, what="the script")
    missing = _MISSING_FILE.search(output)
    if missing:
        return _file_hint(missing.group(1), repo_files, what="file")
    not_found = _NOT_FOUND.search(output)
    if not_found:
        return _command_hint(not_found.group(1))
    permission = _PERMISSION.search(output)
    if permission and (permission.group(1).startswith("./") or ".sh" in permission.group(1)):
        return (
            f"the script {permission.group(1)} is not executable: chmod +x it (and commit the "
            "mode: git update-index --chmod=+x) or call it with bash"
        )
    return ""


def lfs_hint(command: str, output: str, pointers: frozenset[str]) -> str:
    """The hint for a step that read a Git LFS pointer instead of the data ('' when none did).

    A pointer counts as read when its path or file name appears in the command or the output
    (tracebacks print the source line that opened it). With pointers but no mention, the
    step may still have read one: the hint says so with the likely ``ValueError`` kinds.
    """
    text = command + "\n" + output
    named = sorted(p for p in pointers if p in text or posixpath.basename(p) in text)
    if named:
        return f"{LFS_HINT}: {', '.join(named[:3])} (the grader needs a human to fetch it)"
    if any(marker in output for marker in _POINTER_READ_MARKERS):
        shown = ", ".join(sorted(pointers)[:3])
        return (
            f"{LFS_HINT} (the repository's LFS files: {shown}); the step probably read one "
            "(the grader needs a human to fetch it)"
        )
    return ""


# What reading a pointer file as data says: pandas, numpy, PIL, soundfile, pickle, torch.
_POINTER_READ_MARKERS = (
    "version https://git-lfs",
    "ParserError",
    "could not convert string to float",
    "cannot identify image file",
    "Format not recognised",
    "Error opening",
    "invalid load key",
    "UnpicklingError",
    "PytorchStreamReader failed",
    "is not a zip file",
    "Failed to interpret file",
)


def _module_hint(module: str, repo_files: frozenset[str] | None) -> str:
    top = module.split(".")[0]
    if repo_files is not None and any(
        f == f"{top}.py" or f.endswith(f"/{top}.py") or f.startswith(f"{top}/") or f"/{top}/" in f
        for f in repo_files
    ):
        return (
            f"module '{module}' is part of the repository but not importable from the working "
            "directory: run the step from the right folder or install the project "
            "(pip install -e .)"
        )
    package = _PACKAGE_NAMES.get(top)
    also = f" (pip package '{package}')" if package and package != top else ""
    return (
        f"module '{top}'{also} is missing from the environment file "
        "(requirements.txt, environment.yml or pyproject.toml)"
    )


def _repo_relative(path: str) -> str:
    # Sandboxes run in a copy such as /tmp/.../work or /work; show the path as in the repo.
    match = re.search(r"/work/(.+)$", path)
    return match.group(1) if match else path


def _file_hint(name: str, repo_files: frozenset[str] | None, *, what: str) -> str:
    norm = posixpath.normpath(name)
    if norm.startswith(("/home/", "/Users/", "C:", "/content/", "/mnt/")):
        return (
            f"{what} '{name}' is an absolute path from the author's machine: "
            "use a path relative to the repository"
        )
    if repo_files is None:
        return f"{what} '{name}' was not found: add it to the repository or add a download step"
    base = posixpath.basename(norm)
    if norm in repo_files or any(posixpath.basename(f) == base for f in repo_files):
        return (
            f"{what} '{name}' is in the repository but not where the step looks for it: "
            "check the working directory (cd) before this step"
        )
    return f"{what} '{name}' is not in the repository: add it or a download step"


def _command_hint(name: str) -> str:
    if name in ("conda", "mamba", "micromamba", "activate"):
        return (
            f"'{name}' is not available while running: the grader builds the environment from "
            "the environment file, so conda commands are not needed in the run steps"
        )
    if name.startswith(("python", "pip")):
        return f"'{name}' is not available in the sandbox: use plain 'python' / 'pip'"
    return (
        f"the command '{name}' is not installed in the sandbox: install it in a step "
        "or list it in the environment file"
    )


# ---------------------------------------------------------------------------------- scoring


def project_install_failure(session: object) -> str | None:
    """Why the session's install of the project itself (``pip install -e .``) failed, or None.

    The Docker session keeps that command's result in ``setup_result``; the local backend adds
    a note starting "installing the project".
    """
    setup = getattr(session, "setup_result", None)
    if isinstance(setup, model.ExecResult) and setup.exit_code != 0:
        if setup.timed_out:
            return "installing the project (pip install -e .) timed out"
        line = decisive_line(setup.output) or f"exit code {setup.exit_code}"
        return f"installing the project (pip install -e .) failed: {line}"
    notes = getattr(session, "notes", ())
    for note in notes if isinstance(notes, list | tuple) else ():
        if isinstance(note, str) and note.startswith("installing the project"):
            return note
    return None


def blame_project_install(
    steps: Sequence[StepResult], failure: str | None
) -> tuple[StepResult, ...]:
    """Put ``failure`` (the project's own install failed) in the hint of the first failed step
    that fails on an import: that step fails because of it, whatever its own hint says."""
    result = tuple(steps)
    if not failure:
        return result
    for position, step in enumerate(result):
        if step.status not in (StepStatus.FAILED, StepStatus.TIMEOUT):
            continue
        output = textio.matchable(step.output_head + "\n" + step.output_tail)
        if _MODULE.search(output) or _IMPORT.search(output) or "pkg_resources" in output:
            hint = f"{failure}; fix that first" + (f" (then: {step.hint})" if step.hint else "")
            return (*result[:position], replace(step, hint=hint), *result[position + 1 :])
    return result
