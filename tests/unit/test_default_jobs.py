"""`repograder run`'s default --jobs: cores at the CPU quota plus one, within memory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from repograder.cli import run as cli_run
from repograder.sandbox.base import Limits

GIB_PAGES = (1024 * 1024 * 1024) // 4096


def _machine(
    monkeypatch: pytest.MonkeyPatch, cores: int, mem_gib: int, cgroup: Path | None = None
) -> None:
    # No cgroup limits unless a test writes them (the machine running the tests may have some).
    monkeypatch.setattr(cli_run, "CGROUP_ROOT", cgroup or Path("/nonexistent-cgroup"))
    monkeypatch.setattr(cli_run.os, "sched_getaffinity", lambda _pid: set(range(cores)))
    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": mem_gib * GIB_PAGES}
    monkeypatch.setattr(cli_run.os, "sysconf", lambda name: pages[name])


@pytest.mark.parametrize(
    ("cores", "mem_gib", "limits", "jobs"),
    [
        (2, 24, Limits(memory_mb=4096, cpus=1.0), 3),  # the benchmark machine
        (8, 64, Limits(memory_mb=4096, cpus=1.0), 9),
        (2, 24, Limits(memory_mb=4096, cpus=2.0), 2),  # one sandbox takes both cores
        (4, 64, Limits(memory_mb=2048, cpus=0.5), 9),
        (8, 8, Limits(memory_mb=4096, cpus=1.0), 2),  # memory holds two sandboxes only
        (1, 1, Limits(memory_mb=4096, cpus=1.0), 1),  # never fewer than one
        # Small sessions, but every sandbox builds first, unthrottled, in up to 4 GiB:
        # 24 GiB hold six builds, not the nine that 2 cores at 0.25 CPU would allow.
        (2, 24, Limits(memory_mb=1024, cpus=0.25), 6),
    ],
)
def test_default_jobs(
    monkeypatch: pytest.MonkeyPatch, cores: int, mem_gib: int, limits: Limits, jobs: int
) -> None:
    _machine(monkeypatch, cores, mem_gib)
    assert cli_run.default_jobs(limits) == jobs


def test_default_jobs_counts_only_the_cores_this_process_may_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _machine(monkeypatch, 2, 24)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)  # the host's, not ours (taskset, cgroup)
    assert cli_run.default_jobs(Limits(memory_mb=4096, cpus=1.0)) == 3


def test_default_jobs_has_no_floating_point_shortfall(monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch, 33, 512)  # 33 / 1.1 is 29.999999999999996
    assert cli_run.default_jobs(Limits(memory_mb=4096, cpus=1.1)) == 31


@pytest.mark.parametrize(
    ("files", "jobs"),
    [
        ({"cpu.max": "200000 100000\n", "memory.max": "max\n"}, 3),  # docker --cpus 2
        ({"cpu.max": "max 100000\n", "memory.max": str(8 << 30)}, 2),  # docker --memory 8g
        ({"cpu.max": "50000 100000\n"}, 2),  # half a core: still one core's worth
        ({"cpu/cpu.cfs_quota_us": "400000", "cpu/cpu.cfs_period_us": "100000"}, 5),  # v1
        ({"memory/memory.limit_in_bytes": str(2**63 - 4096)}, 65),  # v1 without a limit
    ],
)
def test_default_jobs_follows_the_cgroup_quota_of_a_container(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, files: dict[str, str], jobs: int
) -> None:
    """Inside a container limited by --cpus/--memory, sched_getaffinity and RAM are the
    host's (64 cores, 512 GiB here): the cgroup's quota decides."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="ascii")
    _machine(monkeypatch, 64, 512, cgroup=tmp_path)
    assert cli_run.default_jobs(Limits(memory_mb=4096, cpus=1.0)) == jobs
