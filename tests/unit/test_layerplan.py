"""The shared layer inferred from a course's environment files (layerplan.py)."""

from __future__ import annotations

import threading

import pytest

from repograder.layerplan import WARMUPS, CourseLayer, LayerChoice, infer_layer

AUDIO = ["numpy", "scipy", "librosa", "soundfile", "matplotlib", "torch"]


def _course() -> dict[str, list[str]]:
    return {
        "g1": [*AUDIO],
        "g2": [*AUDIO, "tqdm"],
        "g3": [*AUDIO, "pandas"],
        "g4": ["numpy<2.3", "scipy", "librosa", "soundfile", "matplotlib", "torch>=2.0"],
        "g5": ["numpy>=1.26", "scipy", "torch", "scikit-learn"],
        "g6": ["numpy==1.26.4", "pandas", "seaborn"],
    }


def test_packages_several_groups_ask_for_are_shared() -> None:
    choice = infer_layer(_course())
    # 6 groups, min_share 0.5: a package is shared when 3 groups ask for it.
    assert choice.threshold == 3
    assert [p.name for p in choice.packages] == [
        "librosa",
        "matplotlib",
        "numpy",
        "scipy",
        "soundfile",
        "torch",
    ]
    assert "pandas" not in {p.name for p in choice.packages}  # 2 groups only
    assert {p.name: p.asked_by for p in choice.packages}["numpy"] == 6


def test_the_largest_cohort_decides_the_pin_and_the_others_differ() -> None:
    choice = infer_layer(_course())
    numpy = next(p for p in choice.packages if p.name == "numpy")
    # Unpinned and lower-bound-only groups all resolve to the newest numpy: one cohort of 4;
    # g5's ">=1.26" (1 of 4) stays its own, and the newest numpy meets it. The bounded pins
    # are the groups' own differences.
    assert numpy.line == "numpy"
    assert numpy.differing == ("g4", "g6")
    torch = next(p for p in choice.packages if p.name == "torch")
    assert torch.line == "torch"
    assert torch.differing == ()
    assert "numpy" in choice.group_note("g4")
    assert "own versions" in choice.group_note("g4")
    assert "own versions" not in choice.group_note("g1")


def test_a_bound_joins_the_layer_only_when_most_of_the_newest_cohort_states_it() -> None:
    plain = ["scipy", "soundfile"]
    # One group excludes the newest numpy, another asks for one that does not exist: neither
    # may move or break the layer of the other groups (they would replace or lose it).
    choice = infer_layer(
        {
            "g1": ["numpy>=1.26", *plain],
            "g2": ["numpy", *plain],
            "g3": ["numpy>=1.26", *plain],
            "g4": ["numpy", *plain],
            "g5": ["numpy!=2.4.6,>=3.0", *plain],
        }
    )
    numpy = next(p for p in choice.packages if p.name == "numpy")
    assert numpy.line == "numpy"  # >=1.26: 2 of 5; !=2.4.6 and >=3.0: 1 of 5
    assert numpy.differing == ("g5",)
    assert "own versions of: numpy" in choice.group_note("g5")
    assert "own versions" not in choice.group_note("g1")
    # The smallest course that shares: a tie is no majority (found by a review).
    assert infer_layer({"a": ["numpy>=3.0"], "b": ["numpy"]}).requirements == ("numpy",)
    tie = infer_layer({"a": ["numpy!=2.4.6"], "b": ["numpy"]})
    assert tie.requirements == ("numpy",)
    assert tie.packages[0].differing == ("a",)
    # Stated by most of the cohort, a bound is the layer's; the others are met by it.
    most = infer_layer(
        {"a": ["numpy>=2.0"], "b": ["numpy>=2.0,!=2.1.0"], "c": ["numpy>=2.0"], "d": ["numpy"]}
    )
    assert most.requirements == ("numpy>=2.0",)
    assert most.packages[0].differing == ("b",)


def test_bounds_are_counted_by_meaning_and_across_a_group_s_lines() -> None:
    # `!= 2.4.6.0` is `!=2.4.6`; a group's two numpy lines both hold (found by a review).
    choice = infer_layer(
        {"a": ["numpy!=2.4.6"], "b": ["numpy >= 1.20", "numpy != 2.4.6.0"], "c": ["numpy"]}
    )
    assert choice.requirements == ("numpy!=2.4.6",)
    # A kept exclusion: who did not state it resolves the newest version, maybe another one.
    assert choice.packages[0].differing == ("c",)
    capped = infer_layer({"a": ["numpy", "numpy<2"], "b": ["numpy<2"], "c": ["numpy"]})
    assert capped.requirements == ("numpy<2",)
    assert capped.packages[0].differing == ("c",)


def test_a_bounded_pin_wins_when_most_groups_share_it() -> None:
    choice = infer_layer(
        {"a": ["numpy==1.26.4"], "b": ["numpy==1.26.4"], "c": ["numpy"]}, min_share=0.5
    )
    assert choice.requirements == ("numpy==1.26.4",)
    assert choice.packages[0].differing == ("c",)


def test_threshold_is_configurable() -> None:
    course = _course()
    assert [p.name for p in infer_layer(course, min_share=1.0).packages] == ["numpy"]
    low = infer_layer(course, min_share=0.1, min_groups=2)
    assert low.threshold == 2
    assert {"pandas"} <= {p.name for p in low.packages}
    assert "tqdm" not in {p.name for p in low.packages}


def test_a_single_group_shares_nothing() -> None:
    choice = infer_layer({"only": AUDIO}, extra=("ipykernel",))
    assert choice.packages == ()
    assert choice.requirements == ()  # no tooling either: there is no layer
    assert "no shared layer" in choice.describe()


def test_urls_options_files_and_paths_stay_with_their_group() -> None:
    lines = [
        "-r other.txt",
        "-e .",
        "./local_pkg",
        "pkg @ https://example.org/pkg.whl",
        "win-only; sys_platform == 'win32'",
        "Torch[Extra] >= 2",
        "# a comment",
        "not a requirement !!",
        # Found by a tester: committed distribution files parsed as package names, and the
        # layer (`course-utils-0-1-py3-none-any-whl`) failed to build for the whole course.
        "course_utils-0.1-py3-none-any.whl",
        "foo-1.0.tar.gz",
        "libs/helper",
    ]
    choice = infer_layer({"a": lines, "b": lines})
    assert choice.requirements == ("torch[extra]>=2",)


def test_warmups_and_tooling_follow_the_layer_contents() -> None:
    choice = infer_layer(_course(), extra=("ipykernel", "nbclient"))
    assert choice.warmup == (WARMUPS["librosa"], WARMUPS["matplotlib"])
    assert choice.requirements[-2:] == ("ipykernel", "nbclient")
    plain = infer_layer({"a": ["requests"], "b": ["requests"]})
    assert plain.warmup == ()
    assert plain.to_json()["requirements"] == ["requests"]


def test_course_layer_decides_once_when_every_group_reported() -> None:
    decided: list[LayerChoice] = []
    layer = CourseLayer(["a", "b", "c"], decided.append)
    cancel = threading.Event()
    layer.offer("a", ["numpy"])
    layer.withdraw("b")  # e.g. its fetch failed
    assert decided == []
    waiter: list[LayerChoice | None] = []
    thread = threading.Thread(target=lambda: waiter.append(layer.wait(cancel)))
    thread.start()
    layer.offer("c", ["numpy", "scipy"])
    thread.join(5)
    layer.withdraw("a")  # after offering: no-op
    assert len(decided) == 1
    assert decided[0].requirements == ("numpy",)
    assert decided[0].groups == 2
    assert waiter == [decided[0]]


def test_course_layer_wait_stops_on_cancel_and_reraises_a_bug() -> None:
    cancel = threading.Event()
    cancel.set()
    assert CourseLayer(["a"], lambda _c: None).wait(cancel) is None

    def broken(_choice: LayerChoice) -> None:
        raise RuntimeError("bug")

    layer = CourseLayer(["a"], broken)
    layer.offer("a", ["numpy"])
    with pytest.raises(RuntimeError, match="bug"):
        layer.wait(threading.Event())


def test_marker_lines_count_for_the_sandbox_s_python_and_platform() -> None:
    # Found by a tester: an exported lock file puts a marker on every line, and every such
    # line was ignored ("no package is asked for by 2 of the 3 groups").
    lock = [
        'numpy==1.26.4 ; python_version >= "3.9" and python_version < "4.0"',
        'pywin32==306 ; sys_platform == "win32"',
        'tomli==2.0.1 ; python_version < "3.11"',
        'colorama==0.4.6 ; platform_system == "Windows"',
    ]
    choice = infer_layer({"a": lock, "b": lock, "c": ["scipy"]})
    assert choice.requirements == ("numpy==1.26.4",)
    assert choice.packages[0].asked_by == 2
    assert choice.packages[0].differing == ()
    # Another sandbox Python: the markers are evaluated for it.
    older = infer_layer({"a": lock, "b": lock}, python="3.10")
    assert older.requirements == ("numpy==1.26.4", "tomli==2.0.1")


def test_an_extra_joins_the_line_only_when_most_of_the_cohort_asks_for_it() -> None:
    # Found by a tester: one group's extra put several GB of CUDA libraries into every
    # group's layer, and that group was not even listed as differing.
    choice = infer_layer({"a": ["tensorflow"], "b": ["tensorflow"], "c": ["tensorflow[and-cuda]"]})
    assert choice.requirements == ("tensorflow",)
    assert choice.packages[0].differing == ("c",)
    assert "own versions of: tensorflow" in choice.group_note("c")
    most = infer_layer(
        {"a": ["torch[audio]"], "b": ["torch[audio,vision]"], "c": ["torch>=2.0", "torch[audio]"]}
    )
    assert most.requirements == ("torch[audio]",)
    assert most.packages[0].differing == ("b",)  # its own layer adds vision
    # A group without the layer's extra is met by it (its own lock drops what it lacks).
    met = infer_layer({"a": ["torch[audio]"], "b": ["torch[audio]"], "c": ["torch"]})
    assert met.requirements == ("torch[audio]",)
    assert met.packages[0].differing == ()


def test_a_group_contradicting_itself_does_not_shape_the_line() -> None:
    # Found by a tester: half the course sharing a file with two numpy pins gave the layer
    # `numpy==1.26.4,==2.0.0`, which no version meets.
    both = ["numpy==1.26.4", "scipy", "numpy==2.0.0"]
    choice = infer_layer({"a": both, "b": both, "c": ["numpy", "scipy"], "d": ["scipy"]})
    numpy = next(p for p in choice.packages if p.name == "numpy")
    assert numpy.line == "numpy"
    assert numpy.asked_by == 3
    assert numpy.differing == ("a", "b")
    # A pin excluded by the group's own other clauses.
    excluded = infer_layer(
        {
            "a": ["numpy==1.26.4", "numpy!=1.26.4"],
            "b": ["numpy==1.26.4,>=2"],
            "c": ["numpy==1.26.4", "numpy<2"],
        }
    )
    assert excluded.requirements == ("numpy<2,==1.26.4",)
    assert excluded.packages[0].differing == ("a", "b")
    # The same pin twice is no contradiction; nor is `==` with a compatible bound.
    same = infer_layer({"a": ["numpy==1.26.4", "numpy==1.26.4.0"], "b": ["numpy == 1.26.4"]})
    assert same.requirements == ("numpy==1.26.4",)
    assert same.packages[0].differing == ()
    text = ["numpy==1.26.4", "numpy===1.26.4"]
    arbitrary = infer_layer({"a": text, "b": text, "c": ["numpy"]})
    assert arbitrary.requirements == ("numpy==1.26.4,===1.26.4",)
    assert arbitrary.packages[0].differing == ("c",)
    # Every group contradicting itself: nothing to shape a line from.
    assert infer_layer({"a": both, "b": both}).requirements == ("scipy",)


def test_ties_between_pins_go_to_the_newest_version() -> None:
    # Found by a tester: ties were broken by text, and `numpy==1.10.4` (no wheel for the
    # sandbox's Python) broke the layer build.
    choice = infer_layer({"a": ["numpy==1.9.3"], "b": ["numpy==1.10.4"], "c": ["numpy==1.26.4"]})
    assert choice.requirements == ("numpy==1.26.4",)
    assert choice.packages[0].differing == ("a", "b")
    # Upper bounds compare by the newest version they allow; unbounded is newest.
    assert infer_layer({"a": ["numpy<1.26.5"], "b": ["numpy~=1.26.0"]}).requirements == (
        "numpy~=1.26.0",
    )
    assert infer_layer({"a": ["numpy==1.26.*"], "b": ["numpy<=1.26.4"]}).requirements == (
        "numpy==1.26.*",
    )
    assert infer_layer({"a": ["numpy==2.0.0"], "b": ["numpy>=1.20"]}).requirements == (
        "numpy>=1.20",
    )
    # Equal bounds: the text decides, so the result does not depend on the groups' order.
    tie = {"a": ["numpy~=1.26.0"], "b": ["numpy<1.27"]}
    assert infer_layer(tie).requirements == ("numpy<1.27",)
    assert infer_layer(dict(reversed(tie.items()))).requirements == ("numpy<1.27",)


def test_the_report_says_how_many_asked_and_how_many_differ() -> None:
    choice = infer_layer(
        {
            "a": ["scipy==1.9.3", "numpy"],
            "b": ["scipy==1.10.4", "numpy"],
            "c": ["scipy==1.11.4", "numpy"],
            "d": ["scipy<1.11"],
        }
    )
    assert choice.requirements == ("numpy", "scipy==1.11.4")
    assert choice.describe() == (
        "shared layer inferred from the course: packages at least 2 of 4 groups ask for: "
        "numpy (asked by 3), scipy==1.11.4 (asked by 4; 3 with their own version)"
    )
    data = choice.to_json()
    assert data["packages"] == [
        {"name": "numpy", "line": "numpy", "asked_by": 3, "differing": [], "agreeing": 3},
        {
            "name": "scipy",
            "line": "scipy==1.11.4",
            "asked_by": 4,
            "differing": ["a", "b", "d"],
            "agreeing": 1,
        },
    ]
    one = infer_layer({"a": ["numpy<2"], "b": ["numpy<2"], "c": ["numpy"]})
    assert one.packages[0].describe() == "numpy<2 (asked by 3; 1 with its own version)"


def test_course_layer_evaluates_markers_for_its_python() -> None:
    decided: list[LayerChoice] = []
    layer = CourseLayer(["a", "b"], decided.append, python="3.10")
    for group in ("a", "b"):
        layer.offer(group, ['tomli ; python_version < "3.11"'])
    assert decided[0].requirements == ("tomli",)
