"""Find the group's IEEE paper, measure it, and render thumbnails.

With :mod:`repograder.paper_measure` (the measuring itself), the only modules that touch pypdf
and pypdfium2. Student PDFs are untrusted: every parse runs in a process of its own
(``childproc``: forked from a zygote that imported pypdf once) with a wall-clock timeout and a
memory rlimit, so a PDF bomb or a parser crash becomes an "unreadable" status instead of a hung
or dead grader. Only JSON with numbers and short strings comes back. This module ranks the
candidates and runs the child.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
import signal
import sys
import threading
import time
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
from repograder.paper_measure import HANDOUT_TOP_CHARS as HANDOUT_TOP_CHARS
from repograder.paper_measure import PAGE_SIZES as PAGE_SIZES
from repograder.paper_measure import SIDE_MARGIN_QUANTILE as SIDE_MARGIN_QUANTILE
from repograder.paper_measure import TEMPLATE_TITLE_CHARS as TEMPLATE_TITLE_CHARS
from repograder.paper_measure import _measure, _PdfProblem, _probe, _render, _short, _squash
from repograder.paper_measure import front_matter_marks as front_matter_marks

__all__ = [
    "DEFAULT_GLOBS",
    "ColumnFacts",
    "FontFacts",
    "FrontMatter",
    "Margins",
    "PageSize",
    "PaperCandidate",
    "PaperFacts",
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
    """Run one request in a process of its own (``childproc``: forked from a zygote that
    imported pypdf once); grader-side failures become data."""
    from repograder import childproc

    try:
        proc = childproc.run(__name__, json.dumps(request).encode(), timeout_s)
    except childproc.Late:
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


def child_preload() -> None:
    """The zygote's imports (``childproc``): pypdf, the slow one; pypdfium2 initialises its
    native library on import, so each request's process imports it itself."""
    importlib.import_module("pypdf")


def child_serve(raw: bytes) -> bytes:
    """In a request's own process (``childproc``): limits first, then the JSON request."""
    import logging
    import resource
    import warnings

    request = json.loads(raw[:1_000_000])
    memory = int(request.get("memory_bytes", MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(request.get("cpu_s", 120))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    logging.disable(logging.CRITICAL)  # pypdf logs every repaired object
    warnings.simplefilter("ignore")
    sys.setrecursionlimit(2000)
    return json.dumps(_child(request)).encode()


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
