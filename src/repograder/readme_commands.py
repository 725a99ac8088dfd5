"""Shell-command heuristics for README steps: splitting, recognising and classifying commands.

Pure string functions, no I/O; :mod:`repograder.readme` feeds them the code blocks it finds.
Every regular expression here runs on single lines or short commands and has no nested
quantifiers, so hostile README text cannot make it backtrack for long.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from repograder import readme_translate
from repograder.facts import (  # re-exported: their old home
    StepKind as StepKind,
)


def wordset(text: str) -> frozenset[str]:
    """A set of words written as one string (keeps long word lists readable)."""
    return frozenset(text.split())


# ---------------------------------------------------------------------------------------------
# Annotations

ANNOTATION_RE = re.compile(r"<!--\s*repograder\s*:([^>]{0,300}?)-->", re.IGNORECASE)
_TIMEOUT_RE = re.compile(r"(\d{1,7}(?:\.\d{1,3})?)\s*(s|sec|secs|m|min|mins|h|hr|hrs)?", re.I)
_UNIT_SECONDS = {"": 1.0, "s": 1.0, "sec": 1.0, "secs": 1.0, "m": 60.0, "min": 60.0}
_UNIT_SECONDS |= {"mins": 60.0, "h": 3600.0, "hr": 3600.0, "hrs": 3600.0}


@dataclass(frozen=True)
class Annotation:
    """A parsed ``<!-- repograder: ... -->`` comment."""

    line: int
    skip: bool = False
    force_run: bool = False
    timeout_s: float | None = None
    expect_fail: bool = False
    long_running: bool = False
    tokens: tuple[str, ...] = ()


def parse_annotation(body: str, line: int) -> tuple[Annotation, tuple[str, ...]]:
    """Parse the text after ``repograder:``; unknown keys become warnings, never errors."""
    body = re.sub(r"\s*[=:]\s*", "=", body.strip())
    tokens = tuple(t for t in re.split(r"[\s,;]+", body) if t)
    warnings: list[str] = []
    skip = force_run = expect_fail = long_running = False
    timeout: float | None = None
    for token in tokens:
        key, _, value = token.partition("=")
        key = key.lower().replace("_", "-")
        if key == "skip":
            skip = True
        elif key == "run":
            force_run = True
        elif key in ("expect-fail", "xfail", "expected-fail"):
            expect_fail = True
        elif key in ("long-running", "long"):
            long_running = True
        elif key == "timeout":
            match = _TIMEOUT_RE.fullmatch(value.strip())
            seconds = (
                float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "").lower()]
                if match
                else 0.0
            )
            if seconds <= 0:
                warnings.append(
                    f"line {line}: repograder annotation timeout={value!r} is not a duration "
                    "(use e.g. timeout=90s, timeout=20m, timeout=2h or plain seconds)"
                )
            else:
                timeout = seconds
        else:
            warnings.append(f"line {line}: unknown repograder annotation {token!r} (ignored)")
    annotation = Annotation(line, skip, force_run, timeout, expect_fail, long_running, tokens)
    return annotation, tuple(warnings)


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
        """True inside a quote, heredoc or ``if``/``for``, or after ``\\``, ``&&``, ``|``."""
        return bool(
            self.quote or self.heredocs or self.depth or self.last.endswith(("\\", "&&", "||", "|"))
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


def _is_executable(word: str) -> bool:
    lower = word.lower()
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


_MAKE_SETUP_TARGETS = wordset("install setup deps dependencies requirements env venv init")
_PIPE_INSTALL = re.compile(r"^\s*(?:curl|wget)\s[^|\n]*\|\s*(?:sudo\s+)?(?:(?:ba|z)?sh|python3?)\b")
_SHELL_SETTINGS = re.compile(r"(?:^|/)(?:\.bashrc|\.zshrc|\.profile|\.bash_profile|env)$")
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
    (re.compile(r"(?:^|[\s=])[xX]{3,}(?=\s|$|['\"])"), "an XXX placeholder"),
)
_BACKSLASH_PATH_RE = re.compile(r"(?:^|\s)(?:\.{1,2}\\|[A-Za-z]:\\|[\w.\-]{1,80}\\[\w.\-])")
_WINDOWS_WORDS = wordset(
    # Not `py`: the Windows launcher's commands run as `python` (readme_translate).
    "dir cls copy del where start ren move xcopy rmdir setx choco winget "
    "set-executionpolicy pwsh powershell cmd"
)
_SEPARATORS_RE = re.compile(r"&&|\|\||;|\|")


def placeholder_reason(text: str) -> str | None:
    """Why a command cannot run as written (it has a placeholder), or None."""
    for line in text.split("\n"):
        for regex, what in _PLACEHOLDER_RES:
            match = regex.search(line)
            if match:
                return f"has {what} ({match.group(0).strip()!r}): give a runnable example"
    return None


def is_windows_command(text: str) -> bool:
    """True for Windows-only syntax: ``venv\\Scripts\\activate``, ``set X=1``, ``dir``, ``C:\\``."""
    words = effective_words(text)
    if not words:
        return False
    first = words[0].lower()
    if first == "set":
        return len(words) > 1 and "=" in words[1]
    if first in _WINDOWS_WORDS or first.startswith("$env:"):
        return first != "start" or len(words) > 1
    head = text.split("\n", 1)[0].rstrip("\\ ")
    return bool(_BACKSLASH_PATH_RE.search(head))


def split_parts(head: str) -> list[str]:
    """Top-level parts of a compound command (``a && b; c | d``), quotes respected roughly."""
    first = head.split("\n", 1)[0] if "<<" in head else head.replace("\\\n", " ")
    parts: list[str] = []
    current: list[str] = []
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
            parts.append("".join(current).strip())
            current = []
            i += len(sep.group(0))
            continue
        current.append(ch)
        i += 1
    parts.append("".join(current).strip())
    return [p for p in parts if p] or [head.strip()]


@dataclass(frozen=True)
class Context:
    """What classification of one command needs to know about the README around it."""

    windows_block: bool = False
    clone_seen: bool = False  # an earlier step cloned the project
    after_clone: bool = False  # the previous step cloned the project


def _is_activation(words: list[str]) -> bool:
    if not words:
        return False
    first = words[0]
    target = words[1] if len(words) > 1 else ""
    if first in ("source", ".") and (
        target.endswith(("/activate", "activate.fish", "activate.csh")) or target == "activate"
    ):
        return True
    if first in ("conda", "mamba", "micromamba") and target in ("activate", "deactivate", "init"):
        return True
    lowered = first.lower().replace("/", "\\")
    return first in ("activate", "deactivate") or lowered.endswith(
        ("\\activate", "\\activate.bat", "\\activate.ps1")
    )


def _classify_part(part: str, ctx: Context) -> tuple[StepKind, str]:
    words = effective_words(part)
    if not words:
        return StepKind.RUN, "runs a command"
    inner = readme_translate.runner_inner(words)
    if inner is not None:
        # `poetry run X`: the command behind the runner decides, in the built environment.
        runner = " ".join(words[:2])
        if not inner:
            return StepKind.RUN, f"runs {runner} without a command"
        kind, reason = _classify_part(" ".join(inner), ctx)
        return kind, f"{reason} (through {runner})"
    first = words[0]
    lower = first.lower()
    is_python = readme_translate.is_interpreter(lower)
    if is_python and len(words) > 1 and re.fullmatch(r"-3(?:\.\d{1,2})?", words[1]):
        words = [words[0], *words[2:]]  # py -3.10 x.py: the version is a launcher option
    sub = words[1] if len(words) > 1 else ""
    rest = words[1:]
    module = rest[1] if len(rest) > 1 and rest[0] == "-m" else ""
    developer = _developer_only(lower, sub, words, is_python, module, part)
    if developer:
        return StepKind.NOT_APPLICABLE, developer

    if lower in ("source", ".") and len(words) > 1 and _SHELL_SETTINGS.search(words[1]):
        return StepKind.NOT_APPLICABLE, "loads shell settings: the grader's shell has its own"
    if lower in ("curl", "wget") and re.search(r"\|\s*(?:sudo\s+)?(?:ba|z)?sh\b|\|\s*python", part):
        return (
            StepKind.ENV,
            "installs a tool with a downloaded script: the sandbox image has its tools",
        )
    if _is_activation(words):
        return (
            StepKind.NOT_APPLICABLE,
            "activates an environment: the grader's shell already uses it",
        )
    if lower.endswith((".ps1", ".bat", ".cmd")):
        return StepKind.PLATFORM, "a Windows script (PowerShell or batch): cannot run on Linux"
    if lower == "git" and sub == "clone":
        if not ctx.clone_seen:
            return (
                StepKind.NOT_APPLICABLE,
                "clones the project: the grader already has the checkout",
            )
        return StepKind.RUN, "clones another repository (needs network access)"
    if lower == "cd" and ctx.after_clone:
        return StepKind.NOT_APPLICABLE, "changes into the cloned folder: the grader starts there"
    if lower == "cd" and placeholder_reason(part):
        return StepKind.NOT_APPLICABLE, "changes into the project folder: the grader starts there"
    if lower in ("pyenv", "nvm"):
        return StepKind.NOT_APPLICABLE, f"{lower} selects an interpreter: the environment has one"

    # Environment setup.
    pip_args: list[str] | None = None
    if re.fullmatch(r"pip3?(?:\.\d{1,2})?", lower):
        pip_args = rest
    elif is_python and module == "pip":
        pip_args = rest[2:]
    elif lower == "uv" and sub == "pip":
        pip_args = rest[1:]
    if pip_args is not None:
        if pip_args[:1] in (["install"], ["uninstall"]):
            if "-r" in pip_args or any(a.startswith("--requirement") for a in pip_args):
                return (
                    StepKind.ENV,
                    "installs the requirements file: covered by the environment build",
                )
            if "-e" in pip_args or "." in pip_args or "--editable" in pip_args:
                return StepKind.ENV, "installs the project: covered by the environment build"
            return StepKind.ENV, (
                "installs packages: the environment is built from the dependency files "
                "(steps run without network)"
            )
        return StepKind.RUN, "runs pip"
    if is_python and sub == "setup.py" and len(words) > 2 and words[2] in ("install", "develop"):
        return StepKind.ENV, "installs the project: covered by the environment build"
    if is_python and module in ("venv", "virtualenv"):
        return StepKind.ENV, "creates a virtual environment: covered by the environment build"
    if lower in ("virtualenv", "pip-compile", "pip-sync"):
        return StepKind.ENV, f"{lower}: covered by the environment build"
    if lower in ("conda", "mamba", "micromamba"):
        if sub == "run":
            return StepKind.RUN, "runs a command in the conda environment"
        what = " ".join(words[:3] if sub == "env" else words[:2])
        return StepKind.ENV, f"{what}: covered by the environment build"
    if lower in ("poetry", "pipenv", "pdm", "hatch", "uv"):
        if sub == "shell":
            return StepKind.INTERACTIVE, f"{lower} shell opens an interactive shell"
        if sub in ("run",):
            return StepKind.RUN, f"runs a command in the {lower} environment"
        if sub == "env" and lower == "poetry":
            return StepKind.NOT_APPLICABLE, "selects an interpreter: the environment has one"
        if sub in (
            "install",
            "sync",
            "venv",
            "lock",
            "add",
            "update",
            "env",
            "init",
            "pip",
            "python",
        ):
            return StepKind.ENV, f"{lower} {sub}: covered by the environment build"
        return StepKind.RUN, f"runs {lower}"
    if lower == "make" and sub in _MAKE_SETUP_TARGETS and len(words) == 2:
        # Without the Makefile's recipe (readme.make_kinds reads it), the target's name.
        return StepKind.ENV, f"make {sub}: installs (by the target's name)"
    if lower in ("apt", "apt-get", "dnf", "yum", "pacman", "apk"):
        return StepKind.ENV, "installs system packages: the sandbox image provides them"
    if lower in ("brew", "port"):
        return StepKind.PLATFORM, "macOS-only (Homebrew/MacPorts)"
    if lower in ("choco", "winget", "scoop"):
        return StepKind.PLATFORM, "Windows-only package manager"

    # Interactive or long-running by nature.
    interactive = _interactive_reason(lower, sub, words, is_python, module)
    if interactive:
        return StepKind.INTERACTIVE, interactive
    return StepKind.RUN, "runs a command"


def _developer_only(
    lower: str, sub: str, words: list[str], is_python: bool, module: str, part: str
) -> str | None:
    """Steps for the project's developers, not instructions for a reader to run."""
    pip = re.fullmatch(r"pip3?(?:\.\d{1,2})?", lower) or (is_python and module == "pip")
    pip_sub = (words[3] if is_python and len(words) > 3 else "") if module == "pip" else sub
    if pip and pip_sub == "freeze":
        return "a developer step (pip freeze writes the requirements list): not run"
    if lower in ("poetry", "uv", "pdm", "pipenv") and sub in ("add", "remove", "lock", "update"):
        if lower == "pipenv" and sub == "update":
            return None
        return f"a developer step ({lower} {sub} changes the dependency list): not run"
    if lower == "pre-commit" or (is_python and module == "pre_commit"):
        return "a developer step (pre-commit hooks): not run"
    if lower == "git" and sub in ("add", "commit", "push"):
        return f"a developer step (git {sub}): not run"
    return None


def _interactive_reason(
    lower: str, sub: str, words: list[str], is_python: bool, module: str
) -> str | None:
    if lower in ("jupyter", "jupyter-notebook", "jupyter-lab", "voila"):
        if sub in (
            "nbconvert",
            "execute",
            "kernelspec",
            "--version",
            "labextension",
            "nbextension",
        ):
            return None
        return "opens the Jupyter web UI (interactive); the notebooks are executed separately"
    notebook_ui = len(words) > 3 and words[3] not in ("nbconvert", "execute")
    if is_python and module in ("jupyter", "notebook", "jupyterlab") and notebook_ui:
        return "opens the Jupyter web UI (interactive); the notebooks are executed separately"
    if is_python and module in ("http.server", "SimpleHTTPServer", "tensorboard.main", "flask"):
        return f"starts a server (python -m {module}): long-running"
    if is_python and len(words) == 1:
        return "starts an interactive Python shell"
    if is_python and "-i" in words[1:2]:
        return "starts an interactive Python shell"
    if is_python and "runserver" in words:
        return "starts a development server: long-running"
    servers = {
        "streamlit": "starts a Streamlit app (web server)",
        "gradio": "starts a Gradio app (web server)",
        "uvicorn": "starts a web server",
        "gunicorn": "starts a web server",
        "hypercorn": "starts a web server",
        "tensorboard": "starts TensorBoard (web server)",
        "docker": "uses Docker: not available inside the sandbox",
        "docker-compose": "uses Docker: not available inside the sandbox",
        "podman": "uses containers: not available inside the sandbox",
        "open": "opens a file in a desktop application",
        "xdg-open": "opens a file in a desktop application",
        "ipython": "starts an interactive Python shell",
        "code": "opens an editor",
        "vim": "opens an editor",
        "vi": "opens an editor",
        "nano": "opens an editor",
        "emacs": "opens an editor",
        "label-studio": "starts a web server",
        "ngrok": "opens a tunnel: long-running",
        "ssh": "opens a remote shell",
        "htop": "interactive monitor",
        "tmux": "starts a terminal multiplexer session (interactive)",
        "screen": "starts a terminal multiplexer session (interactive)",
        "top": "interactive monitor",
        "watch": "repeats forever",
        "less": "interactive pager",
        "more": "interactive pager",
    }
    if lower in servers:
        return servers[lower]
    if lower == "flask" and sub == "run":
        return "starts a Flask server: long-running"
    if lower in ("mlflow", "panel", "bokeh") and sub in ("ui", "server", "serve"):
        return f"starts a {lower} server: long-running"
    if lower in ("wandb", "huggingface-cli", "gh") and sub == "login":
        return "asks for credentials interactively"
    if lower in ("npm", "yarn") and sub in ("start", "dev", "run"):
        return "starts a development server: long-running"
    if lower == "tail" and "-f" in words:
        return "follows a file forever"
    return None


_KIND_PRIORITY = (
    StepKind.PLACEHOLDER,
    StepKind.INTERACTIVE,
    StepKind.RUN,
    StepKind.PLATFORM,
    StepKind.ENV,
    StepKind.NOT_APPLICABLE,
)


def _is_clone(part: str) -> bool:
    return effective_words(part)[:2] == ["git", "clone"]


def clone_info(head: str) -> tuple[bool, bool]:
    """(the command clones a repository, its last part is that clone) for the cd rule."""
    parts = split_parts(head)
    return any(_is_clone(p) for p in parts), _is_clone(parts[-1])


def classify(cmd: RawCommand, ctx: Context) -> tuple[StepKind, str]:
    """Classify one command (compound commands by their most significant part)."""
    if _PIPE_INSTALL.match(cmd.head):
        return StepKind.ENV, "installs a tool with a downloaded script: the sandbox has its tools"
    results: list[tuple[StepKind, str]] = []
    clone_seen = ctx.clone_seen
    after_clone = ctx.after_clone
    for part in split_parts(cmd.head):
        kind, reason = _classify_part(part, Context(ctx.windows_block, clone_seen, after_clone))
        if kind in (StepKind.RUN, StepKind.INTERACTIVE):
            placeholder = placeholder_reason(part)
            if placeholder:
                kind, reason = StepKind.PLACEHOLDER, placeholder
        after_clone = _is_clone(part) and not clone_seen
        clone_seen = clone_seen or _is_clone(part)
        results.append((kind, reason))
    for wanted in _KIND_PRIORITY:
        for kind, reason in results:
            if kind == wanted:
                others = {k for k, _ in results} - {StepKind.RUN}
                if kind == StepKind.RUN and others:
                    reason = f"{reason} (also contains {', '.join(sorted(others))} parts)"
                return kind, reason
    return StepKind.RUN, "runs a command"
