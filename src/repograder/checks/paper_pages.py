"""Check ``paper-pages``: the paper PDF is found and has at most the allowed pages.

:mod:`repograder.paper` finds and measures the PDF (the only pypdf user);
:func:`evaluate_pages` here judges the :class:`~repograder.facts.PaperFacts` (whether the
references count is the ``references_count`` parameter).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictInt, StrictStr

from repograder.checks import base
from repograder.checks.base import Spot, StrictParams
from repograder.facts import FOUND, LFS_POINTER, PaperFacts
from repograder.model import CheckResult, GroupResult, JSONDict, JSONValue, Status, Verdict
from repograder.model import Params as RubricParams
from repograder.paper_checks import facts_to_json

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


# Problems the grader caused (its own limits), not the students: a human should look.
GRADER_LIMITS = frozenset({"timeout", "memory", "crash"})


def not_measured(facts: PaperFacts, *, missing_fails: bool) -> Verdict | None:
    """The verdict when there is no readable paper to measure (None when there is one).

    A missing paper fails the page check (``missing_fails``); the format check skips.
    """
    details: JSONDict = {"paper": facts_to_json(facts)}
    if facts.status == FOUND:
        return None
    if facts.status == LFS_POINTER or facts.error_kind in GRADER_LIMITS:
        return Verdict.error(facts.message, details)
    if not missing_fails:
        return Verdict.skip(f"no readable paper: {facts.message}", details)
    return Verdict(Status.FAIL, 0.0, facts.message, details)


def not_taken(facts: PaperFacts) -> list[JSONValue]:
    """The other PDFs and why each was not taken as the paper (its ranking notes and score)."""
    out: list[JSONValue] = []
    for c in facts.candidates:
        if c.path == facts.path:
            continue
        why = c.reason or "ranked lower"
        if c.score < 0:
            why += " (score below 0: never the paper)"
        out.append({"path": c.path, "score": c.score, "why": why})
    return out[:20]


def evaluate_pages(facts: PaperFacts, params: RubricParams) -> Verdict:
    """Check ``paper-pages``: the paper exists and has at most ``max_pages`` pages."""
    early = not_measured(facts, missing_fails=True)
    if early is not None:
        return early
    max_pages = params.get_int("max_pages", 4)
    references_count = params.get_bool("references_count", True)
    pages = facts.pages or 0
    counted = pages if references_count else (facts.body_pages or pages)
    details: JSONDict = {
        "path": facts.path,
        "pages": pages,
        "references_page": facts.references_page,
        "body_pages": facts.body_pages,
        "counted_pages": counted,
        "max_pages": max_pages,
        "references_count": references_count,
        "file_bytes": facts.file_bytes,
        "other_candidates": [c.path for c in facts.candidates if c.path != facts.path],
        "not_taken": not_taken(facts),
    }
    if references_count or facts.references_page is None:
        what = f"{facts.path} has {pages} pages"
        if not references_count:
            what += " (no references heading found, so every page counts)"
    else:
        what = f"{facts.path} has {pages} pages, {counted} before the references"
    if counted <= max_pages:
        return Verdict(Status.PASS, 1.0, f"{what}; at most {max_pages} are allowed", details)
    return Verdict(Status.FAIL, 0.0, f"{what}; at most {max_pages} are allowed", details)


judge = base.static(lambda ev: ev.paper, evaluate_pages)
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
