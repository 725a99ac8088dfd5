"""Tests for repograder.notebooks: discovery, in-sandbox execution, safe HTML, scoring.

Execution uses a tiny Session (bash in a temp copy of the checkout, host Python with nbclient
and ipykernel) so the real executor script and real kernels run, without Docker.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path

import pytest

from notebook_files import code, markdown, notebook_json
from repograder import nbrender
from repograder import notebooks as nbmod
from repograder.checks.notebooks import report_to_json
from repograder.detect import EnvKind, EnvSpec
from repograder.fsutil import read_bytes
from repograder.model import ExecResult, Params, Status
from repograder.notebooks import (
    NotebookReport,
    NotebookResult,
    NotebookStatus,
    evaluate_notebooks,
    find_notebooks,
    parse_result,
    render_notebook_html,
    report_artifacts,
    run_notebooks,
)
from repograder.sandbox.base import HelperResult, Limits, Session
from repograder.sandbox.fake import FakeSandbox
from repograder.sandbox.localsession import LocalSession


class BashSession:
    """Test-only Session: bash in a copy of the checkout; PATH may be prefixed.

    `python` is the test environment's interpreter (never whatever the machine's PATH has),
    unless ``path_prefix`` puts another one first.
    """

    def __init__(self, checkout: Path, copy: Path, path_prefix: str | None = None) -> None:
        shutil.copytree(checkout, copy, symlinks=True)
        self.root = copy
        self.env = dict(os.environ)
        prefix = [p for p in (path_prefix, str(Path(sys.executable).parent)) if p]
        self.env["PATH"] = ":".join([*prefix, self.env["PATH"]])
        self.commands: list[str] = []
        self.helper_calls: list[tuple[str, ...]] = []
        self.helper_root = copy
        self.path_prefix = path_prefix

    def run(self, command: str, timeout_s: float | None = None) -> ExecResult:
        self.commands.append(command)
        started = time.monotonic()
        proc = subprocess.Popen(
            ["bash", "-c", command],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            timed_out = True
        text = out.decode("utf-8", "replace")
        return ExecResult(
            exit_code=None if timed_out else proc.returncode,
            timed_out=timed_out,
            duration_s=time.monotonic() - started,
            output_head=text[-60_000:],
            output_tail="",
            output_bytes=len(out),
        )

    def run_helper(
        self,
        script: str,
        args: Sequence[str],
        timeout_s: float,
        max_bytes: int,
        stdin: bytes = b"",
    ) -> HelperResult:
        # As the local backend: the env's python from the session's own PATH, -I, from the root.
        self.helper_calls.append(tuple(args))
        python = sys.executable
        if self.path_prefix:
            python = shutil.which("python", path=self.path_prefix) or python
        boot = (
            "import sys\n_s = sys.argv.pop(1)\n"
            "exec(compile(_s, 'h', 'exec'), {'__name__': '__main__'})"
        )
        started = time.monotonic()
        try:
            done = subprocess.run(
                [python, "-I", "-c", boot, script, *args],
                cwd=self.helper_root,
                env=self.env,
                input=stdin,
                capture_output=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return HelperResult(None, True, time.monotonic() - started, b"")
        return HelperResult(
            done.returncode, False, time.monotonic() - started, done.stdout[:max_bytes]
        )

    def read_file(self, path: str, max_bytes: int) -> bytes | None:
        return read_bytes(self.root, path, max_bytes)

    def close(self) -> None:
        pass


# A README's `export PATH=$PWD/tools:$PATH` with this as tools/python must not hijack the
# notebook executor: it claims every notebook passed.
FAKE_PYTHON = """#!/bin/sh
echo '{"status": "ok", "cells": 1, "executed": 1, "duration_s": 0.1}'
"""

GOOD = notebook_json(
    [
        markdown("# Good"),
        code("import sys, os\nprint('exe', sys.executable)\nprint('cwd', os.getcwd())"),
    ]
)
BAD = notebook_json(
    [
        markdown("# Bad"),
        code("x = 1"),
        code("import torchaudio_not_installed_xyz"),
        code("print('never')"),
    ]
)
SLOW = notebook_json([code("import time\ntime.sleep(60)")])


def _repo(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# ------------------------------------------------------------------------------ discovery


def test_find_notebooks_skips_vendored_checkpoints_envs_and_links(tmp_path: Path) -> None:
    repo = _repo(
        tmp_path / "repo",
        {
            "analysis.ipynb": GOOD,
            "nb/b.ipynb": GOOD,
            "nb/.ipynb_checkpoints/b-checkpoint.ipynb": GOOD,
            "node_modules/pkg/x.ipynb": GOOD,
            "myenv/pyvenv.cfg": "home = /usr",
            "myenv/lib/demo.ipynb": GOOD,
            "notes.txt": "x",
        },
    )
    outside = tmp_path / "outside.ipynb"
    outside.write_text(GOOD)
    (repo / "link.ipynb").symlink_to(outside)
    assert find_notebooks(repo) == ("analysis.ipynb", "nb/b.ipynb")


# ------------------------------------------------------------------------------ execution


def _see_host_packages(venv: Path) -> None:
    """Let ``venv`` import this interpreter's packages even when that is itself a venv.

    ``--system-site-packages`` only reaches the base interpreter's site-packages.
    """
    import sysconfig

    (site,) = venv.glob("lib/python*/site-packages")
    (site / "_host.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[NotebookReport, BashSession, Path]:
    base = tmp_path_factory.mktemp("run")
    repo = _repo(
        base / "repo",
        {
            "bad.ipynb": BAD,
            "sub/good.ipynb": GOOD,
            "broken.ipynb": "this is { not json",
            "slow.ipynb": SLOW,
        },
    )
    # The group's environment: a venv that sees the test environment's nbclient/ipykernel
    # (through a .pth file: `--system-site-packages` would see the *base* interpreter's
    # packages, which a fresh machine does not have).
    venv = base / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    _see_host_packages(venv)
    session = BashSession(repo, base / "copy", path_prefix=str(venv / "bin"))
    # A stray "python3" kernelspec (e.g. in the user's Jupyter dir) must not be used.
    decoy = base / "decoy"
    (decoy / "kernels" / "python3").mkdir(parents=True)
    (decoy / "kernels" / "python3" / "kernel.json").write_text(
        json.dumps({"argv": ["/bin/false", "{connection_file}"], "language": "python"})
    )
    session.env["JUPYTER_PATH"] = str(decoy)
    out_dir = base / "out" / "notebooks"
    order = ("bad.ipynb", "sub/good.ipynb", "broken.ipynb", "slow.ipynb")
    report = run_notebooks(session, order, Params({"cell_timeout_s": 3}), out_dir, checkout=repo)
    return report, session, out_dir


def _by_path(report: NotebookReport) -> dict[str, NotebookResult]:
    return {r.path: r for r in report.results}


def test_good_notebook_runs_with_the_session_python_in_its_folder(
    executed: tuple[NotebookReport, BashSession, Path],
) -> None:
    report, session, out_dir = executed
    good = _by_path(report)["sub/good.ipynb"]
    assert good.status is NotebookStatus.OK, good
    assert (good.cells, good.executed, good.failing_cell) == (2, 2, None)
    assert good.html is not None
    page = (out_dir / good.html).read_text()
    # The pinned kernelspec starts the session's python; the kernel runs in the notebook's dir.
    assert f"exe {session.root.parent / 'env' / 'bin' / 'python'}\n" in page
    assert f"cwd {session.root / 'sub'}" in page
    # Nothing was written into the copy: the result came back on the executor's stdout.
    assert not (session.root / ".repograder").exists()
    assert "Content-Security-Policy" in page


def test_failing_cell_index_and_error_are_reported(
    executed: tuple[NotebookReport, BashSession, Path],
) -> None:
    report, _, out_dir = executed
    bad = _by_path(report)["bad.ipynb"]
    assert bad.status is NotebookStatus.FAILED
    assert bad.failing_cell == 3  # 1-based over all cells, markdown included
    assert bad.error.startswith("ModuleNotFoundError: No module named 'torchaudio_not_installed")
    assert "import torchaudio_not_installed_xyz" in bad.source_excerpt
    assert "ModuleNotFoundError" in bad.traceback_tail
    assert "\x1b[" not in bad.traceback_tail
    assert (bad.cells, bad.executed) == (4, 2)
    assert bad.html is not None
    assert "ModuleNotFoundError" in (out_dir / bad.html).read_text()


def test_malformed_notebook_is_a_clear_error(
    executed: tuple[NotebookReport, BashSession, Path],
) -> None:
    broken = _by_path(executed[0])["broken.ipynb"]
    assert broken.status is NotebookStatus.ERROR
    assert broken.error.startswith("InvalidNotebook: not a valid notebook")
    assert not broken.infra
    assert broken.html is None


def test_cell_timeout(executed: tuple[NotebookReport, BashSession, Path]) -> None:
    slow = _by_path(executed[0])["slow.ipynb"]
    assert slow.status is NotebookStatus.TIMEOUT
    assert slow.failing_cell == 1
    assert "longer than 3 s" in slow.error
    assert slow.duration_s < 30


def test_scoring_of_the_executed_report(executed: tuple[NotebookReport, BashSession, Path]) -> None:
    verdict = evaluate_notebooks(executed[0], Params())
    assert verdict.status is Status.FAIL
    assert verdict.fraction == pytest.approx(0.25)
    assert verdict.summary.startswith("1 of 4 notebooks ran; bad.ipynb failed in cell 3: ")
    assert "ModuleNotFoundError" in verdict.summary


def test_total_budget_skips_later_notebooks(tmp_path: Path) -> None:
    # The first notebook takes at least 2 s (on a fast machine it took less than the 1 s
    # margin, and the second one started).
    first_nb = notebook_json([code("import time\ntime.sleep(2)\nprint('ok')")])
    repo = _repo(tmp_path / "repo", {"a.ipynb": first_nb, "b.ipynb": GOOD})
    session = BashSession(repo, tmp_path / "copy")
    # MIN_START_S + 1 lets the first notebook start; afterwards less than MIN_START_S is left.
    params = Params({"total_budget_s": nbmod.MIN_START_S + 1})
    report = run_notebooks(session, ("a.ipynb", "b.ipynb"), params, tmp_path / "out", checkout=repo)
    first, second = report.results
    assert first.status is NotebookStatus.OK
    assert second.status is NotebookStatus.SKIPPED
    assert "budget" in second.error
    assert not any("b.ipynb" in c for c in session.helper_calls)


def test_oversized_notebook_is_skipped_with_reason(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo", {"big.ipynb": GOOD})
    session = BashSession(repo, tmp_path / "copy")
    report = run_notebooks(
        session,
        ("big.ipynb",),
        Params({"max_notebook_mb": 0.0001}),
        tmp_path / "out",
        checkout=repo,
    )
    (result,) = report.results
    assert result.status is NotebookStatus.SKIPPED
    assert "bytes; at most 104 are executed" in result.error


def test_missing_tooling_is_an_infrastructure_error(tmp_path: Path) -> None:
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    repo = _repo(tmp_path / "repo", {"a.ipynb": GOOD})
    session = BashSession(repo, tmp_path / "copy", path_prefix=str(venv / "bin"))
    report = run_notebooks(session, ("a.ipynb",), Params(), tmp_path / "out", checkout=repo)
    (result,) = report.results
    assert result.status is NotebookStatus.ERROR
    assert result.infra
    assert result.error.startswith("ToolingMissing: nbclient/nbformat cannot be imported")
    assert evaluate_notebooks(report, Params()).status is Status.ERROR


def test_executor_ignores_the_students_shell_state(tmp_path: Path) -> None:
    """A step's `cd sub` and a fake `python` on an exported PATH do not reach the executor."""
    repo = _repo(tmp_path / "repo", {"sub/a.ipynb": BAD, "tools/python": FAKE_PYTHON})
    (repo / "tools" / "python").chmod(0o755)
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    _see_host_packages(venv)
    session = LocalSession(repo, Limits(), path_prefix=(venv / "bin",))
    try:
        step = session.run("export PATH=$PWD/tools:$PATH && cd sub && python -V")
        assert step.output.startswith('{"status": "ok"'), step  # the step itself is hijacked
        (result,) = run_notebooks(
            session, ("sub/a.ipynb",), Params(), tmp_path / "out", checkout=repo
        ).results
    finally:
        session.close()
    assert result.status is NotebookStatus.FAILED, result
    assert result.failing_cell == 3


def test_the_submitted_notebook_runs_whatever_the_copy_now_holds(tmp_path: Path) -> None:
    """A README step and an earlier notebook each put a notebook that passes in place of a
    failing one in the session's copy: the submitted notebooks are executed all the same."""
    swap = f"open('b.ipynb', 'w').write({GOOD!r})"
    repo = _repo(tmp_path / "repo", {"a.ipynb": notebook_json([code(swap)]), "b.ipynb": BAD})
    (repo / "c.ipynb").write_text(BAD)
    (repo / "spare.ipynb").write_text(GOOD)
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    _see_host_packages(venv)
    session = LocalSession(repo, Limits(), path_prefix=(venv / "bin",))
    try:
        assert session.run("cp spare.ipynb c.ipynb").exit_code == 0
        order = ("a.ipynb", "b.ipynb", "c.ipynb")
        report = run_notebooks(session, order, Params(), tmp_path / "out", checkout=repo)
    finally:
        session.close()
    a, b, c = report.results
    assert a.status is NotebookStatus.OK, a
    assert b.status is NotebookStatus.FAILED, b
    assert c.status is NotebookStatus.FAILED, c
    assert "torchaudio_not_installed_xyz" in b.error + c.error


def test_a_kernel_the_students_files_break_is_their_failure_not_the_graders(
    tmp_path: Path,
) -> None:
    """An `ipykernel_launcher.py` beside the notebook (or a `.pth` a README step leaves in the
    project's prefix) ends the kernel before its first cell. That was an infrastructure error
    ("assessed by your lecturer") for a notebook that fails; a clean kernel started by the
    grader shows that the tooling works, so it is the notebook's failure."""
    repo = _repo(
        tmp_path / "repo", {"nb/a.ipynb": BAD, "nb/ipykernel_launcher.py": "raise SystemExit(3)"}
    )
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    _see_host_packages(venv)
    session = LocalSession(repo, Limits(), path_prefix=(venv / "bin",))
    try:
        report = run_notebooks(session, ("nb/a.ipynb",), Params(), tmp_path / "out", checkout=repo)
    finally:
        session.close()
    (result,) = report.results
    assert result.status is NotebookStatus.FAILED, result
    assert not result.infra
    assert "the kernel did not start in the notebook's folder" in result.error
    assert evaluate_notebooks(report, Params()).status is Status.FAIL


def test_no_notebooks_runs_nothing(tmp_path: Path) -> None:
    session = BashSession(_repo(tmp_path / "repo", {}), tmp_path / "copy")
    report = run_notebooks(session, (), Params(), tmp_path / "out", checkout=tmp_path)
    assert report.results == ()
    assert session.commands == []
    assert session.helper_calls == []


# ------------------------------------------------------------------------------ tampered results


def _scripted(answers: dict[str, bytes]) -> FakeSandbox:
    """A sandbox whose executor prints whatever the test says (a container that lied)."""

    def helper(args: tuple[str, ...]) -> HelperResult:
        return HelperResult(0, False, 0.1, answers.get(args[0], b""))

    return FakeSandbox(helper=helper)


def _session(box: FakeSandbox, tmp_path: Path) -> Session:
    build = box.prepare(EnvSpec(kind=EnvKind.NONE, path=None, reason="none"), tmp_path, tmp_path)
    return box.open_session(build, tmp_path, Limits())


VALID_RESULT = {
    "status": "failed",
    "failing_cell": 2,
    "source_excerpt": "1/0",
    "ename": "ZeroDivisionError",
    "evalue": "division by zero",
    "traceback_tail": "...",
    "duration_s": 1.5,
    "cells": 3,
    "executed": 1,
}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x00\xff not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"{" + b" " * (nbmod.RESULT_MAX_BYTES + 10) + b"}", "larger than"),
        (json.dumps({**VALID_RESULT, "status": "great"}).encode(), "unknown status"),
        (json.dumps({**VALID_RESULT, "failing_cell": 99}).encode(), "failing_cell"),
        (json.dumps({**VALID_RESULT, "failing_cell": "2"}).encode(), "failing_cell"),
        (json.dumps({**VALID_RESULT, "executed": 7}).encode(), "inconsistent"),
        (json.dumps({**VALID_RESULT, "evalue": ["x"]}).encode(), "evalue is not a string"),
        (json.dumps({**VALID_RESULT, "duration_s": True}).encode(), "duration_s"),
    ],
)
def test_tampered_result_becomes_error(raw: bytes, reason: str) -> None:
    result = parse_result("a.ipynb", raw)
    assert result.status is NotebookStatus.ERROR
    assert result.infra
    assert reason in result.error


def test_valid_result_is_parsed() -> None:
    result = parse_result("a.ipynb", json.dumps(VALID_RESULT).encode())
    assert (result.status, result.failing_cell, result.error) == (
        NotebookStatus.FAILED,
        2,
        "ZeroDivisionError: division by zero",
    )


def test_run_survives_garbage_from_the_sandbox(tmp_path: Path) -> None:
    box = _scripted(
        {
            "a.ipynb": json.dumps(VALID_RESULT).encode() + b"\n\xff\xfe garbage",
            "b.ipynb": b"{ truncated\n",
        }
    )
    session = _session(box, tmp_path)
    for name in ("a.ipynb", "b.ipynb", "c.ipynb"):
        (tmp_path / name).write_text(GOOD)
    report = run_notebooks(
        session, ("a.ipynb", "b.ipynb", "c.ipynb"), Params(), tmp_path, checkout=tmp_path
    )
    a, b, c = report.results
    assert a.status is NotebookStatus.FAILED
    assert a.html is None
    assert b.status is NotebookStatus.ERROR
    assert "unreadable executor result" in b.error
    assert c.status is NotebookStatus.ERROR
    assert "wrote no result" in c.error


# ------------------------------------------------------------------------------ HTML safety

PNG_1PX = base64.b64encode(
    b"\x89PNG\r\n\x1a\n"
    + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    + b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
    + b"\x00\x00\x00\x00IEND\xaeB`\x82"
).decode()

HOSTILE = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"x": "</script>"}}},
    "cells": [
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": "# Results\n<script>alert(1)</script>\n[click](javascript:alert(2))\n"
            '<a href="JaVaScRiPt:alert(3)">x</a> <iframe src="https://evil"></iframe>',
        },
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": 1,
            "source": "show()",
            "outputs": [
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"text/html": "<img src=x onerror=alert(4)>", "text/plain": "<obj>"},
                },
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"application/javascript": "alert(5)"},
                },
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"image/svg+xml": "<svg onload=alert(6)><script>alert(7)</script>"},
                },
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "m"}},
                },
                {
                    "output_type": "display_data",
                    "metadata": {"filenames": {"image/png": "/etc/passwd"}},
                    "data": {"image/png": PNG_1PX, "text/plain": "<Figure>"},
                },
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"image/png": '"><script>alert(8)</script>'},
                },
                {"output_type": "stream", "name": "stdout", "text": "<b onmouseover=alert(9)>"},
            ],
        },
        {
            "cell_type": "raw",
            "metadata": {"raw_mimetype": "text/html"},
            "source": "<script>alert(10)</script>",
        },
    ],
}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _elements(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(page)
    return parser.tags


def _assert_inert(page: str) -> None:
    assert "<script" not in page.lower()
    for tag, attrs in _elements(page):
        assert tag not in {"script", "iframe", "svg", "object", "embed"}, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name in ("href", "src"):
                assert not (value or "").lower().startswith("javascript"), (tag, value)
                assert tag != "img" or (value or "").startswith("data:image/png;base64,")


def test_hostile_notebook_renders_inert() -> None:
    page = render_notebook_html(json.dumps(HOSTILE).encode(), title="<b>evil</b>.ipynb")
    assert page is not None
    _assert_inert(page)
    head = page.split("</head>")[0]
    assert (
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">" in head
    )
    assert "&lt;b&gt;evil&lt;/b&gt;.ipynb" in head
    # Useful content survives: heading, text, the valid image, notes for dropped outputs.
    assert ("h1", {"id": "Results"}) in _elements(page) or "<h1" in page
    assert "&lt;obj&gt;" in page
    assert "text/html output not shown" in page
    assert "application/javascript output not shown" in page
    imgs = [a for t, a in _elements(page) if t == "img"]
    assert [a["src"] for a in imgs] == [f"data:image/png;base64,{PNG_1PX}"]
    assert "/etc/passwd" not in page


def test_fallback_when_the_sanitiser_lets_something_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The child renders with nbconvert and bleach; here it returns something live.
    monkeypatch.setattr(
        nbrender, "_render_in_child", lambda raw: "<p>x</p><script>alert(1)</script>"
    )
    page = render_notebook_html(json.dumps(HOSTILE).encode(), title="t")
    assert page is not None
    _assert_inert(page)
    assert "show()" in page


def test_render_rejects_non_notebooks() -> None:
    assert render_notebook_html(b"\xff\x00", "t") is None
    assert render_notebook_html(b'{"cells": 3}', "t") is None


# ------------------------------------------------------------------------------ scoring


def _report(*results: NotebookResult) -> NotebookReport:
    return NotebookReport(results)


def test_evaluate_no_notebooks_is_skip() -> None:
    verdict = evaluate_notebooks(_report(), Params())
    assert verdict.status is Status.SKIP
    assert verdict.summary == "the repository has no notebooks"


@pytest.mark.parametrize(
    ("oks", "total", "status"),
    [(3, 3, Status.PASS), (2, 3, Status.WARN), (1, 3, Status.FAIL), (0, 2, Status.FAIL)],
)
def test_evaluate_shares(oks: int, total: int, status: Status) -> None:
    results = [NotebookResult(f"n{i}.ipynb", NotebookStatus.OK) for i in range(oks)]
    results += [
        NotebookResult(
            f"bad{i}.ipynb",
            NotebookStatus.FAILED,
            failing_cell=7,
            error="ModuleNotFoundError: No module named 'torchaudio'",
        )
        for i in range(total - oks)
    ]
    verdict = evaluate_notebooks(_report(*results), Params())
    assert verdict.status is status
    assert verdict.fraction == pytest.approx(oks / total)
    assert verdict.summary.startswith(f"{oks} of {total} notebooks ran")
    if oks < total:
        assert "bad0.ipynb failed in cell 7: ModuleNotFoundError" in verdict.summary
    rows = verdict.details["notebooks"]
    assert isinstance(rows, list)
    assert len(rows) == total


def test_evaluate_respects_params_and_mentions_skips() -> None:
    report = _report(
        NotebookResult("a.ipynb", NotebookStatus.OK),
        NotebookResult("b.ipynb", NotebookStatus.SKIPPED, error="not run: budget used up"),
    )
    assert evaluate_notebooks(report, Params({"pass_share": 0.5})).status is Status.PASS
    verdict = evaluate_notebooks(report, Params({"warn_share": 0.9}))
    assert verdict.status is Status.FAIL
    assert "b.ipynb skipped (not run: budget used up)" in verdict.summary


def test_json_and_artifacts_shapes() -> None:
    report = _report(
        NotebookResult("a.ipynb", NotebookStatus.OK, html="01-a.html", cells=2, executed=2),
        NotebookResult("b.ipynb", NotebookStatus.ERROR, error="InvalidNotebook: x"),
    )
    data = report_to_json(report)
    json.dumps(data)
    assert data["notebooks"][0]["html"] == "01-a.html"  # type: ignore[index,call-overload]
    assert report_artifacts(report, "groups/g/notebooks/") == [
        {"path": "a.ipynb", "html": "groups/g/notebooks/01-a.html", "status": "ok", "error": None},
        {"path": "b.ipynb", "html": None, "status": "error", "error": "InvalidNotebook: x"},
    ]


# ------------------------------------------------------------------------------ executor script

EXECUTOR_SOURCE = Path(nbmod.__file__).parent / "data" / "nbexec.py"
PY38 = Path("/root/.pyenv/versions/3.8.18/bin/python")


def test_executor_is_python38_syntax() -> None:
    import ast

    ast.parse(EXECUTOR_SOURCE.read_text(), feature_version=(3, 8))


@pytest.mark.skipif(not PY38.exists(), reason="no Python 3.8 interpreter on this machine")
def test_executor_runs_on_python38_and_always_writes_a_result(tmp_path: Path) -> None:
    (tmp_path / "a.ipynb").write_text(GOOD)
    args = [str(PY38), "-I", str(EXECUTOR_SOURCE), "a.ipynb"]
    done = subprocess.run(
        [*args, "5", "60", "1000000"], cwd=tmp_path, check=True, timeout=60, capture_output=True
    )
    result = parse_result("a.ipynb", done.stdout.partition(b"\n")[0])
    # 3.8 here has no nbclient: the executor says so instead of crashing.
    assert result.status is NotebookStatus.ERROR
    assert result.error.startswith("ToolingMissing")


def test_notebook_missing_from_the_sandbox_copy_is_skipped_with_reason(tmp_path: Path) -> None:
    # The copy left out the huge notebook: the executor finds no file and says why.
    repo = _repo(tmp_path / "repo", {"huge.ipynb": GOOD})
    session = BashSession(repo, tmp_path / "copy")
    (session.root / "huge.ipynb").unlink()
    report = run_notebooks(session, ["huge.ipynb"], Params({}), tmp_path / "out", checkout=repo)
    (result,) = report.results
    assert result.status == NotebookStatus.SKIPPED
    assert "size limit" in result.error


def test_a_session_without_writable_space_is_the_notebooks_failure(tmp_path: Path) -> None:
    """A README step that fills /work, /tmp and the home folder (the group's disk budget)
    left the executor unable to write its Jupyter files: "the notebook executor wrote no
    result", an infrastructure error (measured on the real engine). Now the notebook fails."""
    (tmp_path / "a.ipynb").write_text(GOOD)
    boot = (
        "import errno, runpy, sys, tempfile\n"
        "def full(*args, **kwargs):\n"
        "    raise OSError(errno.ENOSPC, 'No space left on device')\n"
        "tempfile.mkdtemp = full\n"
        "sys.argv = sys.argv[1:]\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", boot, str(EXECUTOR_SOURCE), "a.ipynb", "5", "60", "100000"],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    result = parse_result("a.ipynb", done.stdout.partition(b"\n")[0])
    assert result.status is NotebookStatus.FAILED, (result, done.stderr[-500:])
    assert not result.infra
    assert "no writable space in the session" in result.error
