"""Property-based fuzzing of every parser that reads student or lecturer input.

The property is the same everywhere: bad input is data. Parsers of student files return facts
(never raise); the config loaders raise only ConfigError with a message. Budgets are tuned so
the whole folder runs in well under a minute on two cores.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from repograder import config, detect, envparse, paper, readme
from repograder.errors import ConfigError

# REPOGRADER_FUZZ_SCALE=50 turns the CI smoke run into a longer local fuzzing campaign.
SCALE = max(1, int(os.environ.get("REPOGRADER_FUZZ_SCALE", "1")))
FAST = settings(
    database=None,
    deadline=None,
    max_examples=300 * SCALE,
    suppress_health_check=[HealthCheck.too_slow],
)
MEDIUM = settings(
    database=None,
    deadline=None,
    max_examples=120 * SCALE,
    suppress_health_check=[HealthCheck.too_slow],
)
PAPERS = Path(__file__).resolve().parents[1] / "data" / "papers"

# Markdown/RST-ish building blocks make the fuzzer reach the interesting code paths quickly.
_TOKENS = st.sampled_from(
    [
        "```",
        "```bash",
        "```python",
        "~~~",
        "    ",
        "\t",
        "\n",
        "# ",
        "## Usage",
        "$ ",
        "> ",
        "- ",
        "1. ",
        ".. code-block:: bash",
        "::",
        "<!-- repograder: skip -->",
        "<!-- repograder: timeout=5s expect-fail -->",
        "<!--",
        "-->",
        "pip install -r ",
        "python train.py",
        "conda activate x",
        "cd ..",
        "\\",
        "&&",
        "|",
        "<script>",
        "`",
        "*",
        "[x](y)",
        "\r\n",
        "\x00",
        "\ufeff",
        "é",
        "\u202e",
        "<details>",
        "</details>",
        "jupyter notebook",
        "===",
        "---",
        "sudo apt-get install ",
        "export A=1",
        "${X}",
    ]
)
markdownish = st.lists(st.one_of(_TOKENS, st.text(max_size=20)), max_size=60).map("".join)


@FAST
@given(markdownish)
def test_readme_parser_never_raises(text: str) -> None:
    steps, warnings = readme.parse_readme(text)
    assert all(isinstance(s.command, str) and s.source_line >= 1 for s in steps)
    assert all(isinstance(w, str) for w in warnings)
    facts = readme.inspect_readme_text(
        text, "README.md", len(text.encode("utf-8", "replace")), False
    )
    readme.facts_to_json(facts)


@FAST
@given(markdownish)
def test_rst_readme_parser_never_raises(text: str) -> None:
    readme.parse_readme(text, "README.rst")


_REQ_TOKENS = st.sampled_from(
    [
        "numpy",
        "torch",
        "==",
        ">=",
        "~=",
        "!=",
        "1.2.3",
        ",",
        ";",
        " python_version < '3.8'",
        "[extra]",
        "-r ",
        "-c ",
        "-e ",
        "--index-url ",
        "git+https://x/y.git",
        "@",
        "file:///etc",
        "./local",
        "../up",
        "#",
        " ",
        "\\\n",
        "\n",
        "*",
        "-",
        ".",
        "\x00",
        "é",
        "--hash=sha256:ab",
    ]
)
requirement_text = st.lists(st.one_of(_REQ_TOKENS, st.text(max_size=8)), max_size=30).map("".join)


@FAST
@given(requirement_text)
def test_requirement_lines_never_raise(text: str) -> None:
    for _, line in envparse.split_logical_lines(text):
        envparse.sanitize_requirement(line)
        envparse.parse_include(line)


@FAST
@given(st.text(max_size=40))
def test_conda_and_poetry_translation_never_raise(text: str) -> None:
    envparse.conda_entry_to_pip(text)
    envparse.poetry_constraint_to_pip(text)
    envparse.choose_python(text, ["3.10", "3.11", "3.12"], "3.11")


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(["name", "channels", "dependencies", "pip", "python", "groups", "repo"])
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@FAST
@given(yaml_values)
def test_conda_documents_never_raise(doc: object) -> None:
    envparse.translate_conda(doc)


def _with_files(files: dict[str, str]) -> detect.EnvSpec:
    root = Path(tempfile.mkdtemp(prefix="fuzz-env-"))
    try:
        for name, text in files.items():
            (root / name).write_text(text, encoding="utf-8", errors="surrogateescape")
        return detect.detect_env(root)
    finally:
        shutil.rmtree(root)


@MEDIUM
@given(
    requirement_text, st.one_of(yaml_values.map(lambda d: yaml.safe_dump(d)), st.text(max_size=200))
)
@example("-r \x00", "")  # found by fuzzing: a NUL in an include path raised ValueError
def test_env_detection_on_arbitrary_files_never_raises(requirements: str, conda: str) -> None:
    spec = _with_files({"requirements.txt": requirements, "environment.yml": conda})
    detect.spec_to_json(spec)


_TOML_TOKENS = st.sampled_from(
    [
        "[project]\n",
        "[tool.poetry]\n",
        "[tool.poetry.dependencies]\n",
        "[build-system]\n",
        "dependencies = ",
        "requires-python = ",
        "requires = ",
        "python = ",
        '"^3.8"',
        '"numpy"',
        "[",
        "]",
        "{",
        "}",
        '"',
        "'",
        "=",
        ",",
        "\n",
        "version = ",
        "optional-dependencies",
        "[project.optional-dependencies]\n",
        'dev = ["pytest"]\n',
        "numpy = {version='1'}\n",
    ]
)


@MEDIUM
@given(st.lists(st.one_of(_TOML_TOKENS, st.text(max_size=6)), max_size=40).map("".join))
def test_pyproject_reading_never_raises(text: str) -> None:
    spec = _with_files({"pyproject.toml": text})
    detect.spec_to_json(spec)


def _load(loader: object, text: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-cfg-"))
    try:
        path = folder / "file.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        message = "no error"
        try:
            loader(path)  # type: ignore[operator]
        except ConfigError as exc:
            message = str(exc)
        assert message.strip(), "a ConfigError must say what is wrong"
    finally:
        shutil.rmtree(folder)


_CFG_TOKENS = st.sampled_from(
    [
        "course: x\n",
        "groups:\n",
        "  - name: a\n",
        "    repo: b\n",
        "deadline: ",
        "2026-03-31",
        "T23:59:59+02:00\n",
        "members: [",
        "]\n",
        "ref: main\n",
        "rubric: r.yaml\n",
        "name: r\n",
        "checks:\n",
        "  - id: readme\n",
        "    points: ",
        "2\n",
        "-1\n",
        "1e999\n",
        "    params:\n",
        "      min_words: ",
        "limits:\n",
        "  memory_mb: ",
        "  step_timeout: ",
        "5s\n",
        "forever\n",
        "&a ",
        "*a ",
        "!!python/object:os.system\n",
        "? ",
        ": ",
        "{",
        "}",
        "'",
        '"',
        "\t",
        "%YAML 1.2\n",
        "---\n",
        "...\n",
        "~\n",
        "<<: *a\n",
    ]
)
cfg_text = st.lists(st.one_of(_CFG_TOKENS, st.text(max_size=8)), max_size=40).map("".join)


@FAST
@given(cfg_text)
def test_groups_loader_raises_only_config_errors(text: str) -> None:
    _load(config.load_groups, text)


@FAST
@given(cfg_text)
def test_rubric_loader_raises_only_config_errors(text: str) -> None:
    _load(config.load_rubric, text)


# Each example spawns the PDF reader child process: few examples, each a real mutated paper.
@settings(
    database=None,
    deadline=None,
    max_examples=20 * SCALE,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.sampled_from(sorted(p.name for p in PAPERS.glob("*.pdf"))),
    st.integers(min_value=0, max_value=2**32 - 1),
    st.sampled_from(["flip", "truncate", "splice", "zero"]),
)
def test_mutated_pdfs_are_data_not_exceptions(name: str, seed: int, how: str) -> None:
    data = bytearray((PAPERS / name).read_bytes())
    rng = random.Random(seed)
    if how == "flip":
        for _ in range(rng.randint(1, 64)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif how == "truncate":
        del data[rng.randrange(1, len(data)) :]
    elif how == "splice":
        start = rng.randrange(len(data))
        data[start:start] = data[rng.randrange(len(data)) :][: rng.randint(1, 4096)]
    else:
        start = rng.randrange(len(data))
        data[start : start + rng.randint(1, 2048)] = bytes(rng.randint(1, 2048))
    root = Path(tempfile.mkdtemp(prefix="fuzz-pdf-"))
    try:
        (root / "paper").mkdir()
        (root / "paper" / "paper.pdf").write_bytes(bytes(data))
        facts = paper.inspect_paper(root)
        assert facts.status in ("found", "unreadable", "none"), facts
        assert facts.error_kind != "crash", f"{name} {how} {seed}: {facts.message}"
    finally:
        shutil.rmtree(root)


# --- issue 13: the one decoder and the README set-up parser ----------------------------------

_BOMS = st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00"])


@FAST
@given(_BOMS, st.binary(max_size=400))
def test_decode_never_raises_and_normalises_newlines(bom: bytes, data: bytes) -> None:
    from repograder import textio

    decoded = textio.decode(bom + data)
    assert "\r" not in decoded.text
    assert not decoded.text.startswith("\ufeff")
    assert decoded.encoding


_SETUP_WORDS = st.sampled_from(
    ["pip", "install", "-r", "-e", ".", "conda", "env", "create", "-f", "environment.yml",
     "poetry", "&&", ";", "|", "cd", "..", "'", '"', "python=3.10", "-n", "x", "uv", "sync",
     "requirements.txt", "sudo", "!pip", "--requirement=", "$HOME", "/abs"]
)  # fmt: skip


@FAST
@given(st.lists(st.lists(_SETUP_WORDS | st.text(max_size=8), max_size=12), max_size=5))
def test_readme_setup_parser_never_raises(commands: list[list[str]]) -> None:
    from repograder import envchain

    for item in envchain.parse_setup(" ".join(words) for words in commands):
        for path in (item.file, item.project):
            assert path is None or not path.startswith(("/", ".."))
