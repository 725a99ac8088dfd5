"""action.yml and examples/github: structure, the check step run for real, CLI flags used."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitrepo import isolate_git, make_repo
from repograder import cli
from selfcheck_repos import bad_files, good_files

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
EXAMPLES = ROOT / "examples" / "github"
_EXPR = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(autouse=True)
def _git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path_factory, monkeypatch)


def test_action_structure() -> None:
    action = load(ACTION)
    assert action["name"]
    assert action["description"]
    inputs = action["inputs"]
    assert set(inputs) >= {"path", "rubric", "sandbox", "fail-on", "python-version"}
    for name, spec in inputs.items():
        assert spec.get("description"), name
        assert "default" in spec, name
    assert inputs["fail-on"]["default"] == "any-fail"
    assert inputs["sandbox"]["default"] == "auto"
    assert "report-dir" in action["outputs"]
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    for step in steps:
        assert ("run" in step) != ("uses" in step), step
        if "run" in step:
            assert step.get("shell") == "bash", step.get("name")
            # Inputs reach scripts through env, never spliced into the script text.
            assert "${{" not in step["run"], step.get("name")
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert install["env"]["RG_ACTION_PATH"] == "${{ github.action_path }}"
    # Every `${{ inputs.x }}` names a declared input.
    used = set(re.findall(r"inputs\.([\w-]+)", ACTION.read_text()))
    assert used <= set(inputs), used - set(inputs)


def _substitute(value: str, inputs: dict[str, str], extra: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        expr = match.group(1)
        if expr.startswith("inputs."):
            return inputs[expr.removeprefix("inputs.")]
        return extra[expr]

    return _EXPR.sub(one, value)


def run_check_step(
    tmp_path: Path, workspace: Path, overrides: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], dict[str, str], str]:
    """Run the action's `check` step with bash the way the runner would; skip the installs."""
    action = load(ACTION)
    inputs = {name: str(spec["default"]) for name, spec in action["inputs"].items()}
    inputs.update(overrides)
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "check")
    summary, output = tmp_path / "step_summary.md", tmp_path / "github_output"
    summary.write_text("")
    output.write_text("")
    # repograder is installed in this interpreter's environment: its script sits beside it.
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_ACTIONS": "true",
    }
    extra = {"github.action_path": str(ROOT)}
    env.update({k: _substitute(str(v), inputs, extra) for k, v in step.get("env", {}).items()})
    assert shutil.which("repograder", path=env["PATH"])
    proc = subprocess.run(
        # `shell: bash` runs `bash --noprofile --norc -eo pipefail {0}` on GitHub runners.
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return proc, outputs, summary.read_text()


def test_check_step_fails_on_required_check_with_summary_and_annotations(tmp_path: Path) -> None:
    workspace = make_repo(tmp_path / "ws", bad_files())
    proc, outputs, summary = run_check_step(tmp_path, workspace, {"sandbox": "local"})
    assert proc.returncode == 1, proc.stderr
    assert outputs["verdict"] == "fail"
    assert outputs["exit-code"] == "1"
    assert Path(outputs["report-dir"]) == workspace / "repograder-report"
    assert (workspace / "repograder-report" / "index.html").is_file()
    assert "## repograder check: ws: ❌ fail" in summary
    assert "| ✗ fail | Environment file" in summary
    annotations = [
        ln for ln in proc.stdout.splitlines() if ln.startswith(("::error ", "::warning "))
    ]
    assert any(
        a.startswith("::error file=README.md,line=") and "missing_script" in a for a in annotations
    ), proc.stdout
    assert any(a.startswith("::error title=Environment file") for a in annotations)


def test_check_step_passes_and_fail_on_never(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    make_repo(workspace / "project", good_files())
    # No paper: a failing check that is not required passes only under fail-on: required.
    proc, outputs, summary = run_check_step(
        tmp_path,
        workspace,
        {"path": "project", "out": "out", "sandbox": "local", "fail-on": "required"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert outputs["verdict"] == "pass"
    assert "✅ pass" in summary
    # A warning or error for the missing paper points at no file; README paths get the folder.
    assert "::error title=Paper PDF" in proc.stdout

    bad = make_repo(tmp_path / "ws2", bad_files())
    proc, outputs, _ = run_check_step(tmp_path, bad, {"fail-on": "never", "sandbox": "local"})
    assert proc.returncode == 0
    assert outputs["verdict"] == "pass"


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_student_workflow_uses_real_inputs_and_outputs() -> None:
    workflow = load(EXAMPLES / "student-check.yml")
    action = load(ACTION)
    uses = [s for s in _steps(workflow) if "repograder" in s.get("uses", "")]
    assert uses
    for step in uses:
        assert set(step.get("with", {})) <= set(action["inputs"])
    text = (EXAMPLES / "student-check.yml").read_text()
    for output in re.findall(r"steps\.grade\.outputs\.([\w-]+)", text):
        assert output in action["outputs"]


def _commands(workflow: dict[str, Any]) -> list[list[str]]:
    """Every `repograder ...` command of the workflow's run steps, as argv."""
    found = []
    for step in _steps(workflow):
        script = _EXPR.sub("1", step.get("run", ""))
        for part in re.split(r"\|\||&&|\n(?!\s)", script.replace("\n  ", " ")):
            words = shlex.split(part)
            if words[:1] == ["repograder"]:
                found.append(words[1:])
    return found


def test_lecturer_workflow_uses_real_cli_options() -> None:
    workflow = load(EXAMPLES / "lecturer-deadline.yml")
    commands = _commands(workflow)
    names = {argv[0] for argv in commands}
    assert {"snapshot", "run", "merge"} <= names
    parser = cli.build_parser()
    for argv in commands:
        args = parser.parse_args(argv)  # unknown flags exit with status 2
        if argv[0] == "run":
            assert args.shard == "1/1"
            assert args.snapshot == "snapshot.json"
    grade = workflow["jobs"]["grade"]
    assert grade["strategy"]["matrix"]["shard"] == list(
        range(1, int(workflow["env"]["SHARDS"]) + 1)
    )
    on = workflow.get("on") or workflow.get(True)  # YAML 1.1 reads `on` as true
    assert on["schedule"][0]["cron"]
