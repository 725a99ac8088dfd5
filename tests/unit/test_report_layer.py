"""The report's "Shared environment" line (report.tables.shared_layer_text): what the inferred
layer shared and why, bounded and safe whatever its record holds (helper-38)."""

from __future__ import annotations

from dataclasses import replace

from repograder.layerplan import LayerChoice, SharedPackage
from repograder.model import JSONDict, RubricInfo, RunResult, ToolInfo
from repograder.report.tables import shared_layer_text, summary_markdown

RUN = RunResult(ToolInfo("repograder", "0"), "c", None, RubricInfo("r", ""), "T", "T", ())


def _line(layer: JSONDict) -> str:
    return shared_layer_text(replace(RUN, shared_layer=layer))


def test_a_normal_layer_names_its_packages_tooling_apt_and_warm_ups() -> None:
    choice = LayerChoice(
        (SharedPackage("numpy", "numpy", 3, ("c",)),),
        groups=3,
        threshold=2,
        warmup=("python -c 'import numpy'",),
        extra=("nbclient>=0.10",),
    )
    layer: JSONDict = {**choice.to_json(), "apt": ["libsndfile1"], "image": "env:1"}
    assert _line(layer) == (
        "shared layer inferred from the course: packages at least 2 of 3 groups ask for: "
        "numpy (asked by 3; 1 with its own version); the grader's notebook tooling: "
        "nbclient>=0.10; system packages: libsndfile1; its warm-ups ran once in the layer, "
        "not in every session"
    )
    assert _line({}) == ""


def test_no_shared_package_says_why_and_what_the_layer_holds_instead() -> None:
    few = LayerChoice((), groups=1, threshold=2).to_json()
    assert _line(few) == (
        "no shared layer: 1 group with an environment file, fewer than the 2 a shared package needs"
    )
    none = {**LayerChoice((), groups=3, threshold=2).to_json(), "apt": ["ffmpeg"]}
    assert _line(none) == (
        "no shared layer: no package is asked for by 2 of the 3 groups; "
        "a layer of system packages only: ffmpeg"
    )


def test_wrong_types_in_a_hand_edited_record_are_left_out_not_a_crash() -> None:
    layer: JSONDict = {
        "why": 3,
        "packages": [{"line": ["numpy"]}, {"line": {"a": 1}}, "numpy", None],
        "requirements": "numpy",
        "apt": {"x": 1},
        "warmup": [1, 2],
        "error": ["no"],
    }
    assert _line(layer) == "inferred from the course"


def test_a_huge_or_hostile_record_keeps_the_line_bounded_and_its_end() -> None:
    """A failure comes last: no cap may cut it off, also not after bidi characters become
    their escapes, and not in summary.md's cell either."""
    layer: JSONDict = {
        "why": "shared layer: " + "\u202e" * 3000 + "x" * 5000,
        "requirements": ["pkg==" + "A" * 200_000],
        "error": "E" * 10_000 + " (log: common.log)",
    }
    line = _line(layer)
    assert len(line) < 3_000
    assert "\u202e" not in line
    assert line.endswith("(log: common.log)): groups built in this run used the base image")
    markdown = summary_markdown(replace(RUN, shared_layer=layer))
    assert "groups built in this run used the base image" in markdown
