"""The output folder: results.json (source of truth), HTML pages, grades.csv, junit.xml, summary.md.

Everything is a pure function of the RunResult (byte-identical for the same input); only
:func:`write_report` touches the disk, one file at a time through a temp file and os.replace.
"""

from __future__ import annotations

from pathlib import Path

from repograder.errors import InfrastructureError
from repograder.model import RunResult
from repograder.report.html import (
    CSP,
    group_page_name,
    parse_artifacts,
    render_group,
    render_index,
    safe_artifact_path,
    use_template_cache,
)
from repograder.report.results import (
    dumps_json,
    group_from_json,
    group_to_json,
    read_results,
    result_to_json,
    run_from_json,
    write_json_atomic,
    write_text_atomic,
)
from repograder.report.tables import format_score, grades_csv, junit_xml, summary_markdown

__all__ = [
    "CSP",
    "GROUPS_DIR",
    "dumps_json",
    "format_score",
    "grades_csv",
    "group_from_json",
    "group_page_name",
    "group_to_json",
    "junit_xml",
    "parse_artifacts",
    "read_results",
    "render_group",
    "render_index",
    "result_to_json",
    "run_from_json",
    "safe_artifact_path",
    "summary_markdown",
    "write_json_atomic",
    "write_report",
    "write_text_atomic",
]

GROUPS_DIR = "groups"


def write_report(run: RunResult, out_dir: Path, template_cache: Path | None = None) -> list[Path]:
    """Write the whole output folder and return the written paths (results.json first).

    ``template_cache``: a folder of the grader's cache where compiled page templates are kept
    between runs (None: compiled in this process). Raises InfrastructureError when the folder
    cannot be created or written (full disk, permissions, a file in the way).
    """
    use_template_cache(template_cache)
    # Render everything before touching the disk: a rendering bug must not leave a half report.
    files: list[tuple[Path, str]] = [
        (out_dir / "results.json", dumps_json(result_to_json(run))),
        (out_dir / "index.html", render_index(run)),
    ]
    files += [(out_dir / GROUPS_DIR / group_page_name(g), render_group(run, g)) for g in run.groups]
    files += [
        (out_dir / "grades.csv", grades_csv(run)),
        (out_dir / "junit.xml", junit_xml(run)),
        (out_dir / "summary.md", summary_markdown(run)),
    ]
    try:
        (out_dir / GROUPS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InfrastructureError(
            f"cannot create the output folder {out_dir}: {exc.strerror or exc}"
        ) from None
    for path, text in files:
        write_text_atomic(path, text)
    return [path for path, _ in files]
