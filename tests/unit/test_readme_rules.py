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
        ("python train.py", "py -3.11 src\\main.py"),  # the example
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
