"""System libraries: the distribution -> Debian table and the `error` verdict for a gap."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace

from repograder import model, notebooks, runner, syslibs
from repograder.detect import EnvKind, EnvSpec
from repograder.model import StepResult, StepStatus
from repograder.sandbox.base import HelperResult

SOUNDFILE_ERROR = (
    "Traceback (most recent call last):\n"
    '  File "/work/run.py", line 8, in <module>\n'
    "    import soundfile as sf\n"
    "OSError: cannot load library 'libsndfile.so': libsndfile.so: cannot open shared object "
    "file: No such file or directory\n"
)


def test_direct_requirements_get_their_debian_packages() -> None:
    assert syslibs.apt_packages_for(["soundfile>=0.12", "numpy"]) == ("libsndfile1",)
    assert syslibs.apt_packages_for(["opencv-python"]) == ("libgl1", "libglib2.0-0", "libxcb1")
    assert syslibs.apt_packages_for(["pydub", "SoundDevice==0.5"]) == ("ffmpeg", "libportaudio2")
    assert syslibs.apt_packages_for(["numpy", "-r base.txt", "./pkg", "bad !!"]) == ()


def test_import_time_needs_propagate_to_dependents_but_optional_back_ends_do_not() -> None:
    # librosa imports soundfile at import time (libsndfile1); audioread's ffmpeg back-end is
    # optional, so a librosa group does not pay for ffmpeg unless it names audioread itself.
    assert syslibs.apt_packages_for(["librosa"]) == ("libsndfile1",)
    assert syslibs.apt_packages_for(["librosa", "audioread"]) == ("ffmpeg", "libsndfile1")


def test_every_table_entry_says_where_it_comes_from() -> None:
    for name, need in syslibs.TABLE.items():
        assert need.debian, name
        assert need.source, name
        assert need.source.split(":")[0] in {"dlopen", "linked", "executable"}, name


def test_missing_library_is_recognised_in_its_usual_forms() -> None:
    found = syslibs.missing_library(SOUNDFILE_ERROR)
    assert found == syslibs.MissingLibrary("libsndfile.so", "libsndfile1")
    gl = syslibs.missing_library("ImportError: libGL.so.1: cannot open shared object file")
    assert gl == syslibs.MissingLibrary("libGL.so.1", "libgl1")
    pa = syslibs.missing_library("OSError: PortAudio library not found")
    assert pa is not None
    assert pa.debian == "libportaudio2"
    odd = syslibs.missing_library("OSError: libfoo.so.3: cannot open shared object file")
    assert odd == syslibs.MissingLibrary("libfoo.so.3", None)
    assert "apt-file search libfoo.so.3" in odd.fix
    assert syslibs.missing_library("ModuleNotFoundError: No module named 'x'") is None


def _step(index: int, status: StepStatus, output: str = "") -> StepResult:
    return StepResult(
        index=index,
        command=f"python step{index}.py",
        source_line=index,
        kind=runner.RUN_KIND,
        status=status,
        reason="exit code 1" if status == StepStatus.FAILED else "",
        exit_code=1 if status == StepStatus.FAILED else 0,
        duration_s=0.1,
        output_tail=output,
    )


def test_a_missing_system_library_in_a_step_is_an_error_naming_it() -> None:
    failed = replace(_step(2, StepStatus.FAILED, SOUNDFILE_ERROR), missing_library="libsndfile.so")
    steps = [_step(1, StepStatus.OK), failed]
    verdict = runner.evaluate_steps(steps, model.Params({}))
    assert verdict.status == model.Status.ERROR
    assert "libsndfile.so" in verdict.summary
    assert "apt: [libsndfile1]" in verdict.summary  # the fix for the lecturer
    assert "not the group's fault" in verdict.summary
    gap = verdict.details["missing_system_library"]
    assert isinstance(gap, dict)
    assert gap["debian_package"] == "libsndfile1"
    assert gap["step"] == 2


def test_a_library_the_grader_did_not_confirm_missing_is_the_groups_failure() -> None:
    """The output is the student's: `print("libGL.so.1: cannot open shared object file")`
    and exit 1 made a failure "a grader environment gap, not the group's fault"."""
    steps = [_step(1, StepStatus.FAILED, SOUNDFILE_ERROR)]
    verdict = runner.evaluate_steps(steps, model.Params({}))
    assert verdict.status == model.Status.FAIL
    assert "missing_system_library" not in verdict.details
    forged = notebooks.NotebookResult(
        "a.ipynb",
        notebooks.NotebookStatus.FAILED,
        error="OSError: libGL.so.1: cannot open shared object file: No such file or directory",
    )
    report = notebooks.NotebookReport(results=(forged,))
    assert notebooks.evaluate_notebooks(report, model.Params({})).status == model.Status.FAIL


class _ProbeSession:
    """Answers the grader's library probe as a session whose image has ``present``."""

    def __init__(self, present: frozenset[str]) -> None:
        self.present = present
        self.probed: list[str] = []

    def run(self, command: str, timeout_s: float | None = None) -> model.ExecResult:
        raise AssertionError("the probe runs as a helper, never in the student's shell")

    def read_file(self, path: str, max_bytes: int) -> bytes | None:
        return None

    def run_helper(
        self,
        script: str,
        args: Sequence[str],
        timeout_s: float,
        max_bytes: int,
        stdin: bytes = b"",
    ) -> HelperResult:
        assert script == syslibs.LIBRARY_PROBE
        self.probed.append(args[-1])
        answer = b"present\n" if args[-1] in self.present else b"missing\n"
        return HelperResult(0, False, 0.1, answer)

    def close(self) -> None:
        pass


def test_the_runner_asks_the_session_before_it_blames_the_environment() -> None:
    session = _ProbeSession(frozenset({"libGL.so.1"}))
    forged = "ImportError: libGL.so.1: cannot open shared object file: No such file or directory"
    assert runner.confirm_missing_library(session, forged) == ""
    assert runner.confirm_missing_library(session, SOUNDFILE_ERROR) == "libsndfile.so"
    assert runner.confirm_missing_library(session, "ZeroDivisionError") == ""
    assert session.probed == ["libGL.so.1", "libsndfile.so"]


def test_the_library_probe_tells_present_from_missing() -> None:
    for name, expected in (("libc.so.6", b"present"), ("libnot-a-lib-xyz.so.9", b"missing")):
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", syslibs.LIBRARY_PROBE, name],
            capture_output=True,
            check=True,
            timeout=60,
        )
        assert done.stdout.strip() == expected


def test_an_ordinary_failure_is_still_the_groups() -> None:
    steps = [_step(1, StepStatus.FAILED, "ZeroDivisionError: division by zero")]
    verdict = runner.evaluate_steps(steps, model.Params({}))
    assert verdict.status == model.Status.FAIL


def test_a_missing_system_library_in_a_notebook_is_an_error_naming_it() -> None:
    report = notebooks.NotebookReport(
        results=(
            notebooks.NotebookResult(
                "explore.ipynb",
                notebooks.NotebookStatus.FAILED,
                failing_cell=2,
                error="OSError: cannot load library 'libsndfile.so': libsndfile.so: cannot open "
                "shared object file: No such file or directory",
                missing_library="libsndfile.so",
            ),
        )
    )
    verdict = notebooks.evaluate_notebooks(report, model.Params({}))
    assert verdict.status == model.Status.ERROR
    assert "libsndfile.so" in verdict.summary
    assert "libsndfile1" in verdict.summary


def test_builds_get_the_table_packages_the_parent_layer_lacks() -> None:
    from repograder.sandbox.docker import with_system_libraries

    spec = EnvSpec(
        kind=EnvKind.REQUIREMENTS,
        path="requirements.txt",
        reason="test",
        requirements=("librosa", "opencv-python"),
        apt_packages=("libgl1",),
    )
    out, note = with_system_libraries(spec, present=("libsndfile1",))
    assert out.apt_packages == ("libgl1", "libglib2.0-0", "libxcb1")
    assert "libglib2.0-0" in note
    present = ("libsndfile1", "libglib2.0-0", "libxcb1")
    same, none = with_system_libraries(spec, present=present)
    assert same == spec
    assert none == ""


def test_the_table_follows_the_ldd_scan() -> None:
    # benchmarks/syslibs_scan.py in the base image, 2026-12 (see each row's source)
    assert "libxcb1" in syslibs.apt_packages_for(["opencv-python"])
    assert syslibs.apt_packages_for(["opencv-python-headless"]) == ()
    assert syslibs.apt_packages_for(["xgboost", "h5py", "scikit-learn"]) == ()
    assert syslibs.apt_packages_for(["pygame"]) == ("libglib2.0-0",)
    # an optional back-end: not carried to a dependent that does not name it
    assert syslibs.TABLE["pygame"].when == "use"
    xcb = syslibs.missing_library("ImportError: libxcb.so.1: cannot open shared object file")
    assert xcb == syslibs.MissingLibrary("libxcb.so.1", "libxcb1")


def test_a_bare_url_counts_by_the_distribution_it_installs() -> None:
    # whisper's own install line is a bare git URL: its ffmpeg was never installed, so the
    # step failed for want of it (helper-32); `openai-whisper @ git+...` worked.
    assert syslibs.apt_packages_for(["git+https://github.com/openai/whisper.git"]) == ("ffmpeg",)
    assert syslibs.requirement_names(
        [
            "git+https://github.com/openai/whisper.git@v20231117",
            "git+https://github.com/librosa/librosa@main#egg=librosa",
            "git+ssh://git@github.com/facebookresearch/demucs.git",
            "https://example.org/w/opencv_python-4.9.0.80-cp37-abi3-manylinux_2_17_x86_64.whl",
            "https://example.org/archive.tar.gz",
        ]
    ) == ["openai-whisper", "librosa", "demucs", "opencv-python"]
    assert syslibs.apt_packages_for(["git+https://github.com/librosa/librosa"]) == ("libsndfile1",)


def test_a_known_repository_outranks_its_egg_name_and_comments_are_cut() -> None:
    # helper-36: `#egg=whisper` named it whisper (no ffmpeg); `pyaudio\t# https://…` was lost.
    assert syslibs.requirement_names(
        [
            "git+https://github.com/openai/whisper.git#egg=whisper",
            "pyaudio\t# https://people.csail.mit.edu/hubert/pyaudio/",
            "pyaudio# see https://example.org",
            "git+https://example.org/a/b.git#egg=foo  # pinned later",
        ]
    ) == ["openai-whisper", "pyaudio", "pyaudio", "foo"]
