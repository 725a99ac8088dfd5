"""Every output sink escapes student text its own way (issue 15, kind 4); no Docker needed.

grades.csv: text cells quoted and formula starts neutralised after any separator or newline
too (Excel in German, French or Dutch locales splits at ";"). The terminal (`steps`, `check`,
progress lines): control characters and bidi marks shown as escapes (OSC 52 clipboard writes,
window titles, clear-screen). summary.md: bidi controls and autolinks neutralised.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from pathlib import Path

import pytest

from gitrepo import commit, init_repo
from repograder import cli
from repograder.progress import PlainProgress
from repograder.report import grades_csv, junit_xml, summary_markdown
from repograder.report.html import render_group, render_index
from repograder.termtext import terminal_safe
from report_factory import good_group, make_hostile_run, make_run

OSC52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # writes "echo pwned" to the clipboard
TITLE = "\x1b]0;sudo make me a sandwich\x07"
CLEAR = "\x1b[2J\x1b[H"
CSI8 = "\x9b2J"  # the 8-bit CSI some terminals honour
BIDI = "\u202eexe.txt\u202c"
ESCAPES = [OSC52, TITLE, CLEAR, CSI8, BIDI, "\r\b"]
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

FORMULAS = [
    "Ann;=cmd|'/c calc'!A0",  # the example
    "Ann\t=cmd|'/c calc'!A0",  # tab-separated readers
    "Ann\n@SUM(1+1)*cmd|' /C calc'!A0",  # a newline starts a new row
    "Ann; -2+3+cmd|' /C calc'!A0",
    "Ann,+cmd|'/c calc'!A0",
]


def _cells(text: str, delimiter: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text), delimiter=delimiter) for cell in row]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_has_no_formula_cell_whatever_the_separator(delimiter: str) -> None:
    groups = tuple(
        dataclasses.replace(good_group(), name=f"g{i}", members=(member, "Bob"))
        for i, member in enumerate(FORMULAS)
    )
    text = grades_csv(make_run(groups))
    for cell in _cells(text, delimiter):
        stripped = cell.strip(" ")
        assert _is_number(stripped) or not stripped.startswith(("=", "+", "-", "@")), cell
    # Also read naively, line by line and split at the separator (no quote handling at all).
    for line in text.splitlines():
        for cell in line.split(delimiter):
            stripped = cell.strip(' "')
            assert _is_number(stripped) or not stripped.startswith(("=", "+", "-", "@")), cell


def test_csv_text_cells_are_quoted_and_keep_their_data() -> None:
    g = dataclasses.replace(good_group(), members=("Ann;=x",))
    text = grades_csv(make_run((g,)))
    assert '"Ann;\'=x"' in text
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["members"] == "Ann;'=x"
    assert row["total"] == "9.5"


def _assert_no_raw_controls(text: str) -> None:
    assert not RAW.search(text), repr(RAW.search(text))


def test_steps_shows_readme_text_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`repograder steps` printed README lines with raw OSC 52, title and clear-screen codes."""
    body = "\n".join(f"python train.py --tag '{e}'" for e in ESCAPES)
    (tmp_path / "README.md").write_text(f"# Demo {TITLE}\n\n```bash\n{body}\n```\n")
    assert cli.main(["steps", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    _assert_no_raw_controls(out)
    assert "\\x1b]52;c;ZWNobyBwd25lZA==\\x07" in out
    assert "\\u202e" in out


def test_check_shows_names_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`repograder check` shows the folder's name (the group name) and file names."""
    repo = tmp_path / f"proj{OSC52}{BIDI}"
    init_repo(repo)
    commit(
        repo,
        {"README.md": f"# x {CLEAR}\n", f"paper{TITLE}.pdf": b"%PDF-1.4 broken"},
        "init",
        "2026-03-30T12:00:00+02:00",
    )
    cli.main(["check", str(repo), "--static", "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    _assert_no_raw_controls(captured.out + captured.err)
    assert "\\x1b]52" in captured.out


def test_progress_lines_are_escaped() -> None:
    stream = io.StringIO()
    progress = PlainProgress(stream)
    progress.begin([f"g{OSC52}"])
    progress.stage(f"g{OSC52}", "fetch")
    _assert_no_raw_controls(stream.getvalue())
    assert "[g\\x1b]52;c;" in stream.getvalue()


def test_terminal_safe_keeps_ordinary_text() -> None:
    assert terminal_safe("Zoë & Jürgen\tok\n") == "Zoë & Jürgen\tok\n"
    assert terminal_safe("\x1b[31m") == "\\x1b[31m"


def test_summary_markdown_neutralises_bidi_and_autolinks() -> None:
    name = f"team {BIDI} https://evil.example/x www.evil.example mail@evil.example"
    run = make_run((dataclasses.replace(good_group(), name=name),))
    text = summary_markdown(run)
    _assert_no_raw_controls(text)
    assert "https://" not in text
    assert "www.evil" not in text
    assert "mail@evil" not in text
    assert "https\\://evil.example/x" in text


@pytest.mark.parametrize("payload", ESCAPES)
def test_html_pages_show_control_and_bidi_characters_as_escapes(payload: str) -> None:
    """A file name with U+202E reads backwards in a browser (and the report is what a grader
    trusts); raw C0/C1 controls are not even valid HTML. Both are shown as visible escapes."""

    run = make_hostile_run(payload)
    pages = [render_index(run)] + [render_group(run, g) for g in run.groups]
    for page in pages:
        _assert_no_raw_controls(page)
    assert any(terminal_safe(payload) in page for page in pages)


@pytest.mark.parametrize("payload", ESCAPES)
def test_junit_xml_shows_control_and_bidi_characters_as_escapes(payload: str) -> None:
    """CI test viewers show junit.xml's names and messages: the same rule as the HTML pages."""
    text = junit_xml(make_hostile_run(payload))
    _assert_no_raw_controls(text)
    assert "\ufffd" not in text  # shown as an escape, not lost


def test_templates_compiled_by_an_older_grader_do_not_drop_the_escapes(tmp_path: Path) -> None:
    """jinja2 compiles ``finalize`` into the template code and keys its bytecode cache by the
    source alone: a cache left by a grader without the escaping must not be reused."""
    import jinja2

    from repograder.report import html

    html.use_template_cache(None)
    old = html._environment().overlay(
        bytecode_cache=jinja2.FileSystemBytecodeCache(str(tmp_path)), finalize=None
    )
    old.get_template("group.html.j2")  # writes the older compiled code into the cache folder
    assert list(tmp_path.iterdir())
    run = make_hostile_run(BIDI)
    try:
        html.use_template_cache(tmp_path)
        page = render_group(run, run.groups[0])
    finally:
        html.use_template_cache(None)
    _assert_no_raw_controls(page)
