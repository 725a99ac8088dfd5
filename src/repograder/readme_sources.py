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


def make_recipe(makefile: str, target: str, depth: int = 0) -> list[str]:
    """The recipe lines of ``target`` with its prerequisites' recipes first (3 levels deep)."""
    lines = makefile.replace("\\\n", " ").split("\n")
    for i, line in enumerate(lines):
        rule = _MAKE_RULE.match(line)
        if rule is None or target not in rule.group(1).split():
            continue
        recipe: list[str] = []
        if depth < 3:
            for prerequisite in line[rule.end() :].split(";")[0].split()[:10]:
                recipe += make_recipe(makefile, prerequisite, depth + 1)
        for body in lines[i + 1 : i + 200]:
            if not body.startswith("\t"):
                if body.strip() and not body.lstrip().startswith("#"):
                    break
                continue
            recipe.append(body.strip().lstrip("@-+").strip())
        return [r for r in recipe if r]
    return []


def make_kind(command: str, makefile: str) -> tuple[StepKind, str] | None:
    """The kind of a ``make <target>`` step by the target's recipe in the Makefile.

    A recipe that starts a server or a shell is interactive, one that only installs is
    set-up; otherwise the step runs. None: not a make call, or the target is not there.
    """
    call = MAKE_CALL.match(command)
    recipe = make_recipe(makefile, call.group(1)) if call else []
    if call is None or not recipe:
        return None
    kinds = [classify(RawCommand(r, 1, r), Context()) for r in recipe[:50]]
    target = call.group(1)
    interactive = next((why for k, why in kinds if k == StepKind.INTERACTIVE), None)
    if interactive:
        return StepKind.INTERACTIVE, f"make {target}: {interactive}"
    if all(k in (StepKind.ENV, StepKind.NOT_APPLICABLE) for k, _ in kinds):
        return StepKind.ENV, f"make {target} installs: {kinds[0][1]}"
    return StepKind.RUN, f"make {target} runs its recipe ({recipe[0][:60]})"


def notebook_markdown(text: str) -> tuple[str, str]:
    """The markdown cells of a notebook's JSON, joined, and '' or why none could be read.

    Code cells are left out: they are the notebook's program, checked by ``notebooks``.
    """
    try:
        data = json.loads(text)
    except ValueError:
        return "", "; it is not valid notebook JSON"
    cells = data.get("cells") if isinstance(data, dict) else None
    parts: list[str] = []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if isinstance(source, str):
            parts.append(source.rstrip("\n"))
    return "\n\n".join(parts) + "\n", ""
