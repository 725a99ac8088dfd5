"""An inferred shared layer on a real engine: adopted before the first build, never part of
the result-cache identity (it is decided while groups already look up their results)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from docker_fixtures import base_image_fixture, docker_engine_fixture  # noqa: F401

from repograder.sandbox.docker import DockerSandbox

pytestmark = pytest.mark.docker


def test_an_inferred_layer_keeps_the_identity_and_a_declared_one_wins(
    base_image: str, tmp_path: Path
) -> None:
    box = DockerSandbox(f"test-{uuid.uuid4().hex[:10]}", tmp_path / "c1")
    declared = DockerSandbox(f"test-{uuid.uuid4().hex[:10]}", tmp_path / "c2", common=("six",))
    try:
        before = box.identity
        assert not box.layer_declared
        tag = box.use_inferred_layer(("soundfile", "six"), (), ("true",))
        assert tag is not None
        assert tag == box.common_tag
        assert box.identity == before
        assert not box.layer_declared
        # The layer's system libraries come from the table too.
        assert box._common_plan is not None
        assert "libsndfile1" in box._common_plan.apt_packages
        assert box.use_inferred_layer(()) is None
        assert box.common_tag is None

        kept = declared.common_tag
        assert declared.use_inferred_layer(("numpy",)) == kept
        assert declared.common_tag == kept
    finally:
        box.close()
        declared.close()
