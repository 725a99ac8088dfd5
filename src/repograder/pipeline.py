"""Grade groups: fetch -> inspect -> build -> run -> score, one group per worker thread.

Student failures become results; infrastructure failures (no Docker engine, unwritable output)
raise and stop the run. Each finished group is written to ``groups/<slug>.json`` at once, so an
interrupted run resumes with only the unfinished groups, and an unchanged group (same commit,
rubric, tool version and sandbox) is not graded again unless forced.

One checked-out group goes through typed hand-offs: ``stages.inspect_checkout`` ->
``StaticEvidence``, ``stages.sandbox_stage`` -> ``RunEvidence``, then ``_evidence`` joins them
into the checks' ``Evidence``, ``rubric.score`` judges, and ``_grade_checkout`` assembles the
``GroupResult``. This module owns the effects around them: fetch, result store, threads, Ctrl-C.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import repograder.checks.notebooks as notebooks_check
from repograder import (
    __version__,
    contributions,
    detect,
    envchain,
    fsutil,
    git,
    layerplan,
    notebooks,
)
from repograder.config import CourseConfig, GroupSpec, Member, Rubric
from repograder.errors import FetchError, InfrastructureError, Interrupted, RepograderError
from repograder.model import (
    NOT_GRADED,
    Checkout,
    GroupResult,
    GroupStatus,
    JSONDict,
    RubricInfo,
    RunResult,
    Timings,
    ToolInfo,
)
from repograder.report import results as report_results
from repograder.rubric import Evidence, score, total
from repograder.sandbox.base import Limits, Sandbox
from repograder.stages import (
    RunEvidence,
    SandboxSlots,
    StaticEvidence,
    guard,
    inspect_checkout,
    sandbox_alive,
    sandbox_stage,
)
from repograder.stages import (
    rubric_check as _check,
)

Clock = Callable[[], datetime]
STATIC_WORKERS = 6  # groups fetched and inspected at once, whatever --jobs says
STOP_GRACE_S = 15.0  # on Ctrl-C or an infrastructure error, time for finished groups to store


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Progress(Protocol):
    """Receives stage changes; implementations must be thread-safe."""

    def begin(self, groups: Sequence[str]) -> None: ...

    def stage(self, group: str, stage: str) -> None: ...

    def done(self, group: str, result: GroupResult, cached: bool) -> None: ...

    def end(self) -> None: ...


class NoProgress:
    def begin(self, groups: Sequence[str]) -> None:
        pass

    def stage(self, group: str, stage: str) -> None:
        pass

    def done(self, group: str, result: GroupResult, cached: bool) -> None:
        pass

    def end(self) -> None:
        pass


@dataclass(frozen=True)
class GradingContext:
    """Everything a group's grading needs besides the group itself."""

    rubric: Rubric
    out_dir: Path
    cache_dir: Path
    fetch: git.FetchOptions
    deadline: datetime | None = None
    sandbox: Sandbox | None = None  # None: static checks only
    limits: Limits = field(default_factory=Limits)
    static_only: bool = False
    force: bool = False
    run_id: str = "run"
    clock: Clock = utc_now
    progress: Progress = field(default_factory=NoProgress)
    # Set on Ctrl-C or an infrastructure error: workers stop and store nothing half-done.
    cancel: threading.Event = field(default_factory=threading.Event)
    # Which groups may build or run in a sandbox now (grade_all sets `jobs` slots).
    sandbox_slots: SandboxSlots | None = None
    # The shared layer inferred from every group's environment (grade_all sets it when the
    # rubric declares none): groups report after fetching, builds wait for the decision.
    course_layer: layerplan.CourseLayer | None = None
    # At most STATIC_WORKERS clones at once, however many worker threads wait (one per group
    # while an inferred layer is decided).
    fetch_slots: threading.Semaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(STATIC_WORKERS)
    )

    @property
    def sandbox_id(self) -> str:
        if self.sandbox is None or self.static_only:
            return "static"
        # Backends with an `identity` (docker: base image and shared layer) name it exactly.
        return str(getattr(self.sandbox, "identity", self.sandbox.name))


def cache_key(
    group: GroupSpec, commit: str | None, ctx: GradingContext, lfs_missing: Sequence[str] = ()
) -> str | None:
    """Identity of a grading: same key, same result. Plain folders (no commit) never cache.

    ``lfs_missing`` are the Git LFS files left as pointers (objects not fetched: offline, a
    server error, a size cap): the same commit graded once they arrive is another grading.
    """
    if commit is None:
        return None
    material = json.dumps(
        [
            group.repo,
            group.ref,
            commit,
            ctx.rubric.sha256,
            __version__,
            ctx.sandbox_id,
            ctx.deadline.isoformat() if ctx.deadline else None,
            list(group.members),
            sorted(lfs_missing),
        ]
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _state_path(ctx: GradingContext, group: GroupSpec) -> Path:
    return ctx.out_dir / "groups" / f"{group.slug}.json"


def load_stored(
    ctx: GradingContext, group: GroupSpec, key: str | None = None
) -> GroupResult | None:
    """The group's stored result; with ``key``, only if it was graded under that key."""
    path = _state_path(ctx, group)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or (key is not None and data.get("cache_key") != key):
        return None
    try:
        return report_results.group_from_json(data.get("group"))
    except RepograderError:
        return None


def load_cached(ctx: GradingContext, group: GroupSpec, key: str | None) -> GroupResult | None:
    """The stored result of an earlier identical grading, if any."""
    if key is None or ctx.force:
        return None
    return load_stored(ctx, group, key)


def store(ctx: GradingContext, group: GroupSpec, result: GroupResult, key: str | None) -> None:
    data: JSONDict = {"cache_key": key, "group": report_results.group_to_json(result)}
    report_results.write_json_atomic(_state_path(ctx, group), data)


@contextmanager
def _fetch_slot(ctx: GradingContext) -> Iterator[None]:
    """One of the STATIC_WORKERS fetch slots; Interrupted when the run stops while waiting."""
    while not ctx.fetch_slots.acquire(timeout=0.5):
        if ctx.cancel.is_set():
            raise Interrupted("interrupted")
    try:
        yield
    finally:
        ctx.fetch_slots.release()


def _make_dir(path: Path) -> None:
    """Create one of our own folders; failing is the machine's problem (full disk, read-only)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InfrastructureError(f"cannot create {path}: {exc.strerror or exc}") from None


def grade_group(group: GroupSpec, ctx: GradingContext) -> GroupResult:
    """Grade one group. Never raises for a student's problem; raises RepograderError for ours."""
    first = fetch_group(group, ctx)
    return first if isinstance(first, GroupResult) else first.finish()


@dataclass(eq=False)
class FetchedGroup:
    """A group past its fetch stage (checked out, offered to the course layer, no cached
    result): :meth:`finish` grades it, :meth:`discard` drops it unfinished. Exactly one of
    the two must be called; either removes the group's work folder."""

    group: GroupSpec
    ctx: GradingContext
    checkout: Checkout
    repo_shown: str
    key: str | None
    fetch_s: float
    started: float
    work: Path

    def finish(self) -> GroupResult:
        """Inspect, build, run and score the checkout; store the result (see grade_group)."""
        group, ctx = self.group, self.ctx
        try:
            result = _grade_checkout(
                group, ctx, self.checkout, self.repo_shown, self.fetch_s, self.started
            )
            result = _with_contributions(result, group, self.checkout)
            # Tried again next time: a group that could not be graded (its sandbox failed) or
            # whose grading met a grader problem.
            trusted = (
                result.status == GroupStatus.GRADED and "grader_problems" not in result.artifacts
            )
            store(ctx, group, result, self.key if trusted else None)
            ctx.progress.done(group.name, result, cached=False)
            return result
        finally:
            self.discard()

    def discard(self) -> None:
        """Release what the group holds: its course-layer share, its sandbox turn, its work."""
        _release(self.group, self.ctx, self.work)


def _release(group: GroupSpec, ctx: GradingContext, work: Path) -> None:
    if ctx.course_layer is not None:
        ctx.course_layer.withdraw(group.name)  # no-op once offered: nobody waits forever
    if ctx.sandbox_slots is not None:
        ctx.sandbox_slots.discharge(group.name)
    fsutil.remove_tree(work)


def fetch_group(group: GroupSpec, ctx: GradingContext) -> GroupResult | FetchedGroup:
    """A group's fetch stage: its final result (fetch error, cached result) or the checkout
    to finish. Offers the group's environment to ``ctx.course_layer``; never waits for it."""
    started = time.monotonic()
    repo_shown = git.describe_source(group.repo)
    work = ctx.cache_dir / "work" / ctx.run_id / group.slug
    fsutil.remove_tree(work)
    _make_dir(work)
    handed_on = False
    try:
        ctx.progress.stage(group.name, "fetch")
        try:
            with _fetch_slot(ctx):
                checkout = git.fetch(
                    group.repo, group.ref, ctx.deadline, work / "checkout", ctx.fetch
                )
        except FetchError as exc:
            if ctx.cancel.is_set():
                # Ctrl-C reaches git too (same process group): not the students' failure.
                raise Interrupted("interrupted") from None
            result = GroupResult(
                name=group.name,
                repo=repo_shown,
                status=GroupStatus.ERROR,
                error=git.redact(str(exc), ctx.fetch.token),
                members=group.members,
                timings=Timings(total_s=round(time.monotonic() - started, 2)),
            )
            # Stored (never as a cache hit) so a later `--only` run still shows this group.
            store(ctx, group, result, None)
            ctx.progress.done(group.name, result, cached=False)
            return result
        fetch_s = time.monotonic() - started
        if ctx.cancel.is_set():
            raise Interrupted("interrupted")
        if ctx.course_layer is not None:
            _offer_layer_inputs(ctx, group, checkout.path)
        key = cache_key(group, checkout.commit, ctx, checkout.lfs_pointers)
        cached = load_cached(ctx, group, key)
        if cached is not None:
            # Recounted: groups.yaml aliases and e-mails may have changed since.
            cached = _with_contributions(cached, group, checkout)
            ctx.progress.done(group.name, cached, cached=True)
            return cached
        handed_on = True
        return FetchedGroup(group, ctx, checkout, repo_shown, key, fetch_s, started, work)
    finally:
        if not handed_on:
            _release(group, ctx, work)


def _with_contributions(result: GroupResult, group: GroupSpec, checkout: Checkout) -> GroupResult:
    """``result`` with who-contributed-what from the graded history (never part of the score)."""
    people = group.people or tuple(Member(name) for name in group.members)
    problems: list[str] = []
    figures = guard(
        lambda: contributions.summarise(checkout.history, people, group.aliases),
        problems,
        "contributions",
    )
    if problems:  # a grader bug in a pure function on student data: noted, the grade stands
        known = result.artifacts.get("grader_problems")
        noted = [*(known if isinstance(known, list) else []), *problems]
        return replace(result, artifacts={**result.artifacts, "grader_problems": noted})
    return replace(result, contributions=figures) if figures else result


def _offer_layer_inputs(ctx: GradingContext, group: GroupSpec, root: Path) -> None:
    """Tell the course layer what this group installs (cached groups too: the layer must not
    depend on which groups happen to be re-graded)."""
    assert ctx.course_layer is not None
    try:
        env = detect.detect_env(root)
    except Exception:  # a detection bug costs this group's share in the layer only
        env = None
    if env is None:
        ctx.course_layer.withdraw(group.name)
        return
    ctx.course_layer.offer(group.name, env.requirements)


def _offer_from_elsewhere(ctx: GradingContext, group: GroupSpec) -> None:
    """Tell the course layer what a group outside this run installs (another shard's, or one
    left out by ``--only``): its files at the graded commit are fetched (no LFS content) and
    read, nothing is graded or stored. A fetch failure withdraws it, as in a whole run."""
    assert ctx.course_layer is not None
    work = ctx.cache_dir / "work" / ctx.run_id / group.slug
    try:
        if ctx.cancel.is_set():
            return
        fsutil.remove_tree(work)
        _make_dir(work)
        with _fetch_slot(ctx):
            checkout = git.fetch(
                group.repo,
                group.ref,
                ctx.deadline,
                work / "checkout",
                replace(ctx.fetch, fetch_lfs=False),
            )
        _offer_layer_inputs(ctx, group, checkout.path)
    except (FetchError, Interrupted):
        pass
    finally:
        ctx.course_layer.withdraw(group.name)  # no-op once offered
        fsutil.remove_tree(work)


def _grade_checkout(
    group: GroupSpec,
    ctx: GradingContext,
    checkout: Checkout,
    repo_shown: str,
    fetch_s: float,
    started: float,
) -> GroupResult:
    """inspect -> StaticEvidence, sandbox -> RunEvidence, judge, assemble the GroupResult."""
    group_dir = ctx.out_dir / "groups" / group.slug
    fsutil.remove_tree(group_dir)
    _make_dir(group_dir)
    static = inspect_checkout(ctx, group, checkout, group_dir)
    try:
        sandboxed = _run_stage(ctx, group, static, checkout)
    except _GroupSandboxFailed as failed:
        # The engine answers again: this group's sandbox failed, the others go on.
        return GroupResult(
            name=group.name,
            repo=repo_shown,
            status=GroupStatus.ERROR,
            error=f"the sandbox failed while grading this group: {failed.cause}"[:500],
            commit=checkout.commit,
            commit_date=checkout.commit_date,
            late_commits=checkout.late_commits,
            members=group.members,
            timings=Timings(total_s=round(time.monotonic() - started, 2)),
        )
    ctx.progress.stage(group.name, "score")
    evidence, artifacts = _evidence(ctx, checkout, static, sandboxed, group_dir)
    checks = score(ctx.rubric, evidence)
    group_score, group_max = total(checks)
    return GroupResult(
        name=group.name,
        repo=repo_shown,
        status=GroupStatus.GRADED,
        commit=checkout.commit,
        commit_date=checkout.commit_date,
        late_commits=checkout.late_commits,
        score=group_score,
        max_score=group_max,
        checks=checks,
        steps=evidence.steps or (),
        timings=Timings(
            fetch_s=round(fetch_s, 2),
            build_s=round(sandboxed.build_s, 2),
            run_s=round(sandboxed.run_s, 2),
            total_s=round(time.monotonic() - started, 2),
        ),
        members=group.members,
        artifacts=artifacts,
    )


class _GroupSandboxFailed(Exception):
    """The sandbox failed for this group while the engine still answers: the group's error."""

    def __init__(self, cause: InfrastructureError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _run_stage(
    ctx: GradingContext, group: GroupSpec, static: StaticEvidence, checkout: Checkout
) -> RunEvidence:
    """The sandbox stage when the rubric and the options call for it, else why it did not run.

    Raises _GroupSandboxFailed when only this group's sandbox failed; InfrastructureError when
    the engine is gone (the run stops); Interrupted when the run is stopping.
    """
    env = static.env
    wants_build = any(c.stage in ("build", "run") for c in ctx.rubric.checks)
    if ctx.sandbox is not None and not ctx.static_only and wants_build and env is not None:
        try:
            return sandbox_stage(ctx, group, env, static, checkout)
        except InfrastructureError as exc:
            if ctx.cancel.is_set():
                raise Interrupted("interrupted") from None
            if not sandbox_alive(ctx.sandbox):
                # The engine is really gone: the run stops (and writes its report).
                if ctx.sandbox_slots is not None:
                    ctx.sandbox_slots.cancel()
                raise
            raise _GroupSandboxFailed(exc) from exc
    if ctx.sandbox is None and not ctx.static_only:
        return RunEvidence(not_run="not run: no sandbox available")
    if env is None and not ctx.static_only and wants_build:
        # Detection itself failed (a grader bug, in grader_problems): nothing was built, but
        # not by choice, so these checks must not quietly leave the total as "not run".
        return RunEvidence(
            not_run="not run: the grader could not read the environment files (grader problem)"
        )
    return RunEvidence()


def _evidence(
    ctx: GradingContext,
    checkout: Checkout,
    static: StaticEvidence,
    sandboxed: RunEvidence,
    group_dir: Path,
) -> tuple[Evidence, JSONDict]:
    """What the checks judge, and the group page's sections (logs, notebooks, problems)."""
    problems, artifacts = list(static.problems), dict(static.artifacts)
    env = static.env
    build, steps, nb_report = sandboxed.build, sandboxed.steps, sandboxed.notebooks
    log_path = build.log_path if build is not None else None
    if log_path is not None and log_path.is_relative_to(ctx.out_dir):
        artifacts["logs"] = {"build log": log_path.relative_to(ctx.out_dir).as_posix()}

    if steps is not None and env is not None:
        # a crash here keeps the steps as they ran (noted among the grader problems)
        covered, found = steps, env
        steps = (
            guard(lambda: envchain.mark_uncovered(covered, found), problems, "environment coverage")
            or steps
        )
    if nb_report is None and not static.notebooks_found:
        # No notebooks is known without running anything: not applicable, even with --static.
        nb_report = notebooks.NotebookReport()
    elif nb_report is not None:
        prefix = (group_dir / "notebooks").relative_to(ctx.out_dir).as_posix() + "/"
        artifacts["notebooks"] = notebooks.report_artifacts(nb_report, prefix)
    if problems:
        artifacts["grader_problems"] = list(problems)
    evidence = Evidence(
        checkout=checkout,
        readme=static.readme,
        env=env,
        comments=static.comments,
        paper=static.paper,
        build=build,
        steps=steps,
        notebooks=nb_report,
        not_run_reason=sandboxed.not_run,
        project_install=sandboxed.project_install,
        # A failed build is the students'; no build by our choice (--static, no sandbox) is
        # "not run"; no build because of a grader problem is neither (skip, 0 points, shown).
        grader_skipped_run=build is None
        and (env is not None or ctx.static_only or ctx.sandbox is None),
    )
    return evidence, artifacts


@contextmanager
def _interruptible(ctx: GradingContext) -> Iterator[None]:
    """On Ctrl-C or an infrastructure error, stop the workers and remove every container."""
    try:
        yield
    except BaseException as exc:
        ctx.cancel.set()
        if ctx.sandbox_slots is not None:
            ctx.sandbox_slots.cancel()
        if ctx.sandbox is not None:
            ctx.sandbox.close()
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
    groups finished before that were stored and handed to ``ctx.progress.done``.
    """
    started_at = ctx.clock()
    _make_dir(ctx.out_dir / "groups")
    results: dict[str, GroupResult] = {}
    ctx.progress.begin([g.name for g in groups])
    lock = threading.Lock()

    def record(result: GroupResult) -> GroupResult:
        with lock:
            results[result.name] = result
        return result

    def fetch(group: GroupSpec) -> GroupResult | FetchedGroup:
        first = fetch_group(group, ctx)
        if isinstance(first, GroupResult):
            return record(first)
        if ctx.course_layer is None:
            return finish(first)  # nothing to wait for: grade on in the same task
        if ctx.cancel.is_set():
            first.discard()  # the run stopped while this group fetched: nobody will finish it
            raise Interrupted("interrupted")
        return first

    def finish(fetched: FetchedGroup) -> GroupResult:
        return record(fetched.finish())

    # More workers than sandbox slots: fetching and static checks (cheap, mostly I/O) never
    # wait behind another group's slow build.
    ctx = replace(ctx, sandbox_slots=SandboxSlots(jobs, [g.name for g in groups], ctx.cancel))
    workers = min(max(len(groups), 1), max(jobs, STATIC_WORKERS))
    layer = course_layer(ctx, groups, config.groups)
    # The groups of the course outside this run still count for the layer (shards agree).
    selected = {g.name for g in groups}
    elsewhere = [g for g in config.groups if layer is not None and g.name not in selected]
    if layer is not None:
        ctx = replace(ctx, course_layer=layer)
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
        with _interruptible(ctx):
            futures = [pool.submit(fetch, g) for g in groups]
            position = {future: i for i, future in enumerate(futures)}
            futures += [pool.submit(_offer_from_elsewhere, ctx, g) for g in elsewhere]
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
                    if isinstance(exc, Interrupted) and ctx.cancel.is_set():
                        # A group stopped because another one failed: report the cause.
                        knock_on = knock_on or exc
                        continue
                    raise exc  # infrastructure errors and Ctrl-C stop the run
            if knock_on is not None:
                raise knock_on
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        if ctx.cancel.is_set():
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
        ctx.progress.end()
    ordered = tuple(results[g.name] for g in groups if g.name in results)
    return _run_result(config, ctx, started_at, ordered)


def course_layer(
    ctx: GradingContext,
    groups: Sequence[GroupSpec],
    course: Sequence[GroupSpec] = (),
) -> layerplan.CourseLayer | None:
    """The collector of the inferred shared layer; None when the rubric declares a layer or
    says ``environment: none``, or the sandbox cannot layer (static runs, local backend).

    When only some of the ``course``'s groups are graded (``--only``, a shard) and an earlier
    run left ``shared-layer.json`` in the output folder, that layer is adopted at once (None is
    returned): re-grading one group must not rebuild its environment on another parent.
    Otherwise the collector expects every group of the course (``grade_all`` offers the ones
    outside this run), so the layer is a function of the course's data: shards of one course
    agree with each other and with an unsharded run.
    """
    sandbox = ctx.sandbox
    adopt = getattr(sandbox, "use_inferred_layer", None)
    if (
        sandbox is None
        or ctx.static_only
        or adopt is None
        or not ctx.rubric.infer_layer
        or getattr(sandbox, "layer_declared", False)
        or not any(c.stage in ("build", "run") for c in ctx.rubric.checks)
    ):
        return None
    tooling = notebooks.NOTEBOOK_TOOLING if _check(ctx.rubric, notebooks_check.ID) else ()
    out_dir = ctx.out_dir
    selected = {g.name for g in groups}
    if selected < {g.name for g in course}:
        stored = _stored_layer(out_dir / "shared-layer.json")
        if stored is not None:
            adopt(*stored)
            return None

    def ready(choice: layerplan.LayerChoice) -> None:
        tag = adopt(choice.requirements, (), choice.warmup)
        data = {**choice.to_json(), "image": tag}
        report_results.write_json_atomic(out_dir / "shared-layer.json", data)

    return layerplan.CourseLayer(
        [g.name for g in (*groups, *(g for g in course if g.name not in selected))],
        ready,
        min_share=ctx.rubric.layer_min_share,
        min_groups=ctx.rubric.layer_min_groups,
        extra=tooling,
    )


def _stored_layer(path: Path) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None:
    """(requirements, apt, warm-ups) of an earlier run's inferred layer; None if unreadable."""
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
    return tuple(reqs), (), tuple(warm)


def _run_result(
    config: CourseConfig, ctx: GradingContext, started_at: datetime, groups: Sequence[GroupResult]
) -> RunResult:
    return RunResult(
        tool=ToolInfo("repograder", __version__),
        course=config.course,
        deadline=config.deadline.isoformat() if config.deadline else None,
        rubric=RubricInfo(ctx.rubric.name, ctx.rubric.sha256),
        started_at=started_at.isoformat(),
        finished_at=ctx.clock().isoformat(),
        groups=tuple(groups),
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
    """A Progress that records every finished group before passing the news on."""

    def __init__(self, inner: Progress) -> None:
        self.inner = inner
        self.results: dict[str, GroupResult] = {}
        self._lock = threading.Lock()

    def begin(self, groups: Sequence[str]) -> None:
        self.inner.begin(groups)

    def stage(self, group: str, stage: str) -> None:
        self.inner.stage(group, stage)

    def done(self, group: str, result: GroupResult, cached: bool) -> None:
        with self._lock:
            self.results[group] = result
        self.inner.done(group, result, cached)

    def end(self) -> None:
        self.inner.end()
