"""Group names become paths in the output folder: no two groups may share one (issue 15, kind 3).

Each group owns ``groups/<slug>/``, ``groups/<slug>.html`` and ``groups/<slug>.json``. The
groups ``team1`` and ``team1.html`` used to share ``groups/team1.html`` (a page and a folder):
"Is a directory", exit 3, no report, on every re-run. Slugs now hold no dot, so two groups'
files are equal only when their slugs are, and ``validate`` (and ``run``) refuse exactly those.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from attack_repos import attack_repo, groups_file, isolated_run, rubric_file

from repograder import cli
from repograder.errors import ExitCode
from repograder.fsutil import group_file_names, group_slug
from repograder.report import results as report_results


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("team5", "TEAM5"),  # one folder on a case-insensitive file system
        ("Team-6", "team-6"),
    ],
)
def test_validate_and_run_refuse_colliding_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], first: str, second: str
) -> None:
    groups = groups_file(tmp_path, [(first, tmp_path / "a"), (second, tmp_path / "b")])
    assert cli.main(["validate", str(groups)]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "duplicates the group" in err
    assert "collide" in err
    code = cli.main(["run", str(groups), "--static", "--out", str(tmp_path / "out")])
    assert code == ExitCode.USAGE
    assert not (tmp_path / "out" / "results.json").exists()


@pytest.mark.parametrize(
    ("first", "second"),
    [("team1", "team1.html"), ("team2", "team2.json"), ("team 5", "team_5"), ("a.b", "a_b")],
)
def test_names_that_only_look_alike_are_accepted(tmp_path: Path, first: str, second: str) -> None:
    groups = groups_file(tmp_path, [(first, tmp_path / "a"), (second, tmp_path / "b")])
    assert cli.main(["validate", str(groups)]) == ExitCode.OK


def test_no_group_file_name_equals_another_groups() -> None:
    names = ["team1", "team1.html", "team1.json", "team1_html", "a.b", "a_b", "x", "x.", ".x"]
    taken: dict[str, str] = {}
    for name in names:
        for file_name in group_file_names(name):
            assert file_name not in taken, (name, taken.get(file_name))
            taken[file_name] = name


def test_names_with_dots_are_graded_side_by_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's examples: `team1` and `team1.html`, `team2` and `team2.json` are graded side
    by side (and again, as a re-run), each with its own page, folder and state file."""
    monkeypatch.setenv("REPOGRADER_CACHE", str(tmp_path / "cache"))
    repos = tmp_path / "repos"
    names = ["team1", "team1.html", "team2", "team2.json"]
    pairs = [(n, attack_repo(repos / f"r{i}", ["echo hi"])) for i, n in enumerate(names)]
    out = tmp_path / "out"
    with isolated_run(tmp_path):
        args = ["run", str(groups_file(tmp_path, pairs)), "--rubric", str(rubric_file(tmp_path))]
        code = cli.main([*args, "--out", str(out), "--static", "-q"])
        assert code == ExitCode.OK
        assert cli.main([*args, "--out", str(out), "--static", "-q", "--force"]) == ExitCode.OK
    run = report_results.read_results(out / "results.json")
    assert [g.status for g in run.groups] == ["graded"] * 4
    for name in names:
        assert (out / "groups" / f"{group_slug(name)}.html").is_file()
        assert (out / "groups" / f"{group_slug(name)}.json").is_file()
    assert len({group_slug(n) for n in names}) == 4
