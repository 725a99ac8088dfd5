"""The JSON form of the paper facts (:mod:`repograder.facts`), and the facts built from the
measuring child's output.

Pure: no file access, no PDF library. :mod:`repograder.paper` measures; the two rubric checks
that judge these facts live in :mod:`repograder.checks.paper_pages` and
:mod:`repograder.checks.paper_format`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict

from repograder.facts import (
    ColumnFacts,
    FontFacts,
    FrontMatter,
    Margins,
    PageSize,
    PaperFacts,
)
from repograder.model import JSONDict, JSONValue

# Fewer non-space characters than this before the references heading: body ended a page earlier.
REFERENCES_TOP_CHARS = 300


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
