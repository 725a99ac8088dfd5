"""Hostile repository *content* graded by one real `repograder run` with the Docker sandbox.

Huge and absurd files, crafted git trees (``..`` and ``.git`` entries), huge histories,
submodules with ``file://`` / ``ext::`` URLs, filters and hooks in the source repository, a
PDF bomb, and markup injected into every field that reaches the report. Each group must be
graded (never lost), with the exact evidence asserted, and the host left untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from attack_repos import (
    DATE,
    INJECT,
    MARK,
    HostSnapshot,
    assert_no_live_markup,
    attack_repo,
    base_image_fixture,  # noqa: F401
    child_processes,
    deflated_zeros,
    fast_import_history,
    git_log_size,
    groups_file,
    isolated_run,
    notebook_json,
    pdf_bytes,
    rubric_file,
    run_containers,
)

from gitrepo import git
from repograder import cli
from repograder.errors import ExitCode
from repograder.model import GroupResult, GroupStatus, Status, StepStatus
from repograder.report import results as report_results

pytestmark = pytest.mark.docker

OK_STEP = "python -c 'print(6 * 7)'"
Run = tuple[dict[str, GroupResult], Path, int, dict[str, str], float]


def _crafted_tree_repo(path: Path) -> Path:
    """A commit whose tree holds ``..``, ``.git`` and ``.GIT`` entries (git mktree allows it)."""
    repo = attack_repo(path, [OK_STEP])

    def obj(*args: str, stdin: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], input=stdin, capture_output=True, text=True, check=True
        ).stdout.strip()

    evil = obj("hash-object", "-w", "--stdin", stdin=f"ESCAPED-{MARK}\n")
    hook = obj("hash-object", "-w", "--stdin", stdin=f"#!/bin/sh\ntouch /tmp/{MARK}-hook\n")
    inner = obj("mktree", stdin=f"100644 blob {evil}\tescaped.txt\n")
    hooks = obj("mktree", stdin=f"100755 blob {hook}\tpost-checkout\n")
    dotgit = obj("mktree", stdin=f"040000 tree {hooks}\thooks\n")
    head_tree = git(repo, "rev-parse", "HEAD^{tree}")
    listing = git(repo, "ls-tree", head_tree)
    rows = listing + f"\n040000 tree {inner}\t..\n040000 tree {dotgit}\t.git\n"
    rows += f"040000 tree {dotgit}\t.GIT\n"
    tree = obj("mktree", stdin=rows)
    env = {**os.environ, "GIT_AUTHOR_DATE": DATE, "GIT_COMMITTER_DATE": DATE}
    sha = subprocess.run(
        ["git", "-C", str(repo), "commit-tree", tree, "-p", "HEAD", "-m", "crafted tree"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    git(repo, "update-ref", "refs/heads/main", sha)
    return repo


def _submodule_repo(path: Path) -> Path:
    repo = attack_repo(
        path,
        [OK_STEP],
        {
            ".gitmodules": (
                '[submodule "a"]\n\tpath = a\n\turl = file:///etc\n'
                '[submodule "b"]\n\tpath = b\n'
                f"\turl = ext::sh -c touch% /tmp/{MARK}-ext\n"
                '[submodule "c"]\n\tpath = c\n\turl = ../../../../etc\n'
            )
        },
    )
    head = git(repo, "rev-parse", "HEAD")
    for name in ("a", "b", "c"):
        git(repo, "update-index", "--add", "--cacheinfo", f"160000,{head},{name}")
    git(repo, "commit", "-q", "-m", "add submodules", date=DATE)
    return repo


def _filter_repo(path: Path) -> Path:
    """Filters, fsmonitor and hooks configured in the *source* repository must never run."""
    repo = attack_repo(path, [OK_STEP], {".gitattributes": "* filter=evil diff=evil merge=evil\n"})
    marker = f"/tmp/{MARK}-filter"
    for key, value in (
        ("filter.evil.clean", f"touch {marker}-clean; cat"),
        ("filter.evil.smudge", f"touch {marker}-smudge; cat"),
        ("filter.evil.process", f"touch {marker}-process"),
        ("diff.evil.textconv", f"touch {marker}-textconv; cat"),
        ("core.fsmonitor", f"touch {marker}-fsmonitor"),
        ("uploadpack.packObjectsHook", f"touch {marker}-packhook"),
    ):
        git(repo, "config", key, value)
    for hook in ("post-checkout", "pre-upload", "post-merge", "reference-transaction"):
        script = repo / ".git" / "hooks" / hook
        script.write_text(f"#!/bin/sh\ntouch {marker}-hook-{hook}\n", encoding="utf-8")
        script.chmod(0o755)
    return repo


def _inject_repo(path: Path) -> Path:
    """Markup in README, output, commit messages, author, file names, notebook, PDF metadata."""
    readme = (
        f"# Project {INJECT}\n\n"
        + ("Words about the audio model and how to run it on a CPU in a few seconds. " * 6)
        + f"\n\n[click](javascript:alert('{MARK}')) {INJECT}\n\n"
        + f'<div onclick="x()">{MARK}</div>\n\n'
        + f"## Usage {INJECT}\n\n```bash\npython show.py\n```\n"
    )
    nb = notebook_json(
        [
            (
                f"from IPython.display import HTML, Javascript, display\nprint({INJECT!r})\n"
                f"display(HTML({INJECT!r}))\ndisplay(Javascript(\"alert('{MARK}')\"))\n",
                [
                    {"output_type": "stream", "name": "stdout", "text": INJECT},
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {
                            "text/html": INJECT,
                            "image/svg+xml": f"<svg onload=\"alert('{MARK}')\"/>",
                        },
                    },
                ],
            ),
            (f"raise ValueError({INJECT!r})\n", []),
        ]
    )
    paper = pdf_bytes(
        b"BT /F1 12 Tf 72 700 Td (" + INJECT.encode() + b") Tj ET",
        {"Title": INJECT, "Author": INJECT, "Producer": INJECT, "Creator": INJECT},
    )
    repo = attack_repo(
        path,
        [],
        {
            "README.md": readme,
            "show.py": f'"""Print markup."""\n# Output reaches the report.\nprint({INJECT!r})\n',
            f"<img src=x onerror=alert('{MARK}')>.py": "# a file name with markup\nx = 1\n",
            "analysis.ipynb": nb,
            "paper/paper.pdf": paper,
        },
    )
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": f"Eve {INJECT}",
        "GIT_AUTHOR_EMAIL": f"eve{MARK}@example.org",
        "GIT_COMMITTER_NAME": f"Eve {INJECT}",
        "GIT_COMMITTER_EMAIL": "eve@example.org",
        "GIT_AUTHOR_DATE": "2026-04-02T10:00:00+02:00",
        "GIT_COMMITTER_DATE": "2026-04-02T10:00:00+02:00",
    }
    (repo / "late.txt").write_text("late\n", encoding="utf-8")
    git(repo, "add", "-A")
    subprocess.run(
        ["git", "-C", str(repo), "commit", "-q", "-m", f"late {INJECT}\n\nbody {INJECT}"],
        env=env,
        check=True,
    )
    return repo


@pytest.fixture(scope="module", name="files_run")
def files_run_fixture(base_image: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("file-attacks")
    repos = root / "repos"
    big_line = "x = 1\n"
    names = attack_repo(
        repos / "names",
        ["python -c 'import os; print(len(os.listdir()))'"],
        {
            "new\nline.py": "# newline in the name\n",
            ("n" * 250) + ".py": "# a long name\n",
            "-rf": "not an option\n",
            "tab\there.py": "# tab\n",
        },
    )
    # A non-UTF-8 name needs bytes: write it with os functions.
    os.close(os.open(os.path.join(os.fsencode(names), b"caf\xe9.py"), os.O_CREAT | os.O_WRONLY))
    git(names, "add", "-A")
    git(names, "commit", "-q", "-m", "non-utf8 name", date=DATE)

    history = attack_repo(repos / "history", [OK_STEP])
    fast_import_history(history, 20_000)
    # History after the deadline date: all commits above are dated March 2026, before it.
    big_pdf = pdf_bytes(deflated_zeros(3 << 29), {"Title": "bomb"}, deflated=True)
    groups: list[tuple[str, Path]] = [
        ("names", names),
        (
            "bigreadme",
            attack_repo(repos / "bigreadme", [OK_STEP], {"docs/pad.md": ""}),
        ),
        (
            "millionlines",
            attack_repo(repos / "millionlines", [OK_STEP], {"big.py": big_line * 1_000_000}),
        ),
        (
            "bignotebook",
            attack_repo(
                repos / "bignotebook",
                [OK_STEP],
                {
                    "huge.ipynb": notebook_json(
                        [
                            (
                                "print(1)",
                                [
                                    {
                                        "output_type": "stream",
                                        "name": "stdout",
                                        "text": "A" * 100_000_000,
                                    }
                                ],
                            )
                        ]
                    )
                },
            ),
        ),
        ("pdfbomb", attack_repo(repos / "pdfbomb", [OK_STEP], {"paper/paper.pdf": big_pdf})),
        ("history", history),
        ("hugefile", attack_repo(repos / "hugefile", [OK_STEP], {"data.bin": b"\0" * 150_000_000})),
        ("crafted", _crafted_tree_repo(repos / "crafted")),
        ("submodules", _submodule_repo(repos / "submodules")),
        ("filters", _filter_repo(repos / "filters")),
        (f"inject {INJECT}", _inject_repo(repos / "inject")),
    ]
    # The 50 MB README replaces the generated one (its steps are then in the first lines).
    big = repos / "bigreadme" / "README.md"
    big.write_text(
        big.read_text(encoding="utf-8") + ("filler line\n" * 4_400_000), encoding="utf-8"
    )
    git(repos / "bigreadme", "commit", "-q", "-am", "huge readme", date=DATE)
    assert big.stat().st_size > 50_000_000
    assert git_log_size(history) > 20_000

    before = HostSnapshot.take()
    out = root / "out"
    started = time.monotonic()
    with isolated_run(root) as (run_id, run_tmp):
        code = cli.main(
            [
                "run",
                str(groups_file(root, groups)),
                "--rubric",
                str(rubric_file(root, notebooks=True, step_timeout="60s")),
                "--out",
                str(out),
                "-q",
                "-j",
                "2",
            ]
        )
    elapsed = time.monotonic() - started
    run = report_results.read_results(out / "results.json")
    leftovers = {
        "containers": " ".join(run_containers(run_id)),
        "temp files": " ".join(os.listdir(run_tmp)),
        "processes": "\n".join(child_processes()),
        "host files": repr(before.new_entries(HostSnapshot.take())),
        "markers": " ".join(p for p in os.listdir("/tmp") if MARK in p),
    }
    return {g.name: g for g in run.groups}, out, code, leftovers, elapsed


def _checks(group: GroupResult) -> dict[str, Status]:
    return {c.id: c.status for c in group.checks}


def test_every_group_is_graded_and_the_host_is_clean(files_run: Run) -> None:
    groups, _, code, leftovers, elapsed = files_run
    assert code == ExitCode.OK, {g.name: g.error for g in groups.values()}
    assert all(g.status == GroupStatus.GRADED for g in groups.values())
    assert leftovers == {
        "containers": "",
        "temp files": "",
        "processes": "",
        "host files": "{}",
        "markers": "",
    }
    assert elapsed < 240


def test_absurd_file_names_are_graded(files_run: Run) -> None:
    group = files_run[0]["names"]
    (step,) = [s for s in group.steps if s.kind == "run"]
    assert step.status == StepStatus.OK
    # README.md, requirements.txt and the five odd names all reached the sandbox copy.
    assert step.output_head.split()[-1] == "7"


def test_huge_readme_is_read_in_part(files_run: Run) -> None:
    group = files_run[0]["bigreadme"]
    assert _checks(group)["readme"] in (Status.PASS, Status.WARN)
    assert [s.status for s in group.steps if s.kind == "run"] == [StepStatus.OK]
    readme_check = next(c for c in group.checks if c.id == "readme")
    assert "only the start was read" in json.dumps(readme_check.details)


def test_million_line_file_is_skipped_with_the_reason(files_run: Run) -> None:
    group = files_run[0]["millionlines"]
    check = next(c for c in group.checks if c.id == "comments")
    assert check.status == Status.SKIP
    assert "big.py: larger than 2 MB, not measured" in check.summary
    assert "grader_problems" not in group.artifacts


def test_huge_notebook_is_refused_not_loaded(files_run: Run) -> None:
    group = files_run[0]["bignotebook"]
    # 100 MB exceed the 64 MB copy of the checkout: the notebook is not there to run.
    assert _checks(group)["notebooks"] == Status.FAIL
    assert "grader_problems" not in group.artifacts
    assert all(p.stat().st_size < 5_000_000 for p in files_run[1].rglob("*") if p.is_file())


def test_pdf_bomb_is_unreadable_not_fatal(files_run: Run) -> None:
    group = files_run[0]["pdfbomb"]
    checks = {c.id: c for c in group.checks}
    # A grader limit, not the student's fault: error (looked at by hand), the group is graded.
    assert checks["paper-pages"].status == Status.ERROR
    assert "probably more memory than the 1024 MB allowed" in checks["paper-pages"].summary
    assert [s.status for s in group.steps if s.kind == "run"] == [StepStatus.OK]
    assert "grader_problems" not in group.artifacts


def test_huge_history_and_huge_file(files_run: Run) -> None:
    groups = files_run[0]
    assert groups["history"].status == GroupStatus.GRADED
    assert [s.status for s in groups["history"].steps if s.kind == "run"] == [StepStatus.OK]
    huge = groups["hugefile"]
    assert [s.status for s in huge.steps if s.kind == "run"] == [StepStatus.OK]


def test_crafted_tree_entries_are_skipped(files_run: Run) -> None:
    groups, out, *_ = files_run
    group = groups["crafted"]
    assert [s.status for s in group.steps if s.kind == "run"] == [StepStatus.OK]
    assert not list(out.parent.rglob("escaped.txt"))
    assert not any(MARK in p for p in os.listdir("/tmp"))


def test_submodules_are_never_fetched(files_run: Run) -> None:
    group = files_run[0]["submodules"]
    assert group.status == GroupStatus.GRADED
    assert [s.status for s in group.steps if s.kind == "run"] == [StepStatus.OK]


def test_source_repository_filters_and_hooks_never_run(files_run: Run) -> None:
    group = files_run[0]["filters"]
    assert group.status == GroupStatus.GRADED
    assert [s.status for s in group.steps if s.kind == "run"] == [StepStatus.OK]


def test_injected_markup_is_never_live(files_run: Run) -> None:
    groups, out, *_ = files_run
    group = groups[f"inject {INJECT}"]
    assert group.status == GroupStatus.GRADED
    (step,) = [s for s in group.steps if s.kind == "run"]
    assert step.output_head.strip() == INJECT
    assert group.late_commits
    assert INJECT in group.late_commits[0].subject
    assert _checks(group)["notebooks"] in (Status.WARN, Status.FAIL)  # the second cell raises
    shown = assert_no_live_markup(out)
    assert shown >= 3
    pages = "\n".join(p.read_text(encoding="utf-8") for p in out.rglob("*.html"))
    assert "&lt;script&gt;alert(" in pages
