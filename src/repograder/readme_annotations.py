"""``<!-- repograder: ... -->`` annotations that steer the grader: skip, run, timeout=20m,
expect-fail, long-running. Unknown keys become warnings, never errors.

Pure string functions, no I/O; :mod:`repograder.readme_commands` re-exports them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
