"""Git LFS over ssh: what the remote end answers must not send the course token elsewhere, and
the remote's address must not reach the grader's ssh as anything but plain names."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from repograder import lfs

COURSE_TOKEN = "Authorization: Basic Y291cnNlLXRva2Vu"


def _fake_ssh(tmp_path: Path, answer: str) -> list[str]:
    """The grader's ssh stand-in: prints what the remote's git-lfs-authenticate answers."""
    script = tmp_path / "fake_ssh.py"
    script.write_text(f"import sys\nsys.stdout.write({answer!r})\n")
    return [sys.executable, str(script)]


@pytest.mark.parametrize(
    "href",
    [
        "https://collector.example.net/steal",  # another host
        "https://git.example.org.collector.example.net/x",  # a host that only starts alike
        "https://git.example.org:8443/org/x.git/info/lfs",  # another port of the same name
        "https://user@collector.example.net/x",
    ],
)
def test_an_endpoint_on_another_host_never_gets_the_course_token(tmp_path: Path, href: str) -> None:
    """git-lfs-authenticate names the endpoint but gives no header of its own: the clone's
    token is for the remote's host, so another host gets no credentials at all."""
    remote = lfs.parse_ssh_remote("git@git.example.org:org/x.git")
    assert remote is not None
    ssh = _fake_ssh(tmp_path, json.dumps({"href": href}))
    notes: list[str] = []
    batch, headers = lfs.ssh_endpoint(remote, COURSE_TOKEN, 5.0, notes, ssh)
    assert batch == href.rstrip("/") + "/objects/batch"
    assert headers == {}
    assert any("another host" in n for n in notes)


def test_the_remotes_own_host_still_gets_the_course_token(tmp_path: Path) -> None:
    remote = lfs.parse_ssh_remote("git@git.example.org:org/x.git")
    assert remote is not None
    href = "https://git.example.org/org/x.git/info/lfs"
    ssh = _fake_ssh(tmp_path, json.dumps({"href": href}))
    batch, headers = lfs.ssh_endpoint(remote, COURSE_TOKEN, 5.0, [], ssh)
    assert batch == href + "/objects/batch"
    assert headers == {"Authorization": "Basic Y291cnNlLXRva2Vu"}


def test_the_servers_own_header_may_go_to_its_endpoint(tmp_path: Path) -> None:
    """A header the server hands out is the server's to scope (git-lfs authentication.md)."""
    remote = lfs.parse_ssh_remote("git@git.example.org:org/x.git")
    assert remote is not None
    answer = {"href": "https://lfs.example.org/x", "header": {"Authorization": "RemoteAuth t"}}
    ssh = _fake_ssh(tmp_path, json.dumps(answer))
    _, headers = lfs.ssh_endpoint(remote, COURSE_TOKEN, 5.0, [], ssh)
    assert headers == {"Authorization": "RemoteAuth t"}


@pytest.mark.parametrize(
    "remote",
    [
        "git@host:org/x.git\n",  # a newline would end the remote command
        "git@host:org/x.git\nrm -rf ~",
        "ssh://git@host:\u0661\u0662/x.git",  # Arabic-Indic digits as the port
        "ssh://git@host:99999/x.git",  # no such port
        "ssh://git@host\n/x.git",
        "git@ho\u0455t:org/x.git",  # a Cyrillic letter in the host
        "git@host:org/x\u200b.git",  # a zero-width space in the path
        "ssh://-oProxyCommand=touch%20x@host/x.git",
        "ssh://git@host/--upload-pack=touch x",
    ],
)
def test_remotes_that_are_not_plain_names_are_refused(remote: str) -> None:
    assert lfs.parse_ssh_remote(remote) is None
