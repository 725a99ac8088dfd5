"""Grade groups: many groups at once, one group per worker thread (:mod:`repograder.grading`
grades one).

Student failures become results; infrastructure failures (no Docker engine, unwritable output)
raise and stop the run. Each finished group is written to ``groups/<slug>.json`` at once
(:mod:`repograder.resultstore`), so an interrupted run resumes with only the unfinished groups,
and an unchanged group (same commit, rubric, tool version and sandbox) is not graded again unless
forced. This module owns the scheduling: the fetch pool, the sandbox slots, the shared layer
decided before the first build, Ctrl-C, and the run's result.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import repograder.checks.notebooks as notebooks_check
from repograder import (
    __version__,
    git,
    layerplan,
    notebooks,
)
from repograder.config import CourseConfig, GroupSpec
from repograder.context import STATIC_WORKERS as STATIC_WORKERS
from repograder.context import STOP_GRACE_S
from repograder.context import Clock as Clock
from repograder.context import Effects as Effects
from repograder.context import GradingContext as GradingContext
from repograder.context import GradingPlan as GradingPlan
from repograder.context import NoProgress as NoProgress
from repograder.context import Progress as Progress
from repograder.context import RunControl as RunControl
from repograder.context import utc_now as utc_now
from repograder.errors import Interrupted
from repograder.grading import FetchedGroup as FetchedGroup
from repograder.grading import _make_dir, _offer_from_elsewhere
from repograder.grading import fetch_group as fetch_group
from repograder.grading import grade_group as grade_group
from repograder.model import (
    NOT_GRADED,
    GroupResult,
    GroupStatus,
    JSONDict,
    RubricInfo,
    RunResult,
    ToolInfo,
)
from repograder.report import results as report_results
from repograder.resultstore import ResultStore as ResultStore
from repograder.resultstore import cache_key as cache_key
from repograder.sandbox.base import Sandbox
from repograder.stages import (
    SandboxSlots,
)
from repograder.stages import (
    rubric_check as _check,
)


@contextmanager
def _interruptible(control: RunControl, sandbox: Sandbox | None) -> Iterator[None]:
    """On Ctrl-C or an infrastructure error, stop the workers and remove every container."""
    try:
        yield
    except BaseException as exc:
        control.cancel.set()
        if control.sandbox_slots is not None:
            control.sandbox_slots.cancel()
        if sandbox is not None:
            sandbox.close()
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted(
                "interrupted: finished groups are saved; run the same command again to resume"
            ) from None
        raise


def grade_all(
    config: CourseConfig,
    groups: Sequence[GroupSpec],
    ctx: GradingContext,
    jobs: int = 1,
) -> RunResult:
    """Grade ``groups`` with ``jobs`` workers and return the run (report not yet written).

    ``config.groups`` is the whole course: an inferred shared layer is decided from all of
    them, also when ``groups`` is only a part (a shard, ``--only``).

    Raises Interrupted on Ctrl-C and InfrastructureError when the sandbox engine is gone; the
    groups finished before that were stored and handed to ``ctx.effects.progress.done``.
    """
    started_at = ctx.effects.clock()
    _make_dir(ctx.plan.out_dir / "groups")
    results: dict[str, GroupResult] = {}
    ctx.effects.progress.begin([g.name for g in groups])
    lock = threading.Lock()

    def record(result: GroupResult) -> GroupResult:
        with lock:
            results[result.name] = result
        return result

    def fetch(group: GroupSpec) -> GroupResult | FetchedGroup:
        first = fetch_group(group, ctx)
        if isinstance(first, GroupResult):
            return record(first)
        if ctx.control.course_layer is None:
            return finish(first)  # nothing to wait for: grade on in the same task
        if ctx.control.cancel.is_set():
            first.discard()  # the run stopped while this group fetched: nobody will finish it
            raise Interrupted("interrupted")
        return first

    def finish(fetched: FetchedGroup) -> GroupResult:
        return record(fetched.finish())

    # More workers than sandbox slots: fetching and static checks (cheap, mostly I/O) never
    # wait behind another group's slow build.
    slots = SandboxSlots(jobs, [g.name for g in groups], ctx.control.cancel)
    ctx = replace(ctx, control=replace(ctx.control, sandbox_slots=slots))
    workers = min(max(len(groups), 1), max(jobs, STATIC_WORKERS))
    adopted = adopt_stored_layer(ctx, groups, config.groups)
    layer = None if adopted else course_layer(ctx, groups, config.groups)
    # The groups of the course outside this run still count for the layer (shards agree).
    selected = {g.name for g in groups}
    elsewhere = [g for g in config.groups if layer is not None and g.name not in selected]
    if layer is not None:
        ctx = replace(ctx, control=replace(ctx.control, course_layer=layer))
    # With an inferred layer each group is two tasks in one FIFO pool: fetch (which offers the
    # group's environment to the layer and never waits for it), then finish, queued once its
    # fetch and every earlier group's are done. Every fetch task is queued before any finish
    # task, so a worker only takes a finish task (which may wait for the layer) once every
    # fetch has started; and finish tasks run in sandbox-turn order. So a bounded pool cannot
    # deadlock, whatever the number of groups. Without a layer a group is one task. The
    # course's groups outside this run (another shard's) only offer their environment files to
    # the layer: queued with the fetches, before any finish task, and never waiting.
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grade")
    futures: list[Future[Any]] = []
    handed: dict[Future[Any], FetchedGroup] = {}
    in_order: dict[int, FetchedGroup | None] = {}  # fetched, not yet queued to finish
    try:
        with _interruptible(ctx.control, ctx.effects.sandbox):
            futures = [pool.submit(fetch, g) for g in groups]
            position = {future: i for i, future in enumerate(futures)}
            futures += [
                pool.submit(_offer_from_elsewhere, ctx.plan, ctx.control, g) for g in elsewhere
            ]
            pending = dict.fromkeys(futures)
            # Finish tasks are queued in groups.yaml order, the order of sandbox turns: a
            # worker never holds a later group's finish task while an earlier one's waits in
            # the queue (the later group would wait for that turn with every worker taken).
            next_up = 0
            knock_on: BaseException | None = None
            while pending:
                done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    pending.pop(future)
                    exc = future.exception()
                    if future in position:
                        value = future.result() if exc is None else None
                        in_order[position[future]] = (
                            value if isinstance(value, FetchedGroup) else None
                        )
                        while next_up in in_order:
                            ready = in_order.pop(next_up)
                            next_up += 1
                            if ready is not None:
                                follow = pool.submit(finish, ready)
                                handed[follow] = ready
                                futures.append(follow)
                                pending[follow] = None
                    if exc is None:
                        continue
                    if isinstance(exc, Interrupted) and ctx.control.cancel.is_set():
                        # A group stopped because another one failed: report the cause.
                        knock_on = knock_on or exc
                        continue
                    raise exc  # infrastructure errors and Ctrl-C stop the run
            if knock_on is not None:
                raise knock_on
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        if ctx.control.cancel.is_set():
            # Groups past their sandbox work finish scoring and are stored; the others stop
            # at once (their containers are gone). Bounded: a hung fetch cannot hold Ctrl-C.
            wait(futures, timeout=STOP_GRACE_S)
        for follow, fetched in handed.items():
            if follow.cancelled():
                fetched.discard()  # never started: its work folder is ours to remove
        for future in futures:
            if future.done() and not future.cancelled() and future.exception() is None:
                value = future.result()
                if isinstance(value, FetchedGroup) and value not in handed.values():
                    value.discard()  # fetched while the run stopped: never handed on
        for waiting in in_order.values():
            if waiting is not None and waiting not in handed.values():
                waiting.discard()  # fetched, but an earlier group's fetch never ended
        if layer is not None and layer.choice is not None:
            with suppress(OSError):  # must not hide why the run ended
                _record_layer_outcome(ctx, layer.choice)
        ctx.effects.progress.end()
    ordered = tuple(results[g.name] for g in groups if g.name in results)
    decided = adopted or (layer is not None and layer.choice is not None)
    shared = layer_record(ctx) if decided else {}
    return _run_result(config, ctx, started_at, ordered, shared)


def _record_layer_outcome(ctx: GradingContext, choice: layerplan.LayerChoice) -> None:
    """Say in ``shared-layer.json`` what became of the inferred layer when it is not what was
    written when it was decided: it did not build (``image`` null, ``error``: why, with its
    log; the groups were built on the base image instead), or something else was built
    instead (``DockerSandbox.layer_fallback``: ``requirements``, ``warmup`` and ``image`` are
    what was built, ``inferred`` the lines as inferred, ``fallback`` why), which a later
    ``--only`` or ``--shard`` run adopts."""
    sandbox = ctx.effects.sandbox
    error = getattr(sandbox, "layer_error", None)
    fallback = getattr(sandbox, "layer_fallback", None)
    data: dict[str, Any]
    if isinstance(error, str) and error:
        data = {**choice.to_json(), "image": None, "error": error}
    elif isinstance(fallback, tuple) and len(fallback) == 3:
        requirements, warmup, why = fallback
        data = {
            **choice.to_json(),
            "requirements": list(requirements),
            "warmup": list(warmup),
            "inferred": list(choice.requirements),
            "fallback": why,
            "why": f"{choice.describe()}; it did not build: {why}",
            "apt": list(getattr(sandbox, "layer_apt", ())),
            "image": getattr(sandbox, "common_tag", None),
        }
    else:
        return
    report_results.write_json_atomic(ctx.plan.out_dir / "shared-layer.json", data)


def _layer_adopter(ctx: GradingContext) -> Any:
    """The sandbox's ``use_inferred_layer`` when this run infers the course's shared layer;
    None when the rubric declares a layer or says ``environment: none``, or the sandbox cannot
    layer (static runs, local backend)."""
    sandbox, rubric = ctx.effects.sandbox, ctx.plan.rubric
    adopt = getattr(sandbox, "use_inferred_layer", None)
    if (
        adopt is None
        or not ctx.builds
        or not rubric.infer_layer
        or getattr(sandbox, "layer_declared", False)
    ):
        return None
    return adopt


def adopt_stored_layer(
    ctx: GradingContext, groups: Sequence[GroupSpec], course: Sequence[GroupSpec]
) -> bool:
    """Whether an earlier run's layer is adopted: only some of the ``course``'s groups are
    graded (``--only``, a shard) and that run left ``shared-layer.json`` in the output folder.
    Re-grading one group must not rebuild its environment on another parent: a layer built
    then is used as built (no other fallback now), one that did not build means the base
    image, as for the course's other groups."""
    adopt = _layer_adopter(ctx)
    if adopt is None or not {g.name for g in groups} < {g.name for g in course}:
        return False
    stored = _stored_layer(ctx.plan.out_dir / "shared-layer.json")
    if stored is None:
        return False
    if stored != LAYER_FAILED:
        adopt(*stored, fallback=False)
    return True


def course_layer(
    ctx: GradingContext,
    groups: Sequence[GroupSpec],
    course: Sequence[GroupSpec] = (),
) -> layerplan.CourseLayer | None:
    """The collector of the inferred shared layer; None when this run infers none
    (:func:`_layer_adopter`; an adopted layer: :func:`adopt_stored_layer`).

    The collector expects every group of the ``course`` (``grade_all`` offers the ones
    outside this run), so the layer is a function of the course's data: shards of one course
    agree with each other and with an unsharded run.
    """
    adopt = _layer_adopter(ctx)
    if adopt is None:
        return None
    sandbox, rubric = ctx.effects.sandbox, ctx.plan.rubric
    tooling = notebooks.NOTEBOOK_TOOLING if _check(rubric, notebooks_check.ID) else ()
    out_dir = ctx.plan.out_dir
    selected = {g.name for g in groups}

    def ready(choice: layerplan.LayerChoice) -> None:
        tag = adopt(choice.requirements, (), choice.warmup)
        # What the layer installs from Debian: the rubric's `apt` and what its packages need.
        apt = getattr(sandbox, "layer_apt", ())
        data = {**choice.to_json(), "apt": list(apt) if tag is not None else [], "image": tag}
        report_results.write_json_atomic(out_dir / "shared-layer.json", data)

    return layerplan.CourseLayer(
        [g.name for g in (*groups, *(g for g in course if g.name not in selected))],
        ready,
        min_share=rubric.layer_min_share,
        min_groups=rubric.layer_min_groups,
        extra=tooling,
        # Markers are evaluated for the Python the layer is built with (the base image's).
        python=str(getattr(sandbox, "python_version", layerplan.SANDBOX_PYTHON)),
    )


def layer_record(ctx: GradingContext) -> JSONDict:
    """The shared layer as this run used it, for results.json and the report ({} if there is
    no readable record): ``shared-layer.json`` of the output folder, with what the sandbox
    says of this run's build (a layer adopted from an earlier run may not build again, or get
    the rubric's new ``apt``). Called only after this run decided or adopted the layer: an
    older run's file may describe a layer this run did not use."""
    try:
        path = ctx.plan.out_dir / "shared-layer.json"
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    sandbox = ctx.effects.sandbox
    error = getattr(sandbox, "layer_error", None)
    if isinstance(error, str) and error:
        return {**data, "image": None, "error": error}
    tag = getattr(sandbox, "common_tag", None)
    if isinstance(tag, str) and tag:
        apt = getattr(sandbox, "layer_apt", ())
        return {**data, "image": tag, "apt": [a for a in apt if isinstance(a, str)]}
    return data


LAYER_FAILED = "failed"  # _stored_layer: the earlier run's layer did not build at all


def _stored_layer(
    path: Path,
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | str | None:
    """(requirements, apt, warm-ups) of an earlier run's inferred layer, as built (after any
    fallback); :data:`LAYER_FAILED` when nothing was built (the groups were built on the base
    image, without the rubric's apt too); None if unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    reqs, warm = data.get("requirements"), data.get("warmup")
    if not isinstance(reqs, list) or not isinstance(warm, list):
        return None
    if not all(isinstance(x, str) for x in (*reqs, *warm)):
        return None
    if data.get("error"):
        # It did not build: the course's groups were built on the base image, and so is
        # this one (a retry here would put one group on another parent than the others,
        # also by adding the rubric's apt to an empty layer: helper-36).
        return LAYER_FAILED
    return tuple(reqs), (), tuple(warm)


def _run_result(
    config: CourseConfig,
    ctx: GradingContext,
    started_at: datetime,
    groups: Sequence[GroupResult],
    shared_layer: JSONDict | None = None,
) -> RunResult:
    return RunResult(
        tool=ToolInfo("repograder", __version__),
        course=config.course,
        deadline=config.deadline.isoformat() if config.deadline else None,
        rubric=RubricInfo(ctx.plan.rubric.name, ctx.plan.rubric.sha256),
        started_at=started_at.isoformat(),
        finished_at=ctx.effects.clock().isoformat(),
        groups=tuple(groups),
        shared_layer=shared_layer or {},
    )


NOT_GRADED_YET = f"{NOT_GRADED} yet: this group has no stored result in this report folder"


def not_graded(group: GroupSpec, reason: str) -> GroupResult:
    """A report row for a group without a result: status error, ``reason`` (which begins
    with ``model.NOT_GRADED``) says why."""
    return GroupResult(
        name=group.name,
        repo=git.describe_source(group.repo),
        status=GroupStatus.ERROR,
        error=reason,
        members=group.members,
    )


def partial_run(
    config: CourseConfig,
    groups: Sequence[GroupSpec],
    ctx: GradingContext,
    started_at: datetime,
    finished: Mapping[str, GroupResult],
    reason: str,
) -> RunResult:
    """The run as far as it got: the ``finished`` groups, the others ``not_graded(reason)``.

    For the report of a run that stopped early (Ctrl-C, the engine gone): nothing finished
    is lost, and every group is named.
    """
    rows = [finished.get(g.name) or not_graded(g, reason) for g in groups]
    return _run_result(config, ctx, started_at, rows)


class FinishedGroups:
    """A Progress that records every finished group, and the stage of every unfinished one,
    before passing the news on."""

    def __init__(self, inner: Progress) -> None:
        self.inner = inner
        self.results: dict[str, GroupResult] = {}
        self._stages: dict[str, str] = {}
        self._lock = threading.Lock()

    def begin(self, groups: Sequence[str]) -> None:
        with self._lock:
            self._stages = dict.fromkeys(groups, "waiting")
        self.inner.begin(groups)

    def stage(self, group: str, stage: str) -> None:
        with self._lock:
            self._stages[group] = stage
        self.inner.stage(group, stage)

    def done(self, group: str, result: GroupResult, cached: bool) -> None:
        with self._lock:
            self.results[group] = result
            self._stages.pop(group, None)
        self.inner.done(group, result, cached)

    def unfinished(self) -> dict[str, str]:
        """Group -> its last stage ("waiting" before its first), for the groups not done."""
        with self._lock:
            return dict(self._stages)

    def end(self) -> None:
        self.inner.end()
