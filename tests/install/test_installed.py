"""repograder as users install it: a built wheel (not ``-e``) in a fresh venv, and the Action.

These tests copy the tracked files out of the source tree, build the wheel there, install it into
a venv made from an interpreter nobody installed packages into (Debian's ``/usr/bin/python3``
when present) and run the commands of the README and of action.yml from that install. Nothing
of the source tree or of the test environment is importable there, so a file missing from the
wheel or a dependency missing from pyproject.toml fails here as it would for a user.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitrepo import isolate_git, make_repo
from selfcheck_repos import bad_files, good_files

pytestmark = [pytest.mark.install, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
_EXPR = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def _base_python() -> str:
    """An interpreter without extra packages: Debian's, else the one behind this venv."""
    debian = Path("/usr/bin/python3")
    return str(debian) if debian.exists() else sys._base_executable  # type: ignore[attr-defined]


def _run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("timeout", 900)
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)


def _clean_env() -> dict[str, str]:
    """The environment without this test venv's traces (PATH, VIRTUAL_ENV, PYTHONPATH)."""
    here = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != here)
    return env


@pytest.fixture(scope="session")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tracked files of the checkout (as a fresh clone has them), outside the tree."""
    listed = _run(["git", "ls-files", "-z"], cwd=ROOT)
    assert listed.returncode == 0, listed.stderr
    dest = tmp_path_factory.mktemp("source") / "repograder"
    for name in filter(None, listed.stdout.split("\0")):
        src = ROOT / name
        if src.is_symlink() or src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name, follow_symlinks=False)
    # A git repository, as a fresh clone is: building must not leave it dirty.
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "copy"]):
        done = _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=dest)
        assert done.returncode == 0, done.stderr
    return dest


@pytest.fixture(scope="session")
def wheel(source_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), "."],
        cwd=source_copy,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = out.glob("repograder-*.whl")
    return found


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh venv with the wheel and its dependencies installed."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    made = _run([_base_python(), "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv, "uv (a repograder dependency) is needed to install the wheel quickly"
    done = _run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(wheel)])
    assert done.returncode == 0, done.stdout + done.stderr
    return venv / "bin"


@pytest.fixture(autouse=True)
def _git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path_factory, monkeypatch)


def test_wheel_holds_every_package_file(wheel: Path, source_copy: Path) -> None:
    """Every tracked file of the package (rubrics, templates, sandbox files) is in the wheel."""
    package = source_copy / "src"
    tracked = {
        p.relative_to(package).as_posix()
        for p in (package / "repograder").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    with zipfile.ZipFile(wheel) as archive:
        shipped = {n for n in archive.namelist() if n.startswith("repograder/")}
    assert "repograder/rubrics/dl4ad.yaml" in tracked
    assert tracked - shipped == set()


def test_building_leaves_the_clone_clean(wheel: Path, source_copy: Path) -> None:
    """Build products (build/, *.egg-info) are ignored and none is tracked."""
    assert (source_copy / "build").is_dir() or (source_copy / "src/repograder.egg-info").is_dir()
    status = _run(["git", "status", "--porcelain", "--ignored=no"], cwd=source_copy)
    assert status.stdout == "", status.stdout
    tracked = _run(["git", "ls-files"], cwd=ROOT).stdout.splitlines()
    assert not [n for n in tracked if ".egg-info/" in n or n.startswith(("build/", "dist/"))]


def test_installed_wheel_runs_the_readme_commands(
    installed: Path, source_copy: Path, tmp_path: Path
) -> None:
    """The README's first commands from a wheel install: run --static, validate, check."""
    env = _clean_env()
    examples = source_copy / "examples"
    work = tmp_path / "elsewhere"  # not the source tree: nothing there may be imported
    work.mkdir()

    where = _run([str(installed / "python"), "-c", "import repograder; print(repograder.__file__)"])
    assert str(installed.parent) in where.stdout, where.stdout + where.stderr

    repograder = str(installed / "repograder")
    report = str(tmp_path / "report")
    run = _run(
        [repograder, "run", str(examples / "groups.yaml"), "--static", "--out", report, "-q"],
        cwd=work,
        env=env,
    )
    # 1: missing-group cannot be fetched (on purpose); the others are graded.
    assert run.returncode == 1, run.stdout + run.stderr
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    by_name = {g["name"]: g for g in results["groups"]}
    assert by_name["good-group"]["status"] == "graded"
    assert results["rubric"]["name"]
    assert {c["id"] for c in by_name["good-group"]["checks"]} >= {"readme", "env-file"}
    assert (tmp_path / "report" / "index.html").is_file()

    valid = _run(
        [repograder, "validate", str(examples / "groups.yaml")],
        cwd=work,
        env=env,
    )
    assert valid.returncode == 0, valid.stderr
    assert "rubric 'dl4ad" in valid.stdout, valid.stdout

    repo = make_repo(tmp_path / "student", good_files())
    check_out = str(tmp_path / "check-out")
    check = _run(
        # good_files() has no paper: only a failing *required* check fails this check.
        [
            repograder,
            "check",
            str(repo),
            "--static",
            "-q",
            "--out",
            check_out,
            "--fail-on",
            "required",
        ],
        cwd=work,
        env=env,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert (tmp_path / "check-out" / "results.json").is_file()


def _substitute(value: str, known: dict[str, str]) -> str:
    return _EXPR.sub(lambda m: known[m.group(1)], value)


@pytest.fixture(scope="session")
def action_python(source_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh venv standing in for actions/setup-python's interpreter (with pip)."""
    venv = tmp_path_factory.mktemp("action-venv") / "v"
    made = _run([_base_python(), "-m", "venv", str(venv)])
    assert made.returncode == 0, made.stderr
    return venv / "bin"


def _action_steps(
    action_python: Path, action_path: Path, workspace: Path, tmp: Path, inputs: dict[str, str]
) -> Iterator[tuple[str, subprocess.CompletedProcess[str], dict[str, str], str]]:
    """Run action.yml's `run:` steps in order, as a GitHub runner would; yields each result."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    values = {f"inputs.{k}": str(v["default"]) for k, v in action["inputs"].items()}
    values.update({f"inputs.{k}": v for k, v in inputs.items()})
    values["github.action_path"] = str(action_path)
    summary, output = tmp / "step_summary.md", tmp / "github_output"
    summary.write_text("")
    output.write_text("")
    env = _clean_env()
    env.update(
        {
            # actions/setup-python puts its interpreter first on PATH.
            "PATH": f"{action_python}{os.pathsep}{env['PATH']}",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_ACTIONS": "true",
        }
    )
    for step in action["runs"]["steps"]:
        if "uses" in step:
            assert step["uses"].startswith("actions/setup-python@"), step["uses"]
            continue
        step_env = {**env, **{k: _substitute(str(v), values) for k, v in step["env"].items()}}
        proc = _run(
            # `shell: bash` runs `bash --noprofile --norc -eo pipefail {0}` on GitHub runners.
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=workspace,
            env=step_env,
        )
        lines = output.read_text().splitlines()
        outputs = dict(line.split("=", 1) for line in lines if "=" in line)
        yield step.get("name", ""), proc, outputs, summary.read_text()
        if proc.returncode != 0:
            return


def test_action_steps_as_spelled_install_and_check(
    action_python: Path, source_copy: Path, tmp_path: Path
) -> None:
    """action.yml's own steps: `pip install <action path>` (a wheel build), then the check."""
    workspace = make_repo(tmp_path / "ws", bad_files())
    steps = list(
        _action_steps(action_python, source_copy, workspace, tmp_path, {"sandbox": "local"})
    )
    names = [name for name, *_ in steps]
    assert names == ["Install repograder", "Check the repository"], names
    (_, install, _, _), (_, check, outputs, summary) = steps
    assert install.returncode == 0, install.stdout + install.stderr
    # Installed as a wheel into the runner's interpreter, not in development mode.
    shown = _run([str(action_python / "python"), "-m", "pip", "show", "-f", "repograder"])
    assert "repograder/rubrics/dl4ad.yaml" in shown.stdout, shown.stdout
    assert "Editable project location" not in shown.stdout
    # The bad repository fails a required check: exit 1, with outputs and a summary.
    assert check.returncode == 1, check.stdout + check.stderr
    assert outputs["verdict"] == "fail"
    assert outputs["exit-code"] == "1"
    assert Path(outputs["report-dir"]) == workspace / "repograder-report"
    assert (workspace / "repograder-report" / "results.json").is_file()
    assert "## repograder check: ws" in summary
    assert "::error" in check.stdout
