"""Shell-command heuristics for README steps: splitting and recognising commands.

Pure string functions, no I/O; :mod:`repograder.readme` feeds them the code blocks it finds.
Classifying a command (run, set-up, interactive, ...) is the rule table of
:mod:`repograder.readme_rules`.
Every regular expression here runs on single lines or short commands and has no nested
quantifiers, so hostile README text cannot make it backtrack for long.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from repograder.facts import (  # re-exported: their old home
    StepKind as StepKind,
)
from repograder.readme_annotations import ANNOTATION_RE as ANNOTATION_RE
from repograder.readme_annotations import Annotation as Annotation
from repograder.readme_annotations import parse_annotation as parse_annotation


def wordset(text: str) -> frozenset[str]:
    """A set of words written as one string (keeps long word lists readable)."""
    return frozenset(text.split())


# ---------------------------------------------------------------------------------------------
# Splitting a block into commands

_HEREDOC_RE = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][\w.-]{0,40})\1")
_OPENERS_RE = re.compile(r"(?:^|[;&|]\s*|\bthen\s+|\bdo\s+)(if|case|for|while|until)\b")
_CLOSERS_RE = re.compile(r"(?:^|[;&|]\s*)(fi|esac|done)\b")
_INLINE_ANN_RE = re.compile(r"^\s*#\s*repograder\s*:(.*)$", re.IGNORECASE)


MAX_COMMAND_LINES = 300  # one command (with its heredoc bodies) never spans more lines


@dataclass(frozen=True)
class RawCommand:
    """One command cut out of a block: its text, 1-based line and the lines without bodies."""

    text: str
    line: int
    head: str  # the command without heredoc bodies (what classification looks at)
    annotation: Annotation | None = None  # from a ``# repograder: ...`` comment just above


def _scan_quotes(line: str, quote: str) -> str:
    """The quote still open after ``line`` ("" when none); a ``#`` comment ends the scan."""
    i = 0
    n = len(line)
    while i < n:
        ch = line[i]
        if quote == "'":
            if ch == "'":
                quote = ""
        elif quote == '"':
            if ch == "\\":
                i += 1
            elif ch == '"':
                quote = ""
        elif ch == "\\":
            i += 1
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t;"):
            return quote
        i += 1
    return quote


def _depth_change(line: str) -> int:
    code = line.split(" #", 1)[0]
    return len(_OPENERS_RE.findall(code)) - len(_CLOSERS_RE.findall(code))


class ShellState:
    """Incremental view of whether the lines fed so far end inside an unfinished command."""

    def __init__(self) -> None:
        self.quote = ""
        self.depth = 0
        self.heredocs: list[str] = []
        self.last = ""

    def feed(self, line: str) -> bool:
        """Account for one more line of the command; True when it was a heredoc body line."""
        self.last = line.rstrip()
        if self.heredocs:
            if line.strip() == self.heredocs[0]:
                self.heredocs.pop(0)
            return True
        if not self.quote:
            self.heredocs = [m.group(2) for m in _HEREDOC_RE.finditer(line)]
            self.depth = max(self.depth + _depth_change(line), 0)
        self.quote = _scan_quotes(line, self.quote)
        return False

    def incomplete(self) -> bool:
        """True inside a quote, heredoc or ``if``/``for``, or after ``\\``, ``&&``, ``|`` or a
        PowerShell line continuation (a backtick after a space)."""
        return bool(
            self.quote
            or self.heredocs
            or self.depth
            or self.last.endswith(("\\", "&&", "||", "|", " `", "\t`"))
        )


def split_script(lines: list[str], first_line: int) -> tuple[list[RawCommand], list[str]]:
    """Split script lines into commands (continuations, heredocs, open quotes, if/for blocks)."""
    commands: list[RawCommand] = []
    warnings: list[str] = []
    pending_ann: Annotation | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            i += 1
            continue
        if stripped.startswith((">>>", "...")):
            i += 1  # a Python REPL transcript line, not shell
            continue
        if stripped.startswith("#"):
            ann_match = _INLINE_ANN_RE.match(stripped)
            if ann_match:
                pending_ann, ann_warnings = parse_annotation(ann_match.group(1), first_line + i)
                warnings.extend(ann_warnings)
            i += 1
            continue
        start = i
        state = ShellState()
        text_lines: list[str] = []
        head_lines: list[str] = []
        while i < len(lines) and len(text_lines) < MAX_COMMAND_LINES:
            if text_lines and not state.incomplete():
                break
            current = lines[i].rstrip()
            text_lines.append(current)
            if not state.feed(current):
                head_lines.append(current)
            i += 1
        commands.append(
            RawCommand(
                "\n".join(text_lines), first_line + start, "\n".join(head_lines), pending_ann
            )
        )
        pending_ann = None
    return commands, warnings


PROMPT_RE = re.compile(
    r"^\s{0,8}(?:\([\w.\-]{1,40}\)\s{1,4})?"  # (env)
    r"(?:[\w.\-]{1,40}@[\w.\-]{1,60}(?::[^\s$#%>]{0,120})?\s?)?"  # user@host:~/dir
    r"(?:(?P<dollar>[$%❯➜])|(?P<ps>PS(?: [^>\n]{0,120})?>|[A-Za-z]:\\[^>\n]{0,120}>)"
    r"|(?P<gt>>(?!>)))"
    r"(?:\s(?P<cmd>.*)|$)"
)


def prompt_command(line: str, allow_gt: bool) -> str | None:
    """The command after a shell prompt (``$ ``, ``(env) $ ``, ``PS C:\\>``), else None."""
    match = PROMPT_RE.match(line)
    if match is None or (match.group("gt") and not allow_gt):
        return None
    return (match.group("cmd") or "").strip()


def has_prompts(lines: list[str], allow_gt: bool) -> bool:
    """True when some line starts with a prompt marking a command (a console transcript)."""
    return any(prompt_command(line, allow_gt) for line in lines)


def split_console(
    lines: list[str], first_line: int, allow_gt: bool
) -> tuple[list[RawCommand], list[str]]:
    """Commands from a console transcript: prompted lines (and their continuations) only."""
    commands: list[RawCommand] = []
    warnings: list[str] = []
    i = 0
    while i < len(lines):
        cmd = prompt_command(lines[i], allow_gt)
        if not cmd or cmd.startswith("#"):
            i += 1  # expected output, or a bare prompt
            continue
        start = i
        block = [cmd]
        state = ShellState()
        state.feed(cmd)
        i += 1
        # A command continues over the next lines until complete; a PS2 "> " is stripped.
        while i < len(lines) and state.incomplete() and len(block) < MAX_COMMAND_LINES:
            nxt = lines[i]
            nxt = nxt[2:] if nxt.startswith("> ") else nxt
            block.append(nxt)
            state.feed(nxt)
            i += 1
        parsed, block_warnings = split_script(block, first_line + start)
        commands.extend(parsed[:1])
        warnings.extend(block_warnings)
    return commands, warnings


# ---------------------------------------------------------------------------------------------
# Recognising commands

KNOWN_EXECUTABLES = wordset(
    """
    python python3 py pip pip3 conda mamba micromamba git cd bash sh zsh source make uv uvx
    poetry pipenv pdm hatch jupyter jupyter-notebook jupyter-lab ipython export mkdir wget curl
    streamlit tensorboard gradio flask uvicorn gunicorn docker docker-compose podman pytest tox
    nox unzip tar gzip gunzip cp mv rm ls cat echo chmod ln touch sudo apt apt-get brew pyenv
    virtualenv deactivate activate kaggle huggingface-cli gdown aws gsutil rsync ffmpeg sox
    nvidia-smi accelerate torchrun deepspeed dvc wandb mlflow snakemake cmake npm node yarn
    open xdg-open start dir cls copy del where which module sbatch srun pre-commit ruff black
    sphinx-build mkdocs pwsh powershell cmd set-executionpolicy voila unset env time nohup
    dvc git-lfs pip-compile pip-sync choco winget set cls rmdir xcopy setx tmux screen
    python.exe py.exe
    """
)
_PY_VERSIONED_RE = re.compile(r"(?:python|pip)3?(?:\.\d{1,2})?$")
_ASSIGN_RE = re.compile(r"[A-Za-z_]\w{0,60}=\S*$")
_PYTHON_CODE_RE = re.compile(
    r"^\s*(?:import\s+[\w.]+|from\s+[\w.]+\s+import\b|def\s+\w+\s*\(|class\s+\w+[(:]|>>>"
    r"|print\(|return\b|@\w+|if __name__|[\w.\[\]]{1,60}\s*=\s*[\w\[({'\"-]"
    r"|for\s+\w+\s+in\s+.{0,200}:\s*$|with\s+.{0,200}:\s*$)"
)
_TREE_RE = re.compile(r"[├└│┬┼]|^\s*(?:\|--|\+--|`--)")


def _words(text: str) -> list[str]:
    first = text.split("\n", 1)[0].rstrip("\\").strip()
    if "\\" in first:
        return first.split()  # Windows paths: POSIX shlex would eat the backslashes
    try:
        return shlex.split(first, comments=True)
    except ValueError:
        return first.split()


def effective_words(text: str) -> list[str]:
    """Words of a command without ``sudo``, ``VAR=1`` prefixes, ``time``, ``!`` (notebooks)."""
    words = _words(text.lstrip("!"))
    while words and (
        words[0] in ("sudo", "time", "nohup", "env", "command", "exec", "noglob")
        or _ASSIGN_RE.match(words[0])
    ):
        if len(words) == 1 and _ASSIGN_RE.match(words[0]):
            return words  # a bare assignment is itself the command
        words = words[1:]
    return words


# A program of an environment's bin folder: venv/bin/jupyter, ~/miniconda3/envs/x/bin/python
_ENV_BIN_RE = re.compile(r"^[\w.~/-]{0,200}/bin/(?P<program>[\w.-]{1,60})$")


def env_program(word: str) -> str:
    """``jupyter`` for ``venv/bin/jupyter`` (the environment's own program), else ``word``."""
    match = _ENV_BIN_RE.match(word)
    return match.group("program") if match else word


def _is_executable(word: str) -> bool:
    lower = env_program(word.lower())
    return (
        lower in KNOWN_EXECUTABLES
        or bool(_PY_VERSIONED_RE.match(lower))
        or lower.startswith(("./", "../", ".\\", "~/", "$env:", "venv/", ".venv/"))
        or lower.endswith((".sh", ".py", ".bat", ".ps1", "\\activate", "\\activate.bat"))
        or bool(_ASSIGN_RE.match(word))
    )


def looks_like_command(text: str) -> bool:
    """True when the first word is a known executable, a script path or an assignment."""
    if _PYTHON_CODE_RE.match(text) and not text.lstrip().startswith(("export ", "set ")):
        return False
    words = effective_words(text)
    if len(words) > 1 and words[0][:1].isupper() and _VERSION_RE.match(words[1]):
        return False  # "Python 3.12.3": a version printed or named, not a command
    return bool(words) and _is_executable(words[0])


_ACTIVATE_ENDS = ("\\activate", "/activate", "\\activate.bat", "\\activate.ps1")
_VERSION_RE = re.compile(r"v?\d+(?:\.\d+)+\b")
# Commands written in prose, outside code: "$ pip install x", a line that is only a command,
# "the following command: pip install librosa", "*python ./train.py*". Only the common
# first words, and a second word that looks like an argument, so prose is not taken.
_PROSE_FIRST = wordset(
    "python python3 py pip pip3 conda mamba source git streamlit jupyter bash sh make uv poetry "
    "pipenv pytest python3.8 python3.9 python3.10 python3.11 python3.12 docker"
)
_PROSE_ARG = re.compile(
    r"^(?:-{1,2}[\w-]+|[\w./\\-]*[./\\][\w./\\-]*|install|run|create|env|activate|clone|lab|notebook|init|shell|sync)$"
)
_PROSE_LINE = re.compile(
    r"^(?P<prompt>\$\s+)?(?:.*?\bcommand:\s*|(?:run|execute)\s+(?=python|pip))?(?P<cmd>.+?)\s*$",
    re.I,
)


def prose_command(line: str) -> str | None:
    """The command a line of prose consists of, or None (see _PROSE_LINE)."""
    line = line.strip()
    if not line or len(line) > 300 or "`" in line:
        return None
    m = _PROSE_LINE.match(line)
    if m is None:
        return None
    text = m.group("cmd").strip().rstrip(".").strip("*_").strip()
    words = text.split()
    if len(words) == 1 and words[0].lower().endswith(_ACTIVATE_ENDS):
        return text
    if m.group("prompt"):  # "$ cmd": a shell prompt marks a command whatever its first word
        return text if words and looks_like_command(text) else None
    if len(words) < 2 or words[0] not in _PROSE_FIRST:
        return None
    if not _PROSE_ARG.match(words[1]) or _VERSION_RE.match(words[1]):
        return None
    if len(words) > 12 or re.search(r"[,;]\s|\b(?:the|and|or|to|your|you|this|with)\b", text):
        return None
    return text


def looks_like_inline_command(text: str) -> bool:
    """Stricter test for an inline code span: a command with arguments (``python x.py``)."""
    text = " ".join(text.split())  # a code span may wrap over lines
    if not text or len(text) > 400:
        return False
    words = text.split()
    if len(words) < 2 and not (
        words[0].startswith(("./", "make")) or words[0].lower().endswith(_ACTIVATE_ENDS)
    ):
        return False
    return looks_like_command(text)


# The first word of a line that no shell runs: a Python call (``Compose(``), a lone ``)``, a
# dict literal (``{'acc': 0.8}``) or a progress bar (``100%|████``): code or output in a block
# tagged as shell.
_NOT_SHELL_RE = re.compile(r"^(?:[A-Za-z_][\w.]*\(|\)|\{['\"]|\d{1,3}%\|)")


def is_shell_line(head: str) -> bool:
    """False when the command's first word cannot start a shell command (see _NOT_SHELL_RE)."""
    return not _NOT_SHELL_RE.match(head.lstrip())


def block_is_shell(commands: list[RawCommand]) -> bool:
    """Decide whether an untagged block is shell commands (not Python, output or a tree)."""
    if not commands:
        return False
    if any(_TREE_RE.search(c.text) for c in commands):
        return False
    # Python code; an assignment such as ``X=1`` alone does not count as Python.
    python_like = any(_PYTHON_CODE_RE.match(ln) for c in commands for ln in c.head.split("\n"))
    if python_like and not all(
        _ASSIGN_RE.match(c.head.strip()) or looks_like_command(c.head) for c in commands
    ):
        return False
    good = sum(1 for c in commands if looks_like_command(c.head))
    return looks_like_command(commands[0].head) and good * 2 >= len(commands)


# ---------------------------------------------------------------------------------------------
# Classification

_PLACEHOLDER_RES = (
    (re.compile(r"(?<![<\w])<(?:your|my)[^<>\n]{0,60}>", re.I), "an <your-...> placeholder"),
    (re.compile(r"(?<![<\w$])<[A-Za-z][\w./:\-]{0,60}>"), "a <...> placeholder"),
    (re.compile(r"\b(?:YOUR|your|Your)[_\-][\w\-]{1,60}|\bYOUR[A-Z]{0,20}\b"), "a YOUR_... value"),
    (re.compile(r"\bpath[/\\]to\b", re.I), "a path/to/... placeholder"),
    (re.compile(r"(?:^|\s)\[[A-Za-z_][\w.\-]{0,40}\](?=\s|$)"), "a [metavar] placeholder"),
    (
        re.compile(r"(?<![$\w])\{(?:your|path|file|dataset|model)[\w\-]{0,40}\}", re.I),
        "a {...} placeholder",
    ),
    (re.compile(r"(?:^|\s)(?:\.\.\.|…)(?=\s|$)"), "'...' as an argument"),
    # {args}, {config}: a whole word in braces is no brace expansion (that needs , or ..)
    (re.compile(r"(?:^|[\s=])\{[A-Za-z_][\w\-]{0,40}\}(?=\s|$)"), "a {...} placeholder"),
    (re.compile(r"(?:^|[\s=])[xX]{3,}(?=\s|$|['\"])"), "an XXX placeholder"),
)
_BACKSLASH_PATH_RE = re.compile(r"(?:^|\s)(?:\.{1,2}\\|[A-Za-z]:\\|[\w.\-]{1,80}\\[\w.\-])")
# cmd.exe's %VARIABLE% (three or more characters, so date's +%Y%m%d is not one)
_CMD_VARIABLE_RE = re.compile(r"%[A-Za-z_][A-Za-z0-9_]{2,40}%")
_WINDOWS_WORDS = wordset(
    # Not `py`: the Windows launcher's commands run as `python` (readme_translate).
    "dir cls copy del where start ren move xcopy rmdir setx choco winget "
    "set-executionpolicy pwsh powershell cmd"
)
# `a & b` runs a in the background and goes on with b; `|&` pipes both streams. A `&` that is
# part of a redirection (`2>&1`, `&>`, `>&`, `<&`) separates nothing.
_SEPARATORS_RE = re.compile(r"&&|\|\||\|&|;|\||(?<![<>&])&(?![>&])")


def placeholder_reason(text: str) -> str | None:
    """Why a command cannot run as written (it has a placeholder), or None."""
    for line in text.split("\n"):
        for regex, what in _PLACEHOLDER_RES:
            match = regex.search(line)
            if match:
                return f"has {what} ({match.group(0).strip()!r}): give a runnable example"
    return None


def is_windows_command(text: str) -> bool:
    """True for Windows-only syntax: ``venv\\Scripts\\activate``, ``set X=1``, ``dir``, ``C:\\``,
    ``%USERPROFILE%``."""
    words = effective_words(text)
    if not words:
        return False
    first = words[0].lower()
    if first == "set":
        return len(words) > 1 and "=" in words[1]
    if first in _WINDOWS_WORDS or first.startswith("$env:"):
        return first != "start" or len(words) > 1
    if first.endswith((".bat", ".cmd", ".ps1")) or any(
        "scripts/activate" in w.lower().replace("\\", "/") for w in words[:2]
    ):
        return True  # a batch/PowerShell script, a venv's Windows layout (venv/Scripts/...)
    head = text.split("\n", 1)[0].rstrip("\\ ")
    return bool(_BACKSLASH_PATH_RE.search(head) or _CMD_VARIABLE_RE.search(head))


def split_parts(head: str) -> list[str]:
    """Top-level parts of a compound command (``a && b; c | d & e``), quotes respected roughly."""
    return [part for _, part in split_compound(head)]


def split_compound(head: str) -> list[tuple[str, str]]:
    """(separator before it, part) for each top-level part: ``a && b; c`` gives
    ``[("", "a"), ("&&", "b"), (";", "c")]``. Empty parts are left out."""
    first = head.split("\n", 1)[0] if "<<" in head else head.replace("\\\n", " ")
    parts: list[tuple[str, str]] = []
    current: list[str] = []
    before = ""
    quote = ""
    i = 0
    while i < len(first):
        ch = first[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif _SEPARATORS_RE.match(first, i):
            sep = _SEPARATORS_RE.match(first, i)
            assert sep is not None
            text = "".join(current).strip()
            if text:
                parts.append((before, text))
            before = sep.group(0) if text or not parts else before
            current = []
            i += len(sep.group(0))
            continue
        current.append(ch)
        i += 1
    text = "".join(current).strip()
    if text:
        parts.append((before, text))
    return parts or [("", head.strip())]


def substitutions(text: str, limit: int = 20) -> list[str]:
    """The commands a shell runs *inside* ``text`` before running it (bash(1), "Command
    Substitution", "Process Substitution"): ``$(cmd)``, ``\\`cmd\\```, ``<(cmd)``, ``>(cmd)``.

    Single-quoted text is literal and skipped; nesting is followed by counting parentheses (the
    inner text is returned whole, its own substitutions are found when it is classified). At
    most ``limit`` commands; linear in ``len(text)``.
    """
    found: list[str] = []
    i, n = 0, len(text)
    in_single = False
    while i < n and len(found) < limit:
        ch = text[i]
        if in_single:
            in_single = ch != "'"
            i += 1
            continue
        if ch == "'":
            in_single = True
        elif ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                break
            found.append(text[i + 1 : end])
            i = end + 1
            continue
        elif ch in "$<>" and text.startswith("(", i + 1) and not text.startswith("((", i + 1):
            depth, j = 1, i + 2
            while j < n and depth:
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                j += 1
            found.append(text[i + 2 : j - 1] if depth == 0 else text[i + 2 :])
            i = j
            continue
        i += 1
    return [f.strip() for f in found if f.strip()]
