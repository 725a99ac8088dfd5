"""repograder.git against real git repositories built in tmp_path with dated commits."""

from __future__ import annotations

import logging
import os
import subprocess
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from gitrepo import isolate_git
from repograder import git as rgit
from repograder.errors import FetchError

LFS_POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 12345\n"
)


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private global git config, so the machine's config neither helps nor hurts."""
    return isolate_git(tmp_path_factory, monkeypatch)


def git(cwd: Path, *args: str, date: str | None = None) -> str:
    env = dict(os.environ)
    if date is not None:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    # The test's own git calls never run the source repo's hooks, so only fetch() could.
    quiet = ["-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false"]
    done = subprocess.run(
        ["git", *quiet, *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def commit(repo: Path, files: Mapping[str, str | bytes], message: str, date: str) -> str:
    for rel, content in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message, date=date)
    return git(repo, "rev-parse", "HEAD")


def make_repo(tmp_path: Path, name: str = "src") -> Path:
    repo = tmp_path / name
    repo.mkdir()
    git(repo, "init", "-q")
    return repo


def options(tmp_path: Path, **kw: object) -> rgit.FetchOptions:
    return rgit.FetchOptions(cache_dir=tmp_path / "cache", **kw)  # type: ignore[arg-type]


@pytest.fixture
def dated_repo(tmp_path: Path) -> tuple[Path, list[str]]:
    """Four commits: 30 Mar 10:00Z, 31 Mar 20:00Z, 1 Apr 09:00Z, 2 Apr 09:00Z."""
    repo = make_repo(tmp_path)
    shas = [
        commit(repo, {"v.txt": "1"}, "first", "2026-03-30T10:00:00+00:00"),
        commit(repo, {"v.txt": "2"}, "second", "2026-03-31T20:00:00+00:00"),
        commit(repo, {"v.txt": "3"}, "third (late)", "2026-04-01T09:00:00+00:00"),
        commit(repo, {"v.txt": "4"}, "fourth (late)", "2026-04-02T09:00:00+00:00"),
    ]
    return repo, shas


def test_deadline_picks_newest_commit_at_or_before_it_and_lists_late_commits(
    tmp_path: Path, dated_repo: tuple[Path, list[str]]
) -> None:
    repo, shas = dated_repo
    deadline = datetime.fromisoformat("2026-03-31T23:59:59+02:00")  # 21:59:59Z
    out = rgit.fetch(str(repo), None, deadline, tmp_path / "dest", options(tmp_path))
    assert out.commit == shas[1]
    assert out.commit_date == "2026-03-31T20:00:00+00:00"
    assert (tmp_path / "dest" / "v.txt").read_text() == "2"
    assert [c.sha for c in out.late_commits] == [shas[3], shas[2]]
    assert [c.subject for c in out.late_commits] == ["fourth (late)", "third (late)"]
    assert out.late_commits[0].date == "2026-04-02T09:00:00+00:00"


def test_deadline_offset_is_respected(tmp_path: Path, dated_repo: tuple[Path, list[str]]) -> None:
    repo, shas = dated_repo
    # 20:30+01:00 is 19:30Z: before the second commit (20:00Z) although "20:30" > "20:00".
    deadline = datetime.fromisoformat("2026-03-31T20:30:00+01:00")
    out = rgit.fetch(str(repo), None, deadline, tmp_path / "dest", options(tmp_path))
    assert out.commit == shas[0]
    assert [c.sha for c in out.late_commits] == [shas[3], shas[2], shas[1]]


def test_commit_exactly_at_the_deadline_is_on_time(
    tmp_path: Path, dated_repo: tuple[Path, list[str]]
) -> None:
    repo, shas = dated_repo
    deadline = datetime(2026, 3, 31, 22, 0, 0, tzinfo=timezone(timedelta(hours=2)))  # = 20:00Z
    out = rgit.fetch(str(repo), None, deadline, tmp_path / "dest", options(tmp_path))
    assert out.commit == shas[1]
    just_before = deadline - timedelta(seconds=1)
    out2 = rgit.fetch(str(repo), None, just_before, tmp_path / "dest2", options(tmp_path))
    assert out2.commit == shas[0]


def test_deadline_uses_committer_date_not_author_date(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    first = commit(repo, {"a": "1"}, "first", "2026-03-01T10:00:00+00:00")
    (repo / "a").write_text("2")
    git(repo, "add", "-A")
    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_DATE="2026-03-02T10:00:00+00:00",  # claims to be early...
        GIT_COMMITTER_DATE="2026-04-05T10:00:00+00:00",  # ...but was committed late
    )
    subprocess.run(["git", "commit", "-q", "-m", "backdated"], cwd=repo, env=env, check=True)
    deadline = datetime(2026, 4, 1, tzinfo=UTC)
    out = rgit.fetch(str(repo), None, deadline, tmp_path / "dest", options(tmp_path))
    assert out.commit == first
    assert [c.subject for c in out.late_commits] == ["backdated"]


def test_no_commit_before_deadline_is_an_error(
    tmp_path: Path, dated_repo: tuple[Path, list[str]]
) -> None:
    repo, _ = dated_repo
    with pytest.raises(FetchError, match="no commit at or before the deadline"):
        rgit.fetch(
            str(repo), None, datetime(2026, 1, 1, tzinfo=UTC), tmp_path / "d", options(tmp_path)
        )


def test_without_deadline_the_tip_and_no_late_commits(
    tmp_path: Path, dated_repo: tuple[Path, list[str]]
) -> None:
    repo, shas = dated_repo
    out = rgit.fetch(str(repo), None, None, tmp_path / "dest", options(tmp_path))
    assert out.commit == shas[3]
    assert out.late_commits == ()
    assert out.path == tmp_path / "dest"


def test_ref_by_branch_tag_and_sha_and_default_head(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    git(repo, "checkout", "-q", "-b", "trunk")
    base = commit(repo, {"f": "base"}, "base", "2026-03-01T10:00:00+00:00")
    git(repo, "tag", "v1")
    trunk_tip = commit(repo, {"f": "trunk"}, "trunk tip", "2026-03-02T10:00:00+00:00")
    git(repo, "checkout", "-q", "-b", "feature")
    feature_tip = commit(repo, {"f": "feature"}, "feature tip", "2026-03-03T10:00:00+00:00")
    git(repo, "checkout", "-q", "trunk")  # the source's HEAD is trunk, not main
    opts = options(tmp_path)
    assert rgit.fetch(str(repo), None, None, tmp_path / "d0", opts).commit == trunk_tip
    assert rgit.fetch(str(repo), "feature", None, tmp_path / "d1", opts).commit == feature_tip
    assert rgit.fetch(str(repo), "v1", None, tmp_path / "d2", opts).commit == base
    assert rgit.fetch(str(repo), base, None, tmp_path / "d3", opts).commit == base
    assert rgit.fetch(str(repo), base[:10], None, tmp_path / "d4", opts).commit == base
    assert (tmp_path / "d1" / "f").read_text() == "feature"
    with pytest.raises(FetchError, match="ref 'nope' not found in"):
        rgit.fetch(str(repo), "nope", None, tmp_path / "d5", opts)
    with pytest.raises(FetchError, match="invalid ref"):
        rgit.fetch(str(repo), "--upload-pack=touch x", None, tmp_path / "d6", opts)


def test_second_fetch_reuses_the_mirror_and_sees_new_commits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="repograder.git")
    repo = make_repo(tmp_path)
    first = commit(repo, {"a": "1"}, "one", "2026-03-01T10:00:00+00:00")
    opts = options(tmp_path)
    assert rgit.fetch(str(repo), None, None, tmp_path / "d1", opts).commit == first
    mirrors = list(opts.cache_dir.glob("*.git"))
    assert len(mirrors) == 1
    mirror = mirrors[0]
    inode = mirror.stat().st_ino
    (mirror / "repograder-test-marker").write_text("still here")
    second = commit(repo, {"a": "2"}, "two", "2026-03-02T10:00:00+00:00")
    caplog.clear()
    out = rgit.fetch(str(repo), None, None, tmp_path / "d2", opts)
    assert out.commit == second
    assert (tmp_path / "d2" / "a").read_text() == "2"
    assert list(opts.cache_dir.glob("*.git")) == [mirror]
    assert mirror.stat().st_ino == inode
    assert (mirror / "repograder-test-marker").exists()
    messages = [r.getMessage() for r in caplog.records]
    assert any("fetching" in m for m in messages)
    assert not any("cloning" in m for m in messages)


def test_offline_uses_the_mirror_as_is(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    first = commit(repo, {"a": "1"}, "one", "2026-03-01T10:00:00+00:00")
    rgit.fetch(str(repo), None, None, tmp_path / "d1", options(tmp_path))
    commit(repo, {"a": "2"}, "two", "2026-03-02T10:00:00+00:00")
    out = rgit.fetch(str(repo), None, None, tmp_path / "d2", options(tmp_path, offline=True))
    assert out.commit == first
    assert any("offline" in n for n in out.notes)
    with pytest.raises(FetchError, match="offline and no cached mirror"):
        rgit.fetch(
            "https://example.invalid/x.git",
            None,
            None,
            tmp_path / "d3",
            options(tmp_path, offline=True),
        )


def test_same_url_fetched_concurrently(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    sha = commit(repo, {"a": "1"}, "one", "2026-03-01T10:00:00+00:00")
    results: list[str | None] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results.append(
                rgit.fetch(str(repo), None, None, tmp_path / f"d{i}", options(tmp_path)).commit
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == [sha] * 4
    assert len(list((tmp_path / "cache").glob("*.git"))) == 1


def test_missing_repository(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="repository not found"):
        rgit.fetch(str(tmp_path / "nope"), None, None, tmp_path / "d", options(tmp_path))
    with pytest.raises(FetchError, match="repository not found"):
        rgit.fetch(f"file://{tmp_path}/nope", None, None, tmp_path / "d", options(tmp_path))


def test_vanished_repository_after_mirror(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    commit(repo, {"a": "1"}, "one", "2026-03-01T10:00:00+00:00")
    url = f"file://{repo}"
    rgit.fetch(url, None, None, tmp_path / "d1", options(tmp_path))
    (repo / ".git" / "HEAD").unlink()  # no longer a repository
    with pytest.raises(FetchError, match="repository not found"):
        rgit.fetch(url, None, None, tmp_path / "d2", options(tmp_path))


def test_empty_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    with pytest.raises(FetchError, match=r"repository is empty \(no commits\)"):
        rgit.fetch(str(repo), None, None, tmp_path / "d", options(tmp_path))


def test_plain_folder_is_returned_in_place(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "README.md").write_text("# hi")
    out = rgit.fetch(
        str(folder), None, datetime(2026, 1, 1, tzinfo=UTC), tmp_path / "d", options(tmp_path)
    )
    assert out.path == folder
    assert out.commit is None
    assert out.commit_date is None
    assert out.notes == ("plain folder: no commit and no deadline",)
    assert not (tmp_path / "cache").exists()


def test_file_url_and_bare_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    sha = commit(repo, {"a b.txt": "x"}, "one", "2026-03-01T10:00:00+00:00")
    out = rgit.fetch(f"file://{repo}", None, None, tmp_path / "d1", options(tmp_path))
    assert out.commit == sha
    assert (tmp_path / "d1" / "a b.txt").read_text() == "x"
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    assert rgit.fetch(str(bare), None, None, tmp_path / "d2", options(tmp_path)).commit == sha


@pytest.mark.parametrize(
    "address",
    [
        "ext::sh -c touch% {marker}",
        "EXT::sh -c touch% {marker}",
        "fd::17",
        "ftp://example.org/x.git",
        "rsync://example.org/x.git",
    ],
)
def test_dangerous_transports_are_refused(tmp_path: Path, address: str) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(FetchError, match="transport not allowed"):
        rgit.fetch(address.format(marker=marker), None, None, tmp_path / "d", options(tmp_path))
    assert not marker.exists()


def test_option_injection_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(FetchError, match="invalid repository address"):
        rgit.fetch(f"--upload-pack=touch {marker}", None, None, tmp_path / "d", options(tmp_path))
    assert not marker.exists()


def test_source_hooks_and_config_do_not_run(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    commit(repo, {"a": "1"}, "one", "2026-03-01T10:00:00+00:00")
    markers = tmp_path / "markers"
    markers.mkdir()
    hooks = repo / ".git" / "hooks"
    for name in (
        "post-checkout",
        "post-merge",
        "pre-auto-gc",
        "reference-transaction",
        "post-rewrite",
        "pre-push",
        "post-update",
        "update",
        "pre-receive",
    ):
        hook = hooks / name
        hook.write_text(f"#!/bin/sh\ntouch {markers}/{name}\n")
        hook.chmod(0o755)
    git(repo, "config", "core.fsmonitor", f"touch {markers}/fsmonitor")
    git(repo, "config", "uploadpack.packObjectsHook", f"touch {markers}/packobjects;")
    rgit.fetch(str(repo), None, None, tmp_path / "d1", options(tmp_path))
    commit(repo, {"a": "2"}, "two", "2026-03-02T10:00:00+00:00")
    rgit.fetch(str(repo), None, None, tmp_path / "d2", options(tmp_path))  # the update path
    assert list(markers.iterdir()) == []


def test_lfs_pointer_reported_and_not_smudged(tmp_path: Path, isolated_git: Path) -> None:
    repo = make_repo(tmp_path)
    big_lookalike = LFS_POINTER + "x" * 2000  # > 1 KB: not a pointer
    commit(
        repo,
        {
            ".gitattributes": "*.bin filter=lfs diff=lfs merge=lfs -text\n",
            "data/model.bin": LFS_POINTER,
            "notes.txt": big_lookalike,
            "empty.txt": "",
        },
        "lfs",
        "2026-03-01T10:00:00+00:00",
    )
    marker = tmp_path / "smudged"
    # A smudge filter that *would* run on a normal checkout.
    with isolated_git.open("a") as fh:
        fh.write(
            f"[filter \"lfs\"]\n\tsmudge = sh -c 'touch {marker}; echo SMUDGED'\n"
            "\trequired = true\n"
        )
    out = rgit.fetch(str(repo), None, None, tmp_path / "d", options(tmp_path))
    assert out.lfs_pointers == ("data/model.bin",)
    assert (tmp_path / "d" / "data" / "model.bin").read_text() == LFS_POINTER
    assert (tmp_path / "d" / "notes.txt").read_text() == big_lookalike
    assert (tmp_path / "d" / "empty.txt").read_text() == ""
    assert not marker.exists()


def test_malicious_gitattributes_are_harmless(tmp_path: Path, isolated_git: Path) -> None:
    repo = make_repo(tmp_path)
    content = {
        ".gitattributes": "* filter=evil\nsecret.txt export-ignore\nsubst.txt export-subst\n",
        "secret.txt": "kept\n",
        "subst.txt": "$Format:%H$\n",
        "run.sh": "#!/bin/sh\necho hi\n",
    }
    (repo / "run.sh").parent.mkdir(exist_ok=True)
    (repo / "run.sh").write_text(content["run.sh"])
    (repo / "run.sh").chmod(0o755)
    sha = commit(repo, content, "attrs", "2026-03-01T10:00:00+00:00")
    marker = tmp_path / "evil-ran"
    with isolated_git.open("a") as fh:
        fh.write(f"[filter \"evil\"]\n\tsmudge = sh -c 'touch {marker}; cat'\n")
    out = rgit.fetch(str(repo), None, None, tmp_path / "d", options(tmp_path))
    assert out.commit == sha
    dest = tmp_path / "d"
    for rel, text in content.items():
        assert (dest / rel).read_text() == text  # no export-ignore, no export-subst
    assert os.access(dest / "run.sh", os.X_OK)
    assert not os.access(dest / "secret.txt", os.X_OK)
    assert not marker.exists()


def test_symlinks_are_kept_as_symlinks_and_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = make_repo(tmp_path)
    (repo / "passwd").symlink_to("/etc/passwd")
    (repo / "escape").symlink_to(outside)
    commit(repo, {"README.md": "hi"}, "links", "2026-03-01T10:00:00+00:00")
    out = rgit.fetch(str(repo), None, None, tmp_path / "d", options(tmp_path))
    dest = tmp_path / "d"
    assert (dest / "passwd").is_symlink()
    assert os.readlink(dest / "passwd") == "/etc/passwd"
    assert os.readlink(dest / "escape") == str(outside)
    assert out.notes == ()


def test_crafted_tree_cannot_write_outside_dest(tmp_path: Path) -> None:
    """A tree with a symlink `d -> outside` *and* a folder `d/x`, plus `..` and `.git` names."""
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = make_repo(tmp_path)

    def obj(data: str) -> str:
        return subprocess.run(
            ["git", "hash-object", "-w", "--stdin"],
            cwd=repo,
            input=data,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    def mktree(lines: str) -> str:
        return subprocess.run(
            ["git", "mktree"], cwd=repo, input=lines, capture_output=True, text=True, check=True
        ).stdout.strip()

    blob, link = obj("payload\n"), obj(str(outside))
    inner = mktree(f"100644 blob {blob}\tx\n100644 blob {blob}\tconfig\n")
    root = mktree(
        f"120000 blob {link}\td\n040000 tree {inner}\td\n"
        f"100644 blob {blob}\t..\n040000 tree {inner}\t.git\n100644 blob {blob}\tok\n"
    )
    env = dict(
        os.environ,
        GIT_COMMITTER_DATE="2026-03-01T10:00:00Z",
        GIT_AUTHOR_DATE="2026-03-01T10:00:00Z",
    )
    sha = subprocess.run(
        ["git", "commit-tree", root, "-m", "evil"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    git(repo, "update-ref", "refs/heads/main", sha)
    out = rgit.fetch(str(repo), None, None, tmp_path / "dest", options(tmp_path))
    assert out.commit == sha
    assert list(outside.iterdir()) == []
    assert (tmp_path / "dest" / "ok").read_text() == "payload\n"
    assert not (tmp_path / "dest" / ".git").exists()
    assert any("d/x" in n for n in out.notes)
    assert any(".git" in n for n in out.notes)


def test_submodules_are_listed_not_fetched(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    commit(repo, {"a": "1"}, "one", "2026-03-01T10:00:00+00:00")
    fake = "1" * 40
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{fake},libs/sub")
    git(repo, "commit", "-q", "-m", "submodule", date="2026-03-02T10:00:00+00:00")
    out = rgit.fetch(str(repo), None, None, tmp_path / "d", options(tmp_path))
    assert (tmp_path / "d" / "libs" / "sub").is_dir()
    assert list((tmp_path / "d" / "libs" / "sub").iterdir()) == []
    assert any("submodule not fetched: libs/sub" in n for n in out.notes)


def test_checkout_size_cap(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    commit(repo, {"big": "x" * 5000}, "one", "2026-03-01T10:00:00+00:00")
    with pytest.raises(FetchError, match="repository too large"):
        rgit.fetch(
            str(repo), None, None, tmp_path / "d", options(tmp_path, max_checkout_bytes=1000)
        )


def test_credentials_never_leak(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "SECRETs3cr3tVALUE"
    cases = [
        (f"https://x-access-token:{secret}@127.0.0.1:1/org/repo.git", None),
        (f"https://{secret}@127.0.0.1:1/org/repo.git", None),
        ("https://127.0.0.1:1/org/repo.git", secret),
    ]
    for i, (url, token) in enumerate(cases):
        with pytest.raises(FetchError) as info:
            rgit.fetch(
                url, None, None, tmp_path / f"d{i}", options(tmp_path, token=token, timeout_s=30)
            )
        assert secret not in str(info.value)
        assert "could not connect" in str(info.value)
        assert secret not in rgit.describe_source(url)
    assert secret not in caplog.text
    cache = tmp_path / "cache"
    for path in cache.rglob("*"):
        assert secret not in path.name
        if path.is_file():
            assert secret.encode() not in path.read_bytes()


def test_redact() -> None:
    tok = "tok123456"
    assert rgit.redact(f"https://user:{tok}@github.com/o/r.git") == "https://github.com/o/r.git"
    assert rgit.redact(f"https://{tok}@github.com/o/r.git") == "https://github.com/o/r.git"
    assert rgit.redact("ssh://git@github.com/o/r.git") == "ssh://git@github.com/o/r.git"
    assert rgit.redact("git@github.com:o/r.git") == "git@github.com:o/r.git"
    assert rgit.redact(f"fatal: x-access-token:{tok} bad") == "fatal: x-access-token:*** bad"
    assert tok not in rgit.redact(f"the token {tok} leaked", tok)
    assert "Zm9v" not in rgit.redact("Authorization: Basic Zm9vOmJhcg==")
    assert rgit.redact("ghp_" + "a" * 36) == "***"


def test_token_from_env() -> None:
    assert rgit.token_from_env({}) is None
    assert rgit.token_from_env({"GITHUB_TOKEN": " g "}) == "g"
    assert rgit.token_from_env({"REPOGRADER_GIT_TOKEN": "r", "GITHUB_TOKEN": "g"}) == "r"
    assert rgit.token_from_env({"REPOGRADER_GIT_TOKEN": "  ", "GITHUB_TOKEN": "g"}) == "g"
