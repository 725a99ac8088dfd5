"""Which containers belong to which run: run locks, container labels, tracking and cleaning.

Every container the sandbox starts goes through :class:`ContainerTracker.start`, which labels
it (``repograder=1``, ``repograder.run``, the run's lock, the content hash) and removes it
when the run ends (``close``, also after a stop while a worker was still starting one).
``sandbox clean`` (:func:`clean_leftovers`) removes the containers of runs whose lock is no
longer held. See docs/SANDBOX.md, "Cleaning".
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from repograder.errors import InfrastructureError
from repograder.sandbox.docker.engine import ContainerSpec, Engine, EngineError, connect, retry


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


class ContainerTracker:
    """Starts a run's containers with its labels and removes every one of them at the end."""

    def __init__(self, engine: Engine, run_id: str, lock: RunLock) -> None:
        self.engine = engine
        self.run_id = run_id
        self._lock_path = lock.path
        self._ids: set[str] = set()
        self._guard = threading.Lock()
        self._closed = False
        self._removing: list[threading.Thread] = []

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran: the run is stopping."""
        return self._closed

    def labels(self, content_hash: str = "") -> dict[str, str]:
        """``repograder=1``, the run id, the run lock (:class:`RunLock`) and the content hash."""
        labels = {
            "repograder": "1",
            "repograder.run": self.run_id,
            **RunLock.labels(self._lock_path),
        }
        if content_hash:
            labels["repograder.hash"] = content_hash
        return labels

    def start(self, spec: ContainerSpec, content_hash: str = "") -> str:
        """Start ``spec`` with the run's labels (they win over the spec's own); its id.

        Raises EngineError when the engine fails, InfrastructureError when the run is closing
        (the container is removed at once then: nothing may outlive a stopped run).
        """
        labelled = dataclasses.replace(spec, labels={**spec.labels, **self.labels(content_hash)})
        container_id = self.engine.run_container(labelled)
        with self._guard:
            closed = self._closed
            if not closed:
                self._ids.add(container_id)
        if closed:
            # A worker that was still starting when the run stopped.
            with contextlib.suppress(EngineError):
                self.engine.remove_container(container_id)
            raise InfrastructureError("the sandbox was closed: the run is stopping")
        return container_id

    def remove(self, container_id: str) -> None:
        """Force-remove one of the run's containers; engine faults are ignored here."""
        with self._guard:
            self._ids.discard(container_id)
        with contextlib.suppress(EngineError):
            self.engine.remove_container(container_id)

    def remove_later(self, container_id: str) -> None:
        """:meth:`remove` in a background thread; ``close`` waits for it.

        For a committed build container: deleting a shared layer's files (1.6 GB for the
        benchmark's audio stack) took 15 s that no group needs to wait for.
        """
        thread = threading.Thread(
            target=self.remove, args=(container_id,), name="remove-container", daemon=True
        )
        # Started before it is listed: a close() in between would join an unstarted thread
        # (RuntimeError). One that misses it still removes the container, which is in _ids
        # until this thread's remove() takes it out.
        thread.start()
        with self._guard:
            self._removing = [t for t in self._removing if t.is_alive()]
            self._removing.append(thread)

    def close(self) -> None:
        """Remove every container started so far and refuse later ones. Idempotent."""
        with self._guard:
            self._closed = True
            ids = list(self._ids)
            self._ids.clear()
            removing = list(self._removing)
        for container_id in ids:
            with contextlib.suppress(EngineError):
                self.engine.remove_container(container_id)
        for thread in removing:
            thread.join()


@dataclass(frozen=True)
class CleanOutcome:
    """What ``sandbox clean`` did: containers removed and kept, as ``name (run id)`` lines."""

    removed: tuple[str, ...]
    kept_live: tuple[str, ...]


def clean_leftovers(
    run_id: str | None = None, *, include_live: bool = False, engine: Engine | None = None
) -> CleanOutcome:
    """Force-remove repograder containers (of one run, or all) whose run is no longer live.

    Containers of a run still going on (its :class:`RunLock` is held) are kept unless
    ``include_live``. Raises SandboxUnavailable without an engine.
    """
    labels = ["repograder=1"] + ([f"repograder.run={run_id}"] if run_id else [])
    engine = engine if engine is not None else connect(60)
    removed: list[str] = []
    kept: list[str] = []
    ended_locks: set[Path] = set()
    for container in retry(engine.containers, labels):
        tags = dict(container.labels)
        shown = f"{container.name} (run {tags.get('repograder.run', '?')})"
        if not include_live and run_is_live(tags):
            kept.append(shown)
            continue
        engine.remove_container(container.id)
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
