"""groups.yaml and rubric validation: every error names the file, the line and the key."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from repograder.config import (
    DEFAULT_RUBRIC,
    load_groups,
    load_rubric,
    parse_duration,
    validate_file,
)
from repograder.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "groups.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_groups(path)
    return str(info.value)


def test_full_groups_file_as_in_contracts(tmp_path: Path) -> None:
    (tmp_path / "local-group").mkdir()
    path = write(
        tmp_path,
        """
        course: Machine Learning for Audio Data
        deadline: 2026-03-31T23:59:59+02:00
        rubric: rubrics/custom.yaml
        groups:
          - name: group-1
            repo: https://github.com/org/group-1.git
            ref: main
            members: [Ada Lovelace, Alan Turing]
          - name: group-2
            repo: local-group
          - name: group-3
            repo: git@github.com:org/group-3.git
        """,
    )
    config = load_groups(path)
    assert config.course == "Machine Learning for Audio Data"
    assert config.deadline is not None
    assert config.deadline.utcoffset() == timedelta(hours=2)
    assert config.rubric_path == (tmp_path / "rubrics/custom.yaml").resolve()
    g1, g2, g3 = config.groups
    assert (g1.name, g1.ref, g1.members) == ("group-1", "main", ("Ada Lovelace", "Alan Turing"))
    assert g1.repo == "https://github.com/org/group-1.git"
    assert g2.repo == str((tmp_path / "local-group").resolve())  # relative to the groups file
    assert g3.repo == "git@github.com:org/group-3.git"
    assert g1.line == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            """
            groups:
              - name: a
                repo: x
              - name: b
                rpeo: y
            """,
            [
                "groups.yaml:4: groups[1].repo: required",
                "groups.yaml:5: groups[1].rpeo: unknown key",
            ],
        ),
        (
            """
            course: C
            deadlin: 2026-03-31T23:59:59+02:00
            groups:
              - {name: a, repo: x}
            """,
            ["groups.yaml:2: deadlin: unknown key"],
        ),
        (
            """
            deadline: 2026-03-31 23:59
            groups:
              - {name: a, repo: x}
            """,
            ["groups.yaml:1: deadline:", "no UTC offset"],
        ),
        (
            """
            deadline: next friday
            groups:
              - {name: a, repo: x}
            """,
            ["groups.yaml:1: deadline:", "not an ISO 8601"],
        ),
        (
            """
            groups:
              - name: a
                repo: x
              - name: a
                repo: y
            """,
            ["groups.yaml:4: groups[1].name:", "duplicates the group 'a' on line 2"],
        ),
        (
            """
            groups: []
            """,
            ["groups.yaml:1: groups:", "at least 1"],
        ),
        (
            """
            groups:
              - name: a
                repo: "ext::sh -c touch% /tmp/pwned"
            """,
            ["groups.yaml:3: groups[0].repo:", "not allowed"],
        ),
        (
            """
            groups:
              - name: a
                repo: x
                members: Ada
            """,
            ["groups.yaml:4: groups[0].members:"],
        ),
        (
            """
            groups:
              - name: a
                repo: x
                name: b
            """,
            ["groups.yaml:4: groups[0].name: duplicate key"],
        ),
        (
            """
            groups:
              - name: a
                repo: [x
            """,
            ["groups.yaml:", "invalid YAML"],
        ),
        (
            """
            - just
            - a list
            """,
            ["groups.yaml:1: top level: expected a mapping"],
        ),
        (
            """
            groups:
              - name: 12
                repo: x
            """,
            ["groups.yaml:2: groups[0].name:", "string"],
        ),
    ],
)
def test_bad_groups_file_names_file_line_and_key(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    message = error_of(write(tmp_path, text))
    for fragment in expected:
        assert fragment in message, message
    assert str(tmp_path) in message  # the file, with its folder


def test_missing_groups_file(tmp_path: Path) -> None:
    assert "file not found" in error_of(tmp_path / "nope.yaml")


def test_default_rubric_lists_only_implemented_checks() -> None:
    rubric = load_rubric()
    assert rubric.path == DEFAULT_RUBRIC
    assert [c.id for c in rubric.checks] == [
        "readme",
        "env-file",
        "env-build",
        "readme-steps",
        "notebooks",
        "comments",
        "paper-pages",
        "paper-format",
    ]
    assert rubric.max_score == 10
    assert rubric.limits.step_timeout_s == 600
    assert rubric.limits.network is False
    assert len(rubric.sha256) == 64


def test_rubric_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: r
        checks:
          - id: readme
            points: 1
          - id: plagiarism
            points: 2
          - id: comments
            points: -1
            extra: 1
        limits:
          step_timeout: soon
        """,
        "rubric.yaml",
    )
    with pytest.raises(ConfigError) as info:
        load_rubric(path)
    message = str(info.value)
    assert "rubric.yaml:5: checks[1].id: unknown check 'plagiarism'" in message
    assert "rubric.yaml:8: checks[2].points:" in message
    assert "rubric.yaml:9: checks[2].extra: unknown key" in message
    assert "rubric.yaml:11: limits.step_timeout:" in message


def test_rubric_duplicate_check(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: r
        checks:
          - {id: readme, points: 1}
          - {id: readme, points: 2}
        """,
        "rubric.yaml",
    )
    with pytest.raises(ConfigError, match=r"rubric.yaml:4: checks\[1\].id: 'readme' is already"):
        load_rubric(path)


def test_validate_file_tells_groups_from_rubrics(tmp_path: Path) -> None:
    groups = write(tmp_path, "groups:\n  - {name: a, repo: x}\n")
    assert "groups file OK (1 groups)" in validate_file(groups)
    assert "rubric 'dl4ad' OK (8 checks, 10 points)" in validate_file(DEFAULT_RUBRIC)


@pytest.mark.parametrize(
    ("value", "seconds"), [(90, 90.0), ("90s", 90.0), ("20m", 1200.0), ("1.5h", 5400.0)]
)
def test_parse_duration(value: str | int, seconds: float) -> None:
    assert parse_duration(value) == seconds


def test_parse_duration_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        parse_duration("soon")
