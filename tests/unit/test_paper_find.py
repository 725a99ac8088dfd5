"""Finding the paper among decoys; source-only, LFS pointers and symlinks (real PDFs)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from repograder import paper
from repograder.checks.paper_format import evaluate_format
from repograder.checks.paper_pages import evaluate_pages
from repograder.model import Params, Status
from repograder.paper import find_paper, inspect_paper
from repograder.paper_find import glob_regex

DATA = Path(__file__).resolve().parents[1] / "data" / "papers"
LFS = (
    b"version https://git-lfs.github.com/spec/v1\n"
    b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    b"size 12345\n"
)
IEEE_TEX = r"""\documentclass[conference]{IEEEtran}
\begin{document}
\title{Our Paper}\maketitle
\end{document}
"""


def make_repo(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            shutil.copyfile(DATA / content, target)
    return root


DECOYS = {
    "paper/figures/loss_curve.pdf": "figure.pdf",
    "slides.pdf": "slides.pdf",
    "presentation/final.pdf": "slides.pdf",
    "assignment.pdf": "article_onecol.pdf",
    "docs/project_handout.pdf": "word_like.pdf",
    "references/smith2020.pdf": "ieee_letter_2p.pdf",
    "literature/jones.pdf": "ieee_letter_4p.pdf",
    "third_party/lib/doc/manual.pdf": "ieee_letter_2p.pdf",
    "plots/result.pdf": "figure.pdf",
}


def test_the_paper_wins_over_every_decoy(tmp_path: Path) -> None:
    root = make_repo(tmp_path, {**DECOYS, "report/main.pdf": "ieee_letter_4p.pdf"})
    chosen, candidates, status = find_paper(root)
    assert status == "found"
    assert chosen is not None
    assert chosen.path == "report/main.pdf"
    assert {c.path for c in candidates} == {*DECOYS, "report/main.pdf"}
    assert candidates[0] == chosen
    assert all(c.score < 0 for c in candidates[1:]), candidates
    facts = inspect_paper(root)
    assert facts.path == "report/main.pdf"
    assert facts.pages == 4
    other = evaluate_pages(facts, Params({})).details["other_candidates"]
    assert isinstance(other, list)
    assert set(other) == set(DECOYS)


@pytest.mark.parametrize(("rel", "fixture"), list(DECOYS.items()))
def test_a_decoy_alone_is_not_the_paper(tmp_path: Path, rel: str, fixture: str) -> None:
    facts = inspect_paper(make_repo(tmp_path, {rel: fixture}))
    assert facts.status == "none"
    assert facts.path is None
    assert [c.path for c in facts.candidates] == [rel]
    assert facts.candidates[0].reason  # says why it was not taken
    assert "no paper PDF found" in facts.message
    assert evaluate_pages(facts, Params({})).status == Status.FAIL
    assert evaluate_format(facts, Params({})).status == Status.SKIP


def test_reasons_name_the_decoy_kind(tmp_path: Path) -> None:
    root = make_repo(tmp_path, DECOYS)
    _, candidates, _ = find_paper(root)
    reasons = {c.path: c.reason for c in candidates}
    assert "figures folder" in reasons["paper/figures/loss_curve.pdf"]
    assert "landscape" in reasons["slides.pdf"]
    assert "course handout" in reasons["assignment.pdf"]
    assert "literature/references" in reasons["references/smith2020.pdf"]
    assert "vendored" in reasons["third_party/lib/doc/manual.pdf"]


def test_paper_folder_beats_root_and_globs_are_rubric_controlled(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path,
        {"paper/paper.pdf": "ieee_letter_4p.pdf", "notes.pdf": "ieee_letter_2p.pdf"},
    )
    chosen, _, _ = find_paper(root)
    assert chosen is not None
    assert chosen.path == "paper/paper.pdf"
    chosen, candidates, _ = find_paper(root, globs=["*.pdf"])
    assert chosen is not None
    assert chosen.path == "notes.pdf"
    assert [c.path for c in candidates] == ["notes.pdf"]


def test_glob_translation() -> None:
    assert glob_regex("paper/").fullmatch("paper/a/b.pdf")
    assert glob_regex("paper/").fullmatch("Paper/x.PDF")
    assert not glob_regex("*.pdf").fullmatch("paper/x.pdf")
    assert glob_regex("**/*.pdf").fullmatch("x.pdf")
    assert glob_regex("docs/*.pdf").fullmatch("docs/x.pdf")
    assert not glob_regex("docs/*.pdf").fullmatch("docs/a/x.pdf")


def test_latex_source_without_pdf_is_source_only(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path,
        {"paper/sections/intro.tex": b"\\section{Intro}\n", "paper/main.tex": IEEE_TEX.encode()},
    )
    facts = inspect_paper(root)
    assert facts.status == "source-only"
    assert facts.path == "paper/main.tex"
    assert facts.message == "paper/main.tex is LaTeX source (IEEEtran) only, no PDF"
    assert find_paper(root)[2] == "source-only"
    assert evaluate_pages(facts, Params({})).status == Status.FAIL
    # A figure next to the source does not count as the paper.
    make_repo(root, {"paper/figures/fig1.pdf": "figure.pdf"})
    assert inspect_paper(root).status == "source-only"


def test_empty_repository_has_no_paper(tmp_path: Path) -> None:
    facts = inspect_paper(tmp_path)
    assert facts.status == "none"
    assert facts.candidates == ()
    assert find_paper(tmp_path) == (None, (), "none")


def test_lfs_pointer_is_not_the_pdf(tmp_path: Path) -> None:
    root = make_repo(tmp_path, {"paper/paper.pdf": LFS, "paper/figures/f.pdf": "figure.pdf"})
    facts = inspect_paper(root)
    assert facts.status == "lfs-pointer"
    assert facts.path == "paper/paper.pdf"
    assert "LFS pointer, not the PDF" in facts.message
    verdict = evaluate_pages(facts, Params({}))
    assert verdict.status == Status.ERROR
    assert evaluate_format(facts, Params({})).status == Status.ERROR


def test_lfs_pointers_named_by_the_checkout(tmp_path: Path) -> None:
    # git.py reports pointers it saw, even when the file content was smudged oddly.
    root = make_repo(tmp_path, {"paper.pdf": b"%PDF-1.4 placeholder"})
    facts = inspect_paper(root, lfs_pointers=["paper.pdf"])
    assert facts.status == "lfs-pointer"


def test_symlink_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    os.symlink("/etc/passwd", root / "paper.pdf")
    facts = inspect_paper(root)
    assert facts.status == "refused"
    assert facts.path == "paper.pdf"
    assert "symlink leaving the repository" in facts.message
    text = json.dumps(paper.facts_to_json(facts))
    for verdict in (evaluate_pages(facts, Params({})), evaluate_format(facts, Params({}))):
        text += json.dumps(verdict.details) + verdict.summary
    assert "root:" not in text
    assert "/bin/" not in text
    assert evaluate_pages(facts, Params({})).status == Status.FAIL
    assert paper.render_thumbnails(root, facts, tmp_path / "out") == []


def test_symlinked_folders_are_not_entered(tmp_path: Path) -> None:
    outside = make_repo(tmp_path / "outside", {"paper.pdf": "ieee_letter_4p.pdf"})
    root = tmp_path / "repo"
    root.mkdir()
    os.symlink(outside, root / "paper")
    facts = inspect_paper(root)
    assert facts.status == "none"
    assert facts.candidates == ()


def test_real_paper_beats_a_symlink(tmp_path: Path) -> None:
    root = make_repo(tmp_path, {"paper/main.pdf": "ieee_letter_4p.pdf"})
    os.symlink("/etc/passwd", root / "paper.pdf")
    facts = inspect_paper(root)
    assert facts.status == "found"
    assert facts.path == "paper/main.pdf"
    assert any(c.kind == "symlink" for c in facts.candidates)


def test_latex_build_folder_is_searched(tmp_path: Path) -> None:
    root = make_repo(tmp_path, {"paper/build/main.pdf": "ieee_letter_2p.pdf"})
    facts = inspect_paper(root)
    assert facts.status == "found"
    assert facts.path == "paper/build/main.pdf"
