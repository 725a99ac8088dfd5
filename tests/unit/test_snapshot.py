"""Deadline snapshots with real git repositories, and the git helpers behind them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gitrepo import commit, git, isolate_git, make_repo, write
from repograder import cli, snapshot
from repograder import git as rgit
from repograder.config import GroupSpec
from repograder.errors import ConfigError, FetchError
from selfcheck_repos import good_files


@pytest.fixture(autouse=True)
def _git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path_factory, monkeypatch)


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """Two git groups, one plain folder, one missing repository; deadline 31 March."""
    root = tmp_path / "course"
    make_repo(root / "g1", good_files(), date="2026-03-30T10:00:00+00:00")
    make_repo(root / "g2", good_files(), date="2026-03-30T11:00:00+00:00")
    write(root / "plain", good_files())
    (root / "groups.yaml").write_text(
        "course: Snapshot test\n"
        "deadline: 2026-03-31T23:59:59+02:00\n"
        "groups:\n"
        "  - {name: g1, repo: g1}\n"
        "  - {name: g2, repo: g2, ref: main}\n"
        "  - {name: plain, repo: plain}\n"
        "  - {name: gone, repo: does-not-exist}\n"
    )
    return root / "groups.yaml"


def results(out: Path) -> dict[str, dict[str, object]]:
    data = json.loads((out / "results.json").read_text())
    return {g["name"]: g for g in data["groups"]}


def test_snapshot_round_trip_grades_the_snapshotted_commit(course: Path, tmp_path: Path) -> None:
    g1 = course.parent / "g1"
    at_snapshot = git(g1, "rev-parse", "HEAD")
    snap_file = tmp_path / "snapshot.json"
    before = datetime.now(UTC).replace(microsecond=0)
    assert cli.main(["snapshot", str(course), "--out", str(snap_file)]) == 1  # "gone" failed

    data = json.loads(snap_file.read_text())
    assert data["schema_version"] == 1
    assert data["course"] == "Snapshot test"
    assert datetime.fromisoformat(data["taken_at"]) >= before
    entries = {e["name"]: e for e in data["groups"]}
    assert entries["g1"]["commit"] == at_snapshot
    assert entries["g1"]["commit_date"] == "2026-03-30T10:00:00+00:00"
    assert datetime.fromisoformat(entries["g1"]["fetched_at"]) >= before
    assert entries["g1"]["repo"] == str(g1)
    assert entries["plain"]["commit"] is None
    assert entries["plain"]["error"] is None
    assert "repository not found" in entries["gone"]["error"]

    # After the deadline a student pushes a commit with a forged, on-time committer date.
    forged = commit(g1, {"main.py": "print('late')\n"}, "forged", "2026-03-31T12:00:00+00:00")
    plain_out = tmp_path / "without"
    cli.main(["run", str(course), "--static", "-q", "--out", str(plain_out)])
    assert results(plain_out)["g1"]["commit"] == forged  # committer dates alone are fooled

    out = tmp_path / "with"
    assert (
        cli.main(
            ["run", str(course), "--static", "-q", "--snapshot", str(snap_file), "--out", str(out)]
        )
        == 1
    )
    graded = results(out)
    assert graded["g1"]["commit"] == at_snapshot
    assert graded["g2"]["commit"] == entries["g2"]["commit"]
    assert graded["plain"]["status"] == "graded"
    assert graded["gone"]["status"] == "error"
    assert "could not be fetched at the snapshot" in str(graded["gone"]["error"])
    assert list(graded) == ["g1", "g2", "plain", "gone"]  # groups-file order


def test_snapshot_from_another_groups_file_is_rejected(course: Path, tmp_path: Path) -> None:
    snap = snapshot.Snapshot(
        taken_at="2026-04-01T00:00:00+00:00",
        course=None,
        deadline=None,
        entries=(
            snapshot.SnapshotEntry("other", "x", "a" * 40, None, "2026-04-01T00:00:00+00:00"),
        ),
    )
    with pytest.raises(ConfigError, match="names none of these groups"):
        snapshot.apply_snapshot(snap, [GroupSpec("g1", "/r")])
    moved = snapshot.Snapshot(
        taken_at="t",
        course=None,
        deadline=None,
        entries=(snapshot.SnapshotEntry("g1", "/old/place", "a" * 40, None, "t"),),
    )
    with pytest.raises(ConfigError, match="the snapshot recorded /old/place"):
        snapshot.apply_snapshot(moved, [GroupSpec("g1", "/r")])
    plan = snapshot.apply_snapshot(
        snapshot.Snapshot(
            "t", None, None, (snapshot.SnapshotEntry("g1", "/r", "b" * 40, None, "t"),)
        ),
        [GroupSpec("g1", "/r", ref="main"), GroupSpec("g2", "/s")],
    )
    assert plan.pinned == (GroupSpec("g1", "/r", ref="b" * 40),)
    assert [r.name for r in plan.unfetched] == ["g2"]
    assert "not in the snapshot" in str(plan.unfetched[0].error)
    # A shard that the snapshot (taken with --only) does not cover is not "another course".
    partial = snapshot.Snapshot(
        "t", None, None, (snapshot.SnapshotEntry("g2", "/s", "c", None, "t"),)
    )
    plan = snapshot.apply_snapshot(
        partial, [GroupSpec("g1", "/r")], all_groups=[GroupSpec("g1", "/r"), GroupSpec("g2", "/s")]
    )
    assert [r.name for r in plan.unfetched] == ["g1"]


def test_snapshot_file_round_trip_and_bad_files(tmp_path: Path) -> None:
    snap = snapshot.Snapshot(
        taken_at="2026-04-01T00:00:00+00:00",
        course="c",
        deadline=None,
        entries=(
            snapshot.SnapshotEntry("g", "https://h/r.git", "c" * 40, "d", "f", ref="main"),
            snapshot.SnapshotEntry("h", "https://h/s.git", None, None, "f", error="gone"),
        ),
    )
    path = tmp_path / "s.json"
    snapshot.write_snapshot(snap, path)
    assert snapshot.read_snapshot(path) == snap
    path.write_text("{")
    with pytest.raises(ConfigError, match="not a JSON snapshot"):
        snapshot.read_snapshot(path)
    path.write_text(json.dumps({"schema_version": 99, "groups": []}))
    with pytest.raises(ConfigError, match="newer repograder"):
        snapshot.read_snapshot(path)
    path.write_text(json.dumps({"schema_version": 1, "taken_at": "t", "groups": [{"name": 3}]}))
    with pytest.raises(ConfigError, match=r"groups\[0\]\.name"):
        snapshot.read_snapshot(path)


def test_resolve_commit_reads_the_tip_without_a_deadline(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.txt": "1"}, date="2026-03-30T10:00:00+00:00")
    git(repo, "checkout", "-q", "-b", "feature")
    tip = commit(repo, {"a.txt": "2"}, "feature work", "2026-04-02T10:00:00+00:00")
    git(repo, "checkout", "-q", "main")
    options = rgit.FetchOptions(cache_dir=tmp_path / "mirrors")
    main = git(repo, "rev-parse", "main")
    assert rgit.resolve_commit(str(repo), None, options) == (main, "2026-03-30T10:00:00+00:00")
    assert rgit.resolve_commit(str(repo), "feature", options) == (tip, "2026-04-02T10:00:00+00:00")
    # The mirror is updated on every call.
    newer = commit(repo, {"a.txt": "3"}, "more", "2026-04-03T10:00:00+00:00")
    assert rgit.resolve_commit(str(repo), "main", options) == (newer, "2026-04-03T10:00:00+00:00")
    assert rgit.resolve_commit(str(tmp_path), None, options) is None  # a plain folder
    with pytest.raises(FetchError, match="ref 'nope' not found"):
        rgit.resolve_commit(str(repo), "nope", options)
    with pytest.raises(FetchError, match="repository not found"):
        rgit.resolve_commit(str(tmp_path / "missing"), None, options)


def test_uncommitted_changes_and_worktree_files(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.txt": "1", "b.txt": "1", ".gitignore": "*.log\n"})
    assert rgit.uncommitted_changes(repo) == ()
    write(repo, {"a.txt": "2", "new dir/c.txt": "x", "debug.log": "ignored"})
    git(repo, "mv", "b.txt", "renamed.txt")
    changes = rgit.uncommitted_changes(repo)
    assert changes is not None
    assert sorted(changes) == ["a.txt", "new dir/c.txt", "renamed.txt"]
    files = rgit.worktree_files(repo)
    assert files == (".gitignore", "a.txt", "new dir/c.txt", "renamed.txt")
    assert rgit.uncommitted_changes(tmp_path) is None
    assert rgit.worktree_files(tmp_path) is None


def test_snapshotted_commit_survives_a_force_push_on_the_same_machine(
    course: Path, tmp_path: Path
) -> None:
    g2 = course.parent / "g2"
    snap_file = tmp_path / "snapshot.json"
    cli.main(["snapshot", str(course), "--only", "g2", "--out", str(snap_file)])
    recorded = json.loads(snap_file.read_text())["groups"][0]["commit"]
    # History rewritten after the deadline: the recorded commit is no longer on any branch.
    git(g2, "commit", "-q", "--amend", "-m", "rewritten", date="2026-03-30T11:00:00+00:00")
    assert git(g2, "rev-parse", "HEAD") != recorded
    out = tmp_path / "out"
    cli.main(
        ["run", str(course), "--static", "-q", "--snapshot", str(snap_file), "--out", str(out)]
    )
    assert results(out)["g2"]["commit"] == recorded
