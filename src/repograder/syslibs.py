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
when it is a system one: a group's own missing file, folder or script stays the group's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
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
}


def requirement_names(lines: Iterable[str]) -> list[str]:
    """Canonical distribution names of requirement lines; options, paths and URLs skipped."""
    names: list[str] = []
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith(("-", ".", "/")):
            continue
        try:
            names.append(canonicalize_name(Requirement(text).name))
        except InvalidRequirement:
            continue
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
_SYSTEM_LIBRARY_DIRS = ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/usr/local/lib/")
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
    ``debian`` None when unknown."""

    library: str
    debian: str | None
    kind: Literal["library", "program"] = "library"

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
            f"{self.library}`) and add it as `apt: [<package>]` under `environment:` in the rubric"
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
        """One line naming the gap, for a verdict's summary."""
        what = "the program" if self.kind == "program" else "the system library"
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
    """Every missing library or program ``text`` names, in the order the patterns rank them."""
    found: list[MissingLibrary] = []
    for pattern in (_CANNOT_LOAD, _SONAME):
        for match in pattern.finditer(text):
            named = match.group(1)
            if "/" in named and not named.startswith(_SYSTEM_LIBRARY_DIRS):
                continue  # e.g. ./build/libfoo.so, a file the project did not build
            name = named.rsplit("/", 1)[-1]
            line_end = text.find("\n", match.end())
            rest = text[match.end() : line_end if line_end >= 0 else None]
            if pattern is _CANNOT_LOAD and "undefined symbol" in rest:
                continue  # it is there and did not link: not missing
            if _linux_library(name):
                found.append(MissingLibrary(name, debian_package_of(name)))
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
    A missing file or program that is not a known system one is the group's own: None.
    """
    found = _candidates(_ANSI.sub("", output))
    for candidate in found:
        if candidate.debian is not None:
            return candidate
    return found[0] if found else None
