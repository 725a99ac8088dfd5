"""Issue 14, kinds 8 and 4: which PDF is the paper; the IEEE template judged by its layout.

Real PDFs made by tests/data/realworld/make_pdfs.py with IEEEtran (Croatian, compsoc, a guide
titled like IEEEtran_HOWTO, a Word-template-like sample, the group's own paper).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from gitrepo import isolate_git, make_repo
from repograder import cli
from repograder.model import Params, Status
from repograder.paper import evaluate_format, evaluate_pages, inspect_paper

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data" / "realworld"))
import make_pdfs
import repos

DATA = Path(__file__).resolve().parents[1] / "data" / "realworld"


def _place(root: Path, files: dict[str, str]) -> Path:
    """Copy fixture PDFs (values ending in .pdf) or write text into ``root``."""
    for rel, what in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if what.endswith(".pdf"):
            shutil.copyfile(DATA / what, target)
        else:
            target.write_text(what)
    return root


def test_template_guide_and_sample_are_never_the_paper(tmp_path: Path) -> None:
    root = _place(
        tmp_path,
        {
            "paper/IEEEtran_HOWTO.pdf": "ieeetran_howto_like.pdf",
            "paper/ieee_conference.pdf": "word_template_sample.pdf",
            "paper/main.tex": make_pdfs.GROUP_TEX,
            "paper/main.pdf": "group_paper.pdf",
        },
    )
    facts = inspect_paper(root)
    assert facts.path == "paper/main.pdf"
    assert facts.pages == 3
    verdict = evaluate_pages(facts, Params())
    assert verdict.status is Status.PASS
    why = {str(d["path"]): str(d["why"]) for d in verdict.details["not_taken"]}  # type: ignore[index,union-attr]
    assert "ships with the IEEE template" in why["paper/IEEEtran_HOWTO.pdf"]
    assert "the IEEE template's sample paper" in why["paper/ieee_conference.pdf"]
    chosen = next(c for c in facts.candidates if c.path == "paper/main.pdf")
    assert "built from the group's own paper/main.tex" in chosen.reason


def test_guide_recognised_by_content_and_group_name_is_normal(tmp_path: Path) -> None:
    # The guide's name says nothing; the group's paper is named like an assignment.
    root = _place(
        tmp_path,
        {
            "paper/ieee.pdf": "ieeetran_howto_like.pdf",
            "report/Assignment1_Group33_DeepLearning.pdf": "group_paper.pdf",
        },
    )
    facts = inspect_paper(root)
    assert facts.path == "report/Assignment1_Group33_DeepLearning.pdf"
    guide = next(c for c in facts.candidates if c.path == "paper/ieee.pdf")
    assert "the IEEEtran class's own guide" in guide.reason
    assert guide.score < 0


def test_own_source_title_picks_the_paper(tmp_path: Path) -> None:
    # Two plausible PDFs; the tex \title is on the first page of one of them only.
    root = _place(
        tmp_path,
        {
            "paper/final.pdf": "ieee_no_keywords.pdf",
            "paper/draft/paper.pdf": "group_paper.pdf",
            "paper/draft/paper.tex": make_pdfs.GROUP_TEX,
        },
    )
    assert inspect_paper(root).path == "paper/draft/paper.pdf"


def test_word_sample_alone_is_not_a_paper(tmp_path: Path) -> None:
    facts = inspect_paper(_place(tmp_path, {"paper/paper.pdf": "word_template_sample.pdf"}))
    assert facts.status == "none"


@pytest.mark.parametrize(
    "name", ["ieee_croatian.pdf", "ieee_compsoc.pdf", "ieee_no_keywords.pdf", "group_paper.pdf"]
)
def test_ieee_papers_in_any_language_pass_the_template(tmp_path: Path, name: str) -> None:
    facts = inspect_paper(_place(tmp_path, {"paper/paper.pdf": name}))
    verdict = evaluate_format(facts, Params())
    findings = {f["check"]: f for f in verdict.details["findings"]}  # type: ignore[index,union-attr]
    assert verdict.status is Status.PASS, findings
    assert verdict.fraction == 1.0


def test_croatian_marks_are_recognised(tmp_path: Path) -> None:
    facts = inspect_paper(_place(tmp_path, {"paper/paper.pdf": "ieee_croatian.pdf"}))
    assert facts.front_matter is not None
    assert facts.front_matter.abstract_ieee_style  # Sažetak—
    assert facts.front_matter.index_terms  # Ključne riječi—


def test_missing_index_terms_costs_nothing(tmp_path: Path) -> None:
    facts = inspect_paper(_place(tmp_path, {"paper/paper.pdf": "ieee_no_keywords.pdf"}))
    verdict = evaluate_format(facts, Params())
    row = next(f for f in verdict.details["findings"] if f["check"] == "front-matter")  # type: ignore[union-attr,index]
    assert row["status"] == "pass"
    assert "no index terms: not required" in row["measured"]


@pytest.fixture
def _git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path_factory, monkeypatch)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)


@pytest.mark.usefixtures("_git")
def test_croatian_paper_and_guide_through_the_pipeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files: dict[str, str | bytes] = {
        **repos.good_without_notebooks(),
        "paper/paper.pdf": (DATA / "ieee_croatian.pdf").read_bytes(),
        "paper/IEEEtran_HOWTO.pdf": (DATA / "ieeetran_howto_like.pdf").read_bytes(),
    }
    repo = make_repo(tmp_path / "ptice", files)
    out = tmp_path / "report"
    cli.main(["check", str(repo), "--out", str(out), "--quiet", "--static"])
    capsys.readouterr()
    group = json.loads((out / "results.json").read_text())["groups"][0]
    checks = {c["id"]: c for c in group["checks"]}
    assert checks["paper-pages"]["details"]["path"] == "paper/paper.pdf"
    assert checks["paper-pages"]["status"] == "pass"
    assert checks["paper-format"]["status"] == "pass", checks["paper-format"]["summary"]
    assert checks["paper-format"]["score"] == 1


def test_a_template_folders_sample_is_not_the_paper(tmp_path: Path) -> None:
    # The sample's text here is an ordinary paper's: only its place and name give it away.
    root = _place(
        tmp_path,
        {
            "template/conference_101719.pdf": "ieee_no_keywords.pdf",
            "template/main.pdf": "group_paper.pdf",
        },
    )
    facts = inspect_paper(root)
    assert facts.path == "template/main.pdf"
    sample = next(c for c in facts.candidates if c.path == "template/conference_101719.pdf")
    assert "a template folder's sample" in sample.reason
