"""Lecturer overrides: `repograder adjust`, re-runs that keep them, stale ones flagged."""

from __future__ import annotations

import csv
import io
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from gitrepo import commit, init_repo
from repograder import cli, overrides
from repograder.config import load_groups, load_rubric
from repograder.errors import ConfigError, ExitCode
from repograder.model import OverrideState, Status
from repograder.report import results as report_results
from repograder.rubric import total

README = textwrap.dedent(
    """\
    # Demo

    Install the environment, then run the training script. Everything runs on a laptop CPU
    within seconds, without downloads; the steps below are all that is needed to reproduce.

    ## Usage

    ```bash
    pip install -r requirements.txt
    python train.py
    ```
    """
)


def make_course(tmp_path: Path) -> tuple[Path, Path]:
    repo = init_repo(tmp_path / "repo-a")
    commit(
        repo,
        {"README.md": README, "requirements.txt": "six\n", "train.py": "# Train.\nprint(1)\n"},
        "first",
        "2026-03-30T12:00:00+02:00",
    )
    init_repo(tmp_path / "repo-b")
    commit(tmp_path / "repo-b", {"x.py": "print(2)\n"}, "first", "2026-03-30T12:00:00+02:00")
    groups = tmp_path / "groups.yaml"
    groups.write_text(
        "course: Test course\n"
        "deadline: 2026-03-31T23:59:59+02:00\n"
        "groups:\n"
        "  - {name: a, repo: repo-a}\n"
        "  - {name: b, repo: repo-b}\n",
        encoding="utf-8",
    )
    return groups, tmp_path / "out"


def run(groups: Path, out: Path) -> None:
    assert cli.main(["run", str(groups), "--static", "--out", str(out), "-q"]) == ExitCode.OK


def adjust(groups: Path, out: Path, *args: str) -> int:
    return cli.main(["adjust", *args, "--groups", str(groups), "--out", str(out), "--by", "prof"])


def group(out: Path, name: str):  # type: ignore[no-untyped-def]
    data = report_results.read_results(out / "results.json")
    return next(g for g in data.groups if g.name == name)


def test_adjust_round_trips_through_the_file(tmp_path: Path) -> None:
    groups, out = make_course(tmp_path)
    code = adjust(
        groups, out, "a", "paper-pages", "--points", "1", "--comment", "references only on p. 5"
    )
    assert code == ExitCode.OK
    path = tmp_path / "overrides.yaml"
    config = load_groups(groups)
    rubric = load_rubric()
    first = overrides.load_overrides(path, config, rubric)
    assert [(o.group, o.check, o.points, o.status, o.comment, o.by) for o in first] == [
        ("a", "paper-pages", 1.0, None, "references only on p. 5", "prof")
    ]
    assert first[0].at  # when
    # Saving what was loaded gives the same overrides back.
    overrides.save_overrides(path, first)
    again = overrides.load_overrides(path, config, rubric)
    assert [o.__class__(**{**o.__dict__, "line": 0}) for o in again] == [
        o.__class__(**{**o.__dict__, "line": 0}) for o in first
    ]
    # A second adjust of the same check replaces it; another check is added.
    assert adjust(groups, out, "a", "paper-pages", "--status", "warn", "--comment", "ok") == 0
    assert adjust(groups, out, "b", "comments", "--status", "pass", "--comment", "fine") == 0
    now = overrides.load_overrides(path, config, rubric)
    assert [(o.group, o.check, o.status, o.points) for o in now] == [
        ("a", "paper-pages", Status.WARN, None),
        ("b", "comments", Status.PASS, None),
    ]
    assert adjust(groups, out, "a", "paper-pages", "--remove") == 0
    assert [o.group for o in overrides.load_overrides(path, config, rubric)] == ["b"]


def test_adjust_refuses_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    groups, out = make_course(tmp_path)
    assert adjust(groups, out, "zz", "readme", "--points", "1", "--comment", "x") == 2
    assert adjust(groups, out, "a", "nope", "--points", "1", "--comment", "x") == 2
    assert adjust(groups, out, "a", "readme", "--points", "99", "--comment", "x") == 2
    assert adjust(groups, out, "a", "readme", "--points", "1") == 2  # no comment
    assert not (tmp_path / "overrides.yaml").exists()


def test_override_survives_a_rerun_and_totals_use_it(tmp_path: Path) -> None:
    groups, out = make_course(tmp_path)
    run(groups, out)
    before = group(out, "a")
    pages = next(c for c in before.checks if c.id == "paper-pages")
    assert pages.status is not Status.PASS
    assert pages.score == 0
    assert adjust(groups, out, "a", "paper-pages", "--status", "pass", "--comment", "seen it") == 0
    # adjust updates the existing report at once ...
    adjusted = group(out, "a")
    # The total follows the rubric's rule (checks left out, the rest scaled to the rubric's
    # total), exactly as if the grader had judged the check that way.
    as_if = [replace(c, score=c.max_score) if c.id == "paper-pages" else c for c in before.checks]
    expected, _ = total(as_if)
    assert expected > before.score
    assert adjusted.score == pytest.approx(expected)
    for _ in range(2):  # ... and every re-run keeps the override (cached and forced)
        run(groups, out)
        after = group(out, "a")
        check = next(c for c in after.checks if c.id == "paper-pages")
        assert check.status is Status.PASS
        assert check.score == pages.max_score
        assert check.override is not None
        assert check.override.state is OverrideState.APPLIED
        assert (check.override.auto_status, check.override.auto_score) == (pages.status, 0)
        assert check.override.comment == "seen it"
        assert after.score == pytest.approx(expected)
        assert cli.main(["run", str(groups), "--static", "--force", "--out", str(out), "-q"]) == 0
    # grades.csv: the overridden score in the check's column, the automatic one beside it.
    rows = list(csv.DictReader(io.StringIO((out / "grades.csv").read_text())))
    row = next(r for r in rows if r["group"] == "a")
    assert row["paper-pages"] == "1"
    assert row["paper-pages automatic"] == f"{pages.status.value} 0"
    assert row["paper-pages override"] == "seen it"
    assert float(row["total"]) == pytest.approx(expected)
    # The group page shows both verdicts and the comment.
    page = (out / "groups" / "a.html").read_text()
    assert "seen it" in page
    assert "Lecturer override" in page
    # The feedback to send carries the lecturer's comment and is linked from the group page.
    assert 'href="a/feedback.md"' in page
    sent = (out / "groups" / "a" / "feedback.md").read_text()
    assert "Lecturer's comment: seen it" in sent


def test_override_on_a_changed_commit_is_flagged_not_applied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    groups, out = make_course(tmp_path)
    run(groups, out)
    before = group(out, "a")
    assert adjust(groups, out, "a", "paper-pages", "--points", "1", "--comment", "ok then") == 0
    commit(tmp_path / "repo-a", {"more.py": "# more\n"}, "more", "2026-03-31T10:00:00+02:00")
    capsys.readouterr()
    run(groups, out)
    assert "NOT applied" in capsys.readouterr().err
    after = group(out, "a")
    assert after.commit != before.commit
    check = next(c for c in after.checks if c.id == "paper-pages")
    assert check.override is not None
    assert check.override.state is OverrideState.STALE
    assert check.score == 0  # the automatic verdict stands until a human looks
    assert check.override.commit == before.commit
    # Flagged in the report (group page and overview) and kept in the file.
    assert "review" in (out / "groups" / "a.html").read_text().lower()
    assert "review" in (out / "index.html").read_text().lower()
    assert overrides.load_overrides(tmp_path / "overrides.yaml")
    # Renewing it with adjust pins the new commit and applies it.
    assert adjust(groups, out, "a", "paper-pages", "--points", "1", "--comment", "still ok") == 0
    renewed = next(c for c in group(out, "a").checks if c.id == "paper-pages")
    assert renewed.override is not None
    assert renewed.override.state is OverrideState.APPLIED
    assert renewed.score == 1


def test_overrides_file_errors_name_file_line_and_key(tmp_path: Path) -> None:
    groups, _ = make_course(tmp_path)
    path = tmp_path / "overrides.yaml"
    config = load_groups(groups)
    cases = {
        "overrides:\n  - group: a\n    check: readme\n    comment: x\n": (
            ":2: overrides[0]: give points, status or both"
        ),
        "overrides:\n  - group: a\n    check: readme\n    points: 1\n    comment: x\n"
        "    who: me\n": (":6: overrides[0].who: unknown key"),
        "overrides:\n  - group: zz\n    check: readme\n    points: 1\n    comment: x\n": (
            ":2: overrides[0].group: no group named 'zz'"
        ),
        "overrides:\n  - group: a\n    check: readme\n    points: 1\n    status: great\n"
        "    comment: x\n": ":5: overrides[0].status:",
        "overrides:\n  - {group: a, check: readme, points: 1, comment: x}\n"
        "  - {group: a, check: readme, points: 0, comment: y}\n": (
            ":3: overrides[1].check: a/readme is already overridden on line 2"
        ),
        "overrides:\n  - {group: a, check: readme, points: 9, comment: x}\n": (
            ":2: overrides[0].points: 9 is more than"
        ),
    }
    for text, expected in cases.items():
        path.write_text(text)
        with pytest.raises(ConfigError) as info:
            overrides.load_overrides(path, config, load_rubric())
        assert str(info.value).startswith(str(path)), str(info.value)
        assert expected in str(info.value), str(info.value)


def test_a_broken_overrides_file_stops_the_run_before_grading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    groups, out = make_course(tmp_path)
    (tmp_path / "overrides.yaml").write_text("overrides:\n  - {group: a, check: readme}\n")
    code = cli.main(["run", str(groups), "--static", "--out", str(out), "-q"])
    assert code == ExitCode.USAGE
    assert "overrides.yaml:2: overrides[0]" in capsys.readouterr().err
    assert not (out / "results.json").exists()


def test_validate_checks_the_overrides_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    groups, out = make_course(tmp_path)
    assert adjust(groups, out, "a", "readme", "--points", "0", "--comment", "copied") == 0
    assert cli.main(["validate", str(groups)]) == 0
    assert "overrides file OK (1 overrides)" in capsys.readouterr().out
    assert cli.main(["validate", str(tmp_path / "overrides.yaml")]) == 0
    (tmp_path / "overrides.yaml").write_text("overrides:\n  - {group: zz, check: readme}\n")
    assert cli.main(["validate", str(groups)]) == ExitCode.USAGE
    assert "overrides.yaml:2:" in capsys.readouterr().err


def test_override_of_a_check_left_out_of_the_total_counts(tmp_path: Path) -> None:
    """A lecturer grading a not-run (--static) check means those points: the total counts them,
    and re-applying from the automatic verdict gives the same result."""
    groups, out = make_course(tmp_path)
    run(groups, out)  # a --static run: build and run checks are "not run"
    before = group(out, "a")
    left_out = next(c for c in before.checks if not c.counted)
    assert adjust(groups, out, "a", left_out.id, "--points", "1", "--comment", "ran it myself") == 0
    after = group(out, "a")
    check = next(c for c in after.checks if c.id == left_out.id)
    assert (check.counted, check.score) == (True, 1.0)
    assert after.max_score == pytest.approx(before.max_score + check.max_score)
    assert after.score == pytest.approx(total(after.checks)[0])
    assert after.score > before.score
    restored = overrides.automatic(check)
    assert (restored.counted, restored.applies) == (left_out.counted, left_out.applies)
    assert (restored.status, restored.score) == (left_out.status, left_out.score)
