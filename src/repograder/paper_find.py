"""Find the group's paper among a repository's PDFs by path alone (no PDF parsing here).

Students leave many PDFs lying around: figures, slide decks, the course's own handouts, the
papers they cite. The path score below pushes those down; :mod:`repograder.paper` adds a score
from the PDF's content (landscape pages, one page with no text) and picks the best.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from repograder import fsutil
from repograder.facts import (  # re-exported: their old home
    PaperCandidate as PaperCandidate,
)

# The rubric's globs; "**/*.pdf" last so a paper in latex/ or tex/ is still found, ranked lower.
DEFAULT_GLOBS: tuple[str, ...] = ("paper/", "report/", "docs/", "*.pdf", "**/*.pdf")

MAX_CANDIDATES = 50
MAX_TEX_FILES = 200
MAX_DEPTH = 10

# Environments and caches hold nothing of the students' writing and can be huge: never entered.
_NEVER_ENTER = fsutil.ENVIRONMENT_DIRS
_BUILD_DIRS = frozenset({"build", "dist", "out", "output"})
_VENDORED = (fsutil.VENDORED_DIRS - _BUILD_DIRS) - _NEVER_ENTER
_FIGURE_DIRS = frozenset(
    {"figures", "figure", "figs", "fig", "images", "image", "img", "imgs", "plots", "plot"}
    | {"graphics", "pics", "pictures", "assets", "media", "diagrams", "charts"}
)
_THIRD_PARTY_DIRS = frozenset(
    {"references", "reference", "refs", "literature", "related_work", "related-work"}
    | {"relatedwork", "papers", "readings", "reading", "sources", "bib", "bibliography"}
)
_GOOD_NAME = re.compile(r"paper|report|ieee|final|main|submission|manuscript|camera")
_SLIDES_NAME = re.compile(r"slide|presentation|talk|poster|beamer|deck|pitch")
# Not "assignment": `Assignment1_Group33_DeepLearning.pdf` is how students name their papers.
_HANDOUT_NAME = re.compile(
    r"handout|exercise|task|instruction|template|guideline|rubric|syllabus"
    r"|sheet|lecture|tutorial|homework|project[-_ ]?description"
)
# The IEEEtran bundle's guides, by their distributed names (IEEEtran_HOWTO.pdf,
# IEEEtran_bst_HOWTO.pdf): no student names a paper so. The demo files' names are not here:
# students edit bare_conf.tex (and Overleaf's conference_101719.tex) into their paper and commit
# the PDF under the same name (7 of 27 labelled real repositories, benchmarks/paper_cases.yaml);
# an untouched demo or sample is recognised by its title instead (paper.py, _TEMPLATE_SIGNS).
_TEMPLATE_FILE = re.compile(r"ieeetran[-_ ]?(?:bst[-_ ]?)?howto|conference[-_ ]template")
_SAMPLE_NAME = re.compile(r"sample|example|template|bare|demo|conference[-_ ]?\d+")
_OWN_NAME = re.compile(r"group|team|gruppe")
# "assignment" alone (assignment.pdf, Assignment2.pdf) is the course's sheet; with more words
# (Assignment1_Group33_DeepLearning.pdf) it is how students name their papers.
_ASSIGNMENT_ONLY = re.compile(r"^(?:course[-_ ]?)?assignment[-_ ]?\d*$")
_TITLE = re.compile(r"\\title\s*(?:\[[^\]]*\])?\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
_FIGURE_NAME = re.compile(r"(^|[^a-z])(fig|figure|plot|chart|diagram|image|img|graph)")
_LFS_MAGIC = b"version https://git-lfs.github.com/spec/"
_DOCCLASS = re.compile(r"\\documentclass\s*(\[[^\]]*\])?\s*\{([^}]*)\}")


@dataclass(frozen=True)
class TexSource:
    """A LaTeX main file (it has ``\\documentclass``)."""

    path: str
    document_class: str
    options: str


def glob_regex(glob: str) -> re.Pattern[str]:
    """Compile a rubric glob (``**`` crosses folders; ``dir/`` means every PDF below it)."""
    if glob.endswith("/"):
        glob += "**/*.pdf"
    out = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out), re.IGNORECASE)


def walk(root: Path, suffixes: tuple[str, ...]) -> Iterator[tuple[str, bool]]:
    """Yield (repo-relative path, is_symlink) of files with these suffixes; links never followed."""
    count = 0
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        subdirs: list[tuple[Path, int]] = []
        for entry in entries:
            count += 1
            if count > fsutil.MAX_WALK_FILES:
                return
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            rel = Path(entry.path).relative_to(root).as_posix()
            if stat.S_ISDIR(st.st_mode):
                sub = Path(entry.path)
                if entry.name.lower() in _NEVER_ENTER or depth >= MAX_DEPTH:
                    continue
                if fsutil.is_virtualenv(sub):
                    continue
                subdirs.append((sub, depth + 1))
            elif entry.name.lower().endswith(suffixes):
                if stat.S_ISLNK(st.st_mode):
                    yield rel, True
                elif stat.S_ISREG(st.st_mode):
                    yield rel, False
        stack.extend(reversed(subdirs))


def path_score(
    rel: str, globs: Sequence[re.Pattern[str]], raw_globs: Sequence[str]
) -> tuple[float, list[str]]:
    """Score a PDF's path: preferred folders and paper-like names up, decoys down."""
    score = 1.0
    reasons: list[str] = []
    for index, (pattern, raw) in enumerate(zip(globs, raw_globs, strict=True)):
        if pattern.fullmatch(rel):
            if not raw.startswith("**"):
                score += 3.0 - 0.2 * index
                reasons.append(f"matches {raw}")
            break
    parts = [p.lower() for p in rel.split("/")]
    folders, name = parts[:-1], parts[-1].rsplit(".", 1)[0]
    score -= 0.3 * max(len(folders) - 1, 0)
    if any(f in _FIGURE_DIRS for f in folders):
        score -= 5.0
        reasons.append("in a figures folder")
    if any(f in _THIRD_PARTY_DIRS for f in folders):
        score -= 8.0
        reasons.append("in a literature/references folder")
    if any(f in _VENDORED for f in folders):
        score -= 8.0
        reasons.append("in a vendored folder")
    elif any(f in _BUILD_DIRS for f in folders):
        score -= 0.5
    if _SLIDES_NAME.search(name):
        score -= 6.0
        reasons.append("name says slides")
    if _HANDOUT_NAME.search(name) or _ASSIGNMENT_ONLY.match(name):
        score -= 6.0
        reasons.append("name says course handout")
    if _FIGURE_NAME.search(name):
        score -= 3.0
        reasons.append("name says figure")
    if any(f in ("template", "templates", "ieee-template", "ieee_template") for f in folders) and (
        _SAMPLE_NAME.search(name)
    ):
        score -= 30.0
        reasons.append("a template folder's sample, never the paper")
    if _TEMPLATE_FILE.search(name):
        score -= 30.0
        reasons.append("a file that ships with the IEEE template, never the paper")
    if _GOOD_NAME.search(name):
        score += 2.0
        reasons.append("paper-like name")
    if _OWN_NAME.search(name):
        score += 1.0
        reasons.append("names the group")
    return score, reasons


def find_candidates(
    root: Path, globs: Sequence[str] | None = None, lfs_pointers: Sequence[str] = ()
) -> list[PaperCandidate]:
    """All PDFs matching the globs, best path score first (at most MAX_CANDIDATES)."""
    raw = tuple(globs) if globs else DEFAULT_GLOBS
    patterns = [glob_regex(g) for g in raw]
    lfs = set(lfs_pointers)
    found: list[PaperCandidate] = []
    built = {
        s.path[: -len(".tex")] + ".pdf"
        for s in find_tex_sources(root)
        if not _TEMPLATE_FILE.search(_stem(s.path))
    }
    for rel, is_link in walk(root, (".pdf",)):
        if not any(p.fullmatch(rel) for p in patterns):
            continue
        score, reasons = path_score(rel, patterns, raw)
        if rel in built:
            score += 3.0
            reasons.append(f"built from the group's own {rel[: -len('.pdf')]}.tex")
        kind = "file"
        if is_link:
            kind = "symlink"
            reasons.append(symlink_note(root, rel))
        elif rel in lfs or is_lfs_pointer(root, rel):
            kind = "lfs-pointer"
            reasons.append("Git LFS pointer, not the PDF")
        found.append(PaperCandidate(rel, round(score, 2), "; ".join(reasons), kind))
    found.sort(key=lambda c: (-c.score, c.path))
    return found[:MAX_CANDIDATES]


def is_lfs_pointer(root: Path, rel: str) -> bool:
    """A Git LFS pointer is a tiny text file that names the real content by hash."""
    head = fsutil.read_bytes(root, rel, 200)
    return head is not None and head.startswith(_LFS_MAGIC)


def symlink_note(root: Path, rel: str) -> str:
    """Say where a symlink points (inside or outside the repository) without following it."""
    try:
        target = os.readlink(root / rel)
    except OSError:
        return "symlink (not followed)"
    joined = os.path.normpath(os.path.join(os.path.dirname(rel), target))
    if os.path.isabs(target) or joined == ".." or joined.startswith("../"):
        return "symlink leaving the repository (not followed)"
    return "symlink (not followed)"


def _stem(rel: str) -> str:
    return rel.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()


def tex_titles(root: Path, limit: int = 5) -> list[str]:
    """The ``\\title{...}`` of the LaTeX main files, commands and braces dropped."""
    titles: list[str] = []
    own = [s for s in find_tex_sources(root) if not _TEMPLATE_FILE.search(_stem(s.path))]
    for source in own[:limit]:
        text = fsutil.read_text(root, source.path, max_bytes=200_000) or ""
        match = _TITLE.search(text)
        if match:
            plain = re.sub(r"\\[a-zA-Z]+\*?|[{}~]", " ", match.group(1))
            titles.append(" ".join(plain.split()))
    return titles


def find_tex_sources(root: Path) -> list[TexSource]:
    """LaTeX main files, IEEEtran ones first, for the "source only, no PDF" report."""
    sources: list[TexSource] = []
    for index, (rel, is_link) in enumerate(walk(root, (".tex",))):
        if index >= MAX_TEX_FILES:
            break
        if is_link:
            continue
        text = fsutil.read_text(root, rel, max_bytes=200_000)
        match = _DOCCLASS.search(text or "")
        if match:
            sources.append(TexSource(rel, match.group(2).strip(), (match.group(1) or "")[1:-1]))
    sources.sort(key=lambda s: (s.document_class != "IEEEtran", s.path.count("/"), s.path))
    return sources


# The paper in a form other than a PDF: what the report names when no PDF was found.
_WORD_SUFFIXES = (".docx", ".doc", ".odt", ".pages", ".rtf")
MAX_ZIP_MEMBERS = 2_000
MAX_ZIP_TEX_BYTES = 200_000


def find_other_forms(root: Path, limit: int = 5) -> list[str]:
    """Sentences naming paper-like files that are not PDFs (Word documents, Overleaf zips).

    ``["paper.docx is a Word document; the course asks for a PDF", "overleaf.zip holds
    main.tex (IEEEtran, conference) but no PDF"]``. Zip archives (the first ``MAX_ZIPS``, with
    a central directory of at most ``MAX_ZIP_DIRECTORY_BYTES``) are read by their listing and
    at most ``MAX_ZIP_TEX_BYTES`` of one ``.tex`` member: never extracted.
    """
    found: list[str] = []
    zips = 0
    for rel, is_link in walk(root, (*_WORD_SUFFIXES, ".zip")):
        if is_link or len(found) >= limit:
            continue
        name = rel.rsplit("/", 1)[-1].lower()
        if name.endswith(_WORD_SUFFIXES):
            if not _HANDOUT_NAME.search(name):
                kind = "an OpenDocument text" if name.endswith(".odt") else "a Word document"
                if name.endswith((".pages", ".rtf")):
                    kind = "a word-processor document"
                found.append(f"{rel} is {kind}; the course asks for a PDF")
            continue
        zips += 1
        if zips > MAX_ZIPS:
            continue
        described = _describe_zip(root, rel)
        if described:
            found.append(described)
    return found


# zipfile reads the whole central directory before the member cap applies; 2,000 members with
# long names fit in 1 MB (46 bytes + name + extra per member, APPNOTE 4.3.12).
MAX_ZIP_DIRECTORY_BYTES = 1_000_000
MAX_ZIPS = 20
_EOCD = b"PK\x05\x06"


def _directory_fits(path: Path) -> bool:
    """The archive's central directory is at most MAX_ZIP_DIRECTORY_BYTES (read from the
    end-of-central-directory record, PKWARE APPNOTE 4.3.16: total entries at offset 10, the
    directory's size at 12). A Zip64 archive (0xFFFF/0xFFFFFFFF markers) does not fit."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            tail = min(size, 65_535 + 22)
            handle.seek(size - tail)
            data = handle.read(tail)
    except OSError:
        return False
    at = data.rfind(_EOCD)
    if at < 0 or len(data) - at < 22:
        return False
    entries = int.from_bytes(data[at + 10 : at + 12], "little")
    directory = int.from_bytes(data[at + 12 : at + 16], "little")
    return entries != 0xFFFF and directory <= MAX_ZIP_DIRECTORY_BYTES


def _describe_zip(root: Path, rel: str) -> str | None:
    if not _directory_fits(root / rel):
        return None
    try:
        with zipfile.ZipFile(root / rel) as archive:
            infos = archive.infolist()[:MAX_ZIP_MEMBERS]
            pdfs = [i.filename for i in infos if i.filename.lower().endswith(".pdf")]
            texs = [i for i in infos if i.filename.lower().endswith(".tex")]
            if not texs:
                return None
            texs.sort(key=lambda i: (i.filename.rsplit("/", 1)[-1] != "main.tex", i.filename))
            for info in texs[:20]:
                with archive.open(info) as member:
                    text = member.read(MAX_ZIP_TEX_BYTES).decode("utf-8", "replace")
                match = _DOCCLASS.search(text)
                if match is None:
                    continue
                cls = match.group(2).strip()
                options = (match.group(1) or "")[1:-1]
                what = cls + (f", {options}" if options else "")
                if pdfs:
                    return (
                        f"{rel} holds {info.filename} ({what}) and {pdfs[0]}: commit the PDF itself"
                    )
                return f"{rel} holds {info.filename} ({what}) but no PDF"
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError, NotImplementedError):
        return None
    return None
