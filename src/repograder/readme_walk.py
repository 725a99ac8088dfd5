"""Walking a README's text into raw commands: Markdown (markdown-it tokens) and reStructuredText.

Shell-tagged and untagged fenced blocks, indented blocks, console transcripts, inline code in
list items, ``.. code-block::`` directives and ``::`` literal blocks, each with its heading,
line and the ``repograder:`` annotations before it. :mod:`repograder.readme` classifies what
this module collects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from repograder.readme_commands import (
    ANNOTATION_RE,
    Annotation,
    RawCommand,
    block_is_shell,
    has_prompts,
    is_shell_line,
    is_windows_command,
    looks_like_command,
    looks_like_inline_command,
    parse_annotation,
    prompt_command,
    prose_command,
    split_console,
    split_script,
    wordset,
)
from repograder.readme_sources import (
    normalise_fences,
)

# markdown-it is linear on ordinary text but slow on some shapes (hundreds of thousands of list
# items, million-line paragraphs). Real READMEs are far below these limits.
MAX_PARSE_CHARS = 400_000
MAX_PARSE_LINES = 10_000
MAX_LINE_CHARS = 2_000

SHELL_LANGS = wordset(
    "bash sh shell zsh ksh fish console shell-session shellsession sh-session terminal "
    "session cli cmd bat batch dos powershell ps ps1 pwsh posh"
)
CONSOLE_LANGS = wordset("console shell-session shellsession sh-session terminal session cmd dos")
WINDOWS_LANGS = wordset("cmd bat batch dos powershell ps ps1 pwsh posh")
UNTAGGED_LANGS = frozenset({"", "text", "txt", "plaintext", "plain", "none", "code"})
_CODE_SPAN_RE = re.compile(r"(?<!`)(`{1,3})(?!`)([^`\n][^`]{0,400}?)(?<!`)\1(?!`)")
_LINK_TEXT_RE = re.compile(r"!?\[([^\]\n]{0,200})\]\([^)\n]{0,500}\)")
_ALONE_SPAN = re.compile(r"(`{1,3})[^`\n]{1,400}\1")
# The verb before an inline command in prose ("Run `python main.py`"), in the languages
# students of the course write READMEs in: English; German (ausführen, starten, Führen Sie …
# aus, aufrufen, eingeben); Spanish/Portuguese/Italian/French stems (ejecute, instale, rode,
# esegui, lancez, exécutez, utilisez); Croatian, Polish, Dutch, Turkish; Chinese and Japanese,
# which put no spaces (so no word boundary) around the verb.
_RUN_VERBS = re.compile(
    r"\b(?:run|execute|type|start\w*|launch|call|install\w*|use|"
    r"ausf[üu]hr\w*|f[üu]hr\w*|aufruf\w*|eingeb\w*|"
    r"ejecut\w*|instal\w*|us[ae]r?|inici\w*|lanz\w*|corr[ae]\w*|execut\w*|rod[ae]r?|"
    r"esegu\w*|lanci\w*|exécut\w*|lance[rz]?|utilis\w*|"
    r"pokren\w*|uruchom\w*|uitvoer\w*|voer|çalıştır\w*)\b"
    r"|运行|執行|执行|安装|安裝|启动|啟動|使用|実行|インストール|起動",
    re.I,
)


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
            # `$ pip install -r requirements.txt`: the prompt marks a command, it is not one
            code = prompt_command(code, False) or code
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
            # ```{python}, ```{.bash}; a bare ```{ names no language
            words = tok.info.strip().strip("{}.").split(maxsplit=1)
            lang = words[0] if words else ""
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


def _cmd_prompts(lines: list[str]) -> bool:
    """An untagged block whose every line is ``> command`` (cmd.exe's prompt), not a quote."""
    written = [line.strip() for line in lines if line.strip()]
    return bool(written) and all(
        line.startswith("> ") and looks_like_command(line[2:]) for line in written
    )
