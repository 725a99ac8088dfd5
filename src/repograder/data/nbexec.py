"""Execute one notebook inside the sandbox; print a JSON result line, then the executed copy.

Runs with the *student's* Python (any 3.8+), so it uses only the standard library, nbformat and
nbclient, and no syntax newer than 3.8. The session starts it as the grader's helper
(``Session.run_helper``): isolated interpreter, clean environment, no student process alive.
Its result travels back on its own stdout, never through a file a student process could
rewrite; the kernel's (and any library's) writes to stdout are sent to stderr instead. The host
never executes or unpickles what this prints: it reads the JSON line and the executed
``.ipynb`` as text, with size limits.

Usage: python nbexec.py NOTEBOOK CELL_TIMEOUT_S BUDGET_S MAX_NOTEBOOK_BYTES [-]

With ``-`` the notebook's text is read from stdin: the submitted notebook, sent by the host.
The file at NOTEBOOK in the session's copy only gives the working directory (and whether the
copy has it at all): README steps and earlier notebooks run before this one as the student and
may have rewritten it, e.g. with a notebook that passes.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import sys
import tempfile
import time
from typing import Any

TEXT_CAP = 32 * 1024  # per text output: head and tail halves
DATA_CAP = 2 * 1024 * 1024  # per rich output value (e.g. a base64 PNG)
NOTEBOOK_CAP = 20 * 1024 * 1024  # whole executed notebook as written
EXCERPT_CAP = 2000
TRACEBACK_LINES = 25
SHUTDOWN_MARGIN_S = 10.0  # leave time to stop the kernel before the host's timeout hits
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CLEAN_KERNEL = "repograder-clean"
CLEAN_START_S = 60.0
# The clean kernel: this interpreter and its environment's packages, but nothing of the
# project: no module from the notebook's folder (-I, started in an empty folder) and, like this
# executor, no .pth file when it runs with -S (the project's prefix, which README steps write,
# is added by one).
CLEAN_BOOT = (
    "import glob, os, sys\n"
    "_env = os.path.dirname(os.path.dirname(sys.executable))\n"
    "sys.path.extend(sorted(glob.glob(os.path.join(_env, 'lib', 'python*', 'site-packages'))))\n"
    "from ipykernel import kernelapp\n"
    "kernelapp.launch_new_instance()\n"
)


def read_notebook_text(path: str, data: bytes | None = None) -> str:
    """The notebook's text (``data``, or else the file at ``path``) through repograder's one
    decoder (BOM, UTF-8, reported fallback), which notebooks.executor_script() registers as
    the module ``rg_textio``; plain UTF-8 when it is absent."""
    if data is None:
        with open(path, "rb") as handle:
            data = handle.read()
    try:
        from rg_textio import decode  # type: ignore[import-not-found]
    except ImportError:
        try:
            from repograder.textio import decode
        except ImportError:
            return data.decode("utf-8", errors="replace")
    return str(decode(data).text)


# textio.LFS_POINTER_PREFIX; this file runs alone in the sandbox, so the value is repeated here.
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/"
LFS_POINTER_ERROR = "GitLfsPointer"
LFS_POINTER_WHY = "this file is a Git LFS pointer; its content was not fetched"


def _is_lfs_pointer(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(LFS_POINTER_PREFIX)) == LFS_POINTER_PREFIX
    except OSError:
        return False


def _cap_text(text: str, cap: int) -> str:
    if len(text) <= cap:
        return text
    half = cap // 2
    return text[:half] + f"\n[... {len(text) - 2 * half} characters omitted ...]\n" + text[-half:]


def _excerpt(source: Any) -> str:
    text = "".join(source) if isinstance(source, list) else str(source or "")
    return _cap_text(text, EXCERPT_CAP)


def _read_stdin(max_bytes: int) -> bytes:
    """At most ``max_bytes`` + 1 bytes of stdin; fd 0 then reads /dev/null (the kernel
    inherits it)."""
    chunks = []
    left = max_bytes + 1
    while left > 0:
        chunk = os.read(0, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return b"".join(chunks)


def _private_stdout() -> Any:
    """A private copy of stdout for the result; fd 1 itself then goes to stderr.

    The kernel and nbclient inherit fd 1: whatever they print must not be taken for the result.
    ``os.dup`` gives a non-inheritable descriptor, so the kernel never gets the copy.
    """
    out = open(os.dup(1), "wb")  # noqa: SIM115 - kept open for the whole run
    os.dup2(2, 1)
    return out


def _cap_outputs(nb: Any) -> None:
    """Keep each output small so a chatty training loop cannot fill the disk or the report."""
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            if "text" in output:
                text = output["text"]
                text = "".join(text) if isinstance(text, list) else str(text)
                output["text"] = _cap_text(text, TEXT_CAP)
            data = output.get("data")
            if isinstance(data, dict):
                for mime in list(data):
                    value = data[mime]
                    if not isinstance(value, str):
                        value = json.dumps(value)
                    if len(value) > DATA_CAP:
                        del data[mime]
                        note = f"[{mime} output of {len(value)} bytes omitted]"
                        data.setdefault("text/plain", note)
                    elif mime == "text/plain":
                        data[mime] = _cap_text(value, TEXT_CAP)


def _strip_outputs(nb: Any) -> None:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []


def _notebook_text(nb: Any) -> str:
    import nbformat as _nbformat

    nbformat: Any = _nbformat  # untyped library

    _cap_outputs(nb)
    text = nbformat.writes(nb)
    if len(text.encode("utf-8")) > NOTEBOOK_CAP:
        _strip_outputs(nb)
        text = nbformat.writes(nb)
    return str(text)


def _traceback_tail(cell: Any, fallback: str) -> str:
    for output in cell.get("outputs", []) or []:
        if output.get("output_type") == "error":
            lines = "\n".join(output.get("traceback", []) or []).splitlines()
            return ANSI.sub("", "\n".join(lines[-TRACEBACK_LINES:]))
    lines = ANSI.sub("", fallback).splitlines()
    return "\n".join(lines[-TRACEBACK_LINES:])


def _private_jupyter_dirs() -> None:
    """Pin the ``python3`` kernel to this interpreter; keep Jupyter's files out of $HOME.

    A ``python3`` kernelspec elsewhere on the Jupyter path (user dir, another env) could start a
    different Python than the group's environment; JUPYTER_PATH entries take precedence.
    """
    base = tempfile.mkdtemp(prefix="repograder-jupyter-")
    # Gone when the executor ends (the local backend runs it on the student's own machine).
    atexit.register(shutil.rmtree, base, True)
    spec_dir = os.path.join(base, "data", "kernels", "python3")
    os.makedirs(spec_dir)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3",
        "language": "python",
    }
    with open(os.path.join(spec_dir, "kernel.json"), "w", encoding="utf-8") as handle:
        json.dump(spec, handle)
    clean_dir = os.path.join(base, "data", "kernels", CLEAN_KERNEL)
    os.makedirs(clean_dir)
    flags = ["-I", "-S"] if sys.flags.no_site else ["-I"]
    clean = dict(spec, argv=[sys.executable, *flags, "-c", CLEAN_BOOT, "-f", "{connection_file}"])
    with open(os.path.join(clean_dir, "kernel.json"), "w", encoding="utf-8") as handle:
        json.dump(clean, handle)
    os.makedirs(os.path.join(base, "empty"))
    previous = os.environ.get("JUPYTER_PATH")
    data_dir = os.path.join(base, "data")
    os.environ["JUPYTER_PATH"] = data_dir + (os.pathsep + previous if previous else "")
    os.environ["JUPYTER_RUNTIME_DIR"] = os.path.join(base, "runtime")
    os.environ["IPYTHONDIR"] = os.path.join(base, "ipython")
    os.environ["JUPYTER_PLATFORM_DIRS"] = "1"
    os.environ.setdefault("MPLBACKEND", "Agg")


def _clean_kernel_starts(client_class: Any, nbformat: Any, deadline: float) -> bool:
    """Whether a kernel without any of the project's files starts (CLEAN_BOOT) in this
    environment: if it does, a notebook kernel that died before its first cell was stopped by
    the project (a module named like one the kernel imports, a .pth file), not the grader."""
    jupyter_data = os.environ.get("JUPYTER_PATH", "").split(os.pathsep)[0]
    empty = os.path.join(os.path.dirname(jupyter_data), "empty")
    timeout = int(min(CLEAN_START_S, deadline - time.monotonic()))
    if timeout < 5:
        return False
    client = client_class(
        nbformat.v4.new_notebook(),
        kernel_name=CLEAN_KERNEL,
        startup_timeout=timeout,
        resources={"metadata": {"path": empty}},
    )
    try:
        with client.setup_kernel():
            return True
    except Exception:
        return False


def main(argv: list[str]) -> int:
    """Run the notebook; always print a result JSON line unless the arguments are wrong."""
    if len(argv) not in (5, 6) or argv[5:] not in ([], ["-"]):
        sys.stderr.write(
            "usage: nbexec.py NOTEBOOK CELL_TIMEOUT_S BUDGET_S MAX_NOTEBOOK_BYTES [-]\n"
        )
        return 2
    out = _private_stdout()
    nb_path = argv[1]
    cell_timeout = float(argv[2])
    budget = float(argv[3])
    max_bytes = int(argv[4])
    submitted = _read_stdin(max_bytes) if argv[5:] == ["-"] else None
    started = time.monotonic()
    deadline = started + max(budget - SHUTDOWN_MARGIN_S, 1.0)
    result: dict[str, Any] = {
        "status": "error",
        "failing_cell": None,
        "source_excerpt": "",
        "ename": "",
        "evalue": "",
        "traceback_tail": "",
        "duration_s": 0.0,
        "cells": 0,
        "executed": 0,
        "infra": False,
        "python": sys.version.split()[0],
    }

    def finish(notebook: str = "", **fields: Any) -> int:
        result.update(fields)
        result["duration_s"] = round(time.monotonic() - started, 3)
        out.write(json.dumps(result).encode("utf-8") + b"\n")
        out.write(notebook.encode("utf-8", "replace"))
        out.flush()
        return 0

    if not os.path.lexists(nb_path):
        # The sandbox's copy leaves out what exceeds its size limit (e.g. a 100 MB notebook).
        return finish(
            status="skipped",
            evalue="not in the sandbox's copy of the repository"
            " (left out by the copy's size limit, or removed by an earlier step)",
        )
    try:
        size = os.lstat(nb_path).st_size if submitted is None else len(submitted)
    except OSError as exc:
        return finish(ename="FileNotFoundError", evalue=str(exc))
    if submitted is not None:
        lfs_pointer = submitted.startswith(LFS_POINTER_PREFIX)
    else:
        lfs_pointer = not os.path.islink(nb_path) and _is_lfs_pointer(nb_path)
    if lfs_pointer:
        # Not the notebook: the checkout holds Git LFS's pointer to it. A human must fetch it.
        # (With the submitted text from the host, a step that puts a pointer in the copy's
        # place does not count.)
        return finish(ename=LFS_POINTER_ERROR, evalue=LFS_POINTER_WHY, infra=True)
    if submitted is None and os.path.islink(nb_path):
        return finish(ename="NotebookError", evalue="the notebook is a symbolic link")
    if size > max_bytes:
        return finish(
            status="skipped",
            ename="NotebookTooLarge",
            evalue=f"the notebook has {size} bytes; at most {max_bytes} are executed",
        )

    try:
        _private_jupyter_dirs()
    except OSError as exc:
        # The session's writable folders (/work, /tmp, the home) are the group's disk budget
        # and only its own code wrote to them: a README step or an earlier notebook filled
        # them (or took them away). The notebook's failure, not the grader's.
        return finish(
            status="failed",
            ename=type(exc).__name__,
            evalue="the notebook could not be started: no writable space in the session "
            f"(its steps filled /work, /tmp and the home folder?): {exc}"[:500],
        )
    try:
        import nbformat as _nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    except Exception as exc:  # any import failure means the same thing
        return finish(
            ename="ToolingMissing",
            evalue=f"nbclient/nbformat cannot be imported in the environment: {exc}",
            infra=True,
        )
    try:
        import ipykernel  # noqa: F401 - only its presence matters
    except Exception as exc:
        return finish(
            ename="ToolingMissing",
            evalue=f"ipykernel cannot be imported in the environment: {exc}",
            infra=True,
        )

    nbformat: Any = _nbformat  # untyped library
    try:
        nb = nbformat.reads(read_notebook_text(nb_path, submitted), as_version=4)
    except Exception as exc:  # a broken notebook is the student's data
        return finish(ename="InvalidNotebook", evalue=f"not a valid notebook: {exc}"[:500])
    cells = nb.get("cells", [])
    result["cells"] = len(cells)

    def timeout_for(_cell: Any) -> int:
        remaining = deadline - time.monotonic()
        return max(1, int(min(cell_timeout, remaining)))

    client = NotebookClient(
        nb,
        timeout=max(1, int(cell_timeout)),
        timeout_func=timeout_for,
        kernel_name="python3",
        allow_errors=False,
        startup_timeout=120,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(nb_path))}},
    )
    index = -1
    executed = 0
    outcome: dict[str, Any] = {"status": "ok"}
    try:
        with client.setup_kernel():
            for index, cell in enumerate(cells):
                if time.monotonic() >= deadline:
                    raise CellTimeoutError("the total notebook budget was used up")
                client.execute_cell(cell, index)
                executed += 1
    except CellTimeoutError:
        budget_hit = time.monotonic() >= deadline - 1.0
        reason = (
            f"the total notebook budget of {budget:.0f} s was used up"
            if budget_hit
            else f"the cell ran longer than {cell_timeout:.0f} s"
        )
        outcome = {"status": "timeout", "ename": "Timeout", "evalue": reason}
    except CellExecutionError as exc:
        outcome = {"status": "failed", "ename": exc.ename, "evalue": exc.evalue}
    except DeadKernelError as exc:
        outcome = {
            "status": "failed",
            "ename": "DeadKernelError",
            "evalue": f"the kernel died (out of memory?): {exc}"[:500],
        }
    except Exception as exc:  # e.g. the kernel did not start
        outcome = {
            "status": "error",
            "ename": type(exc).__name__,
            "evalue": str(exc)[:500],
            "infra": index < 0,
        }
        if index < 0 and _clean_kernel_starts(NotebookClient, nbformat, deadline):
            outcome = {
                "status": "failed",
                "ename": "KernelError",
                "evalue": "the kernel did not start in the notebook's folder, though a kernel "
                "of the same environment without the project's files did (a module of the "
                f"project named like one the kernel imports?): {type(exc).__name__}: {exc}"[:500],
            }
    if outcome["status"] != "ok" and 0 <= index < len(cells):
        cell = cells[index]
        outcome["failing_cell"] = index + 1  # 1-based, counted over all cells as shown
        outcome["source_excerpt"] = _excerpt(cell.get("source", ""))
        outcome["traceback_tail"] = _traceback_tail(cell, str(outcome.get("evalue", "")))
    outcome["executed"] = executed
    text = ""
    try:
        text = _notebook_text(nb)
    except Exception as exc:  # the result still matters without the copy
        outcome["write_error"] = str(exc)[:300]
    return finish(text, **outcome)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
