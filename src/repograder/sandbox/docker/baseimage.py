"""The sandbox base image ``repograder-base:py3.11``: building it, and asking what it offers.

Online it is built ``FROM python:<v>-slim``; without a registry from a debootstrap root file
system imported as ``repograder-rootfs:bookworm`` (docs/SANDBOX.md, "The base image").
Files: ``sandbox/images/`` (Dockerfiles, ``layout.sh``, ``bootstrap-offline.sh``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from repograder.errors import InfrastructureError
from repograder.sandbox.docker.engine import Engine, EngineError, connect, retry

BASE_IMAGE = "repograder-base:py3.11"
ROOTFS_IMAGE = "repograder-rootfs:bookworm"
_SANDBOX_DIR = Path(__file__).resolve().parent.parent / "images"  # also reachable as ./sandbox


def base_image_available(tag: str = BASE_IMAGE, *, engine: Engine | None = None) -> bool:
    """True when the base image exists locally. Raises SandboxUnavailable without an engine."""
    engine = engine if engine is not None else connect(30)
    return retry(engine.image, tag) is not None


def available_pythons(tag: str = BASE_IMAGE, *, engine: Engine | None = None) -> list[str]:
    """Python versions the sandbox can grade with (the base image's); empty without an image."""
    engine = engine if engine is not None else connect(30)
    image = retry(engine.image, tag)
    version = image.labels.get("repograder.python") if image is not None else None
    return [version] if version else []


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
    engine: Engine, dockerfile: str, tag: str, python: str, log: Callable[[str], None]
) -> None:
    if not (_SANDBOX_DIR / dockerfile).is_file():
        raise InfrastructureError(f"{_SANDBOX_DIR / dockerfile} is missing (repograder checkout?)")
    with tempfile.TemporaryDirectory(prefix="repograder-base-") as tmp:
        ctx = Path(tmp)
        shutil.copy2(_SANDBOX_DIR / dockerfile, ctx / dockerfile)
        shutil.copy2(_SANDBOX_DIR / "layout.sh", ctx / "layout.sh")
        shutil.copy2(_uv_binary(), ctx / "uv")
        for kind, text in engine.build(ctx, dockerfile, tag, {"PYTHON_VERSION": python}):
            if kind == "stream" and text.strip():
                log(text.rstrip())
            if kind == "error":
                raise InfrastructureError(f"building {tag} failed: {text.strip()}")


def build_base_image(
    *,
    offline: bool | None = None,
    python: str = "3.11",
    force: bool = False,
    log: Callable[[str], None] = print,
    engine: Engine | None = None,
) -> str:
    """Build the sandbox base image (online from python:<v>-slim, or offline with debootstrap).

    Returns its tag. Raises InfrastructureError when a step fails, SandboxUnavailable without
    an engine.
    """
    tag = f"repograder-base:py{python}"
    engine = engine if engine is not None else connect(600)
    if not force and engine.image(tag) is not None:
        log(f"{tag} exists (use --force to rebuild)")
        return tag
    if offline is None:
        offline = not _registry_image(engine, f"python:{python}-slim", log)
    if not offline:
        log(f"building {tag} from python:{python}-slim")
        _build_dockerfile(engine, "Dockerfile.base", tag, python, log)
        return tag
    if python != "3.11":
        raise InfrastructureError("the offline base image has Python 3.11 only (Debian 12)")
    if not force and engine.image(ROOTFS_IMAGE) is not None:
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
    _build_dockerfile(engine, "Dockerfile.offline", tag, python, log)
    return tag


def _registry_image(engine: Engine, image: str, log: Callable[[str], None]) -> bool:
    """True when ``image`` is local or can be pulled; logs why the offline path is taken."""
    if engine.image(image) is not None:
        return True
    try:
        engine.pull(image)
    except EngineError as exc:
        log(f"no registry reachable ({str(exc).splitlines()[0][:160]}): building offline")
        return False
    return True
