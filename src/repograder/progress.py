"""Progress display: a live table per group on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from repograder.model import GroupResult, GroupStatus
from repograder.termtext import terminal_safe

if TYPE_CHECKING:  # rich is imported when a live table is shown: plain runs skip ~0.1 s
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

_STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "skip": "dim", "error": "magenta"}


def _outcome(result: GroupResult) -> str:
    if result.status == GroupStatus.ERROR:
        return f"error: {result.error}"
    counts: dict[str, int] = {}
    for check in result.checks:
        counts[check.status.value] = counts.get(check.status.value, 0) + 1
    tally = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return f"{result.score:g}/{result.max_score:g} points ({tally})"


class PlainProgress:
    """One line per event: for logs, CI and pipes."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._lock = threading.Lock()
        self._total = 0
        self._finished = 0

    def _print(self, line: str) -> None:
        with self._lock:
            # Group names and outcomes are student-influenced text: controls made visible.
            print(terminal_safe(line), file=self._stream, flush=True)

    def begin(self, groups: Sequence[str]) -> None:
        self._total = len(groups)
        self._print(f"grading {len(groups)} group(s)")

    def stage(self, group: str, stage: str) -> None:
        self._print(f"[{group}] {stage}")

    def done(self, group: str, result: GroupResult, cached: bool) -> None:
        with self._lock:
            self._finished += 1
            n = self._finished
        note = " (unchanged, result reused)" if cached else ""
        self._print(f"[{group}] done {n}/{self._total}: {_outcome(result)}{note}")

    def end(self) -> None:
        pass


class LiveProgress:
    """A table that updates in place: one row per group with its stage and elapsed time."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console

        self._console = console or Console(stderr=True)
        self._lock = threading.Lock()
        # group -> (stage text, style, started at, seconds when finished)
        self._rows: dict[str, tuple[str, str, float, float | None]] = {}
        self._live: Live | None = None

    def _table(self) -> Table:
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        table.add_column("group")
        table.add_column("stage")
        table.add_column("time", justify="right")
        now = time.monotonic()
        with self._lock:
            rows = list(self._rows.items())
        for name, (stage, style, since, took) in rows:
            seconds = took if took is not None else now - since
            elapsed = "" if stage == "waiting" else f"{seconds:5.0f} s"
            table.add_row(
                Text(terminal_safe(name)), Text(terminal_safe(stage), style=style), elapsed
            )
        return table

    def begin(self, groups: Sequence[str]) -> None:
        now = time.monotonic()
        with self._lock:
            self._rows = {g: ("waiting", "dim", now, None) for g in groups}
        from rich.live import Live

        self._live = Live(get_renderable=self._table, console=self._console, refresh_per_second=4)
        self._live.start()

    def stage(self, group: str, stage: str) -> None:
        with self._lock:
            _, _, since, _ = self._rows.get(group, ("", "", time.monotonic(), None))
            if stage == "fetch":
                since = time.monotonic()
            self._rows[group] = (stage + "…", "cyan", since, None)

    def done(self, group: str, result: GroupResult, cached: bool) -> None:
        style = "magenta" if result.status == GroupStatus.ERROR else "green"
        text = _outcome(result) + (" (reused)" if cached else "")
        with self._lock:
            _, _, since, _ = self._rows.get(group, ("", "", time.monotonic(), None))
            self._rows[group] = (text, style, since, time.monotonic() - since)

    def end(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def make_progress(enabled: bool = True) -> PlainProgress | LiveProgress:
    """Live table on an interactive terminal, plain lines otherwise."""
    if enabled and sys.stderr.isatty():
        return LiveProgress()
    return PlainProgress()
