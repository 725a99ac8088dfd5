"""The notebook renderer's child process: imports nbconvert once, forks a limited process per page.

Rendering an executed notebook (untrusted bytes) runs outside the grader, in a process limited
to a memory size and a time (``nbrender``). Starting a fresh Python for every notebook paid for
importing nbconvert, mistune and bleach each time: 1.1 s of CPU per notebook on the development
machine, of which rendering the benchmark's notebook took 0.05 s. So one child (the "zygote",
``python -P -m repograder.nbzygote``) imports the renderer once and then, per request, forks a
process that sets its limits, renders and exits: a page that crashes, exhausts its memory or
exploits a parser bug still ends with its own process, and the next page starts from the clean
zygote. The grader enforces the time limit: when a page is late, the zygote's whole process
group is killed and the next request starts a new one.

Protocol on the zygote's stdin/stdout: request = ``!QQ`` (memory limit in bytes, size) + the
notebook's bytes; response = one status byte (0: rendered) + ``!Q`` size + the HTML body.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from typing import IO

_REQUEST = struct.Struct("!QQ")
_SIZE = struct.Struct("!Q")
MAX_BODY_BYTES = 64 << 20  # a body larger than this is refused (the renderer's input is bounded)


class _Late(Exception):
    """The zygote did not answer in time, or its pipe broke."""


class Zygote:
    """The grader's side: one zygote per grader process, one page at a time (thread-safe)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self.started = 0  # how many zygotes were started (tests)

    def render(self, raw: bytes, memory_bytes: int, timeout_s: float) -> str | None:
        """The sanitised HTML body of ``raw``; None when the page failed, crashed or was late."""
        with self._lock:
            for _attempt in range(2):  # a zygote that died since the last page: start anew once
                proc = self._ensure()
                deadline = time.monotonic() + timeout_s
                try:
                    stdin, stdout = proc.stdin, proc.stdout
                    assert stdin is not None
                    assert stdout is not None
                    stdin.write(_REQUEST.pack(memory_bytes, len(raw)) + raw)
                    stdin.flush()
                    status = _read_exact(stdout, 1 + _SIZE.size, deadline)
                    (size,) = _SIZE.unpack(status[1:])
                    if size > MAX_BODY_BYTES:
                        raise _Late("answer too large")
                    body = _read_exact(stdout, size, deadline)
                except (OSError, _Late):
                    late = time.monotonic() >= deadline
                    self._stop()
                    if late:
                        return None
                    continue
                return body.decode("utf-8", "replace") if status[0] == 0 else None
            return None

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._stop()
            # -P: the current folder must not shadow nbconvert or repograder with a planted
            # module. Its own session: a late page is ended with the zygote's whole group.
            self._proc = subprocess.Popen(
                [sys.executable, "-P", "-m", "repograder.nbzygote"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                bufsize=0,
                start_new_session=True,
            )
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


def _read_exact(pipe: IO[bytes], size: int, deadline: float) -> bytes:
    fd = pipe.fileno()
    chunks: list[bytes] = []
    left = size
    while left:
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([fd], [], [], wait)[0]:
            raise _Late("no answer in time")
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise _Late("the zygote ended")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


_ZYGOTE = Zygote()
atexit.register(_ZYGOTE.close)


def render(raw: bytes, memory_bytes: int, timeout_s: float) -> str | None:
    """:meth:`Zygote.render` on this process's zygote (started on first use)."""
    return _ZYGOTE.render(raw, memory_bytes, timeout_s)


# ---------------------------------------------------------------------------------------------
# The zygote (child side)


def _read_stream(stream: IO[bytes], size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def _drain(fd: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while chunk := os.read(fd, 1 << 20):
        total += len(chunk)
        if total <= MAX_BODY_BYTES + 1:
            chunks.append(chunk)
    return b"".join(chunks)


def _page(raw: bytes, memory_bytes: int, cpu_s: int) -> bytes:
    """Fork a limited process that renders ``raw``; its answer (status byte + body)."""
    from repograder.nbrender import render_body_limited

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the page's own process: limits first, then the untrusted input
        code = 1
        try:
            os.close(read_end)
            body = render_body_limited(raw, memory_bytes, cpu_s)
            answer = b"\0" + body.encode("utf-8") if body is not None else b"\1"
            view = memoryview(answer)
            while view:
                view = view[os.write(write_end, view) :]
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    answer = _drain(read_end)
    os.close(read_end)
    os.waitpid(pid, 0)
    if answer[:1] != b"\0" or len(answer) - 1 > MAX_BODY_BYTES:
        return b"\1"
    return answer


def main() -> int:
    """Zygote entry point: import the renderer, then answer requests until stdin closes."""
    from repograder.nbrender import RENDER_TIMEOUT_S, warm_up

    # The protocol gets its own descriptor; anything the libraries print goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    warm_up()
    stdin = sys.stdin.buffer
    cpu_s = int(RENDER_TIMEOUT_S) + 5
    while (header := _read_stream(stdin, _REQUEST.size)) is not None:
        memory_bytes, size = _REQUEST.unpack(header)
        raw = _read_stream(stdin, size)
        if raw is None:
            return 1
        answer = _page(raw, memory_bytes, cpu_s)
        out.write(answer[:1] + _SIZE.pack(len(answer) - 1) + answer[1:])
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
