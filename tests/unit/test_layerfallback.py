"""What is left of an inferred shared layer that did not build (sandbox.layerfallback)."""

from __future__ import annotations

from repograder.sandbox.layerfallback import MAX_LEAVE_OUTS, Step, next_step


def _next(summary: str, requirements: tuple[str, ...], leave_outs: int = 0) -> Step | None:
    return next_step(
        summary, requirements, ("w",), leave_outs=leave_outs, rubric_apt=(), rubric_warmup=()
    )


def test_the_named_package_is_unpinned_or_left_out() -> None:
    lines = ("scikit-learn==0.24.2", "numpy", "sklearn")
    step = _next("dependency resolution failed: failed to build scikit-learn==0.24.2", lines)
    assert step == Step(
        ("scikit-learn", "numpy", "sklearn"),
        ("w",),
        "without the version of, or leaving out, scikit-learn",
        leave_out=True,
    )
    # No version to lose: left out (the deprecated `sklearn` package does not build).
    step = _next("failed to build sklearn", ("numpy", "sklearn"))
    assert step is not None
    assert step.requirements == ("numpy",)


def test_a_package_the_layer_does_not_hold_changes_nothing_there() -> None:
    # The failure names something else (a dependency): the next step is the unpinned layer.
    step = _next("dependency resolution failed: no version of llvmlite matches", ("numba==0.58.1",))
    assert step is not None
    assert (step.requirements, step.leave_out) == (("numba",), False)


def test_leave_outs_are_bounded_and_nothing_is_left_without_the_rubrics_apt() -> None:
    summary = "dependency resolution failed: nosuch was not found in the package registry"
    assert _next(summary, ("nosuch", "numpy"), leave_outs=MAX_LEAVE_OUTS) is None
    assert _next("apt failed", ("numpy",)) is None
    assert _next("the build timed out after 1800 s", ("numpy==1",)) is None
