"""System libraries: which Debian packages a Python distribution needs at run time, and which
library a failed step or notebook was missing.

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
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from repograder import textio
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
}

# Import-time dependencies that carry an "import" need to their dependents (from the
# dependents' Requires-Dist; e.g. librosa's pyproject: soundfile>=0.12.1, and
# librosa/core/audio.py imports soundfile at module level).
REQUIRES: dict[str, tuple[str, ...]] = {
    "librosa": ("soundfile",),
    "audiomentations": ("librosa",),  # Requires-Dist: librosa
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

# soname prefix -> bookworm package holding it (packages.debian.org file lists).
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
    ("libavutil.so", "ffmpeg"),
    ("libavcodec.so", "ffmpeg"),
    ("libavformat.so", "ffmpeg"),
    ("libswresample.so", "ffmpeg"),
    ("libcairo.so", "libcairo2"),
    ("libespeak", "libespeak1"),
    ("libsox.so", "libsox3"),
)

# "<soname>: cannot open shared object file": found by the literal, then the name before it
# (shared_object_names). A regex such as lib[\w.+-]+?\.so...: cannot open backtracks over
# every "lib" of a line: 8 KB of "lib.so" cost 55 s, 64 KB hours.
_SO_ERROR = "cannot open shared object file"
_SONAME_CHARS = frozenset("._+-")
_CANNOT_LOAD = re.compile(r"cannot load library '([^']+)'")
# Libraries a module looks up by name and reports in its own words.
_NAMED = (
    (re.compile(r"sndfile library not found"), "libsndfile.so", "libsndfile1"),
    (re.compile(r"PortAudio library not found"), "libportaudio.so", "libportaudio2"),
    (re.compile(r"failed to find libmagic"), "libmagic.so", "libmagic1"),
    (re.compile(r"audioread\.exceptions\.NoBackendError|NoBackendError"), "ffmpeg", "ffmpeg"),
    (re.compile(r"Couldn't find ffmpeg or avconv|Couldn't find ffprobe"), "ffmpeg", "ffmpeg"),
)


# The grader's own check, run in the session as a helper (Session.run_helper: clean environment,
# no student process alive): whether the library (or program, e.g. ffmpeg) named as argument 1
# loads there. Prints "present" or "missing".
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
    """A system library a step or notebook could not load; ``debian`` None when unknown."""

    library: str
    debian: str | None

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
        return {"library": self.library, "debian_package": self.debian, **where, "fix": self.fix}

    def describe(self) -> str:
        """One line naming the gap, for a verdict's summary."""
        return (
            f"the grading environment lacks the system library {self.library} "
            f"(a grader environment gap, not the group's fault): {self.fix}"
        )


def debian_package_of(library: str) -> str | None:
    """The bookworm package shipping ``library`` (a soname such as ``libGL.so.1``), if known."""
    for prefix, package in SONAME_PACKAGES:
        if library.startswith(prefix):
            return package
    return None


def shared_object_names(output: str) -> list[str]:
    """The libraries ``output`` says "cannot open shared object file", in order (linear time:
    each occurrence of the message, then the name just before it)."""
    names: list[str] = []
    pos = output.find(_SO_ERROR)
    while pos >= 0:
        before = output[max(0, pos - 160) : pos].rstrip()
        if before.endswith(":"):
            before = before[:-1].rstrip("'")
            start = len(before)
            while start > 0 and (before[start - 1].isalnum() or before[start - 1] in _SONAME_CHARS):
                start -= 1
            token = before[start:]
            lib = token.find("lib")
            if lib >= 0 and ".so" in token[lib + 3 :]:
                names.append(token[lib:])
        pos = output.find(_SO_ERROR, pos + len(_SO_ERROR))
    return names


def missing_library(output: str) -> MissingLibrary | None:
    """The system library that ``output`` (a traceback or step output) says could not load."""
    text = textio.matchable(output)
    match = _CANNOT_LOAD.search(text)
    if match:
        name = match.group(1).rsplit("/", 1)[-1]
        if name.startswith("lib"):
            return MissingLibrary(name, debian_package_of(name))
    for name in shared_object_names(text)[:1]:
        return MissingLibrary(name, debian_package_of(name))
    for pattern, library, package in _NAMED:
        if pattern.search(text):
            return MissingLibrary(library, package)
    return None
