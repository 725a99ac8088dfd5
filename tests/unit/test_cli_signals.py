"""The stop signals of ``repograder run``, in-process and deterministic: the first Ctrl-C or
SIGTERM stops grading, later ones only say that the report is being written.

(The Docker test in tests/adversarial/test_fault_tolerance.py sends the same signals to a real
run; whether a later Ctrl-C arrives before or after the report is done is a race there.)
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from repograder import cli, git, progress, readme
from repograder.errors import ExitCode


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


def _course(tmp_path: Path, names: tuple[str, ...]) -> Path:
    """A groups.yaml of plain-folder groups with a README each."""
    lines = ["course: Signals", "groups:"]
    for name in names:
        repo = tmp_path / name
        repo.mkdir()
        (repo / "README.md").write_text("# Project\n\n```bash\npython run.py\n```\n")
        lines.append(f"  - name: {name}\n    repo: {repo}")
    path = tmp_path / "groups.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _term_the_main_thread() -> None:
    """SIGTERM as `timeout` sends it, delivered to the main thread (raise_signal in a worker
    would interrupt only that worker; the main thread would see it at its next poll)."""
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGTERM)


def _run_static(tmp_path: Path, course: Path) -> int:
    return cli.main(["run", str(course), "--static", "--out", str(tmp_path / "out"), "-j", "1"])


def test_a_stop_says_which_groups_were_still_running_and_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A CI job's time limit (SIGTERM) ended a run with nothing but "interrupted": the message
    # now names the groups not finished and their stage.
    monkeypatch.setenv("REPOGRADER_CACHE", str(tmp_path / "cache"))
    course = _course(tmp_path, ("early", "stuck"))
    real_fetch = git.fetch

    def fetch(repo: str, *args: Any, **kwargs: Any) -> Any:
        if repo.endswith("stuck"):
            _term_the_main_thread()
            time.sleep(1.5)  # still fetching when the run stops
        return real_fetch(repo, *args, **kwargs)

    monkeypatch.setattr(git, "fetch", fetch)
    with cli._signal_handlers_kept():
        code = _run_static(tmp_path, course)
    err = capsys.readouterr().err
    assert code == ExitCode.INTERRUPTED, err
    stopped = [line for line in err.splitlines() if "stopped while still grading: " in line]
    assert len(stopped) == 1, err
    assert "stuck (fetch)" in stopped[0], err
    assert (tmp_path / "out" / "index.html").is_file()


def test_a_stop_after_the_last_group_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REPOGRADER_CACHE", str(tmp_path / "cache"))
    course = _course(tmp_path, ("only",))
    monkeypatch.setattr(
        progress.PlainProgress, "end", lambda _self: signal.raise_signal(signal.SIGTERM)
    )
    with cli._signal_handlers_kept():
        code = _run_static(tmp_path, course)
    err = capsys.readouterr().err
    assert code == ExitCode.INTERRUPTED, err
    assert "stopped after every group had finished" in err, err


def test_a_stop_during_the_static_checks_is_reported_where_it_found_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Found by a fresh-user helper: a SIGTERM during the static checks let the groups finish
    # (they are past any sandbox work) and the run then said "stopped after every group had
    # finished". Where the stop found the run is noted when it arrives.
    monkeypatch.setenv("REPOGRADER_CACHE", str(tmp_path / "cache"))
    course = _course(tmp_path, ("inspected",))
    real_inspect = readme.inspect_readme

    def inspect_readme(root: Path) -> Any:
        _term_the_main_thread()
        time.sleep(0.3)  # the main thread handles it while this group is in its checks
        return real_inspect(root)

    monkeypatch.setattr(readme, "inspect_readme", inspect_readme)
    with cli._signal_handlers_kept():
        code = _run_static(tmp_path, course)
    err = capsys.readouterr().err
    assert code == ExitCode.INTERRUPTED, err
    assert "stopped while still grading: inspected (inspect)" in err, err
    assert "finished during the stop, results kept: inspected" in err, err
    assert "after every group had finished" not in err, err
