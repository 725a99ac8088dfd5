"""Local backend: a uv virtualenv and bash subprocesses on this machine. NO isolation.

For students who run ``repograder check .`` without Docker. Environments are cached in
``cache_dir/envs/<content hash>`` and shared by groups with the same dependency files.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from repograder import fsutil
from repograder.envhash import content_hash
from repograder.errors import SandboxUnavailable
from repograder.facts import EnvSpec
from repograder.model import ExecResult
from repograder.sandbox.base import BuildResult, Limits, Sandbox, Session
from repograder.sandbox.hostconfig import (
    HostSettings,
    cpu_constraints,
    detect_host_settings,
    local_cpu_wheels,
    uv_index_args,
)
from repograder.sandbox.localsession import LocalSession

LOCAL_BACKEND_WARNING = (
    "local sandbox: student code runs on this machine without isolation "
    "(no container, network on); use Docker for grading untrusted code"
)
BUILD_TIMEOUT_S = 1800.0
_MARKER = ".repograder-env.json"
_EXCERPT_LINES = 30
_MAX_DEP_FILE_BYTES = 5_000_000


def uv_error_summary(log: str) -> str:
    """One line naming the decisive uv error, e.g. the package that does not exist."""
    missing = re.search(
        r"Because ([A-Za-z0-9._\-\[\]]+)\S* was not found in the package registry", log
    )
    if missing:
        return f"package '{missing.group(1)}' was not found in the package index"
    no_version = re.search(r"Because there is no version of ([^\s,]+)", log)
    if no_version:
        return f"no version of {no_version.group(1)} is available for this Python and platform"
    for line in log.splitlines():
        stripped = line.strip().lstrip("×╰─▶ ").strip()
        if line.lstrip().lower().startswith(("error:", "×")) and stripped:
            return stripped[:300]
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "the environment build failed"


def _excerpt(log: str) -> str:
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().lower().startswith(("error:", "×")):
            return "\n".join(lines[i : i + _EXCERPT_LINES])
    return "\n".join(lines[-_EXCERPT_LINES:])


def uv_binary() -> str:
    """Path of the uv executable (a dependency of repograder); SandboxUnavailable if absent."""
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.is_file() else shutil.which("uv")
    if found is None:
        raise SandboxUnavailable("the local sandbox needs uv: pip install uv")
    return found


class LocalSandbox:
    """uv virtualenvs and bash subprocesses on the host; see LOCAL_BACKEND_WARNING."""

    name = "local"
    isolates = False

    def __init__(
        self,
        cache_dir: Path,
        run_id: str,
        *,
        log: Callable[[str], None] | None = None,
        host: HostSettings | None = None,
    ) -> None:
        self.cache_dir = cache_dir
        self.run_id = run_id
        self._log = log or (lambda _message: None)
        self._host = host
        self._install_project: dict[str, bool] = {}
        self._sessions: list[LocalSession] = []
        self._uv_path: str | None = None

    @property
    def _uv(self) -> str:
        if self._uv_path is None:
            self._uv_path = uv_binary()
        return self._uv_path

    def _host_settings(self) -> HostSettings:
        if self._host is None:
            self._host = detect_host_settings()
        return self._host

    def _tool_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("VIRTUAL_ENV", None)
        env.update(
            {
                "UV_CACHE_DIR": str(self.cache_dir / "uv-cache"),
                "UV_COMPILE_BYTECODE": "1",
                "UV_PYTHON_DOWNLOADS": "never",  # the grader machine may be offline
                "UV_NO_PROGRESS": "1",
            }
        )
        cert = self._host_settings().ca_bundle
        if cert is not None and "SSL_CERT_FILE" not in env:
            env["SSL_CERT_FILE"] = str(cert)
        return env

    def prepare(self, spec: EnvSpec, checkout: Path, log_dir: Path) -> BuildResult:
        """Create (or reuse by content hash) a uv virtualenv with the spec's requirements."""
        start = time.monotonic()
        digest = content_hash(spec, checkout)
        self._install_project[digest] = spec.install_project
        envs = self.cache_dir / "envs"
        envs.mkdir(parents=True, exist_ok=True)
        # The venv links to this interpreter: a new host Python means a new environment.
        env_key = hashlib.sha256(f"{digest}\0{sys.version}".encode()).hexdigest()[:24]
        env_dir = envs / env_key
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / "build.log"
        notes: list[str] = [LOCAL_BACKEND_WARNING]  # the report must say it, every time
        if spec.apt_packages:
            notes.append(
                "the local backend cannot install system packages; install them on this machine "
                "if the code needs them: " + ", ".join(spec.apt_packages)
            )
        with _file_lock(envs / f"{env_key}.lock"):
            marker = _read_marker(env_dir)
            if marker is not None:
                version, built_notes = marker
                log_path.write_text(f"reused environment {env_dir}\n")
                return BuildResult(
                    ok=True,
                    backend=self.name,
                    image=str(env_dir),
                    reused=True,
                    content_hash=digest,
                    duration_s=time.monotonic() - start,
                    summary=f"reused environment {env_dir.name}",
                    log_path=log_path,
                    python_version=version,
                    notes=(*notes, *(n for n in built_notes if n not in notes)),
                )
            shutil.rmtree(env_dir, ignore_errors=True)
            with log_path.open("w", encoding="utf-8") as log_file:
                result = self._build(spec, checkout, env_dir, env_key, log_file, notes)
            log_text = log_path.read_text(encoding="utf-8", errors="replace")
            duration = time.monotonic() - start
            if result is not None:
                shutil.rmtree(env_dir, ignore_errors=True)
                return BuildResult(
                    ok=False,
                    backend=self.name,
                    image=None,
                    reused=False,
                    content_hash=digest,
                    duration_s=duration,
                    summary=result,
                    log_path=log_path,
                    log_excerpt=_excerpt(log_text),
                    notes=tuple(notes),
                )
            version = _venv_python_version(env_dir)
            (env_dir / _MARKER).write_text(json.dumps({"python_version": version, "notes": notes}))
            return BuildResult(
                ok=True,
                backend=self.name,
                image=str(env_dir),
                reused=False,
                content_hash=digest,
                duration_s=duration,
                summary=f"built environment {env_dir.name}",
                log_path=log_path,
                python_version=version,
                notes=tuple(notes),
            )

    def _build(
        self,
        spec: EnvSpec,
        checkout: Path,
        env_dir: Path,
        env_key: str,
        log_file: TextIO,
        notes: list[str],
    ) -> str | None:
        """Run uv; returns None on success or the one-line reason of the failure."""
        env = self._tool_env()
        requested = spec.python_version
        python = requested or sys.executable
        res = self._tool([self._uv, "venv", "--python", python, str(env_dir)], env, None, log_file)
        if res.exit_code != 0 and requested:
            current = ".".join(str(v) for v in sys.version_info[:3])
            notes.append(f"requested Python {requested} is not available; used {current}")
            shutil.rmtree(env_dir, ignore_errors=True)
            cmd = [self._uv, "venv", "--python", sys.executable, str(env_dir)]
            res = self._tool(cmd, env, None, log_file)
        if res.exit_code != 0:
            return "could not create the virtual environment: " + uv_error_summary(res.output)
        if not (spec.requirements or spec.build_requires):
            return None
        # Dependency files only, so relative includes (-r, -c) resolve as in the repository.
        build_dir = self.cache_dir / "builds" / env_key
        shutil.rmtree(build_dir, ignore_errors=True)
        build_dir.mkdir(parents=True)
        for rel in spec.files:
            data = fsutil.read_bytes(checkout, rel, _MAX_DEP_FILE_BYTES)
            if data is not None:
                target = build_dir / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        reqs = build_dir / ".repograder-requirements.txt"
        reqs.write_text("\n".join([*spec.build_requires, *spec.requirements]) + "\n")
        cmd = [
            self._uv,
            "pip",
            "install",
            "--python",
            str(env_dir / "bin" / "python"),
            "-r",
            str(reqs),
        ]
        host = self._host_settings()
        # A CPU build of torch in the host's find-links beats GBs of CUDA wheels from PyPI.
        cpu = cpu_constraints(
            [*spec.build_requires, *spec.requirements], local_cpu_wheels(host.find_links)
        )
        constraints = [*spec.constraints, *cpu]
        if constraints:
            cons = build_dir / ".repograder-constraints.txt"
            cons.write_text("\n".join(constraints) + "\n")
            log_file.write("constraints: " + " ".join(constraints) + "\n")
            cmd += ["-c", str(cons)]
        cmd += uv_index_args(host)
        res = self._tool(cmd, env, build_dir, log_file)
        shutil.rmtree(build_dir, ignore_errors=True)
        if res.timed_out:
            return f"the environment build did not finish within {BUILD_TIMEOUT_S:g} s"
        if res.exit_code != 0:
            return uv_error_summary(res.output)
        return None

    def _tool(
        self, cmd: list[str], env: Mapping[str, str], cwd: Path | None, log_file: TextIO
    ) -> ExecResult:
        self._log(" ".join(shlex.quote(c) for c in cmd))
        log_file.write("$ " + " ".join(shlex.quote(c) for c in cmd) + "\n")
        log_file.flush()
        start = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            cwd=cwd,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=BUILD_TIMEOUT_S)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            timed_out = True
        log_file.write(out + f"[exit code {proc.returncode}]\n")
        log_file.flush()
        return ExecResult(
            None if timed_out else proc.returncode,
            timed_out,
            time.monotonic() - start,
            out[-200_000:],
            "",
            len(out.encode()),
        )

    def open_session(self, build: BuildResult, checkout: Path, limits: Limits) -> LocalSession:
        """Start a bash session on a temporary copy of ``checkout`` using the built venv."""
        venv = Path(build.image) if build.ok and build.image else None
        prefix: tuple[Path, ...] = (venv / "bin",) if venv is not None else ()
        session = LocalSession(checkout, limits, path_prefix=prefix, virtual_env=venv)
        self._sessions.append(session)
        if venv is not None and self._install_project.get(build.content_hash, False):
            # Editable install into the shared cached env would point it at this session's
            # temporary copy; the session venv layered on top keeps the cached env clean.
            self._layer_project(session, venv)
        return session

    def _layer_project(self, session: LocalSession, base: Path) -> None:
        layer = session.workdir.parent / "venv"
        env = self._tool_env()
        with (session.workdir.parent / "install.log").open("w") as log_file:
            res = self._tool(
                [self._uv, "venv", "--python", str(base / "bin" / "python"), str(layer)],
                env,
                None,
                log_file,
            )
            if res.exit_code != 0:
                session.notes.append("could not create the session environment for the project")
                return
            site = _site_packages(base)
            layer_site = _site_packages(layer)
            if site is not None and layer_site is not None:
                (layer_site / "_repograder_base.pth").write_text(str(site) + "\n")
            cmd = [self._uv, "pip", "install", "--python", str(layer / "bin" / "python")]
            cmd += ["--no-deps", "-e", ".", *uv_index_args(self._host_settings())]
            res = self._tool(cmd, env, session.workdir, log_file)
        if res.exit_code != 0:
            session.notes.append(
                "installing the project (uv pip install --no-deps -e .) failed: "
                + uv_error_summary(res.output)
            )
        session.use_venv(layer, base)

    def close(self) -> None:
        """Close every session this sandbox opened. Idempotent."""
        for session in self._sessions:
            session.close()
        self._sessions.clear()


def _read_marker(env_dir: Path) -> tuple[str | None, tuple[str, ...]] | None:
    """(python version, build notes) of a finished environment; None if unfinished."""
    try:
        data = json.loads((env_dir / _MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not (env_dir / "bin" / "python").exists():
        return None
    version = data.get("python_version")
    notes = data.get("notes")
    return (
        version if isinstance(version, str) else None,
        tuple(str(n) for n in notes) if isinstance(notes, list) else (),
    )


def _venv_python_version(env_dir: Path) -> str | None:
    try:
        text = (env_dir / "pyvenv.cfg").read_text()
    except OSError:
        return None
    match = re.search(r"^version_info\s*=\s*(\S+)", text, re.MULTILINE)
    return match.group(1) if match else None


def _site_packages(venv: Path) -> Path | None:
    found = sorted((venv / "lib").glob("python*/site-packages"))
    return found[0] if found else None


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive flock: one build per hash at a time, across threads and processes."""
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _conforms(sandbox: LocalSandbox, session: LocalSession) -> tuple[Sandbox, Session]:
    return sandbox, session  # mypy proves the backend implements the protocols
