"""Who contributed: figures from a real repository with known authors, an alias and a merge."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

from gitrepo import init_repo
from repograder import cli, contributions
from repograder.model import FileChange
from repograder.report import results as report_results


def commit_as(repo: Path, who: tuple[str, str], files: dict[str, str], date: str) -> None:
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text, encoding="utf-8")
    git_as(repo, who, date, "add", "-A")
    git_as(repo, who, date, "commit", "-q", "-m", f"work by {who[0]}")


def git_as(repo: Path, who: tuple[str, str], date: str, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": who[0],
        "GIT_AUTHOR_EMAIL": who[1],
        "GIT_COMMITTER_NAME": who[0],
        "GIT_COMMITTER_EMAIL": who[1],
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
    }
    subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True)


ADA = ("Ada Lovelace", "ada@uni.example")
ADA_ALIAS = ("ada99", "ada99@gmail.com")
ALAN = ("Alan Turing", "alan@uni.example")
BOT = ("dependabot[bot]", "bot@example.org")
KURT = ("Kurt Goedel", "kurt@uni.example")
LINES = "".join(f"line {i}\n" for i in range(10))


def make_repo(path: Path) -> None:
    repo = init_repo(path)
    commit_as(repo, ADA, {"README.md": "a\nb\nc\n", "train.py": LINES}, "2026-03-01T10:00:00Z")
    commit_as(repo, ADA_ALIAS, {"train.py": LINES + "x\ny\n"}, "2026-03-02T10:00:00Z")
    git_as(repo, ALAN, "2026-03-03T09:00:00Z", "checkout", "-q", "-b", "feature")
    commit_as(
        repo,
        ALAN,
        {
            "model.py": "m\n" * 5,
            "data/train.csv": "1,2\n" * 100,
            "vendor/lib.py": "v\n" * 20,
        },
        "2026-03-03T10:00:00Z",
    )
    git_as(repo, ADA, "2026-03-04T09:00:00Z", "checkout", "-q", "main")
    commit_as(repo, ADA, {"README.md": "a\nb\nC\n"}, "2026-03-04T10:00:00Z")
    git_as(repo, ALAN, "2026-03-05T10:00:00Z", "merge", "-q", "--no-ff", "-m", "merge", "feature")
    commit_as(repo, BOT, {"requirements.txt": "six\n"}, "2026-03-06T10:00:00Z")
    # After the deadline: not in the graded history, so Kurt has no commits there.
    commit_as(repo, KURT, {"late.py": "late\n"}, "2026-04-02T10:00:00Z")


def test_contribution_figures_match_the_history(tmp_path: Path) -> None:
    make_repo(tmp_path / "repo")
    groups = tmp_path / "groups.yaml"
    groups.write_text(
        textwrap.dedent(
            """\
            deadline: 2026-03-31T23:59:59+00:00
            groups:
              - name: g
                repo: repo
                members:
                  - {name: Ada Lovelace, email: ada@uni.example}
                  - alan turing
                  - {name: Kurt Goedel, email: kurt@uni.example}
                aliases:
                  Ada Lovelace: [ada99@gmail.com]
            """
        )
    )
    out = tmp_path / "out"
    assert cli.main(["run", str(groups), "--static", "--out", str(out), "-q"]) == 0
    group = report_results.read_results(out / "results.json").groups[0]
    figures = group.contributions
    assert figures["commits"] == 5  # four by members, one by the bot; the late one not counted
    assert figures["merges"] == 1
    members = figures["members"]
    assert isinstance(members, list)
    ada, alan, kurt = (m for m in members if isinstance(m, dict))
    assert ada["name"] == "Ada Lovelace"
    assert (ada["commits"], ada["merges"], ada["files"]) == (3, 0, 2)
    assert (ada["added"], ada["removed"]) == (3 + 10 + 2 + 1, 1)
    assert ada["identities"] == [  # newest first: the alias was matched
        "Ada Lovelace <ada@uni.example>",
        "ada99 <ada99@gmail.com>",
    ]
    # Matched by name (case-insensitive) without an e-mail; the merge is counted apart.
    assert (alan["commits"], alan["merges"], alan["files"]) == (1, 1, 1)
    assert (alan["added"], alan["removed"]) == (5, 0)
    assert (alan["bulk_files"], alan["bulk_added"]) == (2, 120)  # data/ and vendor/
    assert ada["no_commits"] is False
    assert alan["no_commits"] is False
    assert kurt["no_commits"] is True
    assert kurt["commits"] == 0
    others = figures["others"]
    assert isinstance(others, list)
    assert [(o["identity"], o["commits"], o["added"]) for o in others if isinstance(o, dict)] == [
        ("dependabot[bot] <bot@example.org>", 1, 1)
    ]
    # The score does not depend on it; the group page shows it with the flag.
    page = (out / "groups" / "g.html").read_text(encoding="utf-8")
    assert "Who contributed" in page
    assert "no commits" in page
    assert "dependabot[bot]" in page


def test_bulk_rules() -> None:
    assert contributions.is_bulk(FileChange("x/node_modules/a.js", 1, 0))
    assert contributions.is_bulk(FileChange("weights.pt", None, None))
    assert contributions.is_bulk(FileChange("gen.py", 6000, 0))
    assert contributions.is_bulk(FileChange("static/app.min.js", 3, 0))
    assert not contributions.is_bulk(FileChange("src/data_loader.py", 300, 20))
    assert contributions.summarise((), []) == {}


def test_contributions_on_the_group_page_are_escaped() -> None:
    import dataclasses
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from repograder.config import Member
    from repograder.model import CommitStat
    from repograder.report import render_group
    from report_factory import good_group, make_run

    evil = "<script>alert(1)</script>"
    history = (CommitStat("a" * 40, evil, "x@y", "2026-03-01T00:00:00Z", 1, ()),)
    figures = contributions.summarise(history, [Member(f"{evil} member")])
    group = dataclasses.replace(good_group(), contributions=figures)
    html = render_group(make_run((group,)), group)
    assert evil not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &lt;x@y&gt;" in html
    assert "no commits" in html
