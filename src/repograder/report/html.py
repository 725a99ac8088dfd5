"""HTML pages of the report: index.html (overview) and one page per group.

Every string that came from a student repository is rendered as escaped text by jinja2's
autoescape; templates never use ``|safe``. The only markup injected is our own CSS. Pages carry
a Content-Security-Policy without scripts, so even a missed escape could not run code.
"""

from __future__ import annotations

import contextlib
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
from repograder.model import (
    Applies,
    CheckResult,
    GroupResult,
    GroupStatus,
    JSONValue,
    RunResult,
    Status,
)
from repograder.report.tables import (
    check_columns,
    check_points,
    checks_to_review,
    format_score,
    shared_layer_text,
)
from repograder.termtext import terminal_safe

__all__ = [
    "CSP",
    "Artifacts",
    "Bar",
    "CourseStats",
    "Link",
    "NotebookLink",
    "course_stats",
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


@dataclass(frozen=True)
class ContributionRow:
    """One member (or unmatched author) on the group page; figures from results.json."""

    who: str
    commits: int
    merges: int
    files: int
    added: int
    removed: int
    bulk_files: int
    bulk_lines: int
    identities: tuple[str, ...]
    no_commits: bool
    member: bool


def _int(value: JSONValue) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_contributions(data: Mapping[str, JSONValue]) -> list[ContributionRow]:
    """Rows of ``GroupResult.contributions`` (members first, then unmatched authors)."""
    rows = []
    for key, member in (("members", True), ("others", False)):
        items = data.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            if not isinstance(item, dict):
                continue
            ids = item.get("identities")
            rows.append(
                ContributionRow(
                    who=_str(item.get("name" if member else "identity"), "?"),
                    commits=_int(item.get("commits")),
                    merges=_int(item.get("merges")),
                    files=_int(item.get("files")),
                    added=_int(item.get("added")),
                    removed=_int(item.get("removed")),
                    bulk_files=_int(item.get("bulk_files")),
                    bulk_lines=_int(item.get("bulk_added")) + _int(item.get("bulk_removed")),
                    identities=tuple(i for i in ids if isinstance(i, str))
                    if isinstance(ids, list)
                    else (),
                    no_commits=item.get("no_commits") is True,
                    member=member,
                )
            )
    return rows


def group_page_name(group: GroupResult) -> str:
    """File name of a group's page inside ``groups/``."""
    return group_slug(group.name) + ".html"


def feedback_path(group: GroupResult) -> str:
    """The group's feedback.md relative to ``groups/`` (written by feedback.write_feedback)."""
    return f"{group_slug(group.name)}/feedback.md"


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


def _visible_text(value: object) -> object:
    """Every ``{{ value }}`` of a template: strings (not our own Markup) via terminal_safe."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return terminal_safe(value)
    return value


class _TemplateCache(jinja2.FileSystemBytecodeCache):
    """jinja2's compiled templates kept between runs (compiling the four templates costs
    0.15-0.5 s of every run). Keyed by template name and checked against the source's
    checksum by jinja2, so an edited template is compiled again. The folder is the grader's
    own cache (never a container's output). A cache that cannot be read or written is skipped."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        # e.g. a file where the folder should be: compile as without a cache
        with contextlib.suppress(OSError):
            super().load_bytecode(bucket)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            Path(self.directory).mkdir(parents=True, exist_ok=True)
            super().dump_bytecode(bucket)
        except OSError:
            pass  # a read-only or full cache folder costs speed, never the report


_template_cache: Path | None = None


def use_template_cache(folder: Path | None) -> None:
    """Keep compiled templates in ``folder`` (None: compile in every process)."""
    global _template_cache
    if folder != _template_cache:
        _template_cache = folder
        _environment.cache_clear()


@functools.cache
def _environment() -> jinja2.Environment:
    # The compiled code depends on the environment's options (finalize is compiled in), which
    # jinja2's cache key (name + source checksum) does not cover: the pattern names them.
    cache = (
        _TemplateCache(str(_template_cache), "__jinja2_visible-text_%s.cache")
        if _template_cache is not None
        else None
    )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        bytecode_cache=cache,
        # autoescape=True, not select_autoescape: our templates end in .html.j2.
        autoescape=True,
        # Control and bidi characters of student text as visible escapes (termtext): U+202E
        # would make a file name read backwards, and raw C0/C1 controls are not valid HTML.
        finalize=_visible_text,
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
        feedback_path=feedback_path,
        checks_by_id=_checks_by_id,
        parse_artifacts=parse_artifacts,
        parse_contributions=parse_contributions,
        csp=CSP,
        css=_css(),
        GRADED=GroupStatus.GRADED,
    )
    env.filters.update(
        score=format_score,
        points=check_points,
        duration=_duration,
        clip=_clip,
        as_json=_as_json,
        number=_number,
        short_sha=_short_sha,
        short=_short,
    )
    return env


def _css() -> Markup:
    css = (_HERE / "static" / "report.css").read_text(encoding="utf-8")
    # Our own stylesheet, not student data; it must not be able to close the <style> element.
    if "</" in css:
        raise ValueError("report.css must not contain '</'")
    return Markup(css)  # noqa: S704


@dataclass(frozen=True)
class Bar:
    """One histogram bar: groups whose score is in [low, high) (the last bar includes high)."""

    low: float
    high: float
    count: int
    groups: tuple[str, ...]
    x: float  # SVG user units
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class PassRate:
    passed: int  # pass or warn (after overrides)
    assessed: int  # groups with the check
    percent: int


@dataclass(frozen=True)
class CourseStats:
    bars: tuple[Bar, ...]
    max_score: float
    mean: float | None
    median: float | None
    pass_rates: Mapping[str, PassRate]
    tallest: int


_HIST_W, _HIST_H, _HIST_BINS = 600.0, 160.0, 10


def _bins(max_score: float) -> list[tuple[float, float]]:
    """Whole-point bins up to 20 points, else ten equal bins."""
    if max_score <= 0:
        return [(0.0, 1.0)]
    if max_score <= 20 and float(max_score).is_integer():
        return [(float(i), float(i + 1)) for i in range(int(max_score))]
    step = max_score / _HIST_BINS
    return [(i * step, (i + 1) * step) for i in range(_HIST_BINS)]


def course_stats(run: RunResult) -> CourseStats:
    """Score distribution (histogram bars, drawn as inline SVG) and pass rate per check.

    Only graded groups count. A check counts as passed when its status (after lecturer
    overrides) is pass or warn.
    """
    graded = [g for g in run.groups if g.status is GroupStatus.GRADED]
    max_score = max((g.max_score for g in graded), default=0.0)
    bins = _bins(max_score)
    members: list[list[str]] = [[] for _ in bins]
    for g in graded:
        index = next(
            (i for i, (low, high) in enumerate(bins) if low <= g.score < high), len(bins) - 1
        )
        members[index].append(g.name)
    tallest = max((len(m) for m in members), default=0)
    width = _HIST_W / len(bins)
    bars: list[Bar] = []
    for (low, high), names in zip(bins, members, strict=True):
        height = _HIST_H * len(names) / tallest if tallest else 0.0
        bars.append(
            Bar(
                low=round(low, 2),
                high=round(high, 2),
                count=len(names),
                groups=tuple(names),
                x=round(len(bars) * width + 1, 2),
                y=round(_HIST_H - height, 2),
                width=round(width - 2, 2),
                height=round(height, 2),
            )
        )
    scores = sorted(g.score for g in graded)
    median = None
    if scores:
        mid = len(scores) // 2
        median = scores[mid] if len(scores) % 2 else (scores[mid - 1] + scores[mid]) / 2
    rates: dict[str, PassRate] = {}
    for cid, _ in check_columns(run):
        # Checks that do not apply (no notebooks) or were not run (--static) are no verdict.
        found = [c for g in graded for c in g.checks if c.id == cid and c.applies is Applies.YES]
        passed = sum(1 for c in found if c.status in (Status.PASS, Status.WARN))
        percent = round(100 * passed / len(found)) if found else 0
        rates[cid] = PassRate(passed, len(found), percent)
    return CourseStats(
        bars=tuple(bars),
        max_score=max_score,
        mean=round(sum(scores) / len(scores), 2) if scores else None,
        median=median,
        pass_rates=rates,
        tallest=tallest,
    )


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
            n_review=checks_to_review(run),
            layer_text=shared_layer_text(run),
            stats=course_stats(run),
            hist_w=_HIST_W,
            hist_h=_HIST_H,
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
