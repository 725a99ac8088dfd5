"""Hostile lock files and dependency entries: a value with a line break must not smuggle a
requirements line (``-r /etc/passwd``, ``--index-url``) past the checks a requirements file's
own lines get; deep or huge documents are a parse error, not a crash. Pure, no sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repograder import detect
from repograder.envparse import sanitize_requirement

SMUGGLED = "-r /etc/passwd"


def _lock(tmp_path: Path, name: str, text: str) -> detect.EnvSpec:
    (tmp_path / name).write_text(text)
    return detect.detect_env(tmp_path)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "poetry.lock",
            '[[package]]\nname = "torch"\nversion = "2.0"\n'
            f"markers = \"python_version > '3'\\n{SMUGGLED}\"\n",
        ),
        ("uv.lock", f'[[package]]\nname = "numpy\\n{SMUGGLED}"\nversion = "1.26.0"\n'),
        ("pdm.lock", f'[[package]]\nname = "numpy"\nversion = "1.26.0\\r{SMUGGLED}"\n'),
        (
            "Pipfile.lock",
            json.dumps({"default": {"numpy": {"version": f"==1.26.0\n{SMUGGLED}"}}}),
        ),
        (
            "pyproject.toml",
            f'[project]\nname = "x"\nversion = "1"\ndependencies = ["numpy\\n{SMUGGLED}"]\n',
        ),
    ],
)
def test_a_line_break_inside_an_entry_smuggles_no_requirements_line(
    tmp_path: Path, name: str, text: str
) -> None:
    spec = _lock(tmp_path, name, text)
    assert not any(c in r for r in spec.requirements for c in "\n\r\x00"), spec.requirements
    assert any("control character" in d or "not a package name" in d for d in spec.dropped)


@pytest.mark.parametrize(
    "bad", ["numpy\n-r x", "numpy\r-r x", "numpy\x00", "numpy\x1b[2J", "a\u2028b"]
)
def test_a_requirement_with_a_control_or_line_separator_character_is_dropped(bad: str) -> None:
    result = sanitize_requirement(bad)
    assert result.line is None
    assert result.dropped is not None
    assert "control character" in result.dropped


def test_tabs_and_ordinary_requirements_are_kept() -> None:
    assert sanitize_requirement("numpy>=1.26\t# pinned").line is not None
    assert sanitize_requirement("torch==2.0; python_version > '3'").line is not None


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("poetry.lock", "a = " + "[" * 200_000 + "]" * 200_000),
        ("uv.lock", "a = " + "{x=" * 100_000 + "}" * 100_000),
        ("Pipfile.lock", "[" * 200_000 + "]" * 200_000),
    ],
)
def test_a_deeply_nested_lock_file_is_a_parse_error(tmp_path: Path, name: str, text: str) -> None:
    spec = _lock(tmp_path, name, text)
    assert spec.parse_error is not None
    assert spec.requirements == ()


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("Pipfile.lock", json.dumps({"default": {"-r /etc/passwd": {"version": ""}}})),
        ("Pipfile.lock", json.dumps({"default": {"--index-url https://x.example": {}}})),
        ("poetry.lock", '[[package]]\nname = "-c /etc/shadow"\nversion = "1"\n'),
        ("uv.lock", '[[package]]\nname = "numpy"\nversion = "1 -r /etc/passwd"\n'),
        ("pdm.lock", '[[package]]\nname = "numpy ; -r x"\nversion = "1"\n'),
    ],
)
def test_a_lock_entry_that_is_not_a_package_name_and_version_is_dropped(
    tmp_path: Path, name: str, text: str
) -> None:
    """A lock file's package name became a pip option (``-r /etc/passwd``), past the include
    checks a requirements file's own ``-r`` lines get."""
    spec = _lock(tmp_path, name, text)
    assert spec.requirements == (), spec.requirements
    assert spec.dropped, "the entry is reported"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "pyproject.toml",
            '[project]\nname = "x"\nversion = "1"\ndependencies = ["-r /etc/passwd", "numpy"]\n',
        ),
        (
            "pyproject.toml",
            '[tool.poetry]\nname = "x"\nversion = "1"\n'
            '[tool.poetry.dependencies]\n"-c /etc/shadow" = "*"\nnumpy = "*"\n',
        ),
        (
            "setup.py",
            'from setuptools import setup\nsetup(install_requires=["-r /etc/passwd", "numpy"])\n',
        ),
        ("Pipfile", '[packages]\n"-r /etc/passwd" = "*"\nnumpy = "*"\n'),
    ],
)
def test_a_dependency_list_holds_packages_not_pip_options(
    tmp_path: Path, name: str, text: str
) -> None:
    """PEP 508 dependency strings are never pip options; only a requirements file may hold
    ``-r``/``-c`` lines, and there they are checked to stay inside the repository."""
    spec = _lock(tmp_path, name, text)
    assert spec.requirements == ("numpy",), spec.requirements
    assert any("pip option" in d for d in spec.dropped), spec.dropped
