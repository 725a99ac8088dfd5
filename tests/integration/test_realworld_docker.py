"""Issue 13 through the real pipeline and a real Docker engine: the students' files build.

The repositories come from tests/data/realworld/envrepos.py (tiny packages only: six and
colorama); `torch`-sized examples are asserted on detection in tests/unit/test_realworld_env.py.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from data.realworld import envrepos
from gitrepo import commit, init_repo
from repograder import cli
from repograder.sandbox import docker as sandbox_docker

pytestmark = pytest.mark.docker

RUBRIC = textwrap.dedent(
    """\
    name: realworld
    limits:
      memory_mb: 1024
      step_timeout: 120s
    checks:
      - {id: env-file, points: 1}
      - id: env-build
        points: 1
        params: {relax_pins: %s}
      - {id: readme-steps, points: 2}
    """
)

GROUPS = {
    "powershell": envrepos.powershell_requirements_tiny,
    "winfreeze": envrepos.windows_pip_freeze,
    "condaexport": envrepos.conda_export_tiny,
    "badpin": envrepos.bad_pin_tiny,
    "projfail": envrepos.project_install_fails,
    "condapoetry": envrepos.conda_then_poetry,
    "condacreate": envrepos.conda_create_pip_editable,
    # unseen inputs of the kinds
    "wmifreeze": envrepos.windows_freeze_wmi,
    "hashed": envrepos.hashed_requirements,
    "poetrylock": envrepos.poetry_lock_only,
}


def run(tmp: Path, groups: dict[str, Any], relax: bool) -> dict[str, dict[str, Any]]:
    if not sandbox_docker.base_image_available():
        sandbox_docker.build_base_image(offline=True, log=lambda _line: None)
    lines = []
    for name, builder in groups.items():
        repo = init_repo(tmp / name)
        commit(repo, dict(builder()), "work", "2026-03-30T10:00:00+00:00")
        lines.append(f"  - {{name: {name}, repo: {name}}}")
    (tmp / "rubric.yaml").write_text(RUBRIC % ("true" if relax else "false"))
    groups_file = tmp / "groups.yaml"
    groups_file.write_text("rubric: rubric.yaml\ngroups:\n" + "\n".join(lines) + "\n")
    out = tmp / "out"
    code = cli.main(["run", str(groups_file), "--out", str(out), "--sandbox", "docker", "-q"])
    assert code == 0
    data = json.loads((out / "results.json").read_text())
    return {g["name"]: g for g in data["groups"]}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return run(tmp_path_factory.mktemp("realworld"), GROUPS, relax=True)


def checks(group: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in group["checks"]}


def steps_ok(group: dict[str, Any]) -> bool:
    """Every step that ran passed (set-up steps are skipped as covered), and some ran."""
    ran = [s for s in group["steps"] if s["status"] != "skipped"]
    return bool(ran) and all(s["status"] == "ok" for s in ran)


def test_powershell_requirements_build_and_steps_pass(graded: dict[str, Any]) -> None:
    group = graded["powershell"]
    env_file = checks(group)["env-file"]
    assert env_file["status"] == "pass"
    assert "(2 requirements)" in env_file["summary"]
    assert "UTF-16 LE" in env_file["summary"]
    assert checks(group)["env-build"]["status"] == "pass"
    assert steps_ok(group), group["steps"]


def test_windows_freeze_drops_platform_packages_and_builds(graded: dict[str, Any]) -> None:
    group = graded["winfreeze"]
    rows = checks(group)["env-build"]["details"]["changes"]
    dropped = {r["entry"] for r in rows if r["action"] == "dropped"}
    assert dropped == {"pywin32==306", "pywinpty==2.0.12"}
    assert checks(group)["env-build"]["status"] == "pass"
    assert steps_ok(group), group["steps"]


def test_conda_export_drops_conda_only_and_builds(graded: dict[str, Any]) -> None:
    group = graded["condaexport"]
    rows = checks(group)["env-file"]["details"]["changes"]
    dropped = {r["entry"].split("=")[0] for r in rows if r["action"] == "dropped"}
    assert {"_libgcc_mutex", "python_abi", "icc_rt", "zeromq", "appnope", "pyobjc-core"} <= dropped
    assert all(r["why"] for r in rows)
    assert checks(group)["env-build"]["status"] == "pass"
    assert steps_ok(group), group["steps"]


def test_bad_pin_relaxed_to_the_nearest_version(graded: dict[str, Any]) -> None:
    group = graded["badpin"]
    build = checks(group)["env-build"]
    assert build["status"] == "warn"
    assert "built after relaxing: six==1.16.1 → 1.16.0" in build["summary"]
    [row] = [r for r in build["details"]["changes"] if r["action"] == "relaxed"]
    assert row["entry"] == "six==1.16.1"
    assert "no such version" in row["why"]
    assert any("six==1.16.1" in note for note in build["details"]["notes"])
    assert steps_ok(group), group["steps"]


def test_relaxing_can_be_turned_off(tmp_path: Path) -> None:
    graded = run(tmp_path, {"badpin": envrepos.bad_pin_tiny}, relax=False)
    build = checks(graded["badpin"])["env-build"]
    assert build["status"] == "fail"
    assert "six==1.16.1" in build["summary"]


def test_failed_project_install_shown_and_blamed(graded: dict[str, Any]) -> None:
    group = graded["projfail"]
    build = checks(group)["env-build"]
    assert build["status"] == "warn"
    assert "installing the project (pip install -e .) failed" in build["summary"]
    assert "proj_missing" in build["details"]["project_install"]
    [step] = group["steps"]
    assert step["status"] == "failed"
    assert step["hint"].startswith("installing the project (pip install -e .) failed")


@pytest.mark.parametrize("name", ["condapoetry", "condacreate"])
def test_setup_spanning_several_files_builds_what_the_readme_installs(
    graded: dict[str, Any], name: str
) -> None:
    group = graded[name]
    env_file = checks(group)["env-file"]
    assert env_file["details"]["reason"].startswith("the README's set-up installs, in order:")
    assert checks(group)["env-build"]["status"] == "pass", checks(group)["env-build"]
    assert steps_ok(group), group["steps"]


def test_windows_freeze_with_wmi_builds_without_it(graded: dict[str, Any]) -> None:
    """WMI's universal wheel requires pywin32 everywhere: kept, it would sink the build."""
    group = graded["wmifreeze"]
    rows = checks(group)["env-build"]["details"]["changes"]
    assert {r["entry"] for r in rows if r["action"] == "dropped"} == {"pywin32==306", "WMI==1.5.1"}
    assert checks(group)["env-build"]["status"] == "pass", checks(group)["env-build"]
    assert steps_ok(group), group["steps"]  # imports win32ctypes: pywin32-ctypes was kept


def test_hashed_requirements_build_with_their_pins(graded: dict[str, Any]) -> None:
    group = graded["hashed"]
    assert checks(group)["env-file"]["status"] == "pass"
    rows = checks(group)["env-build"]["details"]["changes"]
    assert [r["action"] for r in rows] == ["translated", "translated"]
    assert checks(group)["env-build"]["status"] == "pass", checks(group)["env-build"]
    assert steps_ok(group), group["steps"]


def test_poetry_lock_only_builds_the_locked_versions(graded: dict[str, Any]) -> None:
    group = graded["poetrylock"]
    env_file = checks(group)["env-file"]
    assert env_file["status"] == "warn"
    assert "pyproject.toml is missing" in env_file["summary"]
    assert checks(group)["env-build"]["status"] == "pass", checks(group)["env-build"]
    assert steps_ok(group), group["steps"]
