"""Fetch the Git LFS objects of a checkout, without git-lfs and without running anything.

A checkout made from git objects holds LFS *pointers* (``version https://git-lfs...``, an
``oid sha256:...`` and a ``size``) instead of the data. This module replaces them with the
objects, safely: no filter, hook or program of the student's repository runs (the batch API
is spoken here, in Python), every object is size-capped and verified by its SHA-256, and
the server gets the same credentials as the clone (the batch request only; downloads get the
headers the server hands out). Sources, per the Git LFS spec (git-lfs/docs/api/batch.md):

- a local repository: ``.git/lfs/objects/<oid[0:2]>/<oid[2:4]>/<oid>`` (bare: ``lfs/...``);
- an http(s) remote: ``POST <url>.git/info/lfs/objects/batch`` with operation ``download``;
- an ssh remote (``ssh://[user@]host[:port]/path`` or ``[user@]host:path``), as git-lfs does
  (git-lfs/docs/api/server-discovery.md, authentication.md): ``ssh [user@]host
  git-lfs-authenticate <path> download`` answers JSON with an optional ``href`` (the LFS
  endpoint) and ``header`` (e.g. a short-lived ``Authorization``) for the batch request; when
  ssh is not available or the server has no such command, the endpoint is derived,
  ``https://host/path.git/info/lfs``, with the clone's HTTPS credentials if any. Only the
  grader's own ``ssh`` runs (``GIT_SSH_COMMAND`` or ``ssh``, BatchMode, no prompt, a timeout),
  host, user and path are checked to be plain names first (the remote end joins the words into
  a shell command), and a header from ``git-lfs-authenticate`` goes only to an https endpoint
  (or http on the loopback interface, where nothing leaves the machine). The clone's own
  credentials go only to the remote's host: an endpoint on another host named without a header
  gets none.

Whatever cannot be fetched stays a pointer and is reported (the steps that read it get a hint
and a human decides, see runner.lfs_hint).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from repograder import fsutil

_POINTER = re.compile(
    rb"^version https://git-lfs\.github\.com/spec/v1\n(?:.*\n)*?oid sha256:([0-9a-f]{64})\n"
    rb"(?:.*\n)*?size (\d{1,15})\n",
)
MEDIA_TYPE = "application/vnd.git-lfs+json"
MAX_OBJECT_BYTES = 200_000_000
MAX_TOTAL_BYTES = 500_000_000
MAX_OBJECTS = 200


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are refused: urllib would carry the Authorization header to another host."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Pointer:
    """One pointer file of the checkout: its repo-relative path, object id and size."""

    path: str
    oid: str
    size: int


@dataclass(frozen=True)
class Outcome:
    """``fetched``: paths whose content was written; ``notes``: what could not be and why."""

    fetched: tuple[str, ...]
    notes: tuple[str, ...]


def read_pointer(root: Path, rel: str) -> Pointer | None:
    """Parse a pointer file (at most 1 KiB); None when it is not one."""
    head = fsutil.read_bytes(root, rel, 1024)
    if head is None:
        return None
    match = _POINTER.match(head)
    return Pointer(rel, match.group(1).decode(), int(match.group(2))) if match else None


def fetch_objects(
    dest: Path,
    paths: Sequence[str],
    *,
    local_repo: Path | None = None,
    url: str | None = None,
    auth_header: str | None = None,
    timeout_s: float = 60.0,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    ssh_command: Sequence[str] | None = None,
) -> Outcome:
    """Replace the pointers at ``paths`` in ``dest`` with their objects where possible.

    ``auth_header`` (``"Authorization: Basic ..."``) goes to the batch endpoint of an http(s)
    remote, or of the HTTPS endpoint derived from an ssh remote. ``ssh_command``: the ssh
    program and its options (default: ``$GIT_SSH_COMMAND`` split like a shell, else ``ssh``).
    """
    pointers = [p for p in (read_pointer(dest, rel) for rel in paths[:MAX_OBJECTS]) if p]
    notes: list[str] = []
    if len(paths) > MAX_OBJECTS:
        notes.append(f"Git LFS: only the first {MAX_OBJECTS} of {len(paths)} pointers fetched")
    fetched: list[str] = []
    budget = max_total_bytes
    wanted: list[Pointer] = []
    for pointer in pointers:
        if pointer.size > MAX_OBJECT_BYTES or pointer.size > budget:
            notes.append(f"Git LFS: {pointer.path} not fetched ({pointer.size} bytes: too large)")
            continue
        budget -= pointer.size
        wanted.append(pointer)
    if local_repo is not None:
        for pointer in wanted:
            data = _local_object(local_repo, pointer)
            if data is not None and _write(dest, pointer, data):
                fetched.append(pointer.path)
    elif url is not None and url.startswith(("https://", "http://")) and wanted:
        headers = _auth_headers(auth_header)
        fetched += _remote(dest, wanted, _batch_url(url), headers, timeout_s, notes)
    elif url is not None and wanted and (remote := parse_ssh_remote(url)) is not None:
        batch, headers = ssh_endpoint(remote, auth_header, timeout_s, notes, ssh_command)
        fetched += _remote(dest, wanted, batch, headers, timeout_s, notes)
    missing = [p.path for p in wanted if p.path not in fetched]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        notes.append(f"Git LFS content not fetched: {shown}")
    return Outcome(tuple(fetched), tuple(notes))


def _local_object(repo: Path, pointer: Pointer) -> bytes | None:
    oid = pointer.oid
    for base in (repo / ".git" / "lfs" / "objects", repo / "lfs" / "objects"):
        path = base / oid[:2] / oid[2:4] / oid
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size != pointer.size:
                continue
            with path.open("rb") as handle:
                return handle.read(pointer.size + 1)
        except OSError:
            continue
    return None


def _write(dest: Path, pointer: Pointer, data: bytes) -> bool:
    """Verify size and SHA-256, then replace the pointer file atomically (never via a link)."""
    if len(data) != pointer.size or hashlib.sha256(data).hexdigest() != pointer.oid:
        return False
    target = dest / pointer.path
    if target.is_symlink() or not target.is_file():
        return False
    mode = target.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".lfs-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return False
    return True


def _batch_url(url: str) -> str:
    base = url.rstrip("/")
    return (base if base.endswith(".git") else base + ".git") + "/info/lfs/objects/batch"


def _auth_headers(auth_header: str | None) -> dict[str, str]:
    if not auth_header:
        return {}
    name, _, value = auth_header.partition(": ")
    return {name: value}


# ---------------------------------------------------------------------------------------------
# ssh remotes

_SSH_URL = re.compile(
    r"^(?:ssh|git\+ssh|ssh\+git)://(?:(?P<user>[^@/]+)@)?(?P<host>[^/:]+|\[[0-9a-fA-F:]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?(?P<path>/.*)\Z"
)
# \Z, not $: `$` also matches before a final newline, which would reach the remote shell.
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^/:]+):(?P<path>(?!/).*|/.*)\Z")
_PLAIN_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})\Z")
_PLAIN_USER = re.compile(r"^[A-Za-z0-9._-]{1,64}\Z")
_PLAIN_PATH = re.compile(r"^/?[A-Za-z0-9._~-][A-Za-z0-9._~/-]{0,400}\Z")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
MAX_AUTH_OUTPUT = 65_536


@dataclass(frozen=True)
class SshRemote:
    """An ssh remote's parts: ``user`` (may be None), ``host``, ``port`` and repository ``path``."""

    user: str | None
    host: str
    port: int | None
    path: str

    @property
    def destination(self) -> str:
        """``user@host`` or ``host``: ssh's destination argument."""
        return f"{self.user}@{self.host}" if self.user else self.host


def parse_ssh_remote(url: str) -> SshRemote | None:
    """The parts of ``ssh://[user@]host[:port]/path`` or ``[user@]host:path``; None otherwise.

    Also None when a part is not a plain name (a host starting with ``-`` would be an ssh
    option, a path with spaces or ``;`` would reach the remote shell).
    """
    match = _SSH_URL.match(url)
    if match is None and "://" not in url:
        match = _SCP_LIKE.match(url)
    if match is None:
        return None
    user, host, path = match.group("user"), match.group("host"), match.group("path")
    port_text = match.groupdict().get("port")
    port = int(port_text) if port_text else None
    if not _PLAIN_HOST.match(host) or (user is not None and not _PLAIN_USER.match(user)):
        return None
    if not _PLAIN_PATH.match(path) or ".." in path.split("/"):
        return None
    if port is not None and not 1 <= port <= 65535:
        return None
    if path.startswith("/") and match.re is _SSH_URL:
        path = path[1:]  # ssh://host/org/x.git -> org/x.git, as git-lfs sends it
    return SshRemote(user, host, port if port_text else None, path)


def derived_endpoint(remote: SshRemote) -> str:
    """The LFS endpoint git-lfs guesses for an ssh remote: ``https://host/path.git/info/lfs``.

    The ssh port is not the HTTPS port, so it is left out (git-lfs does the same).
    """
    path = remote.path.strip("/")
    path = path if path.endswith(".git") else path + ".git"
    return f"https://{remote.host}/{path}/info/lfs"


def _default_ssh() -> list[str]:
    try:
        return shlex.split(os.environ.get("GIT_SSH_COMMAND") or "ssh")
    except ValueError:
        return ["ssh"]


def ssh_authenticate(
    remote: SshRemote, timeout_s: float, ssh_command: Sequence[str] | None = None
) -> tuple[str | None, dict[str, str]] | None:
    """Run ``git-lfs-authenticate <path> download`` on the ssh server: (href, header) or None.

    None when ssh fails, times out or answers no JSON object; ``href`` is None when the
    server names no endpoint (then the derived one is used with the header).
    """
    argv = [*(ssh_command or _default_ssh())]
    argv += ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new"]
    argv += ["-p", str(remote.port)] if remote.port else []
    argv += ["--", remote.destination, "git-lfs-authenticate", remote.path, "download"]
    env = dict(os.environ, SSH_ASKPASS="", GIT_TERMINAL_PROMPT="0", DISPLAY="")
    output = _run_capped(argv, env, timeout_s)
    if output is None:
        return None
    try:
        answer = json.loads(output)
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    href = answer.get("href")
    header = answer.get("header")
    headers = {
        str(k): str(v)
        for k, v in (header.items() if isinstance(header, dict) else [])
        if "\n" not in f"{k}{v}" and "\r" not in f"{k}{v}"
    }
    return (href if isinstance(href, str) else None), headers


def _run_capped(argv: list[str], env: dict[str, str], timeout_s: float) -> bytes | None:
    """stdout of a successful run, at most MAX_AUTH_OUTPUT bytes read, within ``timeout_s``."""
    try:
        # the grader's own ssh; host, user and path were checked to be plain names
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    except OSError:
        return None
    chunks: list[bytes] = []
    assert proc.stdout is not None
    stdout = proc.stdout
    reader = threading.Thread(
        target=lambda: chunks.append(stdout.read(MAX_AUTH_OUTPUT + 1)), daemon=True
    )
    reader.start()
    reader.join(timeout_s)
    too_much = bool(chunks) and len(chunks[0]) > MAX_AUTH_OUTPUT
    if reader.is_alive() or too_much:
        proc.kill()
    try:
        status = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return None
    finally:
        stdout.close()
    if status != 0 or too_much or not chunks:
        return None
    return chunks[0]


def _safe_for_headers(endpoint: str) -> bool:
    if endpoint.startswith("https://"):
        return True
    host = urllib.parse.urlsplit(endpoint).hostname or ""
    return endpoint.startswith("http://") and host in _LOOPBACK


def ssh_endpoint(
    remote: SshRemote,
    auth_header: str | None,
    timeout_s: float,
    notes: list[str],
    ssh_command: Sequence[str] | None = None,
) -> tuple[str, dict[str, str]]:
    """(batch URL, headers) for an ssh remote: git-lfs-authenticate's answer, else derived."""
    auth = ssh_authenticate(remote, timeout_s, ssh_command)
    derived = derived_endpoint(remote)
    if auth is None:
        notes.append(f"Git LFS: git-lfs-authenticate over ssh did not answer; trying {derived}")
        return derived + "/objects/batch", _auth_headers(auth_header)
    href, headers = auth
    endpoint = (href or derived).rstrip("/")
    if not _safe_for_headers(endpoint):
        notes.append("Git LFS: git-lfs-authenticate named an endpoint that is not https: ignored")
        return derived + "/objects/batch", _auth_headers(auth_header)
    if headers:
        return endpoint + "/objects/batch", headers
    if not _same_origin(endpoint, derived):
        # The clone's credentials are for the remote's host; the remote end must not be able
        # to send them elsewhere by naming another endpoint without a header of its own.
        notes.append(
            "Git LFS: git-lfs-authenticate named an endpoint on another host without "
            "credentials: the clone's credentials are not sent there"
        )
        return endpoint + "/objects/batch", {}
    return endpoint + "/objects/batch", _auth_headers(auth_header)


def _same_origin(url: str, other: str) -> bool:
    """Same scheme, host and port (RFC 6454 origin), user-info ignored."""
    try:
        a, b = urllib.parse.urlsplit(url), urllib.parse.urlsplit(other)
        return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
    except ValueError:
        return False


def _remote(
    dest: Path,
    wanted: Sequence[Pointer],
    batch: str,
    auth: dict[str, str],
    timeout_s: float,
    notes: list[str],
) -> list[str]:
    body = json.dumps(
        {
            "operation": "download",
            "transfers": ["basic"],
            "objects": [{"oid": p.oid, "size": p.size} for p in wanted],
        }
    ).encode()
    headers = {"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE, **auth}
    if not batch.startswith(("https://", "http://")):
        return []
    request = urllib.request.Request(batch, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            answer = json.loads(response.read(5_000_000))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        notes.append(f"Git LFS batch request failed: {type(exc).__name__}")
        return []
    by_oid = {p.oid: p for p in wanted}
    fetched: list[str] = []
    objects = answer.get("objects") if isinstance(answer, dict) else None
    for item in objects if isinstance(objects, list) else []:
        if not isinstance(item, dict) or item.get("oid") not in by_oid:
            continue
        pointer = by_oid[str(item["oid"])]
        action = (item.get("actions") or {}).get("download") if isinstance(item, dict) else None
        href = action.get("href") if isinstance(action, dict) else None
        if not isinstance(href, str) or not href.startswith(("https://", "http://")):
            continue
        extra = action.get("header") if isinstance(action, dict) else None
        get_headers = {
            str(k): str(v) for k, v in (extra.items() if isinstance(extra, dict) else [])
        }
        try:
            get = urllib.request.Request(href, headers=get_headers)  # noqa: S310 - http(s) only
            with _OPENER.open(get, timeout=timeout_s) as response:
                data = response.read(pointer.size + 1)
        except (urllib.error.URLError, OSError, ValueError):
            continue
        for other in wanted:  # several paths may share one object
            if other.oid == pointer.oid and _write(dest, other, data):
                fetched.append(other.path)
    return fetched
