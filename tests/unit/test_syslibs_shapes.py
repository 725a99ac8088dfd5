"""missing_library on the error texts audio/ML packages really print when the base image lacks
what they load (captured in a container of the base image, 2026-12, unless said otherwise),
and the table rows those packages got from the same evidence."""

from __future__ import annotations

import time

import pytest

from repograder import model, notebooks, runner, syslibs
from repograder.model import StepResult, StepStatus
from repograder.syslibs import MissingLibrary

ANSI_RED = "\x1b[0;31m"
ANSI_OFF = "\x1b[0m"


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        # openai-whisper's load_audio and ffmpeg-python's .run() start `ffmpeg` with
        # subprocess; ffmpeg.probe starts `ffprobe`; madmom starts both.
        (
            '  File "/usr/lib/python3.11/subprocess.py", line 1901, in _execute_child\n'
            "    raise child_exception_type(errno_num, err_msg, err_filename)\n"
            "FileNotFoundError: [Errno 2] No such file or directory: 'ffmpeg'\n",
            MissingLibrary("ffmpeg", "ffmpeg", "program"),
        ),
        (
            "FileNotFoundError: [Errno 2] No such file or directory: 'ffprobe'",
            MissingLibrary("ffprobe", "ffmpeg", "program"),
        ),
        (
            "FileNotFoundError: [Errno 2] No such file or directory: '/usr/bin/sox'",
            MissingLibrary("sox", "sox", "program"),
        ),
        (
            "FileNotFoundError: [Errno 2] No such file or directory: 'espeak-ng'",
            MissingLibrary("espeak-ng", "espeak-ng", "program"),
        ),
        # os.system / shell=True, and a README step that runs the program itself
        ("sh: 1: ffmpeg: not found", MissingLibrary("ffmpeg", "ffmpeg", "program")),
        ("bash: ffmpeg: command not found", MissingLibrary("ffmpeg", "ffmpeg", "program")),
        # the grader's own step script, as a README step `sox --version` printed it
        (
            "repograder-step: line 15: sox: command not found",
            MissingLibrary("sox", "sox", "program"),
        ),
        ("/bin/sh: 1: sox: not found", MissingLibrary("sox", "sox", "program")),
        # a player: the sandbox has no sound device, so no package fixes it (and pyttsx3
        # prints this without failing, before the group's own error)
        ("/bin/sh: 1: aplay: not found\nZeroDivisionError: division by zero", None),
        (
            "bash: line 1: rubberband: command not found",
            MissingLibrary("rubberband", "rubberband-cli", "program"),
        ),
        # pedalboard's extension links libatomic.so.1 (ldd and `import pedalboard`)
        (
            "ImportError: libatomic.so.1: cannot open shared object file: No such file or "
            "directory",
            MissingLibrary("libatomic.so.1", "libatomic1"),
        ),
        (
            "ImportError: libasound.so.2: cannot open shared object file: No such file or "
            "directory",
            MissingLibrary("libasound.so.2", "libasound2"),
        ),
        # espeak-ng's library is its own package, not libespeak1 (espeak 1.48's)
        (
            "OSError: libespeak-ng.so.1: cannot open shared object file",
            MissingLibrary("libespeak-ng.so.1", "libespeak-ng1"),
        ),
        (
            "OSError: libespeak.so.1: cannot open shared object file",
            MissingLibrary("libespeak.so.1", "libespeak1"),
        ),
        # pyzbar, pyttsx3 and phonemizer say it in their own words
        (
            '  File "/tmp/v/lib/python3.11/site-packages/pyzbar/zbar_library.py", line 65\n'
            "    raise ImportError('Unable to find zbar shared library')\n"
            "ImportError: Unable to find zbar shared library\n",
            MissingLibrary("libzbar.so.0", "libzbar0"),
        ),
        (
            "RuntimeError: This means you probably do not have eSpeak or eSpeak-ng installed!",
            MissingLibrary("libespeak-ng.so.1", "libespeak-ng1"),
        ),
        (
            "RuntimeError: espeak not installed on your system",
            MissingLibrary("libespeak-ng.so.1", "libespeak-ng1"),
        ),
        # cairocffi's message starts with the names it asked find_library for; the output
        # may hold only that first line
        (
            'OSError: no library called "cairo-2" was found',
            MissingLibrary("libcairo.so", "libcairo2"),
        ),
        # the whole of cairocffi's message: the macOS/Windows names are not the answer
        (
            'OSError: no library called "cairo-2" was found\n'
            'no library called "cairo" was found\n'
            'no library called "libcairo-2" was found\n'
            "cannot load library 'libcairo.so.2': libcairo.so.2: cannot open shared object "
            "file: No such file or directory.  Additionally, ctypes.util.find_library() did "
            "not manage to locate a library called 'libcairo.so.2'\n"
            "cannot load library 'libcairo.2.dylib': libcairo.2.dylib: cannot open shared "
            "object file: No such file or directory.\n",
            MissingLibrary("libcairo.so.2", "libcairo2"),
        ),
        (
            "OSError: cannot load library 'libcairo.2.dylib': libcairo.2.dylib: cannot open",
            None,
        ),
        # ctypes.CDLL(find_library("asound")) with find_library -> None loads the interpreter
        # itself; the first function looked up is then missing from it
        (
            "AttributeError: /tmp/v/bin/python: undefined symbol: snd_pcm_open",
            MissingLibrary("libasound.so.2", "libasound2"),
        ),
        (
            "AttributeError: function/symbol 'sf_open' not found in library '<None>': "
            "/tmp/v/bin/python: undefined symbol: sf_open",
            MissingLibrary("libsndfile.so.1", "libsndfile1"),
        ),
        # a library that is there but older than the extension wants: not missing
        (
            "OSError: /lib/x86_64-linux-gnu/libsndfile.so.1: undefined symbol: sf_open_virtual",
            None,
        ),
        # bookworm's ffmpeg ships libavformat.so.59: ffmpeg does not provide .so.58
        (
            "tensorflow.python.framework.errors_impl.NotFoundError: libavformat.so.58: cannot "
            "open shared object file: No such file or directory",
            MissingLibrary("libavformat.so.58", None),
        ),
        (
            "OSError: libavutil.so.59: cannot open shared object file\n"
            "OSError: libavutil.so.58: cannot open shared object file\n"
            "OSError: libavutil.so.57: cannot open shared object file\n",
            MissingLibrary("libavutil.so.57", "ffmpeg"),
        ),
        # subprocess.run("ffmpeg ...", shell=True, capture_output=True, check=True): only the
        # shell's exit status says the program was not found
        (
            "subprocess.CalledProcessError: Command 'ffmpeg -i talk.mp3 talk.wav' returned "
            "non-zero exit status 127.",
            MissingLibrary("ffmpeg", "ffmpeg", "program"),
        ),
        (
            "subprocess.CalledProcessError: Command 'ffmpeg -i talk.mp3 talk.wav' returned "
            "non-zero exit status 1.",
            None,
        ),
        (
            "subprocess.CalledProcessError: Command './prepare.sh' returned non-zero exit "
            "status 127.",
            None,
        ),
        # phonemizer's festival backend runs the `festival` program
        (
            "RuntimeError: festival not installed on your system",
            MissingLibrary("festival", "festival", "program"),
        ),
        # torchcodec (torchaudio.load, pyannote.audio) when its traceback list was cut out of
        # the kept output (torchcodec/_internally_replaced_utils.py's message)
        (
            "RuntimeError: Could not load libtorchcodec. Likely causes:\n"
            "          1. FFmpeg is not properly installed in your environment. We support\n"
            "[... output cut ...]\n"
            "FFmpeg version 4:\nOSError: libavutil.so.56: cannot open shared object file: "
            "No such file or directory\n[end of libtorchcodec loading traceback].",
            MissingLibrary("libavutil.so.57", "ffmpeg"),
        ),
        # ... but not when FFmpeg loaded and torch is the wrong version
        (
            "RuntimeError: Could not load libtorchcodec. Likely causes:\n"
            "          1. FFmpeg is not properly installed in your environment. We support\n"
            "FFmpeg version 5:\nOSError: /venv/lib/python3.11/site-packages/torchcodec/"
            "libtorchcodec_core5.so: undefined symbol: _ZN3c1017RegisterOperatorsD1Ev\n",
            None,
        ),
        # cffi found the library but it does not load: present, not missing
        (
            "OSError: cannot load library '/usr/lib/x86_64-linux-gnu/libsndfile.so.1': "
            "/usr/lib/x86_64-linux-gnu/libsndfile.so.1: undefined symbol: mpg123_open",
            None,
        ),
        # a library named by a path outside the system's library folders is the project's
        # own file, not built or not committed (found by a review: blamed on the grader)
        ("OSError: ./build/libfoo.so: cannot open shared object file: No such file", None),
        ("OSError: build/libdsp.so.1: cannot open shared object file: No such file", None),
        ("OSError: /home/student/work/lib/libfoo.so: cannot open shared object file", None),
        ("OSError: cannot load library 'ext/libfilt.so': ext/libfilt.so: cannot open", None),
        # ... and by a path in one of them, a system library
        (
            "OSError: /usr/lib/x86_64-linux-gnu/libGL.so.1: cannot open shared object file",
            MissingLibrary("libGL.so.1", "libgl1"),
        ),
        # the group's own missing files and programs are the group's
        ("FileNotFoundError: [Errno 2] No such file or directory: 'data/train.wav'", None),
        ("FileNotFoundError: [Errno 2] No such file or directory: 'ffmpeg.wav'", None),
        ("FileNotFoundError: [Errno 2] No such file or directory: 'ffmpeg/out.wav'", None),
        ("FileNotFoundError: [Errno 2] No such file or directory: 'train'", None),
        ("FileNotFoundError: [Errno 2] No such file or directory: 'bin/ffmpeg'", None),
        ("FileNotFoundError: [Errno 2] No such file or directory: './ffmpeg'", None),
        ("FileNotFoundError: [Errno 2] No such file or directory: 'flac'", None),  # a folder
        ("sh: 1: ./train.sh: not found", None),
        ("bash: line 1: my_tool: command not found", None),
        ("ModuleNotFoundError: No module named 'cairo'", None),
    ],
)
def test_missing_library_on_real_error_texts(output: str, expected: MissingLibrary | None) -> None:
    assert syslibs.missing_library(output) == expected


def test_notebook_output_coloured_or_wrapped() -> None:
    coloured = (
        f"{ANSI_RED}FileNotFoundError{ANSI_OFF}: [Errno 2] No such file or directory: 'ffmpeg'"
    )
    assert syslibs.missing_library(coloured) == MissingLibrary("ffmpeg", "ffmpeg", "program")
    coloured_so = f"{ANSI_RED}ImportError{ANSI_OFF}: libGL.so.1: cannot open shared object file"
    assert syslibs.missing_library(coloured_so) == MissingLibrary("libGL.so.1", "libgl1")
    wrapped = "ImportError: libGL.so.1: cannot open\n    shared object file: No such file"
    assert syslibs.missing_library(wrapped) == MissingLibrary("libGL.so.1", "libgl1")
    wrapped_load = "OSError: cannot load\nlibrary 'libsndfile.so': error"
    assert syslibs.missing_library(wrapped_load) == MissingLibrary("libsndfile.so", "libsndfile1")
    student = f"{ANSI_RED}FileNotFoundError{ANSI_OFF}: [Errno 2] No such file or directory: "
    assert syslibs.missing_library(student + "'data/train.wav'") is None


def test_a_missing_program_in_a_step_is_an_error_naming_its_package() -> None:
    step = StepResult(
        index=1,
        command="python transcribe.py",
        source_line=3,
        kind=runner.RUN_KIND,
        status=StepStatus.FAILED,
        reason="exit code 1",
        exit_code=1,
        duration_s=0.1,
        output_tail="FileNotFoundError: [Errno 2] No such file or directory: 'ffmpeg'\n",
        missing_library="ffmpeg",  # the grader's probe found no ffmpeg either
    )
    verdict = runner.evaluate_steps([step], model.Params({}))
    assert verdict.status == model.Status.ERROR
    assert "the program ffmpeg" in verdict.summary
    assert "apt: [ffmpeg]" in verdict.summary
    gap = verdict.details["missing_system_library"]
    assert isinstance(gap, dict)
    assert gap["debian_package"] == "ffmpeg"
    assert gap["kind"] == "program"


def test_a_notebook_missing_its_own_data_file_is_the_groups_failure() -> None:
    report = notebooks.NotebookReport(
        results=(
            notebooks.NotebookResult(
                "train.ipynb",
                notebooks.NotebookStatus.FAILED,
                failing_cell=3,
                error="FileNotFoundError: [Errno 2] No such file or directory: 'data/train.wav'",
            ),
        )
    )
    verdict = notebooks.evaluate_notebooks(report, model.Params({}))
    assert verdict.status == model.Status.FAIL


@pytest.mark.parametrize(
    ("requirements", "expected"),
    [
        (["openai-whisper"], ("ffmpeg",)),
        (["ffmpeg-python"], ("ffmpeg",)),
        (["madmom"], ("ffmpeg",)),
        (["pedalboard"], ("libatomic1",)),
        (["pyzbar"], ("libzbar0",)),
        (["cairocffi"], ("libcairo2",)),
        (["CairoSVG"], ("libcairo2",)),  # imports cairocffi at import time
        (["phonemizer"], ("libespeak-ng1",)),
        (["pyttsx3"], ("libespeak-ng1",)),
        (["espeakng"], ("espeak-ng",)),
        (["simpleaudio"], ("libasound2",)),
        (["pyalsaaudio"], ("libasound2",)),
        (["PySoundFile"], ("libsndfile1",)),
        (["speechbrain"], ("libsndfile1",)),
        (["pyannote.audio"], ("ffmpeg",)),  # imports torchcodec at import time
        # bundled or nothing missing (ldd in the base image; imageio-ffmpeg ships ffmpeg)
        (["moviepy", "imageio-ffmpeg", "essentia", "praat-parselmouth", "vosk"], ()),
        (["nnAudio", "resampy", "pyloudnorm", "noisereduce"], ()),
        (["av", "faster-whisper", "ctranslate2", "onnxruntime", "pocketsphinx"], ()),
        (["sentencepiece", "webrtcvad-wheels"], ()),
        # tensorflow-io's FFmpeg ops want FFmpeg 2.8/3.4/4.2 sonames bookworm has none of
        (["tensorflow-io"], ()),
    ],
)
def test_audio_packages_get_what_they_load(
    requirements: list[str], expected: tuple[str, ...]
) -> None:
    assert syslibs.apt_packages_for(requirements) == expected


def test_use_needs_are_not_carried_to_dependents() -> None:
    # phonemizer/pyttsx3 load espeak only when used; a package that merely depends on them
    # (none known) would not pay for it. madmom's ffmpeg is only for non-wav audio.
    for name in ("openai-whisper", "ffmpeg-python", "madmom", "phonemizer", "pyttsx3"):
        assert syslibs.TABLE[name].when == "use", name
    for name in ("pedalboard", "pyzbar", "cairocffi", "simpleaudio", "pyalsaaudio"):
        assert syslibs.TABLE[name].when == "import", name


@pytest.mark.parametrize(
    "output",
    [
        "lib" + "a.so." * 13_000,  # one long token: main took 4 s on half of this
        "lib" * 22_000,
        "A" * 65_536,  # a base64 line
        "python" * 11_000,
        "Could not load libtorchcodec." * 2_200,
        "cannot load library '" * 3_000,
        "Command '" * 7_000,
        "a/" * 32_000,  # a path of many folders
        "lib/" * 16_000 + "libx.so",
    ],
    ids=[
        "lib-run",
        "liblib",
        "base64",
        "python",
        "torchcodec",
        "cannot-load",
        "command",
        "folders",
        "lib-folders",
    ],
)
def test_a_step_s_whole_kept_output_is_read_in_linear_time(output: str) -> None:
    # 64 KiB is what a step keeps (Limits.output_bytes); a grade must not hang on it.
    started = time.perf_counter()
    syslibs.missing_library(output)
    assert time.perf_counter() - started < 2.0
