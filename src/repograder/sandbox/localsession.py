"""A bash session on the host for the local backend: state carried over, output capped.

No isolation: commands run as the current user with the network on. What the session does
provide is a throw-away copy of the checkout, a scrubbed environment, a temporary HOME,
per-command timeouts that kill the whole process group, ulimits and bounded output capture.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from repograder import fsutil
from repograder.model import ExecResult
from repograder.sandbox.base import HelperResult, Limits

# Variables that may carry credentials or steer tools towards the grader's own setup.
_SECRET_PATTERN = re.compile(
    r"(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|AUTH)",
    re.IGNORECASE,
)
_DROPPED_PREFIXES = (
    "AWS_",
    "AZURE_",
    "GCP_",
    "GOOGLE_",
    "GH_",
    "GITHUB_",
    "GITLAB_",
    "CI_JOB_",
    "ACTIONS_",
    "DOCKER_",
    "REPOGRADER_",
    "SSH_",
    "GPG_",
    "CONDA_",
    "PYTHON",  # PYTHONPATH/PYTHONHOME of the grader would leak into student code
    "VIRTUAL_ENV",
    "UV_",
)
# Runs the helper's source (first argument) as __main__; normal site processing, so layered
# environments (a .pth file chains the shared layer) keep working.
_LOCAL_HELPER_BOOT = (
    "import sys\n"
    "_src = sys.argv.pop(1)\n"
    "exec(compile(_src, '<repograder-helper>', 'exec'), {'__name__': '__main__'})\n"
)
_DRAIN_GRACE_S = 0.5  # after the shell exits, background children may still hold the pipe
_CHUNK = 65536


def scrubbed_environment(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` without tokens, secrets and the grader's own Python/tool settings."""
    return {
        key: value
        for key, value in base.items()
        if not _SECRET_PATTERN.search(key) and not key.upper().startswith(_DROPPED_PREFIXES)
    }


@dataclass
class _Capture:
    """Head and rolling tail of a stream, so endless output never fills memory."""

    half: int
    head: bytearray
    tail: bytearray
    total: int = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self.half:
                del self.tail[: len(self.tail) - self.half]

    def result(self) -> tuple[str, str]:
        if not self.tail or self.total <= len(self.head) + len(self.tail):
            return (bytes(self.head + self.tail)).decode("utf-8", "replace"), ""
        return self.head.decode("utf-8", "replace"), self.tail.decode("utf-8", "replace")


def _copy_ignore(folder: str, names: list[str]) -> set[str]:
    """Skip fifos, sockets and devices: opening a fifo would block the copy forever."""
    skipped: set[str] = set()
    for name in names:
        try:
            mode = os.lstat(os.path.join(folder, name)).st_mode
        except OSError:
            skipped.add(name)
            continue
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
            skipped.add(name)
    return skipped


def copy_checkout(checkout: Path, dest: Path) -> None:
    """Copy the checkout keeping symlinks as links, so the evidence is never modified."""
    shutil.copytree(checkout, dest, symlinks=True, ignore=_copy_ignore)


class LocalSession:
    """One bash session on the host; ``cd`` and ``export`` carry over via a state file."""

    def __init__(
        self,
        checkout: Path,
        limits: Limits,
        *,
        path_prefix: tuple[Path, ...] = (),
        virtual_env: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self._limits = limits
        self._root = Path(tempfile.mkdtemp(prefix="repograder-session-"))
        self.workdir = self._root / "work"
        self._home = self._root / "home"
        self._state = self._root / "state"
        self._tmp = self._root / "tmp"
        self._closed = False
        self._groups: set[int] = set()
        self.notes: list[str] = []  # setup problems worth reporting (e.g. project install)
        try:
            copy_checkout(checkout, self.workdir)
            self._home.mkdir()
            self._state.mkdir()
            self._tmp.mkdir()
        except OSError:
            fsutil.remove_tree(self._root)
            raise
        env = scrubbed_environment(os.environ)
        self._host_path = env.get("PATH", os.defpath)
        path = os.pathsep.join([*(str(p) for p in path_prefix), self._host_path])
        env.update(
            {
                "PATH": path,
                "HOME": str(self._home),
                "TMPDIR": str(self._tmp),  # removed with the session
                "PYTHONUNBUFFERED": "1",  # so a command killed by the timeout still shows output
                "MPLBACKEND": "Agg",  # no display on a grader
                "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            }
        )
        if virtual_env is not None:
            env["VIRTUAL_ENV"] = str(virtual_env)
        env.update(extra_env or {})
        self._env = env
        (self._state / "env.sh").write_text(f"cd -- {shlex.quote(str(self.workdir))}\n")

    def use_venv(self, venv: Path, base: Path | None = None) -> None:
        """Switch to ``venv`` (layered over ``base``); only before the first command."""
        bins = [str(venv / "bin")] + ([str(base / "bin")] if base is not None else [])
        self._env["PATH"] = os.pathsep.join([*bins, self._host_path])
        self._env["VIRTUAL_ENV"] = str(venv)

    def _wrapper(self, command_file: Path, timeout_s: float) -> str:
        lim = self._limits
        # CPU seconds for all cores over the whole timeout: only a backstop, never the limit.
        cpu_s = int(timeout_s * max(os.cpu_count() or 1, 1)) + 60
        state = shlex.quote(str(self._state / "env.sh"))
        # RLIMIT_DATA rather than RLIMIT_AS: since Linux 4.7 it counts anonymous mappings, so it
        # bounds real allocations, while AS also counts address-space reservations that numpy,
        # torch and JITs make up front and breaks them. FSIZE caps single files, not the disk.
        ulimits = " ".join(
            [
                f"ulimit -d {lim.memory_mb * 1024} 2>/dev/null;",
                f"ulimit -f {lim.disk_mb * 1024} 2>/dev/null;",
                f"ulimit -t {cpu_s} 2>/dev/null;",
                "ulimit -c 0 2>/dev/null;",
            ]
        )
        return (
            f"{ulimits}\n"
            f". {state} >/dev/null 2>&1\n"
            "__rg_save() {\n"
            "  __rg_rc=$?\n"
            f"  {{ export -p; printf 'cd -- %q\\n' \"$PWD\"; }} > {state}.tmp 2>/dev/null"
            f" && mv -f {state}.tmp {state}\n"
            "  exit $__rg_rc\n"
            "}\n"
            "trap __rg_save EXIT\n"
            f". {shlex.quote(str(command_file))}\n"
        )

    def run(self, command: str, timeout_s: float | None = None) -> ExecResult:
        """Run ``command`` with bash; kill its process group when ``timeout_s`` passes."""
        if self._closed:
            raise RuntimeError("session is closed")
        timeout = self._limits.timeout_s if timeout_s is None else timeout_s
        command_file = self._state / "command.sh"
        command_file.write_text(command + "\n")
        capture = _Capture(max(self._limits.output_bytes // 2, 1), bytearray(), bytearray())
        start = time.monotonic()
        proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc", "-c", self._wrapper(command_file, timeout)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self._env,
            cwd=self.workdir,
            start_new_session=True,
        )
        self._groups.add(proc.pid)
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        timed_out = False
        drain_until: float | None = None
        try:
            while True:
                now = time.monotonic()
                if drain_until is None and proc.poll() is not None:
                    drain_until = now + _DRAIN_GRACE_S
                if drain_until is not None and now >= drain_until:
                    break
                if drain_until is None and now - start >= timeout:
                    timed_out = True
                    _kill_group(proc.pid)
                    proc.wait()
                    drain_until = time.monotonic() + _DRAIN_GRACE_S
                    continue
                wait = 0.1 if drain_until is None else max(drain_until - now, 0.0)
                ready, _, _ = select.select([fd], [], [], min(wait, 0.1))
                if ready:
                    chunk = os.read(fd, _CHUNK)
                    if not chunk:
                        if proc.poll() is not None or timed_out:
                            break
                        # EOF before exit: the shell closed its output; just wait for it.
                        time.sleep(0.02)
                        continue
                    capture.feed(chunk)
        finally:
            proc.stdout.close()
        if timed_out:
            # Children that escaped into their own groups were killed above with ours.
            exit_code: int | None = None
        else:
            exit_code = proc.wait()
            if exit_code < 0:  # report signals the way a shell does (SIGKILL -> 137)
                exit_code = 128 - exit_code
        duration = time.monotonic() - start
        head, tail = capture.result()
        return ExecResult(exit_code, timed_out, duration, head, tail, capture.total)

    def run_helper(
        self,
        script: str,
        args: Sequence[str],
        timeout_s: float,
        max_bytes: int,
        stdin: bytes = b"",
    ) -> HelperResult:
        """Run the grader's ``script`` with the environment's python, outside the shell state.

        The interpreter is looked up on the session's own PATH (set by the grader, never by a
        step's ``export``), runs with ``-I`` from the copy's root, reads ``stdin`` (written
        from a thread, so a helper that writes before it has read everything cannot block),
        and its stdout (at most ``max_bytes``) is the result. No isolation: this backend
        promises none.
        """
        if self._closed:
            raise RuntimeError("session is closed")
        python = shutil.which("python", path=self._env.get("PATH")) or "python3"
        start = time.monotonic()
        proc = subprocess.Popen(
            [python, "-I", "-c", _LOCAL_HELPER_BOOT, script, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self._env,
            cwd=self.workdir,
            start_new_session=True,
        )
        self._groups.add(proc.pid)
        assert proc.stdout is not None
        assert proc.stdin is not None
        feeder = threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True)
        feeder.start()
        fd = proc.stdout.fileno()
        out = bytearray()
        timed_out = False
        try:
            while True:
                if time.monotonic() - start >= timeout_s:
                    timed_out = True
                    break
                ready, _, _ = select.select([fd], [], [], 0.1)
                if not ready:
                    continue
                chunk = os.read(fd, _CHUNK)
                if not chunk:
                    break
                out += chunk[: max(max_bytes - len(out), 0)]
        finally:
            proc.stdout.close()
            _kill_group(proc.pid)
        code = proc.wait()
        return HelperResult(
            None if timed_out else (128 - code if code < 0 else code),
            timed_out,
            time.monotonic() - start,
            bytes(out),
        )

    def read_file(self, path: str, max_bytes: int) -> bytes | None:
        """Read a file from the session's copy, never through a symlink."""
        return fsutil.read_bytes(self.workdir, path, max_bytes)

    def close(self) -> None:
        """Kill every process group the session started and delete the copy. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for pgid in sorted(self._groups):
            _kill_group(pgid)
        self._groups.clear()
        fsutil.remove_tree(self._root)


def _feed(pipe: IO[bytes], data: bytes) -> None:
    """Write ``data`` to a helper's stdin and close it; a helper that exits early is fine."""
    with contextlib.suppress(OSError):
        try:
            pipe.write(data)
        finally:
            pipe.close()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
