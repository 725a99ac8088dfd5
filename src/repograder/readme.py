"""README -> ordered, classified steps, README facts and the ``readme`` check.

Steps come from fenced code blocks tagged as shell (``bash``, ``sh``, ``console``, ...; ``cmd``
and ``powershell`` count as Windows-only), untagged or indented blocks that look like shell
commands, console transcripts (``$ ``/``% ``/``> ``/``(env) $ `` marks the command, the rest is
expected output), and inline code such as ``1. Run `python train.py` `` in list items.
``.rst`` READMEs: ``.. code-block:: bash`` directives and ``::`` literal blocks.

Annotations steer the grader. Put an HTML comment on the line(s) before a code block or a
list item; it applies to every command of that block or item::

    <!-- repograder: skip -->            do not run (kind "skipped-by-annotation")
    <!-- repograder: run -->             run it even if it looks interactive/placeholder/setup
    <!-- repograder: timeout=20m -->     time limit: 90s, 20m, 2h or plain seconds (1200)
    <!-- repograder: expect-fail -->     a non-zero exit is expected (counts as ok)
    <!-- repograder: long-running -->    a server or long job: the runner may stop it
    <!-- repograder: timeout=90s, expect-fail -->   combine with spaces or commas

Inside a shell block a comment line ``# repograder: skip`` applies to the next command only;
in ``.rst`` files use ``.. repograder: skip``. Unknown keys become warnings, never errors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from repograder import fsutil, model, readme_translate
from repograder.facts import (  # re-exported: their old home
    ReadmeFacts as ReadmeFacts,
)
from repograder.facts import (
    Step as Step,
)
from repograder.readme_commands import (
    ANNOTATION_RE,
    Annotation,
    RawCommand,
    StepKind,
    block_is_shell,
    effective_words,
    has_prompts,
    is_shell_line,
    is_windows_command,
    looks_like_command,
    looks_like_inline_command,
    parse_annotation,
    prose_command,
    split_console,
    split_parts,
    split_script,
    wordset,
)
from repograder.readme_rules import (
    DEPENDENCY_REASON,
    PROJECT_REASON,
    REQUIREMENTS_REASON,
    RUN_THEN_SERVE_REASON,
    Context,
    classify,
    clone_info,
    runs_code_then_serves,
)
from repograder.readme_sources import (
    MAKE_CALL,
    make_kind,
    normalise_fences,
    notebook_markdown,
)

__all__ = [
    "ReadmeFacts",
    "Step",
    "StepKind",
    "evaluate_readme",
    "facts_to_json",
    "find_readme",
    "format_steps",
    "inspect_readme",
    "parse_readme",
]

MAX_README_BYTES = 2_000_000
# markdown-it is linear on ordinary text but slow on some shapes (hundreds of thousands of list
# items, million-line paragraphs). Real READMEs are far below these limits.
MAX_PARSE_CHARS = 400_000
MAX_PARSE_LINES = 10_000
MAX_STEPS = 500
MAX_LINE_CHARS = 2_000

README_NAMES: tuple[str, ...] = (
    "readme.md",
    "readme.markdown",
    "readme.mdown",
    "readme.mkd",
    "readme.rst",
    "readme.txt",
    "readme",
    "readme.ipynb",  # a notebook README: its markdown cells are the text
)
FALLBACKS = (
    "docs/README.md",
    "doc/README.md",
    "docs/readme.md",
    "docs/README.rst",
    "docs/README.txt",
    "docs/README.ipynb",
)

SHELL_LANGS = wordset(
    "bash sh shell zsh ksh fish console shell-session shellsession sh-session terminal "
    "session cli cmd bat batch dos powershell ps ps1 pwsh posh"
)
CONSOLE_LANGS = wordset("console shell-session shellsession sh-session terminal session cmd dos")
WINDOWS_LANGS = wordset("cmd bat batch dos powershell ps ps1 pwsh posh")
UNTAGGED_LANGS = frozenset({"", "text", "txt", "plaintext", "plain", "none", "code"})

_INSTALL_HEADINGS = re.compile(
    r"install|setup|set up|requirement|environment|dependenc|getting started|prerequisite"
    r"|einrichtung|voraussetzung|umgebung|abhängigkeit",
    re.I,
)
_USAGE_HEADINGS = re.compile(
    r"usage|run|how to|quick ?start|train|inference|evaluat|example|demo|reproduc"
    r"|ausführ|verwendung|nutzung|anleitung|benutzung|starten",
    re.I,
)
_ENV_FILE_RE = re.compile(
    r"requirements[\w.-]*\.txt|environment\.ya?ml|env\.ya?ml|pyproject\.toml|Pipfile|setup\.py"
    r"|poetry\.lock|uv\.lock",
)
_PY_VERSION_RE = re.compile(r"python\s*(?:version\s*)?[>=~^ ]{0,3}v?(3\.\d{1,2})", re.I)
_DATA_RE = re.compile(
    r"download|dataset|data set|kaggle|zenodo|hugging ?face|datensatz|herunterlad|gdown", re.I
)
_CODE_SPAN_RE = re.compile(r"(?<!`)(`{1,3})(?!`)([^`\n][^`]{0,400}?)(?<!`)\1(?!`)")
_LINK_TEXT_RE = re.compile(r"!?\[([^\]\n]{0,200})\]\([^)\n]{0,500}\)")
_ALONE_SPAN = re.compile(r"(`{1,3})[^`\n]{1,400}\1")
_RUN_VERBS = re.compile(
    r"\b(?:run|execute|type|start|launch|call|install|use|ausführen|starten|installieren)\b",
    re.I,
)


# ---------------------------------------------------------------------------------------------
# Finding and reading


def _readme_candidates(root: Path) -> tuple[list[str], list[str]]:
    """Readme-like names at the root (sorted by preference) and those that are symlinks."""
    try:
        names = [p.name for p in root.iterdir()]
    except OSError:
        return [], []
    found = [n for n in names if n.lower() in README_NAMES]
    found.sort(key=lambda n: (README_NAMES.index(n.lower()), n != "README.md", n))
    links = [n for n in found if fsutil.is_symlink(root, n)]
    return found, links


def find_readme(root: Path) -> str | None:
    """Repo-relative path of the README (Markdown preferred, then docs/README.md), or None."""
    found, _ = _readme_candidates(root)
    for name in [*found, *FALLBACKS]:
        if fsutil.file_size(root, name) is not None:
            return name
    return None


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass
class _Collector:
    """Mutable state while walking one README."""

    raws: list[tuple[RawCommand, str, str, bool, Annotation | None]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)
    code_blocks: int = 0

    def add_block(
        self, lang: str, lines: list[str], first_line: int, heading: str, ann: Annotation | None
    ) -> bool:
        """Add the commands of one code block; True when it yielded any."""
        self.code_blocks += 1
        lang_key = lang.lower()
        if any(len(line) > MAX_LINE_CHARS for line in lines):
            # Heuristics and shlex are linear but slow in Python on megabyte lines.
            self.warnings.append(f"line {first_line}: code block has very long lines: cut")
            lines = [line[:MAX_LINE_CHARS] for line in lines]
        windows = lang_key in WINDOWS_LANGS
        commands: list[RawCommand]
        if lang_key in SHELL_LANGS:
            allow_gt = lang_key in CONSOLE_LANGS or windows
            if has_prompts(lines, allow_gt):
                commands, warns = split_console(lines, first_line, allow_gt)
            else:
                commands, warns = split_script(lines, first_line)
                commands = [c for c in commands if is_shell_line(c.head)]
        elif lang_key in UNTAGGED_LANGS:
            if not any(line.strip() for line in lines):
                return False
            if has_prompts(lines[:3], False):
                commands, warns = split_console(lines, first_line, False)
            elif _cmd_prompts(lines):
                commands, warns = split_console(lines, first_line, True)
            else:
                commands, warns = split_script(lines, first_line)
                if not block_is_shell(commands):
                    return False
                commands = [c for c in commands if looks_like_command(c.head)]
        else:
            # python, yaml, json, ...: code or data, not steps, unless every line is a shell
            # command (`.. code-block:: python` around `python main.py` is a common slip).
            if has_prompts(lines[:3], False):
                return False
            commands, warns = split_script(lines, first_line)
            if not commands or not block_is_shell(commands):
                return False
            if not all(looks_like_command(c.head) for c in commands):
                return False
            warns = [*warns, f"line {first_line}: a {lang} block holds shell commands"]
        self.warnings.extend(warns)
        for cmd in commands:
            self.raws.append((cmd, heading, lang_key, windows, cmd.annotation or ann))
        return bool(commands)

    def add_prose(
        self, content: str, first_line: int, heading: str, ann: Annotation | None
    ) -> bool:
        """Add commands written as plain lines of a paragraph (no code formatting)."""
        if len(content) > 4000 or "`" in content:
            return False
        added = False
        for offset, line in enumerate(content.split("\n")[:40]):
            command = prose_command(line)
            if command is None:
                continue
            raw = RawCommand(command, first_line + offset, command)
            self.raws.append((raw, heading, "prose", is_windows_command(command), ann))
            added = True
        return added

    def add_inline(
        self,
        content: str,
        first_line: int,
        heading: str,
        ann: Annotation | None,
        in_list: bool,
        alone: bool = False,
    ) -> bool:
        """Add command-like code spans of a paragraph (list items always, prose with a verb).

        ``alone``: the span is the whole paragraph, so one known command word (`pytest`) is
        enough.
        """
        if len(content) > 4000:
            return False
        added = False
        for match in _CODE_SPAN_RE.finditer(content):
            code = " ".join(match.group(2).split())
            single = alone and len(code.split()) == 1 and looks_like_command(code)
            if not single and not looks_like_inline_command(code):
                continue
            if not in_list:
                before = content[max(0, match.start() - 120) : match.start()]
                if not _RUN_VERBS.search(before) and not before.rstrip().endswith(":"):
                    continue
            line = first_line + content.count("\n", 0, match.start())
            raw = RawCommand(code, line, code)
            self.raws.append((raw, heading, "inline", is_windows_command(code), ann))
            added = True
        return added


def _clean_heading(text: str) -> str:
    text = _LINK_TEXT_RE.sub(r"\1", text)
    text = re.sub(r"<[^>\n]{0,200}>|[*_`#]", "", text)
    return " ".join(text.split())[:200]


def _annotation_in(content: str, line: int, coll: _Collector) -> Annotation | None:
    found: Annotation | None = None
    for match in ANNOTATION_RE.finditer(content):
        at = line + content.count("\n", 0, match.start())
        ann, warns = parse_annotation(match.group(1), at)
        coll.warnings.extend(warns)
        found = ann if found is None else _merge(found, ann)
    return found


def _merge(a: Annotation, b: Annotation) -> Annotation:
    return Annotation(
        a.line,
        a.skip or b.skip,
        a.force_run or b.force_run,
        b.timeout_s if b.timeout_s is not None else a.timeout_s,
        a.expect_fail or b.expect_fail,
        a.long_running or b.long_running,
        a.tokens + b.tokens,
    )


def _walk_markdown(text: str, coll: _Collector) -> None:
    # Inline parsing is off: it is the slow part on hostile input; code spans are found with
    # a bounded regex on the few paragraphs that matter. Imported here: a run whose groups
    # are all cached never parses a README.
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"maxNesting": 40}).enable("table")
    md.disable(["inline", "text_join"], ignoreInvalid=True)
    tokens = md.parse(normalise_fences(text))
    heading = ""
    pending: Annotation | None = None
    item_anns: list[Annotation | None] = []
    in_heading = in_table = False
    for i, tok in enumerate(tokens):
        line0 = tok.map[0] if tok.map else 0
        if tok.type == "heading_open":
            in_heading = True
        elif tok.type == "heading_close":
            in_heading = False
        elif tok.type in ("table_open", "table_close"):
            in_table = tok.type == "table_open"
        elif tok.type == "inline" and in_heading:
            heading = _clean_heading(tok.content)
            coll.headings.append(heading)
            if pending is not None:
                coll.warnings.append(f"line {pending.line}: repograder annotation before a heading")
                pending = None
        elif tok.type == "html_block":
            ann = _annotation_in(tok.content, line0 + 1, coll)
            if ann is not None:
                pending = ann if pending is None else _merge(pending, ann)
        elif tok.type == "list_item_open":
            item_anns.append(pending)
            pending = None
        elif tok.type == "list_item_close":
            if item_anns:
                item_anns.pop()
        elif tok.type in ("fence", "code_block"):
            lang = tok.info.strip().strip("{}.").split(maxsplit=1)[0] if tok.info.strip() else ""
            lang = lang.split(",")[0].lstrip(".")
            first = line0 + (2 if tok.type == "fence" else 1)
            lines = tok.content.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            ann = pending or _nearest(item_anns)
            if coll.add_block(lang, lines, first, heading, ann):
                pending = None
            elif pending is not None and tok.info.strip():
                pending = None  # tagged non-shell block consumes it, e.g. a python block
        elif tok.type == "inline" and not in_table and tokens[i - 1].type == "paragraph_open":
            own = _annotation_in(tok.content, line0 + 1, coll) if "<!--" in tok.content else None
            ann = own or pending or _nearest(item_anns)
            # A code span that is a paragraph of its own is displayed like a block.
            alone = bool(_ALONE_SPAN.fullmatch(tok.content.strip()))
            if coll.add_inline(
                tok.content, line0 + 1, heading, ann, bool(item_anns) or alone, alone
            ) or coll.add_prose(tok.content, line0 + 1, heading, ann):
                pending = None
    if pending is not None:
        coll.warnings.append(f"line {pending.line}: repograder annotation applies to nothing")


def _nearest(item_anns: list[Annotation | None]) -> Annotation | None:
    for ann in reversed(item_anns):
        if ann is not None:
            return ann
    return None


_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+_.:])\1{2,}\s*$")
_RST_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+(?:code-block|code|sourcecode)::\s*(\S*)", re.I)
_RST_ANNOTATION = re.compile(r"^\s*\.\.\s+repograder\s*:(.*)$", re.I)
_RST_LIST = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)]|#\.)\s+")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _walk_rst(text: str, coll: _Collector) -> None:
    lines = text.split("\n")
    heading = ""
    pending: Annotation | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if (
            line.strip()
            and not line[0].isspace()
            and _RST_UNDERLINE.match(nxt)
            and len(nxt.strip()) >= len(line.strip()) - 2
            and not _RST_UNDERLINE.match(line)
        ):
            heading = _clean_heading(line)
            coll.headings.append(heading)
            i += 2
            continue
        ann_match = _RST_ANNOTATION.match(line)
        if ann_match or "<!--" in line:
            ann = (
                parse_annotation(ann_match.group(1), i + 1)
                if ann_match
                else (_annotation_in(line, i + 1, coll), ())
            )
            if ann[0] is not None:
                coll.warnings.extend(ann[1])
                pending = ann[0] if pending is None else _merge(pending, ann[0])
            i += 1
            continue
        directive = _RST_DIRECTIVE.match(line)
        literal = line.rstrip().endswith("::") and not line.lstrip().startswith("..")
        if directive or literal:
            base = _indent(line)
            lang = directive.group(2) if directive else ""
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or re.match(r"^\s+:[\w-]+:", lines[j])):
                j += 1
            body_start = j
            while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > base):
                j += 1
            body = lines[body_start:j]
            while body and not body[-1].strip():
                body.pop()
            if body and _indent(body[0]) > base:
                cut = min(_indent(b) for b in body if b.strip())
                if coll.add_block(lang, [b[cut:] for b in body], body_start + 1, heading, pending):
                    pending = None
                i = j
                continue
        if (
            _RST_LIST.match(line)
            and "`" in line
            and coll.add_inline(line, i + 1, heading, pending, True)
        ):
            pending = None
        i += 1


def parse_readme(text: str, path: str = "README.md") -> tuple[tuple[Step, ...], tuple[str, ...]]:
    """Extract and classify the README's steps; returns (steps, warnings). Pure, never raises."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    coll = _Collector()
    _walk(text, path, coll)
    return _classify_all(coll), tuple(coll.warnings)


def _walk(text: str, path: str, coll: _Collector) -> None:
    lines = text.split("\n", MAX_PARSE_LINES)
    if len(lines) > MAX_PARSE_LINES or len(text) > MAX_PARSE_CHARS:
        text = "\n".join(lines[:MAX_PARSE_LINES])[:MAX_PARSE_CHARS]
        coll.warnings.append(
            f"README is very long: only the first {MAX_PARSE_LINES} lines / "
            f"{MAX_PARSE_CHARS} characters were searched for steps"
        )
    if path.lower().endswith(".rst"):
        _walk_rst(text, coll)
    else:
        _walk_markdown(text, coll)


def _classify_all(coll: _Collector) -> tuple[Step, ...]:
    raws = coll.raws[:MAX_STEPS]
    if len(coll.raws) > MAX_STEPS:
        coll.warnings.append(f"more than {MAX_STEPS} commands: only the first {MAX_STEPS} kept")
    steps: list[Step] = []
    clone_seen = after_clone = False
    clone_dir = ""
    for raw, heading, lang, windows_block, _ann in raws:
        windows = windows_block or is_windows_command(raw.head)
        ctx = Context(windows_block, clone_seen, after_clone, clone_dir)
        kind, reason = classify(raw, ctx)
        long_running = False
        if kind == StepKind.INTERACTIVE and runs_code_then_serves(raw, ctx):
            # `python train.py && tensorboard ...`: skipping it whole would hide train.py.
            kind, reason, long_running = StepKind.RUN, RUN_THEN_SERVE_REASON, True
        clones, ends_with_clone, folder = clone_info(raw.head)
        if kind == StepKind.ENV:
            # `git clone X && cd X && pip install -e .` installs a dependency from its source:
            # that clone is not the project's, which the README may still clone later.
            clones = ends_with_clone = False
        after_clone = ends_with_clone and not clone_seen
        clone_dir = folder if after_clone else ""
        clone_seen = clone_seen or clones
        steps.append(
            Step(
                0,
                raw.text,
                raw.line,
                heading,
                kind,
                reason,
                long_running=long_running,
                block_lang=lang,
                windows=windows,
            )
        )
    steps = _platform_all(_dependencies_from_source(steps))
    result: list[Step] = []
    for n, (step, (_, _, _, _, ann)) in enumerate(zip(steps, raws, strict=True), start=1):
        step = replace(step, index=n, base_kind=step.kind)
        if ann is not None:
            step = _apply_annotation(step, ann)
        result.append(step)
    return tuple(result)


def _platform_all(steps: list[Step]) -> list[Step]:
    return [_platform(s, steps) for s in steps]


def _dependencies_from_source(steps: list[Step]) -> list[Step]:
    """``git clone X``, ``cd X``, ``pip install -e .`` after the project's requirements were
    installed: that builds a dependency from its source, it is not the project's own clone."""
    out = list(steps)
    for i in range(len(out) - 2):
        clone, cd, install = out[i : i + 3]
        _, is_clone, folder = clone_info(clone.command.split("\n", 1)[0])
        cd_words = effective_words(cd.command)
        if not (is_clone and folder) or cd_words[:1] != ["cd"] or len(cd_words) != 2:
            continue
        if cd_words[1].rstrip("/") != folder or install.reason != PROJECT_REASON:
            continue
        if any(s.reason in (REQUIREMENTS_REASON, PROJECT_REASON) for s in out[:i]):
            for j in (i, i + 1, i + 2):
                out[j] = replace(out[j], kind=StepKind.ENV, reason=DEPENDENCY_REASON)
    return out


def _cmd_prompts(lines: list[str]) -> bool:
    """An untagged block whose every line is ``> command`` (cmd.exe's prompt), not a quote."""
    written = [line.strip() for line in lines if line.strip()]
    return bool(written) and all(
        line.startswith("> ") and looks_like_command(line[2:]) for line in written
    )


def _posix_form(command: str) -> str:
    """The command as the grader would run it on Linux: ``python`` for the interpreter the
    student named (``py -3.11``, ``python.exe``), ``/`` for ``\\`` (readme_translate)."""
    first = command.split("\n", 1)[0]
    return readme_translate.translate(first.replace("\\", "/")).command


def _same_command(command: str) -> tuple[str, ...]:
    """The program and what it runs (a script, ``-m module`` or a subcommand), options left out:
    ``py -3.11 src\\main.py --gpu`` and ``python3 src/main.py`` are both ("python", "src/main.py").
    """
    words = effective_words(_posix_form(command))
    target = [w.removeprefix("./") for w in words[1:] if not w.startswith("-")]
    module = words[2] if len(words) > 2 and words[1] == "-m" else None
    return (words[0].lower(), module or (target[0] if target else "")) if words else ()


def _python_targets(command: str) -> set[tuple[str, ...]]:
    """The Python programs the command's parts run, as :func:`_same_command` names them."""
    first = command.split("\n", 1)[0]
    found = {_same_command(part) for part in split_parts(first)}
    return {own for own in found if own[:1] == ("python",)}


def _platform(step: Step, steps: list[Step]) -> Step:
    """Windows-only steps: skipped when a Linux alternative is nearby, else attempted.

    A Python command whose only Windows traits the grader translates (the interpreter's name,
    ``\\`` in paths: readme_translate) is not Windows-only: only the same command written for
    Linux is its alternative, not any other step nearby. Other Windows syntax (``$env:X``, ``dir``,
    ``venv\\Scripts\\activate``) has no such twin, so a nearby Linux step of the same kind is.
    """
    if not step.windows or step.kind in (
        StepKind.PLACEHOLDER,
        StepKind.INTERACTIVE,
        StepKind.ENV,
        StepKind.PLATFORM,
    ):
        return step
    own = _same_command(step.command)
    translatable = own[:1] == ("python",) and not is_windows_command(_posix_form(step.command))
    # What the step runs of the project: a Windows-only part (`set X=1 && python train.py`)
    # does not make any nearby Linux step (`ls data`) the way to run train.py on Linux.
    targets = _python_targets(step.command) or ({own} if translatable else set())
    # An alternative does the same kind of thing (a run for a run): a nearby install step is
    # not a Linux way to run the code.
    alternative = any(
        not other.windows
        and other.kind == step.kind
        and (other.heading == step.heading or abs(other.source_line - step.source_line) <= 20)
        and (not targets or bool(targets & _python_targets(other.command)))
        for other in steps
    )
    if alternative:
        return replace(
            step,
            kind=StepKind.PLATFORM,
            reason="Windows-only; a Linux/macOS alternative is given nearby",
        )
    if step.kind in (StepKind.NOT_APPLICABLE, StepKind.ENV):
        return step
    return replace(step, reason=f"{step.reason} (Windows syntax, no Linux alternative: attempted)")


def _apply_annotation(step: Step, ann: Annotation) -> Step:
    step = replace(
        step,
        timeout_s=ann.timeout_s,
        expect_fail=ann.expect_fail,
        long_running=ann.long_running or step.long_running,
        annotations=ann.tokens,
    )
    if ann.skip:
        return replace(
            step,
            kind=StepKind.ANNOTATED_SKIP,
            reason=f"skipped by the README annotation at line {ann.line}",
        )
    if ann.force_run and step.kind != StepKind.RUN:
        return replace(
            step,
            kind=StepKind.RUN,
            reason=f"run requested by the README annotation at line {ann.line} "
            f"(would be {step.kind}: {step.reason})",
        )
    return step


# ---------------------------------------------------------------------------------------------
# Facts


def inspect_readme_text(text: str, path: str, size_bytes: int, truncated: bool) -> ReadmeFacts:
    """Facts about README text already read (pure; used by :func:`inspect_readme`)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    coll = _Collector()
    _walk(text, path, coll)
    steps = _classify_all(coll)
    warnings = list(coll.warnings)
    if truncated:
        warnings.insert(
            0, f"README is larger than {MAX_README_BYTES} bytes: only the start was read"
        )
    sample = text[:MAX_PARSE_CHARS]
    headings = tuple(coll.headings)
    py_version = _PY_VERSION_RE.search(sample)
    return ReadmeFacts(
        path=path,
        candidates=(path,),
        size_bytes=size_bytes,
        truncated=truncated,
        word_count=len(re.findall(r"[^\W\d_][\w'-]*", text)),
        headings=headings,
        code_blocks=coll.code_blocks,
        steps=steps,
        warnings=tuple(warnings),
        env_files_mentioned=tuple(sorted(set(_ENV_FILE_RE.findall(sample)))),
        python_version_mentioned=py_version.group(1) if py_version else None,
        mentions_data_download=bool(_DATA_RE.search(sample)),
        has_install_section=any(_INSTALL_HEADINGS.search(h) for h in headings),
        has_usage_section=any(_USAGE_HEADINGS.search(h) for h in headings),
        links=len(re.findall(r"(?<!!)\[[^\]\n]{0,200}\]\(", sample)),
        images=len(re.findall(r"!\[[^\]\n]{0,200}\]\(|<img\b", sample, re.I)),
        notebooks_mentioned=tuple(sorted(set(re.findall(r"[\w./-]{1,200}\.ipynb", sample))))[:50],
    )


def inspect_readme(root: Path) -> ReadmeFacts:
    """Find and read the README (no symlinks, size-capped) and collect its facts."""
    found, links = _readme_candidates(root)
    candidates = [n for n in found if n not in links]
    candidates += [f for f in FALLBACKS if fsutil.file_size(root, f) is not None]
    refused = tuple(f"{name} is a symlink: not read" for name in links)
    path = find_readme(root)
    if path is None:
        return ReadmeFacts(
            None, tuple(candidates), 0, False, 0, (), 0, (), refused, symlink_refused=tuple(links)
        )
    size = fsutil.file_size(root, path) or 0
    text = fsutil.read_text(root, path, MAX_README_BYTES) or ""
    notes: tuple[str, ...] = ()
    if path in FALLBACKS:
        notes += (f"no README at the repository root: {path} was used",)
    parsed_as = path
    if path.lower().endswith(".ipynb"):
        text, why = notebook_markdown(text)
        parsed_as = path[: -len(".ipynb")] + ".md"
        notes += (
            f"{path} is a notebook: its markdown cells were read as the README "
            f"(line numbers count those cells' lines){why}",
        )
    facts = inspect_readme_text(text, parsed_as, size, size > MAX_README_BYTES)
    makefile = fsutil.read_text(root, "Makefile", 200_000)
    if makefile and any(MAKE_CALL.match(s.command) for s in facts.steps):
        facts = replace(facts, steps=tuple(make_kinds(facts.steps, makefile)))
    return replace(
        facts,
        path=path,
        candidates=tuple(candidates),
        warnings=refused + notes + facts.warnings,
        symlink_refused=tuple(links),
    )


def make_kinds(steps: Sequence[Step], makefile: str) -> list[Step]:
    """Classify ``make <target>`` steps by the target's recipe (see readme_sources.make_kind)."""
    out: list[Step] = []
    for step in steps:
        judged = None if step.annotations else make_kind(step.command, makefile)
        if judged is None:
            out.append(step)
        else:
            out.append(replace(step, kind=judged[0], reason=judged[1], base_kind=judged[0]))
    return out


# ---------------------------------------------------------------------------------------------
# The ``readme`` check

_SETUP_WORDS = wordset(
    "cd mkdir export set ls echo wget curl chmod unzip tar cp mv rm touch cat git gdown kaggle "
    "source unset ln which where dir"
)


def _is_run_step(step: Step) -> bool:
    """A step that runs the project's code (not setup, download or navigation)."""
    base = step.base_kind or step.kind
    if base not in (StepKind.RUN, StepKind.INTERACTIVE, StepKind.PLACEHOLDER, StepKind.PLATFORM):
        return False
    words = effective_words(step.command)
    return bool(words) and words[0].lower() not in _SETUP_WORDS


def evaluate_readme(facts: ReadmeFacts, params: model.Params) -> model.Verdict:
    """Check ``readme``: a README exists and gives install and run instructions.

    Params: ``min_words`` (int, 50; 0 disables), ``require_install_step`` (bool, true),
    ``require_run_step`` (bool, true), ``warn_placeholders`` (bool, true).
    """
    min_words = params.get_int("min_words", 50)
    require_install = params.get_bool("require_install_step", True)
    require_run = params.get_bool("require_run_step", True)
    warn_placeholders = params.get_bool("warn_placeholders", True)
    if facts.path is None:
        looked = "README.md, README.rst, README.txt, README, README.ipynb (any case), docs/README.*"
        extra = f"; {facts.symlink_refused[0]} is a symlink" if facts.symlink_refused else ""
        return model.Verdict(
            model.Status.FAIL,
            0.0,
            f"no README found (looked for {looked}){extra}",
            {"path": None, "candidates": list(facts.candidates), "missing": ["README"]},
        )
    install = [s for s in facts.steps if (s.base_kind or s.kind) == StepKind.ENV]
    runs = [s for s in facts.steps if _is_run_step(s)]
    placeholders = [s for s in facts.steps if s.kind == StepKind.PLACEHOLDER]
    missing: list[str] = []
    notes: list[str] = []
    short = min_words > 0 and facts.word_count < min_words
    if short:
        size = "nearly empty" if facts.word_count < min_words // 2 else "short"
        notes.append(f"README is {size} ({facts.word_count} words; expected {min_words}+)")
    if require_install and not install:
        missing.append("no installation step (e.g. pip install -r requirements.txt)")
    if require_run and not runs:
        missing.append("no command that runs the code (e.g. python main.py)")
    if warn_placeholders and runs and all(s.kind == StepKind.PLACEHOLDER for s in runs):
        notes.append(
            f"the run commands use placeholders ({placeholders[0].command.splitlines()[0][:80]}):"
            " give a runnable example"
        )
    details = _details(facts, missing + notes)
    details["install_steps"] = [s.index for s in install]
    details["run_steps"] = [s.index for s in runs]
    if not facts.steps:
        what = "no runnable steps (no shell code blocks or commands in numbered lists)"
        summary = "; ".join([f"{facts.path}: {what}", *notes])
        return model.Verdict(model.Status.FAIL, 0.0 if short else 0.25, summary, details)
    problems = missing + notes
    if not problems:
        summary = f"{facts.path}: {len(facts.steps)} steps with install and run instructions"
        return model.Verdict(model.Status.PASS, 1.0, summary, details)
    fraction = max(0.25, 1.0 - 0.25 * len(problems))
    return model.Verdict(
        model.Status.WARN, fraction, f"{facts.path}: " + "; ".join(problems), details
    )


def _step_json(step: Step) -> model.JSONDict:
    return {
        "index": step.index,
        "command": step.command,
        "source_line": step.source_line,
        "heading": step.heading,
        "kind": str(step.kind),
        "reason": step.reason,
        "timeout_s": step.timeout_s,
        "expect_fail": step.expect_fail,
        "long_running": step.long_running,
        "block_lang": step.block_lang,
        "base_kind": str(step.base_kind) if step.base_kind else None,
        "annotations": list(step.annotations),
        "windows": step.windows,
    }


def _details(facts: ReadmeFacts, problems: list[str]) -> model.JSONDict:
    tally: dict[str, int] = {}
    for step in facts.steps:
        tally[str(step.kind)] = tally.get(str(step.kind), 0) + 1
    counts: dict[str, model.JSONValue] = dict(tally)
    steps: list[model.JSONValue] = [
        {
            "index": s.index,
            "line": s.source_line,
            "kind": str(s.kind),
            "command": s.command[:200],
            "reason": s.reason,
        }
        for s in facts.steps[:100]
    ]
    return {
        "path": facts.path,
        "words": facts.word_count,
        "headings": len(facts.headings),
        "code_blocks": facts.code_blocks,
        "steps_total": len(facts.steps),
        "steps_by_kind": counts,
        "steps": steps,
        "missing": list[model.JSONValue](problems),
        "warnings": list[model.JSONValue](facts.warnings[:50]),
    }


def facts_to_json(facts: ReadmeFacts) -> model.JSONDict:
    """All README facts as JSON (for results.json and ``repograder inspect``)."""
    return {
        "path": facts.path,
        "candidates": list(facts.candidates),
        "size_bytes": facts.size_bytes,
        "truncated": facts.truncated,
        "word_count": facts.word_count,
        "headings": list(facts.headings),
        "code_blocks": facts.code_blocks,
        "steps": [_step_json(s) for s in facts.steps],
        "warnings": list(facts.warnings),
        "env_files_mentioned": list(facts.env_files_mentioned),
        "python_version_mentioned": facts.python_version_mentioned,
        "mentions_data_download": facts.mentions_data_download,
        "has_install_section": facts.has_install_section,
        "has_usage_section": facts.has_usage_section,
        "links": facts.links,
        "images": facts.images,
        "notebooks_mentioned": list(facts.notebooks_mentioned),
        "symlink_refused": list(facts.symlink_refused),
    }


def format_steps(steps: Sequence[Step]) -> str:
    """Plain-text table of steps (``repograder steps PATH``)."""
    if not steps:
        return "no steps found\n"
    rows = [("#", "line", "kind", "command", "reason")]
    for s in steps:
        lines = s.command.split("\n")
        command = lines[0] if len(lines) == 1 else f"{lines[0]} [+{len(lines) - 1} lines]"
        if len(command) > 70:
            command = command[:69] + "…"
        reason = s.reason
        extras = [f"timeout={s.timeout_s:g}s" if s.timeout_s else "", "expect-fail" * s.expect_fail]
        extras.append("long-running" * s.long_running)
        if any(extras):
            reason = f"{reason} [{', '.join(e for e in extras if e)}]"
        rows.append((str(s.index), str(s.source_line), str(s.kind), command, reason))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    out = ["  ".join(r[c].ljust(widths[c]) for c in range(4)) + "  " + r[4] for r in rows]
    return "\n".join(line.rstrip() for line in out) + "\n"
