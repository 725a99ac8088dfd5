"""What a student should do about a check that did not pass, derived from its findings.

Each check's module (``repograder.checks``) owns its texts; this module picks the text and the
check to fix first. Pure: reads a :class:`~repograder.model.GroupResult` (the checks'
``details`` and the README steps), never the repository. Every text says what the finding
says: a README that exists but is short is told what is missing, not to "write a README"; a
5-page paper is told to shorten by one page, not to "commit the paper as a PDF".
"""

from __future__ import annotations

from collections.abc import Sequence

from repograder.checks.registry import CHECKS
from repograder.model import CheckResult, GroupResult, Status


def fix_hint(check: CheckResult, group: GroupResult) -> str:
    """The one thing to do about a check that did not pass ('' when it passed or was skipped).

    The text comes from the check's module (``fix`` for a failure or warning, ``error_fix``
    for an ``error``).
    """
    if check.status in (Status.PASS, Status.SKIP):
        return ""
    entry = CHECKS.get(check.id)
    if entry is None:
        return "see the report for details"
    if check.status is Status.ERROR:
        return entry.error_fix(check, group)
    return entry.fix(check, group)


def lost_points(check: CheckResult) -> float:
    """Points the check costs the group (0 for checks not in the total)."""
    if not check.counted:
        return 0.0
    return max(check.max_score - check.score, 0.0)


def fix_first(checks: Sequence[CheckResult]) -> CheckResult | None:
    """The check to fix first: the most points lost; required checks, then rubric order win ties.

    Only checks that fail, warn or error; None when every check passed or was skipped.
    """
    candidates = [
        c
        for c in checks
        if c.status in (Status.FAIL, Status.WARN, Status.ERROR) and lost_points(c) > 0
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda c: (lost_points(c), c.required, -checks.index(c)))
