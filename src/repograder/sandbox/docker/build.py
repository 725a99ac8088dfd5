"""Environment builds: a container from the parent image, the install, a commit.

A build container gets only the dependency files (``buildplan.context_tar``), the host's CA
bundle and local index folders (read-only binds) and, in phase 1 only, the shared uv cache
volume, made root-only while root installs wheels with ``--no-build``; anything that needs
building is rebuilt in a new container without that cache (docs/SANDBOX.md, "Builds").
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import io
import shlex
import tarfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repograder import syslibs
from repograder.errors import InfrastructureError
from repograder.facts import EnvSpec
from repograder.sandbox import buildplan
from repograder.sandbox.base import BUILD_MEMORY_MB
from repograder.sandbox.docker import warmup
from repograder.sandbox.docker.engine import ContainerSpec, EngineError, Mount, exit_code, retry
from repograder.sandbox.docker.images import ENV_REPO, UV_CACHE_MOUNT, UV_CACHE_VOLUME
from repograder.sandbox.docker.runs import ContainerTracker
from repograder.sandbox.docker.session import STUDENT
from repograder.sandbox.hostconfig import (
    CONTAINER_CA_PATH,
    HostSettings,
    container_env,
    uv_index_args,
)

SOURCE_BUILD_NOTE = (
    "a requirement needed building from source: built without the shared package cache "
    "(slower; build code never gets write access to shared state)"
)
BUILD_MEMORY = f"{BUILD_MEMORY_MB}m"
MAX_BUILD_LOG = 20_000_000  # bytes of a build's output written to its log file
ROOT = "0:0"
# Root's execs in a build container: the image's PATH (Dockerfile.base) starts with
# /home/student/.local/repograder/bin and /opt/venv/bin, where the packages being installed put
# their scripts; uv is in /usr/local/bin (root's, written by no build).
ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# HOME too: the image's is /home/student, whose user site a root python would read.
ROOT_ENV = {"PATH": ROOT_PATH, "HOME": "/root"}
_hash_locks: dict[str, threading.Lock] = {}
_hash_locks_guard = threading.Lock()


@contextlib.contextmanager
def hash_lock(cache_dir: Path, content_hash: str) -> Iterator[None]:
    """Serialise builds of one hash across threads (lock) and processes (flock)."""
    with _hash_locks_guard:
        lock = _hash_locks.setdefault(content_hash, threading.Lock())
    lock_dir = cache_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with lock, open(lock_dir / f"{content_hash[:32]}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def with_system_libraries(spec: EnvSpec, present: Sequence[str] = ()) -> tuple[EnvSpec, str]:
    """``spec`` plus the Debian packages its distributions need at run time (``syslibs.TABLE``)
    that neither it nor the parent layer (``present``) has; and a note naming them ("" if none).
    """
    needed = syslibs.apt_packages_for(spec.requirements)
    extra = tuple(p for p in needed if p not in present and p not in spec.apt_packages)
    if not extra:
        return spec, ""
    note = "system libraries the requirements need at run time (repograder's table): " + " ".join(
        extra
    )
    return dataclasses.replace(spec, apt_packages=(*spec.apt_packages, *extra)), note


def wrap_dir(name: str, tar_bytes: bytes) -> bytes:
    """Re-root a tar under ``name/`` (put_archive extracts into an existing folder)."""
    src = tarfile.open(fileobj=io.BytesIO(tar_bytes))  # noqa: SIM115
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as dst:
        top = tarfile.TarInfo(name)
        top.type = tarfile.DIRTYPE
        top.mode = 0o755
        dst.addfile(top)
        for member in src.getmembers():
            data = src.extractfile(member) if member.isfile() else None
            member.name = f"{name}/{member.name}"
            dst.addfile(member, data)
    return out.getvalue()


@dataclass(frozen=True)
class Attempt:
    """How one build container ended; ``retry``: build again from source, without the cache."""

    ok: bool
    summary: str
    excerpt: str = ""
    notes: tuple[str, ...] = ()
    retry: bool = False


class AptJob:
    """A build's apt install, running in its own exec beside the Python install.

    Its output is kept apart and written to the build log by :meth:`finish`, which waits for
    it and returns its notes. An engine fault in the job is raised by ``finish``.
    """

    def __init__(
        self, builder: Builder, container: str, packages: tuple[str, ...], deadline: float
    ) -> None:
        self._buffer = io.StringIO()
        self._notes: list[str] = []
        self._error: BaseException | None = None
        self._done = False

        def work() -> None:
            try:
                self._notes = builder.apt(container, packages, self._buffer, deadline)
            except BaseException as exc:  # handed to finish()
                self._error = exc

        self._thread = threading.Thread(target=work, name="apt", daemon=True)
        self._thread.start()

    def finish(self, log: Any) -> list[str]:
        """Wait for the job, copy its output to ``log``; its notes (once; then [])."""
        if self._done:
            return []
        self._done = True
        self._thread.join()
        log.write("[repograder] apt (alongside the Python install):\n")
        log.write(self._buffer.getvalue())
        if self._error is not None:
            raise self._error
        return self._notes


class Builder:
    """Runs build containers on ``tracker``'s engine; ``timeout_s`` bounds a whole build."""

    def __init__(self, tracker: ContainerTracker, host: HostSettings, timeout_s: float) -> None:
        self.tracker = tracker
        self.engine = tracker.engine
        self.host = host
        self.timeout_s = timeout_s

    def build(
        self,
        plan: buildplan.BuildPlan,
        tag: str,
        log_path: Path,
        parent: str,
        layer: str = "group",
        warm_path: Path | None = None,
        on_image: Callable[[], None] | None = None,
    ) -> tuple[bool, str, str, tuple[str, ...]]:
        """Build ``tag``: wheels only with the shared cache, else from source without it; a
        group's build on a shared layer (``plan.layered``) never gets the shared cache.

        With ``plan.warmup`` the warm-up runs while the image is committed and the warm home
        it leaves is written to ``warm_path`` (``warmup.warm_home``); then ``on_image`` is called
        once the image is committed and checked, while the warm-up may still run. Returns
        (ok, summary, log excerpt, notes). A failed or timed-out build is a result; an engine
        fault raises InfrastructureError.
        """
        deadline = time.monotonic() + self.timeout_s
        with open(log_path, "w", encoding="utf-8", errors="replace") as log:

            def attempt(shared_cache: bool) -> Attempt:
                return self.attempt(
                    plan,
                    tag,
                    parent,
                    layer,
                    log,
                    deadline,
                    shared_cache=shared_cache,
                    warm_path=warm_path,
                    on_image=on_image,
                )

            log.write(f"[repograder] building {tag} on {parent}\n")
            # On a shared layer the venv's interpreter is no longer the base image's: the
            # layer's packages run whenever it starts (their .pth files, a wheel's pyvenv.cfg or
            # bin/python), and uv's interpreter query starts it. So root, who holds the shared
            # cache, builds only on the base image; a group's difference to a layer installs as
            # uid 1000 with a private cache, like a source build.
            shared = not plan.layered
            outcome = attempt(shared_cache=shared)
            if shared and outcome.retry:
                log.write(
                    "[repograder] building from source in a new container, without the shared "
                    "package cache (student build code never sees it)\n"
                )
                outcome = attempt(shared_cache=False)
                outcome = dataclasses.replace(outcome, notes=(*outcome.notes, SOURCE_BUILD_NOTE))
        if not outcome.ok:
            return False, outcome.summary, outcome.excerpt, outcome.notes
        packages = len(plan.requirements) + len(plan.build_requires)
        return True, f"built {tag} ({packages} requirements)", "", outcome.notes

    def mounts(self, *, shared_cache: bool) -> tuple[Mount, ...]:
        """Mounts of a build container: host files read-only; the uv cache only when asked."""
        mounts: list[Mount] = []
        if shared_cache:
            mounts.append(Mount(UV_CACHE_MOUNT, UV_CACHE_VOLUME, type="volume"))
        if self.host.ca_bundle is not None:
            mounts.append(Mount(CONTAINER_CA_PATH, str(self.host.ca_bundle), read_only=True))
        for mount in self.host.mounts:
            mounts.append(Mount(mount.target, str(mount.source), read_only=True))
        return tuple(mounts)

    @staticmethod
    def container_spec(
        parent: str, pids: int, mounts: tuple[Mount, ...], *, warm: bool = False, **caps: Any
    ) -> ContainerSpec:
        """A build container of ``parent`` (root, no new privileges, the build limits)."""
        # A warm-up's HOME is a tmpfs, as in sessions: its caches get their sessions' paths
        # and stay out of the committed image (they are filled while it is committed).
        return ContainerSpec(
            tmpfs=warmup.home_tmpfs() if warm else {},
            image=parent,
            command=("/bin/sleep", "infinity"),  # by path: /opt/venv/bin is on the PATH
            user=ROOT,
            labels={},
            init=True,
            mounts=mounts,
            mem_limit=BUILD_MEMORY,
            memswap_limit=BUILD_MEMORY,
            pids_limit=pids,
            security_opt=("no-new-privileges",),
            **caps,
        )

    def attempt(
        self,
        plan: buildplan.BuildPlan,
        tag: str,
        parent: str,
        layer: str,
        log: Any,
        deadline: float,
        *,
        shared_cache: bool,
        warm_path: Path | None = None,
        on_image: Callable[[], None] | None = None,
    ) -> Attempt:
        """One build container. With ``shared_cache`` root installs wheels only (``--no-build``)
        into the venv while the cache belongs to root (0700), then hands the venv to uid 1000;
        without it everything runs as uid 1000 with a private uv cache. Apt packages install
        alongside (another exec: they touch /usr, the install /opt/venv). A warm-up runs while
        the image is committed, and ``on_image`` (with a warm-up only) is called when the
        committed image passed its check, before the warm-up's end; the container is removed
        in the background (deleting a large layer's files takes seconds that nothing waits
        for)."""
        if plan.apt_packages:
            caps: dict[str, Any] = {}
        elif shared_cache:
            # Root writes the student-owned venv and chowns the cache and the new files.
            caps = {"cap_drop": ("ALL",), "cap_add": ("CHOWN", "DAC_OVERRIDE", "FOWNER")}
        else:
            caps = {"cap_drop": ("ALL",)}
        mounts = self.mounts(shared_cache=shared_cache)
        spec = self.container_spec(parent, 2048, mounts, warm=bool(plan.warmup), **caps)
        try:
            container = self.tracker.start(spec, plan.content_hash)
        except EngineError as exc:
            raise InfrastructureError(f"the Docker engine failed to start a build: {exc}") from exc
        notes: list[str] = []
        timeout = Attempt(False, f"the build timed out after {self.timeout_s:.0f} s")

        apt: AptJob | None = None

        def failed(code: int | None, text: str) -> Attempt:
            if apt is not None:
                notes.extend(apt.finish(log))
            if code is None:
                log.write(f"\n[repograder] build timed out after {self.timeout_s:.0f} s\n")
                return dataclasses.replace(timeout, excerpt=text[-4000:], notes=tuple(notes))
            summary, excerpt = buildplan.summarize_log(text)
            return Attempt(False, summary, excerpt, tuple(notes))

        def run(cmd: list[str], user: str, env: dict[str, str]) -> tuple[int | None, str]:
            return self.stream_exec(container, cmd, user, env, log, deadline)

        try:
            context = wrap_dir("rg-build", buildplan.context_tar(plan, self.host))
            self.engine.put_archive(container, "/tmp", context)  # noqa: S108
            if plan.apt_packages:
                apt = AptJob(self, container, plan.apt_packages, deadline)
            env = {
                **container_env(self.host),
                # A student's uv.toml / [tool.uv] could redirect installs (target, indexes).
                "UV_NO_CONFIG": "1",
                # Bytecode is compiled by layer.py as uid 1000 (uv would compile as root).
                "UV_COMPILE_BYTECODE": "0",
                "UV_LINK_MODE": "copy",
                "UV_NO_PROGRESS": "1",
            }
            student_env = {
                **env,
                "UV_CACHE_DIR": buildplan.PRIVATE_UV_CACHE,
                "HOME": "/home/student",
            }
            if shared_cache:
                lock_cache = f"chown 0:0 {UV_CACHE_MOUNT} && chmod 0700 {UV_CACHE_MOUNT}"
                code, text = run(["/bin/sh", "-c", lock_cache], ROOT, {})
                if code is None:
                    return failed(code, text)
                if code != 0:
                    # Never hand the cache to a build that could not lock it: go private.
                    log.write("[repograder] could not make the shared uv cache root-only\n")
                    return Attempt(False, "", retry=True)
                code, text = run(
                    ["/bin/bash", f"{buildplan.BUILD_DIR}/{buildplan.WHEELS_SCRIPT}", "install"],
                    ROOT,
                    {**env, "UV_CACHE_DIR": UV_CACHE_MOUNT},  # HOME: ROOT_ENV
                )
                if code == buildplan.NEEDS_BUILD:
                    return Attempt(False, "", retry=True)
                if code != 0:
                    return failed(code, text)
            if shared_cache:
                # Root's work on /opt/venv and the state folder: it runs while apt (/usr, /var)
                # may still.
                handover = (
                    f"chown -R 1000:1000 {buildplan.STATE_DIR} && "
                    "find /opt/venv -xdev -uid 0 -exec chown -h 1000:1000 {} +"
                )
                code, text = run(["/bin/sh", "-c", handover], ROOT, {})
                if code != 0:
                    return failed(code, text)
                command = [
                    "/bin/bash",
                    f"{buildplan.BUILD_DIR}/{buildplan.WHEELS_SCRIPT}",
                    "finish",
                ]
            else:
                command = ["/bin/bash", f"{buildplan.BUILD_DIR}/install.sh"]
            # Apt's maintainer scripts run as root: done before any uid-1000 process starts.
            if apt is not None:
                notes += apt.finish(log)
            code, text = run(command, STUDENT, student_env)
            if code != 0:
                return failed(code, text)
            scratch = f"{buildplan.PRIVATE_UV_CACHE} {buildplan.STATE_DIR}"
            run(
                ["/bin/sh", "-c", f"chmod -R u+w {scratch} 2>/dev/null; rm -rf {scratch}"],
                STUDENT,
                {},
            )
            run(["/bin/rm", "-rf", buildplan.BUILD_DIR], ROOT, {})
            changes = [
                "LABEL repograder=1",
                f"LABEL repograder.hash={plan.content_hash}",
                f"LABEL repograder.install_project={int(plan.install_project)}",
                f"LABEL repograder.python={plan.python_version}",
                f"LABEL repograder.layer={layer}",
            ]
            if plan.warmup:
                # Inherited by the group images built on this layer: their sessions unpack
                # this layer's warm home (DockerSandbox.open_session).
                changes += [
                    f"LABEL {warmup.WARM_LABEL}={plan.content_hash}",
                    f"ENV NUMBA_CACHE_DIR={buildplan.NUMBA_CACHE}",
                ]
            with ThreadPoolExecutor(1, thread_name_prefix="warm-up") as pool:
                warming = (
                    pool.submit(warmup.warm_home, self, container, plan, log, deadline)
                    if plan.warmup
                    else None
                )
                # Unpaused: the warm-up writes only to its tmpfs home while the commit reads.
                committing = time.monotonic()
                self.engine.commit(container, ENV_REPO, tag.split(":", 1)[1], changes, pause=False)
                took = time.monotonic() - committing
                log.write(f"[repograder] committed {tag} in {took:.1f} s\n")
                if warming is not None:
                    # The image is final once committed: it is checked while the warm-up may
                    # still run (its later writes cannot reach the image), not after it.
                    stray = warmup.stray_file(self, tag)
                    if stray:
                        # It ran during the commit: the image may hold anything it wrote in
                        # /tmp or /var/tmp (e.g. /tmp/rg-uv-private, every group build's uv
                        # cache), whatever it removed since.
                        with contextlib.suppress(EngineError):
                            self.engine.kill(container)  # ends the warm-up: nothing to keep
                        with contextlib.suppress(EngineError):
                            self.engine.remove_image(tag)
                        log.write(f"[repograder] the warm-up left {stray} in the image\n")
                        summary = f"the warm-up wrote outside its home ({stray[:200]})"
                        return Attempt(False, summary, notes=tuple(notes))
                    if on_image is not None:
                        on_image()  # group builds may start on it while the warm-up runs
                    data, note = warming.result()
                    if note:
                        notes.append(note)
                    if warm_path is not None:
                        warmup.keep(warm_path, data)
        except EngineError as exc:
            if time.monotonic() >= deadline:
                return dataclasses.replace(timeout, notes=tuple(notes))
            raise InfrastructureError(f"the Docker engine failed during a build: {exc}") from exc
        finally:
            if apt is not None:
                # The outcome is decided (a retry, a failure): an engine fault of the apt
                # job must not replace it; on the success path it was raised above.
                with contextlib.suppress(EngineError):
                    apt.finish(log)
            self.tracker.remove_later(container)
        return Attempt(True, "", notes=tuple(notes))

    def read_exec(
        self, container: str, cmd: list[str], user: str, max_bytes: int
    ) -> tuple[int | None, bytes | None]:
        """Run ``cmd`` and return (exit code, stdout); stdout None when over ``max_bytes``
        (root's with :data:`ROOT_ENV`, as in :meth:`stream_exec`)."""
        env = dict(ROOT_ENV) if user == ROOT else None
        exec_id = retry(
            self.engine.exec_create, container, cmd, user=user, environment=env, stderr=False
        )
        out = bytearray()
        over = False
        for stream, payload in self.engine.exec_start(exec_id, read_timeout_s=300):
            if stream == 1 and not over:
                out += payload
                over = len(out) > max_bytes
        code = exit_code(self.engine, exec_id)
        return code, None if over else bytes(out)

    def apt(
        self, container: str, packages: tuple[str, ...], log: Any, deadline: float
    ) -> list[str]:
        """Install Debian ``packages`` in ``container`` as root; notes saying what happened."""
        safe = [
            p for p in packages if p.replace("-", "").replace(".", "").replace("+", "").isalnum()
        ]
        script = (
            "export DEBIAN_FRONTEND=noninteractive; "
            # No translated descriptions (Translation-en: 6 MB of the 15 MB of lists).
            "apt-get -o Acquire::Languages=none update -q || exit 90; "
            "apt-get install -y -q --no-install-recommends " + shlex.join(safe) + "; "
            "rc=$?; rm -rf /var/lib/apt/lists/*; exit $rc"
        )
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        code, text = self.stream_exec(
            container, ["/bin/bash", "-c", script], ROOT, env, log, deadline
        )
        if code == 0:
            return [f"apt packages installed: {' '.join(safe)}"]
        if code == 90:
            return ["apt packages NOT installed (no Debian mirror reachable): " + " ".join(safe)]
        summary, _ = buildplan.summarize_log(text)
        return [f"apt packages NOT installed ({summary}): " + " ".join(safe)]

    def stream_exec(
        self,
        container: str,
        cmd: list[str],
        user: str,
        env: dict[str, str],
        log: Any,
        deadline: float,
    ) -> tuple[int | None, str]:
        """Run ``cmd``, copying output to ``log``; (None, text) when the deadline passes.

        Root's execs get :data:`ROOT_ENV`: the image's PATH starts with folders the venv's
        packages write (a wheel may ship a script named ``cat`` or ``chown``).
        """
        env = {**env, **ROOT_ENV} if user == ROOT else env
        exec_id = retry(self.engine.exec_create, container, cmd, user=user, environment=env)
        # No read timeout: a build may be quiet for minutes (compiling); the deadline ends it.
        frames = self.engine.exec_start(exec_id, read_timeout_s=None)
        kept: list[str] = []
        size = 0
        done = threading.Event()
        started = time.monotonic()

        def pump() -> None:
            nonlocal size
            try:
                for _stream, chunk in frames:
                    text = chunk.decode("utf-8", errors="replace")
                    if size < MAX_BUILD_LOG:
                        if text.startswith("[repograder]"):
                            # where a build's time goes (resolve, install, compile, warm-up)
                            took = time.monotonic() - started
                            log.write(f"[repograder] at {took:.1f} s of this command\n")
                        log.write(text)
                        log.flush()
                    size += len(chunk)
                    kept.append(text)
                    if len(kept) > 400:
                        del kept[:200]
            except EngineError:
                pass
            finally:
                done.set()

        thread = threading.Thread(target=pump, daemon=True)
        thread.start()
        if not done.wait(max(deadline - time.monotonic(), 0)):
            with contextlib.suppress(EngineError):
                self.engine.kill(container)
            done.wait(10)
            return None, "".join(kept)
        code = exit_code(self.engine, exec_id)
        return (int(code) if code is not None else 1), "".join(kept)

    def nearest(self, parent: str, pins: list[buildplan.Pin], log: Any) -> dict[str, str]:
        """{pinned line: nearest version with a wheel for this image}, asked of the index."""
        script = buildplan.nearest_script(pins, uv_index_args(self.host))
        spec = self.container_spec(parent, 512, self.mounts(shared_cache=False), cap_drop=("ALL",))
        try:
            container = self.tracker.start(spec)
        except EngineError as exc:
            raise InfrastructureError(f"the Docker engine failed to start a probe: {exc}") from exc
        env = {
            **container_env(self.host),
            "UV_NO_CONFIG": "1",
            "UV_NO_PROGRESS": "1",
            "UV_CACHE_DIR": buildplan.PRIVATE_UV_CACHE,
            "HOME": "/home/student",
        }
        try:
            deadline = time.monotonic() + min(self.timeout_s, 600)
            code, text = self.stream_exec(
                container, ["/bin/bash", "-c", script], STUDENT, env, log, deadline
            )
        finally:
            self.tracker.remove(container)
        if code is None:
            return {}
        return buildplan.parse_nearest(text, pins)
