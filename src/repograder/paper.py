"""Find the group's IEEE paper, measure it, and render thumbnails.

The only module that touches pypdf and pypdfium2. Student PDFs are untrusted: every parse runs
in a child process (``python -m repograder.paper``) with a wall-clock timeout and a memory
rlimit, so a PDF bomb or a parser crash becomes an "unreadable" status instead of a hung or
dead grader. Only JSON with numbers and short strings comes back.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from repograder import fsutil
from repograder.facts import (
    FOUND,
    LFS_POINTER,
    NONE,
    REFUSED,
    SOURCE_ONLY,
    UNREADABLE,
    ColumnFacts,
    FontFacts,
    FrontMatter,
    Margins,
    PageSize,
    PaperFacts,
)
from repograder.model import JSONDict, JSONValue
from repograder.paper_checks import (
    evaluate_format,
    evaluate_pages,
    facts_to_json,
    measured_facts,
)
from repograder.paper_find import (
    DEFAULT_GLOBS,
    PaperCandidate,
    find_candidates,
    find_other_forms,
    find_tex_sources,
    tex_titles,
)

__all__ = [
    "DEFAULT_GLOBS",
    "ColumnFacts",
    "FontFacts",
    "FrontMatter",
    "Margins",
    "PageSize",
    "PaperCandidate",
    "PaperFacts",
    "evaluate_format",
    "evaluate_pages",
    "facts_to_json",
    "find_paper",
    "front_matter_marks",
    "inspect_paper",
    "measure_paper",
    "render_thumbnails",
]

# Candidates whose content is looked at for ranking: all of them (MAX_CANDIDATES). A probe reads
# two pages' text in the limited child; a real course repository held 12 chart PDFs beside the
# paper, and with 8 probes the unopened charts outranked it.
MAX_PROBED = 50
PROBE_BUDGET_SHARE = 0.4  # of the child's time limit; the rest is for measuring the chosen one
# A candidate left unopened (more PDFs than MAX_PROBED) is ranked after every opened one: its
# path score alone must not outrank a PDF whose content was looked at (12 chart PDFs beside
# report/bare_conf.pdf in a real repository once left the paper unopened and a chart chosen).
MAX_ANALYSED_PAGES = 40  # a paper has a handful; a 5000-page bomb is counted, not read
SIZE_TOLERANCE_PT = 6.0
MEMORY_BYTES = 1 << 30
MAX_CHILD_OUTPUT = 5_000_000

PAGE_SIZES = {"letter": (612.0, 792.0), "a4": (595.28, 841.89)}
_REF_HEADINGS = {"REFERENCES", "REFERENCE", "BIBLIOGRAPHY", "LITERATURE", "LITERATUR"}
_NUMBERING = re.compile(r"^(?:[IVXLC]+\.|\d+\.?)\s*")
_SUBSET = re.compile(r"^[A-Z]{6}\+")
# The abstract's and the keywords' marks in the languages students write in (en, de, fr, es,
# it, hr/bs/sr, sl, pt, nl, pl, cs/sk, tr, sv, da/no, ro, hu, ru, zh, ja, ko). IEEEtran sets
# them run-in ("Abstract—", "Index Terms—"); the IEEE Word template says "Keywords—"; babel
# translates \abstractname ("Sažetak—") and courses rename \IEEEkeywordsname.
_ABSTRACT_WORDS = (
    r"Abstract|Zusammenfassung|Kurzfassung|R[ée]sum[ée]|Resumen|Sommario|Riassunto|Sa[žz]etak"
    r"|Apstrakt|Povzetek|Resumo|Samenvatting|Streszczenie|Abstrakt?|[ÖO]zet|[ÖO]z|Sammanfattning"
    r"|Sammendrag|Resumat|Rezumat|Kivonat|Аннотация|Резюме|Анотація|摘\s*要|要旨|概要|초록|요약"
    # vi (IEEEtran with babel: "Tóm tắt nội dung—"), id/ms, fi, ca, el, ar, fa, th, hi
    r"|T[óo]m\s*t[ắa]t(?:\s*n[ộo]i\s*dung)?|Intisari|Tiivistelm[äa]|Resum|Περ[ίι]ληψη"
    r"|الملخص|ملخص|چکیده|บทคัดย่อ|सारांश"
)
_KEYWORD_WORDS = (
    r"Index\s*Terms|Key\s*-?\s*words|Schl[üu]sselw[öo]rter|Schlagw[öo]rter|Stichw[öo]rter"
    r"|Mots[-\s]*cl[ée]s|Palabras\s*clave|Parole\s*chiave|Klju[čc]ne\s*rije[čc]i"
    r"|Klju[čc]ne\s*re[čc]i|Klju[čc]ne\s*besede|Palavras[-\s]*chave|Trefwoorden"
    r"|Sleutelwoorden|S[łl]owa\s*kluczowe|Kl[íi][čc]ov[áa]\s*slova|Anahtar\s*(?:kelimeler|s[öo]zc[üu]kler)"
    r"|Nyckelord|N[øo]gleord|N[øo]kkelord|Cuvinte\s*cheie|Kulcsszavak|Ключевые\s*слова"
    r"|关\s*键\s*[词字]|キーワード|키워드"
    r"|T[ừu]\s*kh[óo]a|Kata\s*kunci|Avainsanat|Paraules\s*clau|Λ[έε]ξεις\s*κλειδι[άα]"
    r"|الكلمات\s*المفتاحية|کلیدواژه(?:ها)?|واژه‌های\s*کلیدی|คำสำคัญ|मुख्य\s*शब्द"
)
_ABSTRACT_IEEE = re.compile(rf"(?:{_ABSTRACT_WORDS})\s*[—–-]", re.IGNORECASE)
_ABSTRACT = re.compile(rf"^\s*(?:{_ABSTRACT_WORDS})\b", re.IGNORECASE | re.MULTILINE)
_INDEX_TERMS = re.compile(rf"(?:{_KEYWORD_WORDS})\s*[—–:-]", re.IGNORECASE)
_KEYWORDS = re.compile(rf"^\s*(?:{_KEYWORD_WORDS})\b", re.IGNORECASE | re.MULTILINE)


def front_matter_marks(text: str) -> dict[str, bool]:
    """Which front-matter marks a first page's extracted text holds, in any listed language.

    ``{"abstract", "abstract_ieee_style", "index_terms", "keywords"}``: ``abstract_ieee_style``
    is the run-in "Abstract—" (or its translation, e.g. "Tóm tắt nội dung—", "Sažetak—");
    ``abstract`` also accepts the word as a heading; ``index_terms`` is a run-in keyword mark
    ("Index Terms—", "Keywords—", "Từ khóa—"); ``keywords`` also accepts it as a heading.
    Accents are dropped first (pdfTeX's T1 text extracts "č" as "ˇc").
    """
    marks = _unaccent(text)
    return {
        "abstract": bool(_ABSTRACT_IEEE.search(marks) or _ABSTRACT.search(marks)),
        "abstract_ieee_style": bool(_ABSTRACT_IEEE.search(marks)),
        "index_terms": bool(_INDEX_TERMS.search(marks)),
        "keywords": bool(_INDEX_TERMS.search(marks) or _KEYWORDS.search(marks)),
    }


class _PdfProblem(Exception):
    """A PDF that cannot be measured; ``kind`` is a short code for the report."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _open_reader(data: bytes) -> tuple[Any, bool]:
    """Open with pypdf non-strict; returns (reader, was_encrypted) or raises _PdfProblem."""
    import pypdf
    from pypdf.errors import PdfReadError

    if not data:
        raise _PdfProblem("empty", "the file is empty")
    if b"%PDF-" not in data[:1024]:
        raise _PdfProblem("not-pdf", "not a PDF (no %PDF header)")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        encrypted = bool(reader.is_encrypted)
        # An owner password alone (no user password) still lets anyone read the PDF.
        if encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
            raise _PdfProblem("encrypted", "encrypted with a password; cannot be opened")
        count = len(reader.pages)
    except _PdfProblem:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise _PdfProblem("damaged", f"damaged PDF: {_short(exc)}") from exc
    except Exception as exc:  # pypdf raises many types on malformed input
        raise _PdfProblem("damaged", f"damaged PDF: {_short(exc)}") from exc
    if count == 0:
        raise _PdfProblem("damaged", "the PDF has no pages")
    return reader, encrypted


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text[:200]


def _size_name(width: float, height: float, tolerance: float) -> str:
    """Name a page size ("letter", "a4", "letter-landscape", ...) or "other"."""
    for name, (w, h) in PAGE_SIZES.items():
        if abs(width - w) <= tolerance and abs(height - h) <= tolerance:
            return name
        if abs(width - h) <= tolerance and abs(height - w) <= tolerance:
            return f"{name}-landscape"
    return "other"


# PDFs that ship with a template, recognised by the title block of their first page (the
# first TEMPLATE_TITLE_CHARS characters): the class's guides and demo files (IEEEtran 1.8b:
# IEEEtran_HOWTO.pdf, IEEEtran_bst_HOWTO.pdf, bare_conf.pdf, bare_jrnl.pdf, ...), the IEEE Word
# template's sample and Overleaf's IEEE conference template (conference_101719.tex). Only the
# title block counts: students keep the template's file name or leave its guidance paragraph
# ("IEEE conference templates contain guidance text ...") in their own paper. Never the paper.
TEMPLATE_TITLE_CHARS = 400
_TEMPLATE_SIGNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"How\s*to\s*Use\s*the\s*IEEEtran", re.I), "the IEEEtran class's own guide"),
    (re.compile(r"Bare\s*Demo\s*of\s*IEEEtran", re.I), "an IEEEtran demo file (bare_*.tex)"),
    (re.compile(r"use\s*style:\s*paper\s*title", re.I), "the IEEE template's sample paper"),
    (re.compile(r"^\W*Conference\s*Paper\s*Title\b", re.I), "the IEEE template's sample paper"),
)
# A course's own handout (an assignment sheet with its due date) at the top of the first page.
_HANDOUT_SIGNS = (
    re.compile(
        r"\b(?:Assignment|Homework|Exercise|Problem\s*Set|Lab|Project|Übung|Aufgabenblatt)"
        r"\s*(?:#|No\.?|Nr\.?)?\s*\d+",
        re.I,
    ),
    re.compile(r"\b(?:Due(?:\s*date)?|Deadline|Abgabe(?:termin)?)\s*:", re.I),
)
HANDOUT_TOP_CHARS = 600


# pdfTeX with T1 fonts writes "č" as "ˇc" (a spacing caron before the letter): extracted text
# has the accents apart. They are dropped (and combined ones decomposed) before the marks are
# searched, whose patterns accept the plain letters.
_ACCENTS = re.compile("[\u00a8\u00af\u00b4\u00b8\u02c6-\u02dd\u0300-\u036f]")


def _unaccent(text: str) -> str:
    return unicodedata.normalize("NFC", _ACCENTS.sub("", unicodedata.normalize("NFKD", text)))


def _squash(text: str) -> str:
    # NFKC first: pdfTeX's "ﬁ" ligature must compare equal to the source's "fi".
    return re.sub(r"[^a-z0-9]+", "", unicodedata.normalize("NFKC", text).lower())


def _probe(data: bytes, titles: Sequence[str] = ()) -> JSONDict:
    """Cheap look for ranking: page count, first page shape, amount of text, IEEE signals.

    ``titles``: the ``\\title`` of the group's LaTeX sources, squashed to letters and digits;
    ``title_match`` says whether one of them is on the first page.
    """
    reader, _ = _open_reader(data)
    box = reader.pages[0].mediabox
    texts: list[str] = []
    for page in list(reader.pages)[:2]:
        try:
            texts.append(page.extract_text() or "")
        except Exception:  # noqa: S112 - a broken page is measured as having no text
            continue
    text = "".join(texts)
    plain = _unaccent(text)
    top = " ".join((texts[0] if texts else "").split())
    title_block = top[:TEMPLATE_TITLE_CHARS]
    template = next((label for sign, label in _TEMPLATE_SIGNS if sign.search(title_block)), "")
    handout = all(sign.search(top[:HANDOUT_TOP_CHARS]) for sign in _HANDOUT_SIGNS)
    first = _squash(texts[0][:5000]) if texts else ""
    return {
        "pages": len(reader.pages),
        "width": float(box.width),
        "height": float(box.height),
        "text_chars": len(re.sub(r"\s", "", text)),
        "ieee": bool(_ABSTRACT_IEEE.search(plain) or _INDEX_TERMS.search(plain)),
        "template": template,
        "handout": handout,
        "title_match": any(t and len(t) >= 8 and t in first for t in titles),
    }


def _matrix_scale(cm: list[float], tm: list[float]) -> tuple[float, float, float]:
    """Combine text and current matrices: (x, y, scale) of a text run in page space."""
    a = tm[0] * cm[0] + tm[1] * cm[2]
    b = tm[0] * cm[1] + tm[1] * cm[3]
    c = tm[2] * cm[0] + tm[3] * cm[2]
    d = tm[2] * cm[1] + tm[3] * cm[3]
    x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
    y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
    return x, y, math.sqrt(abs(a * d - b * c))


def _font_name(font: Any) -> str:
    if not font:
        return "?"
    name = str(font.get("/BaseFont") or font.get("/Name") or "?").lstrip("/")
    return _SUBSET.sub("", name)


def _fonts_of(resources: Any, found: dict[str, JSONDict], depth: int = 0) -> None:
    """Collect fonts of a resources dictionary, descending into form XObjects."""
    if depth > 4 or resources is None:
        return
    resources = resources.get_object()
    fonts = resources.get("/Font")
    if fonts is not None:
        for ref in fonts.get_object().values():
            font = ref.get_object()
            subtype = str(font.get("/Subtype", "?")).lstrip("/")
            name = _font_name(font) if subtype != "Type3" else f"Type3 {_font_name(font)}"
            descriptor = font.get("/FontDescriptor")
            if subtype == "Type0" and font.get("/DescendantFonts"):
                descendant = font["/DescendantFonts"].get_object()[0].get_object()
                descriptor = descendant.get("/FontDescriptor")
            embedded = subtype == "Type3"
            if descriptor is not None:
                descriptor = descriptor.get_object()
                embedded = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
            found[name] = {
                "name": name,
                "subtype": subtype,
                "embedded": embedded,
                "type3": subtype == "Type3",
            }
    xobjects = resources.get("/XObject")
    if xobjects is not None:
        for ref in xobjects.get_object().values():
            xobj = ref.get_object()
            if xobj.get("/Subtype") == "/Form":
                _fonts_of(xobj.get("/Resources"), found, depth + 1)


def _references(texts: list[str]) -> tuple[int | None, int]:
    """(1-based page of the last references heading, non-space chars before it on that page)."""
    found: tuple[int | None, int] = (None, 0)
    for index, text in enumerate(texts):
        before = 0
        for line in text.splitlines():
            key = re.sub(r"\s", "", _NUMBERING.sub("", line.strip())).upper()
            if key in _REF_HEADINGS:
                found = (index + 1, before)
                break
            before += len(re.sub(r"\s", "", line))
    return found


# The side margins are read at this quantile of all text lines' extents, not at the extreme:
# one overlong URL or formula running into the margin must not move them (a real 7-page IEEE
# paper measured a right margin of 20 pt from one reference URL, 49 pt for every other line).
SIDE_MARGIN_QUANTILE = 0.01


def _quantile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def _layout(data: bytes, count: int) -> tuple[JSONDict, JSONDict | None]:
    """Columns and margins from PDFium's text rectangles (exact line extents).

    Pages turned against the first page (a landscape table page in a portrait paper, rotated
    by ``/Rotate`` or laid out sideways) are left out: their text runs across the page's other
    axis.
    """
    import pypdfium2 as pdfium

    shares = {"left": 0.0, "right": 0.0, "spanning": 0.0}
    margins: dict[str, list[float]] = {"left": [], "right": [], "top": [], "bottom": []}
    doc = pdfium.PdfDocument(data)
    try:
        first_turn: tuple[int, bool] | None = None
        for index in range(min(count, len(doc))):
            page = doc[index]
            width, height = page.get_size()
            turn = (page.get_rotation() % 180, width > height)
            if first_turn is None:
                first_turn = turn
            elif turn != first_turn:
                continue
            textpage = page.get_textpage()
            rects = [textpage.get_rect(i) for i in range(textpage.count_rects())]
            rects = [r for r in rects if r[2] - r[0] > 1 and r[0] >= 0 and r[2] <= width]
            if not rects:
                continue
            middle, gap = width / 2, width * 0.02
            for left, _bottom, right, _top in rects:
                if left < middle - gap and right > middle + gap:
                    shares["spanning"] += right - left
                elif right <= middle + gap:
                    shares["left"] += right - left
                else:
                    shares["right"] += right - left
            margins["left"].extend(r[0] for r in rects)
            margins["right"].extend(width - r[2] for r in rects)
            margins["bottom"].append(min(r[1] for r in rects))
            margins["top"].append(height - max(r[3] for r in rects))
    finally:
        doc.close()
    total = sum(shares.values()) or 1.0
    frac = {k: round(v / total, 3) for k, v in shares.items()}
    columns = 0
    if frac["spanning"] >= 0.5:
        columns = 1
    elif frac["left"] >= 0.2 and frac["right"] >= 0.2 and frac["spanning"] <= 0.3:
        columns = 2
    column_facts: JSONDict = {"columns": columns, **frac}
    if not margins["left"]:
        return column_facts, None
    # Top and bottom: the text's bounding box over all pages (a short last page must not widen
    # them); the sides: a low quantile of every line's extent (see SIDE_MARGIN_QUANTILE).
    box = {
        "left": round(_quantile(margins["left"], SIDE_MARGIN_QUANTILE), 1),
        "right": round(_quantile(margins["right"], SIDE_MARGIN_QUANTILE), 1),
        "top": round(min(margins["top"]), 1),
        "bottom": round(min(margins["bottom"]), 1),
    }
    return column_facts, dict(box)


def _measure(data: bytes, max_analysed_pages: int, size_tolerance: float) -> JSONDict:
    """Measure everything the paper checks need; raises _PdfProblem for unreadable PDFs."""
    reader, encrypted = _open_reader(data)
    count = len(reader.pages)
    analysed = min(count, max_analysed_pages)
    sizes: list[JSONValue] = []
    texts: list[str] = []
    fonts: dict[str, JSONDict] = {}
    chars: Counter[tuple[str, float]] = Counter()
    first_runs: list[tuple[float, float, str]] = []
    page_errors = 0
    first_size, turned = "", 0
    for index in range(analysed):
        try:
            page = reader.pages[index]
            box = page.mediabox
            width, height = float(box.width), float(box.height)
            if int(page.get("/Rotate", 0) or 0) % 180:
                width, height = height, width
            name = _size_name(width, height, size_tolerance)
            if sizes and name.endswith("-landscape") and first_size == name[: -len("-landscape")]:
                # A page turned for a wide table in a portrait paper: the paper is still that
                # size (IEEEtran with pdflscape; Word's landscape sections).
                name, turned = first_size, turned + 1
            if not sizes:
                first_size = name
            sizes.append({"width_pt": round(width, 1), "height_pt": round(height, 1), "name": name})
            runs: list[tuple[float, float, str]] = []

            def visit(text: str, cm: Any, tm: Any, font: Any, size: float, r: Any = runs) -> None:
                stripped = re.sub(r"\s", "", text)
                if not stripped:
                    return
                _x, y, scale = _matrix_scale(list(cm), list(tm))
                effective = round(float(size) * scale, 1)
                chars[(_font_name(font), effective)] += len(stripped)
                r.append((effective, y, text))

            texts.append(page.extract_text(visitor_text=visit) or "")
            if index == 0:
                first_runs = runs
            _fonts_of(page.get("/Resources"), fonts)
        except Exception:
            page_errors += 1
            texts.append("")
    references_page, before = _references(texts)
    body_font, body_size, body_share = None, None, 0.0
    total_chars = sum(chars.values())
    if chars:
        by_font: Counter[str] = Counter()
        for (name, _size), n in chars.items():
            by_font[name] += n
        body_font = by_font.most_common(1)[0][0]
        body_size = Counter(
            {s: n for (name, s), n in chars.items() if name == body_font}
        ).most_common(1)[0][0]
        body_share = round(by_font[body_font] / total_chars, 3)
    first = texts[0] if texts else ""
    title, title_size = "", 0.0
    if first_runs:
        title_size = max(r[0] for r in first_runs)
        title = " ".join(r[2].strip() for r in first_runs if r[0] == title_size)[:200]
    try:
        columns, margins = _layout(data, analysed)
    except Exception as exc:
        columns, margins = {"columns": 0, "error": _short(exc)}, None
    return {
        "pages": count,
        "analysed_pages": analysed,
        "encrypted": encrypted,
        "page_errors": page_errors,
        "references_page": references_page,
        "chars_before_references": before,
        "page_sizes": sizes,
        "turned_pages": turned,
        "text_chars": total_chars,
        "body_font": body_font,
        "body_font_size": body_size,
        "body_font_share": body_share,
        "fonts": [fonts[k] for k in sorted(fonts)],
        "columns": columns,
        "margins": margins,
        "front_matter": {
            "title": title,
            "title_font_size": title_size,
            **front_matter_marks(first),
        },
    }


def _png(width: int, height: int, stride: int, pixels: bytes) -> bytes:
    """Encode 8-bit RGB rows as a PNG (no Pillow dependency for thumbnails)."""
    rows = b"".join(b"\x00" + pixels[y * stride : y * stride + width * 3] for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def _render(data: bytes, out_dir: Path, max_pages: int, width_px: int) -> list[str]:
    """Render the first pages as small PNG files; returns their file names."""
    import pypdfium2 as pdfium

    names: list[str] = []
    doc = pdfium.PdfDocument(data)
    try:
        for index in range(min(max_pages, len(doc))):
            page = doc[index]
            width, height = page.get_size()
            if width <= 0 or height <= 0:
                continue
            # Tall strips must not become huge images: cap the height at 4 widths.
            scale = min(width_px / width, 4 * width_px / height)
            bitmap = page.render(scale=scale, rev_byteorder=True)
            if bitmap.n_channels != 3:
                continue
            data_png = _png(bitmap.width, bitmap.height, bitmap.stride, bytes(bitmap.buffer))
            name = f"page-{index + 1:02d}.png"
            (out_dir / name).write_bytes(data_png)
            names.append(name)
    finally:
        doc.close()
    return names


# ---------------------------------------------------------------- ranking (parent and child)


def _num(value: JSONValue) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _content_score(probe: Mapping[str, JSONValue]) -> tuple[float, str]:
    """Score a PDF's look: slides are landscape, figures are one page with little text."""
    if probe.get("error_kind") == OVERTIME:
        return 0.0, OVERTIME_NOTE
    if "error_kind" in probe:
        return 0.0, f"could not be read ({probe.get('error_kind')})"
    width, height = _num(probe.get("width")), _num(probe.get("height"))
    pages, text = int(_num(probe.get("pages"))), int(_num(probe.get("text_chars")))
    score, notes = 0.0, [f"{pages} page(s)"]
    if width > height * 1.05:
        score -= 6.0
        notes.append("landscape pages (slides?)")
    if pages == 1 and text < 500:
        score -= 5.0
        notes.append("one page with little text (figure?)")
    elif text < 200:
        score -= 3.0
        notes.append("little text")
    elif pages >= 2 and text >= 2000:
        score += 2.0
        notes.append("text body")
    if probe.get("ieee") is True:
        score += 2.0
        notes.append("IEEE front matter")
    template = probe.get("template")
    if isinstance(template, str) and template:
        score -= 30.0
        notes.append(f"{template}: ships with the template, never the paper")
    if probe.get("handout") is True:
        score -= 8.0
        notes.append("a course handout (an assignment and its due date at the top)")
    if probe.get("title_match") is True:
        score += 4.0
        notes.append("the title of the group's LaTeX source is on its first page")
    return score, ", ".join(notes)


def _rank(
    candidates: Sequence[PaperCandidate], probes: Mapping[str, Mapping[str, JSONValue]]
) -> tuple[PaperCandidate, ...]:
    """Add the content score to the path score; best first."""
    ranked = []
    for c in candidates:
        if c.path in probes:
            extra, note = _content_score(probes[c.path])
            reason = "; ".join(r for r in (c.reason, note) if r)
            c = PaperCandidate(c.path, round(c.score + extra, 2), reason, c.kind)
        elif c.kind == "file":
            note = "not opened (more PDFs than the search opens in its time or count budget)"
            c = PaperCandidate(c.path, c.score, "; ".join(r for r in (c.reason, note) if r))
        ranked.append(c)

    def group(c: PaperCandidate) -> int:
        if c.score < 0:
            return 3
        if probes.get(c.path, {}).get("error_kind") == OVERTIME:
            return 2  # after the unopened ones: it would not be measured in time either
        return 1 if c.kind == "file" and c.path not in probes else 0

    ranked.sort(key=lambda c: (group(c), -c.score, c.path))
    return tuple(ranked)


# ---------------------------------------------------------------- child process


def _run_child(request: JSONDict, timeout_s: float) -> JSONDict:
    """Run one request in ``python -m repograder.paper``; grader-side failures become data."""
    # -P: the current folder must not shadow pypdf or repograder with a planted module.
    command = [sys.executable, "-P", "-m", "repograder.paper"]
    try:
        proc = subprocess.run(
            command,
            input=json.dumps(request).encode(),
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error_kind": "timeout", "error": f"reading took longer than {timeout_s:g} s"}
    except OSError as exc:
        return {"error_kind": "crash", "error": f"could not start the PDF reader: {exc}"}
    if proc.returncode != 0:
        if b"MemoryError" in proc.stderr or b"memory" in proc.stderr[-500:].lower():
            return {"error_kind": "memory", "error": "reading needed more memory than allowed"}
        if proc.returncode in (-signal.SIGABRT, -signal.SIGKILL, -signal.SIGSEGV):
            # A native allocation failing under the address-space rlimit aborts without a
            # Python MemoryError: the usual end of a decompression bomb.
            name = signal.Signals(-proc.returncode).name
            return {
                "error_kind": "memory",
                "error": f"the PDF reader was stopped by {name}: probably more memory than the "
                f"{MEMORY_BYTES >> 20} MB allowed (a compressed stream that inflates hugely?)",
            }
        return {"error_kind": "crash", "error": f"the PDF reader died (exit {proc.returncode})"}
    try:
        result = json.loads(proc.stdout[:MAX_CHILD_OUTPUT])
    except ValueError:
        return {"error_kind": "crash", "error": "the PDF reader gave no answer"}
    return result if isinstance(result, dict) else {"error_kind": "crash", "error": "bad answer"}


def _child_read(root: Path, rel: str, max_bytes: int) -> bytes:
    data = fsutil.read_bytes(root, rel, max_bytes + 1)
    if data is None:
        raise _PdfProblem("refused", "not a regular file inside the repository")
    if len(data) > max_bytes:
        raise _PdfProblem("too-large", f"larger than {max_bytes} bytes")
    return data


def _guarded(work: Any) -> JSONDict:
    """Run ``work()`` turning every failure into an error answer."""
    try:
        result: JSONDict = work()
        return result
    except _PdfProblem as exc:
        return {"error_kind": exc.kind, "error": str(exc)}
    except MemoryError:
        return {"error_kind": "memory", "error": "reading needed more memory than allowed"}
    except RecursionError:
        return {"error_kind": "damaged", "error": "damaged PDF: objects nested too deeply"}
    except Exception as exc:
        return {"error_kind": "damaged", "error": f"damaged PDF: {_short(exc)}"}


OVERTIME = "overtime"
OVERTIME_NOTE = "opening took longer than the search's time budget"


class _Overtime(BaseException):
    """The probe budget ended; a BaseException so pypdf's ``except Exception`` cannot eat it."""


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Raise :class:`_Overtime` in this (main) thread after ``seconds`` of wall-clock time."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only; the child's time limit still holds
        return

    def ring(signum: int, frame: object) -> None:
        raise _Overtime

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _child(request: Mapping[str, Any]) -> JSONDict:
    """Serve one request inside the child: probe, inspect or render."""
    root = Path(str(request["root"]))
    max_bytes = int(request["max_bytes"])
    op = request["op"]
    if op == "render":
        out_dir = Path(str(request["out_dir"]))
        return _guarded(
            lambda: {
                "files": _render(
                    _child_read(root, str(request["path"]), max_bytes),
                    out_dir,
                    int(request["max_pages"]),
                    int(request["width_px"]),
                )
            }
        )
    candidates = [PaperCandidate(*c) for c in request["candidates"]]
    limit = int(request.get("probe_limit", MAX_PROBED))
    readable = [c for c in candidates if c.kind == "file"][: max(0, min(limit, MAX_PROBED))]
    titles = [str(t) for t in request.get("titles", [])][:20]
    # Opening stops after the budget (a share of the child's time limit), so that many large
    # PDFs leave the rest unopened (ranked after the opened ones) instead of timing out the
    # whole search.
    budget = float(request.get("probe_budget_s", 30.0))
    started = time.monotonic()
    probes: dict[str, JSONDict] = {}
    for c in readable:
        remaining = budget - (time.monotonic() - started)
        if remaining <= 0:
            break
        try:
            # One PDF that is slow to open (a hostile content stream) is stopped at the end of
            # the budget, not at the child's time limit, which would lose the whole search.
            with _alarm(remaining):
                probes[c.path] = _guarded(
                    lambda c=c: _probe(_child_read(root, c.path, max_bytes), titles)
                )
        except _Overtime:
            probes[c.path] = {"error_kind": OVERTIME, "error": OVERTIME_NOTE}
            break
    ranked = _rank(candidates, probes)
    answer: JSONDict = {"candidates": [[c.path, c.score, c.reason, c.kind] for c in ranked]}
    if op == "inspect" and ranked and ranked[0].score >= 0 and ranked[0].kind == "file":
        path = ranked[0].path
        answer["measured"] = _guarded(
            lambda: _measure(
                _child_read(root, path, max_bytes), MAX_ANALYSED_PAGES, SIZE_TOLERANCE_PT
            )
        )
    return answer


def _child_main() -> int:
    """Entry point of the child: limits first, then one JSON request from stdin."""
    import logging
    import resource
    import warnings

    request = json.loads(sys.stdin.buffer.read(1_000_000))
    memory = int(request.get("memory_bytes", MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(request.get("cpu_s", 120))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    logging.disable(logging.CRITICAL)  # pypdf logs every repaired object
    warnings.simplefilter("ignore")
    sys.setrecursionlimit(2000)
    answer = _child(request)
    sys.stdout.write(json.dumps(answer))
    return 0


# ---------------------------------------------------------------- public API


def _parse_candidates(
    raw: JSONValue, fallback: Sequence[PaperCandidate]
) -> tuple[PaperCandidate, ...]:
    if not isinstance(raw, list):
        return tuple(fallback)
    out = []
    for item in raw:
        if isinstance(item, list) and len(item) == 4:
            path, score, reason, kind = item
            if isinstance(path, str) and isinstance(score, int | float):
                out.append(PaperCandidate(path, float(score), str(reason), str(kind)))
    return tuple(out)


def _request(op: str, root: Path, max_bytes: int, memory_bytes: int, timeout_s: float) -> JSONDict:
    return {
        "op": op,
        "root": str(root),
        "max_bytes": max_bytes,
        "memory_bytes": memory_bytes,
        "cpu_s": int(timeout_s) + 5,
    }


def _search(
    op: str,
    root: Path,
    globs: Sequence[str] | None,
    lfs_pointers: Sequence[str],
    timeout_s: float,
    max_bytes: int,
    memory_bytes: int,
) -> tuple[tuple[PaperCandidate, ...], JSONDict]:
    by_path = find_candidates(root, globs, lfs_pointers)
    if not by_path:
        return (), {}
    request = _request(op, root, max_bytes, memory_bytes, timeout_s)
    request["probe_budget_s"] = timeout_s * PROBE_BUDGET_SHARE
    request["candidates"] = [[c.path, c.score, c.reason, c.kind] for c in by_path]
    request["titles"] = [_squash(t) for t in tex_titles(root)]
    answer = _run_child(request, timeout_s)
    if "error_kind" in answer and op == "inspect":
        # The child failed as a whole (timeout, memory): blame the best path candidate.
        return tuple(by_path), {"measured": answer}
    return _parse_candidates(answer.get("candidates"), by_path), answer


def _status_of(best: PaperCandidate | None) -> str:
    if best is None:
        return NONE
    return {"symlink": REFUSED, "lfs-pointer": LFS_POINTER}.get(best.kind, FOUND)


def find_paper(
    root: Path,
    globs: Sequence[str] | None = None,
    lfs_pointers: Sequence[str] = (),
    timeout_s: float = 60,
    max_bytes: int = 50_000_000,
) -> tuple[PaperCandidate | None, tuple[PaperCandidate, ...], str]:
    """(chosen, all candidates best first, status); status as in PaperFacts.status."""
    ranked, _ = _search("probe", root, globs, lfs_pointers, timeout_s, max_bytes, MEMORY_BYTES)
    best = ranked[0] if ranked and ranked[0].score >= 0 else None
    status = _status_of(best)
    if best is None and find_tex_sources(root):
        status = SOURCE_ONLY
    return best, ranked, status


def inspect_paper(
    root: Path,
    globs: Sequence[str] | None = None,
    lfs_pointers: Sequence[str] = (),
    timeout_s: float = 60,
    max_bytes: int = 50_000_000,
    memory_bytes: int = MEMORY_BYTES,
) -> PaperFacts:
    """Find the paper and measure it; never raises on bad student files."""
    ranked, answer = _search(
        "inspect", root, globs, lfs_pointers, timeout_s, max_bytes, memory_bytes
    )
    best = ranked[0] if ranked and ranked[0].score >= 0 else None
    status = _status_of(best)
    if best is None:
        sources = find_tex_sources(root)
        others = find_other_forms(root)
        if sources:
            src = sources[0]
            message = f"{src.path} is LaTeX source ({src.document_class}) only, no PDF"
            message += "".join(f"; {o}" for o in others)
            return PaperFacts(SOURCE_ONLY, message, src.path, ranked)
        message = "no paper PDF found"
        if ranked:
            message += "; the PDFs found look like figures, slides, handouts or cited papers"
        message += "".join(f"; {o}" for o in others)
        return PaperFacts(NONE, message, None, ranked)
    if status == REFUSED:
        return PaperFacts(REFUSED, f"{best.path}: {best.reason.split('; ')[-1]}", best.path, ranked)
    if status == LFS_POINTER:
        message = f"{best.path} is a Git LFS pointer, not the PDF (LFS content was not fetched)"
        return PaperFacts(LFS_POINTER, message, best.path, ranked)
    size = fsutil.file_size(root, best.path)
    measured = answer.get("measured")
    if size is not None and size > max_bytes:
        measured = {"error_kind": "too-large", "error": f"{size} bytes, more than {max_bytes}"}
    if not isinstance(measured, dict) or "error_kind" in measured:
        raw = measured if isinstance(measured, dict) else {}
        kind = str(raw.get("error_kind", "crash"))
        error = str(raw.get("error", "no answer from the PDF reader"))
        return PaperFacts(UNREADABLE, f"{best.path}: {error}", best.path, ranked, kind, size)
    base = PaperFacts(FOUND, f"found {best.path}", best.path, ranked, file_bytes=size)
    return measured_facts(measured, base)


def measure_paper(
    root: Path,
    rel: str,
    timeout_s: float = 60,
    max_bytes: int = 50_000_000,
    memory_bytes: int = MEMORY_BYTES,
) -> PaperFacts:
    """Measure the PDF at ``rel`` (repo-relative) as the paper, without ranking candidates.

    For a path that a person chose (a benchmark label, a lecturer's override). Same limits
    and statuses as :func:`inspect_paper`; never raises on bad student files.
    """
    chosen = PaperCandidate(rel, 100.0, "named as the paper")
    if fsutil.file_size(root, rel) is None:
        return PaperFacts(NONE, f"{rel}: not a regular file inside the repository", rel)
    request = _request("inspect", root, max_bytes, memory_bytes, timeout_s)
    request["candidates"] = [[chosen.path, chosen.score, chosen.reason, chosen.kind]]
    request["probe_limit"] = 0
    answer = _run_child(request, timeout_s)
    measured = answer.get("measured", answer)
    if not isinstance(measured, dict) or "error_kind" in measured:
        raw = measured if isinstance(measured, dict) else {}
        error = str(raw.get("error", "no answer from the PDF reader"))
        kind = str(raw.get("error_kind", "crash"))
        return PaperFacts(UNREADABLE, f"{rel}: {error}", rel, (chosen,), kind)
    base = PaperFacts(
        FOUND, f"measured {rel}", rel, (chosen,), file_bytes=fsutil.file_size(root, rel)
    )
    return measured_facts(measured, base)


def render_thumbnails(
    root: Path,
    facts: PaperFacts,
    out_dir: Path,
    max_pages: int = 6,
    width_px: int = 300,
    timeout_s: float = 60,
) -> list[Path]:
    """Render the paper's first pages as PNGs into ``out_dir``; [] on any failure."""
    if facts.status != FOUND or not facts.path:
        return []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        return []
    request = _request("render", root, 50_000_000, MEMORY_BYTES, timeout_s)
    request.update(
        {
            "path": facts.path,
            "out_dir": str(out_dir),
            "max_pages": max(0, min(max_pages, 50)),
            "width_px": max(16, min(width_px, 2000)),
        }
    )
    answer = _run_child(request, timeout_s)
    files = answer.get("files")
    if not isinstance(files, list):
        return []
    names = [f for f in files if isinstance(f, str) and re.fullmatch(r"page-\d+\.png", f)]
    return [out_dir / n for n in names if (out_dir / n).is_file()]


if __name__ == "__main__":
    sys.exit(_child_main())
