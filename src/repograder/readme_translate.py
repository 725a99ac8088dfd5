"""What the grader runs for a README command written for another machine. Pure, no I/O.

Students write the interpreter of their own machine (``python3``, ``python3.10``, ``py -3.10``,
``python.exe``), Windows paths (``src\\main.py``), tool runners whose environment the grader
has already built (``uv run``, ``poetry run``, ``pipenv run``, ``conda run -n env``) and the
notebook habit ``!python train.py``. The grader's environment has one Python, ``python``, with
the project's packages installed, so each of these runs as the plain command, and the step's
reason says what was changed. A Python version the grader cannot provide is a note, never a
failure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# The start of each simple command of a compound line: the line start or a shell operator.
_START = r"(?P<lead>^|&&|\|\||;|\|)(?P<space>\s*)"

# Tool runners that run a command inside the environment they manage (the grader's shell
# already is that environment). conda/mamba take the environment by -n/--name/-p/--prefix.
_RUNNER = (
    r"(?P<runner>(?:uv|poetry|pipenv|pdm|hatch)\s+run"
    r"|(?:conda|mamba|micromamba)\s+run(?:\s+(?:-n|--name|-p|--prefix)\s+\S+"
    r"|\s+--no-capture-output|\s+--live-stream)*)\s+"
)
_RUNNER_RE = re.compile(_START + _RUNNER)

# python3, python3.10, python.exe, python3.exe, py, py.exe, py -3, py -3.10
_INTERPRETER_RE = re.compile(
    _START + r"(?P<interp>python(?P<ver>3(?:\.\d{1,2})?)?(?:\.exe)?"
    r"|py(?:\.exe)?(?:\s+-(?P<pyver>3(?:\.\d{1,2})?))?)(?=\s|$)"
)

# A leading "!" (a notebook cell's shell escape) before a command word.
_BANG_RE = re.compile(_START + r"!(?=[A-Za-z.])")

# A word with a backslash path separator: src\main.py, .\scripts\run.py, data\raw
_WIN_PATH_RE = re.compile(r"(?<![\w/\\])(?:\.\\)?[\w.-]+(?:\\[\w.-]+)+(?![\w\\])")


@dataclass(frozen=True)
class Translation:
    """``command``: what the grader runs; ``notes``: what changed and why (empty: nothing)."""

    command: str
    notes: tuple[str, ...] = ()


def _strip_runners(text: str, notes: list[str]) -> str:
    def drop(m: re.Match[str]) -> str:
        runner = " ".join(m.group("runner").split()[:2])
        notes.append(f"'{runner}' dropped: the grader's environment is already active")
        return m.group("lead") + m.group("space")

    return _RUNNER_RE.sub(drop, text)


def _plain_python(text: str, notes: list[str]) -> str:
    def plain(m: re.Match[str]) -> str:
        written = m.group("interp")
        if written == "python":
            return m.group(0)
        version = m.group("ver") or m.group("pyver") or ""
        note = f"'{' '.join(written.split())}' ran as 'python', the environment's interpreter"
        if version and "." in version:
            note += f" (the README asks for Python {version}; the grader's Python may differ)"
        notes.append(note)
        return m.group("lead") + m.group("space") + "python"

    return _INTERPRETER_RE.sub(plain, text)


def _posix_paths(text: str, repo_files: Iterable[str] | None, notes: list[str]) -> str:
    if repo_files is None or "\\" not in text:
        return text
    files = set(repo_files)
    folders = {f.rsplit("/", i)[0] for f in files for i in range(1, f.count("/") + 1)}

    def posix(m: re.Match[str]) -> str:
        written = m.group(0)
        path = written.replace("\\", "/")
        bare = path.removeprefix("./")
        if bare in files or bare in folders:
            notes.append(f"the Windows path '{written}' ran as '{path}' (it exists as {bare})")
            return path
        return written

    return _WIN_PATH_RE.sub(posix, text)


def translate(command: str, repo_files: Iterable[str] | None = None) -> Translation:
    """The command to run for a README command, and notes on what changed.

    Only the first line of a multi-line command (continuations, heredocs) is rewritten; the
    rest is the student's input and stays as written. ``repo_files`` (repo-relative POSIX
    paths) decides which backslash paths are the repository's own files.
    """
    first, sep, rest = command.partition("\n")
    notes: list[str] = []
    first = _ascii_punctuation(first, notes)
    text = _BANG_RE.sub(lambda m: m.group("lead") + m.group("space"), first)
    if text != first:
        notes.append("the notebook shell escape '!' was dropped")
    text = _strip_runners(text, notes)
    text = _plain_python(text, notes)
    text = _posix_paths(text, repo_files, notes)
    if not notes:
        return Translation(command)
    return Translation(text + sep + rest, tuple(dict.fromkeys(notes)))


# What a word processor's autocorrect (Word, Google Docs, Pages) or a cp1252 README makes of a
# command: curly quotes for straight ones, and an en or em dash for the `--` of a long option.
_CURLY_DOUBLE_RE = re.compile("[\u201c\u201d\u201e\u201f\u2033]")
_CURLY_SINGLE_RE = re.compile("[\u2018\u2019\u201a\u201b\u2032]")
_DASH_OPTION_RE = re.compile("(?<!\\S)[\u2013\u2014](?=[A-Za-z])")


def _ascii_punctuation(text: str, notes: list[str]) -> str:
    fixed = _CURLY_DOUBLE_RE.sub('"', text)
    fixed = _CURLY_SINGLE_RE.sub("'", fixed)
    fixed = _DASH_OPTION_RE.sub("--", fixed)
    if fixed != text:
        notes.append(
            "typographic quotes or dashes (a word processor's autocorrect) ran as the shell's "
            "\" ' and --"
        )
    return fixed


# nvm's version argument (nvm's README, "Usage"): 18, v18.1.0, node, stable, lts/*, --lts.
_NVM_VERSION = re.compile(r"v?\d[\w.]{0,20}|node|stable|iojs|lts/\S{1,30}|--lts(?:=\S{1,30})?")


def runner_inner(words: list[str]) -> list[str] | None:
    """The command behind a tool runner (``poetry run black .`` -> ``["black", "."]``), also
    ``pyenv exec X``, ``hatch env run [options] -- X`` and ``nvm exec|run [version] X``.

    None when ``words`` is not a runner invocation; ``[]`` when the runner has no command.
    """
    if len(words) < 2:
        return None
    tool = words[0].lower()
    if tool == "pyenv" and words[1] == "exec":
        return words[2:]
    if tool == "hatch" and words[1:3] == ["env", "run"]:
        # hatch env run [OPTIONS] -- <command> (hatch's CLI reference); without `--` the
        # command's start is unknown, so all arguments are classified (a catch-all run).
        rest = words[3:]
        return rest[rest.index("--") + 1 :] if "--" in rest else rest
    if tool == "nvm" and words[1] in ("exec", "run"):
        # nvm exec [version] <command>; nvm run [version] <script> (node runs the script)
        rest = words[2:]
        if rest and _NVM_VERSION.fullmatch(rest[0]):
            rest = rest[1:]
        return rest if words[1] == "exec" or not rest else ["node", *rest]
    if words[1] != "run":
        return None
    if tool in ("uv", "poetry", "pipenv", "pdm", "hatch"):
        return words[2:]
    if tool in ("conda", "mamba", "micromamba"):
        i = 2
        while i < len(words):
            if words[i] in ("-n", "--name", "-p", "--prefix"):
                i += 2
            elif words[i] in ("--no-capture-output", "--live-stream"):
                i += 1
            else:
                break
        return words[i:]
    return None


def is_interpreter(word: str) -> bool:
    """``python``, ``python3``, ``python3.10``, ``python.exe``, ``py``, ``py.exe``."""
    return bool(re.fullmatch(r"python(?:3(?:\.\d{1,2})?)?(?:\.exe)?|py(?:\.exe)?", word.lower()))
