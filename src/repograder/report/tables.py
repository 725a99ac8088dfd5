"""Flat exports: grades.csv for the LMS, junit.xml for CI, summary.md for GitHub job summaries.

All three carry student text (group and member names, check summaries) into formats with their
own injection risks: spreadsheet formulas, invalid XML characters, Markdown/HTML markup.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import xml.etree.ElementTree as ET

from repograder.model import (
    Applies,
    CheckResult,
    GroupResult,
    GroupStatus,
    OverrideState,
    RunResult,
    Status,
)
from repograder.termtext import terminal_safe

__all__ = [
    "check_columns",
    "csv_cell",
    "csv_quoted",
    "csv_text",
    "format_score",
    "grades_csv",
    "junit_xml",
    "shared_layer_text",
    "summary_markdown",
]

# Spreadsheets evaluate a cell starting with one of these as a formula (CSV injection, OWASP
# "CSV Injection"). A cell may also be split: Excel in German, French or Dutch locales reads
# ";" as the separator, others a tab; a newline starts a new row. So a formula start right
# after any of those (and spaces) is neutralised too.
_FORMULA_ANYWHERE = re.compile(r"(^|[,;\t\r\n])( *)(?=[=+\-@\t\r])")

# Characters XML 1.0 cannot carry at all, even escaped (ANSI escapes, NUL, lone surrogates).
_XML_INVALID = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_STATUS_MARK = {
    Status.PASS: "✅",
    Status.WARN: "⚠️",
    Status.FAIL: "❌",
    Status.SKIP: "⏭️",
    Status.ERROR: "🛑",
}

_MD_CELL_MAX = 200


def format_score(value: float) -> str:
    """A score for people: ``7.5``, ``10``, ``0.33``; empty for non-finite values."""
    if not math.isfinite(value):
        return ""
    rounded = round(float(value), 2)
    if rounded.is_integer():
        return str(int(rounded))
    return repr(rounded)


def check_points(check: CheckResult) -> str:
    """A check's points for a table cell: ``1``, or ``n/a`` / ``not run`` when not in the total.

    A check the grader did not run (``--static``) or that does not apply and is left out of the
    total never shows a 0 that looks final.
    """
    if check.applies is Applies.NOT_RUN:
        return "not run"
    if not check.counted:
        return "n/a"
    return format_score(check.score)


def left_out_ids(group: GroupResult, applies: Applies) -> list[str]:
    """Ids of the group's checks whose ``applies`` is ``applies`` (in rubric order)."""
    return [c.id for c in group.checks if c.applies is applies]


def checks_to_review(run: RunResult) -> int:
    """How many checks of graded groups the grader could not judge (status ``error``: a
    human decides, e.g. a system library the grading environment lacks) and no lecturer's
    override has decided yet (``repograder adjust``). Groups that could not be graded at all
    are counted apart."""
    return sum(
        1
        for group in run.groups
        if group.status is GroupStatus.GRADED
        for check in group.checks
        if check.status is Status.ERROR
        and (check.override is None or check.override.state is not OverrideState.APPLIED)
    )


# Each part of the shared layer's line is capped, so the whole line stays readable and no cap
# of the Markdown cell (md_text) cuts off its end: that a layer did not build comes last.
LAYER_WHY_CHARS = 1500  # what was shared and why (a package list; a line may be a student's)
LAYER_PART_CHARS = 600  # each other part: a build failure, the lines built, the apt packages
_LOG_NOTE = re.compile(r"\s*\(log: [^()]{1,300}\)$")


def shared_layer_text(run: RunResult) -> str:
    """One line on the course's inferred shared environment layer ("" without one): what was
    shared and why (``layerplan.LayerChoice.describe``, with a fallback's reason), what else
    was built, its system packages and warm-ups, or that it did not build. From
    ``run.shared_layer``, i.e. the run's ``shared-layer.json`` as the run used it. At most
    about 3,500 characters whatever the record holds; values of the wrong type are left out."""
    layer = run.shared_layer
    if not layer:
        return ""
    why = layer.get("why")
    parts = [
        _cap(why if isinstance(why, str) and why else "inferred from the course", LAYER_WHY_CHARS)
    ]
    error = layer.get("error")
    if isinstance(error, str) and error:
        log = _LOG_NOTE.search(error)  # kept whole: where the lecturer reads the failure
        note = log.group(0) if log else ""
        text = _cap(error[: len(error) - len(note)], LAYER_PART_CHARS) + terminal_safe(note)
        # Groups graded in an earlier run keep the layer they were built on (result cache).
        parts.append(f"it did not build ({text}): groups built in this run used the base image")
        return "; ".join(parts)
    built = _strings(layer.get("requirements"))
    packages = [p for p in _list(layer.get("packages")) if isinstance(p, dict)]
    asked = {line for p in packages if isinstance(line := p.get("line"), str)}
    if layer.get("fallback"):  # `why` says why the inferred lines were not built
        parts.append(
            "built instead: " + _cap(", ".join(built) or "no Python package", LAYER_PART_CHARS)
        )
    else:
        tooling = [r for r in built if r not in asked]  # lines no group asked for
        if tooling:
            parts.append(
                "the grader's notebook tooling: " + _cap(", ".join(tooling), LAYER_PART_CHARS)
            )
    apt = _strings(layer.get("apt"))
    if apt:  # with no package shared: the rubric's apt (and warm-ups) form the layer alone
        label = "system packages" if packages or built else "a layer of system packages only"
        parts.append(f"{label}: " + _cap(", ".join(apt), LAYER_PART_CHARS))
    if _strings(layer.get("warmup")):
        parts.append("its warm-ups ran once in the layer, not in every session")
    return "; ".join(parts)


def _cap(text: str, limit: int) -> str:
    # terminal_safe first: its escapes (a bidi override becomes six characters) count too.
    text = terminal_safe(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _strings(value: object) -> list[str]:
    return [v for v in _list(value) if isinstance(v, str)]


def check_columns(run: RunResult) -> list[tuple[str, str]]:
    """(id, title) of every check in the run, in order of first appearance."""
    seen: dict[str, str] = {}
    for group in run.groups:
        for check in group.checks:
            seen.setdefault(check.id, check.title)
    return list(seen.items())


def _check_by_id(group: GroupResult) -> dict[str, CheckResult]:
    return {c.id: c for c in group.checks}


# --- grades.csv ------------------------------------------------------------------------------


def csv_text(value: str) -> str:
    """The CSV sink's escaping of a text cell: spreadsheet formulas neutralised at its start and
    after any separator; control characters (but newline and tab) and bidi marks shown as
    escapes (termtext), so no cell reorders or hides what a spreadsheet shows."""
    return _FORMULA_ANYWHERE.sub(r"\1\2'", terminal_safe(value))


def csv_quoted(value: str) -> str:
    """A text cell, neutralised and always quoted (so no reader splits it at ``;`` or tab)."""
    return '"' + csv_text(value).replace('"', '""') + '"'


def csv_cell(value: str) -> str:
    """A number stays bare (for the LMS); anything else is a quoted text cell."""
    try:
        float(value)
    except ValueError:
        return csv_quoted(value)
    return value


def overridden_checks(run: RunResult) -> list[str]:
    """Ids of the checks some group has a lecturer override on (applied or flagged)."""
    return [
        cid
        for cid, _ in check_columns(run)
        if any(c.id == cid and c.override is not None for g in run.groups for c in g.checks)
    ]


def _override_cells(check: CheckResult | None) -> list[str]:
    """``<check> automatic`` and ``<check> override`` cells: the grader's verdict, the comment."""
    if check is None or check.override is None:
        return ["", ""]
    o = check.override
    auto = f"{o.auto_status.value} {format_score(o.auto_score)}"
    comment = o.comment
    if o.state.value == "stale":
        comment = f"NOT APPLIED, review: written for commit {(o.commit or '')[:12]}; {comment}"
    return [auto, comment]


def grades_csv(run: RunResult) -> str:
    """One row per group: group, members, status, commit, one column per check, total, max.

    When a lecturer overrode checks, each such check adds two columns at the end:
    ``<id> automatic`` (the grader's status and points) and ``<id> override`` (the comment);
    the check's own column and the total hold the overridden points.
    """
    columns = check_columns(run)
    overridden = overridden_checks(run)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "group",
            "members",
            "status",
            "commit",
            *(cid for cid, _ in columns),
            "not_applicable",
            "not_run",
            "total",
            "max",
            *(f"{cid} {kind}" for cid in overridden for kind in ("automatic", "override")),
        ]
    )
    for group in run.groups:
        checks = _check_by_id(group)
        graded = group.status is GroupStatus.GRADED
        # Text cells are quoted by hand (the csv module quotes per writer, not per cell);
        # score cells stay bare numbers for the LMS.
        row = [
            csv_quoted(group.name),
            csv_quoted("; ".join(group.members)),
            csv_quoted(group.status.value),
            csv_quoted(group.commit or ""),
        ]
        for cid, _ in columns:
            check = checks.get(cid)
            row.append(csv_cell(check_points(check)) if check is not None else "")
        row.append(csv_quoted(" ".join(left_out_ids(group, Applies.NOT_APPLICABLE))))
        row.append(csv_quoted(" ".join(left_out_ids(group, Applies.NOT_RUN))))
        # An ungraded group has no total: an empty cell asks for a human, a 0 would not.
        row.append(format_score(group.score) if graded else "")
        row.append(format_score(group.max_score) if group.max_score else "")
        for cid in overridden:
            row += [csv_quoted(cell) for cell in _override_cells(checks.get(cid))]
        out.write(",".join(row) + "\n")
    return out.getvalue()


# --- junit.xml -------------------------------------------------------------------------------


def _xml_text(value: str) -> str:
    """Controls and bidi marks as visible escapes (termtext), then what XML cannot hold."""
    return _XML_INVALID.sub("\ufffd", terminal_safe(value))


def _testcase(suite: ET.Element, classname: str, name: str, time: float = 0.0) -> ET.Element:
    return ET.SubElement(
        suite,
        "testcase",
        {
            "classname": _xml_text(classname),
            "name": _xml_text(name),
            "time": f"{max(time, 0.0):.3f}" if math.isfinite(time) else "0.000",
        },
    )


def _details_text(check: CheckResult) -> str:
    body = check.summary
    if check.details:
        body += "\n\n" + json.dumps(check.details, indent=2, ensure_ascii=False, default=str)
    return _xml_text(body)


def junit_xml(run: RunResult) -> str:
    """A JUnit report: one testsuite per group, one testcase per check, group errors as errors."""
    root = ET.Element("testsuites", {"name": _xml_text(run.course or "repograder")})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for group in run.groups:
        suite = ET.SubElement(root, "testsuite", {"name": _xml_text(group.name)})
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        props = ET.SubElement(suite, "properties")
        for key, value in (
            ("repo", group.repo),
            ("commit", group.commit or ""),
            ("commit_date", group.commit_date or ""),
            ("members", "; ".join(group.members)),
            ("score", format_score(group.score)),
            ("max_score", format_score(group.max_score)),
            ("late_commits", str(len(group.late_commits))),
        ):
            ET.SubElement(props, "property", {"name": key, "value": _xml_text(value)})
        if group.status is GroupStatus.ERROR:
            case = _testcase(suite, group.name, "grading")
            message = group.error or "the group could not be graded"
            error = ET.SubElement(case, "error", {"message": _xml_text(message), "type": "error"})
            error.text = _xml_text(message)
            counts["tests"] += 1
            counts["errors"] += 1
        for check in group.checks:
            case = _testcase(suite, group.name, f"{check.id}: {check.title}")
            counts["tests"] += 1
            message = _xml_text(check.summary)
            points = f"{format_score(check.score)}/{format_score(check.max_score)} points"
            if check.status is Status.FAIL:
                el = ET.SubElement(case, "failure", {"message": message, "type": "fail"})
                el.text = _details_text(check)
                counts["failures"] += 1
            elif check.status is Status.ERROR:
                el = ET.SubElement(case, "error", {"message": message, "type": "error"})
                el.text = _details_text(check)
                counts["errors"] += 1
            elif check.status is Status.SKIP:
                ET.SubElement(case, "skipped", {"message": message})
                counts["skipped"] += 1
            out = ET.SubElement(case, "system-out")
            out.text = f"[{check.status.value}] {points}\n{_details_text(check)}"
        suite.set("tests", str(counts["tests"]))
        suite.set("failures", str(counts["failures"]))
        suite.set("errors", str(counts["errors"]))
        suite.set("skipped", str(counts["skipped"]))
        suite.set(
            "time",
            f"{group.timings.total_s:.3f}" if math.isfinite(group.timings.total_s) else "0.000",
        )
        for key in totals:
            totals[key] += counts[key]
    for key, total in totals.items():
        root.set(key, str(total))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --- summary.md ------------------------------------------------------------------------------

# Backslash-escaped: Markdown markup, and ":" "@" so that GitHub's autolinks (https://…,
# mailto, user@host) do not form; "www." is broken separately.
_MD_ESCAPE = re.compile(r"([\\`*_\[\]|#~!:@])")
_MD_WWW = re.compile(r"(?i)\b(www)\.")


def md_text(value: str, limit: int = _MD_CELL_MAX) -> str:
    """Student text as inert Markdown table-cell text: no markup, links, autolinks, HTML, line
    breaks, control characters or bidi overrides (shown as their escapes, termtext)."""
    value = terminal_safe(" ".join(value.split()))
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MD_ESCAPE.sub(r"\\\1", value)
    return _MD_WWW.sub(r"\1\\.", value)


def summary_markdown(run: RunResult) -> str:
    """A Markdown overview for ``$GITHUB_STEP_SUMMARY``: one table row per group."""
    columns = check_columns(run)
    graded = sum(1 for g in run.groups if g.status is GroupStatus.GRADED)
    errors = len(run.groups) - graded
    lines = [f"## {md_text(run.course or 'repograder report')}", ""]
    facts = [
        f"{len(run.groups)} group{'' if len(run.groups) == 1 else 's'}",
        f"{graded} graded",
        f"{errors} error{'' if errors == 1 else 's'}",
    ]
    review = checks_to_review(run)
    if review:
        facts.append(f"{review} check{'' if review == 1 else 's'} to review by hand")
    if run.deadline:
        facts.append(f"deadline {md_text(run.deadline)}")
    facts.append(f"rubric {md_text(run.rubric.name)}")
    lines += [" · ".join(facts), ""]
    layer = shared_layer_text(run)
    if layer:
        lines += [f"Shared environment: {md_text(layer, 4000)}", ""]  # never cut: see above
    header = ["Group", "Status", *(md_text(cid) for cid, _ in columns), "Total"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---", "---"] + [":-:"] * len(columns) + ["--:"]) + "|")
    for group in run.groups:
        checks = _check_by_id(group)
        cells = [md_text(group.name), group.status.value]
        for cid, _ in columns:
            check = checks.get(cid)
            if check is None:
                cells.append("")
            else:
                points = check_points(check)
                if points == format_score(check.score):
                    points += f"/{format_score(check.max_score)}"
                cells.append(f"{_STATUS_MARK[check.status]} {check.status.value} {points}")
        if group.status is GroupStatus.GRADED:
            cells.append(f"**{format_score(group.score)}/{format_score(group.max_score)}**")
        else:
            cells.append("—")
        lines.append("| " + " | ".join(cells) + " |")
    failed = [g for g in run.groups if g.status is GroupStatus.ERROR]
    if failed:
        lines += ["", "### Not graded", ""]
        for g in failed:
            lines.append(f"- {md_text(g.name)}: {md_text(g.error or 'unknown error', 500)}")
    return "\n".join(lines) + "\n"
