"""results.json: round trip, strict parsing with clear messages, atomic writes."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repograder.errors import ConfigError, InfrastructureError
from repograder.model import SCHEMA_VERSION, CheckResult, Status
from repograder.report import (
    dumps_json,
    group_from_json,
    group_to_json,
    read_results,
    result_to_json,
    run_from_json,
    write_json_atomic,
)
from repograder.report import results as results_mod
from report_factory import make_hostile_run, make_run


def test_round_trip_equals_original() -> None:
    run = make_run()
    assert run_from_json(result_to_json(run)) == run
    assert run_from_json(json.loads(dumps_json(result_to_json(run)))) == run


def test_round_trip_hostile_text() -> None:
    run = make_hostile_run('<script>alert(1)</script>"\\&\u2028\x00')
    assert run_from_json(json.loads(dumps_json(result_to_json(run)))) == run


def test_group_round_trip() -> None:
    group = make_run().groups[1]
    assert group_from_json(group_to_json(group)) == group


def test_contract_keys_present() -> None:
    data = result_to_json(make_run())
    for key in (
        "schema_version",
        "tool",
        "course",
        "deadline",
        "rubric",
        "started_at",
        "finished_at",
        "groups",
    ):
        assert key in data
    assert data["schema_version"] == SCHEMA_VERSION
    group = data["groups"][0]  # type: ignore[index]
    for key in (
        "name",
        "repo",
        "status",
        "error",
        "commit",
        "commit_date",
        "late_commits",
        "score",
        "max_score",
        "checks",
        "steps",
        "timings",
    ):
        assert key in group
    assert set(group["checks"][0]) >= {  # type: ignore[index]
        "id",
        "title",
        "status",
        "score",
        "max_score",
        "summary",
        "details",
    }
    assert set(group["steps"][0]) >= {  # type: ignore[index]
        "index",
        "command",
        "source_line",
        "status",
        "reason",
        "exit_code",
        "duration_s",
        "output_tail",
    }
    assert set(group["timings"]) == {"fetch_s", "build_s", "run_s", "total_s"}  # type: ignore[index]
    # Whole numbers are written as integers, like the CONTRACTS.md example.
    assert '"max_score": 10,' in dumps_json(data)


def test_dumps_is_deterministic_and_html_inert() -> None:
    run = make_hostile_run("<script>alert(1)</script>")
    text = dumps_json(result_to_json(run))
    assert text == dumps_json(result_to_json(run))
    assert "<script>" not in text
    assert "\\u003cscript\\u003e" in text
    assert text.endswith("}\n")


def test_non_finite_numbers_become_null() -> None:
    run = make_run()
    group = run.groups[0]
    bad = CheckResult("comments", "C", Status.WARN, 0.5, 1, "x", {"density": float("nan")})
    run = dataclasses.replace(run, groups=(dataclasses.replace(group, checks=(bad,)),))
    text = dumps_json(result_to_json(run))
    assert json.loads(text)["groups"][0]["checks"][0]["details"]["density"] is None


def test_extra_fields_are_ignored_and_missing_optional_default() -> None:
    data = result_to_json(make_run())
    data["future_key"] = {"x": 1}
    group = data["groups"][0]  # type: ignore[index]
    group["new_field"] = True
    del group["steps"], group["artifacts"], group["members"]
    parsed = run_from_json(data)
    assert parsed.groups[0].steps == ()
    assert parsed.groups[0].members == ()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d.pop("groups") and d.__setitem__("groups", "x"),
            "results.json.groups: expected a list",
        ),
        (
            lambda d: d["groups"][0].__setitem__("status", "done"),
            "groups[0].status: 'done' is not one of graded, error",
        ),
        (
            lambda d: d["groups"][1]["checks"][2].__setitem__("status", "ok"),
            "groups[1].checks[2].status",
        ),
        (
            lambda d: d["groups"][0]["steps"][0].__setitem__("exit_code", "0"),
            "groups[0].steps[0].exit_code: expected an integer",
        ),
        (lambda d: d["groups"][0].pop("name"), "groups[0].name: missing"),
        (lambda d: d["groups"][0].__setitem__("score", True), "groups[0].score: expected a number"),
        (lambda d: d.__setitem__("schema_version", 99), "newer repograder"),
        (lambda d: d.__setitem__("tool", []), "results.json.tool: expected an object"),
    ],
)
def test_bad_input_raises_config_error_naming_the_key(mutate, message) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(dumps_json(result_to_json(make_run())))
    mutate(data)
    with pytest.raises(ConfigError) as info:
        run_from_json(data)
    assert message in str(info.value)


def test_not_an_object() -> None:
    with pytest.raises(ConfigError, match="expected an object, got a list"):
        run_from_json([])


def test_read_results_file(tmp_path: Path) -> None:
    run = make_run()
    path = tmp_path / "results.json"
    write_json_atomic(path, result_to_json(run))
    assert read_results(path) == run


def test_read_results_truncated(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(dumps_json(result_to_json(make_run()))[:500])
    with pytest.raises(ConfigError, match=r"results\.json: line \d+: not valid JSON"):
        read_results(path)


def test_read_results_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        read_results(tmp_path / "nope.json")


def test_atomic_write_keeps_old_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "results.json"
    write_json_atomic(path, {"old": True})

    def boom(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(results_mod.os, "replace", boom)
    with pytest.raises(InfrastructureError, match="No space left on device"):
        write_json_atomic(path, result_to_json(make_run()))
    assert json.loads(path.read_text()) == {"old": True}
    assert os.listdir(tmp_path) == ["results.json"]  # the temp file was removed


def test_atomic_write_fails_mid_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "results.json"

    def boom(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(results_mod.os, "fsync", boom)
    with pytest.raises(InfrastructureError, match="cannot write"):
        write_json_atomic(path, result_to_json(make_run()))
    assert os.listdir(tmp_path) == []


def test_atomic_write_unwritable_location(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InfrastructureError, match="cannot write"):
        write_json_atomic(blocker / "results.json", {})


def test_write_text_atomic_leaves_an_identical_file_alone(tmp_path: Path) -> None:
    from repograder.report.results import write_text_atomic

    path = tmp_path / "page.html"
    write_text_atomic(path, "one\n")
    first = path.stat().st_ino
    write_text_atomic(path, "one\n")
    assert path.stat().st_ino == first  # not rewritten: same inode
    write_text_atomic(path, "two\n")
    assert path.read_text() == "two\n"
    assert path.stat().st_ino != first
    # a link holding the same text is replaced by a file of our own
    target = tmp_path / "elsewhere.html"
    target.write_text("two\n")
    path.unlink()
    path.symlink_to(target)
    write_text_atomic(path, "two\n")
    assert not path.is_symlink()
    assert path.read_text() == "two\n"
