"""Each check's rubric parameters (``Params``), by check id, validated when the rubric is loaded.

Each model lives in its check's module; this module keeps the old names. A typo
(``max_pagess: 4``), a wrong type (``references_count: "yes"``) or inverted thresholds
(``warn_share`` above ``pass_share``) is refused by ``config.load_rubric`` with the file, line
and key, before anything is graded. The README's parameter table is tested against these
models (tests/unit/test_check_params.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pydantic import BaseModel

from repograder.checks import (
    comments,
    env_build,
    env_file,
    notebooks,
    paper_format,
    paper_pages,
    readme,
    readme_steps,
)
from repograder.checks.registry import CHECKS


class _ParamsByCheck(Mapping[str, type[BaseModel]]):
    """A live view of ``registry.CHECKS``: a check added there has its model here."""

    def __getitem__(self, check_id: str) -> type[BaseModel]:
        return CHECKS[check_id].Params

    def __iter__(self) -> Iterator[str]:
        return iter(CHECKS)

    def __len__(self) -> int:
        return len(CHECKS)


PARAMS: Mapping[str, type[BaseModel]] = _ParamsByCheck()

ReadmeParams = readme.Params
EnvFileParams = env_file.Params
EnvBuildParams = env_build.Params
ReadmeStepsParams = readme_steps.Params
NotebooksParams = notebooks.Params
CommentsParams = comments.Params
PaperPagesParams = paper_pages.Params
PaperFormatParams = paper_format.Params
