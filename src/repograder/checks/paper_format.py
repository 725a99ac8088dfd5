"""Check ``paper-format``: the paper follows the IEEE conference template.

:func:`repograder.paper_checks.evaluate_format` judges the measured
:class:`~repograder.facts.PaperFacts` (page size, columns, body font, margins, front matter;
the sources of the thresholds are given there and in ``Params``' defaults).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictStr, ValidationInfo, field_validator

from repograder import paper_checks
from repograder.checks import base, paper_pages
from repograder.checks.base import Spot, StrictParams
from repograder.model import CheckResult, GroupResult
from repograder.paper_checks import TIMES_FAMILY

ID = "paper-format"
TITLE = "Paper follows the IEEE conference template"
STAGE: base.Stage = "static"

GENERIC_FIX = "write the paper with the IEEE conference template (IEEEtran, two columns)"

PaperFinding = Literal["page-size", "columns", "body-font", "fonts", "margins", "front-matter"]
PageSize = Literal["letter", "a4"]


def _default_sizes() -> list[PageSize]:
    return ["letter", "a4"]


def _default_fail_on() -> list[PaperFinding]:
    return ["page-size", "columns"]


class Params(StrictParams):
    page_sizes: list[PageSize] = Field(default_factory=_default_sizes)
    body_fonts: list[StrictStr] = Field(default_factory=lambda: list(TIMES_FAMILY))
    body_font_size: base.Points = 10.0
    body_font_size_tolerance: base.Points = 0.6
    column_share: base.Fraction = 0.2
    side_margin_min_pt: base.Points = 36.0
    side_margin_max_pt: base.Points = 65.0
    vertical_margin_min_pt: base.Points = 36.0
    vertical_margin_max_pt: base.Points = 130.0
    fail_on: list[PaperFinding] = Field(default_factory=_default_fail_on)
    ignore: list[PaperFinding] = Field(default_factory=list)
    warn_fraction: base.Fraction = 0.5
    fail_fraction: base.Fraction = 0.0

    @field_validator("side_margin_max_pt", "vertical_margin_max_pt")
    @classmethod
    def _order(cls, value: float, info: ValidationInfo) -> float:
        assert info.field_name is not None
        low = info.field_name.replace("_max_", "_min_")
        limit = info.data.get(low)
        if limit is not None and limit > value:
            raise ValueError(f"{low} ({limit:g}) is above {info.field_name} ({value:g})")
        return value


judge = base.static(lambda ev: ev.paper, paper_checks.evaluate_format)
error_fix = base.ask_lecturer


def fix(check: CheckResult, group: GroupResult) -> str:
    rows = check.details.get("findings")
    bad = [
        r
        for r in (rows if isinstance(rows, list) else [])
        if isinstance(r, dict) and r.get("status") in ("fail", "warn")
    ]
    if not bad:
        return GENERIC_FIX
    parts = [
        f"{base.text(r.get('check'))}: {base.text(r.get('measured'))} "
        f"(expected {base.text(r.get('expected'))})"
        for r in bad[:3]
    ]
    return "use the IEEE conference template; " + "; ".join(parts)


def spots(check: CheckResult, group: GroupResult) -> list[Spot]:
    return base.summary_at(check, paper_pages.paper_path(check))
