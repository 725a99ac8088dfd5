"""Command line: ``repograder run|check|validate|steps|sandbox|cache|merge``.

``main(argv) -> int`` parses the arguments (:mod:`.parser`) and calls the subcommand's function:
:mod:`.run` (run, snapshot), :mod:`.results` (adjust, export, merge, show), :mod:`.tools`
(check, validate, steps, sandbox, cache); :mod:`.common` holds what they share.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
import uuid as uuid  # the run id (tests and the Ctrl-C child pin it through cli.uuid)
from collections.abc import Iterator, Sequence

from repograder.cli.common import _err
from repograder.cli.parser import build_parser as build_parser
from repograder.cli.run import _first_stop as _first_stop
from repograder.cli.run import _stop_signals as _stop_signals
from repograder.cli.run import make_sandbox as make_sandbox
from repograder.errors import ExitCode, RepograderError


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with _signal_handlers_kept():
        try:
            return int(args.func(args))
        except RepograderError as exc:
            _err(str(exc))
            return int(exc.exit_code)
        except KeyboardInterrupt:
            _err("interrupted")
            return int(ExitCode.INTERRUPTED)
        finally:
            # The PDF and notebook zygotes end with the command, also for in-process callers.
            started = sys.modules.get("repograder.childproc")
            if started is not None:
                started.close_all()


@contextlib.contextmanager
def _signal_handlers_kept() -> Iterator[None]:
    """The SIGINT/SIGTERM handlers are as before when main() returns (a stopped run keeps its
    "still writing" handlers until then, so a late Ctrl-C cannot cut the report short)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def console_main() -> None:
    """The ``repograder`` command: main(), then exit with its code; a Ctrl-C or SIGTERM that
    arrives while the process exits ends it at once with that same code."""
    code = main()
    stops = (signal.SIGINT, signal.SIGTERM)
    for sig in stops:
        signal.signal(sig, lambda _signum, _frame: os._exit(code))
    # Late in its shutdown (after the atexit calls) Python puts its own handlers back to the
    # default, and a signal then kills the process (status -2, not the code). Ignored handlers
    # are left alone, so from the atexit calls on, late signals are ignored.
    atexit.register(lambda: [signal.signal(sig, signal.SIG_IGN) for sig in stops])
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    console_main()
