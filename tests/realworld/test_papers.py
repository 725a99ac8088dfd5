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
from repograder.checks.paper_format import evaluate_format
from repograder.checks.paper_pages import evaluate_pages
from repograder.model import Params, Status
from repograder.paper import front_matter_marks, inspect_paper

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


# ---- measured on real repositories (benchmarks/paper_cases.yaml): the kinds of mistakes found


def test_a_groups_edited_bare_conf_is_the_paper(tmp_path: Path) -> None:
    # Students edit the class's bare_conf.tex into their paper and commit bare_conf.pdf; the
    # class's untouched demo beside it is recognised by its title, not its name.
    root = _place(
        tmp_path,
        {
            "report/bare_conf.tex": make_pdfs.GROUP_TEX,
            "report/bare_conf.pdf": "group_paper.pdf",
            "report/bare_conf_compsoc.pdf": "bare_demo_like.pdf",
            "report/IEEEtran_HOWTO.pdf": "ieeetran_howto_like.pdf",
        },
    )
    facts = inspect_paper(root)
    assert facts.path == "report/bare_conf.pdf"
    chosen = next(c for c in facts.candidates if c.path == "report/bare_conf.pdf")
    assert "built from the group's own report/bare_conf.tex" in chosen.reason
    demo = next(c for c in facts.candidates if c.path == "report/bare_conf_compsoc.pdf")
    assert "an IEEEtran demo file" in demo.reason
    assert demo.score < 0


def test_the_templates_guidance_paragraph_left_in_a_paper_is_not_a_template(
    tmp_path: Path,
) -> None:
    # Overleaf's IEEE template is conference_101719.tex; students keep the name and often its
    # closing guidance paragraph. The title block decides.
    root = _place(
        tmp_path,
        {
            "conference_101719.tex": make_pdfs.GUIDANCE_TEX,
            "conference_101719.pdf": "group_paper_guidance.pdf",
            "IEEEtran_HOWTO.pdf": "ieeetran_howto_like.pdf",
        },
    )
    facts = inspect_paper(root)
    assert facts.path == "conference_101719.pdf"
    chosen = facts.candidates[0]
    assert "the title of the group's LaTeX source is on its first page" in chosen.reason
    assert "never the paper" not in chosen.reason


def test_every_pdf_is_opened_so_charts_never_outrank_the_paper(tmp_path: Path) -> None:
    # A real repository: a dozen chart PDFs in report/ sorted before the paper by path alone.
    figure = Path(__file__).resolve().parents[1] / "data" / "papers" / "figure.pdf"
    files = {f"report/a{i:02d}.pdf": "" for i in range(25)}
    root = _place(tmp_path, {"report/whales.pdf": "group_paper_guidance.pdf"})
    for rel in files:
        shutil.copyfile(figure, root / rel)
    facts = inspect_paper(root)
    assert facts.path == "report/whales.pdf"
    assert all("not opened" not in c.reason for c in facts.candidates)


def test_a_course_handout_is_recognised_by_its_due_date(tmp_path: Path) -> None:
    root = _place(tmp_path, {"doc/integrating-classifier.pdf": "handout_like.pdf"})
    facts = inspect_paper(root)
    assert facts.status == "none"
    handout = facts.candidates[0]
    assert "a course handout (an assignment and its due date at the top)" in handout.reason
    root2 = _place(
        tmp_path / "two",
        {"doc/integrating-classifier.pdf": "handout_like.pdf", "doc/ours.pdf": "group_paper.pdf"},
    )
    assert inspect_paper(root2).path == "doc/ours.pdf"


def test_one_reference_url_in_the_margin_does_not_move_the_margins(tmp_path: Path) -> None:
    facts = inspect_paper(_place(tmp_path, {"paper/paper.pdf": "ieee_url_overflow.pdf"}))
    assert facts.margins is not None
    assert 45 <= facts.margins.right <= 52
    assert evaluate_format(facts, Params()).status is Status.PASS


def test_a_landscape_table_page_keeps_the_papers_size(tmp_path: Path) -> None:
    facts = inspect_paper(_place(tmp_path, {"paper/paper.pdf": "ieee_landscape_table.pdf"}))
    assert facts.pages == 3
    assert {s.name for s in facts.page_sizes} == {"letter"}
    assert facts.margins is not None
    assert facts.margins.top >= 36
    verdict = evaluate_format(facts, Params())
    assert verdict.status is Status.PASS, verdict.summary


@pytest.mark.parametrize(
    ("text", "abstract", "index_terms"),
    [
        ("Tóm tắt nội dung—Dự án SmartDoc AI tập trung", True, False),  # vi, IEEEtran + babel
        ("Từ khóa—RAG; Qwen2.5; FAISS", False, True),
        ("Abstrak—Kami mendeteksi\nKata kunci—audio", True, True),  # id
        ("Tiivistelmä—Tunnistamme\nAvainsanat—ääni", True, True),  # fi
        ("Resum—Detectem\nParaules clau—àudio", True, True),  # ca
        ("Περίληψη—Ανιχνεύουμε\nΛέξεις κλειδιά—ήχος", True, True),  # el
        ("ملخص—نكتشف\nالكلمات المفتاحية—صوت", True, True),  # ar
        ("چکیده—ما\nکلیدواژه—صدا", True, True),  # fa
        ("Sažetak—Ovaj rad\nKljučne riječi—zvuk", True, True),  # hr (already known)
        ("Introduction—no marks here", False, False),
    ],
)
def test_front_matter_marks_in_more_languages(text: str, abstract: bool, index_terms: bool) -> None:
    marks = front_matter_marks(text)
    assert marks["abstract_ieee_style"] is abstract
    assert marks["index_terms"] is index_terms


def test_ligatures_in_extracted_titles_match_the_source() -> None:
    # A real paper's first page extracted "Classiﬁcation" (U+FB01) for the source's
    # "Classification": the title match must not depend on how pdfTeX set the ligature.
    from repograder.paper import _squash

    assert _squash("Detection and Classiﬁcation") == _squash("Detection and Classification")


def test_pdfs_left_unopened_by_the_time_budget_are_named_and_ranked_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No time to open anything: the search still answers, and says which PDFs it did not open.
    from repograder import paper

    monkeypatch.setattr(paper, "PROBE_BUDGET_SHARE", 0.0)
    root = _place(tmp_path, {"paper/paper.pdf": "group_paper.pdf", "notes.pdf": "handout_like.pdf"})
    best, ranked, status = paper.find_paper(root)
    assert status == "found"
    assert best is not None
    assert best.path == "paper/paper.pdf"
    assert all("not opened" in c.reason for c in ranked)


def test_a_cjk_serif_body_counts_like_times(tmp_path: Path) -> None:
    # The facts of a Chinese IEEEtran paper as measured (knightzz1998/ml-work-latex, main.pdf):
    # its text is SimSun 10.5 pt, the Song face Chinese templates prescribe.
    from dataclasses import replace

    facts = inspect_paper(_place(tmp_path, {"paper/paper.pdf": "ieee_no_keywords.pdf"}))
    cjk = replace(facts, body_font="SimSun", body_font_size=10.5)
    row = next(
        f
        for f in evaluate_format(cjk, Params()).details["findings"]  # type: ignore[union-attr]
        if f["check"] == "body-font"  # type: ignore[index]
    )
    assert row["status"] == "pass", row  # type: ignore[index]


def test_overleafs_untouched_template_is_not_a_paper(tmp_path: Path) -> None:
    facts = inspect_paper(_place(tmp_path, {"conference_101719.pdf": "overleaf_sample_like.pdf"}))
    assert facts.status == "none"
    assert "the IEEE template's sample paper" in facts.candidates[0].reason
