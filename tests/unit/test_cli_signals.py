"""The stop signals of ``repograder run``, in-process and deterministic: the first Ctrl-C or
SIGTERM stops grading, later ones only say that the report is being written.

(The Docker test in tests/adversarial/test_fault_tolerance.py sends the same signals to a real
run; whether a later Ctrl-C arrives before or after the report is done is a race there.)
"""

from __future__ import annotations

import signal

import pytest

from repograder import cli


def _stopped_run() -> None:
    """A run that receives SIGTERM while grading."""
    with cli._stop_signals():
        signal.raise_signal(signal.SIGTERM)  # its handler runs before raise_signal returns


def test_first_stop_raises_and_later_ones_only_say_the_report_is_being_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with cli._signal_handlers_kept():
        with pytest.raises(KeyboardInterrupt):
            _stopped_run()
        # the stop began: more Ctrl-C and SIGTERM do not raise again
        for sig in (signal.SIGINT, signal.SIGINT, signal.SIGTERM):
            signal.raise_signal(sig)
    err = capsys.readouterr().err
    assert err.count("writing the report") == 3
    # and the handlers are as before once main() would return
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_without_a_stop_the_previous_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with cli._stop_signals():
        assert signal.getsignal(signal.SIGTERM) is cli._first_stop
    assert signal.getsignal(signal.SIGTERM) is before
