"""The Docker backend's build, session, run and cache logic against a fake engine (no Docker).

The real engine's behaviour is covered by the docker-marked tests; these pin what the grader
itself decides: labels, removal, retries, the shared-cache phases, deadlines, who decides an
exit code, and the order of `cache prune`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from docker_fake import HANG, FakeEngine, FakeExec, capture_line
from repograder import cachemgr
from repograder.detect import EnvKind, EnvSpec
from repograder.errors import InfrastructureError
from repograder.sandbox import buildplan
from repograder.sandbox.base import BuildResult, Limits
from repograder.sandbox.docker import (
    SOURCE_BUILD_NOTE,
    UV_CACHE_MOUNT,
    DockerCaches,
    DockerSandbox,
    build,
    clean_leftovers,
    engine,
    warmup,
)
from repograder.sandbox.docker.engine import EngineError, ImageUsage
from repograder.sandbox.docker.runs import RunLock
from repograder.sandbox.docker.session import (
    THREAD_POOL_VARS,
    DockerSession,
    session_spec,
    thread_pool_env,
    tmpfs_sizes,
)
from repograder.sandbox.helpers import END_STUDENT_PROCESSES
from repograder.sandbox.hostconfig import HostSettings

LIMITS = Limits(memory_mb=256, pids=64, timeout_s=30, disk_mb=32, output_bytes=4096)
RUN = "fake-run"


@pytest.fixture(autouse=True)
def _no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "ENGINE_RETRY_S", 0.0)


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "requirements.txt").write_text("six\n")
    (repo / "main.py").write_text("print('hi')\n")
    return repo


def _spec() -> EnvSpec:
    return EnvSpec(
        EnvKind.REQUIREMENTS, "requirements.txt", "test", ("requirements.txt",), ("six",)
    )


def _box(fake: FakeEngine, tmp_path: Path, **kwargs: object) -> DockerSandbox:
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    box = DockerSandbox(
        RUN,
        tmp_path / "cache",
        host=HostSettings(ca_bundle=ca),
        engine=fake,
        **kwargs,  # type: ignore[arg-type]
    )
    return box


def _is_step(fake_exec: FakeExec) -> bool:
    return (
        fake_exec.cmd[:4] == (buildplan.VENV_PYTHON, "-I", "-S", "-c") and len(fake_exec.cmd) == 10
    )


def _steps_say(output: str, code: int = 0, **capture: object):  # type: ignore[no-untyped-def]
    def handler(fake_exec: FakeExec) -> tuple[int, bytes]:
        if _is_step(fake_exec):
            return code, capture_line(output, **capture)  # type: ignore[arg-type]
        return 0, b""

    return handler


def test_every_container_carries_the_run_labels_and_is_removed(tmp_path: Path) -> None:
    fake = FakeEngine()
    fake.handler = _steps_say("hi\n")
    box = _box(fake, tmp_path)
    repo = _repo(tmp_path)
    build = box.prepare(_spec(), repo, tmp_path / "logs")
    assert build.ok, build.summary
    session = box.open_session(build, repo, LIMITS)
    assert session.run("python main.py").output_head == "hi\n"
    box.close()
    assert len(fake.started) == 2  # the build, the session
    lock = str(tmp_path / "cache" / "runs" / f"{RUN}.lock")
    for spec in fake.started:
        assert spec.labels["repograder"] == "1"
        assert spec.labels["repograder.run"] == RUN
        assert spec.labels["repograder.lock"] == lock
        assert spec.labels["repograder.hash"] == build.content_hash
    assert sorted(fake.removed) == sorted(fake.boxes)
    # The committed image is labelled too, and found again by the next prepare.
    (_, repository, tag, changes) = fake.commits[0]
    assert f"{repository}:{tag}" == build.image
    assert "LABEL repograder=1" in changes
    second = _box(fake, tmp_path)
    assert second.prepare(_spec(), repo, tmp_path / "logs2").reused
    second.close()


def test_the_session_container_is_locked_down(tmp_path: Path) -> None:
    fake = FakeEngine()
    box = _box(fake, tmp_path)
    repo = _repo(tmp_path)
    build = box.prepare(_spec(), repo, tmp_path / "logs")
    box.open_session(build, repo, LIMITS).close()
    spec = fake.started[-1]
    assert spec.network_mode == "none"
    assert spec.cap_drop == ("ALL",)
    assert spec.security_opt == ("no-new-privileges",)
    assert spec.read_only
    assert (spec.mem_limit, spec.memswap_limit) == ("256m", "256m")
    assert spec.pids_limit == 64
    assert spec.mounts == ()
    assert sorted(spec.tmpfs) == ["/home/student", "/tmp", "/work"]
    # One disk budget for all three (their pages count against the memory limit).
    assert "size=24m" in spec.tmpfs["/work"]
    assert "size=4m" in spec.tmpfs["/tmp"]
    assert "size=4m" in spec.tmpfs["/home/student"]
    # Thread pools sized to the 1-CPU quota, not to the host's cores.
    assert spec.environment == dict.fromkeys(THREAD_POOL_VARS, "1")
    # The checkout went in as a tar on stdin, to a tar run as uid 1000.
    (copy,) = [e for e in fake.execs if e.cmd[0] == "/bin/tar"]
    assert copy.user == "1000:1000"
    assert copy.stdin
    box.close()


@pytest.mark.parametrize(
    ("cpus", "cores", "threads"),
    [(0.25, 16, "1"), (1.0, 16, "1"), (1.5, 16, "1"), (2.0, 16, "2"), (8, 16, "8"), (8, 2, "2")],
)
def test_thread_pools_get_the_whole_cpus_of_the_quota(
    cpus: float, cores: int, threads: str
) -> None:
    env = thread_pool_env(cpus, cores)
    assert {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"} <= set(env)
    assert set(env.values()) == {threads}
    # numba's variable is its maximum: numba.set_num_threads(2) would raise under 1.
    assert "NUMBA_NUM_THREADS" not in env
    spec = session_spec("img", dataclasses.replace(LIMITS, cpus=cpus))
    assert spec.environment == thread_pool_env(cpus, os.cpu_count())
    assert spec.nano_cpus == int(cpus * 1e9)


@pytest.mark.parametrize("disk_mb", [16, 17, 64, 1000, 1024, 2048])
def test_the_three_tmpfs_folders_share_one_disk_budget(disk_mb: int) -> None:
    sizes = tmpfs_sizes(disk_mb)
    assert sum(sizes.values()) <= disk_mb
    assert sizes["/work"] >= disk_mb * 3 // 4
    assert min(sizes.values()) >= 1


def test_the_checkout_copy_stops_at_the_work_share(tmp_path: Path) -> None:
    fake = FakeEngine()
    box = _box(fake, tmp_path)
    repo = _repo(tmp_path)
    (repo / "big.bin").write_bytes(b"x" * (30 << 20))
    session = box.open_session(box.prepare(_spec(), repo, tmp_path / "logs"), repo, LIMITS)
    assert any("limited to 24 MB" in note for note in session.notes), session.notes
    box.close()


def test_wheels_only_with_the_shared_cache_then_source_build_without_it(tmp_path: Path) -> None:
    fake = FakeEngine()

    def handler(fake_exec: FakeExec) -> tuple[int, bytes]:
        if buildplan.WHEELS_SCRIPT in " ".join(fake_exec.cmd) and "install" in fake_exec.cmd:
            return buildplan.NEEDS_BUILD, b"no wheels with a matching platform tag"
        return 0, b""

    fake.handler = handler
    box = _box(fake, tmp_path)
    build = box.prepare(_spec(), _repo(tmp_path), tmp_path / "logs")
    assert build.ok
    assert SOURCE_BUILD_NOTE in build.notes
    first, second = fake.started
    assert [m.target for m in first.mounts if m.type == "volume"] == [UV_CACHE_MOUNT]
    assert [m for m in second.mounts if m.type == "volume"] == []
    for spec in (first, second):
        binds = [m for m in spec.mounts if m.type == "bind"]
        assert binds
        assert all(m.read_only for m in binds)
    assert "CHOWN" in first.cap_add
    assert (second.cap_drop, second.cap_add) == (("ALL",), ())
    # The source build runs as uid 1000, and only its container is committed.
    installs = [e for e in fake.execs if e.cmd[-1].endswith("/install.sh")]
    assert [e.user for e in installs] == ["1000:1000"]
    ids = list(fake.boxes)
    assert [c[0] for c in fake.commits] == [ids[1]]
    assert sorted(fake.removed) == sorted(ids)
    box.close()


def test_a_build_past_its_deadline_is_killed_and_a_failed_result(tmp_path: Path) -> None:
    fake = FakeEngine()
    fake.handler = lambda e: HANG if "install" in e.cmd else (0, b"")
    box = _box(fake, tmp_path, build_timeout_s=1.0)
    began = time.monotonic()
    build = box.prepare(_spec(), _repo(tmp_path), tmp_path / "logs")
    assert time.monotonic() - began < 10
    assert not build.ok
    assert build.summary == "the build timed out after 1 s"
    assert fake.calls["kill"] == 1
    assert fake.removed == list(fake.boxes)
    assert fake.commits == []
    box.close()


def test_an_engine_fault_in_a_build_raises_and_the_container_is_removed(tmp_path: Path) -> None:
    fake = FakeEngine()
    fake.fail("put_archive", EngineError("500 Server Error: Internal Server Error", transient=True))
    box = _box(fake, tmp_path)
    with pytest.raises(InfrastructureError, match="engine failed during a build: 500"):
        box.prepare(_spec(), _repo(tmp_path), tmp_path / "logs")
    assert fake.removed == list(fake.boxes)
    assert fake.calls["put_archive"] == 1  # not repeatable: never retried
    box.close()


def test_a_transient_exec_fault_in_a_session_is_retried(tmp_path: Path) -> None:
    fake = FakeEngine()
    fake.handler = _steps_say("fine\n")
    box = _box(fake, tmp_path)
    repo = _repo(tmp_path)
    session = box.open_session(box.prepare(_spec(), repo, tmp_path / "logs"), repo, LIMITS)
    before = fake.calls["exec_create"]
    fake.fail("exec_create", EngineError("Read timed out. (read timeout=120)", transient=True))
    result = session.run("echo fine")
    assert result.exit_code == 0
    assert result.output_head == "fine\n"
    # The step's exec (tried twice) and the end-of-step kill.
    assert fake.calls["exec_create"] == before + 3
    box.close()


def test_student_processes_are_ended_after_student_code_not_again_before_a_helper(
    tmp_path: Path,
) -> None:
    """Every exec costs about 0.1 CPU-second on the grader: the kill that a helper runs first
    is left out when no student code ran since the session began or since the last kill."""
    fake = FakeEngine()
    fake.handler = _steps_say("fine\n")
    box = _box(fake, tmp_path)
    repo = _repo(tmp_path)
    session = box.open_session(box.prepare(_spec(), repo, tmp_path / "logs"), repo, LIMITS)

    def kills() -> int:
        return sum(1 for e in fake.execs if END_STUDENT_PROCESSES in e.cmd)

    session.run_helper("print(1)", [], 30, 64)
    assert kills() == 1  # after the helper (a notebook's kernel runs student code)
    session.run("echo fine")
    assert kills() == 2  # after the step
    session.run_helper("print(1)", [], 30, 64)
    assert kills() == 3  # after the helper only: nothing ran between the two
    box.close()


def test_a_persisting_exec_fault_is_an_infrastructure_error(tmp_path: Path) -> None:
    fake = FakeEngine()
    box = _box(fake, tmp_path)
    repo = _repo(tmp_path)
    session = box.open_session(box.prepare(_spec(), repo, tmp_path / "logs"), repo, LIMITS)
    fake.fail("exec_create", *[EngineError("Connection aborted.", transient=True)] * 3)
    with pytest.raises(InfrastructureError, match="engine failed during a session: Connection"):
        session.run("echo x")
    box.close()
    assert fake.removed == list(fake.boxes)


def test_a_quiet_exec_past_its_read_timeout_is_an_infrastructure_error(tmp_path: Path) -> None:
    fake = FakeEngine()
    box = _box(fake, tmp_path)
    repo = _repo(tmp_path)
    session = box.open_session(box.prepare(_spec(), repo, tmp_path / "logs"), repo, LIMITS)
    fake.handler = lambda _e: HANG
    with pytest.raises(InfrastructureError, match="engine failed during a session: timed out"):
        session._exec(["/bin/cat"], 100, read_timeout_s=0.2)
    box.close()


def test_the_exit_code_is_the_engines_and_the_timeout_the_hosts(tmp_path: Path) -> None:
    fake = FakeEngine()
    # The capture line (student-writable) claims a timeout; the engine says exit code 1, and
    # the host's clock says the step was quick.
    fake.handler = _steps_say("forged\n", code=1, timed_out=True)
    box = _box(fake, tmp_path)
    repo = _repo(tmp_path)
    session = box.open_session(box.prepare(_spec(), repo, tmp_path / "logs"), repo, LIMITS)
    result = session.run("false")
    assert (result.exit_code, result.timed_out) == (1, False)
    box.close()


@pytest.mark.parametrize(
    "forged",
    [
        b'{"exit": 0, "timed_out": false, "total": 1e400, "head": "", "tail": ""}',
        b'{"exit": 0, "timed_out": false, "total": Infinity, "head": "", "tail": ""}',
        b'{"exit": 0, "timed_out": false, "total": 2, "duration": "x", "head": "", "tail": ""}',
        b'{"exit": 0, "timed_out": false, "total": 2, "duration": [], "head": "", "tail": ""}',
        b'{"exit": 0, "timed_out": false, "total": 2, "duration": NaN, "head": "", "tail": ""}',
        b"[1, 2]",
    ],
)
def test_a_forged_capture_line_with_odd_values_is_a_garbled_step(
    tmp_path: Path, forged: bytes
) -> None:
    """A step's background process writes the last line of capture.py's stdout (documented:
    it can fake its output). Numbers Python cannot turn into int/float raised OverflowError
    or ValueError out of parse_capture, and anything but InfrastructureError escaping a run
    stops every group's grading (SandboxSlots.slot)."""
    fake = FakeEngine()
    fake.handler = lambda e: (
        (1, capture_line("real\n") + forged + b"\n") if _is_step(e) else (0, b"")
    )
    box = _box(fake, tmp_path)
    repo = _repo(tmp_path)
    session = box.open_session(box.prepare(_spec(), repo, tmp_path / "logs"), repo, LIMITS)
    result = session.run("python main.py")
    assert result.exit_code == 1
    assert not result.timed_out
    assert result.output_bytes >= 0
    assert math.isfinite(result.duration_s)
    box.close()


def test_a_failed_session_start_removes_its_container(tmp_path: Path) -> None:
    fake = FakeEngine()
    box = _box(fake, tmp_path)
    repo = _repo(tmp_path)
    build = box.prepare(_spec(), repo, tmp_path / "logs")
    fake.handler = lambda e: (1, b"") if e.cmd[0] == "/bin/mkdir" else (0, b"")
    with pytest.raises(InfrastructureError, match="could not prepare the session container"):
        box.open_session(build, repo, LIMITS)
    assert fake.removed == list(fake.boxes)
    box.close()


def test_a_closed_sandbox_starts_nothing_that_outlives_it(tmp_path: Path) -> None:
    fake = FakeEngine()
    box = _box(fake, tmp_path)
    box.close()
    with pytest.raises(InfrastructureError, match="the sandbox was closed"):
        box.prepare(_spec(), _repo(tmp_path), tmp_path / "logs")
    assert len(fake.boxes) == 1
    assert fake.removed == list(fake.boxes)


def test_alive_survives_a_hiccup_not_a_dead_engine(tmp_path: Path) -> None:
    fake = FakeEngine()
    box = _box(fake, tmp_path)
    fake.fail("ping", EngineError("Read timed out.", transient=True))
    assert box.alive()
    fake.fail("ping", *[EngineError("Connection aborted.", transient=True)] * 3)
    assert not box.alive()
    box.close()


def test_a_missing_base_image_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InfrastructureError, match="repograder sandbox build"):
        DockerSandbox(RUN, tmp_path / "cache", base_image="nope:1", engine=FakeEngine())


def test_clean_removes_ended_runs_and_keeps_live_ones(tmp_path: Path) -> None:
    fake = FakeEngine()
    live = RunLock(tmp_path / "cache", "live")
    dead = RunLock(tmp_path / "cache", "dead")
    dead_path = dead.path
    dead.release(unlink=False)  # the process "died": the file stays, the lock is gone
    for run, lock in (("live", live.path), ("dead", dead_path)):
        fake.run_container(
            engine.ContainerSpec(
                "img",
                ("/bin/sleep", "infinity"),
                "0:0",
                {"repograder": "1", "repograder.run": run, **RunLock.labels(lock)},
            )
        )
    outcome = clean_leftovers(engine=fake)
    assert outcome.removed == ("fake_2 (run dead)",)
    assert outcome.kept_live == ("fake_1 (run live)",)
    assert not dead_path.exists()  # a killed run's lock file goes with its containers
    live.release()


def _image(tag: str, layer: str, digest: str, *, containers: int = 0) -> ImageUsage:
    labels = {"repograder.hash": digest, "repograder.layer": layer} if digest else {}
    return ImageUsage(
        id=f"sha256:{digest or tag}",
        tags=(tag,),
        labels=labels,
        size=1000,
        shared_size=400,
        created=time.time() - 90 * cachemgr.DAY,
        parent_id="",
        containers=containers,
    )


def test_prune_removes_group_images_before_their_layer_and_keeps_used_ones(
    tmp_path: Path,
) -> None:
    fake = FakeEngine()
    fake.usage = [
        _image("repograder-env:common-aaa", "common", "aaa"),
        _image("repograder-env:old", "group", "old"),
        _image("repograder-env:busy", "group", "busy", containers=1),
        _image("repograder-env:recent", "group", "recent"),
        _image("repograder-base:py3.11", "", ""),
        _image("python:3.11-slim", "", ""),
    ]
    fake.volumes["repograder-uv-cache"] = 5000
    fake.refuse_removal["repograder-env:common-aaa"] = "conflict: image has dependent child images"
    cache = tmp_path / "cache"
    stamps = cache / "images"
    stamps.mkdir(parents=True)
    for digest in ("old", "recent"):
        (stamps / f"{digest}.used").touch()
    past = time.time() - 40 * cachemgr.DAY
    os.utime(stamps / "old.used", (past, past))
    warm = cache / "warm"  # a shared layer's warm home goes with its image
    warm.mkdir()
    for digest in ("old", "recent"):
        (warm / f"{digest}.tar").write_bytes(b"tar")
    caches = DockerCaches(fake)

    info = {e.name: e for e in cachemgr.cache_info(cache, docker=caches)}
    assert info["docker env images"].count == 3
    assert info["docker env images"].size == 3 * 600
    assert info["docker shared layers"].count == 1
    assert info["docker uv cache volume"].size == 5000

    result = cachemgr.prune(cache, older_than_s=30 * cachemgr.DAY, docker=caches)
    assert result.removed == ("image repograder-env:old",)
    assert "image repograder-env:busy: used by 1 container(s)" in result.kept
    assert "image repograder-env:common-aaa: conflict: image has dependent child images" in (
        result.kept
    )
    assert not (stamps / "old.used").exists()
    assert (stamps / "recent.used").exists()
    assert not (warm / "old.tar").exists()
    assert (warm / "recent.tar").exists()
    assert "repograder-uv-cache" in fake.volumes  # only --all removes it
    all_result = cachemgr.prune(cache, remove_all=True, docker=caches)
    # Group images are asked before the shared layer they sit on, the base images last.
    assert fake.image_removals == [
        "repograder-env:old",
        "repograder-env:common-aaa",
        "repograder-env:recent",
        "repograder-env:common-aaa",
        "repograder-base:py3.11",
    ]
    assert "image repograder-base:py3.11" in all_result.removed
    assert "volume repograder-uv-cache" in all_result.removed
    assert "image python:3.11-slim" not in all_result.removed


def _warm_box(fake: FakeEngine, tmp_path: Path, warm_bytes: int, unpack_code: int) -> DockerSandbox:
    """A sandbox whose shared layer's warm-up leaves ``warm_bytes``; unpacking exits so."""

    def handler(fake_exec: FakeExec) -> tuple[int, bytes]:
        cmd = fake_exec.cmd
        if cmd[:3] == ("/bin/tar", "-C", buildplan.WARM_HOME):
            return 0, b"w" * warm_bytes
        if cmd[0] == "/bin/tar" and "/home/student" in cmd:
            return unpack_code, b"tar: No space left on device\n"
        return 0, b""

    fake.handler = handler
    return _box(fake, tmp_path, common=("six",), warmup=("true",))


def _home_unpacks(fake: FakeEngine) -> list[FakeExec]:
    return [e for e in fake.execs if e.cmd[:2] == ("/bin/tar", "-x") and "/home/student" in e.cmd]


def test_a_warm_home_too_large_for_the_session_home_is_not_unpacked(tmp_path: Path) -> None:
    # LIMITS.disk_mb 32: a 4 MB home; a 3 MB warm home would leave the group 1 MB of it.
    fake = FakeEngine()
    box = _warm_box(fake, tmp_path, 3 << 20, 0)
    repo = _repo(tmp_path)
    session = box.open_session(box.prepare(_spec(), repo, tmp_path / "logs"), repo, LIMITS)
    assert not _home_unpacks(fake), "nothing may fill the student's home"
    assert any("home folder holds 4 MB" in note for note in session.notes), session.notes
    box.close()


def test_a_failed_warm_home_unpack_leaves_an_empty_home(tmp_path: Path) -> None:
    fake = FakeEngine()
    box = _warm_box(fake, tmp_path, 1 << 20, 2)
    repo = _repo(tmp_path)
    session = box.open_session(box.prepare(_spec(), repo, tmp_path / "logs"), repo, LIMITS)
    assert len(_home_unpacks(fake)) == 1
    after = fake.execs[fake.execs.index(_home_unpacks(fake)[0]) + 1]
    assert after.cmd[-4:] == ("/home/student", "-mindepth", "1", "-delete")
    assert after.user == "1000:1000"
    assert any("No space left" in note for note in session.notes), session.notes
    box.close()


def test_the_warm_up_runs_as_a_user_owning_nothing_in_the_image(tmp_path: Path) -> None:
    # It runs while an unpaused commit reads the container: as uid 1000, the venv's owner, it
    # could rewrite venv files under the commit (a half-written module in every group's image).
    fake = FakeEngine()
    box = _warm_box(fake, tmp_path, 1 << 10, 0)
    repo = _repo(tmp_path)
    assert box.prepare(_spec(), repo, tmp_path / "logs").ok
    warm = [e for e in fake.execs if "[repograder] warm-up:" in " ".join(e.cmd)]
    pack = [e for e in fake.execs if e.cmd[:3] == ("/bin/tar", "-C", buildplan.WARM_HOME)]
    assert warm
    assert pack
    assert {e.user for e in warm + pack} == {"65534:65534"}
    homes = [s.tmpfs[buildplan.WARM_HOME] for s in fake.started if buildplan.WARM_HOME in s.tmpfs]
    assert homes
    assert all("uid=65534,gid=65534" in home for home in homes)
    box.close()


def test_group_builds_start_on_the_committed_layer_and_sessions_wait_for_its_warm_up(
    tmp_path: Path,
) -> None:
    # The layer's commit ends before its warm-up (16 s and 32 s in the benchmark): a group's
    # build needs only the image, its session the warm home too.
    release = threading.Event()

    def handler(fake_exec: FakeExec) -> tuple[int, bytes]:
        cmd = fake_exec.cmd
        if "[repograder] warm-up:" in " ".join(cmd):
            assert release.wait(10), "the test never released the warm-up"
        if cmd[:3] == ("/bin/tar", "-C", buildplan.WARM_HOME):
            return 0, b"w" * 1024
        return 0, b""

    fake = FakeEngine()
    fake.handler = handler
    box = _box(fake, tmp_path, common=("six",), warmup=("sleep 30",))
    repo = _repo(tmp_path)
    box.start_layer()
    built: list[BuildResult] = []
    group = threading.Thread(
        target=lambda: built.append(box.prepare(_spec(), repo, tmp_path / "logs"))
    )
    group.start()
    group.join(5)
    assert built, "the group's build waited for the layer's warm-up"
    assert built[0].ok
    assert box.common_tag is not None
    assert fake.started[-1].image == box.common_tag, "the group builds on the layer"
    opened: list[DockerSession] = []
    session = threading.Thread(
        target=lambda: opened.append(box.open_session(built[0], repo, LIMITS))
    )
    session.start()
    session.join(0.5)
    assert not opened, "the session started before the warm home existed"
    release.set()
    session.join(5)
    assert opened
    assert len(_home_unpacks(fake)) == 1, "the session got the layer's warm home"
    box.close()


def test_a_hanging_warm_up_is_cut_short_and_not_redone_by_each_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A warm-up that never ends held the layer (and so every group) for the whole build
    # timeout, and left no warm home: the next run on the cache folder waited again.
    monkeypatch.setattr(warmup, "WARMUP_TIMEOUT_S", 0.3)

    def handler(fake_exec: FakeExec) -> tuple[int, bytes] | str:
        return HANG if "[repograder] warm-up:" in " ".join(fake_exec.cmd) else (0, b"")

    repo = _repo(tmp_path)
    fake = FakeEngine()
    fake.handler = handler
    warm_ups: list[int] = []
    for _ in range(2):
        box = _box(fake, tmp_path, common=("six",), warmup=("sleep infinity",), build_timeout_s=8)
        began = time.monotonic()
        assert box.prepare(_spec(), repo, tmp_path / "logs").ok
        assert time.monotonic() - began < 5, "the warm-up has a budget of its own"
        warm_ups.append(sum("[repograder] warm-up:" in " ".join(e.cmd) for e in fake.execs))
        box.close()
    assert warm_ups == [1, 1], "the second run finds the (empty) warm home on record"


def test_warm_homes_written_by_two_runs_on_one_cache_folder_do_not_mix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Thread ids repeat across processes: a partial file named by it is another run's too. Here
    # the other run's partial is in the way; each write must have its own.
    monkeypatch.setattr(threading, "get_ident", lambda: 7)
    target = tmp_path / "warm" / "abc.tar"
    target.parent.mkdir()
    (target.parent / ".abc.tar.7.partial").mkdir()  # the other run, half-way
    warmup.keep(target, b"mine")
    assert target.read_bytes() == b"mine"
    assert sorted(p.name for p in target.parent.iterdir()) == [".abc.tar.7.partial", "abc.tar"]


def test_a_warm_up_that_leaves_a_file_in_the_committed_layer_fails_the_layer(
    tmp_path: Path,
) -> None:
    # Measured on the real engine: a warm-up writing /tmp/rg-uv-private during the unpaused
    # commit left it (owned by nobody) in the layer, and every group build on it then failed
    # ("Could not acquire lock": that is their private uv cache).
    fake = FakeEngine()

    def handler(fake_exec: FakeExec) -> tuple[int, bytes]:
        if fake_exec.cmd[:2] == ("/usr/bin/find", "/") and "-user" in fake_exec.cmd:
            return 0, b"/tmp/rg-uv-private\n"
        return 0, b""

    fake.handler = handler
    box = _box(fake, tmp_path, common=("six",), warmup=("true",))
    repo = _repo(tmp_path)
    build_result = box.prepare(_spec(), repo, tmp_path / "logs")
    assert build_result.ok  # on the base image, without the layer
    assert box.common_tag is not None
    assert box.common_tag in fake.image_removals
    assert not list((tmp_path / "cache" / "warm").glob("*.tar"))
    layer_commits = [c for c in fake.commits if c[2] == box.common_tag.split(":", 1)[1]]
    assert len(layer_commits) == 1
    assert fake.started[-1].image == "repograder-base:py3.11", "the group builds on the base"
    box.close()


def test_an_apt_engine_fault_on_an_attempt_that_is_retried_does_not_hide_the_retry(
    tmp_path: Path,
) -> None:
    # The first attempt's apt job meets an engine fault while the wheels-only install asks for
    # a source build: the attempt's outcome (build again, without the shared cache) stands;
    # the second attempt's apt and install succeed.
    class FaultyApt(FakeEngine):
        apt_calls = 0

        def exec_create(self, container_id: str, cmd: Sequence[str], **kwargs: Any) -> str:
            if "apt-get" in " ".join(cmd):
                FaultyApt.apt_calls += 1
                if FaultyApt.apt_calls == 1:
                    raise EngineError("500 Server Error: the engine hiccuped")
            return super().exec_create(container_id, cmd, **kwargs)

    def handler(fake_exec: FakeExec) -> tuple[int, bytes]:
        if fake_exec.cmd[-1:] == ("install",) and "install-wheels.sh" in " ".join(fake_exec.cmd):
            return buildplan.NEEDS_BUILD, b"no usable wheels\n"
        return 0, b""

    fake = FaultyApt()
    fake.handler = handler
    box = _box(fake, tmp_path)
    spec = dataclasses.replace(_spec(), apt_packages=("libsndfile1",))
    result = box.prepare(spec, _repo(tmp_path), tmp_path / "logs")
    assert result.ok, result.summary
    assert FaultyApt.apt_calls == 2
    assert build.SOURCE_BUILD_NOTE in result.notes
    box.close()


def _layer_threads_end() -> None:
    for thread in threading.enumerate():
        if thread.name == "shared-layer":
            thread.join(10)
            assert not thread.is_alive()


def test_an_engine_fault_in_the_background_layer_build_is_logged_and_retried(
    tmp_path: Path,
) -> None:
    # start_layer's thread must not swallow an engine fault silently: the log says the layer
    # stopped, and the first group's build builds it again (once).
    fake = FakeEngine()
    fake.fail("put_archive", EngineError("500 Server Error: Internal Server Error"))
    logs: list[str] = []
    box = _box(fake, tmp_path, common=("six",), log=logs.append)
    box.start_layer()
    _layer_threads_end()
    stopped = [m for m in logs if "shared layer's build stopped" in m]
    assert len(stopped) == 1, logs
    assert "500" in stopped[0]
    build = box.prepare(_spec(), _repo(tmp_path), tmp_path / "logs")
    assert build.ok, build.summary
    assert box._common is not None
    assert not any("no shared layer" in n for n in build.notes)
    box.close()


def test_a_layer_stopped_by_close_logs_nothing(tmp_path: Path) -> None:
    fake = FakeEngine()
    logs: list[str] = []
    box = _box(fake, tmp_path, common=("six",), log=logs.append)
    box.close()  # Ctrl-C before the thread got to start its container
    box.start_layer()
    _layer_threads_end()
    assert not any("stopped" in m for m in logs), logs


def test_the_venv_handover_runs_beside_apt_and_student_code_only_after_it(
    tmp_path: Path,
) -> None:
    # Measured on the benchmark's shared layer: apt (downloading the package lists) ended
    # 2.8 s after the wheels-only install, and the chown of /opt/venv (1.4 s, root's, /opt
    # only) waited for it with the CPU idle. It now runs while apt may still; the first
    # uid-1000 exec (the compile, which runs the new packages' code) still waits for apt.
    apt_running = threading.Event()
    handover_seen = threading.Event()
    apt_done = threading.Event()
    order: list[str] = []

    def handler(fake_exec: FakeExec) -> tuple[int, bytes]:
        text = " ".join(fake_exec.cmd)
        if "apt-get" in text:
            apt_running.set()
            handover_seen.wait(5)
            time.sleep(0.3)
            order.append("apt ended")
            apt_done.set()
        elif "chown -h 1000:1000" in text:
            apt_running.wait(5)
            order.append("handover")
            handover_seen.set()
        elif fake_exec.user.startswith("1000") and "install-wheels.sh" in text:
            order.append("student exec" if apt_done.is_set() else "student exec during apt")
        return 0, b""

    fake = FakeEngine()
    fake.handler = handler
    box = _box(fake, tmp_path)
    spec = dataclasses.replace(_spec(), apt_packages=("libsndfile1",))
    began = time.monotonic()
    result = box.prepare(spec, _repo(tmp_path), tmp_path / "logs")
    assert result.ok, result.summary
    assert time.monotonic() - began < 4, "the handover waited for apt to end"
    assert order == ["handover", "apt ended", "student exec"]
    apt_scripts = [e for e in fake.execs if "apt-get" in " ".join(e.cmd)]
    assert "Acquire::Languages=none" in " ".join(apt_scripts[0].cmd)
    box.close()


def test_a_group_build_on_a_shared_layer_runs_nothing_of_the_layer_as_root(
    tmp_path: Path,
) -> None:
    # A layer's venv interpreter runs the layer's packages whenever it starts (.pth files, a
    # wheel's pyvenv.cfg or bin/python; uv's interpreter query starts it). Root holds the shared
    # uv cache, so it builds on the base image only: on the layer the group's difference is
    # installed by uid 1000 with a private cache, and root only removes the build folder.
    fake = FakeEngine()
    fake.handler = lambda _exec: (0, b"")
    box = _box(fake, tmp_path, common=("six",))
    spec = dataclasses.replace(_spec(), requirements=("six", "tqdm"))
    build_result = box.prepare(spec, _repo(tmp_path), tmp_path / "logs")
    assert build_result.ok, build_result.summary
    layer_image = fake.commits[0][1] + ":" + fake.commits[0][2]
    on_base = [c for c in fake.boxes.values() if c.spec.image == "repograder-base:py3.11"]
    on_layer = [c for c in fake.boxes.values() if c.spec.image == layer_image]
    images = [c.spec.image for c in fake.boxes.values()]
    assert len(on_base) == 1, images
    assert len(on_layer) == 1, images
    assert any(m.target == UV_CACHE_MOUNT for m in on_base[0].spec.mounts)
    assert not any(m.target == UV_CACHE_MOUNT for m in on_layer[0].spec.mounts)
    group_execs = [e for e in fake.execs if e.container == on_layer[0].id]
    root = [e.cmd for e in group_execs if e.user == "0:0"]
    assert root == [("/bin/rm", "-rf", buildplan.BUILD_DIR)], root
    install = [e for e in group_execs if e.cmd[-1].endswith("/install.sh")]
    assert [e.user for e in install] == ["1000:1000"]
    box.close()


def test_root_never_runs_a_program_found_through_the_images_path(tmp_path: Path) -> None:
    # The image's PATH starts with /home/student/.local/repograder/bin and /opt/venv/bin, where
    # the packages being installed put their scripts: a wheel shipping `cat`, `chown` or
    # `sleep` ran as root in the build (with the shared uv cache mounted) or as the session's
    # main process. Root's execs get a PATH of root's folders; main processes are named by path.
    fake = FakeEngine()
    fake.handler = lambda _exec: (0, b"")
    box = _box(fake, tmp_path, common=("six",), warmup=("true",))
    spec = dataclasses.replace(_spec(), apt_packages=("libsndfile1",))
    repo = _repo(tmp_path)
    build_result = box.prepare(spec, repo, tmp_path / "logs")
    assert build_result.ok, build_result.summary
    box.open_session(build_result, repo, LIMITS).close()
    root_execs = [e for e in fake.execs if e.user == "0:0"]
    assert len(root_execs) >= 5  # cache lock, install, handover, apt, cleanup, layer check
    for fake_exec in root_execs:
        env = fake_exec.environment
        pairs = env.items() if isinstance(env, dict) else (v.split("=", 1) for v in env or ())
        values = dict(pairs)
        assert values.get("PATH") == build.ROOT_PATH, fake_exec.cmd
        assert values.get("HOME") == "/root", fake_exec.cmd
    assert "/opt/venv" not in build.ROOT_PATH
    assert "/home" not in build.ROOT_PATH
    for fake_exec in fake.execs:
        if fake_exec.user in ("0:0", "65534:65534") or fake_exec.cmd[0] in ("sh", "bash"):
            assert fake_exec.cmd[0].startswith("/"), fake_exec.cmd
    assert fake.started
    assert all(c.command[0].startswith("/") for c in fake.started)
    box.close()


def test_the_rubrics_apt_without_common_joins_the_inferred_layer(tmp_path: Path) -> None:
    # `environment: apt: [ffmpeg]` without `common:` (the grader's own advice for a missing
    # program) adds to the layer inferred from the course instead of replacing it.
    fake = FakeEngine()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    box = _box(fake, tmp_path / "a", inferred_apt=("ffmpeg",), inferred_warmup=("true",))
    try:
        assert not box.layer_declared
        assert box.common_tag is None
        assert box.layer_apt == ()
        tag = box.use_inferred_layer(("soundfile",), (), ("python -c 1",))
        assert tag is not None
        assert tag == box.common_tag
        assert not box.layer_declared
        assert box._common_plan is not None
        assert box._common_plan.requirements == ("soundfile",)
        assert set(box.layer_apt) == {"ffmpeg", "libsndfile1"}  # the rubric's and the table's
        assert box._common_plan.warmup == ("python -c 1", "true")
    finally:
        box.close()
    alone = _box(fake, tmp_path / "b", inferred_apt=("ffmpeg",))
    try:
        # Nothing shared: the rubric's system packages still reach every group.
        assert alone.use_inferred_layer(()) is not None
        assert alone.layer_apt == ("ffmpeg",)
    finally:
        alone.close()


def test_an_inferred_layer_that_does_not_build_falls_back_step_by_step(tmp_path: Path) -> None:
    # What is left of an inferred layer that did not build (DockerSandbox._fallback_layer):
    # without what the build names (left out when not on the index, else unpinned), then
    # without versions, then the rubric's apt alone.
    fake = FakeEngine()
    box = _box(fake, tmp_path, inferred_apt=("jq",), inferred_warmup=("true",))
    log = tmp_path / "common.log"
    try:
        box.use_inferred_layer(("numpy==99.0", "numba==0.58.1", "nosuch==1", "scipy"), (), ("w",))
        assert box.layer_fallback is None
        assert box._fallback_layer(
            "dependency resolution failed: nosuch was not found in the package registry", log
        )
        assert box.layer_fallback is not None
        assert box.layer_fallback[:2] == (("numpy==99.0", "numba==0.58.1", "scipy"), ("w", "true"))
        # One group's impossible pin costs only that pin (helper-36), not every version.
        assert box._fallback_layer("dependency resolution failed: no version of numpy matches", log)
        assert box.layer_fallback[0] == ("numpy", "numba==0.58.1", "scipy")
        assert box._fallback_layer("dependency resolution failed: no solution", log)
        assert box.layer_fallback[:2] == (("numpy", "numba", "scipy"), ("w", "true"))
        assert box._fallback_layer("dependency resolution failed: no solution", log)
        assert box.layer_fallback[:2] == ((), ("true",))  # the rubric's own warm-ups only
        assert box._common_plan is not None
        assert box._common_plan.requirements == ()
        assert box.layer_apt == ("jq",)
        assert box.layer_fallback[2] == (
            "without the version of, or leaving out, nosuch; then without the version of, or "
            "leaving out, numpy; then the same packages without their versions (lines that "
            "exclude each other); then the rubric's apt packages alone (its Python packages "
            "did not build)"
        )
        assert not box._fallback_layer("apt failed", log)  # nothing else left to try
    finally:
        box.close()
    (tmp_path / "a").mkdir()
    adopted = _box(FakeEngine(), tmp_path / "a", inferred_apt=("jq",))
    try:
        adopted.use_inferred_layer(("numpy", "scipy"), fallback=False)  # --only, as built
        assert not adopted._fallback_layer("the build timed out after 1800 s", log)
    finally:
        adopted.close()
    (tmp_path / "d").mkdir()
    declared = _box(FakeEngine(), tmp_path / "d", common=("numpy==2.1.0",))
    try:
        assert not declared._fallback_layer("dependency resolution failed: no solution", log)
    finally:
        declared.close()


def test_a_course_listing_many_missing_packages_costs_a_bounded_number_of_builds(
    tmp_path: Path,
) -> None:
    # uv names one missing package per failure: 1,100 made-up names made ~980 nested builds
    # and a RecursionError (helper-36). At most MAX_LEAVE_OUTS leave-outs, then the rest.
    from repograder.sandbox.layerfallback import MAX_LEAVE_OUTS

    box = _box(FakeEngine(), tmp_path, inferred_apt=("jq",))
    log = tmp_path / "common.log"
    names = tuple(f"nosuch{i}" for i in range(1100))
    try:
        box.use_inferred_layer(("numpy", *names), ())
        tries = 0
        while box._fallback_layer(
            f"dependency resolution failed: nosuch{tries} was not found in the package registry",
            log,
        ):
            tries += 1
        assert tries == MAX_LEAVE_OUTS + 1  # the leave-outs, then the rubric's apt alone
        assert box.layer_fallback is not None
        assert box.layer_fallback[0] == ()
        # A timed-out build is not retried, except as the rubric's apt alone.
    finally:
        box.close()
    (tmp_path / "t").mkdir()
    timed = _box(FakeEngine(), tmp_path / "t", inferred_apt=("jq",))
    try:
        timed.use_inferred_layer(("numpy==2.1.0",), ())
        assert timed._fallback_layer("the build timed out after 1800 s", log)
        assert timed.layer_fallback is not None
        assert timed.layer_fallback[0] == ()
    finally:
        timed.close()
