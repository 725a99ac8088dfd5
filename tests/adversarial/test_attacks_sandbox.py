"""Repositories that attack the Docker sandbox, graded by one real `repograder run`.

Each group is one attack; its README steps are the attack followed by ``echo survived`` (the
session must still work afterwards). Asserted per group: the exact step outcome, the hint, and
that nothing of the host leaked; afterwards no repograder container, no stray child process, no
new file in a few host folders, and no live markup in any HTML page.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from attack_repos import (
    INJECT,
    MARK,
    HostSnapshot,
    assert_no_live_markup,
    attack_repo,
    base_image_fixture,  # noqa: F401
    child_processes,
    groups_file,
    isolated_run,
    rubric_file,
    run_containers,
)

from repograder import cli
from repograder.errors import ExitCode
from repograder.model import GroupResult, GroupStatus, Status, StepResult, StepStatus
from repograder.report import results as report_results

pytestmark = pytest.mark.docker

SURVIVED = "echo survived-$((40 + 2))"

MEM_PY = """\
# Grab memory in 16 MB chunks until the kernel says no.
chunks = []
while True:
    chunks.append(bytearray(16 << 20))
"""
FORK_PY = """\
# A classic fork bomb: every process forks forever.
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""
NET_PY = """\
# Try the network three ways; each must fail quickly.
import socket, urllib.request
for target in (("1.1.1.1", 53), ("pypi.org", 443)):
    try:
        socket.create_connection(target, timeout=2)
        print("CONNECTED", target)
    except OSError as exc:
        print("blocked", target, type(exc).__name__)
urllib.request.urlopen("http://example.org", timeout=2)
"""
PROBE_SH = """\
#!/bin/bash
# Look for the engine socket, host secrets and other groups' files.
for p in /var/run/docker.sock /run/docker.sock "$@"; do
  if [ -e "$p" ]; then echo "FOUND $p"; cat "$p" 2>&1 | head -c 200; else echo "absent $p"; fi
done
cat /etc/shadow 2>&1 | head -c 300
ls -la /root 2>&1 | head -5
id
"""


def _steps(group: GroupResult) -> list[StepResult]:
    return [s for s in group.steps if s.kind == "run"]


@pytest.fixture(scope="module", name="attack_run")
def attack_run_fixture(
    base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, GroupResult], Path, int, dict[str, str]]:
    root = tmp_path_factory.mktemp("sandbox-attacks")
    secret = root / "host-secret.txt"
    secret.write_text(f"HOST-SECRET-{MARK}\n", encoding="utf-8")
    repos = root / "repos"
    other = attack_repo(repos / "other-group", [SURVIVED], {"private.txt": "OTHER-GROUP-DATA\n"})
    groups = [
        (
            "membomb",
            attack_repo(repos / "membomb", ["python mem.py", SURVIVED], {"mem.py": MEM_PY}),
        ),
        (
            "forkbomb",
            attack_repo(repos / "forkbomb", ["python fork.py", SURVIVED], {"fork.py": FORK_PY}),
        ),
        (
            "flood",
            attack_repo(
                repos / "flood",
                ["head -c 50000000 /dev/zero | tr '\\0' 'A'; echo; echo END-OF-FLOOD", SURVIVED],
            ),
        ),
        ("loop", attack_repo(repos / "loop", ["python -c 'while True: pass'", SURVIVED])),
        (
            "diskfill",
            attack_repo(
                repos / "diskfill",
                ["dd if=/dev/zero of=fill.bin bs=1M count=500", "rm -f fill.bin", SURVIVED],
            ),
        ),
        (
            "network",
            attack_repo(repos / "network", ["python net.py", SURVIVED], {"net.py": NET_PY}),
        ),
        (
            "probe",
            attack_repo(
                repos / "probe",
                [f"bash probe.sh {secret} {other}/private.txt /repos /root/.docker", SURVIVED],
                {"probe.sh": PROBE_SH},
            ),
        ),
        ("other-group", other),
        (
            f"inject {INJECT}",
            attack_repo(
                repos / "inject",
                [f"echo '{INJECT}'", "python inject.py", SURVIVED],
                {"inject.py": f"print({INJECT!r})\n"},
            ),
        ),
    ]
    # Symlinks out of the repository: in the container they resolve to the container's files.
    links = attack_repo(repos / "symlinks", ["cat leak.txt", "ls hostroot/ | head", SURVIVED])
    os.symlink(secret, links / "leak.txt")
    os.symlink(str(root), links / "hostroot")
    from gitrepo import commit

    commit(links, {}, "add links", "2026-03-30T13:00:00+02:00")
    groups.append(("symlinks", links))

    before = HostSnapshot.take()
    out = root / "out"
    with isolated_run(root) as (run_id, run_tmp):
        code = cli.main(
            [
                "run",
                str(groups_file(root, groups)),
                "--rubric",
                str(rubric_file(root)),
                "--out",
                str(out),
                "-q",
                "-j",
                "2",
            ]
        )
    run = report_results.read_results(out / "results.json")
    leftovers = {
        "containers": " ".join(run_containers(run_id)),
        "temp files": " ".join(os.listdir(run_tmp)),
        "processes": "\n".join(child_processes()),
        "host files": repr(before.new_entries(HostSnapshot.take())),
    }
    return {g.name: g for g in run.groups}, out, code, leftovers


def test_every_attack_is_graded_and_the_host_is_clean(
    attack_run: tuple[dict[str, GroupResult], Path, int, dict[str, str]],
) -> None:
    groups, _out, code, leftovers = attack_run
    assert code == ExitCode.OK
    assert all(g.status == GroupStatus.GRADED for g in groups.values()), {
        g.name: g.error for g in groups.values()
    }
    assert leftovers == {"containers": "", "temp files": "", "processes": "", "host files": "{}"}
    # Every session survived its attack: the step after it ran.
    for name, group in groups.items():
        last = _steps(group)[-1]
        assert last.status == StepStatus.OK, name
        assert "survived-42" in last.output_head, name


def test_memory_bomb_is_killed_with_the_memory_hint(
    attack_run: tuple[dict[str, GroupResult], Path, int, dict[str, str]],
) -> None:
    step = _steps(attack_run[0]["membomb"])[0]
    assert step.status == StepStatus.FAILED
    assert step.exit_code == 137
    assert "memory limit (256 MB)" in step.hint


def test_fork_bomb_is_contained(
    attack_run: tuple[dict[str, GroupResult], Path, int, dict[str, str]],
) -> None:
    step = _steps(attack_run[0]["forkbomb"])[0]
    # The pids limit stops the spread; the step's timeout then kills the whole process group.
    assert step.status == StepStatus.TIMEOUT
    assert step.exit_code is None
    assert "still running after 5 s" in step.hint


def test_infinite_output_is_capped_and_counted(
    attack_run: tuple[dict[str, GroupResult], Path, int, dict[str, str]],
) -> None:
    step = _steps(attack_run[0]["flood"])[0]
    assert step.status == StepStatus.OK
    assert len(step.output_head.encode()) <= 8 * 1024
    assert len(step.output_tail.encode()) <= 8 * 1024
    assert "END-OF-FLOOD" in step.output_tail
    stored = (out := attack_run[1]) / "results.json"
    assert stored.stat().st_size < 2_000_000, "the flood reached the results file"
    assert all(p.stat().st_size < 2_000_000 for p in out.rglob("*") if p.is_file())


def test_infinite_loop_times_out(
    attack_run: tuple[dict[str, GroupResult], Path, int, dict[str, str]],
) -> None:
    step = _steps(attack_run[0]["loop"])[0]
    assert step.status == StepStatus.TIMEOUT
    assert step.reason == "timed out after 5 s"
    assert 4.5 <= step.duration_s < 20


def test_disk_filler_hits_the_copy_size_limit(
    attack_run: tuple[dict[str, GroupResult], Path, int, dict[str, str]],
) -> None:
    fill, cleanup, _ = _steps(attack_run[0]["diskfill"])
    assert fill.status == StepStatus.FAILED
    assert "No space left on device" in fill.output_head + fill.output_tail
    assert cleanup.status == StepStatus.OK


def test_network_is_unreachable(
    attack_run: tuple[dict[str, GroupResult], Path, int, dict[str, str]],
) -> None:
    step = _steps(attack_run[0]["network"])[0]
    assert step.status == StepStatus.FAILED
    assert "CONNECTED" not in step.output_head
    assert step.output_head.count("blocked") == 2
    assert "needs the network" in step.hint


def test_engine_socket_host_secrets_and_other_groups_are_unreachable(
    attack_run: tuple[dict[str, GroupResult], Path, int, dict[str, str]],
) -> None:
    step = _steps(attack_run[0]["probe"])[0]
    text = step.output_head + step.output_tail
    assert "FOUND" not in text
    assert "absent /var/run/docker.sock" in text
    assert "absent /run/docker.sock" in text
    assert "HOST-SECRET" not in text
    assert "OTHER-GROUP-DATA" not in text
    assert "Permission denied" in text  # /etc/shadow of the image, unreadable for uid 1000
    assert "uid=1000" in text
    assert "uid=0" not in text


def test_symlinks_out_of_the_repository_resolve_inside_the_container(
    attack_run: tuple[dict[str, GroupResult], Path, int, dict[str, str]],
) -> None:
    cat, ls, _ = _steps(attack_run[0]["symlinks"])
    assert "HOST-SECRET" not in cat.output_head
    assert cat.status == StepStatus.FAILED
    assert "No such file" in cat.output_head
    assert "host-secret" not in ls.output_head
    assert "repos" not in ls.output_head


def test_injected_markup_is_never_live(
    attack_run: tuple[dict[str, GroupResult], Path, int, dict[str, str]],
) -> None:
    groups, out, _, _ = attack_run
    hostile = groups[f"inject {INJECT}"]
    placeholder = hostile.steps[0]
    assert placeholder.status == StepStatus.SKIPPED
    assert "placeholder" in placeholder.reason
    printed = _steps(hostile)[0]
    assert printed.output_head.strip() == INJECT  # kept verbatim as data
    assert assert_no_live_markup(out) >= 2  # index and the group's page show it as text
    checks = {c.id: c for c in hostile.checks}
    assert checks["readme-steps"].status == Status.PASS
