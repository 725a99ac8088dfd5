"""HTML pages of the report: index.html (overview) and one page per group.

Every string that came from a student repository is rendered as escaped text by jinja2's
autoescape; templates never use ``|safe``. The only markup injected is our own CSS. Pages carry
a Content-Security-Policy without scripts, so even a missed escape could not run code.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from repograder.fsutil import group_slug
from repograder.model import CheckResult, GroupResult, GroupStatus, JSONValue, RunResult, Status
from repograder.report.tables import check_columns, format_score

__all__ = [
    "CSP",
    "Artifacts",
    "Link",
    "NotebookLink",
    "group_page_name",
    "parse_artifacts",
    "render_group",
    "render_index",
    "safe_artifact_path",
]

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-src 'self'"

_HERE = Path(__file__).parent

# Generic details rendering limits: a check may return huge structures, the page stays usable.
_MAX_DEPTH = 4
_MAX_ITEMS = 200
_MAX_TEXT = 20_000
_PRE_AT = 100  # longer strings (or any with a newline) go into <pre>

_STATUS_SYMBOL = {
    Status.PASS: "✓",
    Status.WARN: "!",
    Status.FAIL: "✗",
    Status.SKIP: "–",
    Status.ERROR: "⚠",
}
_STEP_SYMBOL = {"ok": "✓", "failed": "✗", "timeout": "◷", "skipped": "–"}

# A path segment we are willing to link to: no scheme, no control characters, no query/anchor.
_BAD_PATH_CHARS = re.compile(r"[\x00-\x1f\x7f:\\?#]")


@dataclass(frozen=True)
class Link:
    label: str
    path: str  # relative to the output folder, validated by safe_artifact_path


@dataclass(frozen=True)
class NotebookLink:
    path: str  # notebook path inside the student repository (display only)
    html: str | None  # validated relative path of the rendered notebook, if any
    status: str
    error: str


@dataclass(frozen=True)
class Artifacts:
    thumbnails: tuple[Link, ...] = ()
    notebooks: tuple[NotebookLink, ...] = ()
    logs: tuple[Link, ...] = ()
    other: tuple[tuple[str, JSONValue], ...] = ()


def safe_artifact_path(value: object) -> str | None:
    """A normalised relative path that stays inside the output folder, or None.

    Drops absolute paths, ``..``, URL schemes (``javascript:``, ``http:``), backslashes,
    queries/anchors and control characters: an artifact path must not point anywhere else.
    """
    if not isinstance(value, str) or not value or len(value) > 1000:
        return None
    if value.startswith("/") or _BAD_PATH_CHARS.search(value):
        return None
    parts = [p for p in value.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def _href(path: str, prefix: str) -> str:
    return prefix + "/".join(quote(part, safe="") for part in path.split("/"))


def _str(value: JSONValue, default: str = "") -> str:
    return value if isinstance(value, str) else default


def parse_artifacts(artifacts: Mapping[str, JSONValue]) -> Artifacts:
    """Pick the known artifact sections out of ``GroupResult.artifacts``; drop unsafe paths."""
    thumbs: list[Link] = []
    paper = artifacts.get("paper")
    if isinstance(paper, dict):
        raw = paper.get("thumbnails")
        if isinstance(raw, list):
            for i, item in enumerate(raw, start=1):
                path = safe_artifact_path(item)
                if path is not None:
                    thumbs.append(Link(f"page {i}", path))
    notebooks: list[NotebookLink] = []
    raw_nbs = artifacts.get("notebooks")
    if isinstance(raw_nbs, list):
        for nb in raw_nbs:
            if isinstance(nb, dict):
                notebooks.append(
                    NotebookLink(
                        path=_str(nb.get("path"), "notebook"),
                        html=safe_artifact_path(nb.get("html")),
                        status=_str(nb.get("status")),
                        error=_str(nb.get("error")),
                    )
                )
    logs: list[Link] = []
    raw_logs = artifacts.get("logs")
    if isinstance(raw_logs, dict):
        for label, value in raw_logs.items():
            path = safe_artifact_path(value)
            if path is not None:
                logs.append(Link(str(label), path))
    other = tuple(
        (key, value)
        for key, value in artifacts.items()
        if key not in ("notebooks", "logs") and not (key == "paper" and isinstance(paper, dict))
    )
    if isinstance(paper, dict):
        rest = {k: v for k, v in paper.items() if k != "thumbnails"}
        if rest:
            other = (("paper", rest), *other)
    return Artifacts(tuple(thumbs), tuple(notebooks), tuple(logs), other)


def group_page_name(group: GroupResult) -> str:
    """File name of a group's page inside ``groups/``."""
    return group_slug(group.name) + ".html"


# --- template helpers ------------------------------------------------------------------------


def _detail_kind(value: object, depth: int) -> str:
    """How the generic details renderer shows a value."""
    if value is None or value == "" or value == [] or value == {}:
        return "empty"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "pre" if "\n" in value or len(value) > _PRE_AT else "text"
    if depth >= _MAX_DEPTH:
        return "json"
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, list):
        if all(isinstance(v, dict) for v in value):
            return "table"
        if all(v is None or isinstance(v, str | int | float) for v in value):
            return "scalars"
        return "list"
    return "text"


def _table_columns(rows: Sequence[Mapping[str, object]]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows[:_MAX_ITEMS]:
        for key in row:
            columns.setdefault(str(key), None)
    return list(columns)


def _clip(value: object, limit: int = _MAX_TEXT) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        return text[:limit] + f"\n[… {len(text) - limit} more characters]"
    return text


def _as_json(value: object) -> str:
    return _clip(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _number(value: object) -> str:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return format(value, ".6g")
    return str(value)


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds <= 0:
        return "0 s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _status_symbol(status: Status) -> str:
    return _STATUS_SYMBOL.get(status, "?")


def _step_symbol(status: str) -> str:
    return _STEP_SYMBOL.get(status, "?")


def _checks_by_id(group: GroupResult) -> dict[str, CheckResult]:
    return {c.id: c for c in group.checks}


def _short_sha(sha: str | None) -> str:
    return (sha or "")[:12]


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        # autoescape=True, not select_autoescape: our templates end in .html.j2.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(
        detail_kind=_detail_kind,
        table_columns=_table_columns,
        max_items=_MAX_ITEMS,
        max_depth=_MAX_DEPTH,
        status_symbol=_status_symbol,
        step_symbol=_step_symbol,
        href=_href,
        group_page_name=group_page_name,
        checks_by_id=_checks_by_id,
        parse_artifacts=parse_artifacts,
        csp=CSP,
        css=_css(),
        GRADED=GroupStatus.GRADED,
    )
    env.filters.update(
        score=format_score,
        duration=_duration,
        clip=_clip,
        as_json=_as_json,
        number=_number,
        short_sha=_short_sha,
    )
    return env


def _css() -> Markup:
    css = (_HERE / "static" / "report.css").read_text(encoding="utf-8")
    # Our own stylesheet, not student data; it must not be able to close the <style> element.
    if "</" in css:
        raise ValueError("report.css must not contain '</'")
    return Markup(css)  # noqa: S704


def _counts(run: RunResult) -> tuple[int, int, int]:
    graded = sum(1 for g in run.groups if g.status is GroupStatus.GRADED)
    return len(run.groups), graded, len(run.groups) - graded


def render_index(run: RunResult) -> str:
    """The overview page: one row per group, one column per check."""
    total, graded, errors = _counts(run)
    return (
        _environment()
        .get_template("index.html.j2")
        .render(
            run=run,
            columns=check_columns(run),
            n_groups=total,
            n_graded=graded,
            n_errors=errors,
        )
    )


def render_group(run: RunResult, group: GroupResult) -> str:
    """One group's page (lives in ``groups/``, so links to output files start with ``../``)."""
    return (
        _environment()
        .get_template("group.html.j2")
        .render(
            run=run,
            group=group,
            artifacts=parse_artifacts(group.artifacts),
        )
    )
