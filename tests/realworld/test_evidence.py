"""Issue 14, kind 3: evidence in another form (README.ipynb/.rst/.txt, docs/, paper.docx, zip)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gitrepo import isolate_git, make_repo, write
from repograder import cli
from repograder.checks.paper_pages import evaluate_pages
from repograder.checks.readme import evaluate_readme
from repograder.model import Params, Status
from repograder.paper import inspect_paper
from repograder.readme import inspect_readme

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data" / "realworld"))
import repos


def _commands(root: Path) -> list[str]:
    return [s.command for s in inspect_readme(root).steps]


def test_notebook_readme_is_found_and_its_markdown_cells_give_the_steps(tmp_path: Path) -> None:
    write(tmp_path, repos.notebook_readme())
    facts = inspect_readme(tmp_path)
    assert facts.path == "README.ipynb"
    assert [(s.command, str(s.kind)) for s in facts.steps] == [
        ("pip install -r requirements.txt", "env"),
        ("python main.py", "run"),
    ]
    assert any("README.ipynb is a notebook" in w for w in facts.warnings)
    assert facts.has_install_section
    assert facts.has_usage_section


def test_notebook_readme_whose_commands_are_code_cells(tmp_path: Path) -> None:
    """Before: "no runnable steps", readme `fail` with 0 points, although every cell said what to
    run. The Python of a code cell is still not a step."""
    write(tmp_path, repos.notebook_readme_code_cells())
    facts = inspect_readme(tmp_path)
    assert [(s.command, str(s.kind)) for s in facts.steps] == [
        ("!pip install -r requirements.txt", "env"),
        ("!python main.py", "run"),
        ("python main.py", "run"),
    ]
    verdict = evaluate_readme(facts, Params())
    assert verdict.status is Status.PASS, verdict.summary


@pytest.mark.parametrize("name", ["README.rst", "README.txt", "Readme.MD", "docs/README.md"])
def test_readme_forms(tmp_path: Path, name: str) -> None:
    write(tmp_path, repos.readme_forms()[name])
    facts = inspect_readme(tmp_path)
    assert facts.path == name
    assert _commands(tmp_path) == ["pip install -r requirements.txt", "python main.py"]
    noted = any("no README at the repository root" in w for w in facts.warnings)
    assert noted is name.startswith("docs/")


def test_paper_as_word_and_overleaf_zip_is_named(tmp_path: Path) -> None:
    write(tmp_path, repos.paper_in_other_forms())
    facts = inspect_paper(tmp_path)
    verdict = evaluate_pages(facts, Params())
    assert verdict.status.value == "fail"
    assert "paper.docx is a Word document; the course asks for a PDF" in verdict.summary
    assert "overleaf.zip holds main.tex (IEEEtran, conference) but no PDF" in verdict.summary


@pytest.fixture
def _git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path_factory, monkeypatch)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)


@pytest.mark.usefixtures("_git")
def test_through_the_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = {**repos.notebook_readme(), **repos.paper_in_other_forms()}
    del files["README.md"]
    repo = make_repo(tmp_path / "birds", files)
    out = tmp_path / "report"
    cli.main(["check", str(repo), "--out", str(out), "--quiet", "--static"])
    stdout = capsys.readouterr().out
    checks = {
        c["id"]: c for c in json.loads((out / "results.json").read_text())["groups"][0]["checks"]
    }
    assert checks["readme"]["status"] == "pass", checks["readme"]
    assert checks["readme"]["details"]["path"] == "README.ipynb"
    assert (
        "overleaf.zip holds main.tex (IEEEtran, conference) but no PDF"
        in checks["paper-pages"]["summary"]
    )
    assert "fix: export the paper as a PDF and commit it" in stdout
