"""The optional rubric key `environment.common` (the shared environment layer)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from repograder.config import load_rubric
from repograder.errors import ConfigError


def _rubric(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "rubric.yaml"
    body = "name: r\nchecks:\n  - id: readme\n    points: 1\n" + textwrap.dedent(extra)
    path.write_text(body)
    return path


def test_common_requirements_are_read(tmp_path: Path) -> None:
    path = _rubric(tmp_path, "environment:\n  common: [numpy, ' torch>=2 ', '']\n")
    assert load_rubric(path).common_requirements == ("numpy", "torch>=2")


def test_environment_is_optional(tmp_path: Path) -> None:
    assert load_rubric(_rubric(tmp_path, "")).common_requirements == ()


def test_unknown_environment_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"environment\.shared"):
        load_rubric(_rubric(tmp_path, "environment:\n  shared: [numpy]\n"))


def test_common_apt_packages_are_read(tmp_path: Path) -> None:
    rubric = load_rubric(
        _rubric(tmp_path, "environment:\n  common: [numpy]\n  apt: [libsndfile1]\n")
    )
    assert rubric.common_apt == ("libsndfile1",)
