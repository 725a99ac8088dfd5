"""Credentials in repository addresses never reach an output (issue 15, kind 5); no Docker.

One parse (``urllib.parse.urlsplit``, as fetching uses) decides what is user-info: all of it
before the last "@" of the authority. Token-like query parameters are redacted too, in
results.json, the HTML, junit.xml, snapshot.json and the terminal. git's errors are classified
from its own wording, never from a substring of the address ("401" in port 18401).
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from repograder import cli
from repograder.git import describe_source, redact


def _closed_port() -> int:
    """A local port nobody listens on (connection refused, quickly)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SECRETS = ["SECRET", "p@ss", "w0rd-xyz", "glpat-abcdef123456", "sig-9f8e7d"]


def _addresses(port: int) -> list[tuple[str, str]]:
    return [
        ("userinfo-at", f"http://alice@uni.example:SECRET@127.0.0.1:{port}/z.git"),
        ("password-at", f"http://bob:p@ss@w0rd-xyz@127.0.0.1:{port}/y.git"),
        ("query-token", f"http://127.0.0.1:{port}/x.git?private_token=glpat-abcdef123456"),
        ("query-sig", f"http://127.0.0.1:{port}/w.git?ref=main&sig=sig-9f8e7d"),
    ]


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("http://alice@uni.example:SECRET@host/z.git", "http://host/z.git"),
        ("https://u:p@ss@w0rd@host:8443/x.git", "https://host:8443/x.git"),
        ("https://TOKEN1234@github.com/o/r.git", "https://github.com/o/r.git"),
        (
            "https://h/x.git?private_token=abc&ref=main",
            "https://h/x.git?private_token=***&ref=main",
        ),
        ("https://h/x.git?access_token=abc", "https://h/x.git?access_token=***"),
        ("ssh://git@host/x.git", "ssh://git@host/x.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
    ],
)
def test_one_parse_for_display(address: str, shown: str) -> None:
    assert describe_source(address) == shown


def test_free_text_is_redacted_the_same_way() -> None:
    text = "fatal: unable to access 'http://alice@uni.example:SECRET@h/z.git?private_token=x1': no"
    assert redact(text) == "fatal: unable to access 'http://h/z.git?private_token=***': no"


def test_no_output_shows_a_credential_and_port_18401_is_no_auth_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPOGRADER_CACHE", str(tmp_path / "cache"))
    port = _closed_port()
    groups = [*_addresses(port), ("port-18401", "http://127.0.0.1:18401/v.git")]
    lines = ["course: creds", "groups:"]
    lines += [f'  - name: {name}\n    repo: "{url}"' for name, url in groups]
    groups_yaml = tmp_path / "groups.yaml"
    groups_yaml.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    code = cli.main(["run", str(groups_yaml), "--static", "--out", str(out)])
    snap = tmp_path / "snapshot.json"
    cli.main(["snapshot", str(groups_yaml), "--out", str(snap)])
    captured = capsys.readouterr()
    assert code == 1  # no group could be fetched
    texts = {"terminal": captured.out + captured.err, "snapshot.json": snap.read_text()}
    for page in out.rglob("*"):
        if page.is_file():
            texts[str(page.relative_to(out))] = page.read_text(errors="replace")
    assert {"results.json", "index.html", "junit.xml"} <= set(texts)
    for where, text in texts.items():
        for secret in SECRETS:
            assert secret not in text, (where, secret)
        assert "uni.example" not in text, where
        assert "authentication failed" not in text, where
    assert "could not connect" in texts["results.json"]
