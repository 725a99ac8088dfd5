"""`repograder run`'s default --jobs: cores at the CPU quota plus one, within memory."""

from __future__ import annotations

import os

import pytest

from repograder.cli import run as cli_run
from repograder.sandbox.base import Limits

GIB_PAGES = (1024 * 1024 * 1024) // 4096


def _machine(monkeypatch: pytest.MonkeyPatch, cores: int, mem_gib: int) -> None:
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
