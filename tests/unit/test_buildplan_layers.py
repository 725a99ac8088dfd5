"""Layered build plans: the hash follows the parent layer, the script makes the env exact."""

from __future__ import annotations

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
