"""One home per check (issue 12): the registry is the only place that lists check ids, and a
check added the documented way (docs/ARCHITECTURE.md) is validated, judged and reported."""

from __future__ import annotations

import importlib.util
import re
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from repograder import cli, fixes, rubric
from repograder.checks import base, registry
from repograder.config import KNOWN_CHECKS, load_rubric
from repograder.errors import ConfigError
from repograder.facts import ReadmeFacts
from repograder.model import Checkout, GroupResult, GroupStatus, Status
from repograder.report.github import group_annotations

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "repograder"

# Quoted words equal to a check id that are not check ids (each with what they are).
NOT_CHECK_IDS = {
    ("readme.py", '"readme",'): "a README file name in README_NAMES",
    ("report/html.py", 'artifacts.get("notebooks")'): "the group page's notebook section",
    ("report/html.py", '("notebooks", "logs")'): "the group page's notebook section",
    ("grading.py", 'group_dir / "notebooks"'): "the folder of rendered notebooks",
    ("grading.py", 'artifacts["notebooks"]'): "the group page's notebook section",
    ("stages.py", 'stage(group.name, "notebooks")'): "the progress table's stage name",
    ("stages.py", 'group_dir / "notebooks"'): "the folder of rendered notebooks",
}


def test_check_ids_are_written_only_under_checks() -> None:
    ids = "|".join(re.escape(i) for i in registry.CHECKS)
    pattern = re.compile(rf"[\"']({ids})[\"']")
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("checks/"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line) and not any(rel == f and s in line for (f, s) in NOT_CHECK_IDS):
                found.append(f"{rel}:{number}: {line.strip()}")
    assert found == []


def test_every_registered_check_meets_the_protocol() -> None:
    for check_id, check in registry.CHECKS.items():
        assert check_id == check.ID
        assert check.STAGE in ("static", "build", "run")
        assert issubclass(check.Params, base.StrictParams)
        assert check.TITLE
    assert dict(KNOWN_CHECKS) == {i: c.STAGE for i, c in registry.CHECKS.items()}


def test_default_rubric_titles_match_the_checks() -> None:
    for spec in load_rubric().checks:
        assert spec.title == registry.get(spec.id).TITLE


def _documented_example(tmp_path: Path) -> ModuleType:
    """The example check module exactly as docs/ARCHITECTURE.md shows it."""
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = doc.split("## How to add a check", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    path = tmp_path / "readme_links.py"
    path.write_text(code.group(1))
    spec = importlib.util.spec_from_file_location("readme_links_example", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _readme_facts(links: int) -> ReadmeFacts:
    return ReadmeFacts(
        path="README.md",
        candidates=("README.md",),
        size_bytes=100,
        truncated=False,
        word_count=80,
        headings=(),
        code_blocks=0,
        steps=(),
        warnings=(),
        links=links,
    )


def test_a_check_added_the_documented_way_is_validated_judged_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example = _documented_example(tmp_path)
    monkeypatch.setitem(registry.CHECKS, example.ID, example)  # the one registry line

    # validated: the new id is known, its parameters are typed
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: t\nchecks:\n  - id: readme-links\n    points: 1\n    params:\n      min_link: 2\n"
    )
    assert cli.main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:6" in err
    assert "checks[0].params.min_link" in err
    good = tmp_path / "good.yaml"
    good.write_text(
        "name: t\nchecks:\n  - id: readme-links\n    points: 2\n    params:\n      min_links: 3\n"
    )
    loaded = load_rubric(good)
    assert loaded.checks[0].stage == "static"

    # judged: through the rubric, like every check
    checkout = Checkout(path=tmp_path, commit=None, commit_date=None)
    (fail,) = rubric.score(loaded, rubric.Evidence(checkout, readme=_readme_facts(links=1)))
    assert (fail.status, fail.score, fail.summary) == (Status.FAIL, 0.0, "1 links; 3 needed")
    (ok,) = rubric.score(loaded, rubric.Evidence(checkout, readme=_readme_facts(links=3)))
    assert (ok.status, ok.score) == (Status.PASS, 2.0)
    (missing,) = rubric.score(loaded, rubric.Evidence(checkout))
    assert missing.status is Status.ERROR  # base.static: facts not gathered

    # reported: the student's fix and the GitHub annotation come from the module
    group = GroupResult(name="g", repo="r", status=GroupStatus.GRADED, checks=(fail,))
    assert fixes.fix_hint(fail, group) == "link the data set and the paper from the README"
    (note,) = group_annotations(group, prefix="repo")
    assert (note.level, note.file, note.message) == ("error", "repo/README.md", fail.summary)


def test_an_unknown_id_is_refused_until_registered(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        textwrap.dedent("""\
        name: t
        checks:
          - id: readme-links
            points: 1
        """)
    )
    with pytest.raises(ConfigError, match="unknown check 'readme-links'"):
        load_rubric(path)
