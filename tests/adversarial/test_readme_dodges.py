"""A student's README step that runs their code must not be classified as set-up or skipped.

Each command below runs ``python train.py`` when a shell executes it, hidden behind something the
rule table treats as set-up (``pip install``, ``conda``, a developer step, an activation, an
interpreter manager). Set-up and not-applicable steps are not run, so a misclassification lets a
failing program go unnoticed. Pure: no sandbox.
"""

from __future__ import annotations

import pytest

from repograder.readme import parse_readme
from repograder.readme_commands import StepKind
from repograder.readme_sources import make_kind

HIDDEN_RUNS = [
    # a single `&` runs the left side in the background and goes on with the right side
    "pip install -r requirements.txt & python train.py",
    "conda install numpy & python train.py",
    "python -m venv venv & python train.py",
    "apt-get install -y foo & python train.py",
    "pre-commit run --all-files & python train.py",
    "pip install -r requirements.txt > /dev/null 2>&1 & python train.py",
    # command substitution and process substitution run their command first
    "pip install -r requirements.txt $(python train.py)",
    "pip install -r requirements.txt `python train.py`",
    "pip install -r <(python train.py)",
    "git commit -m x -- $(python train.py)",
    "source venv/bin/activate $(python train.py)",
    'pip install "$(python train.py)"',
    # interpreter managers that run a command
    "pyenv exec python train.py",
    "nvm exec 18 python train.py",
    "nvm run 18 train.js",
    "hatch env run -e test -- python train.py",
    # a substitution running a server does not hide the outer run
    "python train.py --v $(tensorboard --version)",
    # a download piped to a shell is set-up, what follows it is not
    "curl -sSL https://install.python-poetry.org | python3 - && python train.py",
    "wget -qO- https://astral.sh/uv/install.sh | sh; python train.py",
    "python train.py && curl -sSL https://example.org/install.sh | sh",
]


@pytest.mark.parametrize("command", HIDDEN_RUNS)
def test_a_run_hidden_behind_set_up_is_still_run(command: str) -> None:
    (step,), _ = parse_readme(f"# P\n\n```bash\n{command}\n```\n")
    assert step.kind == StepKind.RUN, (step.kind, step.reason)


@pytest.mark.parametrize(
    "command",
    [
        "echo done 2>&1 | tee log.txt",
        "python train.py &> log.txt",
        "python train.py >& log.txt",
        "pip install -r requirements.txt 2>&1",
        "pip install 'numpy>=1.0' '$(not run: single-quoted)'",
    ],
)
def test_redirections_and_quoted_text_are_not_separators(command: str) -> None:
    (step,), _ = parse_readme(f"# P\n\n```bash\n{command}\n```\n")
    if command.startswith("pip"):
        assert step.kind == StepKind.ENV, step.reason
    else:
        assert step.kind == StepKind.RUN, step.reason


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        ("curl -o data.zip https://example.com/localhost/data.zip", StepKind.RUN),
        ("wget https://localhost.example.com/data.zip", StepKind.RUN),
        ("curl 'https://api.example.com/?next=localhost:80'", StepKind.RUN),
        ("curl http://localhost:8000/predict -d @x.json", StepKind.INTERACTIVE),
        ("curl -X POST 127.0.0.1:5000/predict", StepKind.INTERACTIVE),
        ("wget http://user@localhost/x", StepKind.INTERACTIVE),
    ],
)
def test_only_a_local_host_makes_a_local_server_client(command: str, kind: StepKind) -> None:
    (step,), _ = parse_readme(f"# P\n\n```bash\n{command}\n```\n")
    assert step.kind == kind, step.reason


MAKEFILES = {
    "inline recipe after ;": "install: ; python train.py\n\tpip install -r requirements.txt\n",
    "a second rule adds a prerequisite": (
        "install:\n\tpip install -r requirements.txt\n\ntrain:\n\tpython train.py\n\n"
        "install: train\n"
    ),
    "prerequisites deeper than read": (
        "install: a\n\tpip install -r requirements.txt\na: b\nb: c\nc: d\nd: e\ne: f\n"
        "f:\n\tpython train.py\n"
    ),
    "a recipe longer than read": (
        "install:\n" + "\tpip install numpy\n" * 60 + "\tpython train.py\n"
    ),
}


@pytest.mark.parametrize("makefile", MAKEFILES.values(), ids=list(MAKEFILES))
def test_make_target_with_a_hidden_run_is_run(makefile: str) -> None:
    judged = make_kind("make install", makefile)
    assert judged is not None
    assert judged[0] == StepKind.RUN, judged


def test_make_target_that_only_installs_is_still_set_up() -> None:
    makefile = "install: deps\n\tpip install -e .\ndeps:\n\tpip install -r requirements.txt\n"
    assert make_kind("make install", makefile) == (
        StepKind.ENV,
        "make install installs: installs the requirements file: covered by the environment build",
    )


@pytest.mark.parametrize(
    "windows",
    [
        "set DATA=C:\\data && python train.py",
        '$env:DATA="x"; python train.py',
        "venv\\Scripts\\activate && python train.py --epochs 1",
    ],
)
def test_an_unrelated_linux_step_is_no_alternative_to_a_windows_run_of_the_code(
    windows: str,
) -> None:
    """The Windows step runs train.py; `ls data` nearby is not a Linux way to do that."""
    text = f"# P\n\nWindows:\n\n```\n{windows}\n```\n\nLinux:\n\n```bash\nls data\n```\n"
    steps, _ = parse_readme(text)
    assert steps[0].kind == StepKind.RUN, steps[0].reason


def test_the_same_program_run_on_linux_is_the_alternative() -> None:
    text = (
        "# P\n\nWindows:\n\n```\nset DATA=C:\\data && python train.py\n```\n\n"
        "Linux:\n\n```bash\nexport DATA=/data && python3 train.py\n```\n"
    )
    steps, _ = parse_readme(text)
    assert [s.kind for s in steps] == [StepKind.PLATFORM, StepKind.RUN]


@pytest.mark.parametrize(
    "command",
    [
        "python train.py && tensorboard --logdir runs",
        "python train.py --epochs 1 && streamlit run app.py",
        "python -m src.train && jupyter notebook",
    ],
)
def test_code_run_before_a_server_is_run_and_the_server_may_keep_running(command: str) -> None:
    """`python train.py && tensorboard ...` was interactive as a whole and never ran: a failing
    train.py went unseen. Now it runs; `&&` stops at a failure (a fail), and a server still
    running at the timeout is the long-running success the README describes."""
    (step,), _ = parse_readme(f"# P\n\n```bash\n{command}\n```\n")
    assert step.kind == StepKind.RUN, step.reason
    assert step.long_running


@pytest.mark.parametrize(
    "command",
    [
        "streamlit run app.py",
        "cd app && streamlit run app.py",
        "pip install -r requirements.txt && streamlit run app.py",
        "tensorboard --logdir runs && python train.py",
        "python train.py; tensorboard --logdir runs",  # the failure's exit code is lost: as before
    ],
)
def test_other_compounds_with_a_server_stay_interactive(command: str) -> None:
    (step,), _ = parse_readme(f"# P\n\n```bash\n{command}\n```\n")
    assert step.kind == StepKind.INTERACTIVE, step.reason
    assert not step.long_running


def test_a_long_running_annotation_and_the_derived_one_agree() -> None:
    text = (
        "# P\n\n<!-- repograder: timeout=2m -->\n"
        "```bash\npython train.py && tensorboard --logdir runs\n```\n"
    )
    (step,), _ = parse_readme(text)
    assert (step.kind, step.long_running, step.timeout_s) == (StepKind.RUN, True, 120.0)
