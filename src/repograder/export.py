"""Per-student grades for the LMS: ``students.csv`` and a filled Moodle grading worksheet.

Groups are graded; students are what an LMS grades. Each member of groups.yaml (plain name, or
``{name, email, id}``) becomes one row carrying the group's points, total, optional scale grade
and the feedback text.

The Moodle grading worksheet is the CSV a lecturer downloads from an assignment with
"Offline grading worksheet" enabled (Grading action: "Download grading worksheet"). Its columns
are named by Moodle's language strings (mod/assign/lang/en/assign.php): "Identifier",
"Full name", "Email address", "Status", "Grade", "Maximum Grade", "Grade can be changed",
"Last modified (submission)", "Last modified (grade)" and, with feedback comments enabled,
"Feedback comments". Moodle's importer (mod/assign/gradingtable + feedback/offline
importgradeslib.php) finds "Identifier", "Grade" and "Last modified (grade)" by header text and
the feedback column by the comments plugin's name, so we fill only "Grade" and
"Feedback comments", matched by e-mail, and leave every other cell, column and row as it was.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from repograder.config import CourseConfig, GradeScale, Member
from repograder.errors import ConfigError
from repograder.feedback import feedback_html, feedback_markdown, is_final, scale_grade
from repograder.model import GroupResult, RunResult
from repograder.report.tables import (
    check_columns,
    check_points,
    csv_cell,
    csv_quoted,
    csv_text,
    format_score,
)

__all__ = [
    "MOODLE_EMAIL",
    "MOODLE_FEEDBACK",
    "MOODLE_GRADE",
    "MOODLE_MAX_GRADE",
    "WORKSHEET_FILE",
    "StudentRow",
    "WorksheetResult",
    "fill_moodle_worksheet",
    "student_rows",
    "students_csv",
]

WORKSHEET_FILE = "moodle-worksheet.csv"  # the filled worksheet's default name in the report

# Moodle's column headers (English language pack), see the module docstring.
MOODLE_EMAIL = "Email address"
MOODLE_GRADE = "Grade"
MOODLE_MAX_GRADE = "Maximum Grade"
MOODLE_FEEDBACK = "Feedback comments"


@dataclass(frozen=True)
class StudentRow:
    """One student: their group's result and feedback."""

    group: str
    member: Member
    group_result: GroupResult | None  # None when the group is missing from results.json
    grade: str | None  # on the rubric's grade_scale (None: no scale, or no final total)
    feedback: str  # plain text (students.csv)
    feedback_html: str  # the same for LMS comment fields that take HTML

    @property
    def graded(self) -> bool:
        return is_final(self.group_result)


def student_rows(
    run: RunResult, config: CourseConfig, scale: GradeScale | None = None
) -> list[StudentRow]:
    """One row per member of every group of ``config``, in groups.yaml order.

    ``scale`` is the rubric's ``grade_scale``: a final total's grade on it goes into the row
    and its feedback, as :func:`repograder.feedback.write_feedback` writes it into feedback.md.
    """
    by_name = {g.name: g for g in run.groups}
    rows = []
    for spec in config.groups:
        result = by_name.get(spec.name)
        grade = scale_grade(result, scale)
        if result is not None:
            text = feedback_markdown(run, result, grade, markdown=False)
            rich = feedback_html(run, result, grade)
        else:
            text = rich = ""
        people = spec.people or tuple(Member(m) for m in spec.members)
        for member in people:
            rows.append(StudentRow(spec.name, member, result, grade, text, rich))
    return rows


def students_csv(run: RunResult, rows: Sequence[StudentRow], with_grade: bool) -> str:
    """``students.csv``: group, name, email, id, status, one column per check, total, max,
    grade (with a scale), feedback. Points use the lecturer's overrides."""
    columns = [cid for cid, _ in check_columns(run)]
    out = io.StringIO()
    header = ["group", "name", "email", "id", "status", *columns, "total", "max"]
    header += [*(["grade"] if with_grade else []), "feedback"]
    out.write(",".join(header) + "\n")
    for row in rows:
        g = row.group_result
        checks = {c.id: c for c in g.checks} if g is not None else {}
        # As grades.csv: every text cell quoted and neutralised (tables.csv_quoted), points bare.
        cells = [
            csv_quoted(row.group),
            csv_quoted(row.member.name),
            csv_quoted(row.member.email or ""),
            csv_quoted(row.member.id or ""),
            csv_quoted(g.status.value if g is not None else "missing"),
            *(csv_cell(check_points(checks[c])) if c in checks else "" for c in columns),
            format_score(g.score) if g is not None and row.graded else "",
            format_score(g.max_score) if g is not None and g.max_score else "",
        ]
        if with_grade:
            cells.append(csv_quoted(row.grade or ""))
        cells.append(csv_quoted(row.feedback))
        out.write(",".join(cells) + "\n")
    return out.getvalue()


# --- the Moodle grading worksheet -------------------------------------------------------------


@dataclass
class WorksheetResult:
    """The filled worksheet and who could not be matched (for the lecturer to handle by hand)."""

    text: str
    filled: list[str] = field(default_factory=list)  # e-mails whose row got a grade
    not_in_worksheet: list[str] = field(default_factory=list)  # "group: name <email>"
    no_email: list[str] = field(default_factory=list)  # "group: name"
    not_graded: list[str] = field(default_factory=list)  # "group: name <email>": grade kept
    unknown_rows: list[str] = field(default_factory=list)  # worksheet students in no group
    ambiguous: list[str] = field(default_factory=list)  # e-mails in two groups: left alone
    warnings: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.not_in_worksheet or self.no_email or self.not_graded or self.ambiguous)


def _number(text: str) -> float | None:
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "")
    if not cleaned:
        return None
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        value = float(cleaned.replace(",", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _grade_text(row: StudentRow, maximum_cell: str, scale: bool) -> str:
    g = row.group_result
    assert g is not None
    if scale and row.grade is not None:
        return row.grade
    maximum = _number(maximum_cell)
    value = g.score
    if maximum is not None and g.max_score > 0:
        # The worksheet's Maximum Grade is the assignment's; our points scale onto it.
        value = g.score / g.max_score * maximum
    text = f"{value:.2f}"
    # Moodle writes and reads grades with the language's decimal separator (format_float /
    # unformat_float); follow the worksheet's own Maximum Grade cell.
    return text.replace(".", ",") if "," in maximum_cell and "." not in maximum_cell else text


def _who(row: StudentRow) -> str:
    email = f" <{row.member.email}>" if row.member.email else ""
    return f"{row.group}: {row.member.name}{email}"


def fill_moodle_worksheet(
    text: str, rows: Sequence[StudentRow], *, scale: bool = False, where: str = "worksheet"
) -> WorksheetResult:
    """Fill "Grade" and "Feedback comments" of a Moodle grading worksheet, by e-mail.

    ``text`` is the worksheet as downloaded (a leading UTF-8 BOM and the delimiter are kept).
    Every other column and every row that matches no student stay exactly as they were. With
    ``scale``, "Grade" gets the rubric scale's grade instead of points scaled to the
    worksheet's "Maximum Grade". Raises ConfigError when "Email address" or "Grade" is missing.
    """
    bom = text.startswith("\ufeff")
    body = text[1:] if bom else text
    first = body.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    newline = "\r\n" if "\r\n" in body[: len(first) + 2] else "\n"
    table = list(csv.reader(io.StringIO(body, newline=""), delimiter=delimiter))
    if not table:
        raise ConfigError(f"{where}: empty file, expected Moodle's grading worksheet")
    header = table[0]
    index = {name.strip(): i for i, name in enumerate(header)}
    for needed in (MOODLE_EMAIL, MOODLE_GRADE):
        if needed not in index:
            raise ConfigError(
                f"{where}: no {needed!r} column (columns: {', '.join(header)}); download the "
                "grading worksheet of the assignment (Moodle in English)"
            )
    result = WorksheetResult(text="")
    feedback_at = index.get(MOODLE_FEEDBACK)
    if feedback_at is None:
        result.warnings.append(
            f"{where}: no {MOODLE_FEEDBACK!r} column: enable feedback comments in the "
            "assignment to send the feedback text; only grades were filled"
        )
    by_email: dict[str, list[StudentRow]] = {}
    for row in rows:
        if row.member.email:
            by_email.setdefault(row.member.email.casefold(), []).append(row)
        else:
            result.no_email.append(f"{row.group}: {row.member.name}")
    seen: set[str] = set()
    for line in table[1:]:
        if len(line) <= index[MOODLE_EMAIL]:
            continue
        email = line[index[MOODLE_EMAIL]].strip().casefold()
        matches = by_email.get(email, [])
        if not matches:
            if any(cell.strip() for cell in line):
                name = line[index["Full name"]] if "Full name" in index else ""
                result.unknown_rows.append(f"{name} <{line[index[MOODLE_EMAIL]]}>".strip())
            continue
        seen.add(email)
        if len({m.group for m in matches}) > 1:
            result.ambiguous.append(email)
            continue
        row = matches[0]
        if not row.graded:
            result.not_graded.append(_who(row))
            continue
        width = max(index[MOODLE_GRADE], feedback_at or 0) + 1
        line.extend([""] * (width - len(line)))
        maximum = line[index[MOODLE_MAX_GRADE]] if MOODLE_MAX_GRADE in index else ""
        line[index[MOODLE_GRADE]] = _grade_text(row, maximum, scale)
        if feedback_at is not None:
            line[feedback_at] = csv_text(row.feedback_html)
        result.filled.append(email)
    for email, matches in by_email.items():
        if email not in seen:
            result.not_in_worksheet += [_who(m) for m in matches]
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerows(table)
    result.text = ("\ufeff" if bom else "") + out.getvalue()
    return result


def read_worksheet(path: Path) -> str:
    """The worksheet's text; ConfigError when it cannot be read as UTF-8."""
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text (Moodle writes UTF-8)") from None


def summary_lines(result: WorksheetResult) -> list[str]:
    """What a lecturer must handle by hand, one line each."""
    lines = [f"filled {len(result.filled)} student(s)"]
    sections: Mapping[str, list[str]] = {
        "not in the worksheet (no row with their e-mail)": result.not_in_worksheet,
        "no e-mail in the groups file": result.no_email,
        "group not graded (grade left as it was)": result.not_graded,
        "e-mail in more than one group (left as it was)": result.ambiguous,
        "worksheet students in no group (left as they were)": result.unknown_rows,
    }
    for title, items in sections.items():
        if items:
            lines.append(f"{title}: {len(items)}")
            lines += [f"  {item}" for item in items]
    return lines + result.warnings
