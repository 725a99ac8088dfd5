"""grades.csv, junit.xml and summary.md: content, injection guards, well-formed XML."""

from __future__ import annotations

import csv
import dataclasses
import io
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repograder.model import Status
from repograder.report import grades_csv, junit_xml, summary_markdown
from repograder.report.tables import format_score, md_text
from report_factory import check, good_group, make_hostile_run, make_run


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_columns_and_values() -> None:
    text = grades_csv(make_run())
    header = text.splitlines()[0].split(",")
    assert header[:4] == ["group", "members", "status", "commit"]
    assert header[-2:] == ["total", "max"]
    assert "paper-pages" in header
    assert "readme-steps" in header
    rows = _rows(text)
    assert [r["group"] for r in rows] == ["group-1", "group-2", "group-3"]
    assert rows[0]["members"] == "Ada Lovelace; Alan Turing"
    assert rows[0]["total"] == "9.5"
    assert rows[0]["max"] == "10"
    assert rows[0]["comments"] == "0.5"
    assert rows[2]["status"] == "error"
    assert rows[2]["total"] == ""
    assert rows[2]["readme"] == ""


def test_csv_absent_check_is_empty() -> None:
    g1 = good_group()
    g2 = dataclasses.replace(g1, name="g2", checks=g1.checks[:1])
    rows = _rows(grades_csv(make_run((g1, g2))))
    assert rows[1]["readme"] == "1"
    assert rows[1]["paper-format"] == ""


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_formula_injection_guard(start: str) -> None:
    evil = f'{start}HYPERLINK("http://evil","x")'
    g = dataclasses.replace(good_group(), name=evil, members=(evil, "Ok"))
    rows = _rows(grades_csv(make_run((g,))))
    # A carriage return is a control character: shown as its escape, it starts no formula.
    shown = "\\x0d" + evil[1:] if start == "\r" else "'" + evil
    assert rows[0]["group"] == shown
    assert rows[0]["members"] == shown + "; Ok"
    # Numbers stay numbers.
    assert rows[0]["total"] == "9.5"


def test_csv_negative_scores_stay_numbers() -> None:
    g = good_group()
    g = dataclasses.replace(g, score=-1.0, checks=(check("readme", Status.FAIL, -0.5, 1, "x"),))
    rows = _rows(grades_csv(make_run((g,))))
    assert rows[0]["total"] == "-1"
    assert rows[0]["readme"] == "-0.5"


def test_csv_keeps_hostile_text_as_data() -> None:
    payload = 'a,"b"\nc<script>'
    rows = _rows(grades_csv(make_hostile_run(payload)))
    assert rows[0]["group"] == f"{payload} graded"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(10.0, "10"), (7.5, "7.5"), (1 / 3, "0.33"), (0, "0"), (float("nan"), "")],
)
def test_format_score(value: float, expected: str) -> None:
    assert format_score(value) == expected


def test_junit_structure() -> None:
    root = ET.fromstring(junit_xml(make_run()))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["group-1", "group-2", "group-3"]
    sloppy = suites[1]
    assert sloppy.get("tests") == "8"
    assert sloppy.get("failures") == "5"
    assert sloppy.get("skipped") == "1"
    assert sloppy.get("errors") == "0"
    fail = sloppy.find("testcase[@name='paper-pages: Paper page limit']/failure")
    assert fail is not None
    assert fail.get("message") == "paper.pdf has 6 pages; at most 4 are allowed"
    warn_case = suites[0].find("testcase[@name='comments: Code is commented']")
    assert warn_case is not None
    assert warn_case.find("failure") is None
    assert "[warn]" in (warn_case.findtext("system-out") or "")
    err = suites[2].find("testcase[@name='grading']/error")
    assert err is not None
    assert "repository not found" in (err.get("message") or "")
    assert root.get("tests") == "17"
    assert root.get("errors") == "1"


def test_junit_hostile_text_is_well_formed() -> None:
    payload = "<script>alert(1)</script>\"'&]]><!-- \x1b[31mred\x00\x07 \ud800"
    text = junit_xml(make_hostile_run(payload))
    root = ET.fromstring(text)  # raises on malformed XML
    assert "<script>" not in text
    names = [s.get("name") for s in root.findall("testsuite")]
    assert names[0] is not None
    assert names[0].startswith("<script>alert(1)</script>\"'&]]>")
    failure = root.find(".//failure")
    assert failure is not None
    assert "<script>" in (failure.get("message") or "")


def test_summary_markdown() -> None:
    md = summary_markdown(make_run())
    lines = md.splitlines()
    assert lines[0] == "## Machine Learning for Audio Data"
    assert "3 groups · 2 graded · 1 error" in md
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 2 + 3
    assert all(line.count("|") == table[0].count("|") for line in table)
    assert "**9.5/10**" in md
    assert "❌ fail 0/2" in md
    assert "- group-3: repository not found" in md


def test_summary_markdown_escapes_student_text() -> None:
    payload = "<script>alert(1)</script>|`code`[x](javascript:alert(1))\n| new row"
    md = summary_markdown(make_hostile_run(payload))
    assert "<script>" not in md
    assert "<" not in md.replace("&lt;", "")
    assert "`" not in md.replace("\\`", "")
    table = [line for line in md.splitlines() if line.startswith("|")]
    # Pipes and newlines in names cannot add cells or rows.
    assert len(table) == 4
    assert all(line.replace("\\|", "").count("|") == table[0].count("|") for line in table)
    assert "[x](" not in md
    assert "\\[x\\](" in md


def test_md_text_caps_length() -> None:
    assert len(md_text("x" * 1000)) == 200


def test_checks_the_grader_could_not_judge_are_counted_for_review() -> None:
    # A graded group with a check in `error` (e.g. a system library the grading environment
    # lacks) needs a human: "2 graded · 1 error" alone hid it (helper-32).
    from repograder.report import render_index
    from repograder.report.tables import checks_to_review

    run = make_run()
    assert checks_to_review(run) == 0
    assert "to review by hand" not in summary_markdown(run)
    first = run.groups[0]
    checks = (dataclasses.replace(first.checks[0], status=Status.ERROR), *first.checks[1:])
    run = dataclasses.replace(
        run, groups=(dataclasses.replace(first, checks=checks), *run.groups[1:])
    )
    assert checks_to_review(run) == 1
    assert "2 graded · 1 error · 1 check to review by hand" in summary_markdown(run)
    text = " ".join(render_index(run).split())
    assert "<strong>1</strong> check to review by hand (the grader could not judge it)" in text
    # Once the lecturer decided it (`repograder adjust`), it is no longer to review
    # (helper-35); a stale override (another commit) still is.
    from repograder.model import OverrideInfo, OverrideState, RunResult

    def judged(state: OverrideState) -> RunResult:
        info = OverrideInfo(state, Status.ERROR, 0.0, "reviewed")
        check = dataclasses.replace(checks[0], override=info)
        group = dataclasses.replace(first, checks=(check, *checks[1:]))
        return dataclasses.replace(run, groups=(group, *run.groups[1:]))

    assert checks_to_review(judged(OverrideState.APPLIED)) == 0
    assert checks_to_review(judged(OverrideState.STALE)) == 1
