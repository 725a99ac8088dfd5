"""Issue 14, kinds 1 and 7: README commands as students write them, run as the grader can.

The classification is checked on the parser; the running through the real pipeline with the
LOCAL sandbox (real git, real subprocesses, the default rubric).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gitrepo import isolate_git, make_repo
from repograder import cli
from repograder.readme import parse_readme
from repograder.readme_translate import translate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data" / "realworld"))
import repos


@pytest.fixture(autouse=True)
def _git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path_factory, monkeypatch)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)


def _kinds(markdown: str) -> dict[str, str]:
    steps, _ = parse_readme(markdown)
    return {s.command: str(s.kind) for s in steps}


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        ("python3 main.py", "run"),
        ("python3.10 main.py", "run"),
        ("python.exe main.py", "run"),
        ("py -3.10 -m src.main", "run"),
        ("py src\\main.py", "run"),
        ("uv run streamlit run app.py", "interactive"),
        ("poetry run python train.py", "run"),
        ("pipenv run jupyter lab", "interactive"),
        ("conda run -n env python x.py", "run"),
        ("poetry run python", "interactive"),
        ("poetry run black .", "run"),
        ("poetry add librosa", "not-applicable"),
        ("pip freeze > requirements.txt", "not-applicable"),
        ("pre-commit install", "not-applicable"),
        ("uv add numpy", "not-applicable"),  # one more of the kind, not named in the issue
        ("tmux new -s train", "interactive"),
        ("python setup.py install", "env"),
        ("pip install .", "env"),
        ("python3.10 -m pip install -r requirements.txt", "env"),
    ],
)
def test_kind_of_commands_as_students_write_them(command: str, kind: str) -> None:
    assert _kinds(f"# X\n\n```bash\n{command}\n```\n") == {command: kind}


@pytest.mark.parametrize(
    ("written", "ran"),
    [
        ("python3 main.py", "python main.py"),
        ("python3.10 main.py", "python main.py"),
        ("python.exe main.py", "python main.py"),
        ("py -3.10 -m src.main", "python -m src.main"),
        ("py src\\main.py", "python src/main.py"),
        ("poetry run python train.py", "python train.py"),
        ("conda run -n env python x.py", "python x.py"),
        ("pipenv run python -m src.main --epochs 1", "python -m src.main --epochs 1"),
        ("uv run streamlit run app.py", "streamlit run app.py"),
        ("!python train.py", "python train.py"),
        ("cd src && python3 main.py", "cd src && python main.py"),
        ("pytest tests", "pytest tests"),
        ("python -m pytest", "python -m pytest"),
    ],
)
def test_translation_to_the_environment(written: str, ran: str) -> None:
    files = ["src/main.py", "main.py", "train.py", "x.py", "app.py"]
    assert translate(written, files).command == ran


def test_typographic_quotes_and_dashes_run_as_ascii() -> None:
    """A README written in Word or a cp1252 README: `–epochs` and “My run” were passed to the
    program as written, so argparse failed and the step blamed the student."""
    ran = translate("python main.py --title \u201cMy run\u201d \u2013epochs 5 \u2014lr 0.1")
    assert ran.command == 'python main.py --title "My run" --epochs 5 --lr 0.1'
    assert "autocorrect" in ran.notes[0]
    assert translate("python a.py 1\u20132").command == "python a.py 1\u20132"  # not an option
    assert translate("python main.py --epochs 5").notes == ()


def test_windows_path_that_is_not_a_file_stays() -> None:
    assert translate("python data\\raw.py", ["src/main.py"]).command == "python data\\raw.py"


def test_unavailable_version_is_a_note() -> None:
    notes = translate("python3.10 main.py").notes
    assert notes == (
        "'python3.10' ran as 'python', the environment's interpreter (the README asks for "
        "Python 3.10; the grader's Python may differ)",
    )


def _steps(out: Path) -> list[dict[str, object]]:
    data = json.loads((out / "results.json").read_text())
    steps = data["groups"][0]["steps"]
    assert isinstance(steps, list)
    return steps


def test_interpreter_names_and_runners_run_in_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "birds", repos.interpreter_names())
    out = tmp_path / "report"
    cli.main(["check", str(repo), "--out", str(out), "--quiet", "--sandbox", "local"])
    capsys.readouterr()
    steps = {s["command"]: s for s in _steps(out)}
    for command in (
        "python3 main.py",
        "python3.10 main.py",
        "python.exe main.py",
        "py -3.10 -m src.main",
        "poetry run python main.py",
        "conda run -n birds python main.py",
    ):
        assert steps[command]["status"] == "ok", steps[command]
        assert "hello grader" in str(steps[command]["output_head"])
    assert "the README asks for Python 3.10" in str(steps["python3.10 main.py"]["reason"])
    assert "'poetry run' dropped" in str(steps["poetry run python main.py"]["reason"])
    for command in ("poetry add numpy", "pip freeze > requirements.txt", "pre-commit install"):
        assert steps[command]["status"] == "skipped"
        assert "developer step" in str(steps[command]["reason"])


def test_windows_path_runs_as_posix_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "birds", repos.windows_paths())
    out = tmp_path / "report"
    cli.main(["check", str(repo), "--out", str(out), "--quiet", "--sandbox", "local"])
    capsys.readouterr()
    step = next(s for s in _steps(out) if s["command"] == "py src\\main.py")
    assert step["status"] == "ok", step
    assert "ran as 'src/main.py'" in str(step["reason"])


# --- kind 7: commands real READMEs hold ----------------------------------------------------


def test_code_span_alone_in_its_paragraph_is_a_command() -> None:
    text = "# X\n\nYou can now run\n\n`pytest`\n\nfrom the root.\n"
    assert _kinds(text) == {"pytest": "run"}


def test_code_span_alone_that_is_not_a_command_is_ignored() -> None:
    assert _kinds("# X\n\nThe config lives in\n\n`config.yaml`\n") == {}


def test_fence_in_a_list_item_with_body_at_column_0() -> None:
    text = (
        "# X\n\n1. Install the requirements:\n```bash\npip install -r requirements.txt\n"
        "   ```\n2. Train:\n   ```bash\npython train.py\n```\n3. Test:\n   ```bash\n   pytest\n"
        "   ```\n"
    )
    steps, _ = parse_readme(text)
    assert [(s.command, str(s.kind), s.source_line) for s in steps] == [
        ("pip install -r requirements.txt", "env", 5),
        ("python train.py", "run", 9),
        ("pytest", "run", 13),
    ]


@pytest.mark.parametrize("lang", ["python", "text", "console", "sh", "none"])
def test_rst_code_block_with_any_language_tag(lang: str) -> None:
    from repograder.readme import inspect_readme_text

    text = f"Title\n=====\n\nRun:\n\n.. code-block:: {lang}\n\n   python train.py --epochs 1\n"
    facts = inspect_readme_text(text, "README.rst", len(text), False)
    assert [s.command for s in facts.steps] == ["python train.py --epochs 1"]


def test_rst_python_block_with_python_code_is_not_steps() -> None:
    from repograder.readme import inspect_readme_text

    text = "T\n=\n\n.. code-block:: python\n\n   import numpy as np\n   x = np.zeros(3)\n"
    assert inspect_readme_text(text, "README.rst", len(text), False).steps == ()


def test_notebook_bang_in_a_shell_fence_runs_without_it() -> None:
    assert _kinds("# X\n\n```bash\n!python train.py\n```\n") == {"!python train.py": "run"}
    assert translate("!python train.py").command == "python train.py"
    assert (
        translate("!pip install -r requirements.txt").command == "pip install -r requirements.txt"
    )


MAKEFILE = (
    "install: venv\n\tpip install -r requirements.txt\n\nvenv:\n\tpython -m venv .venv\n\n"
    "train:\n\tpython train.py --epochs 1\n\nserve:\n\t@uvicorn app:app --port 8000\n"
)


def test_make_targets_are_judged_by_their_recipe(tmp_path: Path) -> None:
    from repograder.readme import inspect_readme

    (tmp_path / "Makefile").write_text(MAKEFILE)
    (tmp_path / "README.md").write_text(
        "# X\n\n## Installation\n\n```bash\nmake install\n```\n\n## Usage\n\n"
        "```bash\nmake train\nmake serve\nmake unknown\n```\n"
    )
    kinds = {s.command: str(s.kind) for s in inspect_readme(tmp_path).steps}
    assert kinds == {
        "make install": "env",
        "make train": "run",
        "make serve": "interactive",
        "make unknown": "run",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A shell prompt in a plain paragraph marks commands, whatever the first word.
        (
            "To run it:\n$ python3 -m venv .venv\n$ which python\n",
            ["python3 -m venv .venv", "which python"],
        ),
        # "the following command: ..." and emphasis around a command.
        (
            "1) Install librosa with the following command: pip install librosa\n",
            ["pip install librosa"],
        ),
        ("Train it:\n   *python ./train.py*\n", ["python ./train.py"]),
        ("Run python train.py\n", ["python train.py"]),
        ("3. Set up a virtual environment:\n   python -m venv venv\n", ["python -m venv venv"]),
        # Prose that mentions commands is not a command.
        ("Make sure python is installed.\n", []),
        ("python 3.10 is required\n", []),
        ("We use pip install to set up the packages and run the code.\n", []),
    ],
)
def test_commands_written_in_prose(text: str, expected: list[str]) -> None:
    steps, _ = parse_readme(f"# X\n\n{text}")
    assert [s.command for s in steps] == expected


def test_piped_installer_and_shell_settings() -> None:
    text = (
        "# X\n\n```bash\ncurl -sSL https://install.example/get.py | python3 -\n"
        "source $HOME/.poetry/env\n.\\run.ps1\n```\n"
    )
    assert list(_kinds(text).values()) == ["env", "not-applicable", "platform-specific"]


def test_version_output_is_not_a_command() -> None:
    assert _kinds("# X\n\nTested with:\n```\nPython 3.12.3\n```\n") == {}


def test_rst_directive_in_any_case_and_make_setup_targets_by_name() -> None:
    from repograder.readme import inspect_readme_text

    text = "T\n=\n\n.. Code-block:: bash\n\n    python3.6 -m app.train --gpu_no 0\n"
    facts = inspect_readme_text(text, "README.rst", len(text), False)
    assert [s.command for s in facts.steps] == ["python3.6 -m app.train --gpu_no 0"]
    # Without a Makefile to read, a set-up target's name decides.
    assert _kinds("# X\n\n1. Install dependencies by running `make install`\n") == {
        "make install": "env"
    }
