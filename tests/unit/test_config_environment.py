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


def test_the_shared_layer_is_inferred_by_default(tmp_path: Path) -> None:
    rubric = load_rubric(_rubric(tmp_path, ""))
    assert rubric.infer_layer
    assert (rubric.layer_min_share, rubric.layer_min_groups) == (0.5, 2)


def test_environment_none_turns_the_shared_layer_off(tmp_path: Path) -> None:
    rubric = load_rubric(_rubric(tmp_path, "environment: none\n"))
    assert not rubric.infer_layer
    assert rubric.common_requirements == ()


def test_inference_threshold_is_configurable(tmp_path: Path) -> None:
    rubric = load_rubric(_rubric(tmp_path, "environment:\n  min_share: 0.25\n  min_groups: 3\n"))
    assert (rubric.layer_min_share, rubric.layer_min_groups) == (0.25, 3)
    with pytest.raises(ConfigError, match=r"environment\.min_share"):
        load_rubric(_rubric(tmp_path, "environment:\n  min_share: 2\n"))


def test_apt_without_common_is_added_to_the_inferred_layer(tmp_path: Path) -> None:
    # The grader's advice for a missing system library is `environment: apt: [...]`: following
    # it must not turn the inferred layer off (every group would build its stack alone).
    from repograder.cli.run import layer_options

    rubric = load_rubric(
        _rubric(tmp_path, "environment:\n  apt: [ffmpeg]\n  warmup: ['python -c 1']\n")
    )
    assert rubric.infer_layer
    assert layer_options(rubric) == {
        "inferred_apt": ("ffmpeg",),
        "inferred_warmup": ("python -c 1",),
    }


def test_common_declares_the_layer_with_its_apt_and_the_notebook_tooling(tmp_path: Path) -> None:
    from repograder.cli.run import layer_options
    from repograder.notebooks import NOTEBOOK_TOOLING

    path = tmp_path / "rubric.yaml"
    path.write_text(
        "name: r\nchecks:\n  - id: readme\n    points: 1\n  - id: notebooks\n    points: 1\n"
        "environment:\n  common: [numpy]\n  apt: [libsndfile1]\n"
    )
    assert layer_options(load_rubric(path)) == {
        "common": ("numpy", *NOTEBOOK_TOOLING),
        "common_apt": ("libsndfile1",),
        "warmup": (),
    }


def test_apt_with_inference_off_is_a_layer_of_its_own(tmp_path: Path) -> None:
    from repograder.cli.run import layer_options

    rubric = load_rubric(_rubric(tmp_path, "environment:\n  infer: false\n  apt: [ffmpeg]\n"))
    assert layer_options(rubric) == {"common": (), "common_apt": ("ffmpeg",), "warmup": ()}
    assert layer_options(load_rubric(_rubric(tmp_path, "environment: none\n"))) == {}
