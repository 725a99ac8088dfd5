"""Where a repository comes from: allowed transports, the token as an HTTP header, and
redaction of credentials from anything we print or store.
"""

from __future__ import annotations

import base64
import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from repograder.errors import FetchError

ALLOWED_SCHEMES = frozenset({"https", "http", "ssh", "git", "file"})
MAX_CHECKOUT_BYTES = 4 * 1024**3
MAX_CHECKOUT_FILES = 200_000

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
