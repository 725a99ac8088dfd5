"""The JSON form of the paper facts (:mod:`repograder.facts`) and the two judgements over them
(``paper-pages``, ``paper-format``; their check modules are under :mod:`repograder.checks`).

Pure: no file access, no PDF library. :mod:`repograder.paper` measures, this module judges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from repograder.facts import (
    FOUND,
    LFS_POINTER,
    ColumnFacts,
    FontFacts,
    FrontMatter,
    Margins,
    PageSize,
    PaperFacts,
)
from repograder.model import JSONDict, JSONValue, Params, Status, Verdict

# Problems the grader caused (its own limits), not the students: a human should look.
GRADER_LIMITS = frozenset({"timeout", "memory", "crash"})
# Fewer non-space characters than this before the references heading: body ended a page earlier.
REFERENCES_TOP_CHARS = 300
TIMES_FAMILY = ["Times", "NimbusRom", "Nimbus Roman", "Termes", "STIX", "Tinos"]
TIMES_FAMILY += ["LiberationSerif", "Liberation Serif", "ptm"]
# Times has no CJK glyphs: Chinese, Japanese and Korean IEEE-style papers set their text in a
# Song/Ming/Mincho serif (a real Chinese IEEEtran paper: SimSun 10.5 pt, 五号).
TIMES_FAMILY += ["SimSun", "Song", "Ming", "Mincho", "SerifCJK", "SourceHanSerif", "Batang"]
FINDINGS = ("page-size", "columns", "body-font", "fonts", "margins", "front-matter")


def facts_to_json(facts: PaperFacts) -> JSONDict:
    """The facts as a JSON object (tuples become lists)."""
    data: JSONDict = asdict(facts)
    return data


def _float(value: JSONValue, default: float = 0.0) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def _int_or_none(value: JSONValue) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: JSONValue, default: str = "") -> str:
    return value[:300] if isinstance(value, str) else default


def _dict(value: JSONValue) -> Mapping[str, JSONValue]:
    return value if isinstance(value, dict) else {}


def _list(value: JSONValue) -> list[JSONValue]:
    return value if isinstance(value, list) else []


def measured_facts(
    raw: Mapping[str, JSONValue], base: PaperFacts, max_fonts: int = 200
) -> PaperFacts:
    """Build facts from the child process's JSON, type-checking every field on the way."""
    pages = _int_or_none(raw.get("pages"))
    references_page = _int_or_none(raw.get("references_page"))
    body_pages = pages
    if references_page is not None:
        before = _int_or_none(raw.get("chars_before_references")) or 0
        body_pages = references_page - 1 if before < REFERENCES_TOP_CHARS else references_page
    columns = _dict(raw.get("columns"))
    margins = _dict(raw.get("margins"))
    front = _dict(raw.get("front_matter"))
    size = raw.get("body_font_size")
    return PaperFacts(
        status=base.status,
        message=base.message,
        path=base.path,
        candidates=base.candidates,
        file_bytes=base.file_bytes,
        pages=pages,
        analysed_pages=_int_or_none(raw.get("analysed_pages")) or 0,
        references_page=references_page,
        body_pages=body_pages,
        encrypted=raw.get("encrypted") is True,
        page_errors=_int_or_none(raw.get("page_errors")) or 0,
        page_sizes=tuple(
            PageSize(
                _float(_dict(s).get("width_pt")),
                _float(_dict(s).get("height_pt")),
                _str(_dict(s).get("name"), "other"),
            )
            for s in _list(raw.get("page_sizes"))
        ),
        text_chars=_int_or_none(raw.get("text_chars")) or 0,
        body_font=_str(raw.get("body_font")) or None,
        body_font_size=_float(size) if isinstance(size, int | float) else None,
        body_font_share=_float(raw.get("body_font_share")),
        fonts=tuple(
            FontFacts(
                _str(_dict(f).get("name"), "?"),
                _str(_dict(f).get("subtype"), "?"),
                _dict(f).get("embedded") is True,
                _dict(f).get("type3") is True,
            )
            for f in _list(raw.get("fonts"))[:max_fonts]
        ),
        columns=ColumnFacts(
            _int_or_none(columns.get("columns")) or 0,
            _float(columns.get("left")),
            _float(columns.get("right")),
            _float(columns.get("spanning")),
        ),
        margins=Margins(
            _float(margins.get("left")),
            _float(margins.get("right")),
            _float(margins.get("top")),
            _float(margins.get("bottom")),
        )
        if margins
        else None,
        front_matter=FrontMatter(
            _str(front.get("title")),
            _float(front.get("title_font_size")),
            front.get("abstract") is True,
            front.get("abstract_ieee_style") is True,
            front.get("index_terms") is True,
            front.get("keywords") is True,
        ),
        notes=base.notes,
    )


def _not_measured(facts: PaperFacts, *, missing_fails: bool) -> Verdict | None:
    """The verdict when there is no readable paper to measure (None when there is one).

    A missing paper fails the page check (``missing_fails``); the format check skips.
    """
    details: JSONDict = {"paper": facts_to_json(facts)}
    if facts.status == FOUND:
        return None
    if facts.status == LFS_POINTER or facts.error_kind in GRADER_LIMITS:
        return Verdict.error(facts.message, details)
    if not missing_fails:
        return Verdict.skip(f"no readable paper: {facts.message}", details)
    return Verdict(Status.FAIL, 0.0, facts.message, details)


def not_taken(facts: PaperFacts) -> list[JSONValue]:
    """The other PDFs and why each was not taken as the paper (its ranking notes and score)."""
    out: list[JSONValue] = []
    for c in facts.candidates:
        if c.path == facts.path:
            continue
        why = c.reason or "ranked lower"
        if c.score < 0:
            why += " (score below 0: never the paper)"
        out.append({"path": c.path, "score": c.score, "why": why})
    return out[:20]


def evaluate_pages(facts: PaperFacts, params: Params) -> Verdict:
    """Check ``paper-pages``: the paper exists and has at most ``max_pages`` pages."""
    early = _not_measured(facts, missing_fails=True)
    if early is not None:
        return early
    max_pages = params.get_int("max_pages", 4)
    references_count = params.get_bool("references_count", True)
    pages = facts.pages or 0
    counted = pages if references_count else (facts.body_pages or pages)
    details: JSONDict = {
        "path": facts.path,
        "pages": pages,
        "references_page": facts.references_page,
        "body_pages": facts.body_pages,
        "counted_pages": counted,
        "max_pages": max_pages,
        "references_count": references_count,
        "file_bytes": facts.file_bytes,
        "other_candidates": [c.path for c in facts.candidates if c.path != facts.path],
        "not_taken": not_taken(facts),
    }
    if references_count or facts.references_page is None:
        what = f"{facts.path} has {pages} pages"
        if not references_count:
            what += " (no references heading found, so every page counts)"
    else:
        what = f"{facts.path} has {pages} pages, {counted} before the references"
    if counted <= max_pages:
        return Verdict(Status.PASS, 1.0, f"{what}; at most {max_pages} are allowed", details)
    return Verdict(Status.FAIL, 0.0, f"{what}; at most {max_pages} are allowed", details)


@dataclass(frozen=True)
class Finding:
    id: str
    ok: bool
    measured: str
    expected: str


def _findings(facts: PaperFacts, params: Params) -> list[Finding]:
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


def evaluate_format(facts: PaperFacts, params: Params) -> Verdict:
    """Check ``paper-format``: page size, columns, Times ~10 pt, fonts, margins, front matter."""
    early = _not_measured(facts, missing_fails=False)
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
