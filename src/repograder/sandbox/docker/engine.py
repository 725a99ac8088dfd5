"""The Docker engine behind one small interface: the only module that imports the docker SDK.

Everything else in :mod:`repograder.sandbox.docker` talks to an :class:`Engine`: the real one
(:class:`DockerEngine`, made by :func:`connect`) or a fake in the tests
(``tests/unit/docker_fake.py``). Engine faults never leave this module as SDK exceptions: they
become :class:`EngineError`, an :class:`~repograder.errors.InfrastructureError` whose text is
the SDK's own message and whose ``transient`` flag says whether repeating the call may help
(a dropped connection, a read timeout, a 5xx answer). :func:`retry` repeats such calls.
Shaped after repo2docker's ``engine.py`` (one module owns the engine; see DESIGN.md).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

import docker
import docker.errors
import docker.types
import requests.exceptions

from repograder.errors import InfrastructureError, SandboxUnavailable

ENGINE_ATTEMPTS = 3  # tries of a repeatable engine call before its fault counts
ENGINE_RETRY_S = 1.0  # pause before the 2nd try; 2x before the 3rd
# Long engine calls (committing a GB-sized layer, copying a checkout) get this read timeout
# instead of the client's default 120 s; a quiet stream (a step, a build) gets none: its own
# timeout ends it.
SLOW_CALL_TIMEOUT_S = 3600
DEFAULT_TIMEOUT_S = 120
T = TypeVar("T")


class EngineError(InfrastructureError):
    """The engine failed or did not answer; ``str()`` is the engine's (or socket's) message.

    ``transient``: a dropped connection, a timeout or a 5xx answer (repeating a repeatable call
    may help); a 4xx answer (e.g. no such container) is an answer and not transient.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Mount:
    """A mount of a container: a named volume or a bind of a host path (``source``)."""

    target: str
    source: str
    type: str = "bind"  # "bind" or "volume"
    read_only: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    """Everything the grader asks of a container it starts (detached, running ``command``).

    Sizes are Docker's strings (``"4g"``, ``"256m"``); ``nano_cpus`` is CPUs x 1e9;
    ``tmpfs`` maps a path to its mount options; empty ``cap_drop`` keeps the defaults;
    ``environment`` is added to the image's (every exec in the container sees it).
    """

    image: str
    command: tuple[str, ...]
    user: str
    labels: Mapping[str, str]
    init: bool = True
    mounts: tuple[Mount, ...] = ()
    tmpfs: Mapping[str, str] = field(default_factory=dict)
    mem_limit: str | None = None
    memswap_limit: str | None = None
    pids_limit: int | None = None
    nano_cpus: int | None = None
    network_mode: str | None = None
    cap_drop: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    read_only: bool = False
    working_dir: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageRef:
    """A local image: its id (``sha256:…``) and labels."""

    id: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class ContainerRef:
    """A container as a listing shows it."""

    id: str
    name: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class ImageUsage:
    """One image in the engine's disk-usage report (``docker system df -v``); sizes in bytes."""

    id: str
    tags: tuple[str, ...]
    labels: Mapping[str, str]
    size: int  # including its parents
    shared_size: int  # bytes shared with other images (-1 when the engine did not compute it)
    created: float  # epoch seconds
    parent_id: str
    containers: int  # containers using it (-1 when unknown)


class Engine(Protocol):
    """What the Docker sandbox needs of a container engine. Every fault is an EngineError."""

    def ping(self) -> None:
        """Return when the engine answers."""

    def version(self) -> Mapping[str, Any]:
        """The engine's version document (``Version``, ``ApiVersion``)."""

    def image(self, ref: str) -> ImageRef | None:
        """The local image ``ref`` (tag or id); None when there is none."""

    def pull(self, ref: str) -> None:
        """Pull ``ref`` from its registry."""

    def build(
        self, context: Path, dockerfile: str, tag: str, buildargs: Mapping[str, str]
    ) -> Iterator[tuple[str, str]]:
        """Build ``tag`` from a folder (classic builder): ``("stream"|"error", text)`` chunks."""

    def run_container(self, spec: ContainerSpec) -> str:
        """Create and start a container; its id."""

    def container_status(self, container_id: str) -> str:
        """``running``, ``exited``, … of an existing container."""

    def containers(self, labels: Sequence[str]) -> list[ContainerRef]:
        """Containers (running or not) carrying every ``key=value`` of ``labels``."""

    def kill(self, container_id: str) -> None:
        """SIGKILL the container's main process."""

    def remove_container(self, container_id: str) -> None:
        """Force-remove a container; one that is gone already is fine."""

    def put_archive(self, container_id: str, path: str, data: bytes) -> None:
        """Extract the tar ``data`` into the existing folder ``path`` of the container."""

    def commit(
        self,
        container_id: str,
        repository: str,
        tag: str,
        changes: Sequence[str],
        *,
        pause: bool = True,
    ) -> None:
        """Commit the container as ``repository:tag`` with Dockerfile ``changes``.

        ``pause``: freeze the container's processes meanwhile (Docker's default); False lets
        them run on (they must write nothing the commit could catch half-written).
        """

    def exec_create(
        self,
        container_id: str,
        cmd: Sequence[str],
        *,
        user: str,
        environment: Mapping[str, str] | Sequence[str] | None = None,
        workdir: str | None = None,
        stdin: bool = False,
        stderr: bool = True,
    ) -> str:
        """Create (not start) an exec; its id. Repeatable."""

    def exec_start(
        self, exec_id: str, *, read_timeout_s: float | None, stdin: IO[bytes] | None = None
    ) -> Iterator[tuple[int, bytes]]:
        """Start an exec, send ``stdin`` (then EOF), yield ``(stream, payload)`` until it ends.

        Stream 1 is stdout, 2 stderr. ``read_timeout_s``: how long the output may stay quiet
        before an EngineError (None: as long as the command runs).
        """

    def exec_inspect(self, exec_id: str) -> tuple[bool, int | None]:
        """(still running, exit code) of an exec. Repeatable."""

    def images_usage(self) -> list[ImageUsage]:
        """Every local image with its disk use."""

    def volume_size(self, name: str) -> int | None:
        """Bytes in the named volume; None when it does not exist."""

    def remove_image(self, ref: str) -> str | None:
        """Remove an image (never forced); None when done or gone, else why it was kept."""

    def remove_volume(self, name: str) -> str | None:
        """Remove a named volume; None when done or gone, else why it was kept."""


def retry(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, repeated on a transient EngineError (``ENGINE_ATTEMPTS`` tries).

    Only for calls that are safe to repeat (inspecting, creating an exec that has not started,
    pinging). A fault that is not transient is raised at once, the last one as it is.
    """
    for attempt in range(1, ENGINE_ATTEMPTS + 1):
        try:
            return fn(*args, **kwargs)
        except EngineError as exc:
            if not exc.transient or attempt == ENGINE_ATTEMPTS:
                raise
        time.sleep(ENGINE_RETRY_S * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def exit_code(engine: Engine, exec_id: str) -> int | None:
    """The exit code of a finished exec; None when it still runs after about 5 s.

    The stream's end can reach us a moment before the engine records the exit.
    """
    for _ in range(50):
        running, code = retry(engine.exec_inspect, exec_id)
        if not running:
            return code
        time.sleep(0.1)
    return None


def iter_frames(raw: socket.socket, timeout_s: float | None) -> Iterator[tuple[int, bytes]]:
    """(stream id, payload) of a multiplexed exec stream (1 stdout, 2 stderr) until EOF.

    ``timeout_s``: how long the stream may stay quiet; then EngineError (not transient: the
    command may have run). None waits as long as the command runs: the docker SDK's socket
    otherwise keeps the client's 120 s timeout, which would end a quiet step as a fault.
    """
    raw.settimeout(timeout_s)
    buf = bytearray()
    while True:
        try:
            chunk = raw.recv(65536)
        except OSError as exc:  # socket.timeout included
            raise EngineError(str(exc) or type(exc).__name__) from exc
        if not chunk:
            return
        buf += chunk
        while len(buf) >= 8:
            length = int.from_bytes(buf[4:8], "big")
            if len(buf) < 8 + length:
                break
            yield buf[0], bytes(buf[8 : 8 + length])
            del buf[: 8 + length]


_TRANSIENT = (requests.exceptions.ConnectionError, requests.exceptions.Timeout, OSError)


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """SDK and transport exceptions -> EngineError, with the SDK's message."""
    try:
        yield
    except docker.errors.APIError as exc:
        raise EngineError(str(exc), transient=exc.is_server_error()) from exc
    except _TRANSIENT as exc:
        raise EngineError(str(exc), transient=True) from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineError(str(exc)) from exc


def connect(timeout: int = DEFAULT_TIMEOUT_S) -> Engine:
    """The local engine (``DOCKER_HOST`` or the default socket), answering a ping.

    Raises SandboxUnavailable when none answers (after :func:`retry`).
    """
    try:
        engine = DockerEngine(timeout)
        retry(engine.ping)
    except EngineError as exc:
        raise SandboxUnavailable(
            f"no Docker engine reachable: {exc}; start dockerd or use --sandbox local"
        ) from exc
    return engine


def docker_available() -> tuple[bool, str]:
    """(True, engine version) when an engine answers; (False, reason) otherwise."""
    try:
        version = retry(DockerEngine(10).version)
    except EngineError as exc:
        return False, f"no Docker engine reachable: {exc}"
    return True, f"Docker {version.get('Version', '?')} (API {version.get('ApiVersion', '?')})"


class DockerEngine:
    """:class:`Engine` on the docker SDK; ``timeout``: the client's read timeout in seconds."""

    def __init__(self, timeout: int = DEFAULT_TIMEOUT_S) -> None:
        with _translated():
            self._client = docker.from_env(timeout=timeout)
        self._slow: Any = None  # a client for calls that take minutes (commit, put_archive)

    def _slow_client(self) -> Any:
        if self._slow is None:
            with _translated():
                self._slow = docker.from_env(timeout=SLOW_CALL_TIMEOUT_S)
        return self._slow

    def ping(self) -> None:
        with _translated():
            self._client.ping()

    def version(self) -> Mapping[str, Any]:
        with _translated():
            return dict(self._client.version())

    def image(self, ref: str) -> ImageRef | None:
        with _translated():
            try:
                found = self._client.images.get(ref)
            except docker.errors.ImageNotFound:
                return None
            return ImageRef(str(found.id), dict(found.labels or {}))

    def pull(self, ref: str) -> None:
        with _translated():
            docker.from_env(timeout=60).images.pull(ref)

    def build(
        self, context: Path, dockerfile: str, tag: str, buildargs: Mapping[str, str]
    ) -> Iterator[tuple[str, str]]:
        with _translated():
            stream = self._client.api.build(
                path=str(context),
                dockerfile=dockerfile,
                tag=tag,
                buildargs=dict(buildargs),
                rm=True,
                forcerm=True,
                decode=True,
            )
            for chunk in stream:
                for kind in ("stream", "error"):
                    if isinstance(chunk.get(kind), str):
                        yield kind, chunk[kind]

    def run_container(self, spec: ContainerSpec) -> str:
        options: dict[str, Any] = {
            "detach": True,
            "user": spec.user,
            "init": spec.init,
            "labels": dict(spec.labels),
            "security_opt": list(spec.security_opt) or None,
            "cap_drop": list(spec.cap_drop) or None,
            "cap_add": list(spec.cap_add) or None,
            "read_only": spec.read_only,
        }
        if spec.mounts:
            # Mounts (not `volumes=`): they stay out of the container's Config, so a committed
            # image declares no volumes.
            options["mounts"] = [
                docker.types.Mount(m.target, m.source, type=m.type, read_only=m.read_only)
                for m in spec.mounts
            ]
        if spec.tmpfs:
            options["tmpfs"] = dict(spec.tmpfs)
        for key in ("mem_limit", "memswap_limit", "pids_limit", "nano_cpus", "network_mode"):
            if getattr(spec, key) is not None:
                options[key] = getattr(spec, key)
        if spec.working_dir is not None:
            options["working_dir"] = spec.working_dir
        if spec.environment:
            options["environment"] = dict(spec.environment)
        with _translated():
            return str(self._client.containers.run(spec.image, list(spec.command), **options).id)

    def container_status(self, container_id: str) -> str:
        with _translated():
            return str(self._client.containers.get(container_id).status)

    def containers(self, labels: Sequence[str]) -> list[ContainerRef]:
        with _translated():
            found = self._client.containers.list(all=True, filters={"label": list(labels)})
            return [ContainerRef(str(c.id), str(c.name), dict(c.labels or {})) for c in found]

    def kill(self, container_id: str) -> None:
        with _translated():
            self._client.api.kill(container_id)

    def remove_container(self, container_id: str) -> None:
        with _translated(), contextlib.suppress(docker.errors.NotFound):
            self._client.api.remove_container(container_id, force=True)

    def put_archive(self, container_id: str, path: str, data: bytes) -> None:
        with _translated():
            self._slow_client().api.put_archive(container_id, path, data)

    def commit(
        self,
        container_id: str,
        repository: str,
        tag: str,
        changes: Sequence[str],
        *,
        pause: bool = True,
    ) -> None:
        with _translated():
            self._slow_client().api.commit(
                container_id, repository=repository, tag=tag, changes=list(changes), pause=pause
            )

    def exec_create(
        self,
        container_id: str,
        cmd: Sequence[str],
        *,
        user: str,
        environment: Mapping[str, str] | Sequence[str] | None = None,
        workdir: str | None = None,
        stdin: bool = False,
        stderr: bool = True,
    ) -> str:
        env: Any = dict(environment) if isinstance(environment, Mapping) else environment
        with _translated():
            created = self._client.api.exec_create(
                container_id,
                list(cmd),
                user=user,
                environment=env,
                workdir=workdir,
                stdin=stdin,
                stderr=stderr,
            )
            return str(created["Id"])

    def exec_start(
        self, exec_id: str, *, read_timeout_s: float | None, stdin: IO[bytes] | None = None
    ) -> Iterator[tuple[int, bytes]]:
        with _translated():
            sock = self._client.api.exec_start(exec_id, socket=True)
        return self._stream(sock, read_timeout_s, stdin)

    @staticmethod
    def _stream(
        sock: Any, read_timeout_s: float | None, stdin: IO[bytes] | None
    ) -> Iterator[tuple[int, bytes]]:
        raw: socket.socket = sock._sock
        try:
            if stdin is not None:
                raw.settimeout(SLOW_CALL_TIMEOUT_S)
                try:
                    while chunk := stdin.read(1 << 20):
                        raw.sendall(chunk)
                    raw.shutdown(socket.SHUT_WR)
                except OSError as exc:
                    raise EngineError(str(exc) or type(exc).__name__) from exc
            yield from iter_frames(raw, read_timeout_s)
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    def exec_inspect(self, exec_id: str) -> tuple[bool, int | None]:
        with _translated():
            info = self._client.api.exec_inspect(exec_id)
        code = info.get("ExitCode")
        return bool(info.get("Running")), None if code is None else int(code)

    def images_usage(self) -> list[ImageUsage]:
        with _translated():
            entries = self._client.df().get("Images") or []
        return [
            ImageUsage(
                id=str(entry.get("Id", "")),
                tags=tuple(t for t in entry.get("RepoTags") or [] if t and t != "<none>:<none>"),
                labels=dict(entry.get("Labels") or {}),
                size=int(entry.get("Size") or 0),
                shared_size=int(entry.get("SharedSize") or 0),
                created=float(entry.get("Created") or 0),
                parent_id=str(entry.get("ParentId") or ""),
                containers=int(entry.get("Containers") or 0),
            )
            for entry in entries
        ]

    def volume_size(self, name: str) -> int | None:
        with _translated():
            volumes = self._client.df().get("Volumes") or []
        for volume in volumes:
            if volume.get("Name") == name:
                return int((volume.get("UsageData") or {}).get("Size") or 0)
        return None

    def remove_image(self, ref: str) -> str | None:
        try:
            with _translated():
                try:
                    self._client.images.remove(ref, force=False, noprune=False)
                except docker.errors.ImageNotFound:
                    return None
        except EngineError as exc:
            cause = exc.__cause__
            if isinstance(cause, docker.errors.APIError):
                # 409: a container or a child image (a group layer on a shared layer) uses it.
                return str(cause.explanation or cause)[:200]
            raise
        return None

    def remove_volume(self, name: str) -> str | None:
        try:
            with _translated():
                try:
                    self._client.volumes.get(name).remove()
                except docker.errors.NotFound:
                    return None
        except EngineError as exc:
            cause = exc.__cause__
            if isinstance(cause, docker.errors.APIError):
                return str(cause.explanation or cause)[:200]
            raise
        return None
