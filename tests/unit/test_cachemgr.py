"""`repograder cache info|prune` on the cache folder (no Docker needed)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from repograder import cachemgr
from repograder.cli import main

OLD = time.time() - 40 * cachemgr.DAY


def _file(path: Path, size: int, mtime: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
        os.utime(path.parent, (mtime, mtime))


def _cache(root: Path) -> Path:
    cache = root / "cache"
    _file(cache / "mirrors" / "a.git" / "pack", 10_000)
    _file(cache / "envs" / "old" / "lib.py", 5_000, OLD)
    _file(cache / "envs" / "new" / "lib.py", 5_000)
    _file(cache / "work" / "deadrun" / "g" / "f", 3_000, OLD)
    _file(cache / "work" / "liverun" / "g" / "f", 3_000)
    return cache


def test_parse_age() -> None:
    assert cachemgr.parse_age("30d") == 30 * cachemgr.DAY
    assert cachemgr.parse_age("12h") == 12 * 3600
    assert cachemgr.parse_age("2w") == 14 * cachemgr.DAY
    assert cachemgr.parse_age("0") == 0
    with pytest.raises(ValueError, match="not an age"):
        cachemgr.parse_age("soon")


def test_info_counts_and_sizes(tmp_path: Path) -> None:
    entries = {e.name: e for e in cachemgr.cache_info(_cache(tmp_path), use_docker=False)}
    assert entries["git mirrors"].count == 1
    assert entries["git mirrors"].size is not None
    assert entries["git mirrors"].size >= 10_000
    assert entries["local environments"].count == 2
    assert entries["work folders"].count == 2
    text = cachemgr.format_info(tuple(entries.values()))
    assert "git mirrors" in text
    assert "total" in text


def test_prune_removes_old_envs_and_dead_work_only(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    result = cachemgr.prune(cache, older_than_s=30 * cachemgr.DAY, use_docker=False)
    assert not (cache / "envs" / "old").exists()
    assert (cache / "envs" / "new").exists()
    assert not (cache / "work" / "deadrun").exists()
    assert (cache / "work" / "liverun").exists()  # touched within the grace period
    assert (cache / "mirrors" / "a.git").exists()  # only --all removes mirrors
    assert result.freed >= 8_000
    assert len(result.removed) == 2


def test_prune_dry_run_removes_nothing(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    result = cachemgr.prune(cache, older_than_s=0, dry_run=True, use_docker=False)
    assert result.removed
    assert (cache / "envs" / "old").exists()
    assert (cache / "envs" / "new").exists()


def test_prune_all_empties_the_folder_caches(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    cachemgr.prune(cache, remove_all=True, use_docker=False)
    assert not (cache / "mirrors").exists()
    assert not any((cache / "envs").iterdir())
    assert not any((cache / "work").iterdir())


def test_cli_cache_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = _cache(tmp_path)
    monkeypatch.setenv("REPOGRADER_CACHE", str(cache))
    assert main(["cache", "info", "--no-docker"]) == 0
    assert "local environments" in capsys.readouterr().out
    assert main(["cache", "prune", "--no-docker", "--older-than", "30d"]) == 0
    assert "removed 2 item(s)" in capsys.readouterr().out
    assert main(["cache", "prune", "--no-docker", "--older-than", "soon"]) == 2
