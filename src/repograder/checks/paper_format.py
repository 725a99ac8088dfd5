"""Check ``paper-format``: the paper follows the IEEE conference template.

:func:`evaluate_format` here judges the measured
:class:`~repograder.facts.PaperFacts` (page size, columns, body font, margins, front matter;
the sources of the thresholds are given beside them and in ``Params``' defaults).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from pydantic import Field, StrictStr, ValidationInfo, field_validator

from repograder.checks import base, paper_pages
from repograder.checks.base import Spot, StrictParams
from repograder.checks.paper_pages import not_measured
from repograder.facts import ColumnFacts, FrontMatter, PaperFacts
from repograder.model import CheckResult, GroupResult, JSONDict, JSONValue, Status, Verdict
from repograder.model import Params as RubricParams

ID = "paper-format"
TITLE = "Paper follows the IEEE conference template"
STAGE: base.Stage = "static"

GENERIC_FIX = "write the paper with the IEEE conference template (IEEEtran, two columns)"

TIMES_FAMILY = ["Times", "NimbusRom", "Nimbus Roman", "Termes", "STIX", "Tinos"]
TIMES_FAMILY += ["LiberationSerif", "Liberation Serif", "ptm"]
# Times has no CJK glyphs: Chinese, Japanese and Korean IEEE-style papers set their text in a
# Song/Ming/Mincho serif (a real Chinese IEEEtran paper: SimSun 10.5 pt, 五号).
TIMES_FAMILY += ["SimSun", "Song", "Ming", "Mincho", "SerifCJK", "SourceHanSerif", "Batang"]
FINDINGS = ("page-size", "columns", "body-font", "fonts", "margins", "front-matter")

PaperFinding = Literal["page-size", "columns", "body-font", "fonts", "margins", "front-matter"]
PageSize = Literal["letter", "a4"]


def _default_sizes() -> list[PageSize]:
    return ["letter", "a4"]


def _default_fail_on() -> list[PaperFinding]:
    return ["page-size", "columns"]


class Params(StrictParams):
    page_sizes: list[PageSize] = Field(default_factory=_default_sizes)
    body_fonts: list[StrictStr] = Field(default_factory=lambda: list(TIMES_FAMILY))
    body_font_size: base.Points = 10.0
    body_font_size_tolerance: base.Points = 0.6
    column_share: base.Fraction = 0.2
    side_margin_min_pt: base.Points = 36.0
    side_margin_max_pt: base.Points = 65.0
    vertical_margin_min_pt: base.Points = 36.0
    vertical_margin_max_pt: base.Points = 130.0
    fail_on: list[PaperFinding] = Field(default_factory=_default_fail_on)
    ignore: list[PaperFinding] = Field(default_factory=list)
    warn_fraction: base.Fraction = 0.5
    fail_fraction: base.Fraction = 0.0

    @field_validator("side_margin_max_pt", "vertical_margin_max_pt")
    @classmethod
    def _order(cls, value: float, info: ValidationInfo) -> float:
        assert info.field_name is not None
        low = info.field_name.replace("_max_", "_min_")
        limit = info.data.get(low)
        if limit is not None and limit > value:
            raise ValueError(f"{low} ({limit:g}) is above {info.field_name} ({value:g})")
        return value


@dataclass(frozen=True)
class Finding:
    id: str
    ok: bool
    measured: str
    expected: str


def _findings(facts: PaperFacts, params: RubricParams) -> list[Finding]:
    sizes_ok = params.get_str_list("page_sizes", ["letter", "a4"])
    font_names = params.get_str_list("body_fonts", TIMES_FAMILY)
    want_size = params.get_float("body_font_size", 10.0)
    size_tol = params.get_float("body_font_size_tolerance", 0.6)
    min_columns_share = params.get_float("column_share", 0.2)
    side = (
        params.get_float("side_margin_min_pt", 36.0),
        params.get_float("side_margin_max_pt", 65.0),
    )
    vert = (
        params.get_float("vertical_margin_min_pt", 36.0),
        params.get_float("vertical_margin_max_pt", 130.0),
    )
    out: list[Finding] = []

    counts: dict[str, int] = {}
    for size in facts.page_sizes:
        counts[size.name] = counts.get(size.name, 0) + 1
    bad = {n: c for n, c in counts.items() if n not in sizes_ok}
    first = facts.page_sizes[0] if facts.page_sizes else None
    measured = ", ".join(f"{c} × {n}" for n, c in sorted(counts.items()))
    if first:
        measured += f" (first page {first.width_pt:g} × {first.height_pt:g} pt)"
    out.append(Finding("page-size", bool(counts) and not bad, measured, " or ".join(sizes_ok)))

    cols = facts.columns or ColumnFacts(0)
    two = cols.columns == 2 and min(cols.left, cols.right) >= min_columns_share
    out.append(
        Finding(
            "columns",
            two,
            f"{cols.columns or 'unclear'} column(s): left {cols.left:.0%}, right {cols.right:.0%}, "
            f"across the middle {cols.spanning:.0%} of the text width",
            "two columns",
        )
    )

    font = facts.body_font or "none"
    fsize = facts.body_font_size or 0.0
    family_ok = any(f.lower() in font.lower() for f in font_names)
    size_ok = abs(fsize - want_size) <= size_tol
    out.append(
        Finding(
            "body-font",
            family_ok and size_ok,
            f"{font} {fsize:g} pt ({facts.body_font_share:.0%} of the text)",
            f"Times family, {want_size:g} ± {size_tol:g} pt",
        )
    )

    unembedded = [f.name for f in facts.fonts if not f.embedded]
    type3 = [f.name for f in facts.fonts if f.type3]
    problems = []
    if unembedded:
        problems.append("not embedded: " + ", ".join(unembedded[:10]))
    if type3:
        problems.append("Type 3 (bitmap): " + ", ".join(type3[:10]))
    out.append(
        Finding(
            "fonts",
            not problems,
            "; ".join(problems) or f"all {len(facts.fonts)} fonts embedded, no Type 3",
            "all fonts embedded, no Type 3 fonts",
        )
    )

    m = facts.margins
    if m is None:
        out.append(Finding("margins", False, "no text found", "IEEE-like margins"))
    else:
        ok = all(side[0] <= v <= side[1] for v in (m.left, m.right)) and all(
            vert[0] <= v <= vert[1] for v in (m.top, m.bottom)
        )
        out.append(
            Finding(
                "margins",
                ok,
                f"left {m.left:g}, right {m.right:g}, top {m.top:g}, bottom {m.bottom:g} pt",
                f"sides {side[0]:g}–{side[1]:g} pt, top/bottom {vert[0]:g}–{vert[1]:g} pt",
            )
        )

    fm = facts.front_matter or FrontMatter()
    # IEEEtran conference titles are 24 pt; the compsoc conference layout's are 14 pt
    # (measured on PDFs made with IEEEtran 1.8b): a title at 1.35 x the body size is a title.
    title_ok = bool(fm.title) and fm.title_font_size >= 1.35 * (facts.body_font_size or 10.0)
    # The template is judged by its layout (the findings above); the front matter needs a
    # title block and an abstract in any language, run-in ("Abstract—", "Sažetak—") or as a
    # heading (the compsoc layout). Index terms are noted, never required: many IEEE
    # conferences do not ask for them ("Keywords—" of the Word template counts the same).
    signals = {"title block": title_ok, "abstract": fm.abstract_ieee_style or fm.abstract}
    missing = [k for k, v in signals.items() if not v]
    found = [k for k, v in signals.items() if v]
    if fm.index_terms or fm.keywords:
        found.append("index terms")
    notes = "" if fm.index_terms or fm.keywords else " (no index terms: not required)"
    out.append(
        Finding(
            "front-matter",
            not missing,
            ("missing: " + ", ".join(missing) if missing else ", ".join(found)) + notes,
            "title block and abstract (index terms optional)",
        )
    )
    return out


def evaluate_format(facts: PaperFacts, params: RubricParams) -> Verdict:
    """Check ``paper-format``: page size, columns, Times ~10 pt, fonts, margins, front matter."""
    early = not_measured(facts, missing_fails=False)
    if early is not None:
        return early
    fail_on = set(params.get_str_list("fail_on", ["page-size", "columns"]))
    ignore = set(params.get_str_list("ignore", []))
    warn_fraction = params.get_float("warn_fraction", 0.5)
    fail_fraction = params.get_float("fail_fraction", 0.0)
    findings = [f for f in _findings(facts, params) if f.id not in ignore]
    rows: list[JSONValue] = []
    failed, warned = [], []
    for f in findings:
        status = Status.PASS if f.ok else (Status.FAIL if f.id in fail_on else Status.WARN)
        if status == Status.FAIL:
            failed.append(f.id)
        elif status == Status.WARN:
            warned.append(f.id)
        rows.append(
            {"check": f.id, "status": str(status), "measured": f.measured, "expected": f.expected}
        )
    details: JSONDict = {
        "path": facts.path,
        "findings": rows,
        "pages": facts.pages,
        "analysed_pages": facts.analysed_pages,
        "text_chars": facts.text_chars,
        "encrypted": facts.encrypted,
        "unreadable_pages": facts.page_errors,
        "page_sizes": [asdict(s) for s in facts.page_sizes],
        "columns": asdict(facts.columns) if facts.columns else None,
        "body_font": facts.body_font,
        "body_font_size": facts.body_font_size,
        "body_font_share": facts.body_font_share,
        "fonts": [asdict(f) for f in facts.fonts],
        "margins_pt": asdict(facts.margins) if facts.margins else None,
        "front_matter": asdict(facts.front_matter) if facts.front_matter else None,
    }
    if failed:
        return Verdict(
            Status.FAIL,
            fail_fraction,
            f"{facts.path} does not follow the IEEE template: " + ", ".join(failed + warned),
            details,
        )
    if warned:
        return Verdict(
            Status.WARN,
            warn_fraction,
            f"{facts.path} mostly follows the IEEE template; check " + ", ".join(warned),
            details,
        )
    return Verdict(Status.PASS, 1.0, f"{facts.path} follows the IEEE conference template", details)


judge = base.static(lambda ev: ev.paper, evaluate_format)
error_fix = base.ask_lecturer


def fix(check: CheckResult, group: GroupResult) -> str:
    rows = check.details.get("findings")
    bad = [
        r
        for r in (rows if isinstance(rows, list) else [])
        if isinstance(r, dict) and r.get("status") in ("fail", "warn")
    ]
    if not bad:
        return GENERIC_FIX
    parts = [
        f"{base.text(r.get('check'))}: {base.text(r.get('measured'))} "
        f"(expected {base.text(r.get('expected'))})"
        for r in bad[:3]
    ]
    return "use the IEEE conference template; " + "; ".join(parts)


def spots(check: CheckResult, group: GroupResult) -> list[Spot]:
    return base.summary_at(check, paper_pages.paper_path(check))
