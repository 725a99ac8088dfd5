"""Docker sandbox backend: cached environment builds and locked-down sessions.

Modules, one job each (docs/SANDBOX.md, docs/ARCHITECTURE.md):

- :mod:`.engine`: the only module that imports the docker SDK; the :class:`Engine` interface
  the rest uses, engine faults as :class:`EngineError` (an InfrastructureError), retries;
- :mod:`.baseimage`: building the base image ``repograder-base:py3.11``;
- :mod:`.build`: environment builds (a container, the install, a commit);
- :mod:`.session`: a group's locked-down session container, its steps and helpers;
- :mod:`.sandbox`: :class:`DockerSandbox`, tying builds, shared layers and sessions together;
- :mod:`.runs`: run locks, container labels and tracking, ``sandbox clean``;
- :mod:`.images`: environment images and the uv cache volume for the ``cache`` commands.

The names below are the backend's public interface; import them from here.
"""

from repograder.sandbox.docker.baseimage import (
    BASE_IMAGE,
    ROOTFS_IMAGE,
    available_pythons,
    base_image_available,
    build_base_image,
)
from repograder.sandbox.docker.build import BUILD_MEMORY, SOURCE_BUILD_NOTE, with_system_libraries
from repograder.sandbox.docker.engine import Engine, EngineError, docker_available
from repograder.sandbox.docker.images import (
    COMMON_PREFIX,
    ENV_REPO,
    USED_DIR,
    UV_CACHE_MOUNT,
    UV_CACHE_VOLUME,
    DockerCaches,
    ImageInfo,
    list_images,
    live_run_ids,
    remove_image,
    remove_uv_cache_volume,
    uv_cache_volume_size,
)
from repograder.sandbox.docker.runs import (
    CleanOutcome,
    RunLock,
    clean_containers,
    clean_leftovers,
    run_is_live,
)
from repograder.sandbox.docker.sandbox import DockerSandbox
from repograder.sandbox.docker.session import DockerSession

__all__ = [
    "BASE_IMAGE",
    "BUILD_MEMORY",
    "COMMON_PREFIX",
    "ENV_REPO",
    "ROOTFS_IMAGE",
    "SOURCE_BUILD_NOTE",
    "USED_DIR",
    "UV_CACHE_MOUNT",
    "UV_CACHE_VOLUME",
    "CleanOutcome",
    "DockerCaches",
    "DockerSandbox",
    "DockerSession",
    "Engine",
    "EngineError",
    "ImageInfo",
    "RunLock",
    "available_pythons",
    "base_image_available",
    "build_base_image",
    "clean_containers",
    "clean_leftovers",
    "docker_available",
    "list_images",
    "live_run_ids",
    "remove_image",
    "remove_uv_cache_volume",
    "run_is_live",
    "uv_cache_volume_size",
    "with_system_libraries",
]
