"""Measuring one PDF with pypdf and pypdfium2: pages, references, page sizes, fonts, columns,
margins, front matter, a quick content probe for ranking, and PNG thumbnails.

Runs only inside the limited child process of :mod:`repograder.paper` (never on the host's
own interpreter state): these functions parse untrusted bytes. With :mod:`repograder.paper`,
the only modules that touch pypdf and pypdfium2.
"""

from __future__ import annotations

import io
import math
import re
import struct
import unicodedata
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from repograder.model import JSONDict, JSONValue

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
    """Encode 8-bit RGB rows as a PNG (no Pillow dependency for thumbnails).

    zlib's default level (6): on a 300-px page of the bundled IEEE paper level 9 took 3-5× as
    long (15 ms against 5 ms at 200 px, 61 against 13 ms at 400 px) for 1-2 % fewer bytes, and
    the thumbnails are made for every group of every run."""
    rows = b"".join(b"\x00" + pixels[y * stride : y * stride + width * 3] for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 6))
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
