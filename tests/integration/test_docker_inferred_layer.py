"""An inferred shared layer on a real engine: adopted before the first build, never part of
the result-cache identity (it is decided while groups already look up their results)."""

from __future__ import annotations

import contextlib
import threading
import time
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


@pytest.mark.timeout(600)
def test_start_layer_builds_an_inferred_layer_once_in_the_background(
    base_image: str, tmp_path: Path
) -> None:
    # The pipeline asks for the layer when the first group turns out to need a build, which
    # may be before the layer is inferred: the build begins the moment it is adopted.
    box = DockerSandbox(f"test-{uuid.uuid4().hex[:10]}", tmp_path / "cache")
    salt = uuid.uuid4().hex[:8]  # a layer no earlier run built
    tag: str | None = None
    try:
        box.start_layer()  # nothing inferred yet: nothing to build
        assert box.builds_run == 0
        tag = box.use_inferred_layer(("six",), (), (f"true {salt}",))
        assert tag is not None
        box.start_layer()  # a second call starts nothing more
        deadline = time.monotonic() + 540
        while box._image(tag) is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert box._image(tag) is not None, "the layer was not built without any group build"
        assert box.builds_run == 1
        # Too late to change a layer under way or built.
        assert box.use_inferred_layer(("numpy",)) == tag
    finally:
        box.close()
        if tag is not None:
            with contextlib.suppress(Exception):
                box.engine.remove_image(tag)


@pytest.mark.timeout(300)
def test_closing_while_the_layer_builds_in_the_background_leaves_nothing_behind(
    base_image: str, tmp_path: Path
) -> None:
    # Ctrl-C (pipeline._interruptible closes the sandbox) while start_layer's thread builds.
    run_id = f"test-{uuid.uuid4().hex[:10]}"
    box = DockerSandbox(run_id, tmp_path / "cache")
    salt = uuid.uuid4().hex[:8]
    escaped: list[BaseException | None] = []
    hook = threading.excepthook
    threading.excepthook = lambda args: escaped.append(args.exc_value)
    try:
        tag = box.use_inferred_layer(("six",), (), (f"true {salt}",))
        assert tag is not None
        box.start_layer()
        deadline = time.monotonic() + 120
        while not box.engine.containers([f"repograder.run={run_id}"]):
            assert time.monotonic() < deadline, "the layer's build container never started"
            time.sleep(0.1)
        box.close()
        builder = [t for t in threading.enumerate() if t.name == "shared-layer"]
        for thread in builder:
            thread.join(60)
            assert not thread.is_alive(), "the layer's thread hangs after close()"
        assert escaped == []
        assert box.engine.containers([f"repograder.run={run_id}"]) == []
        assert box.builds_run == 1
    finally:
        threading.excepthook = hook
        box.close()
        with contextlib.suppress(Exception):
            box.engine.remove_image(f"{tag}")


@pytest.mark.timeout(600)
def test_an_inferred_layer_whose_lines_exclude_each_other_is_built_without_versions(
    base_image: str, tmp_path: Path
) -> None:
    # Inferred one package at a time, two lines can exclude each other although each group
    # resolves its own (requests 2.31.0 needs idna>=2.5): the layer failed for the whole
    # course. Now the same packages are built without their versions.
    said: list[str] = []
    box = DockerSandbox(f"test-{uuid.uuid4().hex[:10]}", tmp_path / "cache", log=said.append)
    salt = uuid.uuid4().hex[:8]  # a layer no earlier run built
    inferred = box.use_inferred_layer(("requests==2.31.0", "idna==2.4"), (), (f"true {salt}",))
    built: tuple[str, str] | None = None
    try:
        built = box._parent_layer()
        assert built is not None, box.layer_error
        assert box.layer_error is None
        assert box.layer_fallback is not None
        assert box.layer_fallback[0] == ("requests", "idna")
        assert built[0] == box.common_tag
        assert built[0] != inferred
        assert box.builds_run == 2
        assert any("without their versions" in line for line in said)
    finally:
        box.close()
        if built is not None:
            with contextlib.suppress(Exception):
                box.engine.remove_image(built[0])


@pytest.mark.timeout(600)
def test_a_package_the_index_lacks_is_left_out_and_the_rubrics_apt_stays(
    base_image: str, tmp_path: Path
) -> None:
    # Half the course listing a package the index does not have failed the inferred layer,
    # and with it the rubric's `apt:` that rides on it: a group was told to install a program
    # the lecturer had already added (helper-35).
    box = DockerSandbox(f"test-{uuid.uuid4().hex[:10]}", tmp_path / "cache", inferred_apt=("jq",))
    salt = uuid.uuid4().hex[:8]
    box.use_inferred_layer(("rg-no-such-package-zz==1.0", "six"), (), (f"true {salt}",))
    built: tuple[str, str] | None = None
    try:
        built = box._parent_layer()
        assert built is not None, box.layer_error
        assert box.layer_fallback is not None
        assert box.layer_fallback[0] == ("six",)
        assert "rg-no-such-package-zz" in box.layer_fallback[2]
        assert "jq" in box.layer_apt
        assert box._image(built[0]) is not None
    finally:
        box.close()
        if built is not None:
            with contextlib.suppress(Exception):
                box.engine.remove_image(built[0])
