"""Small student input must not cost the host much (issue 15, kind 2); no Docker needed.

Every parse or render of student input on the host is bounded in size, depth and time (or runs
in a limited child process), and cleaning up a work folder never raises into the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from attack_repos import attack_repo, groups_file, isolated_run, rubric_file

from repograder import cli, comments, fsutil, nbrender, readme
from repograder.detect import detect_env, load_student_yaml
from repograder.envparse import translate_conda
from repograder.errors import ExitCode
from repograder.notebooks import render_notebook_html
from repograder.report import results as report_results


def _alias_bomb(levels: int) -> str:
    """``levels`` levels of nine aliases each: 9**levels entries once expanded (474 bytes at 9)."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append(f"dependencies: [*{chr(96 + levels)}, python=3.11]")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_is_refused_in_milliseconds(tmp_path: Path) -> None:
    """Kind 2a: nine (and ten) levels of aliases in environment.yml."""
    for levels in (9, 10):
        (tmp_path / "environment.yml").write_text(_alias_bomb(levels))
        started = time.monotonic()
        spec = detect_env(tmp_path)
        assert time.monotonic() - started < 2
        assert spec.parse_error is not None
        assert "aliases (*name) are not allowed" in spec.parse_error


def test_deeply_nested_yaml_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "environment.yml").write_text("dependencies: " + "[" * 20000 + "]" * 20000)
    spec = detect_env(tmp_path)
    assert spec.parse_error is not None


def test_shared_structures_are_described_at_bounded_cost() -> None:
    """The same kind without YAML: a parsed value whose text would be gigabytes."""
    nested: object = ["lol"] * 10
    for _ in range(9):
        nested = [nested] * 10
    started = time.monotonic()
    translation = translate_conda({"dependencies": [nested, {"x": nested}]})
    assert time.monotonic() - started < 1
    assert all(len(w) < 200 for w in translation.warnings)
    assert len(translation.warnings) == 2


def test_alias_free_yaml_still_loads() -> None:
    assert load_student_yaml("dependencies: [numpy, {pip: [torch]}]\n") == {
        "dependencies": ["numpy", {"pip": ["torch"]}]
    }


def test_one_line_python_costs_the_comments_check_little(tmp_path: Path) -> None:
    """`f()()()...` on one line: every byte a token and an AST node (a 2 MB file cost 4.6 s
    and 660 MB; a 20 MB notebook cell, within the notebook cap, several GB), and git
    compresses it to a few KB. Each piece of source and the repository as a whole have a
    byte budget for the exact count; beyond it lines are counted."""
    cell = {"cell_type": "code", "metadata": {}, "source": "x = f" + "()" * 1_500_000}
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]}
    (tmp_path / "a.ipynb").write_text(json.dumps(notebook))
    for i in range(6):  # below the 2 MB file cap, 6 MB together
        (tmp_path / f"m{i}.py").write_text(f"# module {i}\nx = f" + "()" * 500_000 + "\n")
    started = time.monotonic()
    facts = comments.measure_comments(tmp_path)
    assert time.monotonic() - started < 3
    by_path = {f.path: f for f in facts.files}
    assert set(by_path) == {"a.ipynb", *(f"m{i}.py" for i in range(6))}
    assert all(f.code_lines == 1 for f in facts.files)
    assert all(by_path[f"m{i}.py"].comment_lines == 1 for i in range(6))
    assert all("counted line by line" in (f.note or "") for f in facts.files)


# Every pattern the grader matches against a failed step's output, over 64 KB (the default
# output_bytes) of one repeated unit; prints the CPU seconds. Run in a child: a regex holds the
# GIL (no other group's thread runs meanwhile) and cannot be interrupted.
HINTS_COST = """
import sys, time
from repograder import runner, syslibs
from repograder.checks.readme_steps import decisive_line
unit = sys.argv[1]
out = unit * (65536 // len(unit))
start = time.process_time()
runner.hint_for("python main.py", out, 1, False, frozenset({"main.py"}), memory_mb=2048)
runner.lfs_hint("python main.py", out, frozenset({"data/x.csv"}))
syslibs.missing_library(out)
decisive_line(out)
print(time.process_time() - start)
"""


@pytest.mark.parametrize(
    "unit",
    [
        "lib.so",  # 8 KB of it cost 55 s; 64 KB, hours
        "lib",
        "OSError",  # 35 s
        "No such file or directory",
        "cannot load library '",
        "libGL.so.1: cannot open shared object file\n",
        "x: not found ",
    ],
)
def test_a_failed_steps_output_costs_its_hints_little(unit: str) -> None:
    """A step that prints 64 KB of `lib.so` and exits 1 held a grading thread (and, through
    the GIL, every other group's) for hours in the hint and system-library patterns."""
    done = subprocess.run(
        [sys.executable, "-c", HINTS_COST, unit], capture_output=True, timeout=60, check=True
    )
    assert float(done.stdout) < 1.5, unit


def test_a_deeply_nested_readme_notebook_is_the_students_problem(tmp_path: Path) -> None:
    """README.ipynb (the README when there is no README.md) of 1 MB of `[`: json.loads raised
    RecursionError out of inspect_readme, so the README checks said "grader problem" (error,
    a human must look) instead of the student's invalid notebook."""
    (tmp_path / "README.ipynb").write_text("[" * 1_000_000)
    facts = readme.inspect_readme(tmp_path)
    assert facts.path == "README.ipynb"
    assert any("not valid notebook JSON" in w for w in facts.warnings), facts.warnings


def test_remove_tree_of_any_depth(tmp_path: Path) -> None:
    """Deeper than Python's recursion limit, and with paths longer than PATH_MAX."""
    top = tmp_path / "deep"
    top.mkdir()
    fd = os.open(top, os.O_RDONLY)
    try:
        for _ in range(3000):
            os.mkdir("d" * 20, dir_fd=fd)
            child = os.open("d" * 20, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
        with open(os.open("f.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
            f.write("x")
        os.symlink("/etc", "link", dir_fd=fd)
    finally:
        os.close(fd)
    fsutil.remove_tree(top)
    assert not top.exists()
    assert Path("/etc/hostname").exists() or Path("/etc/passwd").exists()
    fsutil.remove_tree(top)  # absent: nothing to do, no error


def test_remove_tree_ends_when_a_folder_stays_and_stat_disagrees_with_the_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder that cannot be removed is skipped on rescans by the inode its listing gave:
    on overlayfs ``stat`` may report another number than readdir's ``d_ino``, and a skip by
    the stat number rescanned the folder forever."""
    top = tmp_path / "work"
    (top / "kept").mkdir(parents=True)
    (top / "kept" / "f.txt").write_text("x")
    (top / "gone.txt").write_text("x")
    real_rmdir, real_stat = os.rmdir, os.stat

    def rmdir(path: str, *, dir_fd: int | None = None) -> None:
        if path == "kept":
            raise PermissionError(13, "Permission denied")
        real_rmdir(path, dir_fd=dir_fd)

    def stat(path: str, *args: object, **kwargs: object) -> object:
        found = real_stat(path, *args, **kwargs)  # type: ignore[arg-type]
        if path != "kept":
            return found
        fields = list(found)
        fields[1] += 1_000_000  # st_ino as overlayfs may give it
        return os.stat_result(fields)

    monkeypatch.setattr(os, "rmdir", rmdir)
    monkeypatch.setattr(os, "stat", stat)
    worker = threading.Thread(target=fsutil.remove_tree, args=(top,), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "remove_tree rescans a folder it cannot remove forever"
    assert not (top / "gone.txt").exists()
    assert not (top / "kept" / "f.txt").exists()
    assert (top / "kept").is_dir()  # left in place, as documented


def test_deeply_nested_repository_is_graded_and_cleaned_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kind 2c: one file 1100 folders deep used to end the run with RecursionError."""
    deep = "/".join(["d"] * 1100)
    repo_dir = tmp_path / "repos" / "deep"
    try:
        folder = repo_dir
        for _ in range(1100):  # pathlib's mkdir(parents=True) recurses itself
            folder = folder / "d"
            folder.mkdir(parents=True)
        repo = attack_repo(repo_dir, ["echo hi"], {f"{deep}/f.txt": "x\n"})
        out = tmp_path / "out"
        monkeypatch.setenv("REPOGRADER_CACHE", str(tmp_path / "cache"))
        with isolated_run(tmp_path) as (run_id, _tmp):
            code = cli.main(
                [
                    "run",
                    str(groups_file(tmp_path, [("deep", repo)])),
                    "--rubric",
                    str(rubric_file(tmp_path)),
                    "--out",
                    str(out),
                    "--static",
                    "-q",
                ]
            )
        assert code == ExitCode.OK
        (group,) = report_results.read_results(out / "results.json").groups
        assert group.status == "graded"
        assert not any((tmp_path / "cache" / "work").glob(f"{run_id}/*"))
    finally:
        # pytest's own clean-up of tmp_path (shutil.rmtree) would recurse too deep: other
        # sessions sharing the temp root would crash on it.
        fsutil.remove_tree(repo_dir)


def _notebook(cells: list[dict[str, object]]) -> bytes:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}).encode()


def _code(outputs: list[dict[str, object]]) -> dict[str, object]:
    return {
        "cell_type": "code",
        "source": "x",
        "metadata": {},
        "execution_count": 1,
        "outputs": outputs,
    }


def test_many_small_outputs_render_in_bounded_time() -> None:
    """Kind 2b: 20 000 small outputs took 60 s on the host."""
    raw = _notebook(
        [
            _code([{"output_type": "stream", "name": "stdout", "text": "a\n"}] * 20_000),
            _code([{"output_type": "execute_result", "data": {"text/plain": "1"}}] * 5_000),
        ]
    )
    started = time.monotonic()
    page = render_notebook_html(raw, "many")
    assert time.monotonic() - started < 20
    assert page is not None
    assert "outputs not shown in the report" in page


def test_large_notebook_renders_in_bounded_time_and_size() -> None:
    """Kind 2b: a 2.2 MB notebook took 114 s and 1.16 GB on the host."""
    text = "<b>x</b> " * 3000
    raw = _notebook(
        [_code([{"output_type": "stream", "name": "stdout", "text": text}]) for _ in range(80)]
        + [{"cell_type": "markdown", "source": "> " * 1000 + "x\n", "metadata": {}}] * 200
    )
    assert len(raw) > 2_000_000
    started = time.monotonic()
    page = render_notebook_html(raw, "big")
    assert time.monotonic() - started < 30
    assert page is not None
    assert len(page) < 3_000_000
    assert "more cells are not shown in the report" in page


def test_a_render_that_fails_in_the_child_still_gives_a_plain_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 64 MB: the page's own process cannot grow enough to render eight outputs of markup.
    monkeypatch.setattr(nbrender, "RENDER_MEMORY_BYTES", 64 << 20)
    out = {"output_type": "stream", "name": "stdout", "text": "<i>hi</i> " * 3000}
    page = render_notebook_html(_notebook([_code([out] * 8)]), "tiny")
    assert page is not None
    assert "&lt;i&gt;hi&lt;/i&gt;" in page
    assert "code_cell rendered" not in page  # the plain fallback, not nbconvert's page
