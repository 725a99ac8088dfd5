"""missing_library against what is not a gap of the grader's Debian environment: warning lines
(the step went on after them), GPU libraries (no Debian package gives the grader a GPU) and a
library the group did not build or commit; and the rows a tester found missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from repograder import model, runner, syslibs
from repograder.facts import Step, StepKind
from repograder.sandbox.base import HelperResult, Limits
from repograder.sandbox.fake import FakeSandbox, exec_result
from repograder.syslibs import MissingLibrary, OwnLibrary

# TensorFlow <= 2.10 on every CPU machine (stream_executor/platform/default/dso_loader.cc)
TF_CUDART_WARNING = (
    "2023-05-01 12:00:00.123456: W tensorflow/stream_executor/platform/default/dso_loader.cc:64]"
    " Could not load dynamic library 'libcudart.so.11.0'; dlerror: libcudart.so.11.0: cannot "
    "open shared object file: No such file or directory\n"
    "2023-05-01 12:00:00.123500: I tensorflow/stream_executor/cuda/cudart_stub.cc:29] Ignore "
    "above cudart dlerror if you do not have a GPU set up on your machine.\n"
)
# pydub/utils.py get_encoder_name() on import when ffmpeg is absent (warnings.formatwarning)
PYDUB_WARNING = (
    "/venv/lib/python3.11/site-packages/pydub/utils.py:170: RuntimeWarning: Couldn't find "
    "ffmpeg or avconv - defaulting to ffmpeg, but may not work\n"
    '  warn("Couldn\'t find ffmpeg or avconv - defaulting to ffmpeg, but may not work", '
    "RuntimeWarning)\n"
)
ZERO = (
    "Traceback (most recent call last):\n"
    '  File "/work/run.py", line 3, in <module>\n'
    "    print(1 / 0)\n"
    "ZeroDivisionError: division by zero\n"
)
NO_MODULE = "ModuleNotFoundError: No module named 'mymodule'\n"


# ------------------------------------------------------------------------------- 1. warnings


@pytest.mark.parametrize(
    "output",
    [
        TF_CUDART_WARNING + ZERO,
        TF_CUDART_WARNING + NO_MODULE,
        PYDUB_WARNING + ZERO,
        PYDUB_WARNING + NO_MODULE,
        # the other warning forms, naming a program in a notice
        "I0501 12:00:00.123456  1234 probe.cc:12] No such file or directory: 'ffmpeg'\n" + ZERO,
        "WARNING:root:FileNotFoundError: [Errno 2] No such file or directory: 'ffmpeg'\n" + ZERO,
    ],
)
def test_a_warning_before_the_groups_own_error_names_nothing(output: str) -> None:
    assert syslibs.missing_library(output) is None


@pytest.mark.parametrize(
    ("output", "library"),
    [
        (
            "/work/a.py:3: UserWarning: libsndfile.so.1: cannot open shared object file\n"
            "  warnings.warn(msg)\n" + ZERO,
            "libsndfile.so.1",
        ),
        ("UserWarning: OSError: libGL.so.1: cannot open shared object file\n" + ZERO, "libGL.so.1"),
        (
            "W0501 12:00:00.123456  1234 loader.cc:64] libportaudio.so.2: cannot open shared "
            "object file: No such file or directory\n" + ZERO,
            "libportaudio.so.2",
        ),
        ("[W NNPACK.cpp:64] libgomp.so.1: cannot open shared object file\n" + ZERO, "libgomp.so.1"),
        # `try: lib = ctypes.CDLL("libGL.so.1") except OSError as e: logging.warning(...)`,
        # then the step uses it anyway (helper-35): maybe the cause, maybe not
        (
            "WARNING:root:OpenGL unavailable: libGL.so.1: cannot open shared object file: No "
            "such file or directory\nAttributeError: 'NoneType' object has no attribute "
            "'glGetString'\n",
            "libGL.so.1",
        ),
    ],
)
def test_a_loader_failure_only_in_a_warning_needs_a_human(output: str, library: str) -> None:
    # Nothing else names what failed: the grader cannot tell whether the step failed for want
    # of the library it warned about (then the grader's gap) or for the group's own error.
    found = syslibs.missing_library(output)
    assert found is not None
    assert (found.library, found.warned) == (library, True)
    assert "could not tell whether that caused the failure" in found.describe()
    hint = runner.hint_for("python run.py", output, 1, False)
    assert hint.startswith(f"a warning said the library '{library}' could not be loaded")
    # A failure named outside the warnings decides: the warning is not needed then.
    sure = syslibs.missing_library(
        output + "OSError: libsndfile.so.1: cannot open shared object file\n"
    )
    assert sure is not None
    assert (sure.library, sure.warned) == ("libsndfile.so.1", False)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        # pydub warns on import, then fails when it runs ffprobe for an mp3
        (
            PYDUB_WARNING
            + '  File "/venv/lib/python3.11/site-packages/pydub/utils.py", line 274, in '
            "mediainfo_json\n"
            "FileNotFoundError: [Errno 2] No such file or directory: 'ffprobe'\n",
            MissingLibrary("ffprobe", "ffmpeg", "program"),
        ),
        # os.system("ffmpeg ...") said so, then the script read the file ffmpeg did not write:
        # still the grader's gap
        (
            "sh: 1: ffmpeg: not found\n"
            "Traceback (most recent call last):\n"
            '  File "/work/convert.py", line 9, in <module>\n'
            "    data, sr = sf.read('out.wav')\n"
            "soundfile.LibsndfileError: Error opening 'out.wav': System error.\n"
            "FileNotFoundError: [Errno 2] No such file or directory: 'out.wav'\n",
            MissingLibrary("ffmpeg", "ffmpeg", "program"),
        ),
        # a warning does not hide the real failure after it
        (
            TF_CUDART_WARNING + "ImportError: libGL.so.1: cannot open shared object file\n",
            MissingLibrary("libGL.so.1", "libgl1"),
        ),
        # an error severity of the same loggers is not a warning
        (
            "E0501 12:00:00.123456  1234 x.cc:9] libsndfile.so.1: cannot open shared object file\n",
            MissingLibrary("libsndfile.so.1", "libsndfile1"),
        ),
    ],
)
def test_a_real_failure_after_a_warning_is_still_found(
    output: str, expected: MissingLibrary
) -> None:
    assert syslibs.missing_library(output) == expected


def test_without_warnings_keeps_exactly_the_other_lines() -> None:
    text = PYDUB_WARNING + TF_CUDART_WARNING + "  File 'x'\n" + ZERO
    assert syslibs.without_warnings(text) == "  File 'x'\n" + ZERO


def test_a_warning_does_not_decide_the_hint() -> None:
    # The step failed on its own ZeroDivisionError: no library hint, no GPU hint.
    assert runner.hint_for("python run.py", TF_CUDART_WARNING + ZERO, 1, False) == ""
    assert runner.hint_for("python run.py", PYDUB_WARNING + ZERO, 1, False) == ""
    assert runner.hint_for("python run.py", TF_CUDART_WARNING + NO_MODULE, 1, False) == (
        "module 'mymodule' is missing from the environment file "
        "(requirements.txt, environment.yml or pyproject.toml)"
    )


# ----------------------------------------------------------------------------- 2. GPU libraries

GPU_HINT = (
    "the code requires a GPU; the grader is CPU-only: fall back to CPU when CUDA is "
    "unavailable (torch.device('cuda' if torch.cuda.is_available() else 'cpu'))"
)


@pytest.mark.parametrize(
    "soname",
    [
        "libcuda.so.1",
        "libcudart.so.11.0",
        "libcublas.so.11",
        "libcublasLt.so.12",
        "libcudnn.so.8",
        "libcudnn_ops_infer.so.8",
        "libcufft.so.10",
        "libcurand.so.10",
        "libcusolver.so.11",
        "libcusparse.so.12",
        "libnccl.so.2",
        "libnvrtc.so.12",
        "libnvToolsExt.so.1",
        "libnvidia-ml.so.1",
        "libnvinfer.so.8",
        "libnvinfer_plugin.so.8",
        "libtorch_cuda.so",
        "libc10_cuda.so",
        "libcupti.so.12",
        "libnvJitLink.so.12",
    ],
)
def test_a_gpu_library_is_never_a_debian_gap(soname: str) -> None:
    error = f"OSError: {soname}: cannot open shared object file: No such file or directory\n"
    loader = f"OSError: cannot load library '{soname}': {soname}: cannot open shared object file"
    assert syslibs.missing_library(error) is None
    assert syslibs.missing_library(loader) is None
    assert syslibs.gpu_library(error) == soname
    assert runner.hint_for("python train.py", error, 1, False) == GPU_HINT


def test_gpu_libraries_are_only_the_gpu_stack() -> None:
    for name in ("libcurl.so.4", "libcups.so.2", "libnuma.so.1", "libGL.so.1", "libc.so.6"):
        assert not syslibs.is_gpu_library(name), name
    # a system library named next to a GPU one is still found
    both = (
        "OSError: libcudnn.so.8: cannot open shared object file\n"
        "ImportError: libGL.so.1: cannot open shared object file\n"
    )
    assert syslibs.missing_library(both) == MissingLibrary("libGL.so.1", "libgl1")
    # TensorFlow's warning about libcudart is not a GPU failure either
    assert syslibs.gpu_library(TF_CUDART_WARNING + ZERO) is None


# ------------------------------------------------------------------ 3. the group's own library

OWN_ERROR = (
    "Traceback (most recent call last):\n"
    '  File "/work/run.py", line 2, in <module>\n'
    '    lib = ctypes.CDLL("libmyfilter.so")\n'
    "OSError: libmyfilter.so: cannot open shared object file: No such file or directory\n"
)


@pytest.mark.parametrize(
    ("files", "build_texts", "evidence"),
    [
        ({"run.py", "native/build/libmyfilter.so.1"}, {}, "native/build/libmyfilter.so.1"),
        ({"run.py", "lib/libmyfilter.a"}, {}, "lib/libmyfilter.a"),
        ({"run.py", "src/myfilter.c"}, {}, "src/myfilter.c"),
        ({"run.py", "myfilter.cpp"}, {}, "myfilter.cpp"),
        ({"run.py", "ext/myfilter.pyx"}, {}, "ext/myfilter.pyx"),
        ({"run.py", "gpu/myfilter.cu"}, {}, "gpu/myfilter.cu"),
        (
            {"run.py", "CMakeLists.txt", "src/filter.c"},
            {"CMakeLists.txt": "add_library(myfilter SHARED src/filter.c)\n"},
            "CMakeLists.txt",
        ),
        (
            {"run.py", "Makefile", "filter.c"},
            {"Makefile": "libmyfilter.so: filter.c\n\tcc -shared -o $@ $<\n"},
            "Makefile",
        ),
        (
            {"run.py", "meson.build", "f.c"},
            {"meson.build": "shared_library('myfilter', 'f.c')\n"},
            "meson.build",
        ),
    ],
)
def test_the_checkout_shows_the_library_is_the_groups_own(
    files: set[str], build_texts: dict[str, str], evidence: str
) -> None:
    found = syslibs.own_library_evidence("libmyfilter.so", files, build_texts)
    assert found == OwnLibrary("libmyfilter.so", evidence)


def test_no_evidence_or_a_known_library_is_not_the_groups_own() -> None:
    files = {"run.py", "filter.py", "myfilter_notes.md", "Makefile"}
    texts = {"Makefile": "test:\n\tpython -m pytest -lmyfilter2\n"}
    assert syslibs.own_library_evidence("libmyfilter.so", files, texts) is None
    # a Debian library stays the grader's, whatever the tree holds
    assert syslibs.own_library_evidence("libGL.so.1", {"GL.c", "libGL.so.1"}) is None
    assert syslibs.own_library_evidence("libcudart.so.12", {"cudart.cu"}) is None


def _own_step_results(
    tmp_path: Path, repo_files: frozenset[str], files: dict[str, bytes] | None = None
) -> tuple[model.StepResult, FakeSandbox]:
    fake = FakeSandbox(
        {"python run.py": exec_result(1, OWN_ERROR)},
        files=files,
        helper=lambda args: HelperResult(0, False, 0.1, b"missing\n"),
    )
    build = fake.prepare(None, tmp_path, tmp_path)  # type: ignore[arg-type]
    session = fake.open_session(build, tmp_path, Limits())
    step = Step(1, "python run.py", 5, "Usage", StepKind.RUN, "")
    (result,) = runner.run_steps(session, [step], runner.RunOptions(repo_files=repo_files))
    return result, fake


def test_a_library_the_group_did_not_build_is_the_groups_failure(tmp_path: Path) -> None:
    result, fake = _own_step_results(tmp_path, frozenset({"run.py", "csrc/myfilter.c"}))
    assert result.missing_library == ""
    assert fake.helper_calls == []  # no probe: it is not the grader's to confirm
    assert result.hint == (
        "the library libmyfilter.so is the group's own (the repository has csrc/myfilter.c) "
        "but was not built: build it in a README step before this one (e.g. make, cmake, "
        "pip install .) or commit the built library"
    )
    verdict = runner.evaluate_steps([result], model.Params({}))
    assert verdict.status == model.Status.FAIL
    assert "missing_system_library" not in verdict.details


def test_a_build_file_read_from_the_session_is_evidence(tmp_path: Path) -> None:
    files = {"CMakeLists.txt": b"project(f C)\nadd_library(myfilter SHARED f.c)\n"}
    result, _ = _own_step_results(tmp_path, frozenset({"run.py", "CMakeLists.txt"}), files)
    assert result.missing_library == ""
    assert result.hint.startswith(
        "the library libmyfilter.so is the group's own (the repository has CMakeLists.txt)"
    )


def test_a_committed_library_the_loader_does_not_find_gets_a_path_hint(tmp_path: Path) -> None:
    result, _ = _own_step_results(tmp_path, frozenset({"run.py", "bin/libmyfilter.so"}))
    assert result.missing_library == ""
    assert result.hint == (
        "the library libmyfilter.so is the group's own: the repository has bin/libmyfilter.so, "
        "but the loader does not look there; load it by its path (relative to the module's "
        "__file__) or set LD_LIBRARY_PATH in the step"
    )


def test_an_unknown_library_without_evidence_is_undecided_not_the_graders_fault(
    tmp_path: Path,
) -> None:
    result, fake = _own_step_results(tmp_path, frozenset({"run.py", "README.md"}))
    assert result.missing_library == "libmyfilter.so"
    assert fake.helper_calls == [("libmyfilter.so",)]
    assert result.hint == (
        "the library 'libmyfilter.so' could not be loaded and the grading environment does not "
        "have it either; the grader could not tell whether it is a system library or the "
        "group's own: if it is the group's own, build it in a README step or commit it; if it "
        "is a Debian library, the lecturer should find its package (`apt-file search "
        "libmyfilter.so`) and add it as `apt: [<package>]` to the rubric's environment"
    )
    verdict = runner.evaluate_steps([result], model.Params({}))
    assert verdict.status == model.Status.ERROR
    assert verdict.summary == (
        "step 1 could not run: the grading environment lacks the library libmyfilter.so, and "
        "the grader could not tell whether it is a system library or the group's own: if it "
        "is a Debian library, find its package (`apt-file search libmyfilter.so`) and add it "
        "as `apt: [<package>]` under `environment:` in the rubric; if it is the group's own "
        "library, the group must build it in a README step or commit it"
    )
    assert "not the group's fault" not in verdict.summary


def test_a_known_debian_library_keeps_the_graders_gap_wording() -> None:
    gl = MissingLibrary("libGL.so.1", "libgl1")
    assert gl.describe() == (
        "the grading environment lacks the system library libGL.so.1 (a grader environment "
        "gap, not the group's fault): install the Debian package libgl1 in the grading "
        "environment: add `apt: [libgl1]` under `environment:` in the rubric and grade again"
    )


# --------------------------------------------------------------------------- 4. missing rows


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            "ImportError: Couldn't find the FluidSynth library.",
            MissingLibrary("libfluidsynth.so.3", "libfluidsynth3"),
        ),
        (
            "OSError: libfluidsynth.so.3: cannot open shared object file",
            MissingLibrary("libfluidsynth.so.3", "libfluidsynth3"),
        ),
        ("sh: 1: fluidsynth: not found", MissingLibrary("fluidsynth", "fluidsynth", "program")),
        (
            "FileNotFoundError: [Errno 2] No such file or directory: 'fluidsynth'",
            MissingLibrary("fluidsynth", "fluidsynth", "program"),
        ),
    ],
)
def test_fluidsynth_is_recognised(output: str, expected: MissingLibrary) -> None:
    assert syslibs.missing_library(output) == expected


@pytest.mark.parametrize(
    ("requirements", "expected"),
    [
        (["midi2audio"], ("fluidsynth",)),
        (["pyFluidSynth"], ("libfluidsynth3",)),
        (["python-rtmidi"], ("libasound2",)),
        (["mido"], ("libasound2",)),
        (["ultralytics"], ("libgl1", "libglib2.0-0", "libxcb1")),
        (["mediapipe"], ("libgl1", "libglib2.0-0", "libxcb1")),
    ],
)
def test_the_rows_a_tester_found_missing(
    requirements: list[str], expected: tuple[str, ...]
) -> None:
    assert syslibs.apt_packages_for(requirements) == expected


def test_when_the_new_rows_apply() -> None:
    assert syslibs.TABLE["midi2audio"].when == "use"
    assert syslibs.TABLE["mido"].when == "use"
    assert syslibs.TABLE["pyfluidsynth"].when == "import"
    assert syslibs.TABLE["python-rtmidi"].when == "import"


# ---------------------------------------------------------------------- 5. programs are programs


@pytest.mark.parametrize(
    "output",
    [
        "audioread.exceptions.NoBackendError",
        "Exception: Couldn't find ffprobe or avprobe",
        "pydub: Couldn't find ffmpeg or avconv - defaulting to ffmpeg, but may not work",
    ],
)
def test_ffmpeg_found_by_a_package_s_words_is_a_program(output: str) -> None:
    assert syslibs.missing_library(output) == MissingLibrary("ffmpeg", "ffmpeg", "program")


def test_an_exception_group_after_a_warning_is_not_the_warnings_source_line() -> None:
    # Only the one source line Python prints under a warning goes with it (helper-35).
    output = (
        "/work/a.py:3: UserWarning: slow path\n"
        "  + Exception Group Traceback (most recent call last):\n"
        "    | OSError: libsndfile.so.1: cannot open shared object file: No such file\n"
    )
    found = syslibs.missing_library(output)
    assert found is not None
    assert (found.library, found.warned) == ("libsndfile.so.1", False)


def test_the_hint_agrees_with_the_verdict() -> None:
    # The verdict reads what failed, not warnings: so does the hint (helper-35).
    soft = (
        "UserWarning: soundfile unavailable: sndfile library not found\n"
        "AttributeError: 'NoneType' object has no attribute 'read'\n"
    )
    assert syslibs.missing_library(soft) is None
    assert "libsndfile is missing" not in runner.hint_for("python run.py", soft, 1, False)
    # A confirmed gap beside a GPU library's error: the gap's hint, as its verdict says.
    both = (
        "E tensorflow/dso_loader.cc:64] Could not load dynamic library 'libcudart.so.11.0'; "
        "dlerror: libcudart.so.11.0: cannot open shared object file\n"
        "OSError: libsndfile.so.1: cannot open shared object file: No such file or directory\n"
    )
    hint = runner.hint_for("python run.py", both, 1, False)
    assert hint.startswith("the system library 'libsndfile.so.1' is not installed")


def test_what_is_not_evidence_of_the_groups_own_library() -> None:
    # helper-35: a Makefile comment documenting a system dependency, a find_library call, and
    # files that merely start with the library's stem made a system gap the group's failure.
    lib = "libxkbcommon.so.0"
    files = ["Makefile", "setup.py", "tools/libxkbcommon_notes.txt", "libxkbcommon-sample.py"]
    texts = {
        "Makefile": "# System requirements: libxkbcommon (apt install libxkbcommon0)\nall:\n",
        "setup.py": "import ctypes.util\nLIB = ctypes.util.find_library('xkbcommon')\n",
    }
    assert syslibs.own_library_evidence(lib, files, texts) is None
    cmake = {"CMakeLists.txt": "pkg_check_modules(XKB REQUIRED libxkbcommon.so)\n"}
    assert syslibs.own_library_evidence(lib, ["CMakeLists.txt"], cmake) is None
    # What is: the library, its object or its source, or a build file that builds it.
    for path in ("build/libxkbcommon.so.0", "libxkbcommon.a", "src/libxkbcommon.c"):
        assert syslibs.own_library_evidence(lib, [path]) is not None
    make = {"Makefile": "libxkbcommon.so: xkb.o\n\tcc -shared -o $@ $^\n"}
    assert syslibs.own_library_evidence(lib, ["Makefile"], make) is not None


def test_a_gap_does_not_hide_the_groups_other_failures() -> None:
    # helper-35: a step printing a library line (a real gap, or forged by the group's code)
    # made the check `error` naming only that step; the reviewer sees the others too.
    gap = model.StepResult(
        1,
        "python gui.py",
        5,
        model.StepStatus.FAILED,
        exit_code=1,
        output_tail="OSError: libGL.so.1: cannot open shared object file: No such file\n",
        missing_library="libGL.so.1",
    )
    own = model.StepResult(
        2,
        "python train.py",
        7,
        model.StepStatus.FAILED,
        exit_code=1,
        output_tail="ZeroDivisionError: division by zero\n",
    )
    verdict = runner.evaluate_steps([gap, own], model.Params({}))
    assert verdict.status == model.Status.ERROR
    assert verdict.summary.startswith("step 1 could not run: the grading environment lacks")
    assert verdict.summary.endswith(
        "; besides, step 2 (line 7: python train.py) failed: ZeroDivisionError: division by zero"
    )


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("Makefile", "all:\n\tgcc -shared -fPIC dsp.c -o libfastdsp.so -lm\n"),
        (
            "meson.build",
            "shared_library('fastdsp', 'dsp.c', dependencies : [dependency('threads')])\n",
        ),
        ("CMakeLists.txt", "add_library(fastdsp SHARED src/multi-label.c)\n"),
        ("setup.py", "Extension('fastdsp', ['dsp.c'], extra_link_args=['-lm'])\n"),
        ("Makefile", "my-lib/libfastdsp.so: dsp.c\n"),
    ],
)
def test_ordinary_build_lines_still_build_the_groups_own_library(path: str, text: str) -> None:
    # helper-36: dropping whole lines with a lookup or a link flag (-lm) lost these.
    assert syslibs.own_library_evidence("libfastdsp.so", [path], {path: text}) is not None


@pytest.mark.parametrize(
    "path", ["libfastdsp.so.txt", "libfastdsp.so.bak", "docs/libfastdsp.so.README"]
)
def test_a_note_named_after_the_library_is_not_the_library(path: str) -> None:
    assert syslibs.own_library_evidence("libfastdsp.so", [path]) is None


@pytest.mark.parametrize(
    "tail",
    [
        "AssertionError: Torch not compiled with CUDA enabled\n",
        "OSError: libcudart.so.12: cannot open shared object file: No such file or directory\n",
        "OSError: ./build/libfilter.so: cannot open shared object file: No such file\n",
    ],
)
def test_a_warned_library_does_not_outrank_a_gpu_or_own_file_failure(tail: str) -> None:
    # helper-36: a libGL warning before these made the step "needs a human".
    warned = (
        "x.py:12: UserWarning: OpenGL unavailable: libGL.so.1: cannot open shared object "
        "file: No such file\n  warnings.warn(m)\n"
    )
    assert syslibs.missing_library(warned + tail) is None
    hint = runner.hint_for("python x.py", warned + tail, 1, False)
    assert hint.startswith(("the code requires a GPU", "the library ./build/libfilter.so is"))


def test_a_mention_of_cuda_does_not_outrank_a_warned_library() -> None:
    # helper-37: `CUDA available: False`, printed by many students, hid the warned gap.
    output = (
        "WARNING:root:OpenGL unavailable: libGL.so.1: cannot open shared object file: No such "
        "file\nCUDA available: False\nAttributeError: 'NoneType' object has no attribute 'x'\n"
    )
    found = syslibs.missing_library(output)
    assert found is not None
    assert found.warned


@pytest.mark.parametrize(
    "line",
    [
        "LDLIBS = -lm -lpthread /usr/local/lib/libessentia.so",
        "\t$(CC) main.o -o app -lm -l:libessentia.so",
        "target_link_libraries(app PRIVATE -lm libessentia.so)",
        "lib = find_library('essentia') or 'libessentia.so'",
    ],
)
def test_linking_against_a_library_is_not_building_it(line: str) -> None:
    # helper-37: these made an unknown system library the group's own failure.
    assert (
        syslibs.own_library_evidence("libessentia.so.2", ["Makefile"], {"Makefile": line}) is None
    )


@pytest.mark.parametrize(
    "output",
    [
        "OSError: /work/build/libfastdsp.so: cannot open shared object file",
        "OSError: cannot load library '/work/build/libfastdsp.so': error",
        "OSError: /opt/venv/lib/python3.11/site-packages/mypkg/libfastdsp.so: cannot open "
        "shared object file",
    ],
)
def test_an_absolute_path_of_the_projects_own_gets_the_own_file_hint(output: str) -> None:
    hint = runner.hint_for("python x.py", output, 1, False)
    assert "is a file of the project's own that is not there" in hint
