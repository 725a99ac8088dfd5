"""The stages of grading one checked-out group, with typed hand-offs.

``inspect_checkout`` (static facts, no student code runs) -> :class:`StaticEvidence`;
``sandbox_stage`` (build, then README steps and notebooks in one session) -> :class:`RunEvidence`;
:mod:`repograder.pipeline` then judges (``rubric.score`` over ``checks.base.Evidence``) and
assembles the :class:`~repograder.model.GroupResult`. The pipeline wires the stages and owns
the effects (result store, threads, Ctrl-C); a grader bug inside an inspection costs that piece
of evidence only (``guard``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import repograder.checks.comments as comments_check
import repograder.checks.notebooks as notebooks_check
import repograder.checks.paper_pages as paper_pages_check
import repograder.checks.readme as readme_check
import repograder.checks.readme_steps as readme_steps_check
from repograder import comments, detect, envchain, fsutil, notebooks, paper, readme, runner
from repograder.config import CheckSpec, GroupSpec, Rubric
from repograder.errors import InfrastructureError, Interrupted, RepograderError
from repograder.facts import (
    BuildResult,
    CommentFacts,
    EnvSpec,
    NotebookReport,
    PaperFacts,
    ReadmeFacts,
)
from repograder.model import Checkout, JSONDict, Params, StepResult
from repograder.sandbox.base import Sandbox

if TYPE_CHECKING:
    from repograder.context import GradingContext, GradingPlan, Progress

T = TypeVar("T")


class SandboxSlots:
    """At most ``n`` groups build or run at once, admitted in the groups' order.

    More workers than slots fetch and inspect ahead, so static checks never wait behind a slow
    build; admitting in groups.yaml order keeps runs (and their logs) deterministic. A group
    that needs no sandbox (fetch error, reused result, static run) is ``discharge``d so the
    ones after it do not wait for it.
    """

    def __init__(self, n: int, order: Sequence[str], cancel: threading.Event) -> None:
        self._free = max(1, n)
        self._queue = list(order)
        self._cond = threading.Condition()
        self._cancel = cancel  # the run's: set here when a build or run fails, or on Ctrl-C

    @contextmanager
    def slot(self, name: str) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: self._cancel.is_set() or self._turn(name))
            if self._cancel.is_set():
                raise Interrupted("interrupted")
            if name in self._queue:
                self._queue.remove(name)
                # The next group in line may have checked its turn while this one was still
                # first: wake it, or a free slot idles until some group finishes.
                self._cond.notify_all()
            self._free -= 1
        try:
            yield
        except InfrastructureError:
            raise  # the caller asks the engine whether this was the group's fault or its own
        except BaseException:
            # Student failures are data: anything else escaping a build or run stops the run,
            # so nobody waiting may start a container now.
            self.cancel()
            raise
        finally:
            with self._cond:
                self._free += 1
                self._cond.notify_all()

    def _turn(self, name: str) -> bool:
        # A name the queue never held (a direct caller) only needs a free slot.
        return self._free > 0 and (name not in self._queue or self._queue[0] == name)

    def discharge(self, name: str) -> None:
        with self._cond:
            if name in self._queue:
                self._queue.remove(name)
                self._cond.notify_all()

    def cancel(self) -> None:
        with self._cond:
            self._cancel.set()
            self._cond.notify_all()


def rubric_check(rubric: Rubric, check_id: str) -> CheckSpec | None:
    """The rubric's entry for ``check_id``; None when the rubric does not use that check."""
    return next((c for c in rubric.checks if c.id == check_id), None)


def rubric_params(rubric: Rubric, check_id: str) -> Params:
    """The rubric's parameters of ``check_id`` (empty when the check is not in the rubric)."""
    spec = rubric_check(rubric, check_id)
    return Params(spec.params if spec else {}, where=f"rubric checks[{check_id}].params")


def guard(fn: Callable[[], T], problems: list[str], what: str) -> T | None:
    """Run one inspection; a grader bug there costs that evidence only (its checks say error)."""
    try:
        return fn()
    except RepograderError:
        raise
    except Exception as exc:
        problems.append(f"{what}: {type(exc).__name__}: {exc}"[:300])
        return None


@dataclass(frozen=True)
class StaticEvidence:
    """What inspection hands on: static facts (None: the grader failed to gather them, named in
    ``problems``), the notebooks found, and the group page's sections so far."""

    readme: ReadmeFacts | None
    env: EnvSpec | None
    comments: CommentFacts | None
    paper: PaperFacts | None
    notebooks_found: tuple[str, ...]
    problems: tuple[str, ...] = ()
    artifacts: JSONDict = field(default_factory=dict)


def inspect_checkout(
    plan: GradingPlan, progress: Progress, group: GroupSpec, checkout: Checkout, group_dir: Path
) -> StaticEvidence:
    """Static facts of the checkout; thumbnails of the paper go to ``group_dir / "paper"``."""
    root = checkout.path
    problems: list[str] = []
    artifacts: JSONDict = {}
    progress.stage(group.name, "inspect")
    readme_facts = guard(lambda: readme.inspect_readme(root), problems, readme_check.ID)
    env = guard(lambda: detect.detect_env(root), problems, "environment detection")
    if env is not None and readme_facts is not None:
        # issue 13: the environment is what the README's set-up sequence installs
        detected, steps_seen = env, readme_facts.steps
        env = (
            guard(
                lambda: envchain.follow_readme_steps(root, detected, steps_seen),
                problems,
                "README set-up files",
            )
            or detected
        )
    comment_facts = guard(lambda: comments.measure_comments(root), problems, comments_check.ID)
    paper_params = rubric_params(plan.rubric, paper_pages_check.ID)
    globs = paper_params.get_str_list("globs", []) or None
    paper_facts = guard(
        lambda: paper.inspect_paper(root, globs, lfs_pointers=checkout.lfs_pointers),
        problems,
        "paper",
    )
    if paper_facts is not None:
        thumbs = guard(
            lambda: paper.render_thumbnails(root, paper_facts, group_dir / "paper"),
            problems,
            "paper thumbnails",
        )
        if thumbs:
            artifacts["paper"] = {
                "thumbnails": [p.relative_to(plan.out_dir).as_posix() for p in thumbs]
            }
    owned_notebooks = (
        guard(lambda: notebooks.find_notebooks(root), problems, notebooks_check.ID) or ()
    )

    return StaticEvidence(
        readme=readme_facts,
        env=env,
        comments=comment_facts,
        paper=paper_facts,
        notebooks_found=tuple(owned_notebooks),
        problems=tuple(problems),
        artifacts=artifacts,
    )


@dataclass(frozen=True)
class RunEvidence:
    """What the sandbox stage hands to judging; the defaults say it did not run."""

    build: BuildResult | None = None
    steps: tuple[StepResult, ...] | None = None
    notebooks: NotebookReport | None = None
    not_run: str = "not run: static checks only (--static)"
    build_s: float = 0.0
    run_s: float = 0.0
    project_install: str | None = None  # why the project's own install failed, if it did


def sandbox_alive(sandbox: Sandbox) -> bool:
    """Whether the backend still works after one group's fault.

    Backends that cannot tell (no ``alive()``) are taken to be gone: their fault stops the run.
    """
    alive = getattr(sandbox, "alive", None)
    return False if alive is None else bool(alive())


def sandbox_stage(
    ctx: GradingContext,
    group: GroupSpec,
    env: EnvSpec,
    static: StaticEvidence,
    checkout: Checkout,
) -> RunEvidence:
    """Build the group's environment, then run its README steps and notebooks.

    Raises InfrastructureError when the sandbox fails (the caller decides whether that is this
    group's problem or the engine's), Interrupted when the run is stopping.
    """
    plan, progress, control, sandbox = (
        ctx.plan,
        ctx.effects.progress,
        ctx.control,
        ctx.effects.sandbox,
    )
    assert sandbox is not None
    root, owned_notebooks = checkout.path, static.notebooks_found
    group_dir = plan.out_dir / "groups" / group.slug
    layer_note = ""
    if control.course_layer is not None:
        progress.stage(group.name, "waiting for the other groups (shared layer)")
        choice = control.course_layer.wait(control.cancel)
        if choice is None:
            raise Interrupted("interrupted")
        layer_note = choice.group_note(group.name)
    progress.stage(group.name, "waiting for a sandbox")
    # Only `jobs` groups build or run at once; the others' fetch and static checks go on.
    slots = control.sandbox_slots or SandboxSlots(1, [group.name], control.cancel)
    with slots.slot(group.name):
        if control.cancel.is_set():
            raise Interrupted("interrupted")
        progress.stage(group.name, "build")
        spec = env
        if owned_notebooks and rubric_check(plan.rubric, notebooks_check.ID):
            spec = replace(spec, requirements=(*spec.requirements, *notebooks.NOTEBOOK_TOOLING))
        t = time.monotonic()
        build = sandbox.prepare(spec, root, group_dir / "logs")
        build_s = time.monotonic() - t
        if layer_note:
            build = replace(build, notes=(*build.notes, layer_note))
        if not build.ok:
            return RunEvidence(
                build, not_run="not run: the environment did not build", build_s=build_s
            )
        t = time.monotonic()
        steps, nb_report, project_install = _run_in_sandbox(
            plan,
            sandbox,
            progress,
            group,
            build,
            root,
            static.readme,
            owned_notebooks,
            group_dir,
            checkout.lfs_pointers,
        )
        run_s = time.monotonic() - t
        if control.cancel.is_set():
            # The run stopped while this group was in the sandbox: its containers were
            # removed under its feet, so its result is not trustworthy and is not stored.
            raise Interrupted("interrupted")
    return RunEvidence(build, steps, nb_report, "", build_s, run_s, project_install)


def _run_in_sandbox(
    plan: GradingPlan,
    sandbox: Sandbox,
    progress: Progress,
    group: GroupSpec,
    build: BuildResult,
    root: Path,
    readme_facts: ReadmeFacts | None,
    owned_notebooks: Sequence[str],
    group_dir: Path,
    lfs_pointers: Sequence[str] = (),
) -> tuple[tuple[StepResult, ...] | None, NotebookReport | None, str | None]:
    """Steps, notebooks, and why the project's own install failed in the session (or None)."""
    steps_params = rubric_params(plan.rubric, readme_steps_check.ID)
    options = runner.RunOptions(
        default_timeout_s=plan.limits.timeout_s,
        stop_on_failure=steps_params.get_bool("stop_on_failure", False),
        on_timeout=steps_params.get_str("on_timeout", "warn"),
        total_budget_s=steps_params.get_float("total_budget_s", 3600.0),
        network=plan.limits.network,
        memory_mb=plan.limits.memory_mb,
        repo_files=frozenset(fsutil.walk_files(root, skip_vendored=False)),
        lfs_pointers=frozenset(lfs_pointers),
    )
    session = sandbox.open_session(build, root, plan.limits)
    try:
        steps: tuple[StepResult, ...] | None = None
        install_failure = runner.project_install_failure(session)
        if rubric_check(plan.rubric, readme_steps_check.ID) and readme_facts is not None:
            progress.stage(group.name, "steps")
            steps = runner.run_steps(session, readme_facts.steps, options)
            steps = runner.blame_project_install(steps, install_failure)
        nb_report = None
        if rubric_check(plan.rubric, notebooks_check.ID):
            progress.stage(group.name, "notebooks")
            # From the checkout's root whatever the steps' `cd`: run_helper's working folder.
            nb_report = notebooks.run_notebooks(
                session,
                owned_notebooks,
                rubric_params(plan.rubric, notebooks_check.ID),
                group_dir / "notebooks",
                checkout=root,
            )
        return steps, nb_report, install_failure
    finally:
        session.close()
