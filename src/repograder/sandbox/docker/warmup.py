"""A shared layer's warm-up: run while the layer is committed, its HOME kept on the host.

The build container mounts a tmpfs at :data:`buildplan.WARM_HOME` (a session's home path, so the
caches get the paths sessions look them up at); the warm-up runs there as ``nobody`` while an
unpaused commit reads the container (docs/SANDBOX.md, "What a shared layer's build waits for");
then ``tar`` of that home is kept as ``<cache>/warm/<layer hash>.tar`` and unpacked into every
session's home. :func:`stray_file` checks that it left nothing in the image; :func:`warm_only`
redoes it for a cache folder that has the layer image but not its warm home.
"""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repograder import fsutil
from repograder.errors import InfrastructureError
from repograder.sandbox import buildplan
from repograder.sandbox.docker.engine import EngineError
from repograder.sandbox.hostconfig import container_env

if TYPE_CHECKING:
    from repograder.sandbox.docker.build import Builder

# The warm-up's tmpfs HOME, and the most of it kept: a session's home is disk_mb / 8
# (256 MB with the built-in rubric's 2048 MB), so a larger warm home could not be unpacked.
WARM_HOME_MB = 256
WARM_LABEL = "repograder.warm"  # image label: the content hash of the layer's warm home
# The warm-up's user: owns nothing in the image. It runs while an unpaused commit reads the
# container, and as uid 1000 (the venv's owner) it could change the venv under the commit,
# which would catch whatever state it found (a half-written module in every group's image).
WARM_USER = "65534:65534"
# The longest a warm-up may run (librosa's numba JIT took 137 s on a loaded machine): it holds
# up the layer, so every group, and a cache folder without its warm home redoes it.
WARMUP_TIMEOUT_S = 600


def home_tmpfs() -> dict[str, str]:
    """The build container's tmpfs for the warm-up's HOME, owned by :data:`WARM_USER`."""
    uid, gid = WARM_USER.split(":")
    options = f"rw,nosuid,nodev,exec,size={WARM_HOME_MB}m,uid={uid},gid={gid},mode=0755"
    return {buildplan.WARM_HOME: options}


def _empty_tar() -> bytes:
    buf = io.BytesIO()
    tarfile.open(fileobj=buf, mode="w").close()
    return buf.getvalue()


EMPTY_TAR = _empty_tar()


def keep(path: Path, data: bytes) -> None:
    """Keep a warm home at ``path`` (``fsutil.write_bytes_atomic``: two runs may share the
    cache folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fsutil.write_bytes_atomic(path, data)


def warm_home(
    builder: Builder, container: str, plan: buildplan.BuildPlan, log: Any, deadline: float
) -> tuple[bytes, str]:
    """Run ``plan``'s warm-up in ``container`` and archive the home it leaves.

    Returns (tar of :data:`buildplan.WARM_HOME`, "") or (an empty tar, why not): a warm-up
    that times out (``WARMUP_TIMEOUT_S``) or leaves more than ``WARM_HOME_MB`` only costs
    speed later, never the layer, and is recorded as done (the empty tar): a cache folder
    without a warm home would redo it on every run. An engine fault raises EngineError.
    """
    env = {**container_env(builder.host), "HOME": buildplan.WARM_HOME}
    script = buildplan.warmup_script(plan)
    deadline = min(deadline, time.monotonic() + WARMUP_TIMEOUT_S)
    started = time.monotonic()
    code, _text = builder.stream_exec(
        container, ["/bin/bash", "-c", script], WARM_USER, env, log, deadline
    )
    log.write(f"[repograder] the warm-up ran {time.monotonic() - started:.1f} s\n")
    if code is None:
        return EMPTY_TAR, "the warm-up timed out: sessions start without its caches"
    pack = ["/bin/tar", "-C", buildplan.WARM_HOME, "-cf", "-", "."]
    code, data = builder.read_exec(container, pack, WARM_USER, WARM_HOME_MB << 20)
    if code != 0 or data is None:
        why = "too large" if data is None else f"tar exit code {code}"
        return EMPTY_TAR, f"the warm-up's caches were not kept ({why})"
    log.write(f"[repograder] kept the warm-up's home ({len(data) >> 10} KiB)\n")
    return data, ""


def stray_file(builder: Builder, image: str) -> str:
    """A file of the warm-up's user in ``image`` ("" when none): it can create files only
    in the world-writable folders (/tmp, /var/tmp), and an unpaused commit keeps them."""
    uid = WARM_USER.split(":")[0]
    spec = builder.container_spec(image, 64, ())
    try:
        container = builder.tracker.start(spec)
    except EngineError as exc:
        raise InfrastructureError(f"the Docker engine failed to start a check: {exc}") from exc
    try:
        find = ["/usr/bin/find", "/", "-xdev", "(", "-user", uid, "-o", "-group", uid, ")"]
        code, out = builder.read_exec(container, [*find, "-print", "-quit"], "0:0", 4096)
    finally:
        builder.tracker.remove(container)
    if code != 0 or out is None:
        return f"(the image could not be checked: find exit code {code})"
    return out.decode("utf-8", errors="replace").strip()


def warm_only(
    builder: Builder, image: str, plan: buildplan.BuildPlan, log_path: Path, warm_path: Path
) -> str:
    """Redo ``plan``'s warm-up on the built ``image`` (its warm home is missing from this
    cache folder) and write it to ``warm_path``; a note ("" when kept)."""
    deadline = time.monotonic() + builder.timeout_s
    spec = builder.container_spec(image, 2048, builder.mounts(shared_cache=False), warm=True)
    try:
        container = builder.tracker.start(spec, plan.content_hash)
    except EngineError as exc:
        raise InfrastructureError(f"the Docker engine failed to start a warm-up: {exc}") from exc
    try:
        with open(log_path, "a", encoding="utf-8", errors="replace") as log:
            log.write(f"[repograder] warming up {image} again (no warm home on record)\n")
            data, note = warm_home(builder, container, plan, log, deadline)
    except EngineError as exc:
        raise InfrastructureError(f"the Docker engine failed during a warm-up: {exc}") from exc
    finally:
        builder.tracker.remove_later(container)
    keep(warm_path, data)
    return note
