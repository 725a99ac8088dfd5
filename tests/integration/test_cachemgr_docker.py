"""`cache prune` against a real engine: old environment images go, recent ones and the base stay."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import docker
import pytest
from docker_fixtures import base_image_fixture, docker_engine_fixture  # noqa: F401

from repograder import cachemgr
from repograder.detect import EnvKind, EnvSpec
from repograder.sandbox import docker as sd

pytestmark = pytest.mark.docker


def _build(box: sd.DockerSandbox, root: Path, name: str) -> str:
    repo = root / name
    repo.mkdir()
    reqs = ("six", f"# {uuid.uuid4().hex}")
    (repo / "requirements.txt").write_text("\n".join(reqs) + "\n")
    spec = EnvSpec(EnvKind.REQUIREMENTS, "requirements.txt", "t", ("requirements.txt",), reqs)
    build = box.prepare(spec, repo, root / f"logs-{name}")
    assert build.ok, build.log_excerpt
    assert build.image is not None
    return build.image


def test_prune_removes_only_images_unused_for_long(base_image: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    box = sd.DockerSandbox(f"test-{uuid.uuid4().hex[:8]}", cache)
    try:
        old = _build(box, tmp_path, "old")
        new = _build(box, tmp_path, "new")
    finally:
        box.close()
    client = docker.from_env()
    old_hash = client.images.get(old).labels["repograder.hash"]
    stamp = cache / sd.USED_DIR / f"{old_hash}.used"
    assert stamp.exists()
    past = time.time() - 40 * cachemgr.DAY
    os.utime(stamp, (past, past))
    info = {e.name: e for e in cachemgr.cache_info(cache)}
    assert info["docker env images"].count >= 2
    result = cachemgr.prune(cache, older_than_s=30 * cachemgr.DAY)
    assert f"image {old}" in result.removed
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(old)
    client.images.get(new)  # used just now: kept
    client.images.get(sd.BASE_IMAGE)  # the base image needs --all
    client.images.remove(new)
