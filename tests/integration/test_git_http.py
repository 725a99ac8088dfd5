"""repograder.git over real HTTP(S) on 127.0.0.1: credentials are sent as a header, never stored."""

from __future__ import annotations

import base64
import functools
import http.server
import os
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from repograder import git as rgit
from repograder.errors import FetchError

SECRET = "SECRETtokenVALUE42"


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    config = home / "gitconfig"
    config.write_text(
        "[user]\n\tname = T\n\temail = t@example.org\n[init]\n\tdefaultBranch = main\n"
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(home))
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def run(cwd: Path, *args: str) -> str:
    env = dict(
        os.environ,
        GIT_AUTHOR_DATE="2026-03-01T10:00:00Z",
        GIT_COMMITTER_DATE="2026-03-01T10:00:00Z",
    )
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def served_root(tmp_path: Path) -> tuple[Path, str]:
    """A bare repository prepared for git's "dumb" HTTP protocol; returns (root, sha)."""
    work = tmp_path / "work"
    work.mkdir()
    run(work, "init", "-q")
    (work / "README.md").write_text("# served\n")
    run(work, "add", "-A")
    run(work, "commit", "-q", "-m", "served")
    sha = run(work, "rev-parse", "HEAD")
    root = tmp_path / "www"
    root.mkdir()
    run(tmp_path, "clone", "-q", "--bare", str(work), str(root / "repo.git"))
    run(root / "repo.git", "update-server-info")
    return root, sha


class Server:
    def __init__(self, root: Path, expected_auth: str, tls: ssl.SSLContext | None) -> None:
        self.seen: list[str | None] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                auth = self.headers.get("Authorization")
                outer.seen.append(auth)
                if auth != expected_auth:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                super().do_GET()

            def log_message(self, format: str, *args: object) -> None:
                pass

        handler = functools.partial(Handler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def http_server(served_root: tuple[Path, str]) -> Iterator[Server]:
    server = Server(served_root[0], basic("x-access-token", SECRET), None)
    yield server
    server.close()


def assert_no_secret_under(folder: Path) -> None:
    for path in folder.rglob("*"):
        assert SECRET not in path.name
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_url_credentials_are_sent_as_a_header_and_not_stored(
    tmp_path: Path, http_server: Server, served_root: tuple[Path, str]
) -> None:
    url = f"http://x-access-token:{SECRET}@127.0.0.1:{http_server.port}/repo.git"
    opts = rgit.FetchOptions(cache_dir=tmp_path / "cache", timeout_s=60)
    out = rgit.fetch(url, None, None, tmp_path / "d1", opts)
    assert out.commit == served_root[1]
    assert (tmp_path / "d1" / "README.md").read_text() == "# served\n"
    assert basic("x-access-token", SECRET) in http_server.seen
    # The update path sends it too, from the clean URL stored in the mirror.
    http_server.seen.clear()
    assert rgit.fetch(url, None, None, tmp_path / "d2", opts).commit == served_root[1]
    assert basic("x-access-token", SECRET) in http_server.seen
    assert_no_secret_under(tmp_path / "cache")


def test_wrong_or_missing_credentials_fail_cleanly(tmp_path: Path, http_server: Server) -> None:
    opts = rgit.FetchOptions(cache_dir=tmp_path / "cache", token=SECRET, timeout_s=60)
    # A token from the options is never sent over plain http.
    with pytest.raises(FetchError, match="authentication failed") as info:
        rgit.fetch(
            f"http://127.0.0.1:{http_server.port}/repo.git", None, None, tmp_path / "d", opts
        )
    assert SECRET not in str(info.value)
    assert all(seen is None for seen in http_server.seen)


def test_token_from_options_is_sent_over_https(
    tmp_path: Path, served_root: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = Server(served_root[0], basic("x-access-token", SECRET), context)
    monkeypatch.setenv("GIT_SSL_CAINFO", str(cert))
    try:
        opts = rgit.FetchOptions(cache_dir=tmp_path / "cache", token=SECRET, timeout_s=60)
        url = f"https://127.0.0.1:{server.port}/repo.git"
        assert rgit.fetch(url, None, None, tmp_path / "d", opts).commit == served_root[1]
        assert basic("x-access-token", SECRET) in server.seen
    finally:
        server.close()
    assert_no_secret_under(tmp_path / "cache")


def test_clone_timeout_kills_git(tmp_path: Path) -> None:
    # Accepts TCP connections (kernel backlog) but never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        opts = rgit.FetchOptions(cache_dir=tmp_path / "cache", timeout_s=1.5)
        with pytest.raises(FetchError, match=r"^clone timed out after 1.5 s$"):
            rgit.fetch(f"http://127.0.0.1:{port}/repo.git", None, None, tmp_path / "d", opts)
    assert list((tmp_path / "cache").glob("*.git")) == []  # no half-made mirror left
