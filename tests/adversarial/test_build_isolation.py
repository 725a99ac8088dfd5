"""Cross-group isolation of environment builds: no student code ever writes the shared uv cache.

Builds run student-controlled code (sdists' setup.py, build backends, wheels' ``.pth`` files
once the venv's python starts) as uid 1000 *with network*. Whatever a build can write and a
later build of another group reads is a channel from one group's grading into another's. The
rule (docs/SANDBOX.md): the shared cache is mounted only while root installs wheels with
``--no-build``, and is root-only (0700) then; anything that needs building is rebuilt in a new
container without the shared cache.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.types
import pytest
from attack_repos import base_image_fixture  # noqa: F401
from build_packages import plant_code, pth_line, with_find_links, write_sdist, write_wheel

from docker_fake import WrappedEngine
from repograder.detect import EnvKind, EnvSpec
from repograder.sandbox import docker as sandbox_docker
from repograder.sandbox.base import BuildResult, Limits
from repograder.sandbox.docker import engine as docker_engine
from repograder.sandbox.docker.engine import ContainerSpec

pytestmark = pytest.mark.docker

LIMITS = Limits(memory_mb=256, pids=128, timeout_s=60, disk_mb=64, output_bytes=8192)


def _spec(*requirements: str) -> EnvSpec:
    return EnvSpec(
        kind=EnvKind.REQUIREMENTS,
        path="requirements.txt",
        reason="test",
        files=("requirements.txt",),
        requirements=requirements,
    )


def _repo(root: Path, *requirements: str) -> Path:
    repo = root / "repo"
    repo.mkdir(parents=True)
    (repo / "requirements.txt").write_text("\n".join(requirements) + "\n")
    return repo


@pytest.fixture(name="spy")
def spy_fixture() -> list[ContainerSpec]:
    """Every build container started (they still start) by sandboxes made with ``_sandbox``."""
    return []


@pytest.fixture(name="box_factory")
def box_factory_fixture(
    base_image: str, tmp_path: Path
) -> Iterator[list[sandbox_docker.DockerSandbox]]:
    boxes: list[sandbox_docker.DockerSandbox] = []
    yield boxes
    for box in boxes:
        box.close()
        assert sandbox_docker.clean_containers(box.run_id) == 0


def _sandbox(
    boxes: list[sandbox_docker.DockerSandbox],
    links: Path,
    cache: Path,
    spy: list[ContainerSpec],
    common: tuple[str, ...] = (),
) -> sandbox_docker.DockerSandbox:
    def record(method: str, args: tuple[Any, ...], _kwargs: dict[str, Any]) -> None:
        if method == "run_container" and args[0].mem_limit == sandbox_docker.BUILD_MEMORY:
            spy.append(args[0])

    engine = WrappedEngine(docker_engine.connect(), record)
    box = sandbox_docker.DockerSandbox(
        f"iso-{uuid.uuid4().hex[:8]}",
        cache,
        host=with_find_links(links),
        engine=engine,  # type: ignore[arg-type]
        common=common,
    )
    boxes.append(box)
    return box


def _shared_cache_markers(token: str) -> str:
    """Names of planted markers in the shared cache volume (read as root: it is 0700)."""
    out = docker.from_env().containers.run(
        sandbox_docker.BASE_IMAGE,
        ["sh", "-c", f"find {sandbox_docker.UV_CACHE_MOUNT} -name 'RG-PLANT-{token}*'"],
        user="0:0",
        remove=True,
        mounts=[
            docker.types.Mount(
                sandbox_docker.UV_CACHE_MOUNT,
                sandbox_docker.UV_CACHE_VOLUME,
                type="volume",
                read_only=True,
            )
        ],
    )
    return bytes(out).decode().strip()


def _run(box: sandbox_docker.DockerSandbox, build: BuildResult, repo: Path, cmd: str) -> str:
    session = box.open_session(build, repo, LIMITS)
    try:
        result = session.run(cmd)
    finally:
        session.close()
    assert result.exit_code == 0, result.output_head
    return result.output_head


def test_student_build_code_cannot_write_the_shared_package_cache(
    box_factory: list[sandbox_docker.DockerSandbox],
    spy: list[ContainerSpec],
    tmp_path: Path,
) -> None:
    token = uuid.uuid4().hex[:10]
    links = tmp_path / "links"
    links.mkdir()
    # An sdist-only package whose setup.py plants, and a wheel whose .pth plants whenever the
    # venv's python starts with its site module (uv's interpreter query, a student's step;
    # layer.py and its compiling run with -S).
    sdist = f"rgplant{token}"
    wheel = f"rgpth{token}"
    write_sdist(links, sdist, "1.0", plant_code(token, "setup"))
    pth = pth_line(plant_code(token, "pth"))
    write_wheel(links, wheel, "1.0", {f"{wheel}.pth": pth, f"{wheel}/__init__.py": ""})
    repo = _repo(tmp_path, sdist, wheel)
    box = _sandbox(box_factory, links, tmp_path / "cache", spy)

    build = box.prepare(_spec(sdist, wheel), repo, tmp_path / "logs")

    assert build.ok, build.log_excerpt
    assert sandbox_docker.SOURCE_BUILD_NOTE in build.notes
    assert _shared_cache_markers(token) == ""
    evidence = _run(box, build, repo, f"cat /opt/venv/rg-evidence-{token}.txt")
    lines = evidence.strip().splitlines()
    # The hostile code did run, never as root, and never reached the shared volume. (The .pth
    # file no longer runs in the build at all: the build's own python starts use -S.)
    assert any(line.startswith("setup ") for line in lines), evidence
    assert not any(" uid=0 " in line for line in lines), evidence
    # Two containers: wheels only with the cache, then the source build without it.
    assert len(spy) == 2
    first, second = ([m for m in spec.mounts if m.type == "volume"] for spec in spy)
    assert [m.target for m in first] == [sandbox_docker.UV_CACHE_MOUNT]
    assert second == []
    for spec in spy:
        binds = [m for m in spec.mounts if m.type == "bind"]
        assert binds, "the CA bundle and the find-links folder are mounted"
        assert all(m.read_only for m in binds), binds
        assert str(links) in {m.target for m in binds}


def _wheel_and_sdist(
    box_factory: list[sandbox_docker.DockerSandbox],
    spy: list[ContainerSpec],
    tmp_path: Path,
    prefix: str,
    wheel: str,
    sdist: str,
) -> tuple[str, str, sandbox_docker.DockerSandbox]:
    """(token, name, sandbox): a find-links folder where package ``name`` has a wheel of
    version ``wheel`` and only an sdist of ``sdist`` (whose setup.py leaves ``token``'s
    markers); ``VERSION`` in the package says which one was installed."""
    token = uuid.uuid4().hex[:10]
    links = tmp_path / "links"
    links.mkdir()
    name = f"{prefix}{token}"
    write_wheel(links, name, wheel, {f"{name}/__init__.py": f"VERSION = {wheel!r}\n"})
    write_sdist(links, name, sdist, plant_code(token, "setup"))
    return token, name, _sandbox(box_factory, links, tmp_path / "cache", spy)


def test_all_wheels_stay_on_the_shared_cache_and_newer_sdists_are_built(
    box_factory: list[sandbox_docker.DockerSandbox],
    spy: list[ContainerSpec],
    tmp_path: Path,
) -> None:
    # 1.0 has a wheel, 2.0 only an sdist: `--no-build` alone would silently pick 1.0.
    token, name, box = _wheel_and_sdist(box_factory, spy, tmp_path, "rgold", "1.0", "2.0")

    pinned_repo = _repo(tmp_path / "a", f"{name}==1.0")
    pinned = box.prepare(_spec(f"{name}==1.0"), pinned_repo, tmp_path / "logs-a")
    assert pinned.ok, pinned.log_excerpt
    assert sandbox_docker.SOURCE_BUILD_NOTE not in pinned.notes
    assert len(spy) == 1  # wheels only: one container, with the shared cache
    assert pinned.log_path is not None
    assert "--no-build" in pinned.log_path.read_text()
    code = f"python -c 'import {name}; print({name}.VERSION)'"
    assert _run(box, pinned, pinned_repo, code).strip() == "1.0"

    latest_repo = _repo(tmp_path / "b", name)
    latest = box.prepare(_spec(name), latest_repo, tmp_path / "logs-b")
    assert latest.ok, latest.log_excerpt
    assert sandbox_docker.SOURCE_BUILD_NOTE in latest.notes
    assert _run(box, latest, latest_repo, code).strip() == "2.0"
    assert _shared_cache_markers(token) == ""


def test_a_newer_pre_release_without_a_wheel_is_no_reason_to_build_from_source(
    box_factory: list[sandbox_docker.DockerSandbox],
    spy: list[ContainerSpec],
    tmp_path: Path,
) -> None:
    # Found by a review: the index had numpy 2.5.0rc1 with no wheel for cp311, and every
    # unpinned numpy went to a second, source-build container (that installed the same 2.4.6).
    _token, name, box = _wheel_and_sdist(box_factory, spy, tmp_path, "rgpre", "1.0", "2.0rc1")
    repo = _repo(tmp_path, name)

    build = box.prepare(_spec(name), repo, tmp_path / "logs")

    assert build.ok, build.log_excerpt
    assert sandbox_docker.SOURCE_BUILD_NOTE not in build.notes
    assert len(spy) == 1  # wheels only: one container
    code = f"python -c 'import {name}; print({name}.VERSION)'"
    assert _run(box, build, repo, code).strip() == "1.0"


def test_a_newer_pre_release_counts_when_the_group_asks_for_pre_releases(
    box_factory: list[sandbox_docker.DockerSandbox],
    spy: list[ContainerSpec],
    tmp_path: Path,
) -> None:
    # pip takes a pre-release when the specifier names one: so must the newer-sdist probe.
    token, name, box = _wheel_and_sdist(box_factory, spy, tmp_path, "rgrc", "2.0rc1", "2.0rc2")
    repo = _repo(tmp_path, f"{name}>=2.0rc1")

    build = box.prepare(_spec(f"{name}>=2.0rc1"), repo, tmp_path / "logs")

    assert build.ok, build.log_excerpt
    assert sandbox_docker.SOURCE_BUILD_NOTE in build.notes
    code = f"python -c 'import {name}; print({name}.VERSION)'"
    assert _run(box, build, repo, code).strip() == "2.0rc2"
    assert _shared_cache_markers(token) == ""


# A wheel's script named like a system program: once installed it is first on the image's
# PATH (/opt/venv/bin). It records who ran it, then runs the real program.
SHADOW = """#!python
import os, sys
line = {cmd!r} + " uid=" + str(os.getuid()) + "\\n"
for path in ("/opt/venv/rg-evidence-{token}.txt", "/tmp/rg-evidence-{token}.txt"):
    try:
        with open(path, "a") as handle:
            handle.write(line)
    except OSError:
        pass
for folder in ("/usr/bin", "/bin", "/usr/sbin", "/sbin"):
    if os.path.exists(os.path.join(folder, {cmd!r})):
        os.execv(os.path.join(folder, {cmd!r}), [{cmd!r}, *sys.argv[1:]])
"""
SHADOWED = (
    "cat", "find", "chown", "chmod", "rm", "sleep", "tar", "grep", "sed", "xargs", "sort",
    "ls", "mkdir", "setsid", "tee", "sh", "bash", "wc", "tail",
)  # fmt: skip


def test_root_never_runs_a_program_a_wheel_puts_on_the_path(
    box_factory: list[sandbox_docker.DockerSandbox],
    spy: list[ContainerSpec],
    tmp_path: Path,
) -> None:
    # Found by a review: root's handover (`find ... -exec chown`), the uv-cache read-ahead
    # (`xargs cat`) and the containers' main process (`sleep`) were looked up on the image's
    # PATH, which starts with the venv's bin folder, with the shared cache mounted.
    token = uuid.uuid4().hex[:10]
    links = tmp_path / "links"
    links.mkdir()
    name = f"rgshadow{token}"
    scripts = {
        f"{name}-1.0.data/scripts/{cmd}": SHADOW.format(cmd=cmd, token=token) for cmd in SHADOWED
    }
    write_wheel(links, name, "1.0", {f"{name}/__init__.py": "", **scripts})
    repo = _repo(tmp_path, name)
    box = _sandbox(box_factory, links, tmp_path / "cache", spy)

    build = box.prepare(_spec(name), repo, tmp_path / "logs")

    assert build.ok, build.log_excerpt
    assert sandbox_docker.SOURCE_BUILD_NOTE not in build.notes  # wheels only, cache mounted
    evidence = _run(
        box, build, repo, f"cat /opt/venv/rg-evidence-{token}.txt /tmp/rg-evidence-{token}.txt"
    )
    lines = evidence.strip().splitlines()
    assert "cat uid=1000" in lines, evidence  # the student's own step runs them, as uid 1000
    assert not [line for line in lines if line.endswith(" uid=0")], evidence
    assert _shared_cache_markers(token) == ""


# A .pth file of a shared-layer package: whoever owns the venv and starts its interpreter (uv's
# interpreter query in the layer's build, as uid 1000) replaces bin/python with a script that
# logs who starts it and runs the real interpreter as the venv's (argv[0] kept).
SWAP_PYTHON = """
import os
path = "/opt/venv/bin/python"
if os.path.islink(path) and os.access(os.path.dirname(path), os.W_OK):
    real = os.path.realpath(path)
    with open(path + ".rg", "w") as handle:
        handle.write(
            "#!/bin/bash\\n"
            'echo "python uid=$(/usr/bin/id -u)" >> /opt/venv/rg-evidence-{token}.txt\\n'
            f'exec -a "$0" {{real}} "$@"\\n'
        )
    os.chmod(path + ".rg", 0o755)
    os.replace(path + ".rg", path)
"""


def test_a_package_of_the_shared_layer_never_runs_as_root_in_a_group_build(
    box_factory: list[sandbox_docker.DockerSandbox],
    spy: list[ContainerSpec],
    tmp_path: Path,
) -> None:
    # A layer's venv interpreter is whatever the layer's packages made of it (here bin/python
    # swapped by a .pth file; equally a wheel's pyvenv.cfg). Root installed a group's difference
    # to the layer with the shared cache and started that interpreter (layer.py, uv's
    # interpreter query): the package ran as uid 0 with the shared cache mounted.
    token = uuid.uuid4().hex[:10]
    links = tmp_path / "links"
    links.mkdir()
    shared, own = f"rgswap{token}", f"rgown{token}"
    pth = pth_line(SWAP_PYTHON.format(token=token))
    write_wheel(links, shared, "1.0", {f"{shared}.pth": pth, f"{shared}/__init__.py": ""})
    write_wheel(links, own, "1.0", {f"{own}/__init__.py": ""})
    repo = _repo(tmp_path, shared, own)
    box = _sandbox(box_factory, links, tmp_path / "cache", spy, common=(shared,))

    build = box.prepare(_spec(shared, own), repo, tmp_path / "logs")

    assert build.ok, build.log_excerpt
    show = f"python -c 'import {own}'; cat /opt/venv/rg-evidence-{token}.txt"
    lines = _run(box, build, repo, show).strip().splitlines()
    assert "python uid=1000" in lines, lines  # the swapped interpreter is the venv's
    assert not [line for line in lines if line.endswith(" uid=0")], lines
    # The layer was built with the shared cache, the group's difference without it.
    volumes = [[m.target for m in spec.mounts if m.type == "volume"] for spec in spy]
    assert volumes == [[sandbox_docker.UV_CACHE_MOUNT], []], volumes
