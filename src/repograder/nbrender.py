"""Render an executed notebook (untrusted JSON written by the sandbox) to inert HTML, host side.

HTML renders keep text, tracebacks and PNG/JPEG images; student HTML, JavaScript, SVG and widget
outputs are replaced by a note, the whole body goes through an allowlist sanitiser, and the page
carries a Content-Security-Policy that forbids scripts and remote loads. nbconvert and bleach run
in a limited process of its own per page (``childproc``).
"""

from __future__ import annotations

import base64
import binascii
import html
import importlib
import json
import re
import struct
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

EXECUTED_MAX_BYTES = 24 * 1024 * 1024  # the executor caps its copy at 20 MB
TEXT_OUTPUT_CAP = 32 * 1024
IMAGE_CAP = 2 * 1024 * 1024
# Host-side rendering bounds (kind 2b of issue 15: a 2.2 MB notebook took 114 s and 1.16 GB,
# 20 000 small outputs 60 s). Measured on the development machine: nbconvert validates every
# output and bleach tokenises every character, about 10 ms per output and 30 s per MB.
RENDER_MAX_CELLS = 500
RENDER_MAX_OUTPUTS = 300
RENDER_MAX_CHARS = 200_000
RENDER_TIMEOUT_S = 60.0
RENDER_MEMORY_BYTES = 1536 << 20
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _nonneg_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


# ---------------------------------------------------------------------------------------------
# HTML rendering (host side; the input is untrusted JSON written by the sandbox)


def render_notebook_html(raw: bytes, title: str) -> str | None:
    """Render an executed notebook (untrusted bytes) to a self-contained, script-free page.

    The rendering (nbconvert, bleach) runs in a process of its own (``childproc``) limited to
    :data:`RENDER_MEMORY_BYTES` of address space and :data:`RENDER_TIMEOUT_S`; what it renders
    is already bounded by :func:`_safe_cells` (cells, outputs, characters). When the child
    fails, the page shows the same bounded cells as escaped plain text. Returns None when
    ``raw`` is not a notebook at all.
    """
    cells = _parse_cells(raw)
    if cells is None:
        return None
    body = _render_in_child(raw)
    if body is None or not _is_inert(body):  # defence in depth: never ship a live element
        body = _plain_body(cells)
    return _page(title, body)


def _parse_cells(raw: bytes) -> tuple[_Cell, ...] | None:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return None
    return _safe_cells(data["cells"])


def _render_body(raw: bytes) -> str | None:
    """The sanitised HTML body of a notebook (in the child); None when it cannot be built."""
    cells = _parse_cells(raw)
    if cells is None:
        return None
    try:
        return _sanitize(_export(cells))
    except Exception:  # any exporter failure falls back to plain text
        return None


def _render_in_child(raw: bytes) -> str | None:
    # A process of its own per page, forked from a zygote that imported the renderer once.
    from repograder import childproc

    request = _MEMORY.pack(RENDER_MEMORY_BYTES) + raw
    try:
        done = childproc.run(__name__, request, RENDER_TIMEOUT_S)
    except (childproc.Late, OSError):
        return None
    if done.returncode != 0 or not done.stdout:
        return None
    return done.stdout.decode("utf-8", "replace")


_MEMORY = struct.Struct("!Q")


def child_serve(request: bytes) -> bytes:
    """In a page's own process (``childproc``): the request is ``!Q`` address-space limit +
    the notebook; limits first, then :func:`_render_body`; the body, or b"" when none."""
    import resource

    (memory,) = _MEMORY.unpack(request[: _MEMORY.size])
    raw = request[_MEMORY.size :]
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(RENDER_TIMEOUT_S) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    if len(raw) > EXECUTED_MAX_BYTES:
        return b""
    body = _render_body(raw)
    return b"" if body is None else body.encode("utf-8")


_WARM_UP_NOTEBOOK = json.dumps(
    {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "# *warm-up*"},
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": 1,
                "source": "print(1)",
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "1\n"}],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
).encode()


def child_preload() -> None:
    """Import everything a render needs by rendering a tiny notebook (the zygote, once)."""
    _render_body(_WARM_UP_NOTEBOOK)


@dataclass(frozen=True)
class _Output:
    kind: str  # "stream", "error", "data"
    text: str = ""
    name: str = "stdout"
    image_mime: str = ""
    image_b64: str = ""


@dataclass(frozen=True)
class _Cell:
    kind: str  # "markdown", "code"
    source: str
    outputs: tuple[_Output, ...] = ()
    execution_count: int | None = None


def _text(value: object, cap: int = TEXT_OUTPUT_CAP) -> str:
    if isinstance(value, list):
        value = "".join(v for v in value if isinstance(v, str))
    text = value if isinstance(value, str) else ""
    if len(text) > cap:
        text = text[: cap // 2] + "\n[... output shortened ...]\n" + text[-cap // 2 :]
    return text


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_B64 = re.compile(r"[A-Za-z0-9+/=\s]+")
_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}


def _valid_image(mime: str, value: object) -> str | None:
    if not isinstance(value, str) or len(value) > IMAGE_CAP or not _B64.fullmatch(value):
        return None
    compact = re.sub(r"\s+", "", value)
    try:
        decoded = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    return compact if decoded.startswith(_MAGIC[mime]) else None


def _safe_outputs(outputs: object) -> tuple[_Output, ...]:
    kept: list[_Output] = []
    for output in outputs if isinstance(outputs, list) else []:
        if not isinstance(output, dict):
            continue
        kind = output.get("output_type")
        if kind == "stream":
            name = "stderr" if output.get("name") == "stderr" else "stdout"
            text = _text(output.get("text"))
            if kept and kept[-1].kind == "stream" and kept[-1].name == name:
                # Jupyter shows consecutive prints as one block; 20 000 tiny outputs are one.
                text = _text(kept[-1].text + text)
                kept.pop()
            kept.append(_Output("stream", text, name=name))
        elif kind == "error":
            lines = output.get("traceback")
            tb = (
                "\n".join(x for x in lines if isinstance(x, str)) if isinstance(lines, list) else ""
            )
            text = tb or f"{_text(output.get('ename'))}: {_text(output.get('evalue'))}"
            kept.append(_Output("error", _text(_ANSI.sub("", text))))
        elif kind in ("display_data", "execute_result"):
            data = output.get("data")
            if not isinstance(data, dict):
                continue
            image = next(
                (
                    (mime, b64)
                    for mime in ("image/png", "image/jpeg")
                    if (b64 := _valid_image(mime, data.get(mime))) is not None
                ),
                None,
            )
            if image is not None:  # its text/plain twin is only "<Figure ...>"
                kept.append(_Output("data", image_mime=image[0], image_b64=image[1]))
                continue
            hidden = sorted(str(m)[:60] for m in data if m != "text/plain")
            text = _text(data.get("text/plain"))
            if hidden:
                note = f"[{', '.join(hidden)} output not shown in the report]"
                text = f"{text}\n{note}" if text else note
            if text:
                kept.append(_Output("data", text))
    return tuple(kept)


def _safe_cells(cells: list[object]) -> tuple[_Cell, ...]:
    """The cells worth showing, bounded: RENDER_MAX_CELLS cells, RENDER_MAX_OUTPUTS outputs
    and RENDER_MAX_CHARS characters in all; what is left out is named in a last cell."""
    safe: list[_Cell] = []
    outputs_left = RENDER_MAX_OUTPUTS
    chars_left = RENDER_MAX_CHARS
    omitted = 0
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        if len(safe) >= RENDER_MAX_CELLS or chars_left <= 0:
            omitted += 1
            continue
        source = _text(cell.get("source"), cap=min(200_000, chars_left))
        chars_left -= len(source)
        kind = cell.get("cell_type")
        if kind == "markdown":
            safe.append(_Cell("markdown", source))
        elif kind == "code":
            count = _nonneg_int(cell.get("execution_count"))
            outputs = _safe_outputs(cell.get("outputs"))
            kept = outputs[: max(outputs_left, 0)]
            kept = tuple(o for o in kept if (chars_left := chars_left - len(o.text)) > 0)
            if len(kept) < len(outputs):
                note = f"[... {len(outputs) - len(kept)} outputs not shown in the report ...]"
                kept += (_Output("stream", note),)
            outputs_left -= len(kept)
            safe.append(_Cell("code", source, kept, count))
        else:  # raw and unknown cells are shown as literal text, never as HTML
            fence = "`" * max(3, _longest_backtick_run(source) + 1)
            safe.append(_Cell("markdown", f"{fence}text\n{source}\n{fence}"))
    if omitted:
        safe.append(_Cell("markdown", f"*{omitted} more cells are not shown in the report.*"))
    return tuple(safe)


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in re.findall(r"`+", text)), default=0)


def _export(cells: tuple[_Cell, ...]) -> str:
    """Build a fresh notebook from the checked cells and export its body with nbconvert."""
    # Both libraries are untyped; keep them behind Any-typed module handles.
    v4: Any = importlib.import_module("nbformat.v4")
    nbconvert: Any = importlib.import_module("nbconvert")

    nb_cells = []
    for cell in cells:
        if cell.kind == "markdown":
            nb_cells.append(v4.new_markdown_cell(cell.source))
            continue
        outputs = []
        for out in cell.outputs:
            if out.kind == "stream":
                outputs.append(v4.new_output("stream", name=out.name, text=out.text))
            elif out.kind == "error":
                outputs.append(v4.new_output("stream", name="stderr", text=out.text))
            elif out.image_mime:
                outputs.append(v4.new_output("display_data", data={out.image_mime: out.image_b64}))
            else:
                outputs.append(v4.new_output("display_data", data={"text/plain": out.text}))
        nb_cells.append(
            v4.new_code_cell(cell.source, outputs=outputs, execution_count=cell.execution_count)
        )
    nb = v4.new_notebook(
        cells=nb_cells,
        metadata={"language_info": {"name": "python", "pygments_lexer": "ipython3"}},
    )
    exporter = nbconvert.HTMLExporter(template_name="basic", exclude_anchor_links=True)
    body, _ = exporter.from_notebook_node(nb)
    return str(body)


_ALLOWED_TAGS = frozenset(
    [
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "caption",
        "code",
        "col",
        "colgroup",
        "dd",
        "del",
        "details",
        "div",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "kbd",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        "samp",
        "small",
        "span",
        "strong",
        "sub",
        "summary",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "u",
        "ul",
    ]
)
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=]*\Z")


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name in ("class", "id", "title"):
        return True
    if tag == "a" and name == "href":
        return re.match(r"(https?:|mailto:|#)", value.strip(), re.IGNORECASE) is not None
    if tag == "img":
        if name == "src":
            return _DATA_IMAGE.match(value.strip()) is not None
        return name in ("alt", "width", "height")
    if tag in ("td", "th"):
        return name in ("colspan", "rowspan", "align")
    return False


def _sanitize(body: str) -> str:
    """Allowlist sanitiser over the whole exported body: unknown tags become visible text."""
    import bleach  # type: ignore[import-untyped]

    cleaned = bleach.clean(
        body,
        tags=_ALLOWED_TAGS,
        attributes=_allowed_attribute,
        protocols=["http", "https", "mailto", "data"],
        strip=False,
        strip_comments=True,
    )
    return str(cleaned)


_FORBIDDEN_TAGS = frozenset(
    [
        "script",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "base",
        "form",
        "input",
        "button",
        "link",
        "meta",
        "style",
        "svg",
        "math",
        "template",
        "noscript",
        "portal",
        "textarea",
        "select",
    ]
)


class _LiveElementFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.live = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _FORBIDDEN_TAGS:
            self.live = True
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "srcdoc", "formaction"):
                self.live = True
            if name in ("href", "src", "action") and value is not None:
                scheme = re.sub(r"[\s\x00-\x1f]+", "", value).lower()
                if scheme.startswith(("javascript:", "vbscript:", "data:text")):
                    self.live = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def _is_inert(fragment: str) -> bool:
    """True when the HTML fragment holds no script, event handler or active element."""
    finder = _LiveElementFinder()
    finder.feed(fragment)
    finder.close()
    return not finder.live


def _plain_body(cells: tuple[_Cell, ...]) -> str:
    parts: list[str] = []
    for cell in cells:
        parts.append(f'<pre class="source {cell.kind}">{html.escape(cell.source)}</pre>')
        for out in cell.outputs:
            if out.text:
                parts.append(f'<pre class="output">{html.escape(out.text)}</pre>')
    return "\n".join(parts)


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 1rem auto; padding: 0 1rem; }
pre { white-space: pre-wrap; word-break: break-word; margin: 0.2rem 0; }
.input_area, pre.source { background: #f5f5f5; border: 1px solid #ddd; padding: 0.4rem; }
.prompt { color: #888; font-size: 0.8rem; }
.output_stderr, .output_error { background: #fdd; }
img { max-width: 100%; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 0.2rem 0.4rem; }
"""


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n<h1>{html.escape(title)}</h1>\n{body}\n</body>\n</html>\n"
    )
