"""README -> ordered, classified steps and README facts (the ``readme`` check: checks/readme.py).

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
from dataclasses import replace
from pathlib import Path

from repograder import fsutil, model, readme_translate, textio
from repograder.facts import (  # re-exported: their old home
    ReadmeFacts as ReadmeFacts,
)
from repograder.facts import (
    Step as Step,
)
from repograder.readme_commands import (
    Annotation,
    StepKind,
    effective_words,
    is_windows_command,
    split_parts,
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
    notebook_markdown,
)
from repograder.readme_walk import CONSOLE_LANGS as CONSOLE_LANGS
from repograder.readme_walk import MAX_LINE_CHARS as MAX_LINE_CHARS
from repograder.readme_walk import MAX_PARSE_CHARS as MAX_PARSE_CHARS
from repograder.readme_walk import MAX_PARSE_LINES as MAX_PARSE_LINES
from repograder.readme_walk import SHELL_LANGS as SHELL_LANGS
from repograder.readme_walk import UNTAGGED_LANGS as UNTAGGED_LANGS
from repograder.readme_walk import WINDOWS_LANGS as WINDOWS_LANGS
from repograder.readme_walk import _Collector, _walk

__all__ = [
    "ReadmeFacts",
    "Step",
    "StepKind",
    "facts_to_json",
    "find_readme",
    "format_steps",
    "inspect_readme",
    "parse_readme",
]

MAX_README_BYTES = 2_000_000
MAX_STEPS = 500

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


# Scripts written without spaces between words: Han ideographs (CJK Unified Ideographs, their
# Extension A and the compatibility block; Extensions B+ in the supplementary planes), Hiragana
# and Katakana. Their runs would count as one "word" each, so a Chinese README of 300
# characters scored as "nearly empty".
_UNSPACED_RE = re.compile(
    "[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]"
)
_WORD_RE = re.compile(r"[^\W\d_][\w'-]*")


def count_words(text: str) -> int:
    """Words of prose: space-separated words, and each Han or kana character as one word.

    One word per CJK character is the convention of word processors (Microsoft Word's and
    LibreOffice's word counts) for text that does not separate its words by spaces.
    """
    unspaced = len(_UNSPACED_RE.findall(text))
    return unspaced + len(_WORD_RE.findall(_UNSPACED_RE.sub(" ", text)))


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


def parse_readme(text: str, path: str = "README.md") -> tuple[tuple[Step, ...], tuple[str, ...]]:
    """Extract and classify the README's steps; returns (steps, warnings). Pure, never raises."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    coll = _Collector()
    _walk(text, path, coll)
    return _classify_all(coll), tuple(coll.warnings)


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
        word_count=count_words(text),
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
    decoded = textio.read(root, path, MAX_README_BYTES)
    if decoded is not None and decoded.lfs_pointer:
        # Not the student's README: three lines naming it. A human must fetch the content.
        return ReadmeFacts(
            path, tuple(candidates), size, False, 0, (), 0, (), refused, lfs_pointer=True
        )
    text = decoded.text if decoded is not None else ""
    notes: tuple[str, ...] = ()
    if path in FALLBACKS:
        notes += (f"no README at the repository root: {path} was used",)
    parsed_as = path
    if path.lower().endswith(".ipynb"):
        text, why = notebook_markdown(text)
        parsed_as = path[: -len(".ipynb")] + ".md"
        notes += (
            f"{path} is a notebook: its markdown cells and its code cells' shell commands were "
            f"read as the README (line numbers count those lines){why}",
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
