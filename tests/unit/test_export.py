"""Per-student export: students.csv, the Moodle grading worksheet, grade scales, feedback."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repograder import cli, export, feedback
from repograder.config import GradeScale, load_groups, load_rubric
from repograder.errors import ConfigError, ExitCode
from repograder.report import write_report
from report_factory import make_run

# Moodle's grading worksheet as "Download grading worksheet" writes it (English language pack,
# mod/assign/lang/en/assign.php strings), plus a column a site plugin might add ("Department").
MOODLE_HEADER = [
    "Identifier",
    "Full name",
    "Email address",
    "Department",
    "Status",
    "Grade",
    "Maximum Grade",
    "Grade can be changed",
    "Last modified (submission)",
    "Last modified (grade)",
    "Feedback comments",
]
MOODLE_ROWS = [
    ["Participant 1001", "Ada Lovelace", "ada@uni.example", "CS", "No submission", "",
     "100.00", "Yes", "-", "-", ""],
    ["Participant 1002", "Alan Turing", "ALAN@uni.example", "Math", "No submission", "",
     "100.00", "Yes", "-", "-", ""],
    ["Participant 1003", "Grace Hopper", "grace@uni.example", "CS", "No submission", "",
     "100.00", "Yes", "-", "Monday, 6 April 2026, 10:00 AM", "=old"],
    ["Participant 1004", "Someone Else", "else@uni.example", "Bio", "No submission", "",
     "100.00", "Yes", "-", "-", "keep me"],
    ["Participant 1005", "Edsger Dijkstra", "edsger@uni.example", "CS", "No submission", "7",
     "100.00", "Yes", "-", "-", "old feedback"],
]  # fmt: skip

GROUPS = textwrap.dedent(
    """\
    course: Test course
    groups:
      - name: group-1
        repo: /nowhere/1
        members:
          - {name: Ada Lovelace, email: ada@uni.example, id: "1001"}
          - {name: Alan Turing, email: alan@uni.example}
      - name: group-2
        repo: /nowhere/2
        members:
          - {name: Grace Hopper, email: grace@uni.example}
          - {name: Kurt Goedel, email: kurt@uni.example}
      - name: group-3
        repo: /nowhere/3
        members:
          - {name: Edsger Dijkstra, email: edsger@uni.example}
          - Barbara Liskov
    """
)


def worksheet_text(bom: bool = True) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([MOODLE_HEADER, *MOODLE_ROWS])
    return ("\ufeff" if bom else "") + out.getvalue()


def course(tmp_path: Path) -> Path:
    path = tmp_path / "groups.yaml"
    path.write_text(GROUPS, encoding="utf-8")
    write_report(make_run(), tmp_path / "grading-report")
    return path


def table(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_worksheet_is_filled_by_email_and_other_cells_stay(tmp_path: Path) -> None:
    config = load_groups(course(tmp_path))
    rows = export.student_rows(make_run(), config)
    result = export.fill_moodle_worksheet(worksheet_text(), rows)
    assert result.text.startswith("\ufeff")  # Moodle's BOM kept
    filled = table(result.text)
    assert filled[0] == MOODLE_HEADER
    by_id = {r[0]: r for r in filled[1:]}
    ada, alan, grace, other, edsger = (by_id[f"Participant 100{i}"] for i in range(1, 6))
    # group-1 scored 9.5 of 10: 95 of the worksheet's 100.
    assert ada[5] == "95.00"
    assert alan[5] == "95.00"  # e-mail matched regardless of case
    assert grace[5] == "15.00"  # group-2: 1.5 of 10
    for row in (ada, alan, grace):
        assert row[10].startswith("Feedback for group-")
        assert "<script" not in row[10]
    # Every other column of the matched rows is unchanged; unknown rows untouched.
    for new, old in zip(filled[1:], MOODLE_ROWS, strict=True):
        assert [c for i, c in enumerate(new) if i not in (5, 10)] == [
            c for i, c in enumerate(old) if i not in (5, 10)
        ]
    assert other == MOODLE_ROWS[3]
    assert edsger == MOODLE_ROWS[4]  # group-3 was not graded: its old grade stays
    assert sorted(result.filled) == ["ada@uni.example", "alan@uni.example", "grace@uni.example"]
    assert result.not_in_worksheet == ["group-2: Kurt Goedel <kurt@uni.example>"]
    assert result.no_email == ["group-3: Barbara Liskov"]
    assert result.not_graded == ["group-3: Edsger Dijkstra <edsger@uni.example>"]
    assert result.unknown_rows == ["Someone Else <else@uni.example>"]
    assert not result.complete


def test_worksheet_with_semicolons_decimal_comma_and_a_scale(tmp_path: Path) -> None:
    config = load_groups(course(tmp_path))
    scale = GradeScale("Note", ((95.0, "1,0"), (50.0, "4,0"), (0.0, "5,0")))
    rows = export.student_rows(make_run(), config, scale)
    text = worksheet_text(bom=False).replace(",", ";").replace("100.00", "100,00")
    filled = export.fill_moodle_worksheet(text, rows).text
    points = list(csv.reader(io.StringIO(filled), delimiter=";"))
    assert points[1][5] == "95,00"  # the worksheet's decimal comma is followed
    graded = export.fill_moodle_worksheet(text, rows, scale=True).text
    assert not graded.startswith("\ufeff")
    cells = [row[5] for row in list(csv.reader(io.StringIO(graded), delimiter=";"))[1:4]]
    assert cells == ["1,0", "1,0", "5,0"]  # 95 % -> 1,0; 15 % -> 5,0


def test_worksheet_without_grade_column_is_refused() -> None:
    with pytest.raises(ConfigError, match="'Grade' column"):
        export.fill_moodle_worksheet("Identifier,Email address\nP1,a@b.c\n", [])


def test_export_command_writes_students_and_worksheet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    groups = course(tmp_path)
    sheet = tmp_path / "worksheet.csv"
    sheet.write_text(worksheet_text(), encoding="utf-8")
    code = cli.main(["export", str(groups), "--moodle-worksheet", str(sheet)])
    assert code == ExitCode.GROUP_ERRORS  # some students could not be matched: listed
    out = capsys.readouterr().out
    assert "Kurt Goedel" in out
    assert "Someone Else" in out
    assert sheet.read_text(encoding="utf-8") == worksheet_text()  # the download is untouched
    filled = table((tmp_path / "grading-report" / "moodle-worksheet.csv").read_text("utf-8"))
    assert filled[1][5] == "95.00"
    students = list(
        csv.DictReader(io.StringIO((tmp_path / "grading-report" / "students.csv").read_text()))
    )
    assert [(s["group"], s["name"], s["total"]) for s in students] == [
        ("group-1", "Ada Lovelace", "9.5"),
        ("group-1", "Alan Turing", "9.5"),
        ("group-2", "Grace Hopper", "1.5"),
        ("group-2", "Kurt Goedel", "1.5"),
        ("group-3", "Edsger Dijkstra", ""),
        ("group-3", "Barbara Liskov", ""),
    ]
    assert students[0]["id"] == "1001"
    assert students[0]["readme"] == "1"
    assert students[0]["feedback"].startswith("Feedback for group-1")
    # The same feedback, as Markdown, beside each group's page.
    sent = (tmp_path / "grading-report" / "groups" / "group-2" / "feedback.md").read_text()
    assert sent.startswith("# Feedback for group-2")


def test_students_csv_neutralises_formulas(tmp_path: Path) -> None:
    path = tmp_path / "groups.yaml"
    path.write_text("groups:\n  - {name: group-1, repo: /x, members: ['=HYPERLINK(1)']}\n")
    rows = export.student_rows(make_run(), load_groups(path))
    text = export.students_csv(make_run(), rows, with_grade=False)
    assert "'=HYPERLINK(1)" in text


DL4AD = Path(__file__).resolve().parents[2] / "src/repograder/rubrics/dl4ad.yaml"
SCALE_STEPS = [("1,0", 95), ("1,3", 90), ("2,0", 75), ("3,0", 60), ("4,0", 50), ("5,0", 0)]
SCALE_YAML = "grade_scale:\n  name: German grades\n  steps:\n" + "".join(
    f'    - {{grade: "{g}", min_percent: {p}}}\n' for g, p in SCALE_STEPS
)


def test_grade_scale_from_the_rubric_and_its_errors(tmp_path: Path) -> None:
    base = DL4AD.read_text()
    rubric = tmp_path / "rubric.yaml"
    scale = SCALE_YAML
    rubric.write_text(base + scale)
    loaded = load_rubric(rubric).grade_scale
    assert loaded is not None
    assert [loaded.grade_for(s, 20) for s in (20, 19, 18.9, 15, 10, 9.9, 0)] == [
        "1,0",
        "1,0",
        "1,3",
        "2,0",
        "4,0",
        "5,0",
        "5,0",
    ]
    rubric.write_text(base + scale.replace("min_percent: 0}", "min_percent: 10}"))
    with pytest.raises(ConfigError, match=r"rubric.yaml:\d+: grade_scale.steps\[5\].min_percent"):
        load_rubric(rubric)
    rubric.write_text(base + scale.replace("min_percent: 90}", "min_percent: 99}"))
    with pytest.raises(ConfigError, match=r"grade_scale.steps\[1\].min_percent: 99 must be below"):
        load_rubric(rubric)


def test_members_with_email_and_errors_with_lines(tmp_path: Path) -> None:
    config = load_groups(course(tmp_path))
    g1 = config.groups[0]
    assert g1.members == ("Ada Lovelace", "Alan Turing")  # names as before
    assert g1.people[0].email == "ada@uni.example"
    assert g1.people[0].id == "1001"
    path = tmp_path / "bad.yaml"
    path.write_text(
        "groups:\n  - name: g\n    repo: /x\n    members:\n      - {name: A, mail: x}\n"
    )
    with pytest.raises(ConfigError, match=r"bad.yaml:5: groups\[0\].members\[0\].mail: unknown"):
        load_groups(path)
    path.write_text(
        "groups:\n  - name: g\n    repo: /x\n    members:\n      - {name: A, email: x}\n"
    )
    with pytest.raises(ConfigError, match=r"groups\[0\].members\[0\].email: 'x' is not an e-mail"):
        load_groups(path)
    path.write_text(
        "groups:\n  - name: g\n    repo: /x\n    members: [A]\n    aliases:\n      B: [b]\n"
    )
    with pytest.raises(ConfigError, match=r"bad.yaml:6: groups\[0\].aliases.B: not a member"):
        load_groups(path)


def test_feedback_is_plain_language_with_the_fix_and_comments() -> None:
    run = make_run()
    sloppy = run.groups[1]
    text = feedback.feedback_markdown(run, sloppy)
    assert text.startswith("# Feedback for group-2")
    assert "Your score: **1.5 of 10 points**" in text
    assert "To fix:" in text
    # The one thing to fix for the README steps is the first step that failed, with its hint.
    assert "step 1 (README line 5: pip install -r requirements.txt) failed: exit code 1" in text
    # A skipped check says why; it gets no fix of its own.
    skipped = text.split("IEEE conference format")[1].split("\n\n")[0]
    assert "To fix" not in skipped
    assert "## Late commits" in text
    assert "details" not in text.lower()
    html = feedback.feedback_html(run, sloppy, grade="5,0")
    assert "grade 5,0" in html
    assert "<br>" in html
    broken = feedback.feedback_markdown(run, run.groups[2])
    assert "could not be graded" in broken


# Terminal escapes (OSC 52 writes the clipboard), a carriage return, a C1 CSI and the bidi
# override of "Trojan Source" (CVE-2021-42574): shown as escapes in every plain-text sink.
CONTROLS = "a\u202eexe.txt\u2066 \x1b]52;c;QUJD\x07 \x1b[2J\r\x9b31m\x00"
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize("payload", ["<script>alert(1)</script>", "=cmd|'/c calc'!A1", CONTROLS])
def test_hostile_text_in_feedback_and_exports(tmp_path: Path, payload: str) -> None:
    from repograder.feedback import write_feedback
    from report_factory import make_hostile_run

    run = make_hostile_run(payload)
    for path in write_feedback(run, tmp_path):
        text = path.read_text(encoding="utf-8")
        if "<" in payload:
            assert payload not in text  # inert Markdown: &lt;script&gt;
        assert not UNSAFE.search(text.replace("\n", "")), path
    groups = tmp_path / "groups.yaml"
    groups.write_text(
        "groups:\n"
        + "".join(
            f"  - name: {json.dumps(g.name)}\n    repo: /x{i}\n"
            f"    members: [{{name: {json.dumps(payload)}, email: s{i}@uni.example}}]\n"
            for i, g in enumerate(run.groups)
        )
    )
    rows = export.student_rows(run, load_groups(groups))
    assert all("<script" not in r.feedback_html for r in rows)
    assert not any(UNSAFE.search(r.feedback + r.feedback_html) for r in rows)
    students = export.students_csv(run, rows, with_grade=False)
    assert not UNSAFE.search(students.replace("\n", ""))
    for line in csv.reader(io.StringIO(students)):
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in line)
    sheet = "Identifier,Full name,Email address,Grade,Feedback comments\nP1,x,s0@uni.example,,\n"
    filled = table(export.fill_moodle_worksheet(sheet, rows).text)
    assert "<script" not in filled[1][4]
    assert not filled[1][4].startswith("=")
    assert not UNSAFE.search(filled[1][4].replace("\n", ""))
    if payload == CONTROLS:  # visible, not dropped: the lecturer sees what was there
        assert "\\u202e" in filled[1][4]
        assert "\\x1b]52;c;QUJD\\x07" in rows[0].feedback


def test_adjust_and_export_write_the_same_feedback_with_the_scale_grade(tmp_path: Path) -> None:
    """feedback.md is rendered by one function: `adjust` keeps the rubric scale's grade that
    `export` wrote, and the grade follows the adjusted total."""
    groups = course(tmp_path)
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text(DL4AD.read_text() + SCALE_YAML)
    sent = tmp_path / "grading-report" / "groups" / "group-1" / "feedback.md"
    cli.main(["export", str(groups), "--rubric", str(rubric), "--scale"])
    exported = sent.read_text(encoding="utf-8")
    assert "Your score: **9.5 of 10 points**, grade **1,0**." in exported  # 95 %
    students = list(
        csv.DictReader(io.StringIO((tmp_path / "grading-report" / "students.csv").read_text()))
    )
    assert students[0]["feedback"].startswith("Feedback for group-1")
    assert "grade 1,0." in students[0]["feedback"]  # the same text as feedback.md
    args = ["--groups", str(groups), "--rubric", str(rubric), "--by", "prof"]
    assert cli.main(["adjust", "group-1", "readme", "--points", "0", "--comment", "x", *args]) == 0
    adjusted = sent.read_text(encoding="utf-8")
    assert "Your score: **8.5 of 10 points**, grade **2,0**." in adjusted  # 85 %
    # Re-exporting after the adjustment writes exactly what adjust wrote.
    cli.main(["export", str(groups), "--rubric", str(rubric), "--scale"])
    assert sent.read_text(encoding="utf-8") == adjusted
