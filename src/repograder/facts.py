"""The values that stages hand each other: pure facts, no behaviour with effects.

Inspection produces them (``detect`` -> :class:`EnvSpec`, ``readme`` -> :class:`ReadmeFacts`
with its :class:`Step` list, ``paper`` -> :class:`PaperFacts`, ``comments`` ->
:class:`CommentFacts`), the sandbox produces :class:`BuildResult` and the notebook run a
:class:`NotebookReport`; the checks (``repograder.checks``) judge them. This module imports only
the standard library's value helpers (``dataclasses``, ``enum``, ``pathlib``), so every layer may
import it: scoring and reports never need the sandbox or an inspector for a type, and the
sandbox never needs an inspector (tests/unit/test_import_graph.py holds this).

The old homes (``detect.EnvSpec``, ``sandbox.base.BuildResult``, ``readme.Step``,
``readme_commands.StepKind``, ``paper.PaperFacts``, ``notebooks.NotebookReport``,
``comments.CommentFacts``) still export these names for the code and tests that import them
from there; new code imports them from here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

# --- environment (detect -> sandbox) -------------------------------------------------------------


class EnvKind(enum.StrEnum):
    REQUIREMENTS = "requirements"
    CONDA = "conda"
    PYPROJECT = "pyproject"
    SETUP_PY = "setup.py"
    PIPFILE = "pipfile"
    NONE = "none"


@dataclass(frozen=True)
class EnvChange:
    """One thing the grader did to a student's environment entry, for the report's table."""

    file: str  # repo-relative file the entry is in
    entry: str  # the entry as written ("pywin32==306"), or "(whole file)"
    action: str  # "dropped" | "translated" | "re-encoded" | "relaxed"
    why: str


@dataclass(frozen=True)
class EnvSpec:
    """What to build. Everything the build depends on is in here (it is hashed for the cache)."""

    kind: EnvKind
    path: str | None  # repo-relative path of the chosen environment file
    reason: str  # why this detector matched, e.g. "requirements.txt at the repository root"
    files: tuple[str, ...] = ()  # repo-relative dependency files copied into the build
    requirements: tuple[str, ...] = ()  # pip requirement lines (conda translated to PyPI)
    apt_packages: tuple[str, ...] = ()  # Debian packages (e.g. ffmpeg, libsndfile1)
    build_requires: tuple[str, ...] = ()  # build backend, pre-installed for the project install
    install_project: bool = False  # install the project itself (pyproject / setup.py) in session
    python_version: str | None = None  # requested, e.g. "3.10"
    python_source: str | None = None  # where the version came from
    conda_strategy: str | None = None  # "translated" | "micromamba"
    dropped: tuple[str, ...] = ()  # entries skipped, each with its reason
    warnings: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()  # other environment files seen (vendored ones excluded)
    # Added by detect: console scripts declared by the project ([project.scripts], poetry).
    scripts: tuple[str, ...] = ()
    # pip constraint lines from `-c` includes (pass with `-c` at install; they never add packages)
    constraints: tuple[str, ...] = ()
    # the environment file exists but could not be parsed (message names the line)
    parse_error: str | None = None
    # every dropped, translated or re-encoded entry, with why (the report's table)
    changes: tuple[EnvChange, ...] = ()
    # dependency files that are Git LFS pointers: their content was not fetched
    lfs_pointers: tuple[str, ...] = ()


# --- environment build (sandbox -> checks) -------------------------------------------------------


@dataclass(frozen=True)
class BuildResult:
    """Outcome of building a group's environment. A failed build is data, not an exception."""

    ok: bool
    backend: str  # "docker", "local", "fake"
    image: str | None  # image tag (docker) or environment path (local)
    reused: bool  # an existing environment with the same content hash was used
    content_hash: str
    duration_s: float
    summary: str  # one line; for failures the decisive error (e.g. resolver message)
    log_path: Path | None = None  # full build log, inside the output folder
    log_excerpt: str = ""  # the decisive part of the log for the report
    python_version: str | None = None  # version actually used
    notes: tuple[str, ...] = ()  # e.g. "requested Python 3.8 not available; used 3.11"
    # pins changed by a second attempt after the first failed: "six==1.16.1 → 1.16.0 (why)"
    relaxed: tuple[str, ...] = ()


# --- README steps (readme -> runner, envchain, checks) -------------------------------------------


class StepKind(enum.StrEnum):
    """How the grader treats one README step."""

    RUN = "run"
    ENV = "env"  # covered by the environment build
    NOT_APPLICABLE = "not-applicable"  # e.g. cloning the project, activating an environment
    INTERACTIVE = "interactive"  # servers, notebooks UIs, REPLs: skipped with a reason
    PLATFORM = "platform-specific"  # Windows/macOS-only with a Linux alternative nearby
    PLACEHOLDER = "placeholder"  # needs a runnable example from the students
    ANNOTATED_SKIP = "skipped-by-annotation"


@dataclass(frozen=True)
class Step:
    """One command of the README, classified; the runner executes ``kind == RUN`` steps."""

    index: int  # 1-based order in the README
    command: str  # as written (multi-line for continuations/heredocs); plain text, unescaped
    source_line: int  # 1-based line of the command's first line in the README file
    heading: str  # nearest heading above the command ("" before the first heading)
    kind: StepKind
    reason: str  # human-readable reason for the kind
    timeout_s: float | None = None  # from an annotation
    expect_fail: bool = False
    long_running: bool = False
    block_lang: str = ""  # language tag of the block ("" untagged, "inline" for code spans)
    base_kind: StepKind | None = None  # classification before annotations were applied
    annotations: tuple[str, ...] = ()  # raw annotation tokens that applied
    windows: bool = False  # Windows-only syntax (cmd/powershell block or backslash paths)


@dataclass(frozen=True)
class ReadmeFacts:
    """Static facts about the README; no student code is executed to get them."""

    path: str | None  # repo-relative path of the README used
    candidates: tuple[str, ...]  # every README-like file seen (root and docs/)
    size_bytes: int
    truncated: bool  # larger than MAX_README_BYTES: only the start was read
    word_count: int
    headings: tuple[str, ...]
    code_blocks: int
    steps: tuple[Step, ...]
    warnings: tuple[str, ...]
    env_files_mentioned: tuple[str, ...] = ()
    python_version_mentioned: str | None = None
    mentions_data_download: bool = False
    has_install_section: bool = False
    has_usage_section: bool = False
    links: int = 0
    images: int = 0
    notebooks_mentioned: tuple[str, ...] = ()
    symlink_refused: tuple[str, ...] = ()  # README names that are symlinks (never read)
    lfs_pointer: bool = False  # the README is a Git LFS pointer whose content was not fetched


# --- paper (paper -> checks) ---------------------------------------------------------------------


@dataclass(frozen=True)
class PaperCandidate:
    """A PDF that might be the paper; ``path`` is repo-relative, higher ``score`` is better."""

    path: str
    score: float
    reason: str
    kind: str = "file"  # "file" | "symlink" | "lfs-pointer"


# Status of the search for the paper.
FOUND, NONE, SOURCE_ONLY, LFS_POINTER, REFUSED, UNREADABLE = (
    "found",
    "none",
    "source-only",
    "lfs-pointer",
    "refused",
    "unreadable",
)


@dataclass(frozen=True)
class PageSize:
    width_pt: float
    height_pt: float
    name: str  # "letter" | "a4" | "letter-landscape" | "a4-landscape" | "other"


@dataclass(frozen=True)
class FontFacts:
    name: str  # subset prefix removed; "Type3 <name>" for Type 3 fonts
    subtype: str
    embedded: bool
    type3: bool


@dataclass(frozen=True)
class ColumnFacts:
    """Share of text-line width left of, right of and across the page middle."""

    columns: int  # 1, 2, or 0 when unclear
    left: float = 0.0
    right: float = 0.0
    spanning: float = 0.0


@dataclass(frozen=True)
class Margins:
    """Distance in points from the page edge to the text (bounding box over analysed pages)."""

    left: float
    right: float
    top: float
    bottom: float


@dataclass(frozen=True)
class FrontMatter:
    title: str = ""
    title_font_size: float = 0.0
    abstract: bool = False
    abstract_ieee_style: bool = False  # "Abstract—"
    index_terms: bool = False  # "Index Terms—"
    keywords: bool = False


@dataclass(frozen=True)
class PaperFacts:
    """Everything found out about the paper; JSON-friendly via :func:`facts_to_json`."""

    status: str
    message: str
    path: str | None = None
    candidates: tuple[PaperCandidate, ...] = ()
    error_kind: str = ""  # empty|not-pdf|damaged|encrypted|too-large|timeout|memory|crash
    file_bytes: int | None = None
    pages: int | None = None
    analysed_pages: int = 0
    references_page: int | None = None  # 1-based page holding the references heading
    body_pages: int | None = None  # pages before the references (what counts when they don't)
    encrypted: bool = False
    page_errors: int = 0
    page_sizes: tuple[PageSize, ...] = ()
    text_chars: int = 0
    body_font: str | None = None
    body_font_size: float | None = None
    body_font_share: float = 0.0
    fonts: tuple[FontFacts, ...] = ()
    columns: ColumnFacts | None = None
    margins: Margins | None = None
    front_matter: FrontMatter | None = None
    notes: tuple[str, ...] = field(default=())


# --- notebooks (notebook run -> checks) ----------------------------------------------------------


class NotebookStatus(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class NotebookResult:
    """One notebook's execution.

    ``failing_cell`` is 1-based over all cells (markdown included), as counted top to bottom in
    Jupyter. ``html`` is the rendered page's path relative to ``out_dir`` of
    :func:`run_notebooks` (None when nothing could be rendered). ``infra`` marks outcomes caused
    by the grader rather than the notebook (tooling missing, unreadable result): they need a human.
    """

    path: str
    status: NotebookStatus
    failing_cell: int | None = None
    source_excerpt: str = ""
    error: str = ""
    traceback_tail: str = ""
    duration_s: float = 0.0
    cells: int = 0
    executed: int = 0
    html: str | None = None
    infra: bool = False
    # As StepResult.missing_library: the library the error names, confirmed missing by the
    # grader in the session; "" otherwise.
    missing_library: str = ""


@dataclass(frozen=True)
class NotebookReport:
    results: tuple[NotebookResult, ...] = ()
    cell_timeout_s: float = 300.0
    total_budget_s: float = 1800.0
    duration_s: float = 0.0


# --- comments (comments -> checks) ---------------------------------------------------------------


@dataclass(frozen=True)
class FileComments:
    """Counts for one file (a .py file or a notebook's code cells)."""

    path: str
    kind: str  # "python" | "notebook"
    code_lines: int
    comment_lines: int
    docstring_lines: int
    commented_out_lines: int
    functions: int
    functions_documented: int
    markdown_lines: int = 0  # notebook markdown, counted as commentary
    note: str | None = None  # e.g. "syntax error at line 3: counted line by line"

    @property
    def commentary_lines(self) -> int:
        return self.comment_lines + self.docstring_lines + self.markdown_lines

    @property
    def density(self) -> float:
        return self.commentary_lines / self.code_lines if self.code_lines else 0.0


@dataclass(frozen=True)
class CommentFacts:
    """Per-file counts and totals over the project."""

    files: tuple[FileComments, ...]
    skipped: tuple[str, ...] = ()  # "path: reason" (too large, generated, unreadable)
    truncated: bool = False  # more than MAX_FILES files

    def _sum(self, attr: str) -> int:
        return sum(int(getattr(f, attr)) for f in self.files)

    @property
    def code_lines(self) -> int:
        return self._sum("code_lines")

    @property
    def comment_lines(self) -> int:
        return self._sum("comment_lines")

    @property
    def docstring_lines(self) -> int:
        return self._sum("docstring_lines")

    @property
    def markdown_lines(self) -> int:
        return self._sum("markdown_lines")

    @property
    def commented_out_lines(self) -> int:
        return self._sum("commented_out_lines")

    @property
    def functions(self) -> int:
        return self._sum("functions")

    @property
    def functions_documented(self) -> int:
        return self._sum("functions_documented")

    @property
    def commentary_lines(self) -> int:
        return self.comment_lines + self.docstring_lines + self.markdown_lines

    @property
    def density(self) -> float:
        return self.commentary_lines / self.code_lines if self.code_lines else 0.0
