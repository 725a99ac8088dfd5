"""LocalSandbox: uv environments by content hash, and the bash session on a copy."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from repograder.detect import EnvKind, EnvSpec
from repograder.model import ExecResult
from repograder.sandbox.base import BuildResult, Limits
from repograder.sandbox.fake import FakeSandbox, exec_result
from repograder.sandbox.hostconfig import HostSettings, detect_host_settings
from repograder.sandbox.local import (
    LOCAL_BACKEND_WARNING,
    LocalSandbox,
    uv_error_summary,
)
from repograder.sandbox.localsession import LocalSession, scrubbed_environment


def _spec(*requirements: str, python: str | None = None, apt: tuple[str, ...] = ()) -> EnvSpec:
    return EnvSpec(
        kind=EnvKind.REQUIREMENTS,
        path="requirements.txt",
        reason="requirements.txt at the repository root",
        files=("requirements.txt",),
        requirements=requirements,
        apt_packages=apt,
        python_version=python,
    )


def _repo(tmp_path: Path, requirements: str = "") -> Path:
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    (repo / "requirements.txt").write_text(requirements)
    (repo / "data.txt").write_text("original\n")
    (repo / "sub" / "inner.txt").write_text("inner\n")
    os.symlink("/etc/hostname", repo / "link")
    return repo


@pytest.fixture(scope="module")
def pip_settings() -> HostSettings:
    return detect_host_settings()


def _snapshot(root: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            out[rel] = path.read_bytes()
        else:
            out[rel] = "dir"
    return out


# ------------------------------------------------------------------------------------ build


def test_build_installs_requirement_and_reuses_by_hash(tmp_path: Path, pip_settings: HostSettings):
    repo = _repo(tmp_path, "six\n")
    sandbox = LocalSandbox(tmp_path / "cache", "run1", host=pip_settings)
    first = sandbox.prepare(_spec("six"), repo, tmp_path / "logs1")
    assert first.ok, first.summary + first.log_excerpt
    assert first.backend == "local"
    assert not first.reused
    assert first.image is not None
    assert Path(first.image).is_relative_to(tmp_path / "cache" / "envs")
    assert (tmp_path / "cache" / "uv-cache").is_dir()
    assert first.python_version
    assert first.log_path is not None
    assert "six" in first.log_path.read_text()

    second = sandbox.prepare(_spec("six"), repo, tmp_path / "logs2")
    assert second.ok
    assert second.reused
    assert second.image == first.image
    assert second.content_hash == first.content_hash

    session = sandbox.open_session(first, repo, Limits(timeout_s=30))
    try:
        res = session.run("python -c 'import six, sys; print(six.__name__, sys.prefix)'")
        assert res.exit_code == 0, res.output
        assert "six" in res.output
        assert first.image in res.output
    finally:
        sandbox.close()

    # Different requirements, different environment.
    (repo / "requirements.txt").write_text("")
    third = sandbox.prepare(_spec(), repo, tmp_path / "logs3")
    assert third.ok
    assert third.content_hash != first.content_hash
    assert not third.reused


def test_build_failure_names_missing_package(tmp_path: Path, pip_settings: HostSettings):
    repo = _repo(tmp_path, "nonexistent-pkg-xyz-123\n")
    sandbox = LocalSandbox(tmp_path / "cache", "run1", host=pip_settings)
    result = sandbox.prepare(_spec("nonexistent-pkg-xyz-123"), repo, tmp_path / "logs")
    assert not result.ok
    assert "nonexistent-pkg-xyz-123" in result.summary
    assert "not found" in result.summary
    assert "nonexistent-pkg-xyz-123" in result.log_excerpt
    assert result.log_path is not None
    assert result.log_path.is_file()
    # A failed build is not cached as a good one.
    again = sandbox.prepare(_spec("nonexistent-pkg-xyz-123"), repo, tmp_path / "logs")
    assert not again.ok
    assert not again.reused


def test_unavailable_python_and_apt_packages_are_noted(tmp_path: Path):
    repo = _repo(tmp_path)
    sandbox = LocalSandbox(tmp_path / "cache", "run1", host=HostSettings())
    result = sandbox.prepare(_spec(python="2.1", apt=("ffmpeg",)), repo, tmp_path / "logs")
    assert result.ok, result.summary
    current = ".".join(str(v) for v in sys.version_info[:3])
    assert result.python_version == current
    assert any("Python 2.1" in note and current in note for note in result.notes)
    assert any("ffmpeg" in note for note in result.notes)
    assert result.notes[0] == LOCAL_BACKEND_WARNING
    reused = sandbox.prepare(_spec(python="2.1", apt=("ffmpeg",)), repo, tmp_path / "logs")
    assert reused.reused
    assert any("Python 2.1" in note for note in reused.notes)


def test_cpu_torch_from_host_find_links_is_preferred(tmp_path: Path) -> None:
    """A CPU torch wheel in the host's find-links is pinned, not GBs of CUDA from PyPI."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    # Not a real wheel: the resolver fails fast on it, after the constraint was written.
    (wheels / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"x")
    sandbox = LocalSandbox(tmp_path / "cache", "run1", host=HostSettings(find_links=(str(wheels),)))
    repo = _repo(tmp_path, "torch\n")
    build = sandbox.prepare(_spec("torch"), repo, tmp_path / "logs")
    log = (tmp_path / "logs" / "build.log").read_text()
    assert "torch==2.13.0+cpu" in log
    assert "--find-links" in log
    assert not build.ok


def test_uv_error_summary():
    log = (
        "Using Python 3.11.7 environment at: v\n"
        "error: No solution found when resolving dependencies\n"
        "  cause: Because nonexistent-pkg-xyz-123 was not found in the package registry and you"
        " require nonexistent-pkg-xyz-123, we can conclude that your requirements are"
        " unsatisfiable.\n"
    )
    assert uv_error_summary(log) == (
        "package 'nonexistent-pkg-xyz-123' was not found in the package index"
    )
    assert uv_error_summary("error: something broke\n") == "error: something broke"


def test_warning_constant_says_no_isolation():
    assert "without isolation" in LOCAL_BACKEND_WARNING
    assert LocalSandbox(Path("/nonexistent"), "x").isolates is False


# ---------------------------------------------------------------------------------- session


def test_session_state_carries_over_and_checkout_is_untouched(tmp_path: Path):
    repo = _repo(tmp_path)
    before = _snapshot(repo)
    session = LocalSession(repo, Limits(timeout_s=10))
    try:
        assert session.run("cd sub").exit_code == 0
        assert session.run("pwd").output.strip().endswith("/work/sub")
        assert session.run("export GREETING=hello").exit_code == 0
        assert session.run("echo $GREETING").output.strip() == "hello"
        assert session.run("cat inner.txt").output.strip() == "inner"
        # A failing command keeps the state it built up so far.
        assert session.run("cd .. && export LATER=2 && exit 4").exit_code == 4
        assert session.run("echo $LATER; cat data.txt").output.split() == ["2", "original"]
        # Modify everything in the copy.
        assert session.run("echo changed > data.txt; rm sub/inner.txt; touch new").exit_code == 0
        assert session.run("cat data.txt").output.strip() == "changed"
        assert session.run("test -L link").exit_code == 0  # links stay links
        assert session.read_file("data.txt", 100) == b"changed\n"
        assert session.read_file("link", 100) is None  # never through a symlink
        assert session.read_file("missing", 100) is None
    finally:
        session.close()
    assert _snapshot(repo) == before
    assert not session.workdir.exists()
    session.close()  # idempotent


def test_tokens_are_not_visible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_leak1")
    monkeypatch.setenv("REPOGRADER_GIT_TOKEN", "leak2")
    monkeypatch.setenv("MY_SERVICE_SECRET", "leak3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "leak4")
    monkeypatch.setenv("HARMLESS_SETTING", "visible")
    session = LocalSession(_repo(tmp_path), Limits(timeout_s=10))
    try:
        out = session.run("env").output
    finally:
        session.close()
    for leak in ("ghp_leak1", "leak2", "leak3", "leak4"):
        assert leak not in out
    assert "HARMLESS_SETTING=visible" in out
    assert f"HOME={session.workdir.parent}/home" in out
    assert scrubbed_environment({"A_TOKEN": "x", "PATH": "/bin"}) == {"PATH": "/bin"}


def test_timeout_kills_process_group_and_keeps_output(tmp_path: Path):
    session = LocalSession(_repo(tmp_path), Limits(timeout_s=10))
    try:
        start = time.monotonic()
        res = session.run("echo before; sleep 60 & sleep 60; echo never", timeout_s=1)
        elapsed = time.monotonic() - start
        assert res.timed_out
        assert res.exit_code is None
        assert elapsed < 3
        assert "before" in res.output
        assert "never" not in res.output
        # The session still works afterwards.
        assert session.run("echo after").output.strip() == "after"
    finally:
        session.close()


def test_endless_output_is_capped(tmp_path: Path):
    session = LocalSession(_repo(tmp_path), Limits(timeout_s=20, output_bytes=4096))
    try:
        res = session.run("echo FIRST; yes | head -c 50000000; echo; echo LAST")
    finally:
        session.close()
    assert res.exit_code == 0
    assert res.output_bytes > 50_000_000
    assert res.output_head.startswith("FIRST")
    assert res.output_tail.rstrip().endswith("LAST")
    assert len(res.output_head) <= 2048
    assert len(res.output_tail) <= 2048
    assert "bytes omitted" in res.output


def test_memory_limit_applies(tmp_path: Path):
    session = LocalSession(_repo(tmp_path), Limits(timeout_s=20, memory_mb=200))
    try:
        res = session.run("python -c 'x = bytearray(600 * 1024 * 1024)'")
        small = session.run("python -c 'x = bytearray(20 * 1024 * 1024); print(len(x))'")
    finally:
        session.close()
    assert res.exit_code != 0
    assert "MemoryError" in res.output
    assert small.exit_code == 0, small.output


def test_background_process_does_not_block_and_is_killed_on_close(tmp_path: Path):
    session = LocalSession(_repo(tmp_path), Limits(timeout_s=10))
    try:
        start = time.monotonic()
        res = session.run("sleep 120 & echo $! > pid.txt; echo started")
        assert time.monotonic() - start < 3
        assert res.exit_code == 0
        data = session.read_file("pid.txt", 100)
        assert data is not None
        pid = int(data)
        assert _alive(pid)
    finally:
        session.close()
    time.sleep(0.2)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    # A killed orphan may linger as a zombie until init reaps it: that counts as dead.
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


# ------------------------------------------------------------------------------------- fake


def test_fake_sandbox_records_calls(tmp_path: Path):
    fake = FakeSandbox({"python train.py": exec_result(1, "boom")}, build_ok=False)
    build = fake.prepare(_spec("six"), tmp_path, tmp_path / "logs")
    assert not build.ok
    session = fake.open_session(build, tmp_path, Limits())
    assert session.run("python train.py").exit_code == 1
    assert session.run("ls", 5).exit_code == 0
    assert fake.commands == ["python train.py", "ls"]
    assert fake.prepared[0].spec.requirements == ("six",)
    fake.close()
    assert session.closed

    def answer(command: str) -> ExecResult:
        return exec_result(timed_out=True) if "sleep" in command else exec_result(0, command)

    other = FakeSandbox(answer)
    sess = other.open_session(
        BuildResult(True, "fake", None, False, "h", 0.0, ""), tmp_path, Limits()
    )
    assert sess.run("sleep 9").timed_out
    assert sess.run("echo").output == "echo"


def test_install_project_layers_over_cached_env(tmp_path: Path, pip_settings: HostSettings):
    repo = tmp_path / "proj"
    (repo / "src" / "audiotool").mkdir(parents=True)
    (repo / "src" / "audiotool" / "__init__.py").write_text("NAME = 'audiotool'\n")
    (repo / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "audiotool"\nversion = "0.1"\ndependencies = ["six"]\n'
    )
    spec = EnvSpec(
        kind=EnvKind.PYPROJECT,
        path="pyproject.toml",
        reason="pyproject.toml at the repository root",
        files=("pyproject.toml",),
        requirements=("six",),
        install_project=True,
    )
    before = _snapshot(repo)
    sandbox = LocalSandbox(tmp_path / "cache", "run1", host=pip_settings)
    build = sandbox.prepare(spec, repo, tmp_path / "logs")
    assert build.ok, build.summary
    session = sandbox.open_session(build, repo, Limits(timeout_s=30))
    try:
        res = session.run("cd /; python -c 'import audiotool, six; print(audiotool.NAME)'")
        assert res.exit_code == 0, res.output
        assert res.output.strip() == "audiotool"
    finally:
        sandbox.close()
    assert build.image is not None
    # The shared cached environment does not point at the session's deleted copy.
    cached = list(Path(build.image).glob("lib/python*/site-packages/*audiotool*"))
    assert cached == []
    assert _snapshot(repo) == before
