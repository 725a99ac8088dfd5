"""``DockerSandbox``: the Docker backend of the ``Sandbox`` protocol.

It plans and builds environments (:mod:`.build`) on the base image or a shared layer, relaxes
unavailable exact pins once, and opens sessions (:mod:`.session`). Every container goes
through one :class:`~.runs.ContainerTracker`, so ``close()`` removes them all.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from repograder.errors import InfrastructureError, SandboxUnavailable
from repograder.facts import EnvSpec
from repograder.sandbox import buildplan, layerfallback
from repograder.sandbox.base import BuildResult, Limits
from repograder.sandbox.docker import engine as eng
from repograder.sandbox.docker import warmup
from repograder.sandbox.docker.baseimage import BASE_IMAGE
from repograder.sandbox.docker.build import Builder, hash_lock, with_system_libraries
from repograder.sandbox.docker.images import COMMON_PREFIX, ENV_REPO, WARM_DIR, touch_used
from repograder.sandbox.docker.runs import ContainerTracker, RunLock
from repograder.sandbox.docker.session import DockerSession, session_spec
from repograder.sandbox.hostconfig import HostSettings, detect_host_settings, local_cpu_wheels


class DockerSandbox:
    """Sandbox backend on a Docker engine (docs/SANDBOX.md).

    ``engine``: the engine to use (default :func:`.engine.connect`: the local one). Raises
    SandboxUnavailable without an engine or without ``base_image``.
    """

    name = "docker"
    isolates = True

    def __init__(
        self,
        run_id: str,
        cache_dir: Path,
        *,
        base_image: str = BASE_IMAGE,
        build_timeout_s: float = 1800,
        host: HostSettings | None = None,
        log: Callable[[str], None] | None = None,
        common: Sequence[str] = (),
        common_apt: Sequence[str] = (),
        warmup: Sequence[str] = (),
        relax_pins: bool = True,
        engine: eng.Engine | None = None,
        inferred_apt: Sequence[str] = (),
        inferred_warmup: Sequence[str] = (),
    ) -> None:
        self.run_id = run_id
        # After a failed build, retry once with the blamed exact pins moved to the nearest
        # installable version (rubric: env-build.params.relax_pins).
        self.relax_pins = relax_pins
        self.cache_dir = cache_dir
        self.base_image = base_image
        self.build_timeout_s = build_timeout_s
        self.host = host if host is not None else detect_host_settings()
        self._log = log or (lambda _msg: None)
        self.engine = engine if engine is not None else eng.connect()
        self._run_lock = RunLock(cache_dir, run_id)
        self._tracker = ContainerTracker(self.engine, run_id, self._run_lock)
        self._builder = Builder(self._tracker, self.host, build_timeout_s)
        self._lock = threading.Lock()
        self.builds_run = 0  # how many images this sandbox actually built (tests, stats)
        base = eng.retry(self.engine.image, base_image)
        if base is None:
            self._run_lock.release()
            raise SandboxUnavailable(
                f"sandbox base image {base_image} is missing; run `repograder sandbox build`"
            )
        self._base_id: str = base.id
        self._python: str = base.labels.get("repograder.python", "3.11")
        self._cpu_wheels = local_cpu_wheels(self.host.find_links)
        # The shared layer is planned now (its hash is part of `identity`) and built lazily by
        # the first group that needs it.
        self._common_plan: buildplan.BuildPlan | None = None
        self._layer_inferred = False
        # The rubric's `environment: apt:` / `warmup:` without `common:`: added to the layer
        # inferred from the course (use_inferred_layer), not a declared layer of their own.
        self._inferred_apt = tuple(a for a in inferred_apt if a.strip())
        self._inferred_warmup = tuple(w for w in inferred_warmup if w.strip())
        # The inferred layer as adopted (requirements, apt, warm-ups), and the steps built
        # instead when it does not build (_fallback_layer; the last one is the layer).
        self._layer_input: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None = None
        self._fallback_steps: list[layerfallback.Step] = []
        if any(r.strip() for r in (*common, *common_apt)):
            # The lecturer's own list: installed as resolved, without the newer-sdist probe.
            self._common_plan = self._plan_layer(common, common_apt, warmup, trusted=True)
        self._common: tuple[str, str] | None = None  # (tag, image id) once built
        # The layer's image once committed and checked, while its warm-up may still run; the
        # event is set then, or when its build ended either way (see _parent_layer).
        self._layer_image: tuple[str, str] | None = None
        self._image_ready = threading.Event()
        self._common_error: str | None = None
        self._layer_wanted = False  # start_layer was called (maybe before a layer was inferred)
        self._layer_started = False
        atexit.register(self.close)

    def _plan_layer(
        self,
        common: Sequence[str],
        apt: Sequence[str],
        warmup: Sequence[str],
        *,
        trusted: bool,
    ) -> buildplan.BuildPlan:
        spec, _note = with_system_libraries(buildplan.common_spec(tuple(common), tuple(apt)))
        plan = buildplan.make_plan(
            spec,
            self.cache_dir,
            base_image_id=self._base_id,
            python_version=self._python,
            host=self.host,
            cpu_wheels=self._cpu_wheels,
            warmup=tuple(warmup),
        )
        return dataclasses.replace(plan, trusted=trusted)

    @property
    def layer_declared(self) -> bool:
        """True when the rubric named the shared layer (an inferred one must not replace it)."""
        return self._common_plan is not None and not self._layer_inferred

    @property
    def python_version(self) -> str:
        """The base image's Python (its label ``repograder.python``), e.g. "3.11"."""
        return self._python

    @property
    def layer_apt(self) -> tuple[str, ...]:
        """The Debian packages the shared layer installs: the rubric's and those its Python
        packages need (``syslibs``); empty without a layer."""
        return self._common_plan.apt_packages if self._common_plan is not None else ()

    @property
    def layer_error(self) -> str | None:
        """Why this run's shared layer did not build (summary and log path); None when it
        built, was not needed or was not tried."""
        return self._common_error

    def use_inferred_layer(
        self,
        common: Sequence[str],
        apt: Sequence[str] = (),
        warmup: Sequence[str] = (),
        *,
        fallback: bool = True,
    ) -> str | None:
        """Adopt a shared layer inferred from the course (``layerplan``); call before any build.

        Built like a declared layer (wheels only, no newer-sdist probe): the probe gives false
        alarms on a whole stack (numpy, scipy and contourpy "newer only as sdist" although the
        unrestricted install picks the same versions), and the retry rebuilds the layer
        without the shared cache, minutes for nothing; each group's own build still probes
        the packages it does not take from the layer. A declared layer wins (nothing
        changes). The rubric's apt packages and warm-ups given without ``common``
        (``inferred_apt``, ``inferred_warmup``) are added, so a layer of only those is built
        when no package is shared. ``fallback`` False (a layer an earlier run built, adopted
        by ``--only``/``--shard``): if it must be built again and fails, it fails as written,
        as a declared layer does (another fallback could put this group on another parent than
        the others). Returns the layer's tag, None when empty.
        ``identity`` does not change (it may already be in cache keys): a group's environment
        is its own lock whatever layer it sits on, so results stay cached when another
        group's push changes the shared layer.
        """
        if self.layer_declared:
            return self.common_tag
        apt = tuple(dict.fromkeys((*self._inferred_apt, *apt)))
        warmup = tuple(dict.fromkeys((*warmup, *self._inferred_warmup)))
        with self._lock:
            if self._common is not None or self._common_error is not None or self._layer_started:
                return self.common_tag  # built or being built: too late to change
            if not any(r.strip() for r in (*common, *apt)):
                self._common_plan = None
                return None
            self._common_plan = self._plan_layer(common, apt, warmup, trusted=True)
            self._layer_inferred = True
            self._layer_input = (tuple(common), apt, warmup) if fallback else None
            start = self._layer_wanted and not self._layer_started
            self._layer_started |= start
        if start:
            self._build_layer_in_background()
        return self.common_tag

    @property
    def identity(self) -> str:
        """Stable text naming what grades a group: base image and shared layer (cache keys)."""
        # An inferred layer is not part of it: it is decided while groups already look up
        # their cached results, and it never changes a verdict (see use_inferred_layer).
        declared = self._common_plan if self.layer_declared else None
        common = declared.content_hash[:24] if declared else "-"
        return f"docker:{self._base_id}:{common}"

    @property
    def common_tag(self) -> str | None:
        """Tag of the shared layer image (whether built yet or not); None without one."""
        if self._common_plan is None:
            return None
        return f"{ENV_REPO}:{COMMON_PREFIX}{self._common_plan.content_hash[:24]}"

    def _ensure_common(self) -> tuple[str, str] | None:
        """(tag, id) of the shared layer, built once, its warm-up done; None (and a note)
        when it failed."""
        try:
            return self._build_common()
        finally:
            self._image_ready.set()  # whatever happened: no group build waits for it any more

    def _parent_layer(self) -> tuple[str, str] | None:
        """(tag, id) of the shared layer for a group's build: while this process builds the
        layer, as soon as its image is committed and checked, not after its warm-up.

        A group's build needs only the image; its session needs the warm home too and waits
        for it in :meth:`open_session`. In the 16-group benchmark the commit took 16 s and
        the warm-up (numba compiling librosa's functions, one core) 32 s, so the other core
        idled about 15 s while every group waited (docs/SANDBOX.md, "What a shared layer's
        build waits for"). None when there is no layer or it failed.
        """
        if self._layer_started:
            self._image_ready.wait()
            if self._layer_image is not None:
                return self._layer_image
        return self._ensure_common()

    def _build_common(self) -> tuple[str, str] | None:
        plan = self._common_plan
        tag = self.common_tag
        if plan is None or tag is None:
            return None

        def image_ready() -> None:
            try:
                image = eng.retry(self.engine.image, tag)
            except eng.EngineError:
                return  # the groups wait for the layer's end instead
            if image is not None:
                self._layer_image = (tag, image.id)
                self._image_ready.set()

        with hash_lock(self.cache_dir, plan.content_hash):
            if self._common is not None or self._common_error is not None:
                return self._common
            log_dir = self.cache_dir / "logs"
            log_dir.mkdir(parents=True, exist_ok=True)
            log_path = log_dir / f"common-{plan.content_hash[:24]}.log"
            warm_path = self.warm_path(plan.content_hash) if plan.warmup else None
            if self._image(tag) is None:
                self._log(f"building the shared layer {tag} ({len(plan.requirements)} packages)")
                began = time.monotonic()
                self.builds_run += 1
                ok, summary, _excerpt, notes = self._builder.build(
                    plan,
                    tag,
                    log_path,
                    self.base_image,
                    layer="common",
                    warm_path=warm_path,
                    on_image=image_ready,
                )
                for note in notes:  # e.g. the warm-up timed out: sessions start cold
                    self._log(f"shared layer: {note}")
                if not ok and self._fallback_layer(summary, log_path):
                    return self._build_common()  # what is left of it (see _fallback_layer)
                if not ok:
                    self._layer_image = None  # e.g. timed out in the warm-up: not a layer
                    self._common_error = f"{summary} (log: {log_path})"
                    self._log(f"the shared layer failed to build: {self._common_error}")
                    return None
                # benchmarks/grade_bench.py reads this line for its per-phase breakdown.
                self._log(f"built the shared layer {tag} in {time.monotonic() - began:.1f} s")
            elif warm_path is not None and not warm_path.exists():
                # Built by another cache folder (or its warm home was cleaned): warm up again.
                self._log(f"warming up the shared layer {tag} (no warm-up caches on record)")
                note = warmup.warm_only(self._builder, tag, plan, log_path, warm_path)
                if note:
                    self._log(note)
            image = self._image(tag)
            if image is None:
                raise InfrastructureError(f"the shared layer {tag} vanished after its build")
            self._common = self._layer_image = (tag, image.id)
            touch_used(self.cache_dir, plan.content_hash)
            return self._common

    def _fallback_layer(self, summary: str, log_path: Path) -> bool:
        """Plan what is left of an inferred layer that did not build (``layerfallback``:
        without what the failure names, then without versions, then the rubric's apt alone);
        True when there is something to build. A declared layer fails as written."""
        with self._lock:
            if not self._layer_inferred or self._layer_input is None:
                return False
            common, apt, warmup = self._layer_input
            if self._fallback_steps:
                last = self._fallback_steps[-1]
                common, warmup = last.requirements, last.warmup
            step = layerfallback.next_step(
                summary,
                common,
                warmup,
                leave_outs=sum(done.leave_out for done in self._fallback_steps),
                rubric_apt=self._inferred_apt,
                rubric_warmup=self._inferred_warmup,
            )
            if step is None:
                return False
            self._fallback_steps.append(step)
            self._common_plan = self._plan_layer(step.requirements, apt, step.warmup, trusted=True)
        self._log(
            f"the shared layer did not build ({summary}; log: {log_path}); building "
            f"{step.why}: {self.common_tag}"
        )
        return True

    @property
    def layer_fallback(self) -> tuple[tuple[str, ...], tuple[str, ...], str] | None:
        """What was built instead of the inferred layer, which did not build: (requirements,
        warm-ups, why: every step); None when it built as inferred (or was not inferred)."""
        if not self._fallback_steps:
            return None
        last = self._fallback_steps[-1]
        return last.requirements, last.warmup, "; then ".join(s.why for s in self._fallback_steps)

    def start_layer(self) -> None:
        """Start building the shared layer in a daemon thread: now when it is declared, or as
        soon as an inferred one is adopted (``use_inferred_layer``). Idempotent.

        The pipeline calls this when the first group turns out to need a build. The layer
        takes a minute or more and every group's build waits for it; started here it no
        longer waits for the first group's inspection and sandbox turn (in the 16-group
        benchmark it began 1.7 s earlier). Errors are not raised here: the first group's
        build meets the same layer (built, failed with a note, or tried again) and raises
        there.
        """
        with self._lock:
            self._layer_wanted = True
            start = self._common_plan is not None and not self._layer_started
            self._layer_started |= start
        if start:
            self._build_layer_in_background()

    def _build_layer_in_background(self) -> None:
        self._image_ready.clear()  # set again by this build (_ensure_common)

        def build() -> None:
            try:
                self._ensure_common()
            except Exception as exc:  # the groups' builds meet the layer again and raise there
                if not self._tracker.closed:  # closed: the run is stopping, nothing to say
                    self._log(f"the shared layer's build stopped ({exc}); the next build retries")

        threading.Thread(target=build, name="shared-layer", daemon=True).start()

    def warm_path(self, layer_hash: str) -> Path:
        """Where the warm home of the shared layer ``layer_hash`` is kept (a tar)."""
        return self.cache_dir / WARM_DIR / f"{layer_hash}.tar"

    def alive(self) -> bool:
        """True when the engine still answers (after retries): a failed call was a hiccup."""
        try:
            eng.retry(self.engine.ping)
        except eng.EngineError:
            return False
        return True

    def prepare(self, spec: EnvSpec, checkout: Path, log_dir: Path) -> BuildResult:
        """Build (or reuse) the image for ``spec``: a failed build is a result, not an error.

        When the build fails on exact pins that have no installable distribution here, a second
        build moves only those pins to the nearest installable version (see :meth:`_relax`).
        """
        first = self._prepare(spec, checkout, log_dir, "build.log")
        if first.ok or not self.relax_pins:
            return first
        return self._relax(spec, checkout, log_dir, first)

    def _relax(
        self, spec: EnvSpec, checkout: Path, log_dir: Path, first: BuildResult
    ) -> BuildResult:
        """The second attempt: offending pins -> nearest installable versions, then rebuild."""
        text = ""
        if first.log_path is not None:
            with contextlib.suppress(OSError):
                text = first.log_path.read_text(encoding="utf-8", errors="replace")[-2_000_000:]
        pins = buildplan.offending_pins(text or first.log_excerpt, spec.requirements)
        if not pins:
            return first
        start = time.monotonic()
        common = self._parent_layer()
        parent = common[0] if common is not None else self.base_image
        probe_log = log_dir / "relax.log"
        with open(probe_log, "w", encoding="utf-8", errors="replace") as log:
            log.write(f"[repograder] looking for installable versions of: {pins}\n")
            nearest = self._builder.nearest(parent, pins, log)
        named = ", ".join(f"{p.line} ({p.why})" for p in pins)
        if not nearest:
            note = f"no installable version was found near {named}; nothing was relaxed"
            return dataclasses.replace(first, notes=(*first.notes, note))
        relaxed_spec = dataclasses.replace(
            spec,
            requirements=tuple(
                buildplan.relax_line(r, nearest[r]) if r in nearest else r
                for r in spec.requirements
            ),
        )
        second = self._prepare(relaxed_spec, checkout, log_dir, "build-relaxed.log")
        changes = tuple(
            f"{p.line} → {nearest[p.line]} ({p.why})" for p in pins if p.line in nearest
        )
        if not second.ok:
            note = f"a second attempt with {'; '.join(changes)} failed too: {second.summary}"
            return dataclasses.replace(first, notes=(*first.notes, note))
        short = ", ".join(c.split(" (", 1)[0] for c in changes)
        return dataclasses.replace(
            second,
            summary=f"built after relaxing: {short}",
            duration_s=first.duration_s + (time.monotonic() - start),
            relaxed=changes,
            notes=(*second.notes, f"the first attempt failed: {first.summary} (build.log)"),
        )

    def _prepare(self, spec: EnvSpec, checkout: Path, log_dir: Path, log_name: str) -> BuildResult:
        """One build (or reuse) of ``spec``, logged to ``log_dir/log_name``."""
        start = time.monotonic()
        common = self._parent_layer()
        parent_tag, parent_id = common if common is not None else (self.base_image, self._base_id)
        layer_apt = self._common_plan.apt_packages if common and self._common_plan else ()
        spec, syslib_note = with_system_libraries(spec, layer_apt)
        plan = buildplan.make_plan(
            spec,
            checkout,
            base_image_id=parent_id,
            python_version=self._python,
            host=self.host,
            cpu_wheels=self._cpu_wheels,
            layered=common is not None,
        )
        if syslib_note:
            plan = dataclasses.replace(plan, notes=(*plan.notes, syslib_note))
        if common is None and self._common_error is not None:
            note = f"no shared layer (it did not build): {self._common_error}"
            plan = dataclasses.replace(plan, notes=(*plan.notes, note))
        elif common is not None and (fallback := self.layer_fallback) is not None:
            note = f"the shared layer did not build as inferred; built: {fallback[2]}"
            plan = dataclasses.replace(plan, notes=(*plan.notes, note))
        tag = f"{ENV_REPO}:{plan.content_hash[:24]}"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / log_name
        with hash_lock(self.cache_dir, plan.content_hash):
            touch_used(self.cache_dir, plan.content_hash)
            if self._image(tag) is not None:
                log_path.write_text(f"reused image {tag} (same dependencies)\n", encoding="utf-8")
                return BuildResult(
                    ok=True,
                    backend=self.name,
                    image=tag,
                    reused=True,
                    content_hash=plan.content_hash,
                    duration_s=time.monotonic() - start,
                    summary=f"reused the environment image {tag}",
                    log_path=log_path,
                    python_version=plan.python_version,
                    notes=plan.notes,
                )
            self.builds_run += 1
            ok, summary, excerpt, extra = self._builder.build(plan, tag, log_path, parent_tag)
        return BuildResult(
            ok=ok,
            backend=self.name,
            image=tag if ok else None,
            reused=False,
            content_hash=plan.content_hash,
            duration_s=time.monotonic() - start,
            summary=summary,
            log_path=log_path,
            log_excerpt=excerpt,
            python_version=plan.python_version,
            notes=plan.notes + extra,
        )

    def _image(self, tag: str) -> eng.ImageRef | None:
        try:
            return eng.retry(self.engine.image, tag)
        except eng.EngineError as exc:
            raise InfrastructureError(f"the Docker engine failed: {exc}") from exc

    def open_session(self, build: BuildResult, checkout: Path, limits: Limits) -> DockerSession:
        """Start the group's session container on a tmpfs copy of ``checkout``.

        Raises ValueError for a failed build, InfrastructureError when the engine fails.
        """
        if not build.ok or not build.image:
            raise ValueError("open_session needs a successful build")
        try:
            image = self.engine.image(build.image)
            labels: dict[str, str] = dict(image.labels) if image is not None else {}
            # The layer's warm-up caches (numba JIT, matplotlib fonts), named by a label that
            # the group images built on the layer inherit.
            warm = labels.get(warmup.WARM_LABEL, "")
            if self._common_plan is not None and warm == self._common_plan.content_hash:
                # Built on this run's layer, maybe while the layer's warm-up still ran: its
                # warm home comes with the layer's end (_parent_layer).
                self._ensure_common()
            container = self._tracker.start(session_spec(build.image, limits), build.content_hash)
        except eng.EngineError as exc:
            raise InfrastructureError(
                f"the Docker engine failed to start a session: {exc}"
            ) from exc
        session = DockerSession(self._tracker, container, limits)
        warm_home = self.warm_path(warm) if warm.isalnum() else None
        try:
            session.start(
                checkout,
                install_project=labels.get("repograder.install_project") == "1",
                warm_home=warm_home if warm_home is not None and warm_home.is_file() else None,
            )
        except BaseException:
            session.close()
            raise
        return session

    def close(self) -> None:
        """Force-remove every container this sandbox started, and any it starts later."""
        self._tracker.close()
        self._run_lock.release()
