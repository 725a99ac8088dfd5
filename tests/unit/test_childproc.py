"""Limited child processes forked from a zygote: one import, a process per request, restarts."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import struct
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from notebook_files import code, notebook_json
from repograder import childproc, nbrender

GB = 1 << 30
EXAMPLE_PAPER = Path(__file__).parents[2] / "examples" / "good-group" / "paper" / "paper.pdf"


def _page(text: str, outputs: int = 1) -> bytes:
    stream = {"output_type": "stream", "name": "stdout", "text": text}
    return notebook_json([code("print(1)", [stream] * outputs)]).encode()


def _render(zygote: childproc.Zygote, page: bytes, memory: int = GB, timeout_s: float = 60) -> str:
    done = zygote.run(struct.pack("!Q", memory) + page, timeout_s)
    return done.stdout.decode() if done.returncode == 0 else f"<failed {done.returncode}>"


def _without_cell_ids(body: str) -> str:
    return re.sub(r'id="cell-id=[0-9a-f]+"', "", body)


@pytest.fixture
def zygote() -> object:
    made = childproc.Zygote("repograder.nbrender")
    yield made
    made.close()


def test_requests_run_in_one_zygote_each_as_the_module_would_in_process(
    zygote: childproc.Zygote,
) -> None:
    bodies = [_render(zygote, _page(f"<b>page {i}</b>")) for i in range(3)]
    assert zygote.started == 1  # the import is paid once, not per request
    for i, body in enumerate(bodies):
        alone = nbrender._render_body(_page(f"<b>page {i}</b>"))
        assert alone is not None
        assert _without_cell_ids(body) == _without_cell_ids(alone)
        assert f"&lt;b&gt;page {i}&lt;/b&gt;" in body


def test_a_request_over_its_memory_limit_fails_alone(zygote: childproc.Zygote) -> None:
    # 64 MB of address space, less than the zygote's own: the request's process cannot grow
    # (this page needs about 100 MB more to render).
    done = zygote.run(struct.pack("!Q", 64 << 20) + _page("<b>w</b> " * 3000, 8), 60)
    assert done.stdout == b""
    # The request's own process ended; the zygote answers the next one as before.
    assert "page two" in _render(zygote, _page("page two"))
    assert zygote.started == 1


def test_a_crash_is_reported_with_its_signal_and_error_output(zygote: childproc.Zygote) -> None:
    # Not a notebook request at all: the module's code raises, the traceback is the stderr.
    done = zygote.run(b"short", 60)
    assert done.returncode == 1
    assert b"Traceback" in done.stderr
    assert b"struct.error" in done.stderr


def test_a_late_request_ends_the_zygote_and_the_next_starts_a_new_one(
    zygote: childproc.Zygote,
) -> None:
    assert "warm" in _render(zygote, _page("warm"))
    with pytest.raises(childproc.Late):
        zygote.run(struct.pack("!Q", GB) + _page("late"), 0.0)
    assert "next" in _render(zygote, _page("next"))
    assert zygote.started == 2


def test_a_zygote_that_died_between_requests_is_started_again(zygote: childproc.Zygote) -> None:
    assert "one" in _render(zygote, _page("one"))
    proc = zygote._proc
    assert proc is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(5)
    assert "two" in _render(zygote, _page("two"))
    assert zygote.started == 2
    zygote.close()
    assert zygote._proc is None


def test_only_the_parsers_modules_are_served() -> None:
    with pytest.raises(ValueError, match="no zygote serves"):
        childproc.Zygote("os")


def test_papers_are_read_in_requests_of_the_paper_zygote(tmp_path: Path) -> None:
    from repograder import paper

    shutil.copy(EXAMPLE_PAPER, tmp_path / "paper.pdf")
    before = childproc.pool("repograder.paper")
    started = before.started if before is not None else 0
    for _ in range(2):
        facts = paper.inspect_paper(tmp_path, None)
        assert facts is not None
        assert facts.pages == 4
    # Two groups' papers (each a search and a measure): one zygote imported pypdf.
    after = childproc.pool("repograder.paper")
    assert after is not None
    assert after.started - started <= 1


def test_requests_of_groups_inspected_at_once_run_side_by_side() -> None:
    # A pool per module: a slow request (a PDF near its time limit) does not queue the others.
    pool = childproc.Pool("repograder.nbrender")
    try:
        with ThreadPoolExecutor(3) as threads:
            done = list(
                threads.map(
                    lambda i: pool.run(struct.pack("!Q", GB) + _page(f"p{i}"), 60), range(3)
                )
            )
        assert all(d.returncode == 0 for d in done)
        assert pool.started == 3
    finally:
        pool.close()


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX"
    except FileNotFoundError:
        return True


def _slow_page() -> bytes:
    # Seconds of rendering: long enough to catch the request's process before it ends.
    return _page("<b>x</b> " * 3000, 8)


def _send_slow_request(zygote: childproc.Zygote) -> tuple[subprocess.Popen[bytes], int]:
    """Warm ``zygote`` up, then write a slow request to it directly (no answer is read);
    the zygote's process and the pid of the request's own process once it is forked."""
    assert "warm" in _render(zygote, _page("warm"))
    proc = zygote._proc
    assert proc is not None
    assert proc.stdin is not None
    request = struct.pack("!Q", GB) + _slow_page()
    os.set_blocking(proc.stdin.fileno(), True)  # the zygote is reading: a plain write
    proc.stdin.write(struct.pack("!Q", len(request)) + request)
    deadline = time.monotonic() + 20
    while not (kids := _children(proc.pid)):
        assert time.monotonic() < deadline
    return proc, kids[0]


def test_a_zygote_that_does_not_read_cannot_hold_the_grader_past_its_time_limit(
    zygote: childproc.Zygote,
) -> None:
    # A zygote stuck before reading (here: stopped) while a request larger than the pipe
    # buffer is sent: the write waited forever, outside the deadline.
    assert "warm" in _render(zygote, _page("warm"))
    proc = zygote._proc
    assert proc is not None
    os.kill(proc.pid, signal.SIGSTOP)
    outcome: list[float] = []

    def send() -> None:
        started = time.monotonic()
        try:
            zygote.run(struct.pack("!Q", GB) + _page("x" * (1 << 20)), 1.0)
        except childproc.Late:
            outcome.append(time.monotonic() - started)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    thread.join(20)
    if thread.is_alive():  # let the blocked write finish so that the test ends
        os.kill(proc.pid, signal.SIGCONT)
        thread.join(20)
        pytest.fail("the grader waited on the stopped zygote past the time limit")
    assert outcome
    assert outcome[0] < 10
    assert "next" in _render(zygote, _page("next"))
    assert zygote.started == 2


def test_an_interrupted_request_does_not_leave_its_answer_to_the_next(
    zygote: childproc.Zygote, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C (KeyboardInterrupt) after the request was sent, before its answer was read: the
    # zygote stayed in use and the next request read the first one's answer.
    assert "warm" in _render(zygote, _page("warm"))
    read_exact = childproc._read_exact

    def interrupted(*args: object) -> bytes:
        monkeypatch.setattr(childproc, "_read_exact", read_exact)
        raise KeyboardInterrupt

    monkeypatch.setattr(childproc, "_read_exact", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _render(zygote, _page("first group"))
    body = _render(zygote, _page("second group"))
    assert "second group" in body
    assert "first group" not in body


def test_a_zygote_whose_grader_is_gone_ends_its_request_and_itself(
    zygote: childproc.Zygote,
) -> None:
    # The grader killed (or ended by a second Ctrl-C, without its atexit call) while a request
    # hangs: the zygote waited for the request forever, and the request with it.
    proc, kid = _send_slow_request(zygote)
    assert proc.stdin is not None
    os.kill(kid, signal.SIGSTOP)  # hangs without using CPU: no rlimit ends it
    proc.stdin.close()  # what the grader's death does to the pipe
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        pytest.fail("the zygote outlived its grader")
    deadline = time.monotonic() + 10
    while not _gone(kid):
        assert time.monotonic() < deadline, "the request's process outlived its grader"
        time.sleep(0.05)


def test_a_zygote_that_dies_during_a_request_does_not_give_it_a_second_time_limit(
    zygote: childproc.Zygote,
) -> None:
    # The request is sent once more to a new zygote (as for one that died between requests),
    # but within what is left of its time limit, not a new one.
    assert "warm" in _render(zygote, _page("warm"))
    outcome: list[float] = []

    def send() -> None:
        started = time.monotonic()
        with contextlib.suppress(childproc.Late):
            zygote.run(struct.pack("!Q", GB) + _slow_page(), 3.0)
        outcome.append(time.monotonic() - started)

    def stop_the_request_of(proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 20
        while not (kids := _children(proc.pid)):
            if not thread.is_alive():  # Late while the new zygote still imported
                return
            assert time.monotonic() < deadline
        os.kill(kids[0], signal.SIGSTOP)  # the request hangs

    first = zygote._proc
    assert first is not None
    thread = threading.Thread(target=send)
    thread.start()
    stop_the_request_of(first)
    time.sleep(2)
    os.killpg(first.pid, signal.SIGKILL)  # the zygote dies (and its request with it)
    deadline = time.monotonic() + 20
    while ((second := zygote._proc) is first or second is None) and thread.is_alive():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    if second is not None and second is not first:
        with contextlib.suppress(FileNotFoundError):
            stop_the_request_of(second)
    thread.join(30)
    assert outcome
    assert outcome[0] < 4  # 5 s and more: 2 s on the first zygote, 3 s on the second


def test_the_requests_process_does_not_hold_the_zygotes_protocol_pipes(
    zygote: childproc.Zygote,
) -> None:
    # An exploited parser could write answer frames of its own for the requests after it
    # (other groups'), and it kept the zygote's end of the answers pipe open.
    proc, kid = _send_slow_request(zygote)
    assert proc.stdin is not None
    assert proc.stdout is not None
    protocol = {os.fstat(proc.stdin.fileno()).st_ino, os.fstat(proc.stdout.fileno()).st_ino}
    deadline = time.monotonic() + 20
    fds = Path(f"/proc/{kid}/fd")
    while not os.readlink(fds / "1").startswith("pipe:"):  # its own set-up is done
        assert time.monotonic() < deadline
    os.kill(kid, signal.SIGSTOP)
    held = {os.stat(fd).st_ino for fd in fds.iterdir()}
    assert not held & protocol


def test_a_cli_command_leaves_no_zygote_behind(tmp_path: Path) -> None:
    # In-process callers (tests, a Python wrapper) run many commands in one process: the
    # zygotes a command started end with it, and the next request starts new ones.
    from repograder import cli, paper

    shutil.copy(EXAMPLE_PAPER, tmp_path / "paper.pdf")
    assert paper.inspect_paper(tmp_path, None) is not None
    pool = childproc.pool("repograder.paper")
    assert pool is not None
    procs = [z._proc for z in pool._all if z._proc is not None]
    assert procs, "the paper zygote is running"
    groups = Path(__file__).parents[2] / "examples" / "groups.yaml"
    cli.main(["validate", str(groups)])
    assert all(p.poll() is not None for p in procs), "every zygote ended with the command"
    assert paper.inspect_paper(tmp_path, None) is not None  # a new one on the next request
