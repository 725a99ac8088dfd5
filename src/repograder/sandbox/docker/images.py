"""Environment images and the uv cache volume as the ``cache`` commands see them.

Docker keeps no last-use time, so the sandbox touches ``<cache>/images/<hash>.used`` whenever
it uses an environment image (:func:`touch_used`); :class:`DockerCaches` reads those stamps,
lists and removes images and the volume. ``cachemgr`` uses only this class (docs/SANDBOX.md,
"Cleaning").
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from repograder.sandbox.docker.baseimage import BASE_IMAGE, ROOTFS_IMAGE
from repograder.sandbox.docker.engine import (
    Engine,
    EngineError,
    connect,
    docker_available,
    retry,
)

ENV_REPO = "repograder-env"
COMMON_PREFIX = "common-"  # tag prefix of shared layers
USED_DIR = "images"  # <cache_dir>/images/<hash>.used: mtime = last use of that env image
WARM_DIR = "warm"  # <cache_dir>/warm/<hash>.tar: the warm home of that shared layer
UV_CACHE_VOLUME = "repograder-uv-cache"
UV_CACHE_MOUNT = "/uv-cache"


def touch_used(cache_dir: Path, content_hash: str) -> None:
    """Record that an environment image was used now (Docker keeps no last-use time)."""
    folder = cache_dir / USED_DIR
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{content_hash}.used").touch()


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


class DockerCaches:
    """The Docker side of ``cache info|prune``: images, their last use, the uv cache volume.

    ``engine``: the engine to ask (default: the local one, connected on first use).
    """

    env_repo = ENV_REPO
    base_image = BASE_IMAGE
    uv_cache_volume = UV_CACHE_VOLUME

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        """The engine; raises SandboxUnavailable when none answers."""
        if self._engine is None:
            self._engine = connect(120)
        return self._engine

    def available(self) -> tuple[bool, str]:
        """(True, version) when the engine answers; (False, reason) otherwise."""
        if self._engine is None:
            return docker_available()
        try:
            retry(self._engine.ping)
        except EngineError as exc:
            return False, f"no Docker engine reachable: {exc}"
        return True, "engine answers"

    def list_images(self) -> list[ImageInfo]:
        """Environment images (``repograder-env``) and base images, with disk use."""
        found: list[ImageInfo] = []
        for entry in self.engine.images_usage():
            tag = entry.tags[0] if entry.tags else ""
            labels = entry.labels
            repo = tag.split(":", 1)[0]
            if repo == ENV_REPO:
                layer = labels.get("repograder.layer") or "group"
            elif repo in (BASE_IMAGE.split(":", 1)[0], ROOTFS_IMAGE.split(":", 1)[0]):
                layer = "base"
            elif not tag and labels.get("repograder.hash"):
                layer = labels.get("repograder.layer") or "group"  # an untagged leftover env
            else:
                continue
            shared = max(entry.shared_size, 0)
            found.append(
                ImageInfo(
                    id=entry.id,
                    tag=tag,
                    layer=layer,
                    content_hash=labels.get("repograder.hash", ""),
                    size=entry.size,
                    unique_size=max(entry.size - shared, 0),
                    created=entry.created,
                    parent_id=entry.parent_id,
                    containers=max(entry.containers, 0),
                )
            )
        return found

    def remove_image(self, image: ImageInfo) -> str | None:
        """Remove one image (never forced); None on success, else why it was kept."""
        return self.engine.remove_image(image.tag or image.id)

    @staticmethod
    def last_used(cache_dir: Path, image: ImageInfo) -> float:
        """When the sandbox last used ``image`` (its stamp; else its creation), epoch seconds."""
        try:
            return (cache_dir / USED_DIR / f"{image.content_hash}.used").stat().st_mtime
        except OSError:
            return image.created

    @staticmethod
    def forget(cache_dir: Path, image: ImageInfo) -> None:
        """Drop the last-use stamp (and a shared layer's warm home) of a removed image."""
        if image.content_hash:
            (cache_dir / USED_DIR / f"{image.content_hash}.used").unlink(missing_ok=True)
            (cache_dir / WARM_DIR / f"{image.content_hash}.tar").unlink(missing_ok=True)

    def uv_cache_volume_size(self) -> int | None:
        """Bytes in the shared uv cache volume; None when it does not exist."""
        return self.engine.volume_size(UV_CACHE_VOLUME)

    def remove_uv_cache_volume(self) -> str | None:
        """Remove the shared uv cache volume; None on success, else why it was kept."""
        return self.engine.remove_volume(UV_CACHE_VOLUME)

    def live_run_ids(self) -> set[str]:
        """Run ids that still have repograder containers (their work folders are in use)."""
        containers = retry(self.engine.containers, ["repograder=1"])
        return {c.labels.get("repograder.run", "") for c in containers} - {""}


def list_images() -> list[ImageInfo]:
    """:meth:`DockerCaches.list_images` on the local engine."""
    return DockerCaches().list_images()


def remove_image(image: ImageInfo) -> str | None:
    """:meth:`DockerCaches.remove_image` on the local engine."""
    return DockerCaches().remove_image(image)


def uv_cache_volume_size() -> int | None:
    """:meth:`DockerCaches.uv_cache_volume_size` on the local engine."""
    return DockerCaches().uv_cache_volume_size()


def remove_uv_cache_volume() -> str | None:
    """:meth:`DockerCaches.remove_uv_cache_volume` on the local engine."""
    return DockerCaches().remove_uv_cache_volume()


def live_run_ids() -> set[str]:
    """:meth:`DockerCaches.live_run_ids` on the local engine."""
    return DockerCaches().live_run_ids()
