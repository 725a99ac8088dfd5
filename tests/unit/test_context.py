"""The grading context in three parts: a frozen plan, the effects and the run control."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gitrepo import commit, init_repo
from grading import grading_context
from repograder import pipeline
from repograder.config import GroupSpec, load_groups
from repograder.model import Checkout, GroupResult, GroupStatus
from repograder.resultstore import ResultStore
from repograder.sandbox.base import Limits
from repograder.sandbox.fake import FakeSandbox
from repograder.stages import inspect_checkout


def test_build_puts_each_keyword_in_its_part(tmp_path: Path) -> None:
    sandbox = FakeSandbox()
    cancel = threading.Event()
    deadline = datetime(2026, 3, 31, 22, tzinfo=UTC)
    ctx = grading_context(
        tmp_path,
        sandbox,
        deadline=deadline,
        limits=Limits(timeout_s=7),
        force=True,
        run_id="r1",
        cancel=cancel,
    )
    assert (ctx.plan.out_dir, ctx.plan.deadline, ctx.plan.run_id) == (
        tmp_path / "out",
        deadline,
        "r1",
    )
    assert ctx.plan.limits.timeout_s == 7
    assert ctx.plan.force
    assert ctx.effects.sandbox is sandbox
    assert ctx.effects.results.out_dir == tmp_path / "out"
    assert ctx.control.cancel is cancel
    assert ctx.control.sandbox_slots is None
    assert ctx.control.course_layer is None
    assert not hasattr(ctx, "rubric")
    assert not hasattr(ctx, "cancel")


def test_the_plan_is_frozen(tmp_path: Path) -> None:
    ctx = grading_context(tmp_path, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.plan.force = True  # type: ignore[misc]


def test_grade_all_gives_the_run_its_own_control_and_leaves_the_callers(tmp_path: Path) -> None:
    init_repo(tmp_path / "a")
    commit(tmp_path / "a", {"README.md": "# A\n"}, "one", "2026-03-30T12:00:00+02:00")
    path = tmp_path / "groups.yaml"
    path.write_text("course: C\ngroups:\n  - {name: a, repo: a}\n", encoding="utf-8")
    config = load_groups(path)
    ctx = grading_context(tmp_path, FakeSandbox())
    before = ctx.control
    (group,) = pipeline.grade_all(config, config.groups, ctx, jobs=2).groups
    assert group.status == GroupStatus.GRADED
    assert ctx.control is before
    assert before.sandbox_slots is None
    stored = ctx.effects.results.load_stored(config.groups[0])  # stored through the effects
    assert stored is not None
    assert (stored.commit, stored.score) == (group.commit, group.score)


def test_the_result_store_reuses_only_a_result_graded_under_the_same_key(tmp_path: Path) -> None:
    (tmp_path / "groups").mkdir()
    store = ResultStore(tmp_path)
    spec = GroupSpec(name="Team 1", repo="r")
    result = GroupResult(name="Team 1", repo="r", status=GroupStatus.GRADED)
    store.store(spec, result, "k1")
    assert (tmp_path / "groups" / f"{spec.slug}.json").is_file()
    assert store.load_cached(spec, "k1") == result
    assert store.load_cached(spec, "k2") is None
    assert store.load_cached(spec, None) is None  # a grading not to be reused
    assert store.load_stored(spec) == result  # resume: any key
    store.store(spec, result, None)
    assert store.load_cached(spec, "k1") is None


class Stages:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def begin(self, groups: Sequence[str]) -> None:
        pass

    def stage(self, group: str, stage: str) -> None:
        self.seen.append((group, stage))

    def done(self, group: str, result: GroupResult, cached: bool) -> None:
        pass

    def end(self) -> None:
        pass


def test_inspection_needs_only_the_plan_and_a_progress_sink(tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    root.mkdir()
    (root / "README.md").write_text("# Project\n\n```bash\npython train.py\n```\n")
    (root / "requirements.txt").write_text("six\n")
    plan = grading_context(tmp_path, None).plan
    progress = Stages()
    static = inspect_checkout(
        plan, progress, GroupSpec(name="g", repo="r"), Checkout(root, None, None), tmp_path / "g"
    )
    assert progress.seen == [("g", "inspect")]
    assert static.readme is not None
    assert static.env is not None
    assert static.env.requirements == ("six",)
