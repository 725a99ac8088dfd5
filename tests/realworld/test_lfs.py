"""Issue 14, kind 2: a README step that reads a Git LFS pointer is an error for a human."""

from __future__ import annotations

import hashlib
import http.server
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest

from gitrepo import isolate_git, make_repo
from grading import grading_context
from repograder import cli, detect, lfs, model, notebooks, pipeline, readme, rubric
from repograder.checks.notebooks import evaluate_notebooks
from repograder.config import CheckSpec, load_groups
from repograder.facts import BuildResult, NotebookReport
from repograder.runner import LFS_HINT, lfs_hint
from repograder.sandbox.fake import FakeSandbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data" / "realworld"))
import repos


@pytest.fixture(autouse=True)
def _git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path_factory, monkeypatch)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)


def test_step_reading_an_lfs_pointer_is_an_error_with_the_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "birds", repos.lfs_data())
    out = tmp_path / "report"
    cli.main(["check", str(repo), "--out", str(out), "--quiet", "--sandbox", "local"])
    stdout = capsys.readouterr().out
    group = json.loads((out / "results.json").read_text())["groups"][0]
    step = next(s for s in group["steps"] if s["command"] == "python main.py")
    assert step["status"] == "failed"
    assert step["hint"].startswith(LFS_HINT)
    assert "data/train.csv" in step["hint"]
    checks = {c["id"]: c for c in group["checks"]}
    assert checks["readme-steps"]["status"] == "error"  # needs a human, never a plain fail
    assert LFS_HINT in checks["readme-steps"]["summary"]
    assert f"fix: {LFS_HINT}" in stdout
    assert "add a download step" in stdout


def test_readme_and_environment_file_that_are_unfetched_lfs_pointers_need_a_human(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: readme `fail` ("nearly empty (11 words)"), env-file `pass` with the pointer's
    three lines "dropped", comments `fail` on the pointer of main.py."""
    repo = make_repo(tmp_path / "all-lfs", repos.lfs_everything())
    out = tmp_path / "report"
    cli.main(["check", str(repo), "--out", str(out), "--quiet", "--static"])
    stdout = capsys.readouterr().out
    group = json.loads((out / "results.json").read_text())["groups"][0]
    checks = {c["id"]: c for c in group["checks"]}
    assert checks["readme"]["status"] == "error"
    assert "README.md is a Git LFS pointer" in checks["readme"]["summary"]
    assert checks["env-file"]["status"] == "error"
    assert "requirements.txt is a Git LFS pointer" in checks["env-file"]["summary"]
    assert checks["comments"]["status"] != "fail"
    assert "git lfs push --all origin" in stdout  # the student is told what to do


def test_run_stage_checks_on_unfetched_lfs_pointers_need_a_human(tmp_path: Path) -> None:
    """The build, the README's steps and a notebook made from LFS pointers: `error` with the
    reason, never a pass on an empty environment or a fail on "no runnable steps"."""
    files = repos.lfs_everything()
    for rel, text in files.items():
        (tmp_path / rel).write_text(str(text))
    readme_facts = readme.inspect_readme(tmp_path)
    assert readme_facts.lfs_pointer
    assert readme_facts.steps == ()
    env = detect.detect_env(tmp_path)
    assert env.lfs_pointers == ("requirements.txt",)
    build = BuildResult(
        ok=True,
        backend="docker",
        image="img",
        reused=False,
        content_hash="h",
        duration_s=1.0,
        summary="built",
    )
    checkout = model.Checkout(path=tmp_path, commit=None, commit_date=None)
    evidence = rubric.Evidence(
        checkout=checkout, readme=readme_facts, env=env, build=build, steps=()
    )
    for check_id in ("env-build", "readme-steps"):
        spec = CheckSpec(
            id=check_id, title="t", points=1.0, required=False, params={}, stage="build"
        )
        result = rubric.evaluate(spec, evidence)
        assert result.status is model.Status.ERROR, (check_id, result.summary)
        assert "is a Git LFS pointer" in result.summary
    # The notebook executor (it runs alone in the sandbox) says so before it needs nbclient.
    executor = Path(notebooks.__file__).parent / "data" / "nbexec.py"
    done = subprocess.run(
        [sys.executable, "-I", str(executor), "analysis.ipynb", "5", "60", "1000000"],
        cwd=tmp_path,
        check=True,
        timeout=60,
        capture_output=True,
    )
    result = notebooks.parse_result("analysis.ipynb", done.stdout.partition(b"\n")[0])
    assert result.infra
    assert result.error.startswith("GitLfsPointer: this file is a Git LFS pointer")
    verdict = evaluate_notebooks(NotebookReport((result,)), model.Params())
    assert verdict.status is model.Status.ERROR
    assert verdict.details["lfs_pointers"] == ["analysis.ipynb"]


def test_lfs_hint_kinds() -> None:
    pointers = frozenset({"data/train.csv", "models/net.pt"})
    assert lfs_hint("python main.py", "ValueError: x", frozenset()) == ""
    assert lfs_hint("python main.py", "all fine", pointers) == ""
    named = lfs_hint("python eval.py --model models/net.pt", "Traceback", pointers)
    assert named.startswith(f"{LFS_HINT}: models/net.pt")
    # Not named, but the error is what reading a pointer as data says.
    unnamed = lfs_hint("python a.py", "_pickle.UnpicklingError: invalid load key, 'v'.", pointers)
    assert unnamed.startswith(f"{LFS_HINT} (the repository's LFS files: data/train.csv")


def test_lfs_objects_of_a_local_repository_are_fetched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files, store = repos.lfs_data_with_objects()
    repo = make_repo(tmp_path / "birds", files)
    for rel, data in store.items():
        target = repo / ".git" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    out = tmp_path / "report"
    cli.main(["check", str(repo), "--out", str(out), "--quiet", "--sandbox", "local"])
    capsys.readouterr()
    group = json.loads((out / "results.json").read_text())["groups"][0]
    step = next(s for s in group["steps"] if s["command"] == "python main.py")
    assert step["status"] == "ok", step
    assert "0.5" in step["output_head"]
    checks = {c["id"]: c for c in group["checks"]}
    assert checks["readme-steps"]["status"] == "pass"


class _LfsServer(http.server.BaseHTTPRequestHandler):
    objects: ClassVar[dict[str, bytes]] = {}
    seen_auth: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        assert self.path == "/org/birds.git/info/lfs/objects/batch"
        self.seen_auth.append(self.headers.get("Authorization", ""))
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        host = f"http://127.0.0.1:{self.server.server_port}"
        answer = {
            "objects": [
                {
                    "oid": o["oid"],
                    "size": o["size"],
                    "actions": {"download": {"href": f"{host}/objects/{o['oid']}"}},
                }
                for o in request["objects"]
            ]
        }
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.git-lfs+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.seen_auth.append("GET " + self.headers.get("Authorization", ""))
        data = self.objects.get(self.path.rsplit("/", 1)[-1], b"")
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_lfs_batch_api_fetch_verifies_and_caps(tmp_path: Path) -> None:
    good, tampered = b"0.5,1.5\n", b"1,2,3\n"
    big = b"x" * 2000
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text(repos.lfs_pointer_for(good))
    (tmp_path / "data" / "b.csv").write_text(repos.lfs_pointer_for(tampered))
    (tmp_path / "data" / "big.bin").write_text(repos.lfs_pointer_for(big))
    oid = {data: hashlib.sha256(data).hexdigest() for data in (good, tampered, big)}
    _LfsServer.objects = {oid[good]: good, oid[tampered]: b"6,6,6\n", oid[big]: big}
    _LfsServer.seen_auth = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _LfsServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        outcome = lfs.fetch_objects(
            tmp_path,
            ["data/a.csv", "data/b.csv", "data/big.bin"],
            url=f"http://127.0.0.1:{server.server_port}/org/birds",
            auth_header="Authorization: Basic dXNlcjp0b2tlbg==",
            max_total_bytes=1000,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert outcome.fetched == ("data/a.csv",)
    assert (tmp_path / "data" / "a.csv").read_bytes() == good
    # A served object whose SHA-256 differs from the pointer's oid is never written.
    assert (tmp_path / "data" / "b.csv").read_text().startswith("version https://git-lfs")
    assert any("big.bin not fetched (2000 bytes: too large)" in n for n in outcome.notes)
    assert any("not fetched: data/b.csv" in n for n in outcome.notes)
    # The clone's credentials go to the batch endpoint only, never to the download host.
    assert _LfsServer.seen_auth[0] == "Basic dXNlcjp0b2tlbg=="
    assert all(a == "GET " for a in _LfsServer.seen_auth[1:])


def test_a_result_graded_without_lfs_objects_is_not_reused_once_they_arrive(
    tmp_path: Path,
) -> None:
    """The result cache's identity includes the LFS files that were not fetched: the same
    commit graded again after its objects became available is graded anew, not reused."""
    files, store = repos.lfs_data_with_objects()
    repo = make_repo(tmp_path / "birds", files)
    groups = tmp_path / "groups.yaml"
    groups.write_text("groups:\n  - {name: birds, repo: birds}\n")
    config = load_groups(groups)

    def grade() -> FakeSandbox:
        sandbox = FakeSandbox()
        pipeline.grade_all(config, config.groups, grading_context(tmp_path, sandbox))
        return sandbox

    assert len(grade().prepared) == 1  # the object is missing: data/train.csv stays a pointer
    assert grade().prepared == []  # nothing changed: the stored result is reused
    for rel, data in store.items():
        target = repo / ".git" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    assert len(grade().prepared) == 1  # same commit, but now with its LFS content
    assert grade().prepared == []


def test_the_cache_key_takes_any_lfs_pointer_names_in_any_order(tmp_path: Path) -> None:
    """Student-chosen pointer names (newlines, non-UTF-8 as surrogates, many of them) give a
    stable key: independent of order, different from the key with the content fetched."""
    (tmp_path / "groups.yaml").write_text("groups:\n  - {name: g, repo: r}\n")
    (group,) = load_groups(tmp_path / "groups.yaml").groups
    ctx = grading_context(tmp_path, FakeSandbox())
    names = [f"data/{i}\n\udcff\u202e.bin" for i in range(50_000)]
    key = pipeline.cache_key(group, "a" * 40, ctx, names)
    assert key == pipeline.cache_key(group, "a" * 40, ctx, list(reversed(names)))
    assert key != pipeline.cache_key(group, "a" * 40, ctx, names[1:])
    assert key != pipeline.cache_key(group, "a" * 40, ctx)


def _fake_ssh(tmp_path: Path, answer: str, status: int = 0) -> tuple[list[str], Path]:
    """An ssh stand-in (the grader's own program, like GIT_SSH_COMMAND): records its argv."""
    log = tmp_path / "ssh-argv.json"
    script = tmp_path / "fake_ssh.py"
    script.write_text(
        "import json, sys\n"
        f"open({str(log)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
        f"sys.stdout.write({answer!r})\n"
        f"sys.exit({status})\n"
    )
    return [sys.executable, str(script)], log


@pytest.mark.parametrize(
    "remote", ["ssh://git@127.0.0.1:2222/org/birds.git", "git@127.0.0.1:org/birds.git"]
)
def test_lfs_over_ssh_uses_git_lfs_authenticate(tmp_path: Path, remote: str) -> None:
    """git-lfs's ssh flow: git-lfs-authenticate names the endpoint and a header for the batch."""
    good = b"0.5,1.5\n"
    checkout = tmp_path / "checkout"
    (checkout / "data").mkdir(parents=True)
    (checkout / "data" / "a.csv").write_text(repos.lfs_pointer_for(good))
    _LfsServer.objects = {hashlib.sha256(good).hexdigest(): good}
    _LfsServer.seen_auth = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _LfsServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    href = f"http://127.0.0.1:{server.server_port}/org/birds.git/info/lfs"
    answer = json.dumps({"href": href, "header": {"Authorization": "RemoteAuth t0k"}})
    ssh, log = _fake_ssh(tmp_path, answer)
    try:
        outcome = lfs.fetch_objects(
            checkout,
            ["data/a.csv"],
            url=remote,
            auth_header="Authorization: Basic bm90LXRoaXM=",
            ssh_command=ssh,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert outcome.fetched == ("data/a.csv",)
    assert (checkout / "data" / "a.csv").read_bytes() == good
    argv = json.loads(log.read_text())
    assert argv[-4:] == ["git@127.0.0.1", "git-lfs-authenticate", "org/birds.git", "download"]
    assert "BatchMode=yes" in argv
    assert ("-p" in argv) == remote.startswith("ssh://")
    # the server's own short-lived header goes to the batch request, not the clone's token
    assert _LfsServer.seen_auth[0] == "RemoteAuth t0k"


def test_lfs_over_ssh_without_authenticate_derives_the_https_endpoint(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(repos.lfs_pointer_for(b"1,2\n"))
    ssh, log = _fake_ssh(tmp_path, "git-lfs-authenticate: command not found", status=127)
    outcome = lfs.fetch_objects(
        tmp_path, ["a.csv"], url="git@127.0.0.1:org/birds.git", ssh_command=ssh, timeout_s=5
    )
    assert log.exists()
    assert outcome.fetched == ()
    assert any("trying https://127.0.0.1/org/birds.git/info/lfs" in n for n in outcome.notes)
    assert any("not fetched: a.csv" in n for n in outcome.notes)


@pytest.mark.parametrize(
    ("remote", "endpoint"),
    [
        ("git@github.com:org/x.git", "https://github.com/org/x.git/info/lfs"),
        ("ssh://git@git.example.org:2222/org/x", "https://git.example.org/org/x.git/info/lfs"),
        ("git+ssh://h.example.org/team/proj.git", "https://h.example.org/team/proj.git/info/lfs"),
    ],
)
def test_derived_lfs_endpoint_follows_git_lfs_server_discovery(remote: str, endpoint: str) -> None:
    parsed = lfs.parse_ssh_remote(remote)
    assert parsed is not None
    assert lfs.derived_endpoint(parsed) == endpoint


@pytest.mark.parametrize(
    "remote",
    [
        "-oProxyCommand=touch:x",  # would be an ssh option
        "git@host:org/x;rm -rf ~",  # would reach the remote shell
        "git@host:../../etc/passwd",
        "ssh://git@host/org/x y.git",
        "https://host/org/x.git",
    ],
)
def test_unsafe_or_non_ssh_remotes_are_not_ssh_lfs_remotes(remote: str) -> None:
    assert lfs.parse_ssh_remote(remote) is None


def test_a_non_https_endpoint_from_authenticate_gets_no_header(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(repos.lfs_pointer_for(b"1,2\n"))
    answer = json.dumps({"href": "http://lfs.example.org/x", "header": {"Authorization": "t"}})
    ssh, _ = _fake_ssh(tmp_path, answer)
    notes: list[str] = []
    remote = lfs.parse_ssh_remote("git@127.0.0.1:org/x.git")
    assert remote is not None
    batch, headers = lfs.ssh_endpoint(remote, None, 5.0, notes, ssh)
    assert batch == "https://127.0.0.1/org/x.git/info/lfs/objects/batch"
    assert headers == {}
    assert any("not https" in n for n in notes)


def test_git_lfs_authenticate_output_and_time_are_capped(tmp_path: Path) -> None:
    remote = lfs.parse_ssh_remote("git@127.0.0.1:org/x.git")
    assert remote is not None
    flood = tmp_path / "flood.py"
    flood.write_text("import sys\nsys.stdout.write('[' + ' ' * 10_000_000 + ']')\n")
    assert lfs.ssh_authenticate(remote, 10.0, [sys.executable, str(flood)]) is None
    hang = tmp_path / "hang.py"
    hang.write_text("import time\ntime.sleep(60)\n")
    start = time.monotonic()
    assert lfs.ssh_authenticate(remote, 1.0, [sys.executable, str(hang)]) is None
    assert time.monotonic() - start < 10
