"""The course at a glance: histogram bars equal the scores, pass rates, visible reasons."""

from __future__ import annotations

import dataclasses
import html as html_lib
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repograder.model import GroupStatus, OverrideInfo, OverrideState, Status
from repograder.report import render_index
from repograder.report.html import course_stats
from report_factory import good_group, make_run

BAR = re.compile(
    r'<g class="bar" data-low="([\d.]+)" data-high="([\d.]+)" data-count="(\d+)">\s*'
    r"<title>[^<]*</title>\s*"
    r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)">'
)


def course(scores: list[float]):  # type: ignore[no-untyped-def]
    base = good_group()
    groups = tuple(
        dataclasses.replace(base, name=f"g{i}", score=s, max_score=10) for i, s in enumerate(scores)
    )
    broken = dataclasses.replace(make_run().groups[2], name="broken")
    return make_run((*groups, broken))


def test_histogram_bars_equal_the_scores() -> None:
    scores = [0, 2.5, 2.9, 7, 7, 7, 9.5, 10, 10]
    run = course(scores)
    bars = [
        (float(lo), float(hi), int(n), float(y), float(h))
        for lo, hi, n, y, h in BAR.findall(render_index(run))
    ]
    assert len(bars) == 10  # one bar per point of 10
    assert [(lo, hi) for lo, hi, *_ in bars] == [(i, i + 1) for i in range(10)]
    expected = [0] * 10
    for s in scores:
        expected[min(int(s), 9)] += 1  # the last bar includes the maximum
    assert [n for *_, n, _, _ in bars] == expected
    assert sum(n for *_, n, _, _ in bars) == len(scores)  # the ungraded group is not counted
    # Heights are proportional to the counts; the tallest bar is full height.
    tallest = max(expected)
    for _, _, n, y, h in bars:
        assert h == round(160 * n / tallest, 2)
        assert y + h == 160
    stats = course_stats(run)
    assert stats.mean == round(sum(scores) / len(scores), 2)
    assert stats.median == 7


def test_histogram_of_a_large_maximum_uses_ten_bins() -> None:
    run = course([])
    big = tuple(
        dataclasses.replace(good_group(), name=f"g{i}", score=s, max_score=50)
        for i, s in enumerate([0, 4.99, 5, 49, 50])
    )
    stats = course_stats(dataclasses.replace(run, groups=big))
    assert [b.count for b in stats.bars] == [2, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    assert stats.bars[0].groups == ("g0", "g1")


def test_pass_rates_use_overrides_and_only_graded_groups() -> None:
    run = make_run()
    stats = course_stats(run)
    # group-1 passes paper-pages, group-2 fails it; group-3 was not graded.
    rate = stats.pass_rates["paper-pages"]
    assert (rate.passed, rate.assessed) == (1, 2)
    assert rate.percent == 50
    g2 = run.groups[1]
    checks = tuple(
        dataclasses.replace(
            c,
            status=Status.PASS,
            override=OverrideInfo(OverrideState.APPLIED, c.status, c.score, "fine"),
        )
        if c.id == "paper-pages"
        else c
        for c in g2.checks
    )
    run = dataclasses.replace(run, groups=(run.groups[0], dataclasses.replace(g2, checks=checks)))
    assert course_stats(run).pass_rates["paper-pages"].passed == 2
    assert course_stats(run).pass_rates["readme"].passed == 2  # warn counts as passed
    assert all(g.status is GroupStatus.GRADED for g in run.groups)


def test_reasons_are_visible_text_and_files_are_linked() -> None:
    run = make_run()
    html = render_index(run)
    reasons = [
        html_lib.unescape(r) for r in re.findall(r'<span class="reason">([^<]*)</span>', html)
    ]
    expected = [" ".join(c.summary.split()) for g in run.groups for c in g.checks]
    assert [r.rstrip("…") for r in reasons] == [
        e[: len(r.rstrip("…"))] for e, r in zip(expected, reasons, strict=True)
    ]
    assert len(reasons) == len(expected)
    for target in ("grades.csv", "results.json", "students.csv", "moodle-worksheet.csv"):
        assert f'href="{target}"' in html
    assert "@media print" in html
