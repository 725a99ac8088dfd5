"""System libraries: which Debian packages a Python distribution needs at run time, and which
library or system program (ffmpeg, sox, espeak-ng...) a failed step or notebook was missing.

Pure (no docker, no I/O). Two kinds of need, both recorded in :data:`TABLE` with their source:

- **linked**: an extension module of the distribution's manylinux wheel links a library that
  the wheel does not bundle (auditwheel's policy lets wheels rely on a few system libraries,
  e.g. ``libGL.so.1``; ``ldd`` on the extension in the bare base image says ``not found``).
  Reproduce with ``python benchmarks/syslibs_scan.py DIST...`` (runs ``ldd`` on the installed
  wheel's ``.so`` files inside the base image and prints the missing sonames).
- **dlopen**: the module loads the library by name at import or on use (cffi/ctypes
  ``dlopen``, or an executable it calls); ldd cannot see these, so the entry cites the line of
  the package's source that loads it.

The Debian package of each soname is the bookworm package whose file list holds it
(https://packages.debian.org/bookworm/<package> "list of files"; equivalently
``apt-file search <soname>`` against bookworm's Contents-amd64 index).

``when="import"`` needs propagate through :data:`REQUIRES` (a package that imports another at
import time needs its libraries too, e.g. librosa imports soundfile); ``when="use"`` needs
(an optional back-end, e.g. ffmpeg for audioread) apply only when the group names the
distribution itself, so a course does not pay ~300 MB of ffmpeg for every librosa group.

:func:`missing_library` reads the texts these loaders really print (collected in a container
of the base image; see tests/unit/test_syslibs_shapes.py) and names a library or program only
when it is a system one: a group's own missing file, folder or script stays the group's. It
reads only the lines that are not warnings (:func:`without_warnings`: a warning is printed
and the program goes on, so the group's own error that follows is the failure), and never
names a GPU library (:data:`GPU_LIBRARIES`: no Debian package gives the CPU-only grader a GPU).
A library no table knows may be the group's own: :func:`own_library_evidence` looks for it
in the checkout's files, and :meth:`MissingLibrary.describe` does not blame the grader for it.

Kept whole: over half of it is the evidence tables (each row with its source), and the
readers of a failed step's output must sit next to the tables they read, so a change to a row
and to the text that finds it is reviewed together.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from repograder.model import JSONDict


@dataclass(frozen=True)
class Need:
    """The Debian packages one distribution needs at run time, and where that is known from."""

    debian: tuple[str, ...]
    when: Literal["import", "use"]
    source: str


# distribution (canonical name) -> Need. Debian package names are bookworm's (the base image).
TABLE: dict[str, Need] = {
    "soundfile": Need(
        ("libsndfile1",),
        "import",
        "dlopen: soundfile.py loads find_library('sndfile') / 'libsndfile.so' via cffi when the "
        "wheel bundles none (the py2.py3-none-any wheel); libsndfile1 ships libsndfile.so.1",
    ),
    "sounddevice": Need(
        ("libportaudio2",),
        "import",
        "dlopen: sounddevice.py loads find_library('portaudio') via cffi on Linux; "
        "libportaudio2 ships libportaudio.so.2",
    ),
    "pyaudio": Need(
        ("libportaudio2",),
        "import",
        "linked: pyaudio/_portaudio.*.so NEEDED libportaudio.so.2 (ldd); libportaudio2",
    ),
    "opencv-python": Need(
        ("libgl1", "libglib2.0-0", "libxcb1"),
        "import",
        "linked: ldd on cv2/cv2.abi3.so in the base image (benchmarks/syslibs_scan.py, "
        "opencv-python 5.0.0.93, 2026-12): not found libGL.so.1, libglib-2.0.so.0, "
        "libgthread-2.0.so.0, libxcb.so.1; Debian libgl1, libglib2.0-0, libxcb1. Its Qt "
        "plugins also lack libSM/libICE/libX11/libXext, loaded only for a highgui window. "
        "opencv-python-headless: nothing missing (same scan)",
    ),
    "opencv-contrib-python": Need(
        ("libgl1", "libglib2.0-0", "libxcb1"),
        "import",
        "linked: same cv2 extension as opencv-python (libGL.so.1, libgthread-2.0.so.0, "
        "libxcb.so.1); not scanned itself",
    ),
    "lightgbm": Need(
        ("libgomp1",),
        "import",
        "linked: ldd on lightgbm/lib/lib_lightgbm.so in the base image (syslibs_scan, "
        "2026-12): not found libgomp.so.1; libgomp1",
    ),
    # xgboost: no row. Its wheel bundles libgomp (syslibs_scan 2026-12: nothing not found in
    # 139 shared objects); h5py, scikit-learn and soundfile's manylinux wheel likewise.
    "pygame": Need(
        ("libglib2.0-0",),
        "use",
        "linked: ldd on pygame/mixer*.so and pygame.libs/libSDL2_mixer in the base image "
        "(syslibs_scan, 2026-12): not found libglib-2.0.so.0, libgthread-2.0.so.0; "
        "pygame.mixer is optional at import, so only a group naming pygame gets it",
    ),
    "python-magic": Need(
        ("libmagic1",),
        "import",
        "dlopen: magic/loader.py loads find_library('magic') via ctypes; libmagic1",
    ),
    "torchcodec": Need(
        ("ffmpeg",),
        "import",
        "dlopen: torchcodec loads libavutil/libavcodec/libavformat (FFmpeg 4-7) at import; "
        "Debian ffmpeg pulls libavcodec59 etc.",
    ),
    "audioread": Need(
        ("ffmpeg",),
        "use",
        "executable: audioread/ffdec.py runs `ffmpeg` (its back-end for mp3/m4a; "
        "NoBackendError without it)",
    ),
    "pydub": Need(
        ("ffmpeg",),
        "use",
        "executable: pydub/utils.py which('ffmpeg') / 'ffprobe' for every non-wav format",
    ),
    "torchaudio": Need(
        ("ffmpeg",),
        "use",
        "dlopen: torchaudio's ffmpeg back-end (torio) loads libavutil.so.5x on first use",
    ),
    "pyrubberband": Need(
        ("rubberband-cli",),
        "use",
        "executable: pyrubberband/pyrb.py runs `rubberband`; Debian rubberband-cli",
    ),
    "sox": Need(
        ("sox",),
        "use",
        "executable: sox/core.py runs the `sox` binary",
    ),
    "pyopengl": Need(
        ("libgl1",),
        "use",
        "dlopen: OpenGL/platform/glx.py loads libGL.so.1 via ctypes",
    ),
    "midi2audio": Need(
        ("fluidsynth",),
        "use",
        "executable: midi2audio.py (0.1.1) FluidSynth.midi_to_audio / play_midi run "
        "subprocess.call(['fluidsynth', '-ni', ...]): FileNotFoundError: 'fluidsynth' without "
        "it; Debian fluidsynth ships /usr/bin/fluidsynth (dpkg -c fluidsynth_2.3.1-2)",
    ),
    "pyfluidsynth": Need(
        ("libfluidsynth3",),
        "import",
        "dlopen: fluidsynth.py (pyfluidsynth 1.4.0, py3-none-any wheel) find_libfluidsynth() "
        "tries find_library('fluidsynth') and other names at import, else raises ImportError: "
        "Couldn't find the FluidSynth library.; then CDLL(lib). libfluidsynth3 ships "
        "libfluidsynth.so.3 (dpkg -c libfluidsynth3_2.3.1-2)",
    ),
    "python-rtmidi": Need(
        ("libasound2",),
        "import",
        "linked: readelf -d rtmidi/_rtmidi.cpython-311-x86_64-linux-gnu.so (python-rtmidi "
        "1.5.8, manylinux_2_28 wheel): NEEDED libasound.so.2, not bundled (python_rtmidi.libs "
        "holds only libjack); libasound2 ships libasound.so.2",
    ),
    "mido": Need(
        ("libasound2",),
        "use",
        "linked: through python-rtmidi, mido's default port backend (mido 1.3.3 "
        "mido/backends/backend.py DEFAULT_BACKEND = 'mido.backends.rtmidi', loaded when a port "
        "is opened; installed by the extra mido[ports-rtmidi]), whose extension NEEDED "
        "libasound.so.2",
    ),
    # Audio/ML packages students install (evidence gathered 2026-12 in the base image: ldd on
    # the wheel's extensions, the error `import`/first use printed, and the package's source).
    "pysoundfile": Need(
        ("libsndfile1",),
        "import",
        "dlopen: PySoundFile 0.9 (soundfile's old name, py2.py3-none-any wheel) soundfile.py "
        "loads find_library('sndfile') via cffi at import",
    ),
    "pedalboard": Need(
        ("libatomic1",),
        "import",
        "linked: ldd on pedalboard/pedalboard_native*.so (0.9.26) in the base image: not found "
        "libatomic.so.1; `import pedalboard` raised ImportError: libatomic.so.1 and imported "
        "once libatomic1 was installed",
    ),
    "simpleaudio": Need(
        ("libasound2",),
        "import",
        "linked: setup.py links simpleaudio._simpleaudio with libraries=['asound'] on Linux "
        "(sdist only; building also needs libasound2-dev); libasound2 ships libasound.so.2",
    ),
    "pyalsaaudio": Need(
        ("libasound2",),
        "import",
        "linked: setup.py Extension('alsaaudio', ['alsaaudio.c'], libraries=['asound']) "
        "(sdist only; building also needs libasound2-dev)",
    ),
    "pyzbar": Need(
        ("libzbar0",),
        "import",
        "dlopen: pyzbar/zbar_library.py cdll.LoadLibrary(find_library('zbar')), run by "
        "`import pyzbar.pyzbar`: ImportError: Unable to find zbar shared library; libzbar0 "
        "ships libzbar.so.0",
    ),
    "cairocffi": Need(
        ("libcairo2",),
        "import",
        "dlopen: cairocffi/__init__.py dlopen(ffi, ('cairo-2', 'cairo', 'libcairo-2'), "
        "('libcairo.so.2', ...)) at import; libcairo2 ships libcairo.so.2",
    ),
    "phonemizer": Need(
        ("libespeak-ng1",),
        "use",
        "dlopen: phonemizer/backend/espeak/wrapper.py find_library('espeak-ng') then "
        "ctypes LoadLibrary, when the espeak backend (the default) is built: RuntimeError: "
        "espeak not installed on your system; libespeak-ng1 ships libespeak-ng.so.1",
    ),
    "pyttsx3": Need(
        ("libespeak-ng1",),
        "use",
        "dlopen: pyttsx3/drivers/_espeak.py cdll.LoadLibrary('libespeak-ng.so.1') (then "
        "'libespeak.so.1') when pyttsx3.init() loads the Linux driver: RuntimeError: This means "
        "you probably do not have eSpeak or eSpeak-ng installed!",
    ),
    "espeakng": Need(
        ("espeak-ng",),
        "use",
        "executable: espeakng/__init__.py runs the `espeak-ng` program (subprocess.Popen)",
    ),
    "openai-whisper": Need(
        ("ffmpeg",),
        "use",
        "executable: whisper/audio.py load_audio runs ['ffmpeg', '-nostdin', ...] with "
        "subprocess.run (\"Requires the ffmpeg CLI in PATH\"); FileNotFoundError: 'ffmpeg'",
    ),
    "ffmpeg-python": Need(
        ("ffmpeg",),
        "use",
        "executable: ffmpeg/_run.py run(cmd='ffmpeg'), ffmpeg/_probe.py probe(cmd='ffprobe'); "
        "FileNotFoundError: 'ffmpeg' / 'ffprobe' on first use",
    ),
    "madmom": Need(
        ("ffmpeg",),
        "use",
        "executable: madmom/io/audio.py load_ffmpeg_file runs cmd_decode='ffmpeg' and "
        "cmd_probe='ffprobe' for audio that is not wav",
    ),
    # No row, from the same evidence: essentia, praat-parselmouth, vosk (ldd: nothing
    # missing), moviepy/imageio-ffmpeg (imageio-ffmpeg's wheel ships a static ffmpeg that ldd
    # finds complete), nnAudio, resampy, pyloudnorm, noisereduce (pure Python). tensorflow-io's
    # FFmpeg ops link libavformat.so.56/57/58, which bookworm's ffmpeg (.so.59) cannot provide.
    # Also nothing missing (ldd, 2026-12): av 18.1 (PyAV bundles FFmpeg: faster-whisper needs
    # no ffmpeg), ctranslate2, onnxruntime, pocketsphinx, sentencepiece, webrtcvad-wheels.
}

# Import-time dependencies that carry an "import" need to their dependents (from the
# dependents' Requires-Dist; e.g. librosa's pyproject: soundfile>=0.12.1, and
# librosa/core/audio.py imports soundfile at module level).
REQUIRES: dict[str, tuple[str, ...]] = {
    "librosa": ("soundfile",),
    "audiomentations": ("librosa",),  # Requires-Dist: librosa
    "cairosvg": ("cairocffi",),  # cairosvg/surface.py: import cairocffi as cairo
    # speechbrain/dataio/audio_io.py: import soundfile as sf (its audio loading)
    "speechbrain": ("soundfile",),
    # pyannote/audio/core/io.py imports torchcodec at import; reading audio needs it
    "pyannote-audio": ("torchcodec",),
    # ultralytics 8.4.190: Requires-Dist opencv-python; ultralytics/utils/__init__.py: import
    # cv2 (run by `import ultralytics`)
    "ultralytics": ("opencv-python",),
    # mediapipe 1.2.3: Requires-Dist opencv-contrib-python; `import mediapipe` imports
    # mediapipe.tasks.python.vision, whose drawing_utils.py does `import cv2`
    "mediapipe": ("opencv-contrib-python",),
}


# A repository whose distribution has another name than the repository (its setup.py /
# pyproject name): a bare `git+https://github.com/openai/whisper.git` installs openai-whisper.
REPOSITORY_NAMES: dict[str, str] = {
    "github.com/openai/whisper": "openai-whisper",  # setup.py: name="openai-whisper"
}
# `git+https://host/owner/repo.git@ref#egg=name`, `https://host/owner/repo/archive/main.zip`
_VCS_URL = re.compile(
    r"^(?:(?:git|hg|svn|bzr)\+)?[a-z][a-z0-9+.-]*://(?:[^@/\s]+@)?(?P<host>[^/\s]+)/"
    r"(?P<owner>[^/\s]+)/(?P<repo>[^/@#\s]+?)(?:\.git)?(?:[/@#][^\s]*)?$",
    re.IGNORECASE,
)
_EGG = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)")


def _url_name(url: str) -> str | None:
    """The distribution a bare URL requirement installs, as far as its text tells: its
    ``#egg=`` name, a wheel's file name, a repository of :data:`REPOSITORY_NAMES`, else the
    repository's name (``git+https://github.com/librosa/librosa`` -> librosa; host/owner/repo,
    as GitHub, GitLab and Bitbucket name them). None for other URLs."""
    match = _VCS_URL.match(url)
    repository = None
    if match is not None:
        host, owner, repo = (match[k].lower() for k in ("host", "owner", "repo"))
        repository = canonicalize_name(repo)
        known = REPOSITORY_NAMES.get(f"{host}/{owner}/{repo}")
        if known:  # before `#egg=`: `git+…/openai/whisper.git#egg=whisper` is openai-whisper
            return known
    egg = _EGG.search(url)
    if egg:
        return canonicalize_name(egg.group(1))
    wheel = re.search(r"/([A-Za-z0-9_.]+)-[^-/]+(?:-[^-/]+){2,3}\.whl(?:[#?].*)?$", url)
    if wheel:  # PEP 427: the file name starts with the distribution's name
        return canonicalize_name(wheel.group(1))
    return repository


def requirement_names(lines: Iterable[str]) -> list[str]:
    """Canonical distribution names of requirement lines; options and paths skipped, a bare
    URL named by what it installs (:func:`_url_name`; its system libraries count too)."""
    names: list[str] = []
    for line in lines:
        # A comment starts at "#", except inside a URL (`#egg=`): there only after a space.
        before = line.split("#", 1)[0]
        text = (re.split(r"\s#", line, maxsplit=1)[0] if "://" in before else before).strip()
        if not text or text.startswith(("-", ".", "/")):
            continue
        try:
            names.append(canonicalize_name(Requirement(text).name))
        except InvalidRequirement:
            name = _url_name(text) if "://" in text else None
            if name:
                names.append(name)
    return names


def apt_packages_for(requirements: Iterable[str]) -> tuple[str, ...]:
    """Debian packages the distributions in ``requirements`` need at run time (sorted).

    Direct requirements contribute all their needs; distributions reached through
    :data:`REQUIRES` only their ``import`` needs.
    """
    direct = set(requirement_names(requirements))
    packages: set[str] = set()
    seen: set[tuple[str, bool]] = set()
    stack = [(name, True) for name in sorted(direct)]
    while stack:
        name, is_direct = stack.pop()
        if (name, is_direct) in seen:
            continue
        seen.add((name, is_direct))
        need = TABLE.get(name)
        if need is not None and (is_direct or need.when == "import"):
            packages.update(need.debian)
        stack.extend((dep, dep in direct) for dep in REQUIRES.get(name, ()))
    return tuple(sorted(packages))


# ------------------------------------------------------------------ a missing library at run time

# soname -> bookworm package holding it (packages.debian.org file lists; `dpkg -c` of the .deb
# for the rows added 2026-12). An entry matches the soname itself and any longer version of
# it: "libGL.so" matches libGL.so.1; "libavutil.so.57" matches libavutil.so.57 and
# libavutil.so.57.28.100 but not libavutil.so.58, which bookworm does not ship (ffmpeg 5.1).
SONAME_PACKAGES: tuple[tuple[str, str], ...] = (
    ("libsndfile.so", "libsndfile1"),
    ("libportaudio.so", "libportaudio2"),
    ("libGL.so", "libgl1"),
    ("libEGL.so", "libegl1"),
    ("libgthread-2.0.so", "libglib2.0-0"),
    ("libglib-2.0.so", "libglib2.0-0"),
    ("libgomp.so", "libgomp1"),
    ("libmagic.so", "libmagic1"),
    ("libSM.so", "libsm6"),
    ("libXext.so", "libxext6"),
    ("libXrender.so", "libxrender1"),
    ("libxcb.so", "libxcb1"),
    ("libX11.so", "libx11-6"),
    ("libICE.so", "libice6"),
    ("libasound.so", "libasound2"),
    ("libavutil.so.57", "ffmpeg"),
    ("libavcodec.so.59", "ffmpeg"),
    ("libavformat.so.59", "ffmpeg"),
    ("libavdevice.so.59", "ffmpeg"),
    ("libavfilter.so.8", "ffmpeg"),
    ("libswresample.so.4", "ffmpeg"),
    ("libswscale.so.6", "ffmpeg"),
    ("libcairo.so", "libcairo2"),
    ("libespeak-ng.so", "libespeak-ng1"),
    ("libespeak.so", "libespeak1"),
    ("libsox.so", "libsox3"),
    ("libatomic.so", "libatomic1"),
    ("libzbar.so", "libzbar0"),
    # only .so.3: bookworm has no libfluidsynth2 (`apt-cache policy`, 2026-12)
    ("libfluidsynth.so.3", "libfluidsynth3"),
)

# Programs packages run (subprocess, os.system) -> bookworm package holding /usr/bin/<name>
# (`dpkg -c` of each .deb, 2026-12). Only these names, and none that is also a likely folder
# or file name of a group (flac, lame, play, rec): any other missing program or file is the
# group's own (its script, its data file, its data folder). Not the players either (aplay,
# ffplay, sox's play): the sandbox has no sound device, so installing them fixes nothing, and
# pyttsx3's os.system("aplay ...") prints "sh: 1: aplay: not found" without failing.
PROGRAM_PACKAGES: dict[str, str] = {
    "ffmpeg": "ffmpeg",
    "ffprobe": "ffmpeg",
    "sox": "sox",
    "soxi": "sox",
    "rubberband": "rubberband-cli",
    "espeak-ng": "espeak-ng",
    "espeak": "espeak",
    "festival": "festival",
    "text2wave": "festival",
    "fluidsynth": "fluidsynth",  # midi2audio; dpkg -c fluidsynth_2.3.1-2: /usr/bin/fluidsynth
}

# The first function a module looks up in a library that find_library did not find: ctypes
# CDLL(None) / cffi dlopen(None) hand back the interpreter itself, and the lookup fails with
# "python3: undefined symbol: <name>". Symbol prefix -> the library that defines it.
SYMBOL_LIBRARIES: tuple[tuple[str, str], ...] = (
    ("sf_", "libsndfile.so.1"),
    ("snd_", "libasound.so.2"),
    ("Pa_", "libportaudio.so.2"),
    ("cairo_", "libcairo.so.2"),
    ("zbar_", "libzbar.so.0"),
    ("espeak_", "libespeak-ng.so.1"),
    ("magic_", "libmagic.so.1"),
)

# Libraries of the NVIDIA GPU stack and of GPU-only builds of ML libraries, by the start of
# their soname: no Debian package fixes them on the grader, which has no GPU (and a missing
# driver or CUDA runtime is not Debian's to install). A step that fails on one gets the runner's
# "the code requires a GPU" hint instead. Sources: the CUDA toolkit's library list
# (https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/ "CUDA Toolkit Major Component
# Versions": cudart, cublas/cublasLt, cufft, curand, cusolver, cusparse, nvrtc, nvjitlink, nvjpeg,
# npp, cupti, nvToolsExt, cufile), cuDNN (libcudnn*), NCCL (libnccl), TensorRT (libnvinfer*,
# libnvonnxparser, libnvparsers), the driver (libcuda.so.1, libnvidia-*), the wheels of
# torch's CUDA builds (torch/lib/libtorch_cuda*.so, libc10_cuda.so, libcaffe2_nvrtc.so) and
# TensorFlow <= 2.10's dso_loader, which tries libcudart.so.11.0 etc. on every CPU machine.
GPU_LIBRARIES: tuple[str, ...] = (
    "libcuda",  # also libcudart, libcudadevrt
    "libcublas",  # also libcublasLt
    "libcudnn",
    "libcufft",
    "libcufile",
    "libcurand",
    "libcusolver",
    "libcusparse",
    "libcutensor",
    "libcupti",
    "libnccl",
    "libnvrtc",
    "libnvjitlink",
    "libnvjpeg",
    "libnvToolsExt",
    "libnvblas",
    "libnvidia-",
    "libnvinfer",
    "libnvonnxparser",
    "libnvparsers",
    "libnpp",
    "libtorch_cuda",
    "libc10_cuda",
    "libcaffe2_nvrtc",
)
_GPU_LIBRARY = re.compile(
    "(?:" + "|".join(re.escape(stem) for stem in GPU_LIBRARIES) + r")[\w+-]{0,60}\.so",
    re.IGNORECASE,  # libnvJitLink.so.12 is spelled so; the CUDA notes say nvjitlink
)


def is_gpu_library(name: str) -> bool:
    """Whether the soname ``name`` (e.g. ``libcudart.so.11.0``) is one of :data:`GPU_LIBRARIES`."""
    return _GPU_LIBRARY.match(name) is not None


# Lines that are warnings: printed, then the program goes on (it may fail later for its own
# reason). Bounded and anchored at a line's start, matched line by line: linear time.
# Python's warnings.formatwarning: "<file>:<line>: <Category>Warning: <message>", then the
# source line that warned, indented ("  warnings.warn(...)"); also a bare "UserWarning: ...".
_PY_WARNING = re.compile(
    r"[ \t]{0,20}(?:[^\n]{0,1000}?:\d{1,9}:[ \t]{1,20})?(?:[\w.]{0,200}\.)?\w{0,100}Warning:"
)
# glog / absl / TensorFlow C++ logging, severity W or I (not E or F): TensorFlow's
# "2023-05-01 12:00:00.123456: W tensorflow/.../dso_loader.cc:64] ...", glog's
# "W0501 12:00:00.123456  1234 file.cc:64] ...", torch's "[W NNPACK.cpp:64] ..." and
# Python logging's "WARNING:tensorflow:..." (logging.BASIC_FORMAT).
_LOG_WARNING = re.compile(
    r"[ \t]{0,20}(?:"
    r"(?:\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?:?[ \t]{1,5})?"
    r"[WI](?:\d{4}[ \t]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:[ \t]{1,20}\d{1,10})?)?"
    r"[ \t]{1,20}[\w./+-]{1,300}:\d{1,9}\]"
    r"|\[[WI][ \d][^\]\n]{0,300}\]"
    r"|(?:WARNING|INFO):[\w.]{0,100}:"
    r")"
)


def _split_warnings(text: str) -> tuple[list[str], list[str]]:
    """(other lines, warning lines) of ``text``: :data:`_PY_WARNING` and :data:`_LOG_WARNING`
    lines, each Python warning with the one source line ``warnings.formatwarning`` prints
    under it (two spaces, then the code: ``  warn("Couldn't find ffmpeg ...")``)."""
    kept: list[str] = []
    warned: list[str] = []
    source_next = False
    for line in text.split("\n"):
        if source_next and _WARNING_SOURCE.match(line):
            warned.append(line)
            source_next = False
            continue
        source_next = _PY_WARNING.match(line) is not None
        if source_next or _LOG_WARNING.match(line):
            warned.append(line)
        else:
            kept.append(line)
    return kept, warned


def without_warnings(text: str) -> str:
    """``text`` without its warning lines (:func:`_split_warnings`): what is left is what
    failed."""
    return "\n".join(_split_warnings(text)[0])


def _warning_lines(text: str) -> str:
    return "\n".join(_split_warnings(text)[1])


# The source line under a Python warning: two spaces, then code (not an exception group's
# "  + Exception Group Traceback" or "    | OSError: ..." lines, which are a failure).
_WARNING_SOURCE = re.compile(r"  [^\s+|]")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Every repetition is bounded and the soname must start a word: a step's 64 KiB of output
# (a long base64 line, a progress bar) must not make these quadratic (minutes, before).
# With the path it was named by, if any (``./build/libfoo.so``: the project's own file).
_SONAME = re.compile(
    r"(?<![\w.+/-])((?:[\w.+-]{0,100}/){0,30}lib[\w.+-]{1,100}?\.so(?:\.[\w.]{1,40})?)'?:"
    r"\s{1,20}cannot\s{1,20}open\s{1,20}shared\s{1,20}object\s{1,20}file"
)
# Where Debian's packages put shared libraries: a library named by a path elsewhere (the
# project's folder, a relative path, a package's own folder) is not a system library.
SYSTEM_LIBRARY_DIRS = ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/usr/local/lib/")
_CANNOT_LOAD = re.compile(r"cannot\s{1,20}load\s{1,20}library\s{1,20}'([^'\n]{1,300})'")
# cffi/cairocffi: the name given to find_library, e.g. "cairo-2"
_NO_LIBRARY_CALLED = re.compile(
    r"""no\s{1,20}library\s{1,20}called\s{1,20}["']([\w.+-]{1,100})["']\s{1,20}was\s{1,20}found"""
)
_PROGRAM_FILE = re.compile(
    r"No\s{1,20}such\s{1,20}file\s{1,20}or\s{1,20}directory:\s{1,20}"
    r"'(?:(?:/usr(?:/local)?)?/s?bin/)?([\w.+-]{1,64})'"
)
# A shell's own words, led by its name or the script's ($0): "sh: 1: ffmpeg: not found",
# "bash: line 1: sox: command not found", and the grader's step script's
# "repograder-step: line 15: sox: command not found" (seen in the Docker sandbox).
_PROGRAM_SHELL = re.compile(
    r"^[ \t]{0,20}[^\s:]{1,200}:[ \t]{0,20}(?:line[ \t]{1,20})?(?:\d{1,9}:[ \t]{0,20})?"
    r"([\w.+-]{1,64}):[ \t]{0,20}(?:command[ \t]{1,20})?not[ \t]{1,20}found",
    re.MULTILINE,
)
# subprocess with shell=True and captured output: only the shell's 127 says "not found"
_PROGRAM_STATUS_127 = re.compile(
    r"Command\s{1,20}'(?:(?:/usr(?:/local)?)?/s?bin/)?([\w.+-]{1,64})[^']{0,4000}'"
    r"\s{1,20}returned\s{1,20}non-zero\s{1,20}exit\s{1,20}status\s{1,20}127\b"
)
_UNDEFINED_IN_PYTHON = re.compile(
    r"python[\d.]{0,10}:\s{1,20}undefined\s{1,20}symbol:\s{1,20}(\w{1,200})"
)
# Libraries a module looks up by name and reports in its own words.
_NAMED = (
    (re.compile(r"sndfile library not found"), "libsndfile.so", "libsndfile1"),
    (re.compile(r"PortAudio library not found"), "libportaudio.so", "libportaudio2"),
    (re.compile(r"failed to find libmagic"), "libmagic.so", "libmagic1"),
    # pyzbar/zbar_library.py
    (re.compile(r"Unable to find zbar shared library"), "libzbar.so.0", "libzbar0"),
    # pyttsx3/drivers/_espeak.py
    (
        re.compile(r"do not have eSpeak or eSpeak-ng installed"),
        "libespeak-ng.so.1",
        "libespeak-ng1",
    ),
    # phonemizer/backend/base.py and backend/espeak/wrapper.py
    (
        re.compile(r"\bespeak not installed on your system|failed to find espeak library"),
        "libespeak-ng.so.1",
        "libespeak-ng1",
    ),
    # pyfluidsynth's fluidsynth.py find_libfluidsynth()
    (
        re.compile(r"Couldn't find the FluidSynth library"),
        "libfluidsynth.so.3",
        "libfluidsynth3",
    ),
    # programs (kind "program", see _candidates): audioread's ffdec back-end, pydub/utils.py
    (re.compile(r"audioread\.exceptions\.NoBackendError|NoBackendError"), "ffmpeg", "ffmpeg"),
    (re.compile(r"Couldn't find ffmpeg or avconv|Couldn't find ffprobe"), "ffmpeg", "ffmpeg"),
)
# Programs a module reports missing in its own words: phonemizer/backend/base.py
_NAMED_PROGRAMS = ((re.compile(r"\bfestival not installed on your system"), "festival"),)
# torchcodec/_internally_replaced_utils.py lists one traceback per FFmpeg major it tried; when
# the kept output lost the one naming bookworm's libavutil.so.57, its headline still says
# FFmpeg is missing, unless a library did load and lacked a symbol (a torch mismatch).
_TORCHCODEC = ("Could not load libtorchcodec.", "FFmpeg is not properly installed")


# The grader's own check, run in the session as a helper (Session.run_helper: clean environment,
# no student process alive): whether the library (a soname) or program (e.g. ffmpeg) named as
# the last argument loads or runs there. Prints "present" or "missing".
LIBRARY_PROBE = r"""
import ctypes, ctypes.util, shutil, sys
name = sys.argv[-1]
found = False
if ".so" in name:
    try:
        ctypes.CDLL(name)
        found = True
    except OSError:
        stem = name.split(".so")[0]
        found = ctypes.util.find_library(stem[3:] if stem.startswith("lib") else stem) is not None
else:
    found = shutil.which(name) is not None
sys.stdout.write("present\n" if found else "missing\n")
"""


@dataclass(frozen=True)
class MissingLibrary:
    """A system library (or a program, ``kind="program"``) a step or notebook could not load;
    ``debian`` None when unknown (then it may also be the group's own library: see
    :attr:`attributed`)."""

    library: str
    debian: str | None
    kind: Literal["library", "program"] = "library"
    # Named only by a warning the step printed before it failed (``logging.warning("OpenGL
    # unavailable: %s", e)`` after ``ctypes.CDLL`` raised): maybe the cause, maybe not.
    warned: bool = False

    @property
    def attributed(self) -> bool:
        """Whether it is known to be a system one: its Debian package is known. A library no
        table knows may be the group's own (``ctypes.CDLL("libmyfilter.so")`` of a library
        the group did not build or commit), so the grader cannot tell whose gap it is."""
        return self.debian is not None

    @property
    def fix(self) -> str:
        """What the lecturer does about it (one sentence)."""
        if self.debian:
            return (
                f"install the Debian package {self.debian} in the grading environment: add "
                f"`apt: [{self.debian}]` under `environment:` in the rubric and grade again"
            )
        return (
            f"find the Debian package that ships {self.library} (`apt-file search "
            f"{self.library}`) and add it as `apt: [<package>]` under `environment:` in the "
            f"rubric; if no package ships it, it is the group's own library and the group must "
            f"build it in a README step or commit it"
        )

    def details(self, **where: str | int) -> JSONDict:
        """The verdict details ``missing_system_library``: library, package, ``where`` it
        happened (``step=3`` or ``notebook="a.ipynb"``) and the lecturer's fix."""
        return {
            "library": self.library,
            "kind": self.kind,
            "debian_package": self.debian,
            **where,
            "fix": self.fix,
        }

    def describe(self) -> str:
        """One line naming the gap, for a verdict's summary. A library of unknown origin is
        not called the grader's gap: both readings are given."""
        what = "the program" if self.kind == "program" else "the system library"
        if self.warned:
            return (
                f"the step failed after warning that {what} {self.library} could not be "
                f"loaded, which the grading environment lacks; the grader could not tell "
                f"whether that caused the failure (then it is a grader environment gap: "
                f"{self.fix}) or the group's own error did"
            )
        if not self.attributed:
            return (
                f"the grading environment lacks the library {self.library}, and the grader "
                f"could not tell whether it is a system library or the group's own: if it is "
                f"a Debian library, find its package (`apt-file search {self.library}`) and "
                f"add it as `apt: [<package>]` under `environment:` in the rubric; if it is "
                f"the group's own library, the group must build it in a README step or "
                f"commit it"
            )
        return (
            f"the grading environment lacks {what} {self.library} "
            f"(a grader environment gap, not the group's fault): {self.fix}"
        )


def debian_package_of(library: str) -> str | None:
    """The bookworm package shipping ``library`` (a soname such as ``libGL.so.1``), if known."""
    for soname, package in SONAME_PACKAGES:
        if library == soname or library.startswith(soname + "."):
            return package
    return None


def _linux_library(name: str) -> bool:
    return name.startswith("lib") and not name.endswith((".dylib", ".dll"))


def _candidates(text: str) -> list[MissingLibrary]:
    """Every missing library or program ``text`` names, in the order the patterns rank them;
    GPU libraries left out (:data:`GPU_LIBRARIES`), programs of :data:`PROGRAM_PACKAGES` of
    kind ``program`` whichever pattern found them."""
    found = [
        replace(candidate, kind="program") if candidate.library in PROGRAM_PACKAGES else candidate
        for candidate in _named_in(text)
    ]
    return [candidate for candidate in found if not is_gpu_library(candidate.library)]


def _loader_failures(text: str) -> list[MissingLibrary]:
    """The libraries a dynamic loader says it could not open or load (``libGL.so.1: cannot
    open shared object file``, cffi's ``cannot load library 'libsndfile.so'``)."""
    found: list[MissingLibrary] = []
    for pattern in (_CANNOT_LOAD, _SONAME):
        for match in pattern.finditer(text):
            named = match.group(1)
            if "/" in named and not named.startswith(SYSTEM_LIBRARY_DIRS):
                continue  # e.g. ./build/libfoo.so, a file the project did not build
            name = named.rsplit("/", 1)[-1]
            line_end = text.find("\n", match.end())
            rest = text[match.end() : line_end if line_end >= 0 else None]
            if pattern is _CANNOT_LOAD and "undefined symbol" in rest:
                continue  # it is there and did not link: not missing
            if _linux_library(name):
                found.append(MissingLibrary(name, debian_package_of(name)))
    return found


def _named_in(text: str) -> list[MissingLibrary]:
    """What each pattern finds in ``text``, before :func:`_candidates` sorts it out."""
    found = _loader_failures(text)
    for match in _NO_LIBRARY_CALLED.finditer(text):
        # find_library("cairo-2") looks for libcairo-2.so; Debian names it libcairo.so.2
        base = re.sub(r"-\d+$", "", match.group(1).removeprefix("lib"))
        name = f"lib{base}.so"
        found.append(MissingLibrary(name, debian_package_of(name)))
    for match in _UNDEFINED_IN_PYTHON.finditer(text):
        for prefix, library in SYMBOL_LIBRARIES:
            if match.group(1).startswith(prefix):
                found.append(MissingLibrary(library, debian_package_of(library)))
    for pattern in (_PROGRAM_FILE, _PROGRAM_SHELL, _PROGRAM_STATUS_127):
        for match in pattern.finditer(text):
            program = match.group(1)
            if program in PROGRAM_PACKAGES:
                found.append(MissingLibrary(program, PROGRAM_PACKAGES[program], "program"))
    for pattern, library, package in _NAMED:
        if pattern.search(text):
            found.append(MissingLibrary(library, package))
    for pattern, program in _NAMED_PROGRAMS:
        if pattern.search(text):
            found.append(MissingLibrary(program, PROGRAM_PACKAGES[program], "program"))
    if all(part in text for part in _TORCHCODEC) and "undefined symbol" not in text:
        found.append(MissingLibrary("libavutil.so.57", "ffmpeg"))
    return found


def missing_library(output: str) -> MissingLibrary | None:
    """The system library or program that ``output`` (a traceback, a step's or a notebook's
    output, ANSI colours and line wrapping allowed) says could not be loaded or run.

    The first one whose Debian package is known wins (a loader that tries several names, e.g.
    ``libavutil.so.59`` then ``.58`` then ``.57``, reports them all); else the first one named.
    A missing file or program that is not a known system one is the group's own: None. So is
    a GPU library (:data:`GPU_LIBRARIES`), and whatever a warning line names
    (:func:`without_warnings`): only what failed counts.
    """
    text = _ANSI.sub("", output)
    failed = without_warnings(text)
    found = _candidates(failed)
    if not found and not _explained(failed):
        # A warning quoting a loader's failure (a library's soname that could not be opened or
        # loaded; not a notice such as pydub's "Couldn't find ffmpeg or avconv") when nothing
        # else is named: the step may have gone on without it and failed for want of it.
        found = [
            replace(candidate, warned=True)
            for candidate in _loader_failures(_warning_lines(text))
            if not is_gpu_library(candidate.library)
        ]
    for candidate in found:
        if candidate.debian is not None:
            return candidate
    return found[0] if found else None


# What PyTorch, TensorFlow and the driver say when code needs a GPU the machine lacks.
CUDA_MARKERS = (
    "CUDA driver",
    "Torch not compiled with CUDA enabled",
    "no CUDA GPUs are available",
    "Found no NVIDIA driver",
    "CUDA error",
    "CUDA unavailable",
    "nvidia-smi: command not found",
)


def needs_gpu(output: str) -> bool:
    """Whether ``output`` fails for want of a GPU: a :data:`CUDA_MARKERS` text, a ``.cuda()``
    call in a traceback, or a GPU library that could not be loaded (:func:`gpu_library`;
    warnings left out). The one definition for the verdict and the step's hint."""
    return (
        any(marker in output for marker in CUDA_MARKERS)
        or re.search(r"\.cuda\(\)", output) is not None
        or gpu_library(output) is not None
    )


def _explained(failed: str) -> bool:
    """Whether what failed (warnings removed) already names a cause a warning's library must
    not outrank: a loader failure (the group's own file, a GPU library) or a GPU failure
    (:func:`needs_gpu`; not any mention of CUDA, e.g. ``CUDA available: False``)."""
    return (
        _SONAME.search(failed) is not None
        or _CANNOT_LOAD.search(failed) is not None
        or needs_gpu(failed)
    )


def gpu_library(output: str) -> str | None:
    """The first GPU library (:data:`GPU_LIBRARIES`) ``output`` says could not be loaded, not
    counting warning lines (TensorFlow's dso_loader warns about libcudart on every CPU
    machine and goes on); None when there is none."""
    text = without_warnings(_ANSI.sub("", output))
    for pattern in (_CANNOT_LOAD, _SONAME):
        for match in pattern.finditer(text):
            name = match.group(1).rsplit("/", 1)[-1]
            if is_gpu_library(name):
                return name
    return None


# ------------------------------------------------------------------ the group's own library

# Build files whose text may declare the library (read by the caller, which has the files).
BUILD_FILES = ("CMakeLists.txt", "Makefile", "makefile", "GNUmakefile", "setup.py", "meson.build")
# Source files a library is built from (C, C++, CUDA, Cython, Fortran, Rust, Go, assembly).
_SOURCE_SUFFIXES = (
    ".c",
    ".cc",
    ".cpp",
    ".cxx",
    ".c++",
    ".cu",
    ".pyx",
    ".f",
    ".f90",
    ".rs",
    ".go",
    ".s",
    ".asm",
)


@dataclass(frozen=True)
class OwnLibrary:
    """A library the checkout evidently holds or builds (``evidence``: that file's path), so a
    failure to load it is the group's."""

    library: str
    evidence: str

    @property
    def hint(self) -> str:
        """The group's advice (one sentence)."""
        if _library_stem(self.library) and ".so" in posixpath.basename(self.evidence):
            return (
                f"the library {self.library} is the group's own: the repository has "
                f"{self.evidence}, but the loader does not look there; load it by its path "
                f"(relative to the module's __file__) or set LD_LIBRARY_PATH in the step"
            )
        return (
            f"the library {self.library} is the group's own (the repository has "
            f"{self.evidence}) but was not built: build it in a README step before this one "
            f"(e.g. make, cmake, pip install .) or commit the built library"
        )


def _library_stem(library: str) -> str:
    """``libmyfilter`` of ``libmyfilter.so.1``; "" for a name that is not a Linux library."""
    stem = library.split(".so", 1)[0]
    return stem if stem.startswith("lib") and len(stem) > 3 and ".so" in library else ""


# What looks a library up or links against it: used there, not built (a system library's
# `find_library('xkbcommon')`, `pkg_check_modules(XKB libxkbcommon)`, meson's
# `dependency('threads')`, a link flag `-lm`). Removed from a build line before it is read;
# the rest of the line still counts (`gcc -shared dsp.c -o libfastdsp.so -lm`).
_LOOKUP = re.compile(
    r"(?:find_library|find_package|pkg_check_modules|pkg_search_module|dependency)"
    r"\s{0,20}\([^()\n]{0,500}\)|(?<![^\s'\"\[,])-l[\w+.-]{1,100}"
)


def _declares(stem: str, text: str) -> bool:
    """Whether a build file's ``text`` builds the library, as its output: ``-o .../libX.so``,
    a make rule ``libX.so: ...``, or ``X`` as the target of CMake's add_library, meson's
    (shared_)library or setuptools' Extension (comments and lookups removed, :data:`_LOOKUP`).
    Linking against it (``-l:libX.so``, a path in ``LDLIBS`` or ``target_link_libraries``,
    ``find_library(...) or 'libX.so'``) is using it, not building it."""
    bare = re.escape(stem[3:])
    name = rf"(?:[^\s:=]{{0,300}}/)?{re.escape(stem)}\.(?:so|a)(?:\.[\d.]{{1,40}})?"
    produced = re.compile(rf"-o\s{{1,20}}{name}(?![\w.])|^\s{{0,20}}{name}\s{{0,20}}:(?!=)")
    declared = re.compile(
        rf"""(?<![\w.])(?:add_library|shared_library|both_libraries|library|Extension)"""
        rf"""\s{{0,20}}\(\s{{0,20}}["']?(?:[\w.]{{0,100}}\.)?{bare}["'\s,)]"""
    )
    for raw in text.splitlines()[:20_000]:
        line = _LOOKUP.sub(" ", raw.split("#", 1)[0])
        if produced.search(line) or declared.search(line):
            return True
    return False


def own_library_evidence(
    library: str,
    repo_files: Iterable[str],
    build_texts: Mapping[str, str] | None = None,
) -> OwnLibrary | None:
    """The checkout's evidence that ``library`` (a soname no table knows) is the group's own,
    or None. ``repo_files`` are the checkout's repo-relative paths; ``build_texts`` the text
    of some of its :data:`BUILD_FILES` (path -> text). Evidence, first found wins:

    - the library itself or its object or source file anywhere in the tree
      (``libmyfilter.so.1``, ``libmyfilter.a``, ``libmyfilter.c``; not ``libmyfilter_notes.txt``);
    - a source file named after the stem without ``lib`` (``myfilter.c``, ``myfilter.cpp``,
      ``myfilter.pyx``, ``myfilter.cu``; :data:`_SOURCE_SUFFIXES`);
    - a build file whose text declares it (:func:`_declares`).

    A library whose Debian package is known is a system one whatever the tree holds: None.
    """
    stem = _library_stem(library)
    if not stem or debian_package_of(library) is not None or is_gpu_library(library):
        return None
    bare = stem[3:]
    files = sorted(repo_files, key=lambda path: (path.count("/"), path))
    built = re.compile(rf"{re.escape(stem)}(?:\.so(?:\.\d{{1,9}}){{0,4}}|\.a|\.o|\.la)")
    for path in files:
        name, suffix = posixpath.splitext(posixpath.basename(path))
        if built.fullmatch(posixpath.basename(path)) or (
            name == stem and suffix.lower() in _SOURCE_SUFFIXES
        ):
            return OwnLibrary(library, path)
    for path in files:
        name, suffix = posixpath.splitext(posixpath.basename(path))
        if name == bare and suffix.lower() in _SOURCE_SUFFIXES:
            return OwnLibrary(library, path)
    for path, text in sorted((build_texts or {}).items()):
        if _declares(stem, text):
            return OwnLibrary(library, path)
    return None
