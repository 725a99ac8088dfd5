"""One group's grading: fetch -> inspect -> build -> run -> score, with typed hand-offs.

``stages.inspect_checkout`` -> ``StaticEvidence``, ``stages.sandbox_stage`` -> ``RunEvidence``,
then ``_evidence`` joins them into the checks' ``Evidence``, ``rubric.score`` judges, and
``_grade_checkout`` assembles the ``GroupResult``. Student failures become results;
infrastructure failures raise. :mod:`repograder.pipeline` schedules many groups.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from repograder import (
    contributions,
    detect,
    envchain,
    fsutil,
    git,
    notebooks,
)
from repograder.config import GroupSpec, Member
from repograder.context import GradingContext, GradingPlan, RunControl
from repograder.errors import FetchError, InfrastructureError, Interrupted
from repograder.layerplan import CourseLayer
from repograder.model import (
    Checkout,
    GroupResult,
    GroupStatus,
    JSONDict,
    Timings,
)
from repograder.resultstore import cache_key
from repograder.rubric import Evidence, score, total
from repograder.stages import (
    RunEvidence,
    StaticEvidence,
    guard,
    inspect_checkout,
    sandbox_alive,
    sandbox_stage,
)


@contextmanager
def _fetch_slot(control: RunControl) -> Iterator[None]:
    """One of the STATIC_WORKERS fetch slots; Interrupted when the run stops while waiting."""
    while not control.fetch_slots.acquire(timeout=0.5):
        if control.cancel.is_set():
            raise Interrupted("interrupted")
    try:
        yield
    finally:
        control.fetch_slots.release()


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
            ctx.effects.results.store(group, result, self.key if trusted else None)
            ctx.effects.progress.done(group.name, result, cached=False)
            return result
        finally:
            self.discard()

    def discard(self) -> None:
        """Release what the group holds: its course-layer share, its sandbox turn, its work."""
        _release(self.group, self.ctx.control, self.work)


def _release(group: GroupSpec, control: RunControl, work: Path) -> None:
    if control.course_layer is not None:
        control.course_layer.withdraw(group.name)  # no-op once offered: nobody waits forever
    if control.sandbox_slots is not None:
        control.sandbox_slots.discharge(group.name)
    fsutil.remove_tree(work)


def fetch_group(group: GroupSpec, ctx: GradingContext) -> GroupResult | FetchedGroup:
    """A group's fetch stage: its final result (fetch error, cached result) or the checkout
    to finish. Offers the group's environment to ``ctx.control.course_layer``; never waits."""
    plan, effects, control = ctx.plan, ctx.effects, ctx.control
    started = time.monotonic()
    repo_shown = git.describe_source(group.repo)
    work = plan.cache_dir / "work" / plan.run_id / group.slug
    fsutil.remove_tree(work)
    _make_dir(work)
    handed_on = False
    try:
        effects.progress.stage(group.name, "fetch")
        try:
            with _fetch_slot(control):
                checkout = git.fetch(
                    group.repo, group.ref, plan.deadline, work / "checkout", plan.fetch
                )
        except FetchError as exc:
            if control.cancel.is_set():
                # Ctrl-C reaches git too (same process group): not the students' failure.
                raise Interrupted("interrupted") from None
            result = GroupResult(
                name=group.name,
                repo=repo_shown,
                status=GroupStatus.ERROR,
                error=git.redact(str(exc), plan.fetch.token),
                members=group.members,
                timings=Timings(total_s=round(time.monotonic() - started, 2)),
            )
            # Stored (never as a cache hit) so a later `--only` run still shows this group.
            effects.results.store(group, result, None)
            effects.progress.done(group.name, result, cached=False)
            return result
        fetch_s = time.monotonic() - started
        if control.cancel.is_set():
            raise Interrupted("interrupted")
        if control.course_layer is not None:
            _offer_layer_inputs(control.course_layer, group, checkout.path)
        key = cache_key(group, checkout.commit, ctx, checkout.lfs_pointers)
        cached = None if plan.force else effects.results.load_cached(group, key)
        if cached is not None:
            # Recounted: groups.yaml aliases and e-mails may have changed since.
            cached = _with_contributions(cached, group, checkout)
            effects.progress.done(group.name, cached, cached=True)
            return cached
        if ctx.builds:
            # This group will build: the shared layer, if any, need not wait for its inspection.
            # Before handing on: if starting it fails, this group's turn and work are released.
            start_layer = getattr(effects.sandbox, "start_layer", None)
            if start_layer is not None:
                start_layer()
        handed_on = True
        return FetchedGroup(group, ctx, checkout, repo_shown, key, fetch_s, started, work)
    finally:
        if not handed_on:
            _release(group, control, work)


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


def _offer_layer_inputs(layer: CourseLayer, group: GroupSpec, root: Path) -> None:
    """Tell the course layer what this group installs (cached groups too: the layer must not
    depend on which groups happen to be re-graded)."""
    try:
        env = detect.detect_env(root)
    except Exception:  # a detection bug costs this group's share in the layer only
        env = None
    if env is None:
        layer.withdraw(group.name)
        return
    layer.offer(group.name, env.requirements)


def _offer_from_elsewhere(plan: GradingPlan, control: RunControl, group: GroupSpec) -> None:
    """Tell the course layer what a group outside this run installs (another shard's, or one
    left out by ``--only``): its files at the graded commit are fetched (no LFS content) and
    read, nothing is graded or stored. A fetch failure withdraws it, as in a whole run."""
    layer = control.course_layer
    assert layer is not None
    work = plan.cache_dir / "work" / plan.run_id / group.slug
    try:
        if control.cancel.is_set():
            return
        fsutil.remove_tree(work)
        _make_dir(work)
        with _fetch_slot(control):
            checkout = git.fetch(
                group.repo,
                group.ref,
                plan.deadline,
                work / "checkout",
                replace(plan.fetch, fetch_lfs=False),
            )
        _offer_layer_inputs(layer, group, checkout.path)
    except (FetchError, Interrupted):
        pass
    finally:
        layer.withdraw(group.name)  # no-op once offered
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
    group_dir = ctx.plan.out_dir / "groups" / group.slug
    fsutil.remove_tree(group_dir)
    _make_dir(group_dir)
    static = inspect_checkout(ctx.plan, ctx.effects.progress, group, checkout, group_dir)
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
    ctx.effects.progress.stage(group.name, "score")
    evidence, artifacts = _evidence(ctx, checkout, static, sandboxed, group_dir)
    checks = score(ctx.plan.rubric, evidence)
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
    env, sandbox, static_only = static.env, ctx.effects.sandbox, ctx.plan.static_only
    wants_build = any(c.stage in ("build", "run") for c in ctx.plan.rubric.checks)
    if sandbox is not None and ctx.builds and env is not None:
        try:
            return sandbox_stage(ctx, group, env, static, checkout)
        except InfrastructureError as exc:
            if ctx.control.cancel.is_set():
                raise Interrupted("interrupted") from None
            if not sandbox_alive(sandbox):
                # The engine is really gone: the run stops (and writes its report).
                if ctx.control.sandbox_slots is not None:
                    ctx.control.sandbox_slots.cancel()
                raise
            raise _GroupSandboxFailed(exc) from exc
    if sandbox is None and not static_only:
        return RunEvidence(not_run="not run: no sandbox available")
    if env is None and not static_only and wants_build:
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
    out_dir = ctx.plan.out_dir
    if log_path is not None and log_path.is_relative_to(out_dir):
        artifacts["logs"] = {"build log": log_path.relative_to(out_dir).as_posix()}

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
        prefix = (group_dir / "notebooks").relative_to(out_dir).as_posix() + "/"
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
        and (env is not None or ctx.plan.static_only or ctx.effects.sandbox is None),
    )
    return evidence, artifacts
