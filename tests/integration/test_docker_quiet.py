"""Quiet work is ordinary student work: `repograder run` against the real engine.

A training script that prints nothing for minutes, or a notebook cell that computes quietly,
must run until its own timeout, never be cut by a read timeout of the engine client (the docker
SDK's default is 120 s). One run grades four groups at once:

- ``quiet-step``: a README step silent for 150 s, then exit 0 → ``ok``;
- ``quiet-cell``: a notebook cell silent for 150 s → the notebook passes;
- ``endless``: a quiet endless loop with a 60 s timeout → ``timeout``, the run goes on;
- ``after``: an ordinary group behind the endless one → graded.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from gitrepo import commit, init_repo
from notebook_files import notebook_json
from repograder import cli
from repograder.sandbox import docker as sandbox_docker

pytestmark = [pytest.mark.docker, pytest.mark.slow]

QUIET_S = 150  # longer than the SDK's 120 s default read timeout
PROSE = (
    "This project trains a small model on audio features and reports its accuracy. "
    "Install the requirements, then run the training script from the repository root; "
    "it prints its result when it is done. Each step below is needed for the next one.\n\n"
)
RUBRIC = textwrap.dedent(
    """\
    name: quiet-test
    limits:
      memory_mb: 512
      step_timeout: 5m
    checks:
      - {id: readme, points: 1}
      - {id: env-build, points: 1}
      - {id: readme-steps, points: 2}
      - id: notebooks
        points: 1
        params: {cell_timeout_s: 240}
    """
)


def _readme(block: str, annotation: str = "") -> str:
    return f"# Project\n\n{PROSE}## Run\n\n{annotation}```bash\n{block}\n```\n"


def _repo(root: Path, name: str, files: dict[str, str]) -> None:
    repo = init_repo(root / name)
    commit(repo, {"requirements.txt": "six==1.16.0\n", **files}, name, "2026-03-30T10:00:00+00:00")


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:  # type: ignore[type-arg]
    if not sandbox_docker.base_image_available():
        sandbox_docker.build_base_image(offline=True, log=lambda _line: None)
    tmp = tmp_path_factory.mktemp("quiet")
    # stdout is a pipe, so print() is block-buffered: nothing reaches the grader until exit.
    train = f"import time\nfor _ in range({QUIET_S}):\n    time.sleep(1)\nprint('trained')\n"
    _repo(tmp, "quiet-step", {"README.md": _readme("python train.py"), "train.py": train})
    _repo(
        tmp,
        "quiet-cell",
        {
            "README.md": _readme("python -c 'print(1)'"),
            "analysis.ipynb": notebook_json(
                ["import time", f"time.sleep({QUIET_S})", "print('computed')"]
            ),
        },
    )
    forever = "import time\nwhile True:\n    time.sleep(1)\n"
    _repo(
        tmp,
        "endless",
        {
            "README.md": _readme("python train.py", "<!-- repograder: timeout=60s -->\n"),
            "train.py": forever,
        },
    )
    _repo(tmp, "after", {"README.md": _readme("python -c 'print(42)'")})
    (tmp / "rubric.yaml").write_text(RUBRIC)
    groups = tmp / "groups.yaml"
    groups.write_text(
        "rubric: rubric.yaml\ngroups:\n"
        + "".join(f"  - {{name: {n}, repo: {n}}}\n" for n in ("quiet-step", "quiet-cell"))
        + "".join(f"  - {{name: {n}, repo: {n}}}\n" for n in ("endless", "after"))
    )
    out = tmp / "out"
    code = cli.main(["run", str(groups), "--out", str(out), "--sandbox", "docker", "-q", "-j", "3"])
    data = json.loads((out / "results.json").read_text())
    assert code == 0, data
    assert (out / "index.html").is_file()
    return {g["name"]: g for g in data["groups"]}


def test_a_step_quiet_for_150_s_succeeds(graded: dict[str, dict]) -> None:  # type: ignore[type-arg]
    group = graded["quiet-step"]
    assert group["status"] == "graded"
    (step,) = [s for s in group["steps"] if s["command"] == "python train.py"]
    assert step["status"] == "ok", step
    assert step["duration_s"] >= QUIET_S
    assert "trained" in step["output_head"]


def test_a_cell_quiet_for_150_s_succeeds(graded: dict[str, dict]) -> None:  # type: ignore[type-arg]
    group = graded["quiet-cell"]
    assert group["status"] == "graded"
    (check,) = [c for c in group["checks"] if c["id"] == "notebooks"]
    assert check["status"] == "pass", check


def test_a_quiet_endless_step_times_out_and_the_run_goes_on(
    graded: dict[str, dict],  # type: ignore[type-arg]
) -> None:
    group = graded["endless"]
    assert group["status"] == "graded"
    (step,) = [s for s in group["steps"] if s["command"] == "python train.py"]
    assert step["status"] == "timeout", step
    assert 60 <= step["duration_s"] < 120
    after = graded["after"]
    assert after["status"] == "graded"
    assert [s["status"] for s in after["steps"]] == ["ok"]
