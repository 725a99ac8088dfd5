"""``repograder run`` and ``snapshot``: the sandbox and limits of a run, the groups it grades,
its exit code, and the Ctrl-C/SIGTERM handling that keeps the report whole.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypedDict

from repograder import git
from repograder.checks import env_build
from repograder.cli.common import (
    TEMPLATE_CACHE,
    _err,
    _say,
    cache_dir,
    overrides_path,
    with_overrides,
)
from repograder.config import (
    CourseConfig,
    GroupSpec,
    Rubric,
    load_groups,
    load_rubric,
    parse_duration,
)
from repograder.errors import (
    ConfigError,
    ExitCode,
    InfrastructureError,
    Interrupted,
    RepograderError,
    SandboxUnavailable,
)
from repograder.feedback import write_feedback
from repograder.model import NOT_GRADED, GroupResult, GroupStatus, Params, RunResult
from repograder.pipeline import (
    NOT_GRADED_YET,
    FinishedGroups,
    GradingContext,
    NoProgress,
    grade_all,
    not_graded,
    partial_run,
)
from repograder.progress import make_progress
from repograder.sandbox.base import BUILD_MEMORY_MB, Limits, Sandbox

SANDBOXES = ("docker", "local", "auto")


def make_sandbox(kind: str, run_id: str, cache: Path, rubric: Rubric) -> Sandbox:
    """The chosen backend; ``auto`` falls back to the local one and says so plainly.

    The rubric gives the build timeout and the shared environment layer (docker only).
    """
    if kind in ("docker", "auto"):
        from repograder.sandbox import docker as docker_backend

        ok, why = docker_backend.docker_available()
        if ok and not docker_backend.base_image_available():
            ok, why = False, "the sandbox base image is missing: run `repograder sandbox build`"
        if ok:
            return docker_backend.DockerSandbox(
                run_id,
                cache,
                build_timeout_s=rubric.limits.build_timeout_s or 1800.0,
                log=_err,
                relax_pins=relax_pins(rubric),
                **layer_options(rubric),
            )
        if kind == "docker":
            raise SandboxUnavailable(
                f"{why}\n  start a Docker engine (e.g. `sudo dockerd &`), then "
                "`repograder sandbox build`; or grade without isolation: --sandbox local"
            )
        _err(f"Docker sandbox unavailable ({why}); falling back to the LOCAL backend.")
    from repograder.sandbox import local

    _err(f"WARNING: {local.LOCAL_BACKEND_WARNING}")
    return local.LocalSandbox(cache, run_id, log=_err)


def relax_pins(rubric: Rubric) -> bool:
    """The rubric's ``env-build`` param ``relax_pins`` (default on): retry a build whose exact
    pins have no installable version, with those pins moved to the nearest one."""
    for spec in rubric.checks:
        if spec.id == env_build.ID:
            return Params(spec.params, where=f"rubric checks[{env_build.ID}].params").get_bool(
                "relax_pins", True
            )
    return True


class LayerOptions(TypedDict, total=False):
    """``DockerSandbox``'s shared-layer keyword arguments (see :func:`layer_options`)."""

    common: tuple[str, ...]
    common_apt: tuple[str, ...]
    warmup: tuple[str, ...]
    inferred_apt: tuple[str, ...]
    inferred_warmup: tuple[str, ...]


def layer_options(rubric: Rubric) -> LayerOptions:
    """The shared layer's keyword arguments for ``DockerSandbox``.

    A rubric that names the layer's packages (``environment: common:``) declares it: those,
    the notebook tooling every notebook group needs, its ``apt`` and ``warmup``. Without
    ``common`` the layer is inferred from the course and the rubric's ``apt`` and ``warmup``
    are added to it (``inferred_apt``, ``inferred_warmup``): following the grader's advice to
    add a system library must not turn the inferred layer off. With inference off
    (``environment: infer: false``) they form a declared layer of their own, as before.
    """
    from repograder.checks import notebooks as notebooks_check
    from repograder.notebooks import NOTEBOOK_TOOLING

    apt, warmup = rubric.common_apt, rubric.common_warmup
    if not rubric.common_requirements and rubric.infer_layer:
        return {"inferred_apt": apt, "inferred_warmup": warmup}
    if not rubric.common_requirements and not apt:
        return {}
    tooling = NOTEBOOK_TOOLING if any(c.id == notebooks_check.ID for c in rubric.checks) else ()
    return {
        "common": (*rubric.common_requirements, *tooling),
        "common_apt": apt,
        "warmup": warmup,
    }


def _limits(rubric: Rubric, args: argparse.Namespace) -> Limits:
    base = Limits()
    lim = rubric.limits
    return Limits(
        memory_mb=args.memory_mb or lim.memory_mb or base.memory_mb,
        cpus=args.cpus or lim.cpus or base.cpus,
        pids=lim.pids or base.pids,
        timeout_s=(
            parse_duration(args.step_timeout)
            if args.step_timeout
            else lim.step_timeout_s or base.timeout_s
        ),
        output_bytes=lim.output_bytes or base.output_bytes,
        disk_mb=lim.disk_mb or base.disk_mb,
        network=args.network if args.network is not None else bool(lim.network),
    )


def _select(config: CourseConfig, only: Sequence[str] | None) -> tuple[GroupSpec, ...]:
    if not only:
        return config.groups
    names = {g.name for g in config.groups}
    unknown = [n for n in only if n not in names]
    if unknown:
        raise ConfigError(
            f"--only: no group named {', '.join(map(repr, unknown))} in {config.path}"
        )
    return tuple(g for g in config.groups if g.name in set(only))


def _exit_code(graded: Sequence[GroupResult]) -> int:
    """1 when a group graded in this run could not be graded (groups kept from earlier runs
    do not count), else 0."""
    if any(g.status == GroupStatus.ERROR for g in graded):
        return ExitCode.GROUP_ERRORS
    return ExitCode.OK


def cmd_run(args: argparse.Namespace) -> int:
    config = load_groups(Path(args.groups))
    rubric = load_rubric(Path(args.rubric) if args.rubric else config.rubric_path)
    # A broken overrides file must stop us before hours of grading, not after.
    from repograder.overrides import load_overrides

    load_overrides(overrides_path(config, args.overrides), config, rubric)
    groups = _select(config, args.only)
    if args.shard:
        from repograder import shard

        groups = shard.select_shard(groups, shard.parse_shard(args.shard))
    unfetched: tuple[GroupResult, ...] = ()
    course = config  # its groups decide an inferred shared layer, also for a shard
    if args.snapshot:
        from repograder import snapshot

        snap = snapshot.read_snapshot(Path(args.snapshot))
        plan = snapshot.apply_snapshot(snap, groups, config.groups)
        groups, unfetched = plan.pinned, plan.unfetched
        # Every group at its snapshot commit, so shards decide the layer from the same data.
        pinned = snapshot.apply_snapshot(snap, config.groups).pinned
        course = dataclasses.replace(config, groups=tuple(pinned))
    out_dir = Path(args.out) if args.out else config.path.resolve().parent / "grading-report"
    cache = cache_dir()
    run_id = uuid.uuid4().hex[:12]
    limits = _limits(rubric, args)
    sandbox = None
    if not args.static:
        sandbox = make_sandbox(args.sandbox, run_id, cache, rubric)
    jobs = args.jobs or default_jobs(limits)
    recorder = FinishedGroups(NoProgress() if args.quiet else make_progress())
    ctx = GradingContext.build(
        rubric=rubric,
        out_dir=out_dir.resolve(),
        cache_dir=cache,
        fetch=git.FetchOptions(cache_dir=cache / "mirrors", token=git.token_from_env()),
        # A snapshot is the deadline: its commits were recorded by our clock, not theirs.
        deadline=None if args.snapshot else config.deadline,
        sandbox=sandbox,
        limits=limits,
        static_only=args.static,
        force=args.force,
        run_id=run_id,
        progress=recorder,
    )
    started_at = ctx.effects.clock()
    stopped: RepograderError | None = None
    run: RunResult | None = None
    # Ctrl-C and SIGTERM (a cancelled CI job, `timeout`, `kill`) stop the run; the ones after
    # the first wait until the report of what was done is written. Where the first one found
    # the run is noted at once: groups past their sandbox work still finish after it.
    running_at_stop: dict[str, str] = {}
    with _stop_signals(lambda: running_at_stop.update(recorder.unfinished())):
        try:
            run = grade_all(course, groups, ctx, jobs=jobs)
        except (InfrastructureError, Interrupted) as exc:
            stopped = exc  # the report is written all the same
        except KeyboardInterrupt:  # a Ctrl-C just before or after the workers ran
            stopped = Interrupted(
                "interrupted: finished groups are saved; run the same command again to resume"
            )
        except BaseException:
            if sandbox is not None:
                sandbox.close()
            raise
        finally:
            _defer_stop_signals()
        if sandbox is not None:
            sandbox.close()
        if run is None:
            reason = f"{NOT_GRADED}: {stopped}"
            run = partial_run(config, groups, ctx, started_at, recorder.results, reason)
        fresh = (*unfetched, *run.groups)  # what this run was asked to grade
        others: tuple[GroupResult, ...] = unfetched
        if not args.shard:
            # Every group of groups.yaml is in the report: the ones not graded now keep their
            # stored results from earlier runs into the same folder, or say they were not graded.
            selected = {g.name for g in groups} | {g.name for g in unfetched}
            others = (
                *others,
                *(
                    ctx.effects.results.load_stored(g) or not_graded(g, NOT_GRADED_YET)
                    for g in config.groups
                    if g.name not in selected
                ),
            )
        if others:
            by_name = {g.name: g for g in (*others, *run.groups)}  # fresh results win
            order = [g.name for g in config.groups if g.name in by_name]
            run = dataclasses.replace(run, groups=tuple(by_name[n] for n in order))
        from repograder.report import write_report

        try:
            run = with_overrides(run, config, rubric, args.overrides)
        except ConfigError as exc:
            # Checked at the start; broken since (edited by hand mid-run): the report of the
            # graded work is written without overrides, and the run says why.
            _err(f"overrides NOT applied: {exc}")
            stopped = stopped or exc
        write_report(run, ctx.plan.out_dir, ctx.plan.cache_dir / TEMPLATE_CACHE)
        write_feedback(run, ctx.plan.out_dir, ctx.plan.rubric.grade_scale)
    graded = sum(g.status == GroupStatus.GRADED for g in run.groups)
    _say(
        f"graded {graded} of {len(run.groups)} group(s); report: {ctx.plan.out_dir / 'index.html'}"
    )
    for g in run.groups:
        if g.status == GroupStatus.ERROR:
            _say(f"  {g.name}: could not be graded: {g.error}")
    if isinstance(stopped, Interrupted):
        # Where the stop found the run: what to look at when a CI job's time limit ends it.
        if running_at_stop:
            shown = ", ".join(f"{name} ({stage})" for name, stage in running_at_stop.items())
            _err(f"stopped while still grading: {shown}")
            kept = [name for name in running_at_stop if name in recorder.results]
            if kept:
                _err(f"finished during the stop, results kept: {', '.join(kept)}")
        else:
            _err("stopped after every group had finished, while the run was ending")
    if stopped is not None:
        raise stopped
    return _exit_code(fresh)


_on_first_stop: list[Callable[[], None]] = []  # what _stop_signals' caller wants to note


def _first_stop(_signum: int, _frame: object) -> None:
    """The first Ctrl-C or SIGTERM: stop grading (the pipeline turns this into Interrupted)."""
    _defer_stop_signals()
    for note in _on_first_stop:
        note()
    raise KeyboardInterrupt


def _still_writing(_signum: int, _frame: object) -> None:
    _err("stopping: removing containers and writing the report of what was graded; a moment")


def _defer_stop_signals() -> None:
    """From now on Ctrl-C and SIGTERM only say that the report is being written."""
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _still_writing)


@contextlib.contextmanager
def _stop_signals(on_stop: Callable[[], None] | None = None) -> Iterator[None]:
    """Inside the block the first Ctrl-C or SIGTERM calls ``on_stop`` and raises
    KeyboardInterrupt, and later ones wait (main thread only, as Python requires). Once a stop
    began, the waiting handlers stay until main() returns; otherwise the previous ones come
    back at the block's end."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _first_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    if on_stop is not None:
        _on_first_stop.append(on_stop)
    try:
        yield
    finally:
        if on_stop is not None:
            _on_first_stop.remove(on_stop)
        for sig, old in previous.items():
            if signal.getsignal(sig) is _first_stop:
                signal.signal(sig, old)


def default_jobs(limits: Limits) -> int:
    """How many groups build or run at once: as many sandboxes as the usable cores hold at the
    rubric's CPU quota (``limits.cpus``), plus one; fewer when memory cannot hold them
    (``limits.memory_mb`` each, or a build's ``BUILD_MEMORY_MB`` when that is more).

    The extra sandbox keeps the cores busy while another group's container starts, its files
    are copied in or its build is committed. Measured with ``benchmarks/grade_bench.py`` (16
    groups, 2 cores, 1 CPU per sandbox, cold run): 194.7 s with 2 sandboxes, 178.9 s with 3,
    181.6 s with 4. "Usable" is the smallest of the cores this process may run on
    (sched_getaffinity) and its cgroup's CPU quota; memory likewise is the smaller of RAM and
    the cgroup's limit (a container started with ``--cpus 2 --memory 8g`` on a large host
    sees the host's cores and RAM everywhere else).
    """
    try:
        cores: float = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota, mem_limit = _cgroup_limits()
    if quota is not None:
        cores = min(cores, max(quota, 1.0))
    # The epsilon: 33 cores / 1.1 CPU is 29.999999999999996 in floating point, not 30.
    by_cpu = max(1, int(cores / max(limits.cpus, 0.01) + 1e-9)) + 1
    try:
        mem_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError):
        mem_mb = limits.memory_mb * by_cpu
    if mem_limit is not None:
        mem_mb = min(mem_mb, mem_limit // (1024 * 1024))
    # A sandbox first builds (BUILD_MEMORY_MB, unthrottled), then runs (limits.memory_mb).
    return max(1, min(by_cpu, mem_mb // max(limits.memory_mb, BUILD_MEMORY_MB, 1)))


CGROUP_ROOT = Path("/sys/fs/cgroup")


def _cgroup_limits() -> tuple[float | None, int | None]:
    """(CPU quota in cores, memory limit in bytes) of this process's cgroup; None where there
    is none or it cannot be read. cgroup v2 (``cpu.max``, ``memory.max`` at the root the
    container sees) first, then v1 (``cpu/cpu.cfs_quota_us``, ``memory/memory.limit_in_bytes``).
    """

    def read(*parts: str) -> list[str] | None:
        try:
            return CGROUP_ROOT.joinpath(*parts).read_text(encoding="ascii").split()
        except (OSError, ValueError):
            return None

    def number(text: str) -> int | None:
        return int(text) if text.isdigit() else None  # "max", "-1": no limit

    cpus: float | None = None
    v2 = read("cpu.max")
    if v2 is not None and len(v2) == 2:
        quota, period = number(v2[0]), number(v2[1])
    else:
        q, p = read("cpu", "cpu.cfs_quota_us"), read("cpu", "cpu.cfs_period_us")
        quota = number(q[0]) if q else None
        period = number(p[0]) if p else None
    if quota and period:
        cpus = quota / period
    mem = read("memory.max") or read("memory", "memory.limit_in_bytes")
    memory = number(mem[0]) if mem else None
    # v1 reports "no limit" as a huge number (PAGE_COUNTER_MAX pages): leave that to RAM.
    return cpus, memory if memory and memory < 1 << 60 else None


def cmd_snapshot(args: argparse.Namespace) -> int:
    """Record every group's current commit with the grader's clock."""
    from repograder import snapshot

    config = load_groups(Path(args.groups))
    groups = _select(config, args.only)
    cache = cache_dir()
    options = git.FetchOptions(cache_dir=cache / "mirrors", token=git.token_from_env())

    def show(entry: snapshot.SnapshotEntry) -> None:
        what = entry.commit[:12] if entry.commit else (entry.error or "plain folder, no commit")
        _say(f"  {entry.name}: {what}", flush=True)

    snap = snapshot.take_snapshot(config, groups, options, on_entry=show)
    snapshot.write_snapshot(snap, Path(args.out))
    failed = [e for e in snap.entries if e.error is not None]
    _say(f"snapshot of {len(snap.entries)} group(s) at {snap.taken_at}: {args.out}")
    return ExitCode.GROUP_ERRORS if failed else ExitCode.OK
