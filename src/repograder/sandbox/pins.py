"""One bad pin must not sink the group (issue 13): the pins a failed install names, the nearest
releases pip can install instead, and the requirement lines rewritten to them.

Pure: the Docker backend runs :func:`nearest_script` in the build container and reads its
output with :func:`parse_nearest`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from repograder.sandbox.layout import VENV_PYTHON

# --- one bad pin must not sink the group (issue 13) ---------------------------------------------

NEAREST_MARK = "RG-NEAREST"


@dataclass(frozen=True)
class Pin:
    """An exact pin (``name==version``) the failed build log blames, and why."""

    line: str  # the requirement line as planned
    name: str
    version: str
    why: str


# uv's wording of why a pinned version is unusable, most specific first.
_PIN_WHY = (
    ("no version of", "no such version on the package index"),
    ("matching python abi tag", "no wheel for the grader's Python version"),
    ("matching python version tag", "no wheel for the grader's Python version"),
    ("matching platform tag", "no wheel for Linux"),
    ("failed to build", "it has no wheel for the grader's Python and does not build from source"),
    ("no usable wheels", "no wheel for the grader's Python or platform"),
    ("requires-python", "it does not support the grader's Python version"),
)


def _exact_pin(line: str) -> tuple[str, str] | None:
    """(name, version) of a plain ``name==version`` line (extras and markers allowed)."""
    match = re.match(
        r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([0-9][0-9A-Za-z.!+_-]*)\s*(?:;.*)?$",
        line.strip(),
    )
    if not match or "*" in match.group(2):
        return None
    return match.group(1), match.group(2)


def offending_pins(log_text: str, requirements: tuple[str, ...]) -> list[Pin]:
    """The exact pins of ``requirements`` that a failed build's log names as unusable."""
    canon = re.compile(r"[-_.]+")
    lines = [
        line.lower()
        for line in log_text.splitlines()
        if re.search(r"because|failed to build|no version|no usable|error", line, re.IGNORECASE)
    ]
    found: list[Pin] = []
    for requirement in requirements:
        pin = _exact_pin(requirement)
        if pin is None:
            continue
        name, version = pin
        wanted = canon.sub("-", name.lower())
        needle = re.compile(
            r"(?<![\w.-])" + re.escape(wanted).replace(r"\-", "[-_.]") + r"(?:\[[^\]]*\])?"
            r"\s*={1,3}\s*v?" + re.escape(version.lower()) + r"(?![\w.])"
        )
        hits = [line for line in lines if needle.search(line)]
        if not hits:
            continue
        text = " ".join(hits)
        why = next((w for key, w in _PIN_WHY if key in text), "the resolver rejected it")
        found.append(Pin(requirement.strip(), name, version, why))
    return found


def nearest_script(pins: list[Pin], index_args: list[str]) -> str:
    """A shell script that prints, per pin, the nearest versions above and below with a wheel.

    ``uv pip compile --no-deps --only-binary :all:`` for the image's own interpreter, so no
    package's build code runs and only versions that install as wheels here count.
    """
    lines = ["set -u"]
    base = ["uv", "pip", "compile", "-", "--python", VENV_PYTHON, *index_args]
    base += ["--no-deps", "--only-binary", ":all:", "--no-header", "--no-annotate", "--quiet"]
    for index, pin in enumerate(pins):
        for side, spec, resolution in (
            ("above", f"{pin.name}>={pin.version}", "lowest"),
            ("below", f"{pin.name}<{pin.version}", "highest"),
        ):
            command = shlex.join([*base, "--resolution", resolution])
            lines.append(
                f"out=$(printf '%s\\n' {shlex.quote(spec)} | {command} 2>/dev/null | "
                "grep -E '^[A-Za-z0-9]' | head -n 1)"
            )
            lines.append(f'echo "{NEAREST_MARK} {index} {side} $out"')
    return "\n".join(lines) + "\n"


def _release(version: str) -> tuple[int, ...]:
    try:
        return Version(version).release
    except InvalidVersion:
        return ()


def choose_nearest(version: str, above: str | None, below: str | None) -> str | None:
    """The candidate sharing the longest release prefix with ``version``; ties go above."""

    def shared(candidate: str) -> int:
        count = 0
        for mine, theirs in zip(_release(version), _release(candidate), strict=False):
            if mine != theirs:
                break
            count += 1
        return count

    options = [c for c in (above, below) if c]
    if not options:
        return None
    return max(options, key=lambda c: (shared(c), c == above))


def parse_nearest(text: str, pins: list[Pin]) -> dict[str, str]:
    """{pinned line: nearest installable version} from :func:`nearest_script`'s output."""
    seen: dict[tuple[int, str], str] = {}
    for line in text.splitlines():
        match = re.match(rf"^{NEAREST_MARK} (\d+) (above|below) \S+?==(\S+)\s*$", line.strip())
        if match:
            seen[(int(match.group(1)), match.group(2))] = match.group(3)
    result: dict[str, str] = {}
    for index, pin in enumerate(pins):
        chosen = choose_nearest(pin.version, seen.get((index, "above")), seen.get((index, "below")))
        if chosen is not None and chosen != pin.version:
            result[pin.line] = chosen
    return result


def relax_line(line: str, version: str) -> str:
    """``line`` with its exact pin replaced by ``==version`` (extras and markers kept)."""
    return re.sub(r"===?\s*[0-9][0-9A-Za-z.!+_-]*", f"=={version}", line, count=1)


# --- a shared layer whose lines cannot be installed together ------------------------------------

_NAME_AND_EXTRAS = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?")


def line_name(line: str) -> str:
    """The canonical project name a requirement line starts with (PEP 503: lower case, runs
    of ``-_.`` as one ``-``); "" when it starts with none."""
    match = _NAME_AND_EXTRAS.match(line)
    return canonicalize_name(match.group(1)) if match else ""


def unversioned(lines: tuple[str, ...]) -> tuple[str, ...]:
    """``lines`` without their version specifiers and markers (name and extras kept): the same
    packages at the newest versions that install together.

    For an inferred shared layer, whose lines are decided one package at a time: two of them
    can exclude each other (``numba==0.58.1`` needs ``numpy<1.27``, the layer says
    ``numpy==2.1.0``), though every group resolves its own. A line that is not a plain
    requirement (no name first) is kept as written.
    """
    out: list[str] = []
    for line in lines:
        match = _NAME_AND_EXTRAS.match(line)
        out.append(f"{match.group(1)}{match.group(2) or ''}" if match else line)
    return tuple(dict.fromkeys(out))
