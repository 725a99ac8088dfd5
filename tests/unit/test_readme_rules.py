"""The README classification rule table (readme_rules.RULES) and the Windows-alternative rule."""

from __future__ import annotations

import pytest

from repograder.readme import parse_readme
from repograder.readme_commands import StepKind
from repograder.readme_rules import RULES, Context, Rule, classify_part, make_part, match


def _rule(name: str) -> Rule:
    (rule,) = [r for r in RULES if r.name == name]
    return rule


def test_every_rule_has_a_name_and_a_reason_that_formats() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names)), "rule names are unique"
    part = make_part("pip install numpy", Context())
    assert part is not None
    for rule in RULES:
        assert rule.reason.strip(), rule.name
        assert isinstance(rule.kind, StepKind)
        # every template names only fields a Part provides (no KeyError at classification)
        assert isinstance(rule.explain(part), str)


def test_the_table_ends_in_a_catch_all_run_rule() -> None:
    last = RULES[-1]
    assert last.kind == StepKind.RUN
    part = make_part("zenml status", Context())
    assert part is not None
    assert match(part) is last
    assert all(not r.when(part) for r in RULES[:-1])


# (earlier rule, later rule, a command both match): the earlier one must decide.
ORDERED_PAIRS = [
    ("pip-freeze", "pip-other", "pip freeze > requirements.txt", StepKind.NOT_APPLICABLE),
    ("dependency-change", "env-tool-setup", "poetry add librosa", StepKind.NOT_APPLICABLE),
    ("activation", "windows-script", "venv\\Scripts\\activate.bat", StepKind.NOT_APPLICABLE),
    ("pip-requirements", "pip-packages", "pip install -r requirements.txt", StepKind.ENV),
    (
        "clone-project",
        "clone-other",
        "git clone https://example.org/g/p.git",
        StepKind.NOT_APPLICABLE,
    ),
    ("poetry-env", "env-tool-setup", "poetry env use 3.11", StepKind.NOT_APPLICABLE),
    ("python-server", "command", "python -m http.server 8000", StepKind.INTERACTIVE),
]


@pytest.mark.parametrize(("first", "second", "command", "kind"), ORDERED_PAIRS)
def test_order_matters_where_two_rules_match(
    first: str, second: str, command: str, kind: StepKind
) -> None:
    a, b = _rule(first), _rule(second)
    assert RULES.index(a) < RULES.index(b)
    part = make_part(command, Context())
    assert part is not None
    assert a.when(part), "both rules match: the order decides"
    assert b.when(part), "both rules match: the order decides"
    decided = classify_part(command, Context())
    assert decided == (a.kind, a.explain(part))
    assert decided[0] == kind
    swapped = list(RULES)
    i, j = swapped.index(a), swapped.index(b)
    swapped[i], swapped[j] = b, a
    assert classify_part(command, Context(), tuple(swapped)) == (b.kind, b.explain(part))
    assert (b.kind, b.explain(part)) != decided


def test_runner_is_unwrapped_before_the_table() -> None:
    kind, reason = classify_part("poetry run streamlit run app.py", Context())
    assert kind == StepKind.INTERACTIVE
    assert reason == "starts a Streamlit app (web server) (through poetry run)"


def test_reason_templates_are_filled_from_the_command() -> None:
    assert classify_part("uv sync", Context()) == (
        StepKind.ENV,
        "uv sync: covered by the environment build",
    )
    assert classify_part("conda env create -f environment.yml", Context()) == (
        StepKind.ENV,
        "conda env create: covered by the environment build",
    )
    assert classify_part("git push", Context())[1] == "a developer step (git push): not run"


# ---------------------------------------------------------------------------------------------
# Issue 14 kind 1: a Windows command the grader translates (interpreter name, backslash path)
# has an alternative only in the same command written for Linux, not in any step nearby.


def _kinds(text: str) -> list[tuple[str, StepKind]]:
    steps, _ = parse_readme(text)
    return [(s.command, s.kind) for s in steps]


@pytest.mark.parametrize(
    ("linux", "windows"),
    [
        ("python train.py", "py -3.11 src\\main.py"),  # the issue's example
        ("python scripts/train.py", "python.exe scripts\\evaluate.py --split test"),
        ("python3 main.py", "python3.10 tools\\make_dataset.py data\\raw"),
    ],
)
def test_translatable_windows_command_is_run_beside_an_unrelated_linux_step(
    linux: str, windows: str
) -> None:
    text = f"## Run\n\n```bash\n{linux}\n```\n\nOn Windows:\n\n```cmd\n{windows}\n```\n"
    assert _kinds(text) == [(linux, StepKind.RUN), (windows, StepKind.RUN)]


@pytest.mark.parametrize(
    ("linux", "windows"),
    [
        ("python3 src/main.py --epochs 3", "py -3.11 src\\main.py"),
        ("python -m src.main", "py -m src.main"),
        ("python scripts/evaluate.py", "python.exe .\\scripts\\evaluate.py --split test"),
    ],
)
def test_translatable_windows_command_with_its_linux_twin_is_platform_specific(
    linux: str, windows: str
) -> None:
    text = f"## Run\n\n```bash\n{linux}\n```\n\nOn Windows:\n\n```cmd\n{windows}\n```\n"
    assert _kinds(text) == [(linux, StepKind.RUN), (windows, StepKind.PLATFORM)]


def test_untranslatable_windows_syntax_keeps_any_nearby_alternative() -> None:
    text = "## Run\n\n```bash\nexport DEBUG=1\n```\n\n```powershell\n$env:DEBUG = '1'\n```\n"
    assert _kinds(text)[1] == ("$env:DEBUG = '1'", StepKind.PLATFORM)


# ---------------------------------------------------------------------------------------------
# Kinds found on real student READMEs (benchmarks/readme_bench.py)


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        ('curl -X POST "http://localhost:8001/predict" -F "file=@a.wav"', StepKind.INTERACTIVE),
        ("curl http://127.0.0.1:5000/health", StepKind.INTERACTIVE),
        ("wget -qO- 0.0.0.0:8080/api", StepKind.INTERACTIVE),
        ("curl -L -o data.zip https://example.org/localhost-data.zip", StepKind.RUN),
        ("python main.py --size=7b {args}", StepKind.PLACEHOLDER),
        ("python train.py --config={config}", StepKind.PLACEHOLDER),
        ("find . -name '*.pyc' -exec rm {} +", StepKind.RUN),
        ("mkdir -p data/{raw,processed}", StepKind.RUN),
    ],
)
def test_local_server_clients_and_brace_placeholders(command: str, kind: StepKind) -> None:
    assert _kinds(f"```bash\n{command}\n```\n") == [(command, kind)]


@pytest.mark.parametrize(
    "command",
    [
        "curl -LsSf https://astral.sh/uv/install.sh | sh",
        "cd /tmp && curl -sSL https://install.python-poetry.org | python3 -",
        "sudo apt-get update; wget -qO- https://example.org/setup.sh | sudo bash",
    ],
)
def test_a_downloaded_installer_piped_to_a_shell_is_set_up_anywhere_in_the_command(
    command: str,
) -> None:
    steps, _ = parse_readme(f"```bash\n{command}\n```\n")
    assert [(s.kind, s.reason) for s in steps] == [
        (StepKind.ENV, "installs a tool with a downloaded script: the sandbox has its tools")
    ]


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        # the command starts its own server in the background, then asks it: a run
        ("python app.py & sleep 5 && curl localhost:5000/health", StepKind.RUN),
        ("nohup python app.py > log.txt & sleep 5; curl http://127.0.0.1:5000/x", StepKind.RUN),
        # `&&` and redirections are no background start: the server is another step's
        ("python app.py --check && curl localhost:5000/health", StepKind.INTERACTIVE),
        ("python app.py > log.txt 2>&1; curl localhost:5000/health", StepKind.INTERACTIVE),
        ("python app.py &> log.txt; curl localhost:5000/health", StepKind.INTERACTIVE),
    ],
)
def test_a_local_client_after_a_background_start_in_the_same_command(
    command: str, kind: StepKind
) -> None:
    steps, _ = parse_readme(f"```bash\n{command}\n```\n")
    assert [s.kind for s in steps] == [kind], [(s.command, s.reason) for s in steps]


def test_powershell_backtick_continues_the_command() -> None:
    text = (
        "```powershell\nInvoke-WebRequest `\n  -Uri https://example.org/m.pt `\n"
        '  -OutFile "data/m.pt"\n```\n'
    )
    steps, _ = parse_readme(text)
    assert len(steps) == 1
    assert steps[0].command.count("\n") == 2


def test_code_and_output_in_a_shell_block_are_not_steps() -> None:
    text = (
        "```bash\n./run.py train -c config.json\nCompose(\n    Crop(prob=0.4)\n)\n"
        "100%|████████| 34/34 [00:03<00:00]\n{'accuracy': '0.804'}\n$(pwd)/tools/x.sh\n```\n"
    )
    assert [c for c, _ in _kinds(text)] == ["./run.py train -c config.json", "$(pwd)/tools/x.sh"]


def test_cmd_variables_mark_windows_commands() -> None:
    text = (
        "1. On Windows: `%UserProfile%\\miniconda3\\condabin\\activate`\n"
        "2. `conda env create -f environment.yml`\n"
        "3. `conda activate dl` (Linux)\n"
    )
    kinds = [k for _, k in _kinds(text)]
    assert kinds == [StepKind.PLATFORM, StepKind.ENV, StepKind.NOT_APPLICABLE]
    assert _kinds("```bash\ntar czf backup-$(date +%Y%m%d).tgz data\n```\n")[0][1] == StepKind.RUN


def test_a_dependency_built_from_source_is_not_the_project_clone() -> None:
    text = (
        "```sh\ngit clone https://x.org/lib.git && cd lib && python setup.py develop\n```\n\n"
        "```sh\ngit clone https://gitlab.example.org/course/project-3.git\ncd kws\n"
        "python3 -m pip install -e .\n```\n"
    )
    kinds = [k for _, k in _kinds(text)]
    assert kinds == [StepKind.ENV, StepKind.NOT_APPLICABLE, StepKind.RUN, StepKind.ENV]


@pytest.mark.parametrize(
    ("clone", "cd", "kind"),
    [
        ("git clone https://github.com/a/proj.git", "cd proj", StepKind.NOT_APPLICABLE),
        ("git clone --depth 1 git@github.com:a/proj.git", "cd proj/", StepKind.NOT_APPLICABLE),
        ("git clone -b main https://github.com/a/proj work", "cd work", StepKind.NOT_APPLICABLE),
        ("git clone https://github.com/a/proj.git", "cd audio_classification", StepKind.RUN),
    ],
)
def test_cd_after_clone_is_skipped_only_into_the_clones_folder(
    clone: str, cd: str, kind: StepKind
) -> None:
    assert _kinds(f"```sh\n{clone}\n{cd}\n```\n")[1] == (cd, kind)


def test_benchmark_readmes_meet_the_issue_goal() -> None:
    """benchmarks/readme_bench.py on its own labelled READMEs: at least 95% on each figure."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "benchmarks"
    spec = importlib.util.spec_from_file_location("readme_bench", root / "readme_bench.py")
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    labelled, found, matched, same, readmes = bench.score(root / "readmes", False)
    assert readmes >= 6
    assert matched >= 0.95 * labelled
    assert matched >= 0.95 * found
    assert same >= 0.95 * matched


def test_windows_venv_layout_and_scripts_are_windows_commands() -> None:
    text = (
        "```shell\n# UNIX\nsource venv/bin/activate\n\n# Windows\nvenv/Scripts/activate.bat\n```\n"
    )
    assert _kinds(text)[1] == ("venv/Scripts/activate.bat", StepKind.PLATFORM)


def test_cmd_prompt_lines_in_an_untagged_block_are_commands() -> None:
    text = (
        "For Linux:\n\n    $ python3 -m venv venv\n    $ source venv/bin/activate\n\n"
        "On Windows:\n\n    > py -3 -m venv venv\n    > venv\\Scripts\\activate\n\n"
        "Quoted output:\n\n    > not a command here\n"
    )
    assert _kinds(text) == [
        ("python3 -m venv venv", StepKind.ENV),
        ("source venv/bin/activate", StepKind.NOT_APPLICABLE),
        ("py -3 -m venv venv", StepKind.ENV),
        ("venv\\Scripts\\activate", StepKind.PLATFORM),
    ]


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        ("venv_x/bin/jupyter notebook", StepKind.INTERACTIVE),
        (".venv/bin/python train.py", StepKind.RUN),
        ("~/miniconda3/envs/dl/bin/pip install -r requirements.txt", StepKind.ENV),
    ],
)
def test_a_program_of_an_environments_bin_folder_is_that_program(
    command: str, kind: StepKind
) -> None:
    assert _kinds(f"- Run it: `{command}`\n") == [(command, kind)]


def test_a_dependency_cloned_after_the_project_set_up_is_set_up() -> None:
    project = (
        "```\ngit clone https://github.com/a/proj.git\ncd proj\npip install -e .\n```\n\n"
        "```\npip install -r requirements.txt\n\n"
        "git clone --depth 1 https://github.com/b/eval-harness\ncd eval-harness\n"
        "pip install -e .\n```\n"
    )
    steps, _ = parse_readme(project)
    assert [s.kind for s in steps] == [
        StepKind.NOT_APPLICABLE,  # the project's own clone, first thing in the README
        StepKind.NOT_APPLICABLE,
        StepKind.ENV,
        StepKind.ENV,
        StepKind.ENV,  # eval-harness: cloned, entered and installed after the requirements
        StepKind.ENV,
        StepKind.ENV,
    ]
    assert steps[4].reason.startswith("installs a dependency from its source repository")
    assert steps[2].reason.startswith("installs the project")
