"""Check ``paper-pages``: the paper PDF is found and has at most the allowed pages.

:mod:`repograder.paper` finds and measures the PDF (the only pypdf user);
:func:`repograder.paper_checks.evaluate_pages` judges the :class:`~repograder.facts.PaperFacts`
(whether the references count is the ``references_count`` parameter).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictInt, StrictStr

from repograder import paper_checks
from repograder.checks import base
from repograder.checks.base import Spot, StrictParams
from repograder.model import CheckResult, GroupResult

ID = "paper-pages"
TITLE = "Paper PDF with at most four pages"
STAGE: base.Stage = "static"

GENERIC_FIX = (
    "commit the paper as a PDF (e.g. paper/paper.pdf) with at most the allowed number of pages"
)


class Params(StrictParams):
    max_pages: Annotated[StrictInt, Field(ge=1)] = 4
    references_count: StrictBool = True
    globs: list[StrictStr] = Field(default_factory=list)


judge = base.static(lambda ev: ev.paper, paper_checks.evaluate_pages)
error_fix = base.ask_lecturer


def fix(check: CheckResult, group: GroupResult) -> str:
    counted = base.integer(check.details.get("counted_pages"))
    allowed = base.integer(check.details.get("max_pages"))
    path = base.text(check.details.get("path"))
    if counted is not None and allowed is not None and path and counted > allowed:
        over = counted - allowed
        by = "one page" if over == 1 else f"{over} pages"
        return f"shorten the paper by {by}: at most {allowed} are allowed ({path})"
    if "; the course asks for a PDF" in check.summary or "but no PDF" in check.summary:
        return (
            "export the paper as a PDF and commit it (e.g. paper/paper.pdf); the grader reads "
            "only PDFs"
        )
    if "LaTeX source" in check.summary:
        return "compile the LaTeX source and commit the PDF beside it (e.g. paper/main.pdf)"
    return GENERIC_FIX


def paper_path(check: CheckResult) -> str | None:
    """The paper's repo-relative path from a paper check's details (None when unknown)."""
    return base.detail(check.details, "path") or base.detail(check.details, "paper", "path")


def spots(check: CheckResult, group: GroupResult) -> list[Spot]:
    return base.summary_at(check, paper_path(check))
