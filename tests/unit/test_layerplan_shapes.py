"""Which shapes of requirement line the inferred layer takes (layerplan.py): a package of the
index, for the sandbox's Python and platform, or nothing."""

from __future__ import annotations

import pytest

from repograder.layerplan import SANDBOX_PYTHON, infer_layer, marker_environment


def _layer(line: str, python: str = SANDBOX_PYTHON) -> tuple[str, ...]:
    """The layer of two groups that both have ``line`` (and nothing else)."""
    return infer_layer({"a": [line], "b": [line]}, python=python).requirements


@pytest.mark.parametrize(
    "line",
    [
        "course_utils-0.1-py3-none-any.whl",
        "Course_Utils-0.1-PY3-NONE-ANY.WHL",
        "foo-1.0.tar.gz",
        "foo-1.0.tgz",
        "foo-1.0.tar.bz2",
        "foo-1.0.tar.xz",
        "foo-1.0.zip",
        "foo-1.0-py3.11.egg",
        "wheels/course_utils-0.1-py3-none-any.whl",
        "libs/helper",
        "libs\\helper",
        "C:\\Users\\me\\pkg",
        "~/pkg",
        "./pkg",
        "/abs/pkg",
        "pkg @ file:///abs/pkg",
    ],
)
def test_files_and_paths_are_not_package_names(line: str) -> None:
    assert _layer(line) == ()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('numpy==1.26.4 ; python_version >= "3.9" and python_version < "4.0"', "numpy==1.26.4"),
        ('pandas>=2 ; sys_platform == "linux" and platform_machine == "x86_64"', "pandas>=2"),
        ('uvloop ; sys_platform != "win32" and implementation_name == "cpython"', "uvloop"),
        ('triton==3.0.0 ; platform_system == "Linux" and os_name == "posix"', "triton==3.0.0"),
        ('pywin32==306 ; sys_platform == "win32"', None),
        ('tomli ; python_version < "3.11"', None),
        ('appnope ; platform_system == "Darwin"', None),
        ('pytest ; extra == "dev"', None),  # a dependency of an extra nobody asked for
        # Undecidable: the kernel is not known before a container runs, a comparison of
        # a version with a word is undefined; the line stays with its group, as before.
        ('foo ; platform_release >= "5.0"', None),
        ('foo ; python_version ~= "three"', None),
    ],
)
def test_markers_are_evaluated_for_the_sandbox(line: str, expected: str | None) -> None:
    assert _layer(line) == ((expected,) if expected else ())


def test_markers_follow_the_given_python() -> None:
    assert _layer('tomli ; python_version < "3.11"', python="3.10") == ("tomli",)
    assert _layer('tomli ; python_version < "3.11"', python="3.11.9") == ()
    assert _layer("x ; python_full_version >= '3.12.3'", python="3.12.3") == ("x",)
    assert marker_environment("3.12.3")["python_version"] == "3.12"
    # The base image's label says "3.11" (it runs 3.11.2): a patch-level marker is not
    # decided as if it were 3.11.0 (helper-35), nor by the grader's own interpreter.
    assert marker_environment()["python_full_version"] == ""
    assert _layer("numpy ; python_full_version >= '3.11.1'") == ()
    assert marker_environment()["sys_platform"] == "linux"


def test_a_marker_line_and_a_plain_line_of_one_group_combine() -> None:
    choice = infer_layer(
        {
            "a": ["numpy>=1.26", 'numpy!=2.0.0 ; python_version >= "3.9"'],
            "b": ["numpy>=1.26,!=2.0.0"],
            "c": ['numpy==9 ; sys_platform == "win32"', "numpy"],
        }
    )
    assert choice.requirements == ("numpy!=2.0.0,>=1.26",)
    assert choice.packages[0].differing == ("c",)


def test_one_group_winning_a_tie_does_not_bring_its_extra_or_an_odd_version() -> None:
    # helper-35: a one-group cohort is a majority of itself; the newest tie-break let
    # tensorflow[and-cuda]==2.16 (NVIDIA's libraries) or numpy==3.0.0.dev0 shape the layer.
    choice = infer_layer({"a": ["tensorflow==2.15"], "b": ["tensorflow[and-cuda]==2.16"]})
    (package,) = choice.packages
    assert package.line == "tensorflow==2.16"
    assert package.differing == ("a", "b")  # a: another version; b: the extra on top
    choice = infer_layer(
        {"a": ["numpy==2.0.0"], "b": ["numpy==3.0.0.dev0"], "c": ["numpy==2.0.0+evil"]}
    )
    assert choice.packages[0].line == "numpy==2.0.0"
    # A majority of the groups asking, in whatever cohort, does bring it.
    choice = infer_layer(
        {
            "a": ["tensorflow[and-cuda]==2.15"],
            "b": ["tensorflow[and-cuda]==2.16"],
            "c": ["tensorflow"],
        }
    )
    assert choice.packages[0].line.startswith("tensorflow[and-cuda]")


def test_a_pre_release_bound_is_not_an_odd_version_and_extras_follow_the_asking_groups() -> None:
    # helper-36: the rule against odd pins (==3.0.0.dev0) also ranked `<2.0.0rc1` low.
    assert infer_layer({"a": ["numpy<2.0.0rc1"], "b": ["numpy==1.0"]}).requirements == (
        "numpy<2.0.0rc1",
    )
    choice = infer_layer(
        {"a": ["tf[and-cuda]==2.16"], "b": ["tf[and_cuda]==2.15"], "c": ["tf"], "d": ["tf"]}
    )
    (package,) = choice.packages
    assert package.line == "tf"  # 2 of 4 ask for the extra: no majority
    assert package.differing == ("a", "b")
    choice = infer_layer({"a": ["tf[and-cuda]==2.16"], "b": ["tf[and_cuda]==2.15"], "c": ["tf"]})
    assert choice.packages[0].line == "tf[and-cuda]"
    assert choice.packages[0].differing == ("a", "b")  # other versions; c gets its own
