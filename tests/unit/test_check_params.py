"""Rubric parameters are validated when the rubric is loaded; the README's table matches."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml

from repograder import cli
from repograder.checks.base import StrictParams
from repograder.checks.registry import CHECKS
from repograder.config import load_rubric

ROOT = Path(__file__).resolve().parents[2]


def _rubric(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "rubric.yaml"
    path.write_text("name: t\nchecks:\n" + textwrap.dedent(body))
    return path


@pytest.mark.parametrize(
    ("body", "line", "key", "why"),
    [
        (
            """\
            - id: readme
              points: 1
            - id: paper-pages
              points: 1
              params:
                max_pagess: 4
            """,
            8,
            "checks[1].params.max_pagess",
            "unknown key",
        ),
        (
            """\
            - id: paper-pages
              points: 1
              params:
                references_count: "yes"
            """,
            6,
            "checks[0].params.references_count",
            "boolean",
        ),
        (
            """\
            - id: readme-steps
              points: 2
              params:
                pass_share: 0.5
                warn_share: 0.8
            """,
            7,
            "checks[0].params.warn_share",
            "warn_share (0.8) is above pass_share (0.5)",
        ),
        (
            """\
            - id: notebooks
              points: 1
              params: {cell_timeout_s: "5m"}
            """,
            5,
            "checks[0].params.cell_timeout_s",
            "number",
        ),
        (
            """\
            - id: readme
              points: 1
            - id: readme-stpes
              points: 1
            """,
            5,
            "checks[1].id",
            "unknown check 'readme-stpes'",
        ),
    ],
)
def test_validate_names_file_line_and_key(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    body: str,
    line: int,
    key: str,
    why: str,
) -> None:
    path = _rubric(tmp_path, body)
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}: {key}: " in err, err
    assert why in err, err


def test_every_check_has_a_strict_params_model_and_the_builtin_rubric_loads() -> None:
    for check_id, check in CHECKS.items():
        assert issubclass(check.Params, StrictParams), check_id
    rubric = load_rubric()
    assert {c.id for c in rubric.checks} == set(CHECKS)
    for spec in rubric.checks:
        CHECKS[spec.id].Params.model_validate(spec.params)


def _readme_table() -> dict[str, dict[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Check parameters", 1)[1].split("\n## ", 1)[0]
    table: dict[str, dict[str, str]] = {}
    for row in re.findall(r"^\| `([\w-]+)` \| (.+) \|$", section, re.MULTILINE):
        check, cell = row
        table[check] = dict(re.findall(r"`(\w+): ([^`]*)`", cell))
    return table


def test_readme_parameter_table_matches_the_models() -> None:
    table = _readme_table()
    assert set(table) == set(CHECKS)
    for check, entry in CHECKS.items():
        documented = table[check]
        assert set(documented) == set(entry.Params.model_fields), check
        defaults = entry.Params()
        for name, shown in documented.items():
            if shown.strip() in ("[...]",):
                continue
            value = getattr(defaults, name)
            assert yaml.safe_load(shown) == value, (check, name, shown, value)
