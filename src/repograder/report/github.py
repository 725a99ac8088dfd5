"""GitHub Actions workflow commands: ``::error file=…,line=…::message`` annotations.

Every piece of student text goes through :func:`escape_data` / :func:`escape_property`, so a
newline in a README command or an error message can never start a workflow command of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from repograder.model import CheckResult, GroupResult, JSONValue, Status, StepStatus

_MAX_MESSAGE = 1000
_MAX_PER_CHECK = 10


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


def _str(details: Mapping[str, JSONValue], *keys: str) -> str | None:
    """The first string found under ``details[k0][k1]…`` (None when absent)."""
    value: JSONValue = dict(details)
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value if isinstance(value, str) and value else None


def _join(prefix: str, rel: str | None) -> str | None:
    if rel is None:
        return None
    return f"{prefix.rstrip('/')}/{rel}" if prefix and prefix != "." else rel


def _check_annotations(
    check: CheckResult, group: GroupResult, prefix: str, readme_path: str | None
) -> Iterator[Annotation]:
    level = _level(check.status)
    if level is None:
        return
    title = f"{check.title} [{check.status.value}]"
    details = check.details
    if check.id == "readme-steps":
        bad = [s for s in group.steps if s.status in (StepStatus.FAILED, StepStatus.TIMEOUT)]
        for step in bad[:_MAX_PER_CHECK]:
            what = "timed out" if step.status is StepStatus.TIMEOUT else "failed"
            message = f"README step {step.index} {what}: {step.command}"
            if step.reason:
                message += f"\n{step.reason}"
            if step.hint:
                message += f"\nhint: {step.hint}"
            yield Annotation(
                level, message, _join(prefix, readme_path), step.source_line or None, title
            )
        if bad:
            return
    if check.id == "notebooks":
        notebooks = details.get("notebooks")
        found = False
        if isinstance(notebooks, list):
            for nb in notebooks[:_MAX_PER_CHECK]:
                if not isinstance(nb, dict) or nb.get("status") == "ok":
                    continue
                path = nb.get("path")
                error = nb.get("error")
                message = f"{path}: {nb.get('status')}"
                if isinstance(error, str) and error:
                    message += f": {error}"
                found = True
                yield Annotation(
                    level,
                    message,
                    _join(prefix, path if isinstance(path, str) else None),
                    None,
                    title,
                )
        if found:
            return
    file = {
        "readme": readme_path,
        "readme-steps": readme_path,
        "env-file": _str(details, "path"),
        "env-build": _str(details, "env_file"),
        "paper-pages": _str(details, "path") or _str(details, "paper", "path"),
        "paper-format": _str(details, "path") or _str(details, "paper", "path"),
    }.get(check.id)
    yield Annotation(level, check.summary, _join(prefix, file), None, title)


def group_annotations(group: GroupResult, prefix: str = "") -> list[Annotation]:
    """Annotations for a group's failing and warning checks; paths get `prefix` (repo folder)."""
    readme_check = next((c for c in group.checks if c.id == "readme"), None)
    readme_path = _str(readme_check.details, "path") if readme_check else None
    if group.error is not None:
        return [Annotation("error", f"{group.name} could not be graded: {group.error}")]
    found: list[Annotation] = []
    for check in group.checks:
        found.extend(_check_annotations(check, group, prefix, readme_path))
    return found
