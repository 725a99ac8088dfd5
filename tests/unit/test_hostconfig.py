"""Host pip/CA settings forwarding and the pure build-plan helpers (no Docker needed)."""

from __future__ import annotations

from pathlib import Path

from packaging.version import Version

from repograder.detect import EnvKind, EnvSpec
from repograder.sandbox import buildplan
from repograder.sandbox.hostconfig import (
    HostSettings,
    container_env,
    cpu_constraints,
    host_settings_from,
    local_cpu_wheels,
    parse_pip_config,
    uv_index_args,
)

PIP_LIST = """\
:env:.cert='/etc/ssl/certs/ca-certificates.crt'
:env:.find-links='{wheels}'
global.cert='/nonexistent.crt'
global.extra-index-url='file://{index}/simple https://mirror.example/simple'
global.find-links='/elsewhere'
"""


def test_parse_pip_config_prefers_env_scope() -> None:
    parsed = parse_pip_config(PIP_LIST.format(wheels="/w", index="/i"))
    assert parsed["find-links"] == "/w"
    assert parsed["cert"] == "/etc/ssl/certs/ca-certificates.crt"
    assert parsed["extra-index-url"].split()[1] == "https://mirror.example/simple"


def test_local_indexes_become_readonly_mounts(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (tmp_path / "pypi" / "simple").mkdir(parents=True)
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    text = PIP_LIST.format(wheels=wheels, index=tmp_path / "pypi")
    settings = host_settings_from({"SSL_CERT_FILE": str(ca), "PIP_TRUSTED_HOST": "h1"}, text)
    assert settings.ca_bundle == ca
    assert settings.find_links == (str(wheels),)
    assert settings.extra_index_urls[1] == "https://mirror.example/simple"
    # the parent of "simple" is mounted so "../../files/x.whl" links resolve
    assert {m.target for m in settings.mounts} == {str(wheels), str(tmp_path / "pypi")}
    env = container_env(settings)
    assert env["SSL_CERT_FILE"] == "/etc/repograder/ca.crt"
    assert env["UV_EXTRA_INDEX_URL"].split() == list(settings.extra_index_urls)
    assert env["UV_INSECURE_HOST"] == "h1"
    args = uv_index_args(settings)
    assert args[args.index("--find-links") + 1] == str(wheels)
    assert args[-2:] == ["--index-strategy", "unsafe-best-match"]


def test_missing_or_system_folders_are_not_mounted(tmp_path: Path) -> None:
    settings = host_settings_from({"PIP_FIND_LINKS": f"{tmp_path}/nope /usr"}, "")
    assert settings.mounts == ()
    assert settings.find_links == ()
    assert len(settings.notes) == 2


def test_torch_pinned_to_local_cpu_wheel_when_allowed(tmp_path: Path) -> None:
    (tmp_path / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    (tmp_path / "numpy-2.0.0-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    wheels = local_cpu_wheels([str(tmp_path)])
    assert wheels == {"torch": Version("2.13.0+cpu")}
    assert cpu_constraints(["torch", "numpy"], wheels) == ["torch==2.13.0+cpu"]
    assert cpu_constraints(["torch>=2.10,<3"], wheels) == ["torch==2.13.0+cpu"]
    assert cpu_constraints(["torch==2.15.0"], wheels) == []


def test_python_note_names_request_and_source() -> None:
    assert buildplan.python_note("3.11", None, "3.11") is None
    assert buildplan.python_note(">=3.9", None, "3.11") is None
    note = buildplan.python_note("3.8", "env.yml", "3.11")
    assert note == "requested Python 3.8 (from env.yml) is not available; graded with 3.11"


def _spec(*reqs: str) -> EnvSpec:
    return EnvSpec(
        kind=EnvKind.REQUIREMENTS,
        path="requirements.txt",
        reason="t",
        files=("requirements.txt",),
        requirements=reqs,
    )


def test_hash_depends_on_dependencies_not_source(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("six\n")
    (tmp_path / "main.py").write_text("print(1)\n")
    host = HostSettings()
    plan = buildplan.make_plan(
        _spec("six"), tmp_path, base_image_id="b", python_version="3.11", host=host
    )
    (tmp_path / "main.py").write_text("print(2)\n")
    same = buildplan.make_plan(
        _spec("six"), tmp_path, base_image_id="b", python_version="3.11", host=host
    )
    assert same.content_hash == plan.content_hash
    (tmp_path / "requirements.txt").write_text("six\nidna\n")
    changed = buildplan.make_plan(
        _spec("six"), tmp_path, base_image_id="b", python_version="3.11", host=host
    )
    assert changed.content_hash != plan.content_hash
    other_base = buildplan.make_plan(
        _spec("six"), tmp_path, base_image_id="c", python_version="3.11", host=host
    )
    assert other_base.content_hash != changed.content_hash


def test_local_path_requirements_are_dropped_with_note(tmp_path: Path) -> None:
    plan = buildplan.make_plan(
        _spec("-e .", "six"),
        tmp_path,
        base_image_id="b",
        python_version="3.11",
        host=HostSettings(),
    )
    assert plan.requirements == ("six",)
    assert any("-e ." in n for n in plan.notes)


def test_summarize_uv_and_pip_failures() -> None:
    uv_log = (
        "Using Python 3.11.2 environment at: /opt/venv\n"
        "  × No solution found when resolving dependencies:\n"
        "  ╰─▶ Because nonexistent-package-xyz was not found in the package registry and you\n"
        "      require nonexistent-package-xyz, we can conclude that your requirements\n"
        "      are unsatisfiable.\n"
    )
    summary, excerpt = buildplan.summarize_log(uv_log)
    assert summary == (
        "dependency resolution failed: nonexistent-package-xyz was not found in the "
        "package registry"
    )
    assert "No solution found" in excerpt
    pip_log = (
        "Collecting foo\nERROR: Could not find a version that satisfies the requirement "
        "foo-bar==9 (from versions: none)\nERROR: No matching distribution found for foo-bar==9\n"
    )
    assert buildplan.summarize_log(pip_log)[0] == "no matching distribution found for foo-bar==9"
    assert buildplan.summarize_log("")[0] == "the build failed without output"


def test_checkout_tar_skips_links_out_and_special_files(tmp_path: Path) -> None:
    import io
    import os
    import tarfile

    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "link").symlink_to("/etc/passwd")
    (tmp_path / "linkdir").symlink_to("/etc")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "big.bin").write_bytes(b"x" * 5000)
    buf = io.BytesIO()
    notes = buildplan.checkout_tar(tmp_path, buf, max_bytes=1000)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar:
        members = {m.name: m for m in tar}
    assert members["a.txt"].uid == 1000
    assert members["link"].issym()
    assert members["link"].linkname == "/etc/passwd"
    assert "fifo" not in members
    assert "big.bin" not in members
    assert not any(name.startswith("linkdir/") for name in members)
    assert notes
