"""Docker sandbox backend: cached environment builds and locked-down sessions.

Builds (see docs/SANDBOX.md): a container from the base image gets only the dependency files,
the host's CA bundle, local index folders (read-only) and the shared uv cache volume; the
install script runs as uid 1000; the container is committed under a content-hash tag. Sessions:
one long-lived container per group with no network, no capabilities, a read-only root file
system, tmpfs for /work (the checkout copy), /tmp and the home folder, and memory/CPU/pids
limits. This is the only module that imports the docker SDK.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import contextlib
import dataclasses
import fcntl
import json
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO, Any, TypeVar

import docker
import docker.errors
import docker.types
import requests.exceptions

from repograder.detect import EnvSpec
from repograder.errors import InfrastructureError, SandboxUnavailable
from repograder.model import ExecResult
from repograder.sandbox import buildplan, syslibs
from repograder.sandbox.base import BuildResult, HelperResult, Limits
from repograder.sandbox.helpers import END_STUDENT_PROCESSES, HELPER_BOOT
from repograder.sandbox.hostconfig import (
    CONTAINER_CA_PATH,
    HostSettings,
    container_env,
    detect_host_settings,
    local_cpu_wheels,
    uv_index_args,
)

BASE_IMAGE = "repograder-base:py3.11"
ROOTFS_IMAGE = "repograder-rootfs:bookworm"
ENV_REPO = "repograder-env"
COMMON_PREFIX = "common-"  # tag prefix of shared layers
USED_DIR = "images"  # <cache_dir>/images/<hash>.used: mtime = last use of that env image
UV_CACHE_VOLUME = "repograder-uv-cache"
UV_CACHE_MOUNT = "/uv-cache"
SOURCE_BUILD_NOTE = (
    "a requirement needed building from source: built without the shared package cache "
    "(slower; build code never gets write access to shared state)"
)
STATE_DIR = "/tmp/.repograder"  # noqa: S108
STUDENT = "1000:1000"
# The grader's own commands in a session: absolute paths, and a PATH without the student-writable
# /home/student/.local/repograder/bin that the image's PATH starts with.
GRADER_ENV = ["PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]
TIMEOUT_EXIT = 124  # capture.py's exit code when it killed a step at its timeout
END_ATTEMPTS = 10  # tries to end every student process after a step ...
END_PAUSE_S = 1.0  # ... this far apart
HOST_GUARD_S = 30.0  # the host ends a step itself this long after its timeout
BUILD_MEMORY = "4g"
MAX_BUILD_LOG = 20_000_000
_SANDBOX_DIR = Path(__file__).resolve().parent / "images"  # also reachable as ./sandbox
_ENGINE_ERRORS = (docker.errors.APIError, requests.exceptions.RequestException, OSError)
ENGINE_ATTEMPTS = 3  # tries of a repeatable engine call before its fault counts
ENGINE_RETRY_S = 1.0  # pause before the 2nd try; 2x before the 3rd
# Long engine calls (committing a GB-sized layer, copying a checkout) get this read timeout
# instead of the client's default 120 s; a quiet stream (a step, a build) gets none: its own
# timeout ends it.
SLOW_CALL_TIMEOUT_S = 3600
SHORT_EXEC_TIMEOUT_S = 300  # the grader's own short commands (mkdir, reading a file)
T = TypeVar("T")
_hash_locks: dict[str, threading.Lock] = {}
_hash_locks_guard = threading.Lock()


def _client(timeout: int = 120) -> Any:
    try:
        client = docker.from_env(timeout=timeout)
        _call(client.ping)
    except (docker.errors.DockerException, *_ENGINE_ERRORS) as exc:
        raise SandboxUnavailable(
            f"no Docker engine reachable: {exc}; start dockerd or use --sandbox local"
        ) from exc
    return client


def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, retried on a transient engine fault (``ENGINE_ATTEMPTS`` tries).

    Only for calls that are safe to repeat (inspecting, creating an exec that has not started,
    pinging). Transient: a dropped connection, a read timeout or a 5xx answer; a 4xx answer
    (e.g. ``NotFound``) is an answer, raised at once. The last fault is raised as it is.
    """
    for attempt in range(1, ENGINE_ATTEMPTS + 1):
        try:
            return fn(*args, **kwargs)
        except docker.errors.APIError as exc:
            if not exc.is_server_error() or attempt == ENGINE_ATTEMPTS:
                raise
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout, OSError):
            if attempt == ENGINE_ATTEMPTS:
                raise
        time.sleep(ENGINE_RETRY_S * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def docker_available() -> tuple[bool, str]:
    """(True, engine version) when an engine answers; (False, reason) otherwise."""
    try:
        client = docker.from_env(timeout=10)
        version = _call(client.version)
    except (docker.errors.DockerException, *_ENGINE_ERRORS) as exc:
        return False, f"no Docker engine reachable: {exc}"
    return True, f"Docker {version.get('Version', '?')} (API {version.get('ApiVersion', '?')})"


def base_image_available(tag: str = BASE_IMAGE) -> bool:
    """True when the base image exists locally."""
    try:
        _call(_client(30).images.get, tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def available_pythons(tag: str = BASE_IMAGE) -> list[str]:
    """Python versions the sandbox can grade with (the base image's); empty without an image."""
    try:
        image = _call(_client(30).images.get, tag)
    except docker.errors.ImageNotFound:
        return []
    version = (image.labels or {}).get("repograder.python")
    return [version] if version else []


class RunLock:
    """Marks a run as live while its process holds an ``flock`` on ``<cache>/runs/<id>.lock``.

    The lock's path is a label on every container of the run, so ``sandbox clean`` (with any
    cache folder) can tell a live run from a crashed one: the kernel drops the lock when the
    process ends, however it ends.
    """

    def __init__(self, cache_dir: Path, run_id: str) -> None:
        folder = cache_dir / "runs"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{run_id}.lock"
        self._handle: IO[str] | None = open(self.path, "a")  # noqa: SIM115
        # Shared: two sandboxes of one run id (tests, a resumed run) may both hold it.
        fcntl.flock(self._handle, fcntl.LOCK_SH)

    def release(self, *, unlink: bool = True) -> None:
        """Drop the lock (and, at a normal end, its file). Idempotent."""
        if self._handle is not None:
            if unlink:
                with contextlib.suppress(OSError):
                    self.path.unlink()
            self._handle.close()
            self._handle = None

    @staticmethod
    def labels(path: Path) -> dict[str, str]:
        """Container labels naming the lock and, as a fallback, the process holding it."""
        return {
            "repograder.lock": str(path),
            "repograder.host": socket.gethostname(),
            "repograder.pid": str(os.getpid()),
        }


def run_is_live(labels: dict[str, str]) -> bool:
    """Whether the run that labelled a container (see :class:`RunLock`) is still going on.

    A lock file that exists tells for sure (held: live). When it is gone (a clean-up removed
    the run's cache folder) the run counts as live while its process exists on this host, and
    a run from another host (a shared engine) always counts as live: nothing here can tell.
    """
    lock_path = labels.get("repograder.lock", "")
    if not lock_path:
        return False  # a container of an older repograder: no run to ask
    try:
        handle = open(lock_path)  # noqa: SIM115
    except OSError:
        if labels.get("repograder.host") != socket.gethostname():
            return True
        pid = labels.get("repograder.pid", "")
        return pid.isdigit() and _process_exists(int(pid))
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class CleanOutcome:
    """What ``sandbox clean`` did: containers removed and kept, as ``name (run id)`` lines."""

    removed: tuple[str, ...]
    kept_live: tuple[str, ...]


def clean_leftovers(run_id: str | None = None, *, include_live: bool = False) -> CleanOutcome:
    """Force-remove repograder containers (of one run, or all) whose run is no longer live.

    Containers of a run still going on (its :class:`RunLock` is held) are kept unless
    ``include_live``. Raises SandboxUnavailable without an engine.
    """
    labels = ["repograder=1"] + ([f"repograder.run={run_id}"] if run_id else [])
    client = _client(60)
    removed: list[str] = []
    kept: list[str] = []
    ended_locks: set[Path] = set()
    for container in _call(client.containers.list, all=True, filters={"label": labels}):
        tags = container.labels or {}
        shown = f"{container.name} (run {tags.get('repograder.run', '?')})"
        if not include_live and run_is_live(tags):
            kept.append(shown)
            continue
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
            removed.append(shown)
        lock = Path(tags.get("repograder.lock", ""))
        if lock.name == f"{tags.get('repograder.run')}.lock" and lock.parent.name == "runs":
            ended_locks.add(lock)
    for lock in ended_locks:  # a killed run's lock file; never one a live run holds
        if not run_is_live({"repograder.lock": str(lock)}):
            with contextlib.suppress(OSError):
                lock.unlink()
    return CleanOutcome(tuple(removed), tuple(kept))


def clean_containers(run_id: str | None = None) -> int:
    """Force-remove the containers of ended repograder runs (of one run, or all); how many."""
    return len(clean_leftovers(run_id).removed)


# ---------------------------------------------------------------------------- base image


def _uv_binary() -> Path:
    try:
        from uv import find_uv_bin

        return Path(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if not found:
            raise InfrastructureError("the uv binary is needed to build the base image") from None
        return Path(found)


def _build_dockerfile(
    client: Any, dockerfile: str, tag: str, python: str, log: Callable[[str], None]
) -> None:
    if not (_SANDBOX_DIR / dockerfile).is_file():
        raise InfrastructureError(f"{_SANDBOX_DIR / dockerfile} is missing (repograder checkout?)")
    with tempfile.TemporaryDirectory(prefix="repograder-base-") as tmp:
        ctx = Path(tmp)
        shutil.copy2(_SANDBOX_DIR / dockerfile, ctx / dockerfile)
        shutil.copy2(_SANDBOX_DIR / "layout.sh", ctx / "layout.sh")
        shutil.copy2(_uv_binary(), ctx / "uv")
        stream = client.api.build(
            path=str(ctx),
            dockerfile=dockerfile,
            tag=tag,
            buildargs={"PYTHON_VERSION": python},
            rm=True,
            forcerm=True,
            decode=True,
        )
        for chunk in stream:
            if "stream" in chunk and chunk["stream"].strip():
                log(chunk["stream"].rstrip())
            if "error" in chunk:
                raise InfrastructureError(f"building {tag} failed: {chunk['error'].strip()}")


def build_base_image(
    *,
    offline: bool | None = None,
    python: str = "3.11",
    force: bool = False,
    log: Callable[[str], None] = print,
) -> str:
    """Build the sandbox base image (online from python:<v>-slim, or offline with debootstrap)."""
    tag = f"repograder-base:py{python}"
    client = _client(600)
    if not force:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.get(tag)
            log(f"{tag} exists (use --force to rebuild)")
            return tag
    if offline is None:
        offline = not _registry_image(client, f"python:{python}-slim", log)
    if not offline:
        log(f"building {tag} from python:{python}-slim")
        _build_dockerfile(client, "Dockerfile.base", tag, python, log)
        return tag
    if python != "3.11":
        raise InfrastructureError("the offline base image has Python 3.11 only (Debian 12)")
    have_rootfs = not force and _image_present(client, ROOTFS_IMAGE)
    if have_rootfs:
        log(f"{ROOTFS_IMAGE} exists; reusing it")
    else:
        log(f"bootstrapping {ROOTFS_IMAGE} with debootstrap (about a minute)")
        proc = subprocess.Popen(
            ["bash", str(_SANDBOX_DIR / "bootstrap-offline.sh"), ROOTFS_IMAGE],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        for count, line in enumerate(proc.stdout):
            # debootstrap prints hundreds of lines: show ours and every 50th.
            if line.startswith("[bootstrap]") or count % 50 == 0:
                log(line.rstrip())
        if proc.wait() != 0:
            raise InfrastructureError("bootstrap-offline.sh failed; see the output above")
    log(f"building {tag} from {ROOTFS_IMAGE}")
    _build_dockerfile(client, "Dockerfile.offline", tag, python, log)
    return tag


def _image_present(client: Any, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def _registry_image(client: Any, image: str, log: Callable[[str], None]) -> bool:
    """True when ``image`` is local or can be pulled; logs why the offline path is taken."""
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(image)
        return True
    try:
        quick = docker.from_env(timeout=60)
        quick.images.pull(image)
        return True
    except (docker.errors.DockerException, *_ENGINE_ERRORS) as exc:
        log(f"no registry reachable ({str(exc).splitlines()[0][:160]}): building offline")
        return False


# ---------------------------------------------------------------------------- builds


@contextlib.contextmanager
def _hash_lock(cache_dir: Path, content_hash: str) -> Iterator[None]:
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


def _touch_used(cache_dir: Path, content_hash: str) -> None:
    """Record that an environment image was used now (Docker keeps no last-use time)."""
    folder = cache_dir / USED_DIR
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{content_hash}.used").touch()


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


@dataclass(frozen=True)
class _Attempt:
    """How one build container ended; ``retry``: build again from source, without the cache."""

    ok: bool
    summary: str
    excerpt: str = ""
    notes: tuple[str, ...] = ()
    retry: bool = False


class DockerSandbox:
    """Sandbox backend on a local Docker engine; see the module docstring."""

    name = "docker"
    isolates = True

    def __init__(
        self,
        run_id: str,
        cache_dir: Path,
        *,
        base_image: str = BASE_IMAGE,
        build_timeout_s: float = 1800,
        host: HostSettings | None = None,
        log: Callable[[str], None] | None = None,
        common: Sequence[str] = (),
        common_apt: Sequence[str] = (),
        warmup: Sequence[str] = (),
        relax_pins: bool = True,
    ) -> None:
        self.run_id = run_id
        # After a failed build, retry once with the blamed exact pins moved to the nearest
        # installable version (rubric: env-build.params.relax_pins).
        self.relax_pins = relax_pins
        self.cache_dir = cache_dir
        self.base_image = base_image
        self.build_timeout_s = build_timeout_s
        self.host = host if host is not None else detect_host_settings()
        self._log = log or (lambda _msg: None)
        self._client = _client()
        # Committing a layer or copying a large context can take minutes: its own client.
        self._slow_client = docker.from_env(timeout=SLOW_CALL_TIMEOUT_S)
        self._run_lock = RunLock(cache_dir, run_id)
        self._containers: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.builds_run = 0  # how many images this sandbox actually built (tests, stats)
        try:
            base = _call(self._client.images.get, base_image)
        except docker.errors.ImageNotFound:
            self._run_lock.release()
            raise SandboxUnavailable(
                f"sandbox base image {base_image} is missing; run `repograder sandbox build`"
            ) from None
        self._base_id: str = base.id
        self._python: str = (base.labels or {}).get("repograder.python", "3.11")
        self._cpu_wheels = local_cpu_wheels(self.host.find_links)
        # The shared layer is planned now (its hash is part of `identity`) and built lazily by
        # the first group that needs it.
        self._common_plan: buildplan.BuildPlan | None = None
        self._layer_inferred = False
        if any(r.strip() for r in (*common, *common_apt)):
            # The lecturer's own list: installed as resolved, without the newer-sdist probe.
            self._common_plan = self._plan_layer(common, common_apt, warmup, trusted=True)
        self._common: tuple[str, str] | None = None  # (tag, image id) once built
        self._common_error: str | None = None
        atexit.register(self.close)

    def _plan_layer(
        self,
        common: Sequence[str],
        apt: Sequence[str],
        warmup: Sequence[str],
        *,
        trusted: bool,
    ) -> buildplan.BuildPlan:
        spec, _note = with_system_libraries(buildplan.common_spec(tuple(common), tuple(apt)))
        plan = buildplan.make_plan(
            spec,
            self.cache_dir,
            base_image_id=self._base_id,
            python_version=self._python,
            host=self.host,
            cpu_wheels=self._cpu_wheels,
            warmup=tuple(warmup),
        )
        return dataclasses.replace(plan, trusted=trusted)

    @property
    def layer_declared(self) -> bool:
        """True when the rubric named the shared layer (an inferred one must not replace it)."""
        return self._common_plan is not None and not self._layer_inferred

    def use_inferred_layer(
        self, common: Sequence[str], apt: Sequence[str] = (), warmup: Sequence[str] = ()
    ) -> str | None:
        """Adopt a shared layer inferred from the course (``layerplan``); call before any build.

        Built like a declared layer (wheels only, no newer-sdist probe): the probe gives false
        alarms on a whole stack (numpy, scipy and contourpy "newer only as sdist" although the
        unrestricted install picks the same versions), and the retry rebuilds the layer
        without the shared cache, minutes for nothing; each group's own build still probes
        the packages it does not take from the layer. A declared layer wins (nothing
        changes). Returns the layer's tag, None when empty.
        ``identity`` does not change (it may already be in cache keys): a group's environment
        is its own lock whatever layer it sits on, so results stay cached when another
        group's push changes the shared layer.
        """
        if self.layer_declared:
            return self.common_tag
        with self._lock:
            if self._common is not None or self._common_error is not None:
                return self.common_tag  # already built: too late to change
            if not any(r.strip() for r in (*common, *apt)):
                self._common_plan = None
                return None
            self._common_plan = self._plan_layer(common, apt, warmup, trusted=True)
            self._layer_inferred = True
        return self.common_tag

    @property
    def identity(self) -> str:
        """Stable text naming what grades a group: base image and shared layer (cache keys)."""
        # An inferred layer is not part of it: it is decided while groups already look up
        # their cached results, and it never changes a verdict (see use_inferred_layer).
        declared = self._common_plan if self.layer_declared else None
        common = declared.content_hash[:24] if declared else "-"
        return f"docker:{self._base_id}:{common}"

    @property
    def common_tag(self) -> str | None:
        """Tag of the shared layer image (whether built yet or not); None without one."""
        if self._common_plan is None:
            return None
        return f"{ENV_REPO}:{COMMON_PREFIX}{self._common_plan.content_hash[:24]}"

    def _ensure_common(self) -> tuple[str, str] | None:
        """(tag, id) of the shared layer, built once; None (and a note) when it failed."""
        plan = self._common_plan
        tag = self.common_tag
        if plan is None or tag is None:
            return None
        with _hash_lock(self.cache_dir, plan.content_hash):
            if self._common is not None or self._common_error is not None:
                return self._common
            log_dir = self.cache_dir / "logs"
            log_dir.mkdir(parents=True, exist_ok=True)
            log_path = log_dir / f"common-{plan.content_hash[:24]}.log"
            if not self._image_exists(tag):
                self._log(f"building the shared layer {tag} ({len(plan.requirements)} packages)")
                began = time.monotonic()
                ok, summary, _excerpt, _notes = self._build(
                    plan, tag, log_path, self.base_image, layer="common"
                )
                if not ok:
                    self._common_error = f"{summary} (log: {log_path})"
                    self._log(f"the shared layer failed to build: {self._common_error}")
                    return None
                # benchmarks/grade_bench.py reads this line for its per-phase breakdown.
                self._log(f"built the shared layer {tag} in {time.monotonic() - began:.1f} s")
            self._common = (tag, _call(self._client.images.get, tag).id)
            _touch_used(self.cache_dir, plan.content_hash)
            return self._common

    def alive(self) -> bool:
        """True when the engine still answers (after retries): a failed call was a hiccup."""
        try:
            _call(self._client.ping)
        except _ENGINE_ERRORS:
            return False
        return True

    def _labels(self, content_hash: str = "") -> dict[str, str]:
        labels = {
            "repograder": "1",
            "repograder.run": self.run_id,
            **RunLock.labels(self._run_lock.path),
        }
        if content_hash:
            labels["repograder.hash"] = content_hash
        return labels

    def _track(self, container: Any) -> None:
        with self._lock:
            closed = self._closed
            if not closed:
                self._containers[container.id] = container
        if closed:
            # A worker that was still starting when the run stopped: nothing may outlive it.
            with contextlib.suppress(docker.errors.NotFound, *_ENGINE_ERRORS):
                container.remove(force=True)
            raise InfrastructureError("the sandbox was closed: the run is stopping")

    def _untrack_remove(self, container: Any) -> None:
        with self._lock:
            self._containers.pop(container.id, None)
        with contextlib.suppress(docker.errors.NotFound, *_ENGINE_ERRORS):
            container.remove(force=True)

    def prepare(self, spec: EnvSpec, checkout: Path, log_dir: Path) -> BuildResult:
        """Build (or reuse) the image for ``spec``: a failed build is a result, not an error.

        When the build fails on exact pins that have no installable distribution here, a second
        build moves only those pins to the nearest installable version (see :meth:`_relax`).
        """
        first = self._prepare(spec, checkout, log_dir, "build.log")
        if first.ok or not self.relax_pins:
            return first
        return self._relax(spec, checkout, log_dir, first)

    def _relax(
        self, spec: EnvSpec, checkout: Path, log_dir: Path, first: BuildResult
    ) -> BuildResult:
        """The second attempt: offending pins -> nearest installable versions, then rebuild."""
        text = ""
        if first.log_path is not None:
            with contextlib.suppress(OSError):
                text = first.log_path.read_text(encoding="utf-8", errors="replace")[-2_000_000:]
        pins = buildplan.offending_pins(text or first.log_excerpt, spec.requirements)
        if not pins:
            return first
        start = time.monotonic()
        common = self._ensure_common()
        parent = common[0] if common is not None else self.base_image
        probe_log = log_dir / "relax.log"
        with open(probe_log, "w", encoding="utf-8", errors="replace") as log:
            log.write(f"[repograder] looking for installable versions of: {pins}\n")
            nearest = self._nearest(parent, pins, log)
        named = ", ".join(f"{p.line} ({p.why})" for p in pins)
        if not nearest:
            note = f"no installable version was found near {named}; nothing was relaxed"
            return dataclasses.replace(first, notes=(*first.notes, note))
        relaxed_spec = dataclasses.replace(
            spec,
            requirements=tuple(
                buildplan.relax_line(r, nearest[r]) if r in nearest else r
                for r in spec.requirements
            ),
        )
        second = self._prepare(relaxed_spec, checkout, log_dir, "build-relaxed.log")
        changes = tuple(
            f"{p.line} → {nearest[p.line]} ({p.why})" for p in pins if p.line in nearest
        )
        if not second.ok:
            note = f"a second attempt with {'; '.join(changes)} failed too: {second.summary}"
            return dataclasses.replace(first, notes=(*first.notes, note))
        short = ", ".join(c.split(" (", 1)[0] for c in changes)
        return dataclasses.replace(
            second,
            summary=f"built after relaxing: {short}",
            duration_s=first.duration_s + (time.monotonic() - start),
            relaxed=changes,
            notes=(*second.notes, f"the first attempt failed: {first.summary} (build.log)"),
        )

    def _nearest(self, parent: str, pins: list[buildplan.Pin], log: Any) -> dict[str, str]:
        """{pinned line: nearest version with a wheel for this image}, asked of the index."""
        script = buildplan.nearest_script(pins, uv_index_args(self.host))
        try:
            container = self._client.containers.run(
                parent,
                ["sleep", "infinity"],
                detach=True,
                user="0:0",
                init=True,
                labels=self._labels(),
                mounts=self._build_mounts(shared_cache=False),
                mem_limit=BUILD_MEMORY,
                memswap_limit=BUILD_MEMORY,
                pids_limit=512,
                security_opt=["no-new-privileges"],
                cap_drop=["ALL"],
            )
        except _ENGINE_ERRORS as exc:
            raise InfrastructureError(f"the Docker engine failed to start a probe: {exc}") from exc
        self._track(container)
        env = {
            **container_env(self.host),
            "UV_NO_CONFIG": "1",
            "UV_NO_PROGRESS": "1",
            "UV_CACHE_DIR": buildplan.PRIVATE_UV_CACHE,
            "HOME": "/home/student",
        }
        try:
            deadline = time.monotonic() + min(self.build_timeout_s, 600)
            code, text = self._stream_exec(
                container, ["bash", "-c", script], STUDENT, env, log, deadline
            )
        finally:
            self._untrack_remove(container)
        if code is None:
            return {}
        return buildplan.parse_nearest(text, pins)

    def _prepare(self, spec: EnvSpec, checkout: Path, log_dir: Path, log_name: str) -> BuildResult:
        """One build (or reuse) of ``spec``, logged to ``log_dir/log_name``."""
        start = time.monotonic()
        common = self._ensure_common()
        parent_tag, parent_id = common if common is not None else (self.base_image, self._base_id)
        layer_apt = self._common_plan.apt_packages if common and self._common_plan else ()
        spec, syslib_note = with_system_libraries(spec, layer_apt)
        plan = buildplan.make_plan(
            spec,
            checkout,
            base_image_id=parent_id,
            python_version=self._python,
            host=self.host,
            cpu_wheels=self._cpu_wheels,
            layered=common is not None,
        )
        if syslib_note:
            plan = dataclasses.replace(plan, notes=(*plan.notes, syslib_note))
        if self._common_error is not None:
            note = f"no shared layer (it did not build): {self._common_error}"
            plan = dataclasses.replace(plan, notes=(*plan.notes, note))
        tag = f"{ENV_REPO}:{plan.content_hash[:24]}"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / log_name
        with _hash_lock(self.cache_dir, plan.content_hash):
            _touch_used(self.cache_dir, plan.content_hash)
            if self._image_exists(tag):
                log_path.write_text(f"reused image {tag} (same dependencies)\n", encoding="utf-8")
                return BuildResult(
                    ok=True,
                    backend=self.name,
                    image=tag,
                    reused=True,
                    content_hash=plan.content_hash,
                    duration_s=time.monotonic() - start,
                    summary=f"reused the environment image {tag}",
                    log_path=log_path,
                    python_version=plan.python_version,
                    notes=plan.notes,
                )
            ok, summary, excerpt, extra = self._build(plan, tag, log_path, parent_tag)
        return BuildResult(
            ok=ok,
            backend=self.name,
            image=tag if ok else None,
            reused=False,
            content_hash=plan.content_hash,
            duration_s=time.monotonic() - start,
            summary=summary,
            log_path=log_path,
            log_excerpt=excerpt,
            python_version=plan.python_version,
            notes=plan.notes + extra,
        )

    def _image_exists(self, tag: str) -> bool:
        try:
            _call(self._client.images.get, tag)
        except docker.errors.ImageNotFound:
            return False
        except _ENGINE_ERRORS as exc:
            raise InfrastructureError(f"the Docker engine failed: {exc}") from exc
        return True

    def _build(
        self,
        plan: buildplan.BuildPlan,
        tag: str,
        log_path: Path,
        parent: str,
        layer: str = "group",
    ) -> tuple[bool, str, str, tuple[str, ...]]:
        """Build ``tag``: wheels only with the shared cache, else from source without it."""
        self.builds_run += 1
        deadline = time.monotonic() + self.build_timeout_s
        with open(log_path, "w", encoding="utf-8", errors="replace") as log:
            log.write(f"[repograder] building {tag} on {parent}\n")
            outcome = self._attempt(plan, tag, parent, layer, log, deadline, shared_cache=True)
            if outcome.retry:
                log.write(
                    "[repograder] building from source in a new container, without the shared "
                    "package cache (student build code never sees it)\n"
                )
                outcome = self._attempt(plan, tag, parent, layer, log, deadline, shared_cache=False)
                outcome = dataclasses.replace(outcome, notes=(*outcome.notes, SOURCE_BUILD_NOTE))
        if not outcome.ok:
            return False, outcome.summary, outcome.excerpt, outcome.notes
        packages = len(plan.requirements) + len(plan.build_requires)
        return True, f"built {tag} ({packages} requirements)", "", outcome.notes

    def _build_mounts(self, *, shared_cache: bool) -> list[Any]:
        """Mounts of a build container: host files read-only; the uv cache only when asked."""
        # Mounts (not `volumes=`): they stay out of the container's Config, so the committed
        # image declares no volumes.
        mounts: list[Any] = []
        if shared_cache:
            mounts.append(docker.types.Mount(UV_CACHE_MOUNT, UV_CACHE_VOLUME, type="volume"))
        if self.host.ca_bundle is not None:
            mounts.append(
                docker.types.Mount(
                    CONTAINER_CA_PATH, str(self.host.ca_bundle), type="bind", read_only=True
                )
            )
        for mount in self.host.mounts:
            mounts.append(
                docker.types.Mount(mount.target, str(mount.source), type="bind", read_only=True)
            )
        return mounts

    def _attempt(
        self,
        plan: buildplan.BuildPlan,
        tag: str,
        parent: str,
        layer: str,
        log: Any,
        deadline: float,
        *,
        shared_cache: bool,
    ) -> _Attempt:
        """One build container. With ``shared_cache`` root installs wheels only (``--no-build``)
        into the venv while the cache belongs to root (0700), then hands the venv to uid 1000;
        without it everything runs as uid 1000 with a private uv cache."""
        if plan.apt_packages:
            caps: dict[str, Any] = {"cap_drop": None}
        elif shared_cache:
            # Root writes the student-owned venv and chowns the cache and the new files.
            caps = {"cap_drop": ["ALL"], "cap_add": ["CHOWN", "DAC_OVERRIDE", "FOWNER"]}
        else:
            caps = {"cap_drop": ["ALL"]}
        try:
            container = self._client.containers.run(
                parent,
                ["sleep", "infinity"],
                detach=True,
                user="0:0",
                init=True,
                labels=self._labels(plan.content_hash),
                mounts=self._build_mounts(shared_cache=shared_cache),
                mem_limit=BUILD_MEMORY,
                memswap_limit=BUILD_MEMORY,
                pids_limit=2048,
                security_opt=["no-new-privileges"],
                **caps,
            )
        except _ENGINE_ERRORS as exc:
            raise InfrastructureError(f"the Docker engine failed to start a build: {exc}") from exc
        self._track(container)
        notes: list[str] = []
        timeout = _Attempt(False, f"the build timed out after {self.build_timeout_s:.0f} s")

        def failed(code: int | None, text: str) -> _Attempt:
            if code is None:
                log.write(f"\n[repograder] build timed out after {self.build_timeout_s:.0f} s\n")
                return dataclasses.replace(timeout, excerpt=text[-4000:], notes=tuple(notes))
            summary, excerpt = buildplan.summarize_log(text)
            return _Attempt(False, summary, excerpt, tuple(notes))

        try:
            context = _wrap_dir("rg-build", buildplan.context_tar(plan, self.host))
            self._slow_client.containers.get(container.id).put_archive("/tmp", context)  # noqa: S108
            if plan.apt_packages:
                notes += self._apt(container, plan.apt_packages, log, deadline)
            env = {
                **container_env(self.host),
                # A student's uv.toml / [tool.uv] could redirect installs (target, indexes).
                "UV_NO_CONFIG": "1",
                # Bytecode is compiled by layer.py as uid 1000: compiling starts the venv's
                # python, which runs the new packages' .pth files.
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
                code, text = self._stream_exec(
                    container,
                    ["sh", "-c", f"chown 0:0 {UV_CACHE_MOUNT} && chmod 0700 {UV_CACHE_MOUNT}"],
                    "0:0",
                    {},
                    log,
                    deadline,
                )
                if code is None:
                    return failed(code, text)
                if code != 0:
                    # Never hand the cache to a build that could not lock it: go private.
                    log.write("[repograder] could not make the shared uv cache root-only\n")
                    return _Attempt(False, "", retry=True)
                code, text = self._stream_exec(
                    container,
                    ["bash", f"{buildplan.BUILD_DIR}/{buildplan.WHEELS_SCRIPT}", "install"],
                    "0:0",
                    {**env, "UV_CACHE_DIR": UV_CACHE_MOUNT, "HOME": "/root"},
                    log,
                    deadline,
                )
                if code == buildplan.NEEDS_BUILD:
                    return _Attempt(False, "", retry=True)
                if code != 0:
                    return failed(code, text)
                handover = (
                    f"chown -R 1000:1000 {buildplan.STATE_DIR} && "
                    "find /opt/venv -xdev -uid 0 -exec chown -h 1000:1000 {} +"
                )
                code, text = self._stream_exec(
                    container, ["sh", "-c", handover], "0:0", {}, log, deadline
                )
                if code != 0:
                    return failed(code, text)
                command = ["bash", f"{buildplan.BUILD_DIR}/{buildplan.WHEELS_SCRIPT}", "finish"]
            else:
                command = ["bash", f"{buildplan.BUILD_DIR}/install.sh"]
            code, text = self._stream_exec(container, command, STUDENT, student_env, log, deadline)
            if code != 0:
                return failed(code, text)
            scratch = f"{buildplan.PRIVATE_UV_CACHE} {buildplan.STATE_DIR}"
            container.exec_run(
                ["sh", "-c", f"chmod -R u+w {scratch} 2>/dev/null; rm -rf {scratch}"],
                user=STUDENT,
            )
            container.exec_run(["rm", "-rf", buildplan.BUILD_DIR], user="0:0")
            self._slow_client.containers.get(container.id).commit(
                repository=ENV_REPO,
                tag=tag.split(":", 1)[1],
                changes=[
                    "LABEL repograder=1",
                    f"LABEL repograder.hash={plan.content_hash}",
                    f"LABEL repograder.install_project={int(plan.install_project)}",
                    f"LABEL repograder.python={plan.python_version}",
                    f"LABEL repograder.layer={layer}",
                    *([f"ENV NUMBA_CACHE_DIR={buildplan.NUMBA_CACHE}"] if plan.warmup else []),
                ],
            )
            log.write(f"[repograder] committed {tag}\n")
        except _ENGINE_ERRORS as exc:
            if time.monotonic() >= deadline:
                return dataclasses.replace(timeout, notes=tuple(notes))
            raise InfrastructureError(f"the Docker engine failed during a build: {exc}") from exc
        finally:
            self._untrack_remove(container)
        return _Attempt(True, "", notes=tuple(notes))

    def _apt(
        self, container: Any, packages: tuple[str, ...], log: Any, deadline: float
    ) -> list[str]:
        safe = [
            p for p in packages if p.replace("-", "").replace(".", "").replace("+", "").isalnum()
        ]
        script = (
            "export DEBIAN_FRONTEND=noninteractive; apt-get update -q || exit 90; "
            "apt-get install -y -q --no-install-recommends " + shlex.join(safe) + "; "
            "rc=$?; rm -rf /var/lib/apt/lists/*; exit $rc"
        )
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        code, text = self._stream_exec(container, ["bash", "-c", script], "0:0", env, log, deadline)
        if code == 0:
            return [f"apt packages installed: {' '.join(safe)}"]
        if code == 90:
            return ["apt packages NOT installed (no Debian mirror reachable): " + " ".join(safe)]
        summary, _ = buildplan.summarize_log(text)
        return [f"apt packages NOT installed ({summary}): " + " ".join(safe)]

    def _stream_exec(
        self,
        container: Any,
        cmd: list[str],
        user: str,
        env: dict[str, str],
        log: Any,
        deadline: float,
    ) -> tuple[int | None, str]:
        """Run ``cmd``, copying output to ``log``; (None, text) when the deadline passes."""
        api = self._client.api
        exec_id = _call(api.exec_create, container.id, cmd, user=user, environment=env)["Id"]
        sock = api.exec_start(exec_id, socket=True)
        kept: list[str] = []
        size = 0
        done = threading.Event()
        started = time.monotonic()

        def pump() -> None:
            nonlocal size
            try:
                # No read timeout: a build may be quiet for minutes (compiling); the deadline
                # below ends it.
                for _stream, chunk in _frames(sock, None):
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
            except _ENGINE_ERRORS:
                pass
            finally:
                done.set()

        thread = threading.Thread(target=pump, daemon=True)
        thread.start()
        if not done.wait(max(deadline - time.monotonic(), 0)):
            with contextlib.suppress(*_ENGINE_ERRORS):
                container.kill()
            done.wait(10)
            return None, "".join(kept)
        code = _exit_code(api, exec_id)
        return (int(code) if code is not None else 1), "".join(kept)

    def open_session(self, build: BuildResult, checkout: Path, limits: Limits) -> DockerSession:
        """Start the group's session container on a tmpfs copy of ``checkout``."""
        if not build.ok or not build.image:
            raise ValueError("open_session needs a successful build")
        size = f"size={limits.disk_mb}m"
        tmpfs = {
            "/work": f"rw,nosuid,nodev,exec,{size},uid=1000,gid=1000,mode=0755",
            "/tmp": f"rw,nosuid,nodev,exec,{size},mode=1777",  # noqa: S108
            "/home/student": f"rw,nosuid,nodev,exec,{size},uid=1000,gid=1000,mode=0755",
        }
        try:
            image = self._client.images.get(build.image)
            container = self._client.containers.run(
                build.image,
                ["sleep", "infinity"],
                detach=True,
                # The idle main process is root without capabilities, so a student's
                # `kill -1` cannot end the session; every command runs as uid 1000.
                user="0:0",
                init=True,
                network_mode="bridge" if limits.network else "none",
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                mem_limit=f"{limits.memory_mb}m",
                memswap_limit=f"{limits.memory_mb}m",
                nano_cpus=int(limits.cpus * 1e9),
                pids_limit=limits.pids,
                read_only=True,
                tmpfs=tmpfs,
                working_dir="/work",
                labels=self._labels(build.content_hash),
            )
        except _ENGINE_ERRORS as exc:
            raise InfrastructureError(
                f"the Docker engine failed to start a session: {exc}"
            ) from exc
        self._track(container)
        session = DockerSession(self, container, limits)
        try:
            session.start(
                checkout,
                install_project=(image.labels or {}).get("repograder.install_project") == "1",
            )
        except BaseException:
            session.close()
            raise
        return session

    def close(self) -> None:
        """Force-remove every container this sandbox started, and any it starts later."""
        with self._lock:
            self._closed = True
            containers = list(self._containers.values())
            self._containers.clear()
        for container in containers:
            with contextlib.suppress(docker.errors.NotFound, *_ENGINE_ERRORS):
                container.remove(force=True)
        self._run_lock.release()


def _wrap_dir(name: str, tar_bytes: bytes) -> bytes:
    """Re-root a tar under ``name/`` (put_archive extracts into an existing folder)."""
    import io
    import tarfile

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


# ---------------------------------------------------------------------------- sessions


class DockerSession:
    """One group's shell session in its own container (implements ``base.Session``)."""

    def __init__(self, sandbox: DockerSandbox, container: Any, limits: Limits) -> None:
        self._sandbox = sandbox
        self._container = container
        self._api = sandbox._client.api
        self.limits = limits
        self.notes: tuple[str, ...] = ()
        self.setup_result: ExecResult | None = None
        self._closed = False
        # Set when student processes could not be ended: nothing runs in the session any more
        # (no later verdict could be trusted), and each later action says why. Student data.
        self._stuck: str | None = None
        self._capture = (
            resources.files("repograder.sandbox").joinpath("templates/capture.py").read_text()
        )

    def start(self, checkout: Path, *, install_project: bool) -> None:
        """Copy the checkout into /work and install the project when the build asked for it."""
        code, _ = self._exec(["/bin/mkdir", "-p", "-m", "700", STATE_DIR], 4096)
        if code != 0:
            raise InfrastructureError("could not prepare the session container")
        # Caches the shared layer's warm-up filled (numba JIT, matplotlib fonts) need a
        # writable home: copy them into the tmpfs one (a few MB).
        warm = buildplan.WARM_HOME
        self._exec(
            ["/bin/sh", "-c", f"[ -d {warm} ] && /bin/cp -a {warm}/. /home/student/ || true"], 4096
        )
        with tempfile.TemporaryFile() as tar_file:
            self.notes = tuple(
                buildplan.checkout_tar(checkout, tar_file, self.limits.disk_mb << 20)
            )
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

    def _exec(
        self,
        cmd: list[str],
        max_bytes: int,
        user: str = STUDENT,
        read_timeout_s: float | None = SHORT_EXEC_TIMEOUT_S,
        *,
        workdir: str | None = None,
        environment: list[str] | None = GRADER_ENV,
    ) -> tuple[int | None, bytes]:
        """Run ``cmd`` and read at most ``max_bytes`` of its stdout (stderr dropped).

        ``cmd[0]`` must be an absolute path: the grader's own commands run with
        :data:`GRADER_ENV` (no student-writable PATH entry), never the student's shell state;
        ``environment=None`` keeps the image's environment (for the student's steps).
        ``read_timeout_s``: how long the output may stay quiet (None: no limit; the caller
        bounds the command's time itself).
        """
        try:
            exec_id = _call(
                self._api.exec_create,
                self._container.id,
                cmd,
                user=user,
                stderr=False,
                environment=environment,
                workdir=workdir,
            )["Id"]
            sock = self._api.exec_start(exec_id, socket=True)
            data = _read_frames(sock, max_bytes, read_timeout_s)
            code = _exit_code(self._api, exec_id)
        except _ENGINE_ERRORS as exc:
            raise InfrastructureError(f"the Docker engine failed during a session: {exc}") from exc
        return code, data

    def _exec_stdin(self, cmd: list[str], data: Any) -> tuple[int | None, str]:
        try:
            exec_id = _call(
                self._api.exec_create,
                self._container.id,
                cmd,
                user=STUDENT,
                stdin=True,
                environment=GRADER_ENV,
            )["Id"]
            sock = self._api.exec_start(exec_id, socket=True)
            raw = sock._sock
            raw.settimeout(SLOW_CALL_TIMEOUT_S)
            while chunk := data.read(1 << 20):
                raw.sendall(chunk)
            raw.shutdown(socket.SHUT_WR)
            out = _read_frames(sock, 64 * 1024, SLOW_CALL_TIMEOUT_S)
            code = _exit_code(self._api, exec_id)
        except _ENGINE_ERRORS as exc:
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
        parsed = _parse_capture(raw, code, wall)
        timed_out = guard_fired or (code == TIMEOUT_EXIT and wall >= timeout)
        return dataclasses.replace(
            parsed,
            exit_code=None if timed_out else code,
            timed_out=timed_out,
            duration_s=wall,
            output_tail="" if guard_fired else parsed.output_tail,
        )

    def run_helper(
        self, script: str, args: Sequence[str], timeout_s: float, max_bytes: int
    ) -> HelperResult:
        """Run the grader's ``script`` as uid 1000 outside the student's shell state.

        ``/opt/venv/bin/python -I -S`` (helpers.HELPER_BOOT: no ``.pth`` file, so nothing from
        the student-writable project prefix is imported), in ``/work``, with GRADER_ENV. No
        student process is alive while it runs: they are ended before and after. The helper's
        result is its stdout (at most ``max_bytes``), read by the host.
        """
        if self._closed:
            raise InfrastructureError("the session is closed")
        self._end_student_processes()
        if self._stuck is not None:
            return HelperResult(None, False, 0.0, b"")
        cmd = [buildplan.VENV_PYTHON, "-I", "-S", "-c", HELPER_BOOT, script, *args]
        code, raw, guard_fired, wall = self._timed_exec(cmd, max_bytes, timeout_s, workdir="/work")
        return HelperResult(None if guard_fired else code, guard_fired, wall, raw)

    def _timed_exec(
        self,
        cmd: list[str],
        max_bytes: int,
        timeout_s: float,
        *,
        workdir: str | None = None,
        environment: list[str] | None = GRADER_ENV,
    ) -> tuple[int | None, bytes, bool, float]:
        """Run ``cmd`` as uid 1000 under a host-side timer; end every student process after.

        Returns (exit code, stdout, whether the host had to stop it, host wall seconds). The
        host stops it ``HOST_GUARD_S`` after ``timeout_s`` if the in-container timer failed.
        """
        start = time.monotonic()
        result: dict[str, Any] = {}
        failure: list[BaseException] = []

        def work() -> None:
            try:
                # No read timeout: a step may print nothing for as long as its own timeout
                # allows; capture.py ends it then, and the join below guards capture.py.
                result["code"], result["raw"] = self._exec(
                    cmd, max_bytes, workdir=workdir, environment=environment, read_timeout_s=None
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
                return
            reason = out.decode("utf-8", "replace").strip()[:200] or f"exit code {code}"
            if attempt + 1 < END_ATTEMPTS:
                time.sleep(END_PAUSE_S)
        self._stuck = f"the student's processes could not be ended ({reason})"

    def _check_alive(self) -> None:
        try:
            _call(self._container.reload)
            running = self._container.status == "running"
        except _ENGINE_ERRORS as exc:
            raise InfrastructureError(f"the Docker engine failed during a session: {exc}") from exc
        if not running:
            raise InfrastructureError(f"the session container stopped ({self._container.status})")

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
        self._sandbox._untrack_remove(self._container)


def _frames(sock: Any, timeout_s: float | None) -> Iterator[tuple[int, bytes]]:
    """(stream id, payload) of a multiplexed exec stream (1 stdout, 2 stderr) until EOF.

    ``timeout_s``: how long the stream may stay quiet before ``socket.timeout`` (an OSError);
    None waits as long as the command runs. The docker SDK's socket otherwise keeps the
    client's 120 s timeout, which would end a quiet step as an engine failure.
    """
    raw = sock._sock
    raw.settimeout(timeout_s)
    buf = bytearray()
    try:
        while True:
            chunk = raw.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 8:
                length = int.from_bytes(buf[4:8], "big")
                if len(buf) < 8 + length:
                    break
                yield buf[0], bytes(buf[8 : 8 + length])
                del buf[: 8 + length]
    finally:
        with contextlib.suppress(OSError):
            sock.close()


def _read_frames(sock: Any, max_bytes: int, timeout_s: float | None) -> bytes:
    """Read a multiplexed exec stream, keeping at most ``max_bytes`` of stdout."""
    out = bytearray()
    for stream, payload in _frames(sock, timeout_s):
        if stream == 1 and len(out) < max_bytes:
            out += payload[: max_bytes - len(out)]
    return bytes(out)


def _exit_code(api: Any, exec_id: str) -> int | None:
    """The exit code of a finished exec; None when it is still running after a short wait.

    The stream's end can reach us a moment before the engine records the exit.
    """
    for _ in range(50):
        info = _call(api.exec_inspect, exec_id)
        if not info.get("Running"):
            code = info.get("ExitCode")
            return None if code is None else int(code)
        time.sleep(0.1)
    return None


def _parse_capture(raw: bytes, exec_code: int | None, wall: float) -> ExecResult:
    """Turn capture.py's JSON line into an ExecResult; a garbled line is a failed step."""
    try:
        data = json.loads(raw.decode("utf-8", errors="replace").strip().splitlines()[-1])
        head = base64.b64decode(data["head"]).decode("utf-8", errors="replace")
        tail = base64.b64decode(data["tail"]).decode("utf-8", errors="replace")
        timed_out = bool(data["timed_out"])
        total = int(data["total"])
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
        duration_s=float(data.get("duration", wall)),
        output_head=head,
        output_tail=tail,
        output_bytes=total,
    )


# ---------------------------------------------------------------------------- cache management


@dataclass(frozen=True)
class ImageInfo:
    """One repograder image as `repograder cache info|prune` sees it."""

    id: str
    tag: str  # first tag ("" when untagged)
    layer: str  # "common", "group", "base" (base and rootfs images)
    content_hash: str
    size: int  # bytes including its parents
    unique_size: int  # bytes no other image shares
    created: float  # epoch seconds
    parent_id: str
    containers: int  # containers using it (running or not)


def list_images() -> list[ImageInfo]:
    """Environment images (``repograder-env``) and base images, with disk use."""
    data = _client(120).df()
    found: list[ImageInfo] = []
    for entry in data.get("Images") or []:
        tags = [t for t in entry.get("RepoTags") or [] if t and t != "<none>:<none>"]
        tag = tags[0] if tags else ""
        labels = entry.get("Labels") or {}
        repo = tag.split(":", 1)[0]
        if repo == ENV_REPO:
            layer = labels.get("repograder.layer") or "group"
        elif repo in (BASE_IMAGE.split(":", 1)[0], ROOTFS_IMAGE.split(":", 1)[0]):
            layer = "base"
        elif not tag and labels.get("repograder.hash"):
            layer = labels.get("repograder.layer") or "group"  # an untagged leftover env
        else:
            continue
        size = int(entry.get("Size") or 0)
        shared = max(int(entry.get("SharedSize") or 0), 0)
        found.append(
            ImageInfo(
                id=str(entry.get("Id", "")),
                tag=tag,
                layer=layer,
                content_hash=labels.get("repograder.hash", ""),
                size=size,
                unique_size=max(size - shared, 0),
                created=float(entry.get("Created") or 0),
                parent_id=str(entry.get("ParentId") or ""),
                containers=max(int(entry.get("Containers") or 0), 0),
            )
        )
    return found


def remove_image(image: ImageInfo) -> str | None:
    """Remove one image (never forced); None on success, else why it was kept."""
    client = _client(120)
    try:
        client.images.remove(image.tag or image.id, force=False, noprune=False)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        # 409: a container or a child image (a group layer on a shared layer) still uses it.
        return str(exc.explanation or exc)[:200]
    return None


def uv_cache_volume_size() -> int | None:
    """Bytes in the shared uv cache volume; None when it does not exist."""
    for volume in _client(120).df().get("Volumes") or []:
        if volume.get("Name") == UV_CACHE_VOLUME:
            return int((volume.get("UsageData") or {}).get("Size") or 0)
    return None


def remove_uv_cache_volume() -> str | None:
    """Remove the shared uv cache volume; None on success, else why it was kept."""
    try:
        _client(120).volumes.get(UV_CACHE_VOLUME).remove()
    except docker.errors.NotFound:
        return None
    except docker.errors.APIError as exc:
        return str(exc.explanation or exc)[:200]
    return None


def live_run_ids() -> set[str]:
    """Run ids that still have repograder containers (those runs' work folders are in use)."""
    containers = _client(60).containers.list(all=True, filters={"label": "repograder=1"})
    return {(c.labels or {}).get("repograder.run", "") for c in containers} - {""}
