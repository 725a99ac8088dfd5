"""Engines for tests of the Docker backend, implementing ``sandbox.docker.engine.Engine``.

- :class:`FakeEngine`: in memory, no Docker needed. Execs are answered by ``handler``
  (command -> exit code and stdout); faults are queued per method with :meth:`FakeEngine.fail`.
- :class:`WrappedEngine`: the real engine with a hook in front of every call (spying on the
  containers started, or failing some calls the way a dying engine does).
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from repograder.sandbox.docker.engine import (
    ContainerRef,
    ContainerSpec,
    Engine,
    EngineError,
    ImageRef,
    ImageUsage,
)


@dataclass
class FakeExec:
    """One exec as the fake engine saw it."""

    container: str
    cmd: tuple[str, ...]
    user: str
    environment: Any
    stdin: bytes = b""
    code: int | None = None


@dataclass
class FakeContainer:
    """A container of the fake engine; ``status`` changes with kill/remove."""

    id: str
    name: str
    spec: ContainerSpec
    status: str = "running"
    archives: list[tuple[str, bytes]] = field(default_factory=list)


# (exec) -> (exit code, stdout); HANG instead blocks until the container is killed or removed.
Handler = Callable[[FakeExec], "tuple[int, bytes] | str"]
HANG = "hang"


def capture_line(output: str = "", *, timed_out: bool = False, duration: float = 0.1) -> bytes:
    """The JSON line ``templates/capture.py`` prints after a step."""
    data = output.encode()
    line = {
        "head": base64.b64encode(data).decode(),
        "tail": "",
        "timed_out": timed_out,
        "total": len(data),
        "duration": duration,
    }
    return json.dumps(line).encode() + b"\n"


def _ok(_exec: FakeExec) -> tuple[int, bytes]:
    return 0, b""


class FakeEngine:
    """An in-memory engine with the base image ``base_image`` (Python ``python``)."""

    def __init__(self, base_image: str = "repograder-base:py3.11", python: str = "3.11") -> None:
        self.images: dict[str, ImageRef] = {
            base_image: ImageRef("sha256:" + "b" * 64, {"repograder.python": python})
        }
        self.boxes: dict[str, FakeContainer] = {}
        self.started: list[ContainerSpec] = []
        self.removed: list[str] = []
        self.execs: list[FakeExec] = []
        self.commits: list[tuple[str, str, str, tuple[str, ...]]] = []
        self.usage: list[ImageUsage] = []
        self.volumes: dict[str, int] = {}
        self.refuse_removal: dict[str, str] = {}  # image ref -> why the engine keeps it
        self.image_removals: list[str] = []  # refs asked to be removed, in order
        self.handler: Handler = _ok
        self.calls: dict[str, int] = {}
        self._faults: dict[str, list[EngineError]] = {}
        self._ids = itertools.count(1)
        self._gone = threading.Condition()

    # ------------------------------------------------------------------ test controls

    def fail(self, method: str, *errors: EngineError) -> None:
        """Raise ``errors`` from the next calls of ``method``, one per call, in order."""
        self._faults.setdefault(method, []).extend(errors)

    def _enter(self, method: str) -> None:
        self.calls[method] = self.calls.get(method, 0) + 1
        queued = self._faults.get(method)
        if queued:
            raise queued.pop(0)

    def _container(self, container_id: str) -> FakeContainer:
        found = self.boxes.get(container_id)
        if found is None or found.status == "removed":
            raise EngineError(f"404 Client Error: No such container: {container_id}")
        return found

    # ------------------------------------------------------------------ Engine

    def ping(self) -> None:
        self._enter("ping")

    def version(self) -> Mapping[str, Any]:
        self._enter("version")
        return {"Version": "fake", "ApiVersion": "1.0"}

    def image(self, ref: str) -> ImageRef | None:
        self._enter("image")
        return self.images.get(ref)

    def pull(self, ref: str) -> None:
        self._enter("pull")
        raise EngineError(f"pull access denied for {ref}")

    def build(
        self, context: Path, dockerfile: str, tag: str, buildargs: Mapping[str, str]
    ) -> Iterator[tuple[str, str]]:
        self._enter("build")
        self.images[tag] = ImageRef(f"sha256:{tag}", {})
        yield "stream", f"built {tag}\n"

    def run_container(self, spec: ContainerSpec) -> str:
        self._enter("run_container")
        number = next(self._ids)
        container = FakeContainer(f"c{number:04d}", f"fake_{number}", spec)
        self.boxes[container.id] = container
        self.started.append(spec)
        return container.id

    def container_status(self, container_id: str) -> str:
        self._enter("container_status")
        return self._container(container_id).status

    def containers_of(self, spec_test: Callable[[ContainerSpec], bool]) -> list[FakeContainer]:
        """Containers (removed ones too) whose spec passes ``spec_test``."""
        return [c for c in self.boxes.values() if spec_test(c.spec)]

    def containers(self, labels: Sequence[str]) -> list[ContainerRef]:
        self._enter("containers")
        wanted = [tuple(label.split("=", 1)) for label in labels]
        return [
            ContainerRef(c.id, c.name, dict(c.spec.labels))
            for c in self.boxes.values()
            if c.status != "removed" and all(c.spec.labels.get(k) == v for k, v in wanted)
        ]

    def kill(self, container_id: str) -> None:
        self._enter("kill")
        with self._gone:
            self._container(container_id).status = "exited"
            self._gone.notify_all()

    def remove_container(self, container_id: str) -> None:
        self._enter("remove_container")
        with self._gone:
            found = self.boxes.get(container_id)
            if found is not None and found.status != "removed":
                found.status = "removed"
                self.removed.append(container_id)
            self._gone.notify_all()

    def put_archive(self, container_id: str, path: str, data: bytes) -> None:
        self._enter("put_archive")
        self._container(container_id).archives.append((path, data))

    def commit(
        self,
        container_id: str,
        repository: str,
        tag: str,
        changes: Sequence[str],
        *,
        pause: bool = True,
    ) -> None:
        self._enter("commit")
        box = self._container(container_id)
        self.commits.append((container_id, repository, tag, tuple(changes)))
        parent = self.images.get(box.spec.image)
        # As Docker: the image inherits its parent's labels, the changes' win.
        labels = dict(parent.labels) if parent is not None else {}
        labels |= {
            c.split(" ", 1)[1].split("=", 1)[0]: c.split("=", 1)[1]
            for c in changes
            if c.startswith("LABEL ")
        }
        self.images[f"{repository}:{tag}"] = ImageRef(f"sha256:{repository}-{tag}", labels)

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
        self._enter("exec_create")
        self._container(container_id)
        self.execs.append(FakeExec(container_id, tuple(cmd), user, environment))
        return str(len(self.execs) - 1)

    def exec_start(
        self, exec_id: str, *, read_timeout_s: float | None, stdin: IO[bytes] | None = None
    ) -> Iterator[tuple[int, bytes]]:
        self._enter("exec_start")
        fake = self.execs[int(exec_id)]
        if stdin is not None:
            fake.stdin = stdin.read()
        return self._frames(fake, read_timeout_s)

    def _frames(self, fake: FakeExec, read_timeout_s: float | None) -> Iterator[tuple[int, bytes]]:
        answer = self.handler(fake)
        if answer == HANG:
            container = self.boxes[fake.container]
            with self._gone:
                ended = self._gone.wait_for(
                    lambda: container.status != "running", timeout=read_timeout_s
                )
            if not ended:  # what DockerEngine raises when the stream stays quiet too long
                raise EngineError("timed out")
            fake.code = 137
            return
        assert not isinstance(answer, str)
        fake.code, out = answer
        if out:
            yield 1, out

    def exec_inspect(self, exec_id: str) -> tuple[bool, int | None]:
        self._enter("exec_inspect")
        fake = self.execs[int(exec_id)]
        return False, fake.code

    def images_usage(self) -> list[ImageUsage]:
        self._enter("images_usage")
        return list(self.usage)

    def volume_size(self, name: str) -> int | None:
        self._enter("volume_size")
        return self.volumes.get(name)

    def remove_image(self, ref: str) -> str | None:
        self._enter("remove_image")
        self.image_removals.append(ref)
        if ref in self.refuse_removal:
            return self.refuse_removal[ref]
        self.usage = [u for u in self.usage if ref not in (u.id, *u.tags)]
        self.images.pop(ref, None)
        return None

    def remove_volume(self, name: str) -> str | None:
        self._enter("remove_volume")
        self.volumes.pop(name, None)
        return None


class WrappedEngine:
    """A real engine with ``before(method, args, kwargs)`` called in front of every call.

    ``before`` may raise (an EngineError, as the real engine would) or record the call.
    """

    def __init__(
        self, inner: Engine, before: Callable[[str, tuple[Any, ...], dict[str, Any]], None]
    ):
        self._inner = inner
        self._before = before

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self._before(name, args, kwargs)
            return attr(*args, **kwargs)

        return call
