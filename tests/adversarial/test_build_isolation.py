"""Cross-group isolation of environment builds (docker.py is owned elsewhere: xfail documents).

Builds run student-controlled code (sdists' setup.py, build backends, ``pip install -e .``) as
uid 1000 *with network*. Whatever a build can write and a later build of another group reads
is a channel from one group's grading into another's.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import docker.errors
import docker.models.containers
import pytest
from attack_repos import base_image_fixture  # noqa: F401

from repograder import detect
from repograder.errors import InfrastructureError
from repograder.sandbox import docker as sandbox_docker

pytestmark = pytest.mark.docker


@pytest.mark.xfail(
    strict=True,
    reason="the shared uv cache volume is mounted read-write into every build, where student "
    "build code runs as uid 1000: one group can plant wheels that another group's build installs",
)
def test_builds_cannot_write_the_shared_package_cache(
    base_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []

    def record(_self: object, *_args: object, **kwargs: Any) -> object:
        seen.append(kwargs)
        raise docker.errors.APIError("recorded; no container started")

    repo = tmp_path / "repo"
    repo.mkdir()
    marker = uuid.uuid4().hex[:8]
    (repo / "requirements.txt").write_text(f'six; platform_machine == "rg{marker}"\n')
    box = sandbox_docker.DockerSandbox(f"iso-{marker}", tmp_path / "cache")
    monkeypatch.setattr(docker.models.containers.ContainerCollection, "run", record)
    try:
        with pytest.raises(InfrastructureError):
            box.prepare(detect.detect_env(repo), repo, tmp_path / "logs")
    finally:
        box.close()
    (build,) = seen
    shared = [m for m in build.get("mounts") or [] if m.get("Type") == "volume"]
    assert shared, "the build mounts no shared volume"
    assert all(m.get("ReadOnly") for m in shared), shared
