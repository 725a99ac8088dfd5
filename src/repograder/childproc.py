"""Limited child processes for untrusted files, forked from a zygote that imported the parser once.

Student PDFs (``paper``) and executed notebooks (``nbrender``) are parsed outside the grader,
each request in a process of its own that limits its memory and CPU time first. Starting a
fresh Python per request paid for importing the parser every time: on the development machine
1.1 s of CPU per notebook (nbconvert, mistune, bleach; rendering the benchmark's notebook took
0.05 s) and 0.6-0.8 s per PDF request (pypdf), two or three PDF requests per group. So each
module gets one zygote (``python -P -m repograder.childproc MODULE``) that imports it and calls
its ``child_preload()`` once, then, per request, forks a process that runs
``MODULE.child_serve(request) -> answer`` with its stdout and stderr going to pipes of the
zygote, and exits. A request that crashes, exhausts its memory or exploits a parser bug still
ends with its own process; the next one starts from the clean zygote. The grader enforces the
time limit: when an answer is late, the zygote's whole process group is killed and the next
request starts a new zygote.

Protocol on the zygote's stdin/stdout: request = ``!Q`` size + bytes; answer = ``!iQQ``
(return code as :mod:`subprocess` gives it, -N for signal N; stdout size; stderr size) + stdout
+ stderr (its last :data:`STDERR_TAIL` bytes).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import selectors
import signal
import struct
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import IO

_SIZE = struct.Struct("!Q")
_ANSWER = struct.Struct("!iQQ")
MAX_STDOUT = 64 << 20  # bytes of a child's answer kept (the parsers' answers are bounded)
STDERR_TAIL = 64 << 10  # bytes of a child's stderr kept (its end: where Python's error is)
MODULES = ("repograder.nbrender", "repograder.paper")  # the modules a zygote may serve
MAX_ZYGOTES = 6  # per module: as many as groups are inspected at once (context.STATIC_WORKERS)


@dataclass(frozen=True)
class Outcome:
    """How one request's process ended, as :class:`subprocess.CompletedProcess` would say."""

    returncode: int  # exit code; -N when signal N ended it
    stdout: bytes
    stderr: bytes  # its last STDERR_TAIL bytes


class Late(Exception):
    """No answer within the time limit (the zygote was ended)."""


class Zygote:
    """The grader's side of one module's zygote: one request at a time (thread-safe)."""

    def __init__(self, module: str) -> None:
        if module not in MODULES:
            raise ValueError(f"no zygote serves {module}")
        self.module = module
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self.started = 0  # how many zygotes were started (tests)

    def run(self, request: bytes, timeout_s: float) -> Outcome:
        """Serve ``request`` in a process of its own. Raises :class:`Late` after ``timeout_s``,
        OSError when no zygote can be started."""
        with self._lock:
            # One deadline for both attempts: a zygote that died during the request (killed,
            # the request's doing) must not give the same request a second full time limit.
            deadline = time.monotonic() + timeout_s
            for attempt in range(2):  # a zygote that died since the last request: once more
                proc = self._ensure()
                try:
                    stdin, stdout = proc.stdin, proc.stdout
                    assert stdin is not None
                    assert stdout is not None
                    # Written within the deadline too: a zygote that does not read (stuck in
                    # its imports, stopped) must not hold the grader past its time limit.
                    _write_all(stdin.fileno(), _SIZE.pack(len(request)) + request, deadline)
                    code, out_size, err_size = _ANSWER.unpack(
                        _read_exact(stdout, _ANSWER.size, deadline)
                    )
                    if out_size > MAX_STDOUT or err_size > STDERR_TAIL:
                        raise OSError("the zygote's answer is out of bounds")
                    out = _read_exact(stdout, out_size, deadline)
                    err = _read_exact(stdout, err_size, deadline)
                except (OSError, Late):
                    late = time.monotonic() >= deadline
                    self._stop()
                    if late:
                        raise Late(f"no answer within {timeout_s:g} s") from None
                    if attempt:
                        raise
                    continue
                except BaseException:
                    # Ctrl-C (KeyboardInterrupt) or any other exception between the request and
                    # the end of its answer: the answer still on its way would be read as the
                    # next request's (another group's page or paper), so the zygote goes.
                    self._stop()
                    raise
                return Outcome(code, out, err)
            raise OSError("unreachable")  # pragma: no cover

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._stop()
            # -P: the current folder must not shadow the parser or repograder with a planted
            # module. Its own session: a late request is ended with the zygote's whole group.
            self._proc = subprocess.Popen(
                [sys.executable, "-P", "-m", "repograder.childproc", self.module],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                bufsize=0,
                start_new_session=True,
            )
            assert self._proc.stdin is not None
            os.set_blocking(self._proc.stdin.fileno(), False)  # writes wait in _write_all
            self.started += 1
        return self._proc

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            proc.wait(5)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def close(self) -> None:
        """End the zygote (also at interpreter exit). Idempotent."""
        with self._lock:
            self._stop()


def _write_all(fd: int, data: bytes, deadline: float) -> None:
    """Write ``data`` to the non-blocking ``fd`` before ``deadline`` (else :class:`Late`)."""
    view = memoryview(data)
    while view:
        wait = deadline - time.monotonic()
        if wait <= 0 or not _ready(fd, selectors.EVENT_WRITE, wait):
            raise Late("the zygote did not take the request in time")
        with contextlib.suppress(BlockingIOError):
            view = view[os.write(fd, view) :]


def _read_exact(pipe: IO[bytes], size: int, deadline: float) -> bytes:
    fd = pipe.fileno()
    chunks: list[bytes] = []
    left = size
    while left:
        wait = deadline - time.monotonic()
        if wait <= 0 or not _ready(fd, selectors.EVENT_READ, wait):
            raise Late("no answer in time")
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise OSError("the zygote ended")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _ready(fd: int, events: int, wait: float) -> bool:
    with selectors.DefaultSelector() as selector:
        selector.register(fd, events)
        return bool(selector.select(wait))


class Pool:
    """Up to :data:`MAX_ZYGOTES` zygotes of one module, so requests of groups inspected at once
    (``context.STATIC_WORKERS``) run side by side as separate children did, and one group's
    slow PDF does not queue the others' behind it."""

    def __init__(self, module: str) -> None:
        self.module = module
        self._idle: list[Zygote] = []
        self._all: list[Zygote] = []
        self._cond = threading.Condition()

    @property
    def started(self) -> int:
        """How many zygote processes were started for this module (tests)."""
        with self._cond:
            return sum(z.started for z in self._all)

    def run(self, request: bytes, timeout_s: float) -> Outcome:
        """:meth:`Zygote.run` on an idle zygote (a new one while fewer than MAX_ZYGOTES)."""
        with self._cond:
            while not self._idle and len(self._all) >= MAX_ZYGOTES:
                self._cond.wait()
            if self._idle:
                zygote = self._idle.pop()
            else:
                zygote = Zygote(self.module)
                self._all.append(zygote)
        try:
            return zygote.run(request, timeout_s)
        finally:
            with self._cond:
                self._idle.append(zygote)
                self._cond.notify()

    def close(self) -> None:
        """End every zygote of the pool."""
        with self._cond:
            zygotes = list(self._all)
        for zygote in zygotes:
            zygote.close()


_POOLS: dict[str, Pool] = {}
_POOLS_GUARD = threading.Lock()


def run(module: str, request: bytes, timeout_s: float) -> Outcome:
    """Serve ``request`` in a process of its own, forked from one of ``module``'s zygotes
    (started on first use). Raises :class:`Late` after ``timeout_s``, OSError when no zygote
    can be started, ValueError for a module outside :data:`MODULES`."""
    with _POOLS_GUARD:
        pool = _POOLS.get(module)
        if pool is None:
            if module not in MODULES:
                raise ValueError(f"no zygote serves {module}")
            pool = _POOLS[module] = Pool(module)
    return pool.run(request, timeout_s)


def pool(module: str) -> Pool | None:
    """``module``'s pool, None before its first request (tests, statistics)."""
    with _POOLS_GUARD:
        return _POOLS.get(module)


@atexit.register
def close_all() -> None:
    """End every zygote of this process (at exit, and when a CLI command returns: an
    in-process caller must not keep helper processes). A later request starts new ones."""
    with _POOLS_GUARD:
        pools = list(_POOLS.values())
    for each in pools:
        each.close()


# ---------------------------------------------------------------------------------------------
# The zygote (child side)


def _read_stream(stream: IO[bytes], size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


class _GraderGone(Exception):
    """The grader's end of the requests pipe closed while a request ran."""


def _collect(out_fd: int, err_fd: int, requests_fd: int) -> tuple[bytes, bytes]:
    """Everything on ``out_fd`` (up to MAX_STDOUT + 1 bytes) and the tail of ``err_fd``.

    The grader sends nothing while a request runs, so ``requests_fd`` turns readable only when
    the grader is gone (killed, a second Ctrl-C: no atexit call ended this zygote): then the
    request's process, whatever it left behind, and this zygote end at once instead of when the
    request does (a hung one: never)."""
    out = bytearray()
    err = bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(out_fd, selectors.EVENT_READ, out)
        selector.register(err_fd, selectors.EVENT_READ, err)
        selector.register(requests_fd, selectors.EVENT_READ, None)
        open_fds = 2
        while open_fds:
            for key, _events in selector.select():
                if key.fd == requests_fd:
                    raise _GraderGone
                chunk = os.read(key.fd, 1 << 20)
                if not chunk:
                    selector.unregister(key.fd)
                    open_fds -= 1
                    continue
                kept: bytearray = key.data
                kept += chunk
                if kept is out and len(out) > MAX_STDOUT:
                    del out[MAX_STDOUT + 1 :]
                elif kept is err and len(err) > STDERR_TAIL:
                    del err[: len(err) - STDERR_TAIL]
    return bytes(out), bytes(err)


def _serve_one(
    serve: object, request: bytes, requests_fd: int, answers_fd: int
) -> tuple[int, bytes, bytes]:
    """Fork a process that answers ``request``; (return code, stdout, stderr tail)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stderr.flush()  # nothing buffered in the zygote may be written twice
    pid = os.fork()
    if pid == 0:  # the request's own process
        code = 1
        try:
            os.close(out_r)
            os.close(err_r)
            # The zygote's protocol is not the request's: a parser bug exploited here must
            # not write answers to later requests (other groups') into it, nor keep it open.
            os.close(answers_fd)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, requests_fd)
            os.close(null)
            # What the libraries print goes to stderr; only the answer reaches out_w.
            os.dup2(err_w, 1)
            os.dup2(err_w, 2)
            answer = serve(request)  # type: ignore[operator]
            view = memoryview(answer)
            while view:
                view = view[os.write(out_w, view) :]
            code = 0
        except BaseException:
            with contextlib.suppress(BaseException):
                os.write(err_w, traceback.format_exc().encode("utf-8", "replace"))
        finally:
            with contextlib.suppress(BaseException):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    os.close(out_w)
    os.close(err_w)
    try:
        out, err = _collect(out_r, err_r, requests_fd)
    except _GraderGone:
        if os.getpgrp() == os.getpid():  # its own session (Zygote): all it started, and itself
            os.killpg(0, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
        os._exit(1)
    finally:
        os.close(out_r)
        os.close(err_r)
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out, err


def main(argv: list[str]) -> int:
    """Zygote entry point: import MODULE, then answer requests until stdin closes."""
    if len(argv) != 2 or argv[1] not in MODULES:
        return 2
    module = importlib.import_module(argv[1])
    # The protocol gets its own descriptor; anything the libraries print goes to stderr.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    module.child_preload()
    requests = sys.stdin.buffer
    while (header := _read_stream(requests, _SIZE.size)) is not None:
        (size,) = _SIZE.unpack(header)
        request = _read_stream(requests, size)
        if request is None:
            return 1
        code, out, err = _serve_one(
            module.child_serve, request, requests.fileno(), answers.fileno()
        )
        if len(out) > MAX_STDOUT:
            code, out, err = 1, b"", b"the answer was larger than the grader accepts"
        answers.write(_ANSWER.pack(code, len(out), len(err)) + out + err)
        answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
