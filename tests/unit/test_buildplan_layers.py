"""Layered build plans: the hash follows the parent layer, the script makes the env exact."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from repograder.detect import EnvKind, EnvSpec
from repograder.sandbox import buildplan
from repograder.sandbox.hostconfig import HostSettings

HOST = HostSettings()


def _plan(tmp_path: Path, parent: str, *, layered: bool) -> buildplan.BuildPlan:
    (tmp_path / "requirements.txt").write_text("six\n")
    spec = EnvSpec(EnvKind.REQUIREMENTS, "requirements.txt", "t", ("requirements.txt",), ("six",))
    return buildplan.make_plan(
        spec, tmp_path, base_image_id=parent, python_version="3.11", host=HOST, layered=layered
    )


def test_hash_changes_with_the_parent_layer(tmp_path: Path) -> None:
    one = _plan(tmp_path, "sha256:common-a", layered=True)
    two = _plan(tmp_path, "sha256:common-b", layered=True)
    alone = _plan(tmp_path, "sha256:common-a", layered=False)
    assert len({one.content_hash, two.content_hash, alone.content_hash}) == 3


def test_layered_script_resolves_installs_and_trims(tmp_path: Path) -> None:
    script = buildplan.install_script(_plan(tmp_path, "p", layered=True), HOST)
    compile_at = script.index("uv pip compile")
    install_at = script.index("uv pip install", compile_at)
    finish_at = script.index("FINISH", install_at)
    assert compile_at < install_at < finish_at
    plain = buildplan.install_script(_plan(tmp_path, "p", layered=False), HOST)
    assert "uv pip compile" not in plain
    assert buildplan.SEED_FILE in plain  # any plain image can be a shared layer


def test_common_spec_and_warmup(tmp_path: Path) -> None:
    spec = buildplan.common_spec(("numpy", " ", "torch"), ("libsndfile1",))
    assert spec.requirements == ("numpy", "torch")
    assert spec.apt_packages == ("libsndfile1",)
    plan = buildplan.make_plan(
        spec, tmp_path, base_image_id="b", python_version="3.11", host=HOST, warmup=("true",)
    )
    bare = buildplan.make_plan(spec, tmp_path, base_image_id="b", python_version="3.11", host=HOST)
    assert plan.content_hash != bare.content_hash
    # The warm-up is not part of the install: it runs while the layer is committed.
    assert "warm-up" not in buildplan.install_script(plan, HOST)
    warm = buildplan.warmup_script(plan)
    assert "bash -c true ||" in warm
    assert f"HOME={buildplan.WARM_HOME}" in warm
    assert f"NUMBA_CACHE_DIR={buildplan.NUMBA_CACHE}" in warm
    # Nothing may be written into the image while it is being committed.
    assert "PYTHONDONTWRITEBYTECODE=1" in warm
    assert f"TMPDIR={buildplan.WARM_HOME}/" in warm
    assert b"layer.py" in buildplan.context_tar(plan, HOST)


def test_newer_sdist_probe_skips_the_trusted_shared_layer(tmp_path: Path) -> None:
    import dataclasses

    group = _plan(tmp_path, "p", layered=True)
    script = buildplan.install_script(group, HOST, wheels_only=True)
    probe = next(line for line in script.splitlines() if " NEWER " in line)
    # The probe gets the pre-install snapshot, so the shared layer's packages are not probed.
    assert f"{buildplan.STATE_DIR}/lock.txt {buildplan.STATE_DIR}/before.txt" in probe
    common = dataclasses.replace(group, trusted=True)
    assert " NEWER " not in buildplan.install_script(common, HOST, wheels_only=True)


def test_the_wheels_only_install_reads_the_locked_cache_entries_ahead(tmp_path: Path) -> None:
    # uv copies a wheel's files one after the other; from a cold disk the audio layer's 32,000
    # files are latency-bound (12.7 s with one reader, 3.2 s with 16, measured here).
    cache = tmp_path / "uv-cache"
    for index, name, version, body in (
        ("pypi", "numpy", "2.3.1", b"numpy-bytes"),
        ("pypi", "six", "1.17.0", b"six-bytes"),
        ("index/c4ce114a", "torch", "2.13.0+cpu", b"torch-bytes"),
    ):
        archive = cache / "archive-v0" / f"id-{name}"
        (archive / name).mkdir(parents=True)
        (archive / name / "__init__.py").write_bytes(body)
        (cache / "wheels-v7" / index / name).mkdir(parents=True)  # an older uv's: not read
        entry = cache / "wheels-v8" / index / name
        entry.mkdir(parents=True)
        depth = "../" * (len(index.split("/")) + 2)
        (entry / f"{version}-cp311-cp311-linux_x86_64").symlink_to(
            f"{depth}archive-v0/id-{name}", target_is_directory=True
        )
    lock = tmp_path / "lock.txt"
    lock.write_text("numpy==2.3.1\nsix==1.17.0\ntorch==2.13.0+cpu\nscipy==1.16.0\n")
    before = tmp_path / "before.txt"
    before.write_text("numpy==2.3.1\n")  # already in the layer: uv reads nothing of it
    script = "\n".join(buildplan._prefetch_function(str(lock), str(before))) + "\nrg_prefetch\n"
    out = subprocess.run(
        ["bash", "-c", script],
        env={"UV_CACHE_DIR": str(cache), "PATH": os.environ["PATH"]},
        capture_output=True,
        check=True,
    ).stdout
    assert b"six-bytes" in out
    assert b"torch-bytes" in out
    assert b"numpy-bytes" not in out

    plan = _plan(tmp_path, "p", layered=True)
    wheels = buildplan.install_script(plan, HOST, wheels_only=True)
    subprocess.run(["bash", "-n"], input=wheels.encode(), check=True)
    started = wheels.index("set -m; rg_prefetch > /dev/null 2>&1 & prefetch=$!; set +m")
    assert wheels.index("uv pip compile") < started < wheels.index("uv pip install")
    # Ended with the install, or by an early exit (a failed install, a source build needed).
    assert started < wheels.index('trap \'kill -- -"$prefetch"') < wheels.index("uv pip install")
    assert wheels.rindex('kill -- -"$prefetch" 2>/dev/null || true; trap - EXIT') > wheels.index(
        "uv pip install"
    )
    # The source build (private, empty cache) has nothing to read ahead.
    assert "rg_prefetch" not in buildplan.install_script(plan, HOST)


def test_a_failed_install_ends_the_read_ahead(tmp_path: Path) -> None:
    # uv's "needs a source build" exits the script at once: the root readers must not keep
    # going beside the source build that follows.
    cache = tmp_path / "uv-cache"
    archive = cache / "archive-v0" / "id"
    archive.mkdir(parents=True)
    (archive / "f.py").write_text("x\n")
    (cache / "wheels-v8" / "pypi" / "six").mkdir(parents=True)
    (cache / "wheels-v8" / "pypi" / "six" / "1.17.0-py3-none-any").symlink_to(
        "../../../archive-v0/id", target_is_directory=True
    )
    (tmp_path / "lock.txt").write_text("six==1.17.0\n")
    (tmp_path / "before.txt").write_text("")
    slow = tmp_path / "bin"
    slow.mkdir()
    marker = f"rg-read-ahead-{os.getpid()}"
    (slow / "cat").write_text(f"#!/bin/sh\nexec sleep 30 {marker}\n")
    (slow / "cat").chmod(0o755)
    wheels = buildplan.install_script(_plan(tmp_path, "p", layered=True), HOST, wheels_only=True)
    launch = [
        line
        for line in wheels.splitlines()
        if "set -m; rg_prefetch" in line or line.startswith("trap 'kill")
    ]
    assert len(launch) == 2
    function = buildplan._prefetch_function(
        str(tmp_path / "lock.txt"), str(tmp_path / "before.txt")
    )
    # At once after the launch: the readers' group must exist before the trap's kill.
    script = "\n".join(["set -eu", *function, *launch, "exit 75"])
    env = {"UV_CACHE_DIR": str(cache), "PATH": f"{slow}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", script], env=env, check=False)
    assert done.returncode == 75
    time.sleep(0.3)
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, check=False)
    assert left.returncode == 1, f"readers left running: {left.stdout!r}"
