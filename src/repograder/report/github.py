"""GitHub Actions workflow commands: ``::error file=…,line=…::message`` annotations.

Every piece of student text goes through :func:`escape_data` / :func:`escape_property`, so a
newline in a README command or an error message can never start a workflow command of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from repograder.checks.base import Spot
from repograder.checks.registry import CHECKS
from repograder.model import CheckResult, GroupResult, Status

_MAX_MESSAGE = 1000


def escape_data(text: str) -> str:
    """Escape a command's message (GitHub's rules: ``%``, CR and LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value (also ``:`` and ``,``, which separate properties)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True)
class Annotation:
    level: str  # "error" | "warning" | "notice"
    message: str
    file: str | None = None
    line: int | None = None
    title: str | None = None

    def command(self) -> str:
        """The workflow command line for this annotation."""
        props = []
        if self.file:
            props.append(f"file={escape_property(self.file)}")
        if self.line is not None and self.line > 0:
            props.append(f"line={self.line}")
        if self.title:
            props.append(f"title={escape_property(self.title)}")
        head = f"::{self.level}"
        if props:
            head += " " + ",".join(props)
        message = self.message if len(self.message) <= _MAX_MESSAGE else self.message[:999] + "…"
        return f"{head}::{escape_data(message)}"


def _level(status: Status) -> str | None:
    if status in (Status.FAIL, Status.ERROR):
        return "error"
    if status is Status.WARN:
        return "warning"
    return None


def _join(prefix: str, rel: str | None) -> str | None:
    if rel is None:
        return None
    return f"{prefix.rstrip('/')}/{rel}" if prefix and prefix != "." else rel


def _check_annotations(check: CheckResult, group: GroupResult, prefix: str) -> Iterator[Annotation]:
    level = _level(check.status)
    if level is None:
        return
    title = f"{check.title} [{check.status.value}]"
    entry = CHECKS.get(check.id)
    spots = entry.spots(check, group) if entry is not None else [Spot(check.summary)]
    for spot in spots:
        yield Annotation(level, spot.message, _join(prefix, spot.file), spot.line, title)


def group_annotations(group: GroupResult, prefix: str = "") -> list[Annotation]:
    """Annotations for a group's failing and warning checks; paths get `prefix` (repo folder)."""
    if group.error is not None:
        return [Annotation("error", f"{group.name} could not be graded: {group.error}")]
    found: list[Annotation] = []
    for check in group.checks:
        found.extend(_check_annotations(check, group, prefix))
    return found
