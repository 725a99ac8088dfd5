"""The Docker sandbox against a real engine: builds, cache reuse, sessions and containment."""

from __future__ import annotations

import os
import resource
import signal
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker_fixtures import base_image_fixture, docker_engine_fixture, sandbox_fixture  # noqa: F401

from repograder.detect import EnvKind, EnvSpec
from repograder.sandbox import docker as sandbox_docker
from repograder.sandbox.base import BuildResult, Limits
from repograder.sandbox.docker import DockerSandbox, DockerSession

pytestmark = pytest.mark.docker

LIMITS = Limits(memory_mb=256, pids=128, timeout_s=30, disk_mb=64, output_bytes=4096)


def _spec(*requirements: str) -> EnvSpec:
    return EnvSpec(
        kind=EnvKind.REQUIREMENTS,
        path="requirements.txt",
        reason="test",
        files=("requirements.txt",),
        requirements=requirements,
    )


def _checkout(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    (repo / "requirements.txt").write_text("six\n")
    (repo / "main.py").write_text("import six\nprint('six', six.__version__)\n")
    (repo / "data").mkdir()
    (repo / "data" / "keep.txt").write_text("evidence\n")
    (repo / "escape").symlink_to("/etc/hostname")
    os.mkfifo(repo / "pipe")
    return repo


@pytest.fixture(scope="module")
def six_build(
    sandbox: DockerSandbox, tmp_path_factory: pytest.TempPathFactory
) -> tuple[BuildResult, Path, EnvSpec]:
    repo = _checkout(tmp_path_factory.mktemp("six"))
    # A unique comment makes the hash fresh, so the first prepare really builds.
    spec = _spec("six", f"# {uuid.uuid4().hex}")
    build = sandbox.prepare(spec, repo, repo.parent / "logs")
    assert build.ok, build.log_excerpt
    return build, repo, spec


@pytest.fixture(scope="module")
def session(
    sandbox: DockerSandbox, six_build: tuple[BuildResult, Path, EnvSpec]
) -> Iterator[DockerSession]:
    build, repo, _ = six_build
    s = sandbox.open_session(build, repo, LIMITS)
    yield s
    s.close()


def _containers(label: str) -> list[object]:
    return docker.from_env().containers.list(all=True, filters={"label": [label]})


def test_requirements_build_installs_package(session: DockerSession, six_build) -> None:  # type: ignore[no-untyped-def]
    build, _, _ = six_build
    assert build.backend == "docker"
    assert build.image
    assert build.python_version == "3.11"
    assert build.log_path is not None
    assert "six" in build.log_path.read_text()
    result = session.run("python main.py")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("six 1.")


def test_build_log_says_when_each_phase_began(six_build) -> None:  # type: ignore[no-untyped-def]
    build, _, _ = six_build
    assert build.log_path is not None
    lines = build.log_path.read_text().splitlines()
    times = [float(line.split()[2]) for line in lines if line.startswith("[repograder] at ")]
    # one mark before each of the build script's own phase lines (resolving, installing, ...)
    assert len(times) >= 3
    marked = [lines[i + 1] for i, line in enumerate(lines) if line.startswith("[repograder] at ")]
    assert any(m.startswith("[repograder] installing") for m in marked)


def test_identical_spec_reuses_image_without_building(
    sandbox: DockerSandbox, six_build, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    build, repo, spec = six_build
    before = sandbox.builds_run
    again = sandbox.prepare(spec, repo, tmp_path / "logs")
    assert again.ok
    assert again.reused
    assert again.image == build.image
    assert again.content_hash == build.content_hash
    assert sandbox.builds_run == before


def test_concurrent_identical_builds_build_once(sandbox: DockerSandbox, tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    spec = _spec("six", f"# {uuid.uuid4().hex}")
    before = sandbox.builds_run
    results: list[BuildResult] = []

    def build(i: int) -> None:
        results.append(sandbox.prepare(spec, repo, tmp_path / f"logs{i}"))

    threads = [threading.Thread(target=build, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.ok for r in results)
    assert sorted(r.reused for r in results) == [False, True]
    assert len({r.image for r in results}) == 1
    assert sandbox.builds_run == before + 1


def test_missing_package_fails_with_its_name(sandbox: DockerSandbox, tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    build = sandbox.prepare(_spec("nonexistent-package-xyz-rg"), repo, tmp_path / "logs")
    assert not build.ok
    assert build.image is None
    assert "nonexistent-package-xyz-rg" in build.summary
    assert "nonexistent-package-xyz-rg" in build.log_excerpt
    assert build.log_path is not None
    assert build.log_path.is_file()


def test_pyproject_project_installed_with_console_script(
    sandbox: DockerSandbox, tmp_path: Path
) -> None:
    repo = tmp_path / "proj"
    (repo / "src" / "demo_rg").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "demo-rg"\nversion = "0.1"\n# {uuid.uuid4().hex}\n'
        '[project.scripts]\ndemo-rg-hello = "demo_rg:main"\n'
    )
    (repo / "src" / "demo_rg" / "__init__.py").write_text(
        "def main():\n    print('hello from demo')\n"
    )
    spec = EnvSpec(
        kind=EnvKind.PYPROJECT,
        path="pyproject.toml",
        reason="test",
        files=("pyproject.toml",),
        build_requires=("setuptools>=68",),
        install_project=True,
    )
    build = sandbox.prepare(spec, repo, tmp_path / "logs")
    assert build.ok, build.log_excerpt
    s = sandbox.open_session(build, repo, LIMITS)
    try:
        assert s.setup_result is not None, s.setup_result
        assert s.setup_result.exit_code == 0, s.setup_result
        result = s.run("demo-rg-hello && python -c 'import demo_rg; print(demo_rg.__file__)'")
        assert result.exit_code == 0, result.output
        assert "hello from demo" in result.output
        assert "/work/src/demo_rg" in result.output
    finally:
        s.close()


def test_runs_as_unprivileged_user_without_capabilities(session: DockerSession) -> None:
    result = session.run("id -u; grep CapEff /proc/self/status; touch /usr/x 2>&1; true")
    lines = result.output.splitlines()
    assert lines[0] == "1000"
    assert lines[1].split()[1] == "0000000000000000"
    assert "Read-only file system" in result.output


def test_network_is_off(session: DockerSession) -> None:
    result = session.run(
        "python -c \"import urllib.request; urllib.request.urlopen('http://1.1.1.1', timeout=5)\""
    )
    assert result.exit_code != 0
    assert "URLError" in result.output or "unreachable" in result.output


def test_thread_pools_follow_the_cpu_quota_unless_the_student_says_otherwise(
    session: DockerSession,
) -> None:
    # The host has more cores than the session's 1-CPU quota; OpenMP and OpenBLAS would size
    # their pools from the cores (docs/SANDBOX.md, "Threads under the CPU quota").
    probe = "python -c \"import os; print(os.environ['OMP_NUM_THREADS'], os.cpu_count() >= 1)\""
    assert session.run(probe).output.split() == ["1", "True"]
    assert session.run("export OMP_NUM_THREADS=3").exit_code == 0
    assert session.run(probe).output.split() == ["3", "True"]
    session.run("export OMP_NUM_THREADS=1")


def test_cd_and_export_carry_over(session: DockerSession) -> None:
    assert session.run("mkdir -p sub && cd sub && export RG_VAR=hello").exit_code == 0
    result = session.run('pwd; echo "$RG_VAR"')
    assert result.output.split() == ["/work/sub", "hello"]
    session.run("cd /work")


def test_checkout_on_host_untouched(session: DockerSession, six_build) -> None:  # type: ignore[no-untyped-def]
    _, repo, _ = six_build
    result = session.run("cat escape; rm -rf data; echo changed > main.py; echo new > new.txt; ls")
    assert result.exit_code == 0
    # The symlink resolves inside the container, never to the host's file.
    assert Path("/etc/hostname").read_text().strip() not in result.output.splitlines()[0]
    assert "pipe" not in result.output  # special files are not copied
    assert (repo / "data" / "keep.txt").read_text() == "evidence\n"
    assert "import six" in (repo / "main.py").read_text()
    assert not (repo / "new.txt").exists()
    assert session.read_file("new.txt", 100) == b"new\n"
    assert session.read_file("main.py", 3) == b"cha"
    assert session.read_file("missing.txt", 100) is None
    assert session.read_file("escape", 100) is None


def test_memory_hog_is_killed(session: DockerSession) -> None:
    result = session.run("python -c \"x = b'a' * (1024 * 1024 * 1024); print(len(x))\"")
    assert result.exit_code == 137, result.output
    assert session.run("echo alive").output == "alive\n"


def test_fork_storm_hits_pids_limit(session: DockerSession) -> None:
    result = session.run("for i in $(seq 300); do sleep 30 & done; wait", timeout_s=8)
    assert "Resource temporarily unavailable" in result.output
    assert session.run("echo alive", timeout_s=10).output == "alive\n"


def test_timeout_kills_and_keeps_output(session: DockerSession) -> None:
    result = session.run("echo before; sleep 1000", timeout_s=3)
    assert result.timed_out
    assert result.exit_code is None
    assert result.duration_s < 3 + 5
    assert result.output.startswith("before")


def test_infinite_output_is_capped(session: DockerSession) -> None:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = session.run("yes", timeout_s=4)
    assert result.timed_out
    assert result.output_bytes > 10 * LIMITS.output_bytes
    assert len(result.output_head) + len(result.output_tail) <= LIMITS.output_bytes
    assert result.output_head.startswith("y\ny\n")
    assert result.output_tail.endswith("y\n")
    assert "bytes omitted" in result.output
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 50_000  # KiB


def test_disk_filler_stops_at_limit(session: DockerSession) -> None:
    result = session.run("dd if=/dev/zero of=/work/big bs=1M count=5000", timeout_s=60)
    assert result.exit_code != 0
    assert "No space left on device" in result.output
    session.run("rm -f /work/big")


def test_disk_fillers_in_every_folder_stay_within_one_disk_budget(
    sandbox: DockerSandbox, six_build: tuple[BuildResult, Path, EnvSpec]
) -> None:
    """tmpfs pages count against the memory limit: three full folders of disk_mb each (192 MB)
    would exceed 128 MB and the engine would kill the session; one budget leaves room."""
    build, repo, _ = six_build
    limits = Limits(memory_mb=128, pids=128, timeout_s=60, disk_mb=64, output_bytes=4096)
    s = sandbox.open_session(build, repo, limits)
    try:
        fill = "; ".join(f"head -c 100M /dev/zero > {d}/fill" for d in ("/work", "/tmp", "~"))
        result = s.run(f"{fill}; du -cm /work/fill /tmp/fill ~/fill | tail -1", timeout_s=60)
        assert result.exit_code == 0, result.output  # the last command's
        assert result.output.count("No space left on device") == 3, result.output
        assert int(result.output.strip().splitlines()[-1].split()[0]) <= 64
        after = s.run("rm -f /work/fill /tmp/fill ~/fill; echo alive")
        assert after.exit_code == 0
        assert "alive" in after.output
    finally:
        s.close()


def test_close_removes_container_and_interrupt_is_safe(sandbox: DockerSandbox, six_build) -> None:  # type: ignore[no-untyped-def]
    build, repo, _ = six_build
    s = sandbox.open_session(build, repo, LIMITS)
    label = f"repograder.run={sandbox.run_id}"
    ids = {c.id for c in _containers(label)}  # type: ignore[attr-defined]
    assert s.container_id in ids
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        _run_then_close(s, "sleep 20")
    timer.cancel()
    assert s.container_id not in {c.id for c in _containers(label)}  # type: ignore[attr-defined]
    s.close()  # idempotent


def _run_then_close(s: DockerSession, command: str) -> None:
    """What the CLI does: close the session in ``finally`` whatever happens."""
    try:
        s.run(command)
    finally:
        s.close()


def test_clean_containers_removes_crashed_run(base_image: str, six_build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    build, repo, _ = six_build
    run_id = f"crashed-{uuid.uuid4().hex[:8]}"
    crashed = DockerSandbox(run_id, tmp_path)
    crashed.open_session(build, repo, LIMITS)
    # The process "died": nobody will close these, and the kernel dropped its run lock.
    crashed._tracker._ids.clear()
    crashed._run_lock.release(unlink=False)
    assert len(_containers(f"repograder.run={run_id}")) == 1
    assert sandbox_docker.clean_containers(run_id) == 1
    assert _containers(f"repograder.run={run_id}") == []


def test_clean_leaves_live_runs_alone_and_says_what_it_removed(
    base_image: str,
    six_build,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from repograder import cli

    build, repo, _ = six_build
    live_id, dead_id = f"live-{uuid.uuid4().hex[:8]}", f"dead-{uuid.uuid4().hex[:8]}"
    live = DockerSandbox(live_id, tmp_path / "live-cache")
    dead = DockerSandbox(dead_id, tmp_path / "dead-cache")
    try:
        session = live.open_session(build, repo, LIMITS)
        dead.open_session(build, repo, LIMITS)
        dead._tracker._ids.clear()
        dead._run_lock.release(unlink=False)  # as if that process had been killed
        dead_lock = dead._run_lock.path
        assert dead_lock.exists()
        # As a lecturer would from another terminal (flock tells live from dead in-process too).
        assert cli.main(["sandbox", "clean"]) == 0
        out = capsys.readouterr().out
        assert f"(run {dead_id})" in out.split("removed ", 1)[1]
        assert f"(run {live_id}): its run is still going on" in out
        assert _containers(f"repograder.run={dead_id}") == []
        assert not dead_lock.exists()  # the killed run's lock file went with its containers
        assert len(_containers(f"repograder.run={live_id}")) == 1
        assert session.run("echo still-here").output_head.strip() == "still-here"
        # --include-live is the lecturer's explicit choice.
        assert cli.main(["sandbox", "clean", "--run", live_id, "--include-live"]) == 0
        assert f"(run {live_id})" in capsys.readouterr().out
        assert _containers(f"repograder.run={live_id}") == []
    finally:
        live.close()
        dead.close()
