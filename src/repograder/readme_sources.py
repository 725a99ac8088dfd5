"""README text from its sources, before parsing: notebook READMEs, broken list fences, Makefiles.

Pure string functions, no I/O: :mod:`repograder.readme` reads the files and hands the text in.
"""

from __future__ import annotations

import json
import re

from repograder.readme_commands import RawCommand, StepKind
from repograder.readme_rules import Context, classify

_FENCE_LINE = re.compile(r"^( *)(`{3,}|~{3,})(.*)$")


def normalise_fences(text: str) -> str:
    """Move list-item fences whose body or closing fence breaks out of the item to column 0.

    Students open a fence inside a numbered item (``   ```bash``) and write the body at
    column 0, or indent the closing fence differently; CommonMark then ends the item and the
    block is lost. Such a fence, its body and its closer are dedented as a whole (line numbers
    kept). Fences that CommonMark reads as intended are left alone. Linear in the text.
    """
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = _FENCE_LINE.match(lines[i])
        if m is None:
            i += 1
            continue
        indent, mark = len(m.group(1)), m.group(2)
        j = i + 1
        close = -1
        while j < len(lines):
            c = _FENCE_LINE.match(lines[j])
            if (
                c
                and c.group(2)[0] == mark[0]
                and len(c.group(2)) >= len(mark)
                and not c.group(3).strip()
            ):
                close = j
                break
            j += 1
        if close < 0:
            break
        body = lines[i + 1 : close]
        closer_indent = len(lines[close]) - len(lines[close].lstrip(" "))
        breaks_out = any(b.strip() and len(b) - len(b.lstrip(" ")) < indent for b in body)
        if (indent and (breaks_out or closer_indent != indent)) or closer_indent >= 4:
            lines[i] = lines[i][indent:]
            lines[close] = lines[close].lstrip(" ")
            cut = min((len(b) - len(b.lstrip(" ")) for b in body if b.strip()), default=0)
            cut = min(cut, indent)
            lines[i + 1 : close] = [b[cut:] for b in body]
        i = close + 1
    return "\n".join(lines)


MAKE_CALL = re.compile(r"^make(?:\s+-[a-zA-Z]+)*\s+([\w.-]+)\s*$")
_MAKE_RULE = re.compile(r"^([\w.-]+(?:\s+[\w.-]+)*)\s*:(?!=)")
MAX_MAKE_DEPTH = 3
MAX_MAKE_PREREQUISITES = 10
MAX_MAKE_LINES = 50


def make_recipe(makefile: str, target: str, depth: int = 0) -> list[str]:
    """The recipe lines of ``target`` with its prerequisites' recipes first (3 levels deep)."""
    return _make_recipe(makefile.replace("\\\n", " ").split("\n"), target, depth)[0]


def _rule_index(lines: list[str]) -> dict[str, list[int]]:
    """Target name -> the indices of the rule lines naming it (one pass over the Makefile)."""
    index: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        rule = _MAKE_RULE.match(line)
        for name in rule.group(1).split() if rule else ():
            index.setdefault(name, []).append(i)
    return index


def _make_recipe(
    lines: list[str], target: str, depth: int, index: dict[str, list[int]] | None = None
) -> tuple[list[str], bool]:
    """(recipe lines, complete): complete is False when something was left unread (deeper
    prerequisites, more of them than read, an over-long recipe), so the caller cannot rely on
    what it did not see. Every rule naming ``target`` counts: make merges their prerequisites
    (GNU make manual, 4.11 "Multiple Rules for One Target"), and a recipe may start on the rule's
    own line after ``;`` (5.1 "Recipe Syntax")."""
    prerequisites: list[str] = []
    recipe: list[str] = []
    index = _rule_index(lines) if index is None else index
    found = False
    complete = True
    for i in index.get(target, [])[:MAX_MAKE_PREREQUISITES]:
        line = lines[i]
        rule = _MAKE_RULE.match(line)
        assert rule is not None  # the index holds rule lines only
        found = True
        deps, semicolon, inline = line[rule.end() :].partition(";")
        prerequisites += deps.split()
        body = [inline.strip()] if semicolon else []
        for text in lines[i + 1 : i + 1 + 4 * MAX_MAKE_LINES]:
            if not text.startswith("\t"):
                if text.strip() and not text.lstrip().startswith("#"):
                    break
                continue
            body.append(text.strip().lstrip("@-+").strip())
        recipe += body
    if not found:
        return [], True
    before: list[str] = []
    for prerequisite in prerequisites[:MAX_MAKE_PREREQUISITES]:
        if depth >= MAX_MAKE_DEPTH:
            complete = False
            break
        lines_of, whole = _make_recipe(lines, prerequisite, depth + 1, index)
        before += lines_of
        complete = complete and whole
    if len(prerequisites) > MAX_MAKE_PREREQUISITES or len(index[target]) > MAX_MAKE_PREREQUISITES:
        complete = False
    out = [r for r in before + recipe if r]
    return out, complete and len(out) <= MAX_MAKE_LINES


def make_kind(command: str, makefile: str) -> tuple[StepKind, str] | None:
    """The kind of a ``make <target>`` step by the target's recipe in the Makefile.

    A recipe that starts a server or a shell is interactive, one that only installs is
    set-up; otherwise the step runs, also when part of the recipe was not read (too deep or
    too long: what was not read may run the project). None: not a make call, or the target is
    not there.
    """
    call = MAKE_CALL.match(command)
    if call is None:
        return None
    recipe, complete = _make_recipe(makefile.replace("\\\n", " ").split("\n"), call.group(1), 0)
    if not recipe:
        return None
    kinds = [classify(RawCommand(r, 1, r), Context()) for r in recipe[:MAX_MAKE_LINES]]
    target = call.group(1)
    interactive = next((why for k, why in kinds if k == StepKind.INTERACTIVE), None)
    if interactive:
        return StepKind.INTERACTIVE, f"make {target}: {interactive}"
    if complete and all(k in (StepKind.ENV, StepKind.NOT_APPLICABLE) for k, _ in kinds):
        return StepKind.ENV, f"make {target} installs: {kinds[0][1]}"
    if not complete:
        return StepKind.RUN, f"make {target} runs its recipe (too deep or long to read in full)"
    return StepKind.RUN, f"make {target} runs its recipe ({recipe[0][:60]})"


def notebook_markdown(text: str) -> tuple[str, str]:
    """The markdown cells of a notebook's JSON, joined, and '' or why none could be read.

    A code cell's Python is left out (it is the notebook's program, checked by
    ``notebooks``), but its shell commands are the README's instructions as much as a fenced
    block would be: `!pip install -r requirements.txt`, `!python main.py`, `%pip`, `%run`,
    `%cd` and `%%bash` cells become a ``bash`` block in their place.
    """
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # 1 MB of "[" is deeper than the parser recurses
        return "", "; it is not valid notebook JSON"
    cells = data.get("cells") if isinstance(data, dict) else None
    parts: list[str] = []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("markdown", "code"):
            continue
        source = cell.get("source")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if not isinstance(source, str):
            continue
        if cell.get("cell_type") == "markdown":
            parts.append(source.rstrip("\n"))
            continue
        shell = _cell_shell_lines(source)
        if shell:
            parts.append("```bash\n" + "\n".join(shell) + "\n```")
    return "\n\n".join(parts) + "\n", ""


# IPython's shell escape and the magics that stand for a shell command (IPython docs, "Built-in
# magic commands"): %pip/%conda install into the kernel's environment, %run runs a script with
# the kernel's Python, %cd changes the folder.
_MAGIC_RE = re.compile(r"^%(?P<magic>pip|conda|run|cd)\s+(?P<rest>.+)$")
_SHELL_CELL_RE = re.compile(r"^%%(?:bash|sh|script\s+(?:ba)?sh)\s*$")


def _cell_shell_lines(source: str) -> list[str]:
    """The shell commands of one code cell (``!`` lines, shell magics, a ``%%bash`` cell)."""
    lines = source.splitlines()
    if lines and _SHELL_CELL_RE.match(lines[0].strip()):
        return [line for line in lines[1:] if line.strip()]
    shell = []
    for line in lines:
        stripped = line.strip()
        magic = _MAGIC_RE.match(stripped)
        if stripped.startswith("!") and len(stripped) > 1:
            shell.append(stripped)
        elif magic:
            word = "python" if magic["magic"] == "run" else magic["magic"]
            shell.append(f"{word} {magic['rest']}")
    return shell
