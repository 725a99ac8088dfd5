"""Tests for repograder.readme: finding, step extraction, classification, the readme check."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repograder import model
from repograder.checks.readme import evaluate_readme
from repograder.errors import ConfigError
from repograder.readme import (
    MAX_README_BYTES,
    ReadmeFacts,
    Step,
    StepKind,
    facts_to_json,
    find_readme,
    format_steps,
    inspect_readme,
    inspect_readme_text,
    parse_readme,
)
from repograder.readme_commands import RawCommand, parse_annotation
from repograder.readme_rules import Context, classify

DATA = Path(__file__).resolve().parents[1] / "data" / "readmes"
STYLES = sorted(p for p in DATA.iterdir() if p.suffix in (".md", ".rst"))


def steps_of(text: str, path: str = "README.md") -> tuple[Step, ...]:
    steps, _ = parse_readme(text, path)
    return steps


def kinds(text: str) -> list[tuple[str, StepKind]]:
    return [(s.command, s.kind) for s in steps_of(text)]


# ---------------------------------------------------------------------------------------------
# The README styles in tests/data/readmes


def test_there_are_enough_styles() -> None:
    assert len(STYLES) >= 15
    for readme in STYLES:
        assert readme.with_suffix(".expected.yaml").exists(), readme.name


@pytest.mark.parametrize("readme", STYLES, ids=lambda p: p.name)
def test_style_matches_expected_classification(readme: Path) -> None:
    expected = yaml.safe_load(readme.with_suffix(".expected.yaml").read_text(encoding="utf-8"))
    text = readme.read_bytes().decode("utf-8")
    facts = inspect_readme_text(text, readme.name, len(text), truncated=False)
    got = [
        {
            "line": s.source_line,
            "kind": str(s.kind),
            "command": s.command.split("\n")[0],
            **({"timeout_s": s.timeout_s} if s.timeout_s else {}),
            **({"expect_fail": True} if s.expect_fail else {}),
            **({"long_running": True} if s.long_running else {}),
        }
        for s in facts.steps
    ]
    assert got == expected["steps"]
    assert [s.index for s in facts.steps] == list(range(1, len(facts.steps) + 1))
    verdict = evaluate_readme(facts, model.Params())
    assert str(verdict.status) == expected["verdict"], verdict.summary


def test_source_lines_point_at_the_command_in_the_file() -> None:
    for readme in STYLES:
        lines = readme.read_bytes().decode("utf-8").replace("\r\n", "\n").split("\n")
        for step in steps_of("\n".join(lines), readme.name):
            first = step.command.split("\n")[0]
            assert first in lines[step.source_line - 1], (readme.name, step)


def test_crlf_data_file_really_has_crlf_and_matches_lf_version() -> None:
    raw = (DATA / "crlf.md").read_bytes()
    assert b"\r\n" in raw
    crlf = steps_of(raw.decode())
    lf = steps_of(raw.decode().replace("\r\n", "\n"))
    assert crlf == lf
    assert crlf[1].command == "python transcribe.py \\\n    examples/beat.wav"
    assert all("\r" not in s.command for s in crlf)


def test_heading_context_is_nearest_heading() -> None:
    steps = steps_of((DATA / "conda_env.md").read_text(encoding="utf-8"))
    assert steps[0].heading == "Environment"
    assert steps[4].heading == "Training and evaluation"
    german = steps_of((DATA / "german.md").read_text(encoding="utf-8"))
    assert german[1].heading == "Ausführung"


# ---------------------------------------------------------------------------------------------
# Finding the README


@pytest.mark.parametrize(
    "name", ["README.md", "readme.md", "Readme.MD", "README.markdown", "README.rst", "README.txt"]
)
def test_find_readme_names(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("# x\n")
    assert find_readme(tmp_path) == name


@pytest.mark.parametrize("name", ["README", "readme"])
def test_find_readme_without_extension(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("x\n")
    assert find_readme(tmp_path) == name


def test_find_readme_prefers_markdown(tmp_path: Path) -> None:
    for name in ("README.rst", "README.txt", "README.md"):
        (tmp_path / name).write_text("x\n")
    assert find_readme(tmp_path) == "README.md"
    facts = inspect_readme(tmp_path)
    assert facts.path == "README.md"
    assert set(facts.candidates) == {"README.md", "README.rst", "README.txt"}


def test_find_readme_falls_back_to_docs(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "README.md").write_text("```bash\npython main.py\n```\n")
    assert find_readme(tmp_path) == "docs/README.md"
    assert inspect_readme(tmp_path).steps[0].command == "python main.py"


def test_no_readme_fails(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("print(1)\n")
    facts = inspect_readme(tmp_path)
    assert facts.path is None
    verdict = evaluate_readme(facts, model.Params())
    assert verdict.status == model.Status.FAIL
    assert verdict.fraction == 0.0
    assert "no README" in verdict.summary


def test_symlinked_readme_is_refused(tmp_path: Path) -> None:
    (tmp_path / "README.md").symlink_to("/etc/passwd")
    assert find_readme(tmp_path) is None
    facts = inspect_readme(tmp_path)
    assert facts.path is None
    assert facts.symlink_refused == ("README.md",)
    dumped = json.dumps(facts_to_json(facts))
    assert "root:" not in dumped
    verdict = evaluate_readme(facts, model.Params())
    assert verdict.status == model.Status.FAIL
    assert "symlink" in verdict.summary


def test_symlinked_readme_falls_back_to_real_one(tmp_path: Path) -> None:
    (tmp_path / "README.md").symlink_to("/etc/passwd")
    (tmp_path / "README.rst").write_text("Title\n=====\n\nRun::\n\n    python main.py\n")
    facts = inspect_readme(tmp_path)
    assert facts.path == "README.rst"
    assert any("symlink" in w for w in facts.warnings)
    assert [s.command for s in facts.steps] == ["python main.py"]


def test_huge_readme_is_truncated_quickly(tmp_path: Path) -> None:
    chunk = (
        b"## Section\n\nSome text `python x.py`.\n\n```bash\npip install -r requirements.txt\n```\n"
    )
    with open(tmp_path / "README.md", "wb") as fh:
        block = chunk * (1_000_000 // len(chunk))
        written = 0
        while written < 50_000_000:
            fh.write(block)
            written += len(block)
    start = time.monotonic()
    facts = inspect_readme(tmp_path)
    elapsed = time.monotonic() - start
    assert facts.truncated
    assert facts.size_bytes >= 50_000_000
    assert elapsed < 3.0, elapsed  # 2 s budget plus slack for a shared machine
    assert facts.steps  # still parsed the beginning
    assert any("larger than" in w for w in facts.warnings)
    assert MAX_README_BYTES <= 2_000_000


@pytest.mark.parametrize(
    "hostile",
    [
        "[" * 2_000_000,
        "`a" * 1_000_000,
        "1. a `python x.py` b\n" * 100_000,
        "```console\n" + "$ echo \\\n" * 200_000,
        "```bash\n" + "for x in y; do\n" * 200_000,
        "```\n" + "x" * 2_000_000,
        "```bash\npython <" + "a" * 1_999_000,
    ],
    ids=["brackets", "backticks", "list", "prompts", "loops", "longline", "angle"],
)
def test_parsing_time_is_bounded_on_hostile_input(hostile: str) -> None:
    start = time.monotonic()
    parse_readme(hostile)
    assert time.monotonic() - start < 3.0


def test_hostile_html_is_kept_as_plain_text() -> None:
    text = "```bash\npython run.py --name '<script>alert(1)</script>'\n```\n"
    steps = steps_of(text)
    assert steps[0].command == "python run.py --name '<script>alert(1)</script>'"
    assert json.dumps(facts_to_json(inspect_readme_text(text, "README.md", 10, False)))


# ---------------------------------------------------------------------------------------------
# Extraction details


def test_comments_and_blank_lines_are_not_steps() -> None:
    text = "```bash\n# install\n\npip install -r requirements.txt  # deps\n\n# run\n```\n"
    assert [s.command for s in steps_of(text)] == ["pip install -r requirements.txt  # deps"]


def test_continuation_stays_one_step() -> None:
    text = "```bash\npython train.py \\\n  --epochs 3 \\\n  --lr 0.1\npython eval.py\n```\n"
    steps = steps_of(text)
    assert [s.command for s in steps] == [
        "python train.py \\\n  --epochs 3 \\\n  --lr 0.1",
        "python eval.py",
    ]
    assert [s.source_line for s in steps] == [2, 5]


def test_heredoc_stays_one_step_and_body_is_not_classified() -> None:
    text = "```bash\ncat > a.txt <<'END'\npip install foo\nEND\npython a.py\n```\n"
    steps = steps_of(text)
    assert steps[0].command == "cat > a.txt <<'END'\npip install foo\nEND"
    assert steps[0].kind == StepKind.RUN
    assert steps[1].command == "python a.py"


def test_unclosed_quote_and_pipes_continue() -> None:
    text = '```sh\necho "a\nb" |\n  grep a\nls\n```\n'
    assert [s.command for s in steps_of(text)] == ['echo "a\nb" |\n  grep a', "ls"]


def test_console_prompts_mark_commands_and_skip_output() -> None:
    text = (
        "```console\n$ pip install -r requirements.txt\nCollecting x\n"
        "(venv) $ python main.py --x 1\naccuracy 0.9\n% ls\nfile\n$\n```\n"
    )
    steps = steps_of(text)
    assert [s.command for s in steps] == [
        "pip install -r requirements.txt",
        "python main.py --x 1",
        "ls",
    ]
    assert [s.source_line for s in steps] == [2, 4, 6]


def test_console_continuation_with_ps2_prompt() -> None:
    text = "```console\n$ python a.py \\\n>   --b 1\nok\n```\n"
    assert [s.command for s in steps_of(text)] == ["python a.py \\\n  --b 1"]


def test_bash_block_with_dollar_prompts_is_a_transcript() -> None:
    text = "```bash\n$ python main.py\nHello\n```\n"
    assert [s.command for s in steps_of(text)] == ["python main.py"]


def test_untagged_python_code_is_not_steps() -> None:
    text = "```\nimport numpy as np\nx = np.zeros(3)\nprint(x)\n```\n\n    python main.py\n"
    assert [s.command for s in steps_of(text)] == ["python main.py"]


def test_python_tagged_block_is_not_steps() -> None:
    assert steps_of("```python\nimport os\nos.system('ls')\n```\n") == ()


def test_file_tree_and_output_are_not_steps() -> None:
    text = "```\nproject/\n├── src\n└── README.md\n```\n\n```\nEpoch 1: loss 0.3\n```\n"
    assert steps_of(text) == ()


def test_inline_commands_in_lists_and_prose() -> None:
    text = (
        "1. Run `python train.py --epochs 2`\n"
        "2. Edit `config.yaml`\n\n"
        "To evaluate, run `python eval.py --split test`.\n\n"
        "The `python main.py` script is the entry point.\n"
    )
    assert [s.command for s in steps_of(text)] == [
        "python train.py --epochs 2",
        "python eval.py --split test",
    ]
    assert all(s.block_lang == "inline" for s in steps_of(text))


def test_commands_in_tables_are_not_steps() -> None:
    text = "| what | how |\n|---|---|\n| train | `python train.py --x` |\n"
    assert steps_of(text) == ()


def test_indented_code_in_list_item_keeps_lines() -> None:
    text = "1. Install:\n\n   ```bash\n   pip install -r requirements.txt\n   ```\n2. Go\n"
    steps = steps_of(text)
    assert steps[0].command == "pip install -r requirements.txt"
    assert steps[0].source_line == 4


def test_rst_code_block_directive_and_literal() -> None:
    text = (
        "Title\n=====\n\nSetup::\n\n    pip install .\n\n"
        ".. code-block:: bash\n\n   python a.py\n\nUsage\n-----\n\n"
        "- run ``python b.py --x 1``\n"
    )
    steps = steps_of(text, "README.rst")
    assert [(s.command, s.source_line, s.heading) for s in steps] == [
        ("pip install .", 6, "Title"),
        ("python a.py", 10, "Title"),
        ("python b.py --x 1", 15, "Usage"),
    ]


def test_windows_block_without_alternative_is_attempted() -> None:
    text = "## Run\n\n```cmd\npython src\\main.py\n```\n"
    (step,) = steps_of(text)
    assert step.kind == StepKind.RUN
    assert step.windows
    assert "Windows" in step.reason


def test_windows_block_with_linux_alternative_is_platform_specific() -> None:
    text = (
        "## Run\n\nLinux:\n\n```bash\npython src/main.py\n```\n\n"
        "Windows:\n\n```powershell\npython src\\main.py\n$env:DEBUG = '1'\n```\n"
    )
    steps = steps_of(text)
    assert [s.kind for s in steps] == [StepKind.RUN, StepKind.PLATFORM, StepKind.PLATFORM]


# ---------------------------------------------------------------------------------------------
# Classification


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        ("pip install -r requirements.txt", StepKind.ENV),
        ("pip3 install -r requirements-dev.txt", StepKind.ENV),
        ("python -m pip install -e .", StepKind.ENV),
        ("pip install .", StepKind.ENV),
        ("pip install torch librosa", StepKind.ENV),
        ("conda env create -f environment.yml", StepKind.ENV),
        ("conda create -n audio python=3.10", StepKind.ENV),
        ("conda install -c conda-forge librosa", StepKind.ENV),
        ("mamba env create -f env.yml", StepKind.ENV),
        ("python -m venv .venv", StepKind.ENV),
        ("virtualenv venv", StepKind.ENV),
        ("poetry install", StepKind.ENV),
        ("uv sync", StepKind.ENV),
        ("uv venv", StepKind.ENV),
        ("pipenv install", StepKind.ENV),
        ("sudo apt-get install -y ffmpeg", StepKind.ENV),
        ("source .venv/bin/activate", StepKind.NOT_APPLICABLE),
        (". venv/bin/activate", StepKind.NOT_APPLICABLE),
        ("conda activate audio", StepKind.NOT_APPLICABLE),
        ("deactivate", StepKind.NOT_APPLICABLE),
        ("pyenv local 3.10.4", StepKind.NOT_APPLICABLE),
        ("git clone https://github.com/a/b.git && cd b", StepKind.NOT_APPLICABLE),
        ("jupyter notebook", StepKind.INTERACTIVE),
        ("jupyter lab", StepKind.INTERACTIVE),
        ("streamlit run app.py", StepKind.INTERACTIVE),
        ("gradio app.py", StepKind.INTERACTIVE),
        ("flask run", StepKind.INTERACTIVE),
        ("uvicorn api:app --reload", StepKind.INTERACTIVE),
        ("python -m http.server 8000", StepKind.INTERACTIVE),
        ("poetry shell", StepKind.INTERACTIVE),
        ("pipenv shell", StepKind.INTERACTIVE),
        ("tensorboard --logdir runs", StepKind.INTERACTIVE),
        ("docker build -t x .", StepKind.INTERACTIVE),
        ("xdg-open results/plot.png", StepKind.INTERACTIVE),
        ("open results/plot.png", StepKind.INTERACTIVE),
        ("python", StepKind.INTERACTIVE),
        ("brew install ffmpeg", StepKind.PLATFORM),
        ("python predict.py --audio <path/to/file.wav>", StepKind.PLACEHOLDER),
        ("python a.py --key YOUR_API_KEY", StepKind.PLACEHOLDER),
        ("python a.py --data /path/to/data", StepKind.PLACEHOLDER),
        ("python a.py path/to/your/file.wav", StepKind.PLACEHOLDER),
        ("python a.py --model <your-model>", StepKind.PLACEHOLDER),
        ("python a.py [file]", StepKind.PLACEHOLDER),
        ("python a.py ...", StepKind.PLACEHOLDER),
        ("python main.py", StepKind.RUN),
        ("python -m pkg.train --config c.yaml", StepKind.RUN),
        ("jupyter nbconvert --execute --to notebook a.ipynb", StepKind.RUN),
        ("bash run.sh", StepKind.RUN),
        ("./run.sh", StepKind.RUN),
        ("make train", StepKind.RUN),
        ("cd src && python train.py", StepKind.RUN),
        ("CUDA_VISIBLE_DEVICES=0 python train.py", StepKind.RUN),
        ("python a.py < input.txt > out.txt 2>&1", StepKind.RUN),
        ("pip install -e .[dev]", StepKind.ENV),
        ("poetry run python main.py", StepKind.RUN),
        ("conda run -n audio python main.py", StepKind.RUN),
    ],
)
def test_classification(command: str, kind: StepKind) -> None:
    got, reason = classify(RawCommand(command, 1, command), Context())
    assert got == kind, reason
    assert reason


def test_only_the_first_clone_and_following_cd_are_not_applicable() -> None:
    text = (
        "```bash\ngit clone https://github.com/a/proj\ncd proj\ncd src\n"
        "git clone https://github.com/other/lib\n```\n"
    )
    assert [k for _, k in kinds(text)] == [
        StepKind.NOT_APPLICABLE,
        StepKind.NOT_APPLICABLE,
        StepKind.RUN,
        StepKind.RUN,
    ]


def test_cd_is_run_when_not_after_clone() -> None:
    assert kinds("```bash\ncd src\npython a.py\n```\n")[0][1] == StepKind.RUN


# ---------------------------------------------------------------------------------------------
# Annotations


@pytest.mark.parametrize(
    ("body", "seconds"),
    [("timeout=90s", 90.0), ("timeout=20m", 1200.0), ("timeout=2h", 7200.0), ("timeout=45", 45.0)],
)
def test_annotation_timeout_units(body: str, seconds: float) -> None:
    ann, warnings = parse_annotation(body, 3)
    assert ann.timeout_s == seconds
    assert warnings == ()


def test_annotation_bad_values_and_unknown_keys_warn() -> None:
    ann, warnings = parse_annotation(" timeout=soon, frobnicate expect-fail", 7)
    assert ann.timeout_s is None
    assert ann.expect_fail
    assert len(warnings) == 2
    assert all(w.startswith("line 7:") for w in warnings)


def test_annotation_skip_applies_to_whole_block() -> None:
    text = "<!-- repograder: skip -->\n```bash\npython a.py\npython b.py\n```\n```bash\nls\n```\n"
    steps = steps_of(text)
    assert [s.kind for s in steps] == [
        StepKind.ANNOTATED_SKIP,
        StepKind.ANNOTATED_SKIP,
        StepKind.RUN,
    ]
    assert steps[0].base_kind == StepKind.RUN
    assert "line 1" in steps[0].reason


def test_annotation_combination_timeout_expect_fail() -> None:
    text = "<!-- repograder: timeout=90s expect-fail -->\n\n```bash\npython a.py\n```\n"
    (step,) = steps_of(text)
    assert (step.timeout_s, step.expect_fail, step.kind) == (90.0, True, StepKind.RUN)


def test_annotation_before_list_item() -> None:
    text = (
        "1. Install `pip install -r requirements.txt`\n"
        "<!-- repograder: long-running, timeout=1h -->\n"
        "2. Serve `python serve.py --port 1`\n"
    )
    steps = steps_of(text)
    assert steps[0].timeout_s is None
    assert steps[1].long_running
    assert steps[1].timeout_s == 3600.0


def test_annotation_run_forces_running() -> None:
    text = "<!-- repograder: run -->\n```bash\nstreamlit run app.py\n```\n"
    (step,) = steps_of(text)
    assert step.kind == StepKind.RUN
    assert step.base_kind == StepKind.INTERACTIVE


def test_inline_comment_annotation_applies_to_next_command_only() -> None:
    text = "```bash\n# repograder: timeout=5m\npython a.py\npython b.py\n```\n"
    steps = steps_of(text)
    assert [s.timeout_s for s in steps] == [300.0, None]


def test_unknown_annotation_is_a_warning_not_a_crash() -> None:
    text = "<!-- repograder: explode -->\n```bash\npython a.py\n```\n"
    steps, warnings = parse_readme(text)
    assert steps[0].kind == StepKind.RUN
    assert any("explode" in w for w in warnings)


def test_dangling_annotation_warns() -> None:
    _, warnings = parse_readme("<!-- repograder: skip -->\n\n# Heading\n\ntext\n")
    assert any("heading" in w for w in warnings)


# ---------------------------------------------------------------------------------------------
# The readme check, formatting, JSON


def facts_for(text: str) -> ReadmeFacts:
    return inspect_readme_text(text, "README.md", len(text), False)


FILLER = " ".join(["word"] * 60)


def test_check_passes_with_install_and_run() -> None:
    text = f"{FILLER}\n\n```bash\npip install -r requirements.txt\npython main.py\n```\n"
    verdict = evaluate_readme(facts_for(text), model.Params())
    assert (verdict.status, verdict.fraction) == (model.Status.PASS, 1.0)
    assert verdict.details["steps_total"] == 2
    assert verdict.details["steps_by_kind"] == {"env": 1, "run": 1}
    assert verdict.details["install_steps"] == [1]
    assert verdict.details["run_steps"] == [2]
    json.dumps(verdict.details)


def test_check_warns_without_install_step() -> None:
    verdict = evaluate_readme(facts_for(f"{FILLER}\n\n    python main.py\n"), model.Params())
    assert verdict.status == model.Status.WARN
    assert 0 < verdict.fraction < 1
    assert "no installation step" in verdict.summary
    relaxed = model.Params({"require_install_step": False})
    assert evaluate_readme(facts_for(f"{FILLER}\n\n    python main.py\n"), relaxed).status == (
        model.Status.PASS
    )


def test_check_warns_without_run_step() -> None:
    text = f"{FILLER}\n\n```bash\npip install -r requirements.txt\n```\n"
    verdict = evaluate_readme(facts_for(text), model.Params())
    assert verdict.status == model.Status.WARN
    assert "no command that runs the code" in verdict.summary
    relaxed = model.Params({"require_run_step": False})
    assert evaluate_readme(facts_for(text), relaxed).status == model.Status.PASS


def test_check_fails_for_nearly_empty_readme() -> None:
    verdict = evaluate_readme(facts_for("# Project\n\nOur audio project.\n"), model.Params())
    assert verdict.status == model.Status.FAIL
    assert verdict.fraction == 0.0
    assert "nearly empty (4 words" in verdict.summary


def test_check_min_words_param() -> None:
    text = "```bash\npip install -r requirements.txt\npython main.py\n```\n"
    assert evaluate_readme(facts_for(text), model.Params()).status == model.Status.WARN
    forty = " ".join(["word"] * 40) + "\n\n" + text
    assert "README is short (49 words" in evaluate_readme(facts_for(forty), model.Params()).summary
    params = model.Params({"min_words": 0})
    assert evaluate_readme(facts_for(text), params).status == model.Status.PASS
    with pytest.raises(ConfigError):
        evaluate_readme(facts_for(text), model.Params({"min_words": "many"}))


@pytest.mark.parametrize(
    ("text", "command"),
    [
        # a shell prompt inside the span marks it as a command
        (
            "1. Instalar dependencias: `$ pip install -r requirements.txt`\n",
            "pip install -r requirements.txt",
        ),
        ("- `(venv) $ python main.py`\n", "python main.py"),
        # the verb before a span in prose, in the students' languages
        ("Ejecute `python main.py` para entrenar.\n", "python main.py"),
        ("Führen Sie `python main.py` aus.\n", "python main.py"),
        ("Lancez `python main.py` pour entraîner le modèle.\n", "python main.py"),
        ("Pokrenite `python main.py`.\n", "python main.py"),
        ("请运行 `python main.py`。\n", "python main.py"),
        ("Die Datei `config.py` enthält die Parameter.\n", None),
    ],
)
def test_inline_commands_in_other_languages_and_behind_prompts(
    text: str, command: str | None
) -> None:
    """Before, a `$ `-prompted span and a span after a non-English verb gave no step: a Spanish
    README whose install step was `$ pip install -r requirements.txt` had "no installation
    step"."""
    steps, _ = parse_readme(text)
    assert [s.command for s in steps] == ([command] if command else [])


CHINESE_README = """# 环境声音分类

本项目使用卷积神经网络对环境声音进行分类。我们在公开数据集上训练模型，
并在测试集上评估准确率。代码包括数据预处理、特征提取、训练和评估四个部分。

## 安装

```bash
pip install -r requirements.txt
```

## 运行

```bash
python main.py
```
"""


def test_words_of_a_readme_without_spaces_are_counted_per_character() -> None:
    """Chinese and Japanese separate no words by spaces: a run of 30 characters is not one word
    (a real Chinese README of this size was "nearly empty (8 words)")."""
    facts = facts_for(CHINESE_README)
    assert facts.word_count >= 60
    verdict = evaluate_readme(facts, model.Params())
    assert (verdict.status, verdict.fraction) == (model.Status.PASS, 1.0)
    japanese = "この研究では環境音を分類します。"
    assert facts_for(japanese).word_count == 15  # 15 kana and kanji, the full stop not
    assert facts_for("Our audio project, it's tiny.").word_count == 5


def test_check_warns_when_run_steps_are_all_placeholders() -> None:
    text = f"{FILLER}\n\n```bash\npip install -r requirements.txt\npython p.py <file.wav>\n```\n"
    verdict = evaluate_readme(facts_for(text), model.Params())
    assert verdict.status == model.Status.WARN
    assert "placeholders" in verdict.summary


def test_annotated_skip_still_counts_as_instruction() -> None:
    text = (
        f"{FILLER}\n\n```bash\npip install -r requirements.txt\n```\n"
        "<!-- repograder: skip -->\n```bash\npython main.py\n```\n"
    )
    assert evaluate_readme(facts_for(text), model.Params()).status == model.Status.PASS


def test_format_steps_table() -> None:
    steps = steps_of("```bash\npip install -r r.txt\npython a.py \\\n  --x\n```\n")
    table = format_steps(steps)
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["#", "line", "kind", "command"]
    assert "env" in lines[1]
    assert "python a.py \\ [+1 lines]" in lines[2]
    assert format_steps(()) == "no steps found\n"


def test_facts_json_roundtrip_and_extras(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(
        "# P\n\nNeeds Python 3.10. Download the dataset from Zenodo.\n"
        "![img](a.png) [link](b)\n\n## Installation\n\n```bash\n"
        "pip install -r requirements.txt\n```\n\n## Usage\n\nOpen `demo.ipynb`.\n",
        encoding="utf-8",
    )
    facts = inspect_readme(tmp_path)
    data = json.loads(json.dumps(facts_to_json(facts)))
    assert data["path"] == "README.md"
    assert data["python_version_mentioned"] == "3.10"
    assert data["mentions_data_download"] is True
    assert data["env_files_mentioned"] == ["requirements.txt"]
    assert data["has_install_section"]
    assert data["has_usage_section"]
    assert data["images"] == 1
    assert data["links"] == 1
    assert data["notebooks_mentioned"] == ["demo.ipynb"]
    assert data["steps"][0]["kind"] == "env"


def test_fifo_readme_is_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "README.md")
    facts = inspect_readme(tmp_path)  # must not block
    assert facts.path is None


# ---------------------------------------------------------------------------------------------
# Fuzzing

MARKDOWN_BITS = st.sampled_from(
    [
        "```",
        "```bash\n",
        "```console\n",
        "~~~",
        "$ ",
        "> ",
        "\\\n",
        "<<EOF\n",
        "EOF\n",
        "'",
        '"',
        "`",
        "1. ",
        "- ",
        "<!-- repograder: skip timeout=5m -->\n",
        "<!-- repograder:",
        "-->",
        "# ",
        "python a.py ",
        "pip install -r r.txt",
        "::\n\n    ",
        ".. code-block:: bash\n\n   ",
        "\r\n",
        "\n",
        "    ",
        "<path/to/x>",
        "if x; then\n",
        "for a in b; do\n",
        "| a | b |\n|---|---|\n",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.one_of(MARKDOWN_BITS, st.text(max_size=20)), max_size=40))
def test_parse_readme_never_raises(parts: list[str]) -> None:
    text = "".join(parts)
    for path in ("README.md", "README.rst"):
        steps, warnings = parse_readme(text, path)
        assert all(isinstance(s, Step) and s.command for s in steps)
        assert all(s.source_line >= 1 for s in steps)
        assert isinstance(warnings, tuple)


def test_a_fence_whose_info_is_only_braces_names_no_language() -> None:
    # Found by the property test above: "```{" raised IndexError.
    for info in ("{", "{}", "{.}", " { "):
        steps, _warnings = parse_readme(f"```{info}\npython run.py\n```\n", "README.md")
        assert [s.command for s in steps] == ["python run.py"]


# ---------------------------------------------------------------------------------------------
# Edge cases found while writing the heuristics


def test_multiline_annotation_comment() -> None:
    text = "<!--\n  repograder: skip\n-->\n```bash\npython a.py\n```\n"
    assert steps_of(text)[0].kind == StepKind.ANNOTATED_SKIP


def test_python_repl_lines_in_shell_block_are_not_steps() -> None:
    text = "```bash\npython\n>>> import torch\n>>> torch.__version__\n```\n"
    assert [s.command for s in steps_of(text)] == ["python"]


def test_braces_in_python_one_liner_are_not_placeholders() -> None:
    text = "```bash\npython -c \"x=1; print(f'{x}')\"\npython a.py --out {your_dir}\n```\n"
    assert [s.kind for s in steps_of(text)] == [StepKind.RUN, StepKind.PLACEHOLDER]


def test_wrapped_inline_code_span_in_list() -> None:
    text = "1. Train with `python train.py\n   --epochs 3`\n"
    (step,) = steps_of(text)
    assert step.command == "python train.py --epochs 3"
    assert step.source_line == 1


def test_cd_after_compound_clone_and_not_after_later_parts() -> None:
    text = "```bash\ngit clone https://x/p && cd p\ncd src\n```\n"
    assert [s.kind for s in steps_of(text)] == [StepKind.NOT_APPLICABLE, StepKind.RUN]


def test_install_in_windows_block_stays_env() -> None:
    text = (
        "## Setup\n\n```bash\nsource venv/bin/activate\n```\n\n"
        "```cmd\nvenv\\Scripts\\activate\npip install -r requirements.txt\n```\n"
    )
    steps = steps_of(text)
    assert [s.kind for s in steps] == [StepKind.NOT_APPLICABLE, StepKind.PLATFORM, StepKind.ENV]
    assert steps[2].windows
