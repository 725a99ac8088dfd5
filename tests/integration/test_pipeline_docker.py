"""`repograder run` end to end against the real Docker engine.

One run grades two groups: a README that exercises every kind of step (state across steps, a
failure, a placeholder, a timeout, a missing module, console prompts, an annotation, CRLF line
endings) plus a notebook that fails in a known cell; and a conda environment.yml project.
"""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from gitrepo import commit, init_repo
from notebook_files import notebook_json
from repograder import cli
from repograder.sandbox import docker as sandbox_docker

pytestmark = pytest.mark.docker

README = textwrap.dedent(
    """\
    # Steps of every kind

    Install the requirements and run the scripts in order; each step builds on the previous one.
    This README deliberately mixes styles that real student projects use, so that the grader's
    classification and execution can be checked in one go.

    ## Setup

    ```bash
    pip install -r requirements.txt
    ```

    ## Run

    ```bash
    mkdir -p out && cd out
    export GREETING=hello
    echo "$GREETING from $(basename "$PWD")" > note.txt
    cat note.txt
    ```

    ```console
    $ python -c "import six; print('six', six.__version__)"
    six 1.16.0
    $ python ../missing.py
    Traceback (most recent call last):
    ```

    Predict on your own file:

    ```bash
    python predict.py --audio <path/to/file.wav>
    ```

    <!-- repograder: skip -->
    ```bash
    rm -rf / --no-preserve-root
    ```

    <!-- repograder: timeout=3s -->
    ```bash
    python -c "import time; print('training', flush=True); time.sleep(60)"
    ```

    ```bash
    echo still-running-after-timeout
    ```
    """
)
MISSING_PY = "import torchaudio  # not in requirements.txt\n"


ENV_YML = textwrap.dedent(
    """\
    name: audio
    channels: [conda-forge, pytorch]
    dependencies:
      - python=3.10
      - cudatoolkit=11.8
      - pip
      - pip:
          - six
    """
)

RUBRIC = textwrap.dedent(
    """\
    name: docker-test
    limits:
      memory_mb: 1024
      step_timeout: 60s
    checks:
      - {id: readme, points: 1}
      - {id: env-file, points: 1}
      - {id: env-build, points: 1}
      - {id: readme-steps, points: 2}
      - id: notebooks
        points: 1
        params: {cell_timeout_s: 60}
    """
)


def labelled_containers() -> set[str]:
    proc = subprocess.run(
        ["docker", "ps", "-aq", "--no-trunc", "--filter", "label=repograder"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(proc.stdout.split())


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:  # type: ignore[type-arg]
    if not sandbox_docker.base_image_available():
        sandbox_docker.build_base_image(offline=True, log=lambda _line: None)
    tmp = tmp_path_factory.mktemp("docker-run")
    steps_repo = init_repo(tmp / "steps")
    commit(
        steps_repo,
        {
            "README.md": README.replace("\n", "\r\n").encode(),  # CRLF, as from Windows
            "requirements.txt": "six==1.16.0\n",
            "missing.py": MISSING_PY,
            "analysis.ipynb": notebook_json(
                ["x = 1", "y = x + 1", "raise ValueError('cell three')"]
            ),
        },
        "steps",
        "2026-03-30T10:00:00+00:00",
    )
    conda_repo = init_repo(tmp / "conda")
    commit(
        conda_repo,
        {
            "environment.yml": ENV_YML,
            "README.md": "# Conda\n\n```bash\nconda env create -f environment.yml\n"
            'conda activate audio\npython -c "import six, sys; print(sys.version)"\n```\n',
        },
        "conda",
        "2026-03-30T10:00:00+00:00",
    )
    (tmp / "rubric.yaml").write_text(RUBRIC)
    groups = tmp / "groups.yaml"
    groups.write_text(
        "rubric: rubric.yaml\n"
        "groups:\n  - {name: steps, repo: steps}\n  - {name: conda, repo: conda}\n"
    )
    out = tmp / "out"
    before = labelled_containers()
    code = cli.main(["run", str(groups), "--out", str(out), "--sandbox", "docker", "-q", "-j", "2"])
    assert code == 0
    data = json.loads((out / "results.json").read_text())
    assert labelled_containers() <= before  # no container of this run is left behind
    return {g["name"]: g for g in data["groups"]}


def test_steps_of_every_kind(graded: dict[str, dict]) -> None:  # type: ignore[type-arg]
    steps = {s["command"]: s for s in graded["steps"]["steps"]}
    assert steps["pip install -r requirements.txt"]["status"] == "skipped"  # the build did it
    # cd and export carried over between steps
    assert steps["cat note.txt"]["status"] == "ok"
    assert "hello from out" in steps["cat note.txt"]["output_head"]
    # console block: only the $ lines ran, the expected output did not
    six_step = steps["python -c \"import six; print('six', six.__version__)\""]
    assert six_step["status"] == "ok"
    assert "six 1.16.0" in six_step["output_head"]
    assert "six 1.16.0" not in steps  # expected output is not a command
    missing = steps["python ../missing.py"]
    assert missing["status"] == "failed"
    assert "torchaudio" in missing["hint"]
    assert "environment" in missing["hint"]
    placeholder = steps["python predict.py --audio <path/to/file.wav>"]
    assert placeholder["status"] == "skipped"
    assert "placeholder" in placeholder["reason"]
    assert steps["rm -rf / --no-preserve-root"]["status"] == "skipped"  # the annotation
    timed_out = next(s for c, s in steps.items() if "time.sleep(60)" in c)
    assert timed_out["status"] == "timeout"
    assert "training" in timed_out["output_head"]  # output so far is kept
    assert steps["echo still-running-after-timeout"]["status"] == "ok"  # the run went on
    # source lines point into the CRLF README
    assert steps["cat note.txt"]["source_line"] == 19


def test_notebook_fails_in_its_cell(graded: dict[str, dict]) -> None:  # type: ignore[type-arg]
    check = next(c for c in graded["steps"]["checks"] if c["id"] == "notebooks")
    assert check["status"] == "fail"
    assert "cell 3" in check["summary"]
    assert "ValueError" in check["summary"]


def test_conda_environment_translated_and_built(graded: dict[str, dict]) -> None:  # type: ignore[type-arg]
    group = graded["conda"]
    checks = {c["id"]: c for c in group["checks"]}
    assert checks["env-file"]["status"] == "pass"
    build = checks["env-build"]
    assert build["status"] == "pass", build["summary"]
    assert any("cudatoolkit" in d for d in build["details"]["dropped"])
    assert any("3.10" in n for n in build["details"]["notes"])  # graded with 3.11, and says so
    (run,) = [s for s in group["steps"] if s["status"] != "skipped"]
    assert run["status"] == "ok"
    assert "3.11" in run["output_head"]
    assert checks["readme-steps"]["status"] == "pass"
