"""One bad pin must not sink the group (issue 13): finding the pins, the nearest version."""

from __future__ import annotations

from pathlib import Path

from repograder import detect, model, rubric
from repograder.config import CheckSpec
from repograder.sandbox import buildplan
from repograder.sandbox.base import BuildResult

UV_NO_VERSION = """\
  × No solution found when resolving dependencies:
  ╰─▶ Because there is no version of mkl-service==2.4.0 and you require mkl-service==2.4.0, we
      can conclude that your requirements are unsatisfiable.
"""
UV_NO_WHEEL = """\
  × No solution found when resolving dependencies:
  ╰─▶ Because torch==1.8.1 has no wheels with a matching Python ABI tag (e.g., `cp311`) and you
      require torch==1.8.1, we can conclude that your requirements are unsatisfiable.
"""
UV_BUILD = "  × Failed to build `numpy==1.19.5`\n  ├─▶ The build backend returned an error\n"


def test_offending_pins_by_kind_of_failure() -> None:
    reqs = ("mkl_service==2.4.0", "torch==1.8.1; python_version >= '3'", "numpy==1.19.5", "six")
    [mkl] = buildplan.offending_pins(UV_NO_VERSION, reqs)
    assert (mkl.line, mkl.version, mkl.why) == (
        "mkl_service==2.4.0",
        "2.4.0",
        "no such version on the package index",
    )
    [torch] = buildplan.offending_pins(UV_NO_WHEEL, reqs)
    assert torch.name == "torch"
    assert torch.why == "no wheel for the grader's Python version"
    [numpy] = buildplan.offending_pins(UV_BUILD, reqs)
    assert numpy.name == "numpy"
    assert "does not build" in numpy.why


def test_only_exact_pins_named_in_the_log_are_blamed() -> None:
    reqs = ("mkl-service>=2.4.0", "numpy==1.26.4", "mkl-service-extra==2.4.0")
    assert buildplan.offending_pins(UV_NO_VERSION, reqs) == []


def test_nearest_version_shares_the_longest_prefix() -> None:
    assert buildplan.choose_nearest("2.4.0", "2.4.1", None) == "2.4.1"
    assert buildplan.choose_nearest("1.16.1", "1.17.0", "1.16.0") == "1.16.0"
    assert buildplan.choose_nearest("1.19.5", "1.23.2", "1.18.0") == "1.23.2"  # tie: newer
    assert buildplan.choose_nearest("1.8.1", None, None) is None


def test_parse_nearest_and_relax_line() -> None:
    pins = buildplan.offending_pins(UV_NO_WHEEL, ("torch==1.8.1; python_version >= '3'",))
    out = "RG-NEAREST 0 above torch==1.13.0\nRG-NEAREST 0 below \n"
    assert buildplan.parse_nearest(out, pins) == {"torch==1.8.1; python_version >= '3'": "1.13.0"}
    line = buildplan.relax_line("torch[extra]==1.8.1; python_version >= '3'", "1.13.0")
    assert line == "torch[extra]==1.13.0; python_version >= '3'"
    script = buildplan.nearest_script(pins, [])
    assert "--only-binary :all:" in script
    assert "'torch>=1.8.1'" in script
    assert "'torch<1.8.1'" in script


def _evidence(build: BuildResult, tmp_path: Path) -> rubric.Evidence:
    checkout = model.Checkout(path=tmp_path, commit=None, commit_date=None)
    env = detect.EnvSpec(kind=detect.EnvKind.REQUIREMENTS, path="requirements.txt", reason="x")
    return rubric.Evidence(checkout=checkout, env=env, build=build)


def test_env_build_warns_after_relaxing(tmp_path: Path) -> None:
    build = BuildResult(
        ok=True,
        backend="docker",
        image="img",
        reused=False,
        content_hash="h",
        duration_s=3.0,
        summary="built after relaxing: mkl-service==2.4.0 → 2.4.1",
        relaxed=("mkl-service==2.4.0 → 2.4.1 (no such version on the package index)",),
    )
    spec = CheckSpec(
        id="env-build", title="t", points=1.0, required=False, params={}, stage="build"
    )
    result = rubric.evaluate(spec, _evidence(build, tmp_path))
    assert result.status is model.Status.WARN
    assert result.score == 0.5
    assert "built after relaxing: mkl-service==2.4.0 → 2.4.1" in result.summary
    assert result.details["changes"] == [
        {
            "file": "requirements.txt",
            "entry": "mkl-service==2.4.0",
            "action": "relaxed",
            "why": "no such version on the package index; built with 2.4.1 instead",
        }
    ]


def test_failed_project_install_is_shown_and_blamed(tmp_path: Path) -> None:
    from repograder import runner
    from repograder.model import ExecResult, StepResult, StepStatus

    class Session:
        setup_result = ExecResult(
            1, False, 0.5, "error: package directory 'src' does not exist", "", 40
        )

    failure = runner.project_install_failure(Session())
    assert failure == (
        "installing the project (pip install -e .) failed: "
        "error: package directory 'src' does not exist"
    )
    steps = (
        StepResult(1, "pip install -e .", 3, StepStatus.OK),
        StepResult(2, "ls nope", 4, StepStatus.FAILED, output_head="ls: cannot access 'nope'"),
        StepResult(
            3,
            "python -m proj",
            5,
            StepStatus.FAILED,
            output_head="ModuleNotFoundError: No module named 'proj'",
            hint="the module proj is not installed",
        ),
    )
    blamed = runner.blame_project_install(steps, failure)
    assert blamed[:2] == steps[:2]
    assert blamed[2].hint.startswith(failure + "; fix that first")
    assert runner.blame_project_install(steps, None) == steps
    build = BuildResult(True, "docker", "img", False, "h", 1.0, "built")
    spec = CheckSpec(
        id="env-build", title="t", points=1.0, required=False, params={}, stage="build"
    )
    evidence = rubric.Evidence(
        checkout=model.Checkout(path=tmp_path, commit=None, commit_date=None),
        build=build,
        project_install=failure,
    )
    result = rubric.evaluate(spec, evidence)
    assert result.status is model.Status.WARN
    assert failure in result.summary
    assert result.details["project_install"] == failure


def test_failure_summary_names_the_package_and_the_reason() -> None:
    summary, _ = buildplan.summarize_log(UV_NO_WHEEL)
    assert summary == (
        "dependency resolution failed: torch==1.8.1 has no wheel for the grader's Python and "
        "platform (no matching Python ABI tag)"
    )
    summary, _ = buildplan.summarize_log(UV_NO_VERSION)
    assert summary == "dependency resolution failed: no version of mkl-service==2.4.0 matches"


def test_an_inferred_layer_without_versions_keeps_names_and_extras() -> None:
    # Lines decided one package at a time can exclude each other (numba 0.58.1 needs
    # numpy<1.27): the layer is built again from the same packages at their newest versions.
    from repograder.sandbox.pins import unversioned

    lines = ("numba==0.58.1", "numpy==2.1.0", "requests[socks]>=2", "nbclient>=0.10", "Numpy")
    assert unversioned(lines) == ("numba", "numpy", "requests[socks]", "nbclient", "Numpy")
    assert unversioned(("numpy", "scipy")) == ("numpy", "scipy")
    assert unversioned(("numpy==1.26.4", "numpy==1.26.4")) == ("numpy",)
