"""Shared docker-test fixtures: an engine (fail in CI, skip elsewhere), the base image."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from repograder.sandbox import docker as sandbox_docker


@pytest.fixture(scope="module", name="docker_engine")
def docker_engine_fixture() -> str:
    """The engine's version line; a missing engine fails in CI and skips elsewhere."""
    ok, message = sandbox_docker.docker_available()
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"Docker is required in CI: {message}")
        pytest.skip(message)
    return message


@pytest.fixture(scope="module", name="base_image")
def base_image_fixture(docker_engine: str) -> str:
    """The sandbox base image, built offline on first use (about two minutes)."""
    if not sandbox_docker.base_image_available():
        sandbox_docker.build_base_image(offline=True, log=lambda _line: None)
    return sandbox_docker.BASE_IMAGE


@pytest.fixture(scope="module", name="sandbox")
def sandbox_fixture(
    base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sandbox_docker.DockerSandbox]:
    """A DockerSandbox with its own run id; every container it started is gone afterwards."""
    run_id = f"test-{uuid.uuid4().hex[:10]}"
    box = sandbox_docker.DockerSandbox(run_id, Path(tmp_path_factory.mktemp("cache")))
    yield box
    box.close()
    assert sandbox_docker.clean_containers(run_id) == 0
