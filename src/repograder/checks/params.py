"""Each check's rubric parameters as a pydantic model, validated when the rubric is loaded.

A typo (``max_pagess: 4``), a wrong type (``references_count: "yes"``) or inverted thresholds
(``warn_share`` above ``pass_share``) is refused by ``config.load_rubric`` with the file, line
and key, before anything is graded. The defaults here are the ones the checks use (each check
reads its parameters through ``model.Params`` with the same default); the README's parameter
table is tested against these models (tests/unit/test_check_params.py).

Sources of the thresholds are given at the checks that use them (readme.py, detect.py,
rubric.py, runner.py, notebooks.py, comments.py, paper_checks.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationInfo,
    field_validator,
)
from pydantic import StrictFloat as _StrictFloat
from pydantic import StrictInt as _StrictInt

from repograder.paper_checks import TIMES_FAMILY

# Strict: YAML `4` for a float parameter is fine; a string ("5m") or a bool is not.
Number = _StrictFloat
Fraction = Annotated[Number, Field(ge=0, le=1)]
Seconds = Annotated[Number, Field(gt=0)]
Points = Annotated[Number, Field(ge=0)]

PaperFinding = Literal["page-size", "columns", "body-font", "fonts", "margins", "front-matter"]
PageSize = Literal["letter", "a4"]


def _default_sizes() -> list[PageSize]:
    return ["letter", "a4"]


def _default_fail_on() -> list[PaperFinding]:
    return ["page-size", "columns"]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _not_above(field: str, value: float, info: ValidationInfo, bound: str) -> float:
    """``value`` of ``field`` must not exceed the (earlier declared) field ``bound``."""
    limit = info.data.get(bound)
    if limit is not None and value > limit:
        raise ValueError(f"{field} ({value:g}) is above {bound} ({limit:g})")
    return value


class _Shares(_Params):
    """A pass share and a lower warn share of successes."""

    pass_share: Fraction = 1.0
    warn_share: Fraction = 0.5

    @field_validator("warn_share")
    @classmethod
    def _order(cls, value: float, info: ValidationInfo) -> float:
        return _not_above("warn_share", value, info, "pass_share")


class ReadmeParams(_Params):
    min_words: Annotated[_StrictInt, Field(ge=0)] = 50
    require_install_step: StrictBool = True
    require_run_step: StrictBool = True
    warn_placeholders: StrictBool = True


class EnvFileParams(_Params):
    warn_unpinned: StrictBool = False
    courtesy_fraction: Fraction = 0.5
    nested_fraction: Fraction = 0.75


class EnvBuildParams(_Params):
    warn_on_notes: StrictBool = False
    relax_pins: StrictBool = True
    relaxed_fraction: Fraction = 0.5
    project_install_fraction: Fraction = 0.5


class ReadmeStepsParams(_Shares):
    on_timeout: Literal["pass", "warn", "fail"] = "warn"
    stop_on_failure: StrictBool = False
    total_budget_s: Seconds = 3600.0
    fail_if_none: StrictBool = True


class NotebooksParams(_Shares):
    cell_timeout_s: Seconds = 300.0
    total_budget_s: Seconds = 1800.0
    max_notebook_mb: Annotated[Number, Field(gt=0)] = 20.0


class CommentsParams(_Params):
    min_density: Annotated[Number, Field(ge=0)] = 0.15
    warn_density: Annotated[Number, Field(ge=0)] = 0.08
    min_docstring_share: Fraction = 0.5

    @field_validator("warn_density")
    @classmethod
    def _order(cls, value: float, info: ValidationInfo) -> float:
        return _not_above("warn_density", value, info, "min_density")


class PaperPagesParams(_Params):
    max_pages: Annotated[_StrictInt, Field(ge=1)] = 4
    references_count: StrictBool = True
    globs: list[StrictStr] = Field(default_factory=list)


class PaperFormatParams(_Params):
    page_sizes: list[PageSize] = Field(default_factory=_default_sizes)
    body_fonts: list[StrictStr] = Field(default_factory=lambda: list(TIMES_FAMILY))
    body_font_size: Points = 10.0
    body_font_size_tolerance: Points = 0.6
    column_share: Fraction = 0.2
    side_margin_min_pt: Points = 36.0
    side_margin_max_pt: Points = 65.0
    vertical_margin_min_pt: Points = 36.0
    vertical_margin_max_pt: Points = 130.0
    fail_on: list[PaperFinding] = Field(default_factory=_default_fail_on)
    ignore: list[PaperFinding] = Field(default_factory=list)
    warn_fraction: Fraction = 0.5
    fail_fraction: Fraction = 0.0

    @field_validator("side_margin_max_pt", "vertical_margin_max_pt")
    @classmethod
    def _order(cls, value: float, info: ValidationInfo) -> float:
        assert info.field_name is not None
        low = info.field_name.replace("_max_", "_min_")
        limit = info.data.get(low)
        if limit is not None and limit > value:
            raise ValueError(f"{low} ({limit:g}) is above {info.field_name} ({value:g})")
        return value


# One line per check, like pre-commit's all_languages.py: adding a check adds its model here.
PARAMS: Mapping[str, type[BaseModel]] = {
    "readme": ReadmeParams,
    "env-file": EnvFileParams,
    "env-build": EnvBuildParams,
    "readme-steps": ReadmeStepsParams,
    "notebooks": NotebooksParams,
    "comments": CommentsParams,
    "paper-pages": PaperPagesParams,
    "paper-format": PaperFormatParams,
}
