"""Running git through GitPython (with :mod:`.tree`, the package's only GitPython users).

Every call is hardened (hooks off, ext/fd transports refused, no prompts, LFS filters off), has
a timeout, and its errors lose their addresses.
"""

from __future__ import annotations

import logging
import os
import re
import time
import urllib.parse
from typing import Any

import git as gitpython

from repograder.errors import FetchError, InfrastructureError
from repograder.git.source import _Source

log = logging.getLogger(__name__)

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
