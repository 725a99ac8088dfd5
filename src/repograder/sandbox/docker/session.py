"""A group's session: one locked-down container, the checkout copied in, steps run and capped.

The container (:func:`session_spec`): no network, no capabilities, a read-only root file
system, tmpfs for ``/work`` (a copy of the checkout), ``/tmp`` and the home folder, and the
memory/CPU/pids limits. Each step runs through ``templates/capture.py`` as uid 1000; the exit
code comes from the engine, a timeout from the host's clock, and every student process is
ended after each step (docs/SANDBOX.md, "Security model").
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
import json
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import IO, Any

from repograder.errors import InfrastructureError
from repograder.model import ExecResult
from repograder.sandbox import buildplan
from repograder.sandbox.base import HelperResult, Limits
from repograder.sandbox.docker.engine import ContainerSpec, EngineError, exit_code, retry
from repograder.sandbox.docker.runs import ContainerTracker
from repograder.sandbox.helpers import END_STUDENT_PROCESSES, HELPER_BOOT

STATE_DIR = "/tmp/.repograder"  # noqa: S108
STUDENT = "1000:1000"
# The grader's own commands in a session: absolute paths, and a PATH without the student-writable
# /home/student/.local/repograder/bin that the image's PATH starts with.
GRADER_ENV = ("PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8")
TIMEOUT_EXIT = 124  # capture.py's exit code when it killed a step at its timeout
END_ATTEMPTS = 10  # tries to end every student process after a step ...
END_PAUSE_S = 1.0  # ... this far apart
HOST_GUARD_S = 30.0  # the host ends a step itself this long after its timeout
SHORT_EXEC_TIMEOUT_S = 300  # the grader's own short commands (mkdir, reading a file)
COPY_TIMEOUT_S = 3600  # copying the checkout in: how long its answer may stay quiet
WARM_HOME_SHARE = 2  # a warm home is unpacked when it takes at most 1/2 of the home tmpfs
# The thread pools that size themselves from the host's cores, not the container's CPU quota,
# and the variables that set their default size: joblib's list
# (``ParallelBackendBase.MAX_NUM_THREADS_VARS``, which it sets in its own workers for the same
# reason), without ``NUMBA_NUM_THREADS``: that one is numba's maximum, and
# ``numba.set_num_threads(2)`` (UMAP's and pynndescent's ``n_jobs=2``) would then raise. OpenMP
# (libgomp: torch) and OpenBLAS (numpy, scipy) do not read cgroup quotas (llvm-project#225493,
# OpenBLAS#6059); a program may still ask for more threads (``torch.set_num_threads``).
THREAD_POOL_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def tmpfs_sizes(disk_mb: int) -> dict[str, int]:
    """MB of each tmpfs folder of a session: ``/work`` 3/4, ``/tmp`` and the home 1/8 each.

    tmpfs pages count against the container's memory limit, so the three together stay
    within one ``disk_mb``: three folders of ``disk_mb`` each let a disk filler use up
    ``memory_mb`` (the default rubric: 3 x 2048 MB > 4096 MB) and the engine then kill the
    session's own processes (measured: docs/SANDBOX.md, "Security model").
    """
    scratch = max(disk_mb // 8, 1)
    return {"/work": disk_mb - 2 * scratch, "/tmp": scratch, "/home/student": scratch}  # noqa: S108


def thread_pool_env(cpus: float, cores: int | None = None) -> dict[str, str]:
    """:data:`THREAD_POOL_VARS`, each set to the whole CPUs of a ``cpus`` quota (at least 1),
    never more than the ``cores`` the libraries would use themselves (default: this host's;
    the engine runs here, as ``cli.run.default_jobs`` assumes too).

    Under a CFS quota of 1 CPU on a 2-core host, torch and OpenBLAS start 2 threads each, whose
    waits spin and are throttled: the benchmark's ``python run.py`` (librosa, torch) used
    6.2-6.4 CPU-seconds in a ``--cpus 1`` container and 4.8-5.3 with these set to 1
    (docs/SANDBOX.md, "Threads under the CPU quota"). A README step's own ``export`` wins.
    """
    host = cores if cores is not None else (os.cpu_count() or 1)
    threads = str(max(1, min(int(cpus), host)))
    return dict.fromkeys(THREAD_POOL_VARS, threads)


def session_spec(image: str, limits: Limits) -> ContainerSpec:
    """The session container of ``image`` under ``limits`` (sizes in MB, see :class:`Limits`).

    Its environment sizes the numeric libraries' thread pools to the CPU quota
    (:func:`thread_pool_env`).
    """
    size = {path: f"size={mb}m" for path, mb in tmpfs_sizes(limits.disk_mb).items()}
    return ContainerSpec(
        image=image,
        command=("/bin/sleep", "infinity"),  # by path: the image's PATH has /opt/venv/bin
        # The idle main process is root without capabilities, so a student's `kill -1` cannot
        # end the session; every command runs as uid 1000.
        user="0:0",
        labels={},
        init=True,
        network_mode="bridge" if limits.network else "none",
        cap_drop=("ALL",),
        security_opt=("no-new-privileges",),
        mem_limit=f"{limits.memory_mb}m",
        memswap_limit=f"{limits.memory_mb}m",
        nano_cpus=int(limits.cpus * 1e9),
        pids_limit=limits.pids,
        read_only=True,
        tmpfs={
            "/work": f"rw,nosuid,nodev,exec,{size['/work']},uid=1000,gid=1000,mode=0755",
            "/tmp": f"rw,nosuid,nodev,exec,{size['/tmp']},mode=1777",  # noqa: S108
            "/home/student": (
                f"rw,nosuid,nodev,exec,{size['/home/student']},uid=1000,gid=1000,mode=0755"
            ),
        },
        working_dir="/work",
        environment=thread_pool_env(limits.cpus),
    )


class DockerSession:
    """One group's shell session in its own container (implements ``base.Session``)."""

    def __init__(self, tracker: ContainerTracker, container_id: str, limits: Limits) -> None:
        self._tracker = tracker
        self._engine = tracker.engine
        self._container_id = container_id
        self.limits = limits
        self.notes: tuple[str, ...] = ()
        self.setup_result: ExecResult | None = None
        self._closed = False
        # Set when student processes could not be ended: nothing runs in the session any more
        # (no later verdict could be trusted), and each later action says why. Student data.
        self._stuck: str | None = None
        # No uid-1000 process can be alive: none ran student code since the container started
        # or since every student process was ended, so a helper need not end them first (an
        # exec of about 0.1 CPU-second). Only student code starts processes that outlive the
        # grader's own execs (README steps, a notebook's kernel).
        self._no_student_process = True
        self._capture = (
            resources.files("repograder.sandbox").joinpath("templates/capture.py").read_text()
        )

    @property
    def container_id(self) -> str:
        """The engine's id of the session container."""
        return self._container_id

    def start(
        self, checkout: Path, *, install_project: bool, warm_home: Path | None = None
    ) -> None:
        """Copy the checkout into /work and install the project when the build asked for it.

        ``warm_home``: a tar of the shared layer's warm home (``warmup.warm_home``: the numba
        JIT and matplotlib font caches its warm-up filled), unpacked into the tmpfs home.
        """
        code, _ = self._exec(["/bin/mkdir", "-p", "-m", "700", STATE_DIR], 4096)
        if code != 0:
            raise InfrastructureError("could not prepare the session container")
        if warm_home is not None:
            self._unpack_warm_home(warm_home)
        with tempfile.TemporaryFile() as tar_file:
            work_mb = tmpfs_sizes(self.limits.disk_mb)["/work"]
            self.notes += tuple(buildplan.checkout_tar(checkout, tar_file, work_mb << 20))
            tar_file.seek(0)
            code, out = self._exec_stdin(
                ["/bin/tar", "-x", "--no-same-owner", "-C", "/work", "-f", "-"], tar_file
            )
        if code != 0:
            self.notes += (f"the checkout copy is incomplete: {out.strip()[:300]}",)
        if install_project:
            self.setup_result = self.run(
                f"uv pip install --python {buildplan.VENV_PYTHON} --offline --no-deps "
                f"--no-build-isolation --prefix {buildplan.SESSION_PREFIX} -e /work",
                timeout_s=min(self.limits.timeout_s, 300),
            )

    def _unpack_warm_home(self, warm_home: Path) -> None:
        # The warm home shares the student's home tmpfs (disk_mb / 8): unpacked only when it
        # leaves at least half of it free, and a failed unpack is undone. A home left full
        # (measured: 100 % of an 8 MB home) fails every step that writes to HOME, so the
        # group's verdict would depend on the size of the course's warm-up caches.
        home_mb = tmpfs_sizes(self.limits.disk_mb)["/home/student"]
        size = warm_home.stat().st_size
        if size > (home_mb << 20) // WARM_HOME_SHARE:
            self.notes += (
                f"the warm-up caches ({size >> 20} MB) were not unpacked: the home folder "
                f"holds {home_mb} MB (raise disk_mb or shrink the warm-up)",
            )
            return
        unpack = ["/bin/tar", "-x", "--no-same-owner", "-C", "/home/student", "-f", "-"]
        with open(warm_home, "rb") as warm:
            code, out = self._exec_stdin(unpack, warm)
        if code != 0:
            self.notes += (f"the warm-up caches were not unpacked: {out.strip()[:300]}",)
            code, _ = self._exec(
                ["/usr/bin/find", "/home/student", "-mindepth", "1", "-delete"], 4096
            )
            if code != 0:
                raise InfrastructureError("could not empty the home folder after a failed unpack")

    def _exec(
        self,
        cmd: list[str],
        max_bytes: int,
        user: str = STUDENT,
        read_timeout_s: float | None = SHORT_EXEC_TIMEOUT_S,
        *,
        workdir: str | None = None,
        environment: Sequence[str] | None = GRADER_ENV,
        stdin: bytes | None = None,
    ) -> tuple[int | None, bytes]:
        """Run ``cmd`` and read at most ``max_bytes`` of its stdout (stderr dropped).

        ``cmd[0]`` must be an absolute path: the grader's own commands run with
        :data:`GRADER_ENV` (no student-writable PATH entry), never the student's shell state;
        ``environment=None`` keeps the image's environment (for the student's steps).
        ``read_timeout_s``: how long the output may stay quiet (None: no limit; the caller
        bounds the command's time itself). ``stdin``: sent to the command, then EOF (None: no
        stdin). An engine fault raises InfrastructureError.
        """
        try:
            exec_id = retry(
                self._engine.exec_create,
                self._container_id,
                cmd,
                user=user,
                stderr=False,
                environment=None if environment is None else list(environment),
                workdir=workdir,
                stdin=stdin is not None,
            )
            out = bytearray()
            frames = self._engine.exec_start(
                exec_id,
                read_timeout_s=read_timeout_s,
                stdin=None if stdin is None else io.BytesIO(stdin),
            )
            for stream, payload in frames:
                if stream == 1 and len(out) < max_bytes:
                    out += payload[: max_bytes - len(out)]
            code = exit_code(self._engine, exec_id)
        except EngineError as exc:
            raise InfrastructureError(f"the Docker engine failed during a session: {exc}") from exc
        return code, bytes(out)

    def _exec_stdin(self, cmd: list[str], data: IO[bytes]) -> tuple[int | None, str]:
        try:
            exec_id = retry(
                self._engine.exec_create,
                self._container_id,
                cmd,
                user=STUDENT,
                stdin=True,
                environment=list(GRADER_ENV),
            )
            out = bytearray()
            for stream, payload in self._engine.exec_start(
                exec_id, read_timeout_s=COPY_TIMEOUT_S, stdin=data
            ):
                if stream == 1 and len(out) < 64 * 1024:
                    out += payload[: 64 * 1024 - len(out)]
            code = exit_code(self._engine, exec_id)
        except EngineError as exc:
            raise InfrastructureError(
                f"the Docker engine failed copying the checkout: {exc}"
            ) from exc
        return code, out.decode("utf-8", errors="replace")

    def run(self, command: str, timeout_s: float | None = None) -> ExecResult:
        """Run ``command`` with bash in the session (cwd/exports persist), capped and timed.

        The exit code comes from the engine's exec inspect, the timeout from the host's clock
        (capture.py's JSON line, written by a student-owned process, only gives the output).
        Every student process, background ones included, is ended before this returns.
        """
        if self._closed:
            raise InfrastructureError("the session is closed")
        if self._stuck is not None:
            return ExecResult(126, False, 0.0, f"[repograder] not run: {self._stuck}", "", 0)
        timeout = self.limits.timeout_s if timeout_s is None else timeout_s
        head_cap = self.limits.output_bytes // 2
        tail_cap = self.limits.output_bytes - head_cap
        cmd = [
            buildplan.VENV_PYTHON,
            "-I",
            "-S",
            "-c",
            self._capture,
            STATE_DIR,
            str(head_cap),
            str(tail_cap),
            str(timeout),
            command,
        ]
        # The step's bash gets the image's environment (its PATH includes the project prefix).
        code, raw, guard_fired, wall = self._timed_exec(
            cmd, 2 * self.limits.output_bytes + 65536, timeout, environment=None
        )
        parsed = parse_capture(raw, code, wall)
        timed_out = guard_fired or (code == TIMEOUT_EXIT and wall >= timeout)
        return dataclasses.replace(
            parsed,
            exit_code=None if timed_out else code,
            timed_out=timed_out,
            duration_s=wall,
            output_tail="" if guard_fired else parsed.output_tail,
        )

    def run_helper(
        self,
        script: str,
        args: Sequence[str],
        timeout_s: float,
        max_bytes: int,
        stdin: bytes = b"",
    ) -> HelperResult:
        """Run the grader's ``script`` as uid 1000 outside the student's shell state.

        ``/opt/venv/bin/python -I -S`` (helpers.HELPER_BOOT: no ``.pth`` file, so nothing from
        the student-writable project prefix is imported), in ``/work``, with GRADER_ENV. No
        student process is alive while it runs: they are ended before and after. Its input is
        ``stdin`` from the host (``/work`` is the student's to rewrite); its result is its
        stdout (at most ``max_bytes``), read by the host.
        """
        if self._closed:
            raise InfrastructureError("the session is closed")
        if not self._no_student_process:
            self._end_student_processes()
        if self._stuck is not None:
            return HelperResult(None, False, 0.0, b"")
        cmd = [buildplan.VENV_PYTHON, "-I", "-S", "-c", HELPER_BOOT, script, *args]
        code, raw, guard_fired, wall = self._timed_exec(
            cmd, max_bytes, timeout_s, workdir="/work", stdin=stdin
        )
        return HelperResult(None if guard_fired else code, guard_fired, wall, raw)

    def _timed_exec(
        self,
        cmd: list[str],
        max_bytes: int,
        timeout_s: float,
        *,
        workdir: str | None = None,
        environment: Sequence[str] | None = GRADER_ENV,
        stdin: bytes | None = None,
    ) -> tuple[int | None, bytes, bool, float]:
        """Run ``cmd`` as uid 1000 under a host-side timer; end every student process after.

        Returns (exit code, stdout, whether the host had to stop it, host wall seconds). The
        host stops it ``HOST_GUARD_S`` after ``timeout_s`` if the in-container timer failed.
        """
        start = time.monotonic()
        self._no_student_process = False
        result: dict[str, Any] = {}
        failure: list[BaseException] = []

        def work() -> None:
            try:
                # No read timeout: a step may print nothing for as long as its own timeout
                # allows; capture.py ends it then, and the join below guards capture.py.
                result["code"], result["raw"] = self._exec(
                    cmd,
                    max_bytes,
                    workdir=workdir,
                    environment=environment,
                    read_timeout_s=None,
                    stdin=stdin,
                )
            except BaseException as exc:  # handed to the caller's thread
                failure.append(exc)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        thread.join(timeout_s + HOST_GUARD_S)
        guard_fired = thread.is_alive()
        if guard_fired:
            self._end_student_processes()
            thread.join(10)
        wall = time.monotonic() - start
        if failure:
            raise failure[0]
        self._check_alive()
        self._end_student_processes()
        return result.get("code"), result.get("raw", b""), guard_fired, wall

    def _end_student_processes(self) -> None:
        """SIGKILL every uid-1000 process in the container and check that none is left.

        Tries for about END_ATTEMPTS * END_PAUSE_S seconds: a process-limit exhausted by a
        fork bomb can keep even the killer from starting until the killed ones are reaped. If
        some survive, the session is stuck (``_stuck``): later steps and helpers do not run
        and say why, since no later verdict could be trusted. An engine failure still raises.
        """
        reason = ""
        for attempt in range(END_ATTEMPTS):
            if self._stuck is not None:
                return
            try:
                code, out = self._exec(
                    [buildplan.VENV_PYTHON, "-I", "-S", "-c", END_STUDENT_PROCESSES], 4096
                )
            except InfrastructureError as exc:
                self._check_alive()  # a dead container or engine is ours to report
                code, out = None, str(exc).encode()
            if code == 0:
                self._no_student_process = True
                return
            reason = out.decode("utf-8", "replace").strip()[:200] or f"exit code {code}"
            if attempt + 1 < END_ATTEMPTS:
                time.sleep(END_PAUSE_S)
        self._stuck = f"the student's processes could not be ended ({reason})"

    def _check_alive(self) -> None:
        try:
            status = retry(self._engine.container_status, self._container_id)
        except EngineError as exc:
            raise InfrastructureError(f"the Docker engine failed during a session: {exc}") from exc
        if status != "running":
            raise InfrastructureError(f"the session container stopped ({status})")

    def read_file(self, path: str, max_bytes: int) -> bytes | None:
        """Read up to ``max_bytes`` of a regular file under /work; None when absent."""
        if self._stuck is not None:
            return None
        target = path if path.startswith("/") else f"/work/{path}"
        script = '[ -f "$1" ] && [ ! -L "$1" ] || exit 3; /usr/bin/head -c "$2" -- "$1"'
        code, data = self._exec(
            ["/bin/sh", "-c", script, "read", target, str(max_bytes)], max_bytes
        )
        return data if code == 0 else None

    def close(self) -> None:
        """Force-remove the session container. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._tracker.remove(self._container_id)


def parse_capture(raw: bytes, exec_code: int | None, wall: float) -> ExecResult:
    """Turn capture.py's JSON line into an ExecResult; a garbled line is a failed step.

    The line is the student's to forge (a background process can write the last line of
    capture.py's stdout), so every field is checked for its type: anything else, e.g. a
    ``"total": 1e400`` that ``int()`` cannot take, is a garbled line, never an exception (one
    escaping a step stops every group's grading). The duration is the host's ``wall``.
    """
    try:
        data = json.loads(raw.decode("utf-8", errors="replace").strip().splitlines()[-1])
        if not isinstance(data, dict):
            raise TypeError("not an object")
        fields = (data["head"], data["tail"], data["timed_out"], data["total"])
        head_b64, tail_b64, timed_out, total = fields
        if not (isinstance(head_b64, str) and isinstance(tail_b64, str)):
            raise TypeError("head and tail must be strings")
        if not isinstance(timed_out, bool):
            raise TypeError("timed_out must be a boolean")
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise TypeError("total must be a count")
        head = base64.b64decode(head_b64).decode("utf-8", errors="replace")
        tail = base64.b64decode(tail_b64).decode("utf-8", errors="replace")
    except (ValueError, KeyError, IndexError, TypeError, binascii.Error):
        return ExecResult(
            exit_code=None if exec_code is None else exec_code,
            timed_out=exec_code is None,
            duration_s=wall,
            output_head="[repograder] the step's output could not be captured",
            output_tail="",
            output_bytes=0,
        )
    # The exec's own exit code is authoritative: the JSON is written by a student-owned process
    # (DockerSession.run also overrides timed_out with the host's own clock).
    code = None if timed_out else exec_code
    return ExecResult(
        exit_code=code,
        timed_out=timed_out,
        duration_s=wall,
        output_head=head,
        output_tail=tail,
        output_bytes=total,
    )
