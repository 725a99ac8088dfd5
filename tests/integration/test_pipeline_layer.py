"""The shared layer inferred by `grade_all`: decided once, before the first build, from every
group (cached ones too), reported in each group's build notes and in shared-layer.json."""

from __future__ import annotations

import json
import textwrap
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from gitrepo import commit, init_repo
from grading import grading_context
from repograder import pipeline, report, shard
from repograder.config import load_groups, load_rubric
from repograder.detect import EnvSpec
from repograder.model import GroupStatus
from repograder.report import results as report_results
from repograder.report.tables import shared_layer_text
from repograder.sandbox.base import BuildResult
from repograder.sandbox.fake import FakeSandbox

README = "# Project\n\nRun it like this.\n\n```bash\npython run.py\n```\n"


class LayeringFake(FakeSandbox):
    """A fake that records the inferred layer and the order of events."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self.layers: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
        self.layer_declared = False
        self.layer_apt = ("libsndfile1",)  # DockerSandbox: the rubric's and the table's
        self.fallbacks: list[bool] = []

    def use_inferred_layer(
        self,
        common: Sequence[str],
        apt: Sequence[str] = (),
        warmup: Sequence[str] = (),
        *,
        fallback: bool = True,
    ) -> str | None:
        self.events.append("layer")
        self.fallbacks.append(fallback)
        self.layers.append((tuple(common), tuple(warmup)))
        return "fake:layer" if common else None

    def prepare(self, spec: EnvSpec, checkout: Path, log_dir: Path) -> BuildResult:
        self.events.append("prepare")
        return super().prepare(spec, checkout, log_dir)


def _course(tmp_path: Path, requirements: dict[str, str], rubric_extra: str = "") -> Path:
    body = ["course: c", "groups:"]
    for name, reqs in requirements.items():
        init_repo(tmp_path / name)
        files = {"README.md": README, "run.py": "print(1)\n", "requirements.txt": reqs}
        commit(tmp_path / name, files, "v1", "2026-03-30T12:00:00+02:00")
        body.append(f"  - {{name: {name}, repo: {name}}}")
    if rubric_extra:
        rubric = tmp_path / "rubric.yaml"
        rubric.write_text(
            "name: r\nchecks:\n  - {id: env-build, points: 1}\n  - {id: readme-steps, points: 1}\n"
            + textwrap.dedent(rubric_extra)
        )
        body.insert(1, f"rubric: {rubric}")
    path = tmp_path / "groups.yaml"
    path.write_text("\n".join(body) + "\n")
    return path


def _ctx(
    tmp_path: Path, sandbox: FakeSandbox, config_path: Path, **kw: Any
) -> pipeline.GradingContext:
    rubric = load_rubric(load_groups(config_path).rubric_path)
    return grading_context(tmp_path, sandbox, rubric, **kw)


def test_the_layer_is_decided_once_before_any_build_and_reported(tmp_path: Path) -> None:
    path = _course(
        tmp_path,
        {
            "a": "numpy\nlibrosa\n",
            "b": "numpy\nlibrosa\ntqdm\n",
            "c": "numpy<2\nlibrosa\n",
            "d": "requests\n",
        },
    )
    # A group whose repository is missing must not keep the others waiting.
    path.write_text(path.read_text() + "  - {name: gone, repo: does-not-exist}\n")
    config = load_groups(path)
    sandbox = LayeringFake()
    ctx = _ctx(tmp_path, sandbox, path)
    run = pipeline.grade_all(config, config.groups, ctx, jobs=2)
    assert sandbox.events[0] == "layer"
    assert sandbox.events.count("layer") == 1
    assert sandbox.events.count("prepare") == 4
    (common, warmup), *_ = sandbox.layers
    # 4 groups with an environment, half of them: numpy and librosa are shared.
    assert common[:2] == ("librosa", "numpy")
    assert any("librosa" in w for w in warmup)
    by_name = {g.name: g for g in run.groups}
    assert by_name["gone"].status == GroupStatus.ERROR
    notes = {c.id: c for c in by_name["c"].checks}["env-build"].details["notes"]
    assert isinstance(notes, list)
    assert any(
        "shared layer inferred" in str(n) and "own versions of: numpy" in str(n) for n in notes
    )
    data = json.loads((tmp_path / "out" / "shared-layer.json").read_text())
    assert data["groups"] == 4
    assert data["threshold"] == 2
    assert data["image"] == "fake:layer"
    assert data["apt"] == ["libsndfile1"]  # what the layer installs from Debian
    # The report says what was shared and why (results.json and the overview's line).
    assert run.shared_layer == data
    line = shared_layer_text(run)
    assert line.startswith("shared layer inferred from the course: packages at least 2 of 4")
    assert "librosa" in line
    assert "system packages: libsndfile1" in line
    assert "warm-ups ran once in the layer" in line
    assert "the grader's notebook tooling: nbclient" in line
    written = report.write_report(run, tmp_path / "out")
    index = (tmp_path / "out" / "index.html").read_text()
    assert 'id="shared-layer"' in index
    assert "system packages: libsndfile1" in index
    assert (
        "Shared environment: shared layer inferred" in (tmp_path / "out" / "summary.md").read_text()
    )
    assert tmp_path / "out" / "results.json" in written
    stored = report_results.read_results(tmp_path / "out" / "results.json")
    assert stored.shared_layer == data

    # A re-run after one group's push: the cached groups still count, so the layer is the same.
    commit(tmp_path / "d", {"run.py": "print(2)\n"}, "v2", "2026-03-31T12:00:00+02:00")
    again = LayeringFake()
    pipeline.grade_all(config, config.groups, _ctx(tmp_path, again, path), jobs=2)
    assert again.layers == sandbox.layers
    assert again.events.count("prepare") == 1


class FailingLayer(LayeringFake):
    layer_error = "dependency resolution failed (log: common.log)"


def test_a_layer_that_did_not_build_is_recorded_as_such(tmp_path: Path) -> None:
    # Found by a review: shared-layer.json named an image that never existed.
    path = _course(tmp_path, {"a": "numpy\n", "b": "numpy\n"})
    config = load_groups(path)
    pipeline.grade_all(config, config.groups, _ctx(tmp_path, FailingLayer(), path))
    data = json.loads((tmp_path / "out" / "shared-layer.json").read_text())
    assert data["requirements"][0] == "numpy"
    assert data["image"] is None
    assert data["error"] == FailingLayer.layer_error
    # Re-grading one group adopts "no layer", as the others were built (on the base image):
    # nothing is adopted, so the rubric's apt cannot form a layer for it alone (helper-36).
    only = LayeringFake()
    run = pipeline.grade_all(config, config.groups[1:], _ctx(tmp_path, only, path, force=True))
    assert only.layers == []
    assert only.events == ["prepare"]
    # Its report still says so: the failure, and that the groups were built on the base image.
    assert shared_layer_text(run).endswith(
        "it did not build (dependency resolution failed (log: common.log)): groups built in "
        "this run used the base image"
    )
    built = tmp_path / "built"
    built.mkdir()
    path = _course(built, {"a": "numpy\n", "b": "numpy\n"})
    config = load_groups(path)
    pipeline.grade_all(config, config.groups, _ctx(built, LayeringFake(), path))
    data = json.loads((built / "out" / "shared-layer.json").read_text())
    assert data["image"] == "fake:layer"
    assert "error" not in data


class RelaxedLayer(LayeringFake):
    # DockerSandbox after the inferred lines could not be resolved together.
    layer_fallback = (("numba", "numpy"), (), "its lines cannot be installed together")
    common_tag = "fake:relaxed"


def test_a_layer_built_without_its_versions_is_recorded_and_adopted_again(
    tmp_path: Path,
) -> None:
    path = _course(
        tmp_path, {"a": "numpy==2.1.0\nnumba==0.58.1\n", "b": "numpy==2.1.0\nnumba==0.58.1\n"}
    )
    config = load_groups(path)
    run = pipeline.grade_all(config, config.groups, _ctx(tmp_path, RelaxedLayer(), path))
    data = json.loads((tmp_path / "out" / "shared-layer.json").read_text())
    assert data["requirements"] == ["numba", "numpy"]
    assert data["inferred"][:2] == ["numba==0.58.1", "numpy==2.1.0"]
    assert data["fallback"] == "its lines cannot be installed together"
    assert data["why"].endswith("; it did not build: its lines cannot be installed together")
    assert data["warmup"] == []
    assert data["image"] == "fake:relaxed"
    assert data["apt"] == ["libsndfile1"]
    assert shared_layer_text(run).endswith(
        "; it did not build: its lines cannot be installed together; built instead: numba, "
        "numpy; system packages: libsndfile1"
    )
    # Re-grading one group builds it on the layer that was built, not on the inferred lines.
    only = LayeringFake()
    pipeline.grade_all(config, config.groups[1:], _ctx(tmp_path, only, path, force=True))
    assert [layer[0] for layer in only.layers] == [("numba", "numpy")]
    assert only.fallbacks == [False]  # adopted as built: it fails as written (helper-37)


def test_a_declared_layer_or_environment_none_is_not_replaced(tmp_path: Path) -> None:
    path = _course(tmp_path, {"a": "numpy\n", "b": "numpy\n"}, "environment: none\n")
    config = load_groups(path)
    sandbox = LayeringFake()
    # An earlier run's record in the folder does not describe this run's environment.
    (tmp_path / "out").mkdir(exist_ok=True)
    (tmp_path / "out" / "shared-layer.json").write_text('{"why": "an earlier layer"}')
    run = pipeline.grade_all(config, config.groups, _ctx(tmp_path, sandbox, path))
    assert sandbox.layers == []
    assert sandbox.events == ["prepare", "prepare"]
    assert run.shared_layer == {}
    assert shared_layer_text(run) == ""

    declared = LayeringFake()
    declared.layer_declared = True
    pipeline.grade_all(config, config.groups, _ctx(tmp_path / "x", declared, path))
    assert declared.layers == []


def test_regrading_some_groups_keeps_the_whole_course_layer(tmp_path: Path) -> None:
    path = _course(tmp_path, {"a": "numpy\nscipy\n", "b": "numpy\nscipy\n", "c": "numpy\n"})
    config = load_groups(path)
    full = LayeringFake()
    pipeline.grade_all(config, config.groups, _ctx(tmp_path, full, path))
    # --only c: the layer is the course's (numpy, scipy), not one inferred from c alone.
    only = LayeringFake()
    ctx = _ctx(tmp_path, only, path, force=True)
    pipeline.grade_all(config, config.groups[2:], ctx)
    assert [layer[0] for layer in only.layers] == [full.layers[0][0]]
    assert only.events == ["layer", "prepare"]
    # The report says what this run built: the adopted lines with the rubric's apt of now
    # (helper-38: an `apt:` added after a missing-library verdict), or that it did not build.
    more_apt = LayeringFake()
    more_apt.layer_apt = ("ffmpeg", "libsndfile1")
    more_apt.common_tag = "fake:layer2"  # type: ignore[attr-defined]
    run = pipeline.grade_all(config, config.groups[2:], _ctx(tmp_path, more_apt, path, force=True))
    assert run.shared_layer["image"] == "fake:layer2"
    assert "system packages: ffmpeg, libsndfile1" in shared_layer_text(run)
    run = pipeline.grade_all(
        config, config.groups[2:], _ctx(tmp_path, FailingLayer(), path, force=True)
    )
    assert shared_layer_text(run).endswith(
        "it did not build (dependency resolution failed (log: common.log)): groups built in "
        "this run used the base image"
    )
    assert run.shared_layer["image"] is None
    # What a later --only run adopts is unchanged: the course's other groups use that layer.
    assert "error" not in json.loads((tmp_path / "out" / "shared-layer.json").read_text())


def test_shards_of_one_course_infer_the_same_layer_as_the_whole_course(tmp_path: Path) -> None:
    """Each shard (own output folder, no shared-layer.json) decides the layer from every
    group of the course, so shards agree with each other and with an unsharded run."""
    path = _course(
        tmp_path,
        {"a": "numpy\nscipy\n", "b": "numpy\ntorch\n", "c": "numpy\nscipy\n", "d": "torch\n"},
    )
    # A group whose repository is gone counts in no shard's layer, graded there or not.
    path.write_text(path.read_text() + "  - {name: gone, repo: does-not-exist}\n")
    config = load_groups(path)
    whole = LayeringFake()
    pipeline.grade_all(config, config.groups, _ctx(tmp_path / "whole", whole, path))
    assert whole.layers[0][0][:3] == ("numpy", "scipy", "torch")
    layers = []
    for k in (1, 2):
        sandbox = LayeringFake()
        ctx = _ctx(tmp_path / f"shard-{k}", sandbox, path)
        mine = shard.select_shard(config.groups, shard.Shard(k, 2))
        run = pipeline.grade_all(config, mine, ctx)
        assert [g.name for g in run.groups] == [g.name for g in mine]  # the others: not graded
        assert sandbox.events.count("prepare") == 2
        layers.append(sandbox.layers)
        stored = json.loads((tmp_path / f"shard-{k}" / "out" / "shared-layer.json").read_text())
        assert stored["groups"] == 4
    # Shard 1 alone (a, c) would share numpy and scipy only; shard 2 (b, d) torch only.
    assert layers[0] == layers[1] == whole.layers


class ThreadsSeen(pipeline.NoProgress):
    """A progress that notes which worker threads did any group's work."""

    def __init__(self) -> None:
        self.threads: set[str] = set()

    def stage(self, group: str, stage: str) -> None:
        self.threads.add(threading.current_thread().name)


def test_an_inferred_layer_grades_many_groups_with_a_bounded_pool(tmp_path: Path) -> None:
    groups = 3 * pipeline.STATIC_WORKERS
    path = _course(tmp_path, {f"g{i:02d}": "numpy\nscipy\n" for i in range(groups)})
    config = load_groups(path)
    sandbox = LayeringFake()
    seen = ThreadsSeen()
    ctx = _ctx(tmp_path, sandbox, path, progress=seen)
    run = pipeline.grade_all(config, config.groups, ctx, jobs=1)
    assert [g.status for g in run.groups] == [GroupStatus.GRADED] * groups
    assert sandbox.events == ["layer"] + ["prepare"] * groups
    # at most max(jobs, STATIC_WORKERS) threads, not one per group
    assert 1 < len(seen.threads) <= pipeline.STATIC_WORKERS
    # every work folder was removed, the finished groups' and the cached ones'
    assert not any((tmp_path / "cache" / "work").rglob("checkout"))


class FirstFetchSlow(ThreadsSeen):
    """The first group's fetch ends last (its fetch stage begins with a pause)."""

    def __init__(self, slow: str) -> None:
        super().__init__()
        self.slow = slow

    def stage(self, group: str, stage: str) -> None:
        super().stage(group, stage)
        if group == self.slow and stage == "fetch":
            time.sleep(2.0)


@pytest.mark.timeout(180)
def test_a_bounded_pool_keeps_the_sandbox_order_when_the_first_fetch_is_slowest(
    tmp_path: Path,
) -> None:
    # Sandbox turns go in groups.yaml order: if the later groups' finish tasks took every
    # worker before the first group's, they would wait for it forever.
    groups = 3 * pipeline.STATIC_WORKERS
    path = _course(tmp_path, {f"g{i:02d}": "numpy\nscipy\n" for i in range(groups)})
    config = load_groups(path)
    sandbox = LayeringFake()
    ctx = _ctx(tmp_path, sandbox, path, progress=FirstFetchSlow("g00"))
    run = pipeline.grade_all(config, config.groups, ctx, jobs=1)
    assert [g.status for g in run.groups] == [GroupStatus.GRADED] * groups


class StartingFake(LayeringFake):
    """A LayeringFake whose shared layer can be started early; inspections are events too."""

    def start_layer(self) -> None:
        self.events.append("start")


class InspectionsSeen(pipeline.NoProgress):
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def stage(self, group: str, stage: str) -> None:
        if stage == "inspect":
            self.events.append(f"inspect {group}")


@pytest.mark.parametrize("declared", [False, True])
def test_the_layer_starts_before_the_first_inspection_and_not_when_nothing_builds(
    tmp_path: Path, declared: bool
) -> None:
    path = _course(tmp_path, {"a": "numpy\nscipy\n", "b": "numpy\nscipy\n"})
    config = load_groups(path)
    sandbox = StartingFake()
    sandbox.layer_declared = declared
    ctx = _ctx(tmp_path, sandbox, path, progress=InspectionsSeen(sandbox.events))
    pipeline.grade_all(config, config.groups, ctx, jobs=1)
    first_inspection = next(i for i, e in enumerate(sandbox.events) if e.startswith("inspect"))
    assert "start" in sandbox.events[:first_inspection]
    assert sandbox.events.index("start") < sandbox.events.index("prepare")
    # Nothing changed: every result is reused, so no layer is built for nobody.
    again = StartingFake()
    again.layer_declared = declared
    ctx = _ctx(tmp_path, again, path, progress=InspectionsSeen(again.events))
    pipeline.grade_all(config, config.groups, ctx, jobs=1)
    assert "start" not in again.events
    assert "prepare" not in again.events


class FailingStart(LayeringFake):
    def start_layer(self) -> None:
        raise RuntimeError("can't start new thread")


def test_a_layer_that_cannot_start_releases_the_group_s_work(tmp_path: Path) -> None:
    # start_layer runs after the fetch: if it fails, the group was never handed on and its
    # checkout (cache/work/<run>/<group>) must not be left behind.
    path = _course(tmp_path, {"a": "numpy\n"})
    config = load_groups(path)
    ctx = _ctx(tmp_path, FailingStart(), path)
    with pytest.raises(RuntimeError, match="new thread"):
        pipeline.grade_all(config, config.groups, ctx, jobs=1)
    work = ctx.plan.cache_dir / "work" / ctx.plan.run_id
    assert not work.exists() or list(work.iterdir()) == []
