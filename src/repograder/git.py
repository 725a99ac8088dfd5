"""Fetch a group's repository: mirror cache, the commit at the deadline, late commits.

GitPython lives only here. Student repositories are untrusted, so git runs with hooks off,
only a few transports allowed, no prompts, a timeout, and credentials passed as an HTTP header
through the environment (never in a URL, on a command line or in a stored config). The graded
tree is written by reading blobs from our own bare mirror: no checkout, so no hooks, filters,
LFS smudge or submodules ever run.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import re
import shutil
import stat
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import git as gitpython

from repograder import lfs as lfs_fetch
from repograder import model
from repograder.errors import FetchError, InfrastructureError

log = logging.getLogger(__name__)

ALLOWED_SCHEMES = frozenset({"https", "http", "ssh", "git", "file"})
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1"
LFS_POINTER_MAX_BYTES = 1024
MAX_CHECKOUT_BYTES = 4 * 1024**3
MAX_CHECKOUT_FILES = 200_000
MAX_NOTES = 20

# `-c` flags on every git call. Mirrors are ours, but these also hold if one was tampered with.
_HARDENING = (
    "core.hooksPath=/dev/null",
    "protocol.ext.allow=never",
    "protocol.fd.allow=never",
    "transfer.credentialsInUrl=die",
    "gc.auto=0",  # no detached gc touching a mirror after we released its lock
    "maintenance.auto=false",
    "core.fsmonitor=false",
    "filter.lfs.smudge=",
    "filter.lfs.process=",
    "filter.lfs.required=false",
)

_TRANSPORT_HELPER = re.compile(r"^[A-Za-z0-9+.\-]*::")
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?(?:\[[^\]]+\]|[^/:]+):")
# The user-info of a URL ends at the *last* "@" before the path (RFC 3986; urlsplit agrees):
# in http://alice@uni.example:SECRET@host/ all of "alice@uni.example:SECRET" is user-info.
_URL_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*://)([^/\s?#]*)@")
# Query parameters whose value is a credential (GitLab's private_token, access_token, signed
# URLs' sig/signature, api keys, passwords ...).
_SECRET_PARAM = re.compile(
    r"([?&;][^=&;#\s]*(?:token|secret|pass(?:word|wd)?|key|auth|sig(?:nature)?|credential"
    r"|session)[^=&;#\s]*=)[^&;#\s'\"]*",
    re.IGNORECASE,
)
_ACCESS_TOKEN = re.compile(r"(x-access-token:)[^\s@/'\"]+", re.IGNORECASE)
_AUTH_HEADER = re.compile(r"(Authorization:\s*(?:Basic|Bearer|token)\s+)\S+", re.IGNORECASE)
_GITHUB_TOKEN = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})")


@dataclass(frozen=True)
class FetchOptions:
    """How to fetch: where the mirror cache lives, credentials, limits."""

    cache_dir: Path
    token: str | None = None
    timeout_s: float = 300.0
    offline: bool = False
    max_checkout_bytes: int = MAX_CHECKOUT_BYTES
    fetch_lfs: bool = True  # fetch Git LFS objects of the graded commit (lfs.py, size-capped)


def token_from_env(environ: Mapping[str, str] = os.environ) -> str | None:
    """The git token from REPOGRADER_GIT_TOKEN, else GITHUB_TOKEN; None when unset or blank."""
    for name in ("REPOGRADER_GIT_TOKEN", "GITHUB_TOKEN"):
        value = environ.get(name, "").strip()
        if value:
            return value
    return None


def redact(text: str, token: str | None = None) -> str:
    """Remove credentials from text: URL user:pass@, the token, x-access-token:…, auth headers."""
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        text = text.replace(basic, "***").replace(token, "***")
    text = _URL_USERINFO.sub(_strip_userinfo, text)
    text = _SECRET_PARAM.sub(r"\1***", text)
    text = _ACCESS_TOKEN.sub(r"\1***", text)
    text = _AUTH_HEADER.sub(r"\1***", text)
    return _GITHUB_TOKEN.sub("***", text)


def _strip_userinfo(match: re.Match[str]) -> str:
    scheme, userinfo = match.group(1), match.group(2)
    # An ssh user name ("ssh://git@host") is not a secret; any http(s) user may be a token.
    if scheme.lower().startswith("http") or ":" in userinfo:
        return scheme
    return match.group(0)


def describe_source(repo: str, token: str | None = None) -> str:
    """The repository address as shown anywhere (results, HTML, JUnit, snapshot, terminal).

    A URL is parsed once, the way fetching parses it (``urllib.parse.urlsplit``): the
    user-info (everything before the last ``@`` of the authority) is dropped, except an ssh
    user name without password (``ssh://git@host``), and credential-like query parameters are
    replaced by ``***``. Anything else (scp-like ``git@host:path``, local paths) is redacted as
    text. ``token`` is removed wherever it appears.
    """
    match = _URL_SCHEME.match(repo)
    if match is None:
        return redact(repo, token)
    try:
        parts = urllib.parse.urlsplit(repo)
        user, password = parts.username, parts.password
    except ValueError:
        return redact(repo, token)
    netloc = parts.netloc.rpartition("@")[2]
    if match.group(1).lower() in ("ssh", "git") and user and password is None:
        netloc = f"{user}@{netloc}"
    query = _SECRET_PARAM.sub(r"\1***", "?" + parts.query)[1:] if parts.query else ""
    shown = urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))
    return redact(shown, token)


@dataclass(frozen=True)
class _Source:
    display: str  # redacted, for messages and the mirror name
    url: str  # what git is given: a URL without credentials, or an absolute local path
    local: bool
    auth_header: str | None  # "Authorization: Basic …" scoped to url's host, or None
    secrets: tuple[str, ...]
    # ssh remotes: the token as "Authorization: Basic …" for the HTTPS Git LFS endpoint that
    # git-lfs derives from the remote (lfs.derived_endpoint); never used for git itself.
    lfs_auth_header: str | None = None

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = redact(text, secret)
        return redact(text)


def _parse_source(repo: str, token: str | None) -> _Source | Path:
    """Classify the address; a Path means a plain folder (no git)."""
    secrets = tuple(s for s in (token,) if s)
    display = describe_source(repo, token)
    if not repo or repo.startswith("-") or any(ord(c) < 32 for c in repo):
        raise FetchError(f"invalid repository address: {display!r}")
    if _TRANSPORT_HELPER.match(repo):
        raise FetchError(f"transport not allowed: {display}")
    scheme_match = _URL_SCHEME.match(repo)
    if scheme_match:
        scheme = scheme_match.group(1).lower()
        if scheme not in ALLOWED_SCHEMES:
            raise FetchError(f"transport not allowed: {display}")
        if scheme == "file":
            path = Path(urllib.parse.unquote(urllib.parse.urlsplit(repo).path))
            return _local_source(path, display)
        return _remote_source(repo, scheme, token, display)
    if not repo.startswith("/") and _SCP_LIKE.match(repo):
        # git@host:org/x.git is ssh
        return _Source(display, repo, False, None, secrets, _token_basic(token))
    return _local_source(Path(repo).absolute(), display)


def _remote_source(repo: str, scheme: str, token: str | None, display: str) -> _Source:
    try:
        parts = urllib.parse.urlsplit(repo)
        host = parts.hostname
        _ = parts.port  # raises on a malformed port
    except ValueError:
        raise FetchError(f"invalid repository address: {display}") from None
    if not host:
        raise FetchError(f"invalid repository address: {display}")
    user = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password) if parts.password else None
    if scheme in ("ssh", "git"):
        # ssh keeps its user name (git@…); a password there is useless, so drop it.
        netloc = parts.netloc.rsplit("@", 1)[-1]
        netloc = f"{user}@{netloc}" if user else netloc
        url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
        return _Source(
            display, url, False, None, tuple(s for s in (password, token) if s), _token_basic(token)
        )
    netloc = parts.netloc.rsplit("@", 1)[-1]
    url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    basic: str | None = None
    if user is not None or password is not None:
        basic = f"{user or ''}:{password or ''}"  # the address's own credentials win
    elif token and scheme == "https":  # never send the token in clear text over http
        basic = f"x-access-token:{token}"
    header = None
    if basic is not None:
        header = "Authorization: Basic " + base64.b64encode(basic.encode()).decode()
    secrets = [s for s in (parts.password, password, token) if s]
    if password is None:  # a lone user name is usually a token: https://TOKEN@github.com/…
        secrets += [s for s in (parts.username, user) if s]
    return _Source(display, url, False, header, tuple(secrets))


def _token_basic(token: str | None) -> str | None:
    if not token:
        return None
    return "Authorization: Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()


def _local_source(path: Path, display: str) -> _Source | Path:
    if not path.exists():
        raise FetchError(f"repository not found: {display}")
    if not path.is_dir():
        raise FetchError(f"not a folder or git repository: {display}")
    is_bare = (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()
    if not (path / ".git").exists() and not is_bare:
        return path
    return _Source(display, str(path), True, None, ())


class _Git:
    """Runs hardened git commands for one source, with a timeout and redacted errors."""

    def __init__(self, source: _Source, timeout_s: float) -> None:
        self.source = source
        self.timeout_s = timeout_s
        self._git = gitpython.Git()
        ssh = os.environ.get("GIT_SSH_COMMAND") or "ssh"
        self.env = {
            "GIT_ALLOW_PROTOCOL": "https:http:ssh:git:file",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "",
            "SSH_ASKPASS": "",
            "GCM_INTERACTIVE": "never",
            "GIT_LFS_SKIP_SMUDGE": "1",
            "GIT_SSH_COMMAND": f"{ssh} -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
        }
        if source.auth_header:
            parts = urllib.parse.urlsplit(source.url)
            # Scoped to the host so a redirect elsewhere never receives the credentials.
            self.env.update(
                GIT_CONFIG_COUNT="1",
                GIT_CONFIG_KEY_0=f"http.{parts.scheme}://{parts.netloc}/.extraHeader",
                GIT_CONFIG_VALUE_0=source.auth_header,
            )

    def run(self, args: list[str], what: str) -> bytes:
        """Run git; raise FetchError naming `what` with git's redacted reason on failure."""
        status, out, err = self.try_run(args, what)
        if status != 0:
            raise FetchError(self._explain(what, err))
        return out

    def try_run(self, args: list[str], what: str) -> tuple[int, bytes, str]:
        command: list[str] = [str(self._git.GIT_PYTHON_GIT_EXECUTABLE or "git")]
        for flag in _HARDENING:
            command += ["-c", flag]
        started = time.monotonic()
        try:
            result: Any = self._git.execute(
                command + args,
                with_extended_output=True,
                with_exceptions=False,
                stdout_as_string=False,
                kill_after_timeout=self.timeout_s,
                env=self.env,
            )
        except gitpython.GitCommandNotFound:
            raise InfrastructureError("the git executable was not found") from None
        status, out, err = result
        err_text = err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err or "")
        out_bytes = out if isinstance(out, bytes) else str(out or "").encode()
        if status != 0 and (
            err_text.startswith("Timeout:") or time.monotonic() - started >= self.timeout_s
        ):
            raise FetchError(f"{what} timed out after {self.timeout_s:g} s")
        return int(status or 0), out_bytes, err_text

    def _explain(self, what: str, stderr: str) -> str:
        where = self.source.display
        low = _without_addresses(stderr).lower()
        if any(
            s in low
            for s in (
                "repository not found",
                "does not appear to be a git repository",
                "not found",
                "no such file or directory",
            )
        ):
            hint = "" if self.source.local else " (or no access)"
            return f"repository not found: {where}{hint}"
        status = _HTTP_STATUS.search(low)
        if any(s in low for s in ("authentication failed", "could not read username")) or (
            status is not None and status.group(1) in ("401", "403")
        ):
            return f"authentication failed for {where} (set REPOGRADER_GIT_TOKEN?)"
        if any(
            s in low for s in ("could not resolve host", "failed to connect", "connection refused")
        ):
            return f"could not connect to {where}"
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        reason = lines[-1] if lines else "unknown error"
        return self.source.redact(f"{what} failed for {where}: {reason}")[:500]


# git's own wording for an HTTP failure (http.c: "The requested URL returned error: %d").
_HTTP_STATUS = re.compile(r"the requested url returned error: (\d{3})\b")
_QUOTED_OR_URL = re.compile(r"'[^'\n]*'|\b[A-Za-z][A-Za-z0-9+.\-]*://\S+")


def _without_addresses(stderr: str) -> str:
    """git's message with every quoted string and URL replaced: an address that contains
    "401" (a port 18401) or "not found" must not decide what went wrong."""
    return _QUOTED_OR_URL.sub("<address>", stderr)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # flock excludes other threads too: each open() is its own open file description.
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _mirror_name(display: str) -> str:
    digest = hashlib.sha256(display.encode()).hexdigest()[:16]
    tail = "-".join(display.rstrip("/").replace(":", "/").split("/")[-2:])
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", tail.removesuffix(".git")).strip("-.")[:40]
    return f"{slug or 'repo'}-{digest}"


def _is_mirror(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "config").is_file()


@dataclass(frozen=True)
class _Commit:
    sha: str
    timestamp: int
    date: str
    subject: str


def fetch(
    repo: str, ref: str | None, deadline: datetime | None, dest: Path, options: FetchOptions
) -> model.Checkout:
    """Update the cached mirror of `repo` and write the graded commit's tree into `dest`."""
    source = _parse_source(repo, options.token)
    if isinstance(source, Path):
        # Returned in place, not copied: later stages only read it, the sandbox copies it.
        return model.Checkout(
            path=source,
            commit=None,
            commit_date=None,
            notes=("plain folder: no commit and no deadline",),
        )
    if ref is not None and (not ref or ref.startswith("-") or any(ord(c) < 32 for c in ref)):
        raise FetchError(f"invalid ref {source.redact(ref)!r}")
    options.cache_dir.mkdir(parents=True, exist_ok=True)
    name = _mirror_name(source.display)
    mirror = options.cache_dir / f"{name}.git"
    runner = _Git(source, options.timeout_s)
    notes: list[str] = []
    with _locked(options.cache_dir / f"{name}.lock"):
        if _is_mirror(mirror):
            if options.offline:
                notes.append("offline: graded the cached mirror without fetching")
            else:
                _update_mirror(runner, mirror, update_head=ref is None)
        elif options.offline and not source.local:
            raise FetchError(f"offline and no cached mirror of {source.display}")
        else:
            _clone_mirror(runner, mirror)
        tip = _resolve(runner, mirror, ref)
        chosen, late = _select(_history(runner, mirror, tip), deadline, source.display)
        lfs = _materialise(runner, mirror, chosen.sha, dest, notes, options.max_checkout_bytes)
        history = _commit_stats(runner, mirror, chosen.sha, notes)
    if lfs and options.fetch_lfs:
        lfs = _fetch_lfs(source, dest, lfs, options, notes)
    return model.Checkout(
        path=dest,
        commit=chosen.sha,
        commit_date=chosen.date,
        late_commits=tuple(model.LateCommit(c.sha, c.date, c.subject) for c in late),
        lfs_pointers=lfs,
        notes=_capped(notes),
        history=history,
    )


# Contribution figures stop here; a student history is far shorter, a vendored fork is not.
MAX_HISTORY_COMMITS = 5000


def _commit_stats(
    runner: _Git, mirror: Path, commit: str, notes: list[str]
) -> tuple[model.CommitStat, ...]:
    """Author, parents and per-file line counts of every commit reachable from ``commit``.

    ``git log --numstat`` without renames (a rename counts as removed + added) and without merge
    diffs (a merge has no files of its own). Newest first; at most MAX_HISTORY_COMMITS.
    A failure is a note, never a lost group: contributions are not part of the score.
    """
    fmt = "--format=%x1e%H%x1f%an%x1f%ae%x1f%aI%x1f%P"
    args = [f"--git-dir={mirror}", "-c", "core.quotePath=false", "log", "--numstat"]
    args += ["--no-renames", f"--max-count={MAX_HISTORY_COMMITS}", fmt, commit, "--"]
    status, out, err = runner.try_run(args, "read")
    if status != 0:
        notes.append(f"contributions: git log failed: {runner.source.redact(err.strip())[:200]}")
        return ()
    stats = []
    for record in out.decode("utf-8", "replace").split("\x1e")[1:]:
        head, _, body = record.partition("\n")
        fields = head.split("\x1f")
        if len(fields) != 5:
            continue
        files = []
        for line in body.splitlines():
            parts = line.split("\t", 2)
            if len(parts) != 3:
                continue
            added, removed, path = parts
            files.append(
                model.FileChange(
                    path=path,
                    added=int(added) if added.isdigit() else None,
                    removed=int(removed) if removed.isdigit() else None,
                )
            )
        stats.append(
            model.CommitStat(
                sha=fields[0],
                author_name=fields[1],
                author_email=fields[2],
                date=fields[3],
                parents=len(fields[4].split()),
                files=tuple(files),
            )
        )
    if len(stats) >= MAX_HISTORY_COMMITS:
        notes.append(f"contributions: only the newest {MAX_HISTORY_COMMITS} commits counted")
    return tuple(stats)


def _fetch_lfs(
    source: _Source, dest: Path, pointers: tuple[str, ...], options: FetchOptions, notes: list[str]
) -> tuple[str, ...]:
    """Fetch LFS objects with the clone's credentials; return the paths still pointers."""
    if source.local:
        outcome = lfs_fetch.fetch_objects(dest, pointers, local_repo=Path(source.url))
    elif options.offline:
        notes.append("offline: Git LFS content not fetched")
        return pointers
    else:
        outcome = lfs_fetch.fetch_objects(
            dest,
            pointers,
            url=source.url,
            auth_header=source.auth_header or source.lfs_auth_header,
            timeout_s=min(options.timeout_s, 120.0),
        )
    notes.extend(source.redact(n) for n in outcome.notes)
    if outcome.fetched:
        notes.append(f"Git LFS: fetched {len(outcome.fetched)} object(s)")
    return tuple(p for p in pointers if p not in outcome.fetched)


def _clone_mirror(runner: _Git, mirror: Path) -> None:
    log.info("cloning %s into the mirror cache", runner.source.display)
    partial = mirror.with_name(mirror.name + ".partial")
    for stale in (partial, mirror):
        shutil.rmtree(stale, ignore_errors=True)
    # --no-local: read a local repository through upload-pack, never hard-link or copy its files.
    local = ["--no-local"] if runner.source.local else []
    try:
        runner.run(
            ["clone", "--mirror", "--quiet", *local, "--", runner.source.url, str(partial)], "clone"
        )
        partial.rename(mirror)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _update_mirror(runner: _Git, mirror: Path, *, update_head: bool) -> None:
    log.info("fetching %s into its cached mirror", runner.source.display)
    git_dir = f"--git-dir={mirror}"
    runner.run([git_dir, "fetch", "--prune", "--quiet", "origin"], "fetch")
    if not update_head:
        return
    # A mirror fetch leaves HEAD alone; follow the remote if its default branch changed.
    status, out, _ = runner.try_run([git_dir, "ls-remote", "--symref", "origin", "HEAD"], "fetch")
    first = out.decode("utf-8", "replace").splitlines()[:1] if status == 0 else []
    if first and first[0].startswith("ref: ") and "\t" in first[0]:
        target = first[0][5:].split("\t", 1)[0]
        if target.startswith("refs/heads/"):
            runner.try_run([git_dir, "symbolic-ref", "HEAD", target], "fetch")


def _resolve(runner: _Git, mirror: Path, ref: str | None) -> str:
    git_dir = f"--git-dir={mirror}"
    if ref is None:
        candidates = ["HEAD"]
    elif ref.startswith("refs/"):
        candidates = [ref]
    else:
        candidates = [f"refs/heads/{ref}", f"refs/tags/{ref}", ref]
    for candidate in candidates:
        args = [git_dir, "rev-parse", "--verify", "--quiet", "--end-of-options"]
        status, out, _ = runner.try_run([*args, f"{candidate}^{{commit}}"], "read")
        if status == 0 and out.strip():
            return out.decode().strip()
    # Asked only now: one git process less per group when the ref resolves (the usual case).
    if not runner.run([git_dir, "for-each-ref", "--count=1"], "read").strip():
        raise FetchError("repository is empty (no commits)")
    if ref is None:
        raise FetchError(f"the default branch of {runner.source.display} has no commits")
    raise FetchError(f"ref {runner.source.redact(ref)!r} not found in {runner.source.display}")


def _history(runner: _Git, mirror: Path, tip: str) -> list[_Commit]:
    fmt = "--format=%H%x1f%ct%x1f%cI%x1f%s%x00"
    out = runner.run([f"--git-dir={mirror}", "log", fmt, tip, "--"], "read")
    commits = []
    for record in out.decode("utf-8", "replace").split("\x00"):
        fields = record.lstrip("\n").split("\x1f", 3)
        if len(fields) == 4:
            commits.append(_Commit(fields[0], int(fields[1]), fields[2], fields[3]))
    return commits


def _select(
    commits: list[_Commit], deadline: datetime | None, where: str
) -> tuple[_Commit, list[_Commit]]:
    """The newest commit at or before the deadline (committer date), and those after it."""
    if deadline is None:
        return commits[0], []
    if deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=UTC)  # contract: deadlines carry an offset
    limit = deadline.timestamp()
    on_time = [c for c in commits if c.timestamp <= limit]
    if not on_time:
        raise FetchError(f"no commit at or before the deadline {deadline.isoformat()} in {where}")
    chosen = max(on_time, key=lambda c: c.timestamp)  # ties: the one nearest the tip
    late = sorted((c for c in commits if c.timestamp > limit), key=lambda c: -c.timestamp)
    return chosen, late


@dataclass(frozen=True)
class _Entry:
    mode: str
    kind: str
    sha: str
    size: int
    path: str


def _list_tree(runner: _Git, mirror: Path, commit: str) -> list[_Entry]:
    out = runner.run(
        [f"--git-dir={mirror}", "ls-tree", "-r", "-l", "-z", "--full-tree", commit], "read"
    )
    entries = []
    for record in out.split(b"\x00"):
        meta, sep, raw_path = record.partition(b"\t")
        fields = meta.split()
        if not sep or len(fields) != 4:
            continue
        size = int(fields[3]) if fields[3].isdigit() else 0
        entries.append(
            _Entry(
                fields[0].decode(),
                fields[1].decode(),
                fields[2].decode(),
                size,
                os.fsdecode(raw_path),
            )
        )
    return entries


def _materialise(
    runner: _Git, mirror: Path, commit: str, dest: Path, notes: list[str], max_bytes: int
) -> tuple[str, ...]:
    """Write the commit's tree into dest from the mirror's objects; return LFS pointer paths."""
    entries = _list_tree(runner, mirror, commit)
    total = sum(e.size for e in entries if e.kind == "blob")
    if total > max_bytes or len(entries) > MAX_CHECKOUT_FILES:
        raise FetchError(
            f"repository too large: {len(entries)} files, {total / 1e6:.0f} MB at {commit[:12]}"
        )
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ValueError(f"destination folder is not empty: {dest}")
    lfs: list[str] = []
    repo = gitpython.Repo(str(mirror))
    try:
        for entry in entries:
            parts = entry.path.split("/")
            if any(p in ("", ".", "..") or p.lower() == ".git" for p in parts):
                notes.append(f"skipped unsafe path: {entry.path!r}")
                continue
            try:
                _write_entry(repo, dest, parts, entry, notes, lfs)
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                    raise InfrastructureError(f"cannot write checkout to {dest}: {exc}") from exc
                notes.append(f"skipped {entry.path!r}: {exc.strerror or exc}")
    finally:
        repo.close()
    return tuple(lfs)


def _write_entry(
    repo: Any, dest: Path, parts: list[str], entry: _Entry, notes: list[str], lfs: list[str]
) -> None:
    parent = dest
    for part in parts[:-1]:
        parent = parent / part
        with contextlib.suppress(FileExistsError):
            parent.mkdir(mode=0o755)
        # Never write through a symlink the tree itself created.
        if not stat.S_ISDIR(os.lstat(parent).st_mode):
            notes.append(f"skipped {entry.path!r}: a parent is not a folder")
            return
    target = parent / parts[-1]
    if entry.mode == "160000":
        target.mkdir(mode=0o755, exist_ok=True)
        notes.append(f"submodule not fetched: {entry.path} (commit {entry.sha[:12]})")
        return
    if entry.kind != "blob" or entry.mode not in ("100644", "100755", "100664", "120000"):
        notes.append(f"skipped {entry.path!r}: unsupported entry mode {entry.mode}")
        return
    stream: IO[bytes] = repo.odb.stream(bytes.fromhex(entry.sha))
    if entry.mode == "120000":
        link = stream.read()
        if b"\x00" in link or len(link) > 4096 or not link:
            notes.append(f"skipped symlink {entry.path!r}: invalid target")
            return
        os.symlink(os.fsdecode(link), target)  # kept as a link; readers never follow it
        return
    mode = 0o755 if entry.mode == "100755" else 0o644
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(target, flags, mode)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(fd, mode)
        head = stream.read(LFS_POINTER_MAX_BYTES)
        out.write(head)
        shutil.copyfileobj(stream, out, 1024 * 1024)
    if entry.size < LFS_POINTER_MAX_BYTES and head.startswith(LFS_POINTER_PREFIX):
        lfs.append(entry.path)


def _capped(notes: list[str]) -> tuple[str, ...]:
    if len(notes) <= MAX_NOTES:
        return tuple(notes)
    return (*notes[:MAX_NOTES], f"... and {len(notes) - MAX_NOTES} more")


# --- snapshots and students' self-checks ------------------------------------------------------


def resolve_commit(repo: str, ref: str | None, options: FetchOptions) -> tuple[str, str] | None:
    """Update the mirror of `repo`; return (sha, committer date) of `ref`'s tip, None if no git.

    No deadline and no tree: a snapshot records what the remote holds *now*, by our clock.
    """
    source = _parse_source(repo, options.token)
    if isinstance(source, Path):
        return None
    if ref is not None and (not ref or ref.startswith("-") or any(ord(c) < 32 for c in ref)):
        raise FetchError(f"invalid ref {source.redact(ref)!r}")
    options.cache_dir.mkdir(parents=True, exist_ok=True)
    name = _mirror_name(source.display)
    mirror = options.cache_dir / f"{name}.git"
    runner = _Git(source, options.timeout_s)
    with _locked(options.cache_dir / f"{name}.lock"):
        if _is_mirror(mirror):
            if not options.offline:
                _update_mirror(runner, mirror, update_head=ref is None)
        elif options.offline and not source.local:
            raise FetchError(f"offline and no cached mirror of {source.display}")
        else:
            _clone_mirror(runner, mirror)
        tip = _resolve(runner, mirror, ref)
        date = runner.run([f"--git-dir={mirror}", "log", "-1", "--format=%cI", tip, "--"], "read")
    return tip, date.decode("utf-8", "replace").strip()


_FILTER_KEY = re.compile(r"^filter\.(.+)\.(?:clean|smudge|process|required)$", re.IGNORECASE)


def _worktree_runner(path: Path) -> tuple[_Git, list[str]] | None:
    """A hardened git runner for a student's local work tree, or None when `path` is not in one.

    The tree and its repository are the student's: its ``.gitattributes`` may name a filter
    whose commands its own ``.git/config`` defines, and ``git status`` runs a clean filter on
    files newer than the index. So every filter driver that any config git would read defines
    is switched off on the command line (``-c`` wins over every config file), on top of
    ``_HARDENING`` (no hooks, no fsmonitor); ``--git-dir``/``--work-tree`` are explicit so a
    ``core.worktree`` cannot point git elsewhere. Reading the config list runs nothing.
    """
    if not (path / ".git").exists():
        return None
    source = _Source(str(path), str(path), True, None, ())
    runner = _Git(source, 60.0)
    where = [f"--git-dir={path / '.git'}", f"--work-tree={path}"]
    status, out, _ = runner.try_run([*where, "config", "--list", "-z", "--name-only"], "config")
    if status != 0:
        return None
    drivers = sorted(
        {
            match.group(1)
            for key in out.decode("utf-8", "replace").split("\x00")
            if (match := _FILTER_KEY.match(key.strip()))
        }
    )
    off: list[str] = []
    for driver in drivers:
        for key in ("clean", "smudge", "process"):
            off += ["-c", f"filter.{driver}.{key}="]
        off += ["-c", f"filter.{driver}.required=false"]
    return runner, [*off, *where]


def uncommitted_changes(path: Path) -> tuple[str, ...] | None:
    """Paths with changes not in HEAD (modified, staged, untracked); None if not a git work tree."""
    found = _worktree_runner(path)
    if found is None:
        return None
    runner, where = found
    status, out, _ = runner.try_run(
        [*where, "status", "--porcelain=v1", "-z", "--untracked-files=all"], "status"
    )
    if status != 0:
        return None
    paths: list[str] = []
    records = out.split(b"\x00")
    i = 0
    while i < len(records):
        record = records[i]
        i += 1
        if len(record) < 4:
            continue
        paths.append(os.fsdecode(record[3:]))
        if record[:1] in (b"R", b"C"):
            i += 1  # a rename's source path follows as its own record
    return tuple(paths)


def worktree_files(path: Path) -> tuple[str, ...] | None:
    """Files `git add -A` would commit (tracked and untracked, minus ignored); None if no git."""
    found = _worktree_runner(path)
    if found is None:
        return None
    runner, where = found
    status, out, _ = runner.try_run(
        [*where, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], "ls-files"
    )
    if status != 0:
        return None
    return tuple(sorted({os.fsdecode(p) for p in out.split(b"\x00") if p}))
