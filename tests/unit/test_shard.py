"""`run --shard K/N` + `merge` gives the same results.json as one run."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from gitrepo import write
from repograder import cli, shard
from repograder.errors import ConfigError
from repograder.model import GroupResult, GroupStatus, RubricInfo, RunResult, ToolInfo
from selfcheck_repos import bad_files, good_files

PAPER = Path(__file__).resolve().parents[1] / "data" / "papers" / "ieee_letter_2p.pdf"
NAMES = ["alpha", "bravo", "charlie", "delta", "echo"]


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """Five plain-folder groups (one with a paper, so it has artifacts) and a missing one."""
    root = tmp_path / "course"
    for i, name in enumerate(NAMES):
        write(root / name, good_files() if i % 2 == 0 else bad_files())
    (root / "alpha" / "paper").mkdir()
    shutil.copy(PAPER, root / "alpha" / "paper" / "paper.pdf")
    lines = ["course: Sharding test", "groups:"]
    for name in [*NAMES, "ghost"]:
        lines += [f"  - name: {name}", f"    repo: {name}"]
    (root / "groups.yaml").write_text("\n".join(lines) + "\n")
    return root / "groups.yaml"


def normalised(out: Path) -> dict[str, object]:
    data = json.loads((out / "results.json").read_text())
    data["started_at"] = data["finished_at"] = "T"
    for group in data["groups"]:
        group["timings"] = {}
    return data


def test_three_shards_merged_equal_one_run(course: Path, tmp_path: Path) -> None:
    single = tmp_path / "single"
    assert cli.main(["run", str(course), "--static", "-q", "--out", str(single)]) == 1  # ghost
    shards = [tmp_path / f"out-{k}" for k in (1, 2, 3)]
    graded: list[str] = []
    for k, out in enumerate(shards, start=1):
        cli.main(["run", str(course), "--static", "-q", "--shard", f"{k}/3", "--out", str(out)])
        graded += [g["name"] for g in json.loads((out / "results.json").read_text())["groups"]]
    assert sorted(graded) == sorted([*NAMES, "ghost"])  # every group in exactly one shard
    merged = tmp_path / "merged"
    # Shards in scrambled order: --groups restores the groups file's order.
    code = cli.main(
        ["merge", *map(str, reversed(shards)), "--groups", str(course), "--out", str(merged)]
    )
    assert code == 1  # ghost could not be graded, as in the single run
    assert normalised(merged) == normalised(single)
    # Artifacts were copied, so the report's links resolve.
    thumbs = json.loads((merged / "results.json").read_text())["groups"][0]["artifacts"]["paper"]
    assert thumbs["thumbnails"]
    for rel in thumbs["thumbnails"]:
        assert (merged / rel).is_file(), rel
    assert (merged / "index.html").is_file()
    assert (merged / "grades.csv").read_text() == (single / "grades.csv").read_text()


def test_merge_without_groups_keeps_input_order_and_reports_missing(
    course: Path, tmp_path: Path
) -> None:
    out1, out2 = tmp_path / "a", tmp_path / "b"
    cli.main(["run", str(course), "--static", "-q", "--only", "delta", "--out", str(out1)])
    cli.main(["run", str(course), "--static", "-q", "--only", "alpha", "--out", str(out2)])
    merged = tmp_path / "m"
    assert cli.main(["merge", str(out1), str(out2), "--out", str(merged)]) == 0
    names = [g["name"] for g in json.loads((merged / "results.json").read_text())["groups"]]
    assert names == ["delta", "alpha"]
    code = cli.main(["merge", str(out1), str(out2), "--groups", str(course), "--out", str(merged)])
    assert code == 1  # bravo, charlie, echo and ghost are in no shard


def _run(*names: str, sha: str = "abc", schema: int = 1) -> RunResult:
    return RunResult(
        tool=ToolInfo("repograder", "0"),
        course=None,
        deadline=None,
        rubric=RubricInfo("dl4ad", sha),
        started_at="2026-04-01T10:00:00+00:00",
        finished_at="2026-04-01T11:00:00+00:00",
        groups=tuple(GroupResult(n, "r", GroupStatus.GRADED) for n in names),
        schema_version=schema,
    )


def test_merge_errors_are_clear() -> None:
    a, b = Path("a"), Path("b")
    with pytest.raises(ConfigError, match="'g1' is in both a and b"):
        shard.merge_runs([(a, _run("g1", "g2")), (b, _run("g1"))])
    with pytest.raises(ConfigError, match="differ in rubric"):
        shard.merge_runs([(a, _run("g1")), (b, _run("g2", sha="other"))])
    with pytest.raises(ConfigError, match="differ in schema_version"):
        shard.merge_runs([(a, _run("g1")), (b, replace(_run("g2"), schema_version=2))])
    with pytest.raises(ConfigError, match="no input"):
        shard.merge_runs([])
    merged = shard.merge_runs(
        [(a, replace(_run("g2"), started_at="2026-04-01T09:00:00+00:00")), (b, _run("g1"))],
        order=["g1", "g2", "g3"],
    )
    assert [g.name for g in merged.run.groups] == ["g1", "g2"]
    assert merged.missing == ("g3",)
    assert merged.run.started_at == "2026-04-01T09:00:00+00:00"


def test_merge_of_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    assert cli.main(["merge", str(tmp_path / "nope"), "--out", str(tmp_path / "m")]) == 2


def test_parse_and_select_shard() -> None:
    assert shard.parse_shard("2/5") == shard.Shard(2, 5)
    for bad in ("0/3", "4/3", "1/0", "x", "1-3", ""):
        with pytest.raises(ConfigError, match="--shard"):
            shard.parse_shard(bad)
    items = list(range(10))
    slices = [shard.select_shard(items, shard.Shard(k, 3)) for k in (1, 2, 3)]
    assert slices == [(0, 3, 6, 9), (1, 4, 7), (2, 5, 8)]
    assert shard.select_shard(items, shard.Shard(1, 1)) == tuple(items)


def test_bad_shard_option_exits_2(course: Path, tmp_path: Path) -> None:
    assert cli.main(["run", str(course), "--static", "--shard", "4/3", "--out", str(tmp_path)]) == 2


def test_merged_shards_keep_the_course_s_shared_layer() -> None:
    """Shards decide the same layer from the whole course: the merged report says it once
    (their image tags differ: each runner builds its own base image); shards whose builds
    ended differently, or one without a layer, are not merged into one claim (helper-38)."""
    a, b, c = Path("a"), Path("b"), Path("c")
    layer = {"why": "shared layer inferred from the course: numpy", "requirements": ["numpy"]}
    same = shard.merge_runs(
        [
            (a, replace(_run("g1"), shared_layer={**layer, "image": "env:1"})),
            (b, replace(_run("g2"), shared_layer={**layer, "image": "env:2"})),
        ]
    )
    assert same.run.shared_layer == {**layer, "image": "env:1"}
    failed = {**layer, "image": None, "error": "resolution failed"}
    differ = "the shards built different shared layers: see each shard's own report"
    for other in (failed, {}):
        merged = shard.merge_runs(
            [
                (a, replace(_run("g1"), shared_layer=other)),
                (b, replace(_run("g2"), shared_layer=layer)),
            ]
        )
        assert merged.run.shared_layer == {"why": differ}
    assert shard.merge_runs([(a, _run("g1")), (c, _run("g3"))]).run.shared_layer == {}
