"""Layered environments on a real engine: a shared layer under each group's exact environment."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker_fixtures import base_image_fixture, docker_engine_fixture  # noqa: F401

from repograder.detect import EnvKind, EnvSpec
from repograder.sandbox.base import BuildResult, Limits
from repograder.sandbox.docker import DockerSandbox, clean_containers, warmup

pytestmark = pytest.mark.docker

LIMITS = Limits(memory_mb=256, pids=128, timeout_s=60, disk_mb=64, output_bytes=4096)
VERSIONS = (
    "import importlib.metadata as m\n"
    "for n in ('six', 'idna', 'packaging'):\n"
    "    try:\n"
    "        print(n, m.version(n))\n"
    "    except m.PackageNotFoundError:\n"
    "        print(n, 'absent')\n"
)


def _repo(root: Path, name: str, *requirements: str) -> tuple[Path, EnvSpec]:
    repo = root / name
    repo.mkdir()
    (repo / "requirements.txt").write_text("\n".join(requirements) + "\n")
    (repo / "versions.py").write_text(VERSIONS)
    spec = EnvSpec(
        kind=EnvKind.REQUIREMENTS,
        path="requirements.txt",
        reason="test",
        files=("requirements.txt",),
        requirements=requirements,
    )
    return repo, spec


@pytest.fixture(scope="module", name="layered")
def layered_fixture(
    base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockerSandbox]:
    """A sandbox whose shared layer (six, idna) is new: the unique comment changes its hash."""
    run_id = f"test-{uuid.uuid4().hex[:10]}"
    common = ("six", "idna", f"# {uuid.uuid4().hex}")
    box = DockerSandbox(run_id, tmp_path_factory.mktemp("cache"), common=common)
    yield box
    box.close()
    assert clean_containers(run_id) == 0


def _versions(box: DockerSandbox, build: BuildResult, repo: Path) -> dict[str, str]:
    session = box.open_session(build, repo, LIMITS)
    try:
        result = session.run("python versions.py")
    finally:
        session.close()
    assert result.exit_code == 0, result.output_head
    return dict(line.split() for line in result.output_head.strip().splitlines())


def test_groups_build_on_the_shared_layer_and_get_exactly_their_requirements(
    layered: DockerSandbox, tmp_path: Path
) -> None:
    client = docker.from_env()
    a_repo, a_spec = _repo(tmp_path, "a", "six", f"# {uuid.uuid4().hex}")
    b_repo, b_spec = _repo(tmp_path, "b", "six", "idna==3.4", f"# {uuid.uuid4().hex}")
    c_repo, c_spec = _repo(tmp_path, "c", "six", "packaging", f"# {uuid.uuid4().hex}")
    a = layered.prepare(a_spec, a_repo, tmp_path / "logs-a")
    b = layered.prepare(b_spec, b_repo, tmp_path / "logs-b")
    c = layered.prepare(c_spec, c_repo, tmp_path / "logs-c")
    for build in (a, b, c):
        assert build.ok, build.log_excerpt
    assert layered.common_tag is not None
    common = client.images.get(layered.common_tag)
    assert common.labels["repograder.layer"] == "common"
    for build in (a, b, c):
        assert build.image is not None
        image = client.images.get(build.image)
        # docker commit records the image the build container ran: the shared layer.
        assert image.attrs["Parent"] == common.id
        assert image.labels["repograder.layer"] == "group"
    # a asked for six only: idna from the shared layer must not mask a missing requirement.
    got_a = _versions(layered, a, a_repo)
    assert got_a["six"] != "absent"
    assert got_a["idna"] == "absent"
    assert got_a["packaging"] == "absent"
    # b pins an older idna than the shared layer's: it gets exactly its pin.
    got_b = _versions(layered, b, b_repo)
    assert got_b["idna"] == "3.4"
    # c adds a package the shared layer lacks.
    got_c = _versions(layered, c, c_repo)
    assert got_c["packaging"] != "absent"
    assert got_c["idna"] == "absent"
    log = (tmp_path / "logs-a" / "build.log").read_text()
    assert "removing packages of the shared layer" in log
    assert "idna" in log


def test_shared_layer_is_built_once_and_reused(layered: DockerSandbox, tmp_path: Path) -> None:
    repo, spec = _repo(tmp_path, "d", "idna", f"# {uuid.uuid4().hex}")
    builds_before = layered.builds_run
    first = layered.prepare(spec, repo, tmp_path / "logs-1")
    again = layered.prepare(spec, repo, tmp_path / "logs-2")
    assert first.ok
    assert not first.reused
    assert again.reused
    assert again.image == first.image
    # the shared layer was built by the first test (or here) and never again
    assert layered.builds_run - builds_before <= 2


def test_identity_and_hashes_change_with_the_shared_layer(base_image: str, tmp_path: Path) -> None:
    plain = DockerSandbox("test-id-a", tmp_path / "c1")
    one = DockerSandbox("test-id-b", tmp_path / "c2", common=("six",))
    two = DockerSandbox("test-id-c", tmp_path / "c3", common=("six", "idna"))
    try:
        assert len({plain.identity, one.identity, two.identity}) == 3
        assert plain.common_tag is None
        assert one.common_tag != two.common_tag
    finally:
        for box in (plain, one, two):
            box.close()


def test_warmup_caches_reach_every_session(base_image: str, tmp_path: Path) -> None:
    warm = "mkdir -p $HOME/.cache/numba && echo compiled > $HOME/.cache/numba/marker"
    box = DockerSandbox(
        f"test-{uuid.uuid4().hex[:10]}",
        tmp_path / "cache",
        common=("six", f"# {uuid.uuid4().hex}"),
        warmup=(warm,),
    )
    try:
        repo, spec = _repo(tmp_path, "w", "six", f"# {uuid.uuid4().hex}")
        build = box.prepare(spec, repo, tmp_path / "logs")
        assert build.ok, build.log_excerpt
        session = box.open_session(build, repo, LIMITS)
        try:
            result = session.run('cat "$NUMBA_CACHE_DIR/marker"')
        finally:
            session.close()
        assert result.output_head.strip() == "compiled"
    finally:
        box.close()


def test_warm_home_stays_out_of_the_image_and_is_redone_for_another_cache(
    base_image: str, tmp_path: Path
) -> None:
    # The warm-up runs while the layer is committed: what it leaves in HOME is kept beside the
    # layer (a tar in the cache folder), never in the image; a cache folder without that tar
    # (another user, a cleaned cache) warms the existing layer up again instead of rebuilding.
    warm = (
        "mkdir -p $HOME/.cache/numba && echo compiled > $HOME/.cache/numba/marker && "
        "echo $TMPDIR > $HOME/tmpdir"
    )
    common = ("six", f"# {uuid.uuid4().hex}")
    repo, spec = _repo(tmp_path, "w", "six", f"# {uuid.uuid4().hex}")
    seen: list[str] = []
    for cache in ("c1", "c2"):
        box = DockerSandbox(
            f"test-{uuid.uuid4().hex[:10]}", tmp_path / cache, common=common, warmup=(warm,)
        )
        try:
            build = box.prepare(spec, repo, tmp_path / f"logs-{cache}")
            assert build.ok, build.log_excerpt
            layer_tag = box.common_tag
            assert layer_tag is not None
            layer_hash = layer_tag.rsplit("-", 1)[1]
            kept = list((tmp_path / cache / "warm").glob(f"{layer_hash}*.tar"))
            assert len(kept) == 1, "the warm home is kept beside the layer"
            session = box.open_session(build, repo, LIMITS)
            try:
                result = session.run('cat "$NUMBA_CACHE_DIR/marker" "$HOME/tmpdir"')
            finally:
                session.close()
            seen.append(result.output_head)
            if cache == "c2":
                assert box.builds_run == 0, "the layer and the group image were reused"
        finally:
            box.close()
    for text in seen:
        marker, tmpdir = text.split()
        assert marker == "compiled"
        assert tmpdir.startswith("/home/student/")  # TMPDIR was inside the warm home
    client = docker.from_env()
    home = client.containers.run(layer_tag, ["ls", "-A", "/home/student"], remove=True)
    assert not {".cache", "tmpdir"} & set(home.decode().split()), "no warm-up file in the image"
    assert client.containers.run(layer_tag, ["ls", "-A", "/tmp"], remove=True).strip() == b""


def test_stray_file_names_a_file_of_the_warm_up_user_left_in_an_image(
    base_image: str, tmp_path: Path
) -> None:
    # The warm-up runs as nobody while the layer is committed: a file it created in a
    # world-writable folder (/tmp, /var/tmp) can be in the image, and every group inherits it.
    client = docker.from_env()
    planter = client.containers.run(
        base_image,
        ["sh", "-c", "touch /var/tmp/planted && chown 65534:65534 /var/tmp/planted"],
        user="0:0",
        detach=True,
    )
    tag = f"repograder-test-stray:{uuid.uuid4().hex[:10]}"
    try:
        planter.wait(timeout=60)
        repository, name = tag.split(":")
        planter.commit(repository=repository, tag=name)
        box = DockerSandbox(f"test-{uuid.uuid4().hex[:10]}", tmp_path / "cache")
        try:
            assert warmup.stray_file(box._builder, tag) == "/var/tmp/planted"
            assert warmup.stray_file(box._builder, base_image) == ""
        finally:
            box.close()
    finally:
        planter.remove(force=True)
        client.images.remove(tag, force=True)


def test_a_layer_whose_warm_up_left_a_file_fails_without_waiting_for_the_warm_up(
    base_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The committed image is checked while the warm-up still runs; a stray file removes the
    # layer and stops the warm-up (here one that would take two minutes), and the group is
    # built on the base image with a note instead.
    monkeypatch.setattr(warmup, "stray_file", lambda _builder, _image: "/tmp/planted")
    box = DockerSandbox(
        f"test-{uuid.uuid4().hex[:10]}",
        tmp_path / "cache",
        common=("six", f"# {uuid.uuid4().hex}"),
        warmup=("sleep 120",),
    )
    try:
        repo, spec = _repo(tmp_path, "s", "six", f"# {uuid.uuid4().hex}")
        began = time.monotonic()
        build = box.prepare(spec, repo, tmp_path / "logs")
        took = time.monotonic() - began
        assert build.ok, build.log_excerpt
        assert any("the warm-up wrote outside its home (/tmp/planted)" in n for n in build.notes)
        assert box.common_tag is not None
        assert docker.from_env().images.list(name=box.common_tag) == []
        assert took < 90, f"the build waited for the warm-up ({took:.0f} s)"
    finally:
        box.close()
