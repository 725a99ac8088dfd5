"""Every check the grader implements, by rubric id (like pre-commit's ``all_languages.py``).

Adding a check: one module under ``repograder/checks/`` meeting :class:`~.base.Check`, and one
line here. Everything else (rubric validation, the stage a check needs, scoring, fix texts,
GitHub annotations, ``check``'s static/run split) asks this dict.
"""

from __future__ import annotations

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
from repograder.checks.base import Check

CHECKS: dict[str, Check] = {
    readme.ID: readme,
    env_file.ID: env_file,
    env_build.ID: env_build,
    readme_steps.ID: readme_steps,
    notebooks.ID: notebooks,
    comments.ID: comments,
    paper_pages.ID: paper_pages,
    paper_format.ID: paper_format,
}


def get(check_id: str) -> Check:
    """The check registered as ``check_id``; KeyError for an unknown id."""
    return CHECKS[check_id]
