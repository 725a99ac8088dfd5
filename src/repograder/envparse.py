"""Pure translation helpers for environment files (no I/O): requirement lines and conda.

Used by :mod:`repograder.detect`; kept apart so the rules can be tested and fuzzed directly.
Every function here accepts arbitrary (student) input and never raises. Kept whole: requirement
lines and conda entries call each other (a ``conda export`` line in a requirements file, a
``pip:`` entry in a conda file). Poetry constraints and the Python version are
:mod:`repograder.envpython` (re-exported here).
"""

from __future__ import annotations

import re
import reprlib
import urllib.parse
from dataclasses import dataclass

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName

from repograder import condanames, platpkgs
from repograder.envpython import choose_python as choose_python
from repograder.envpython import poetry_constraint_to_pip as poetry_constraint_to_pip
from repograder.termtext import terminal_safe

# A PEP 508 project name at the start of a line (extras/specifiers/markers may follow).
# C0 controls but tab, DEL, C1 controls and Unicode line/paragraph separators (str.splitlines
# breaks lines at those too).
_CONTROL_RE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_NAME_RE = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_VERSION_RE = re.compile(r"^\d+(?:\.\d+)*(?:\.\*)?(?:(?:a|b|rc|\.post|\.dev|post|dev)\d*)*$")
# Local version tags that only exist on CUDA/ROCm wheel indexes.
_GPU_LOCAL_RE = re.compile(r"\+(?:cu\d+|cuda\d*[\w.]*|rocm[\w.]*)\b", re.IGNORECASE)
_CPU_LOCAL_RE = re.compile(r"(?<=\d)\+cpu(?:\.[\w]+)*\b", re.IGNORECASE)
_CUDA_INDEX_RE = re.compile(r"/(?:cu\d+|cuda[\w.]*|rocm[\w.]*)(?:/|$)|nvidia|cuda", re.IGNORECASE)
# `conda list --explicit` lines: https://conda.anaconda.org/conda-forge/linux-64/numpy-1.26.4-py311h_0.conda
_CONDA_URL_RE = re.compile(
    r"^https?://\S+/(?P<name>[A-Za-z0-9_.-]+?)-(?P<version>[^-/]+)-(?P<build>[^-/]+)"
    r"\.(?:conda|tar\.bz2)(?:#[0-9a-fA-F]+)?$"
)
# `conda list --export` lines: name=version=build
_CONDA_EXPORT_RE = re.compile(r"^[A-Za-z0-9_.-]+=[^=<>!~\s]+=[^=\s]+$")
# `pip list > requirements.txt` rows: name and version in columns (a third for an editable
# install's folder), under a `Package Version` header and a rule of dashes
_PIP_LIST_RE = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)\s+(?P<version>\d[\w.!+-]*)(?:\s+(?P<location>\S.*))?$"
)
_TABLE_RULE_RE = re.compile(r"^-+(?:\s+-+)+$|^-{3,}$")
# `conda list > requirements.txt` rows: name, version, build and channel in columns
_CONDA_LIST_RE = re.compile(
    r"^(?P<name>[A-Za-z0-9_][A-Za-z0-9_.-]*)\s+(?P<version>\d[^\s=<>!~]*)"
    r"\s+(?P<build>[A-Za-z0-9_.+]+)(?:\s+(?P<channel>[A-Za-z0-9_./:-]+))?$"
)


@dataclass(frozen=True)
class LineResult:
    """What one requirement line became: kept (possibly rewritten), dropped, or flagged."""

    line: str | None  # the pip line to keep, None when dropped
    dropped: str | None = None  # "original: reason" when the line was dropped
    warning: str | None = None
    install_project: bool = False  # `-e .`
    python: str | None = None  # the Python version a `python` line names (conda lists, `python==`)


# pip's options that name where packages come from, in every spelling pip accepts: `--find-links
# X`, `--find-links=X`, `-f X`, `-f=X`, `-fX` (optparse's attached short value).
_SOURCE_OPTION_RE = re.compile(
    r"^(?:(?P<long>--extra-index-url|--index-url|--find-links)(?:[\s=]+(?P<long_value>.*))?"
    r"|(?P<short>-[if])[\s=]*(?P<short_value>.*))$",
    re.IGNORECASE,
)


# A distribution file named by itself (`course_utils-0.1-py3-none-any.whl`, `foo-1.0.tar.gz`,
# `wheels/foo.whl`; not a URL): pip reads it as a path relative to its working directory. No
# project name ends with these suffixes.
_DIST_FILE_RE = re.compile(
    r"^(?![A-Za-z][A-Za-z0-9+.-]*:)[^\s;@]+\.(?:whl|tar\.gz|tgz|tar\.bz2|tar\.xz|zip|egg)$",
    re.IGNORECASE,
)


def _is_local_path(text: str) -> bool:
    return (
        text.startswith(("/", "~", "./", "../", ".\\", "file:"))
        or bool(re.match(r"^[A-Za-z]:[\\/]", text))
        or bool(_DIST_FILE_RE.match(text.split(";", 1)[0].strip()))
    )


def sanitize_requirement(line: str, *, from_conda: bool = False) -> LineResult:
    """Make one (comment-free, non-include) requirements line work in a CPU Linux sandbox.

    Platform-only and conda-only packages (:mod:`repograder.platpkgs`, the table every
    environment-file path shares) and entries whose ``sys_platform``-style marker excludes
    Linux are dropped with the reason; ``from_conda``: the line came from a conda file.
    """
    text = line.strip()
    if not text:
        return LineResult(None)
    if _CONTROL_RE.search(text):
        # A line break inside one entry (a lock file's version, a pyproject string) would become
        # a second requirements line (`-r /etc/passwd`) that the include checks never saw.
        shown = terminal_safe(text.replace("\n", "\\n"))
        return LineResult(None, dropped=f"{shown}: contains a control character")
    low = text.lower()
    source = _SOURCE_OPTION_RE.match(text)
    if source:
        option = (source["long"] or source["short"]).lower()
        value = (source["long_value"] or source["short_value"] or "").strip()
        if _CUDA_INDEX_RE.search(value):
            return LineResult(None, dropped=f"{text}: CUDA package index, not used on a CPU grader")
        if not re.match(r"^https?://", value, re.IGNORECASE):
            # A path or file: URL names the grader's own files, not the students'.
            kind = "find-links folder" if option in {"--find-links", "-f"} else "package index"
            return LineResult(None, dropped=f"{text}: local {kind} is not available")
        return LineResult(text)
    if _TABLE_RULE_RE.match(text):
        return LineResult(None, dropped=f"{text}: the rule under a table's header")
    if low.startswith("--require-hashes"):
        return LineResult(None, dropped=f"{text}: {_HASH_WHY}")
    if low.startswith("--hash"):  # a continuation line whose requirement line lost its `\`
        return LineResult(None, dropped=f"{text[:30]}…: a --hash option without its requirement")
    if text.startswith("-"):
        match = re.match(r"^(-e|--editable)[\s=]+(.+)$", text)
        if match:
            target = match.group(2).strip()
            if target in {".", "./", ".[dev]"} or re.match(r"^\.(?:\[[^\]]*\])?/?$", target):
                return LineResult(None, install_project=True)
            if _is_local_path(target) or not re.match(r"^[a-z+]+://|^git\+", target):
                return LineResult(None, dropped=f"{text}: local editable path is not installed")
            # uv (the grader's installer) installs only local folders as editable
            return LineResult(
                target,
                warning=f"{text}: replaced by {target!r} (installed as a regular package; "
                "editable installs need a local folder)",
            )
        return LineResult(text)  # other pip options (--pre, --only-binary, ...) pass through
    if _HASH_OPTION_RE.search(text):
        return _without_hashes(text, from_conda=from_conda)
    if _is_local_path(text):
        return LineResult(None, dropped=f"{text}: local file path is not available in the sandbox")
    if text == "@EXPLICIT":
        return LineResult(None, dropped=f"{text}: marker line of `conda list --explicit`")
    explicit = _CONDA_URL_RE.match(text)
    if explicit:
        # `conda list --explicit` spec file: a package archive URL from a conda channel
        entry = f"{explicit['name']}={explicit['version']}={explicit['build']}"
        req = conda_entry_to_pip(entry)
        if req.requirement is None:
            why = req.reason or ("Python itself is not a pip package" if req.python else "")
            return LineResult(
                None, dropped=f"{text}: {why or 'not a PyPI package'}", python=req.python
            )
        return LineResult(
            req.requirement,
            warning=f"{text}: conda package URL translated to {req.requirement!r}",
        )
    if re.match(r"^(?:git\+|hg\+|svn\+|bzr\+)[a-z]+://|^https?://", text, re.IGNORECASE):
        # A URL or VCS requirement as pip reads it (`git+https://…/whisper.git`); the name
        # pattern below would take `git` or `https` for a package name.
        return _wheel_for_another_os(text, text) or LineResult(text)
    name_match = _NAME_RE.match(text)
    if not name_match:
        return LineResult(None, dropped=f"{text}: not a requirement")
    name = name_match.group(1)
    rest = text[len(name) :]
    direct = re.match(r"^\s*(?:\[[^\]]*\])?\s*@\s*(https?://\S+)", rest)
    if direct:
        wheel = _wheel_for_another_os(text, direct.group(1))
        if wheel is not None:
            return wheel
    if name.lower() == "python":
        # The student's Python version, in a conda list (`python=3.11.5=h955ad1f_0`,
        # `python  3.11.5  h955ad1f_0`) or as a pip-style line (`python==3.10`, `python>=3.9`).
        row = _CONDA_LIST_RE.match(text)
        entry = f"python={row['version']}={row['build']}" if row else text
        if row or _CONDA_EXPORT_RE.match(text):
            version = conda_entry_to_pip(entry).python
        else:
            spec = rest.split(";")[0].strip().replace(" ", "")
            version = (
                spec
                if re.match(r"^(?:[<>=!~]=?|===?)\d+(?:\.\d+)*(?:\.\*)?(?:,|$)", spec)
                else None
            )
        return LineResult(
            None, dropped=f"{text}: Python itself is not a pip package", python=version
        )
    # pip freeze of conda-built packages: `numpy @ file:///home/conda/feedstock_root/...`
    if re.match(r"^\s*(?:\[[^\]]*\])?\s*@\s*file:", rest):
        known = platpkgs.lookup(name, from_conda=True)
        if known is not None:
            return LineResult(None, dropped=f"{text}: local conda build path; {known.reason}")
        return LineResult(
            name, warning=f"{text}: local build path replaced by the unpinned name {name!r}"
        )
    table_row = _CONDA_LIST_RE.match(text)
    if table_row:
        req = conda_entry_to_pip(f"{table_row['name']}={table_row['version']}={table_row['build']}")
        if req.requirement is None:
            return LineResult(None, dropped=f"{text}: {req.reason}")
        return LineResult(
            req.requirement,
            warning=f"{text}: a row of `conda list` translated to {req.requirement!r}",
        )
    pip_row = None if table_row else _PIP_LIST_RE.match(text)
    if pip_row and pip_row["location"]:
        where = pip_row["location"]
        return LineResult(None, dropped=f"{text}: installed from the local folder {where!r}")
    if pip_row:
        pinned = f"{pip_row['name']}=={pip_row['version']}"
        inner = sanitize_requirement(pinned, from_conda=from_conda)
        if inner.dropped:
            return LineResult(None, dropped=f"{text}: {inner.dropped.removeprefix(pinned + ': ')}")
        if inner.warning:
            why = inner.warning.removeprefix(pinned + ": ")
            return LineResult(inner.line, warning=f"{text}: {why}")
        return LineResult(
            inner.line, warning=f"{text}: a row of `pip list` translated to {pinned!r}"
        )
    if _CONDA_EXPORT_RE.match(text):
        req = conda_entry_to_pip(text)
        if req.requirement is None:
            return LineResult(None, dropped=f"{text}: {req.reason}")
        return LineResult(
            req.requirement,
            warning=f"{text}: conda export syntax translated to {req.requirement!r}",
        )
    if rest.strip() and rest.strip()[0] not in "[=<>!~;@(":
        return LineResult(None, dropped=f"{text}: not a requirement")
    excluded = _marker_excludes_linux(rest)
    if excluded:
        return LineResult(None, dropped=f"{text}: {excluded}")
    known = platpkgs.lookup(name, from_conda=from_conda)
    if known is not None and known.linux:
        instead = known.linux + (rest.strip() if known.same_versions else "")
        return LineResult(instead, warning=f"{text}: {known.reason}; {_instead(instead)}")
    if known is not None:
        return LineResult(None, dropped=f"{text}: {known.reason}")
    if _GPU_LOCAL_RE.search(text):
        fixed = _GPU_LOCAL_RE.sub("", text)
        return LineResult(
            fixed, warning=f"{text}: CUDA build tag removed ({fixed!r}); the grader has no GPU"
        )
    if _CPU_LOCAL_RE.search(text):
        # `pip freeze` after installing from PyTorch's CPU index: `torch==2.1.0+cpu` exists only
        # there. `torch==2.1.0` matches that build too (PEP 440: a version without a local
        # label matches any local label), so it installs with or without that index.
        fixed = _CPU_LOCAL_RE.sub("", text)
        return LineResult(
            fixed,
            warning=f"{text}: CPU build tag removed ({fixed!r}); that build is only on PyTorch's "
            "own index, the release is the same",
        )
    return LineResult(text)


# A wheel's file name (PEP 427): name-version(-build)?-python-abi-platform.whl
_WHEEL_URL_RE = re.compile(
    r"/(?P<name>[A-Za-z0-9_.]+)-(?P<version>[^-/]+)(?:-\d[^-/]*)?-[^-/]+-[^-/]+-"
    r"(?P<platform>[^-/]+)\.whl(?:[#?].*)?$"
)


def _wheel_for_another_os(text: str, url: str) -> LineResult | None:
    """A URL of a Windows or macOS wheel (`torch @ …/torch-2.1.0%2Bcu118-cp310-cp310-
    win_amd64.whl`, as `pip freeze` writes a wheel installed from a URL) cannot install on
    Linux: the same release from the index instead, without its local build tag. None for
    any other URL (Linux and pure wheels, archives, VCS), which is kept as written."""
    match = _WHEEL_URL_RE.search(urllib.parse.unquote(url))
    if match is None or not re.match(r"^(?:win|macosx)", match["platform"]):
        return None
    version = match["version"].split("+", 1)[0]
    pinned = f"{match['name'].replace('_', '-')}=={version}"
    return LineResult(
        pinned,
        warning=f"{text}: a wheel for {match['platform']} (not Linux); replaced by {pinned!r}, "
        "the same release from the package index",
    )


def _instead(requirement: str) -> str:
    return f"replaced by {requirement!r}, which installs the same module on Linux"


# pip-compile --generate-hashes / pip-tools / Poetry exports: `pkg==1.0 --hash=sha256:...`.
_HASH_OPTION_RE = re.compile(r"\s--hash(?:=|\s+)\S+")
_HASH_WHY = (
    "hash-checking is not used; the grader installs the same pinned versions from its index, "
    "shares them across groups and may relax a pin"
)


def _without_hashes(text: str, *, from_conda: bool) -> LineResult:
    """A requirement line with ``--hash`` options: the requirement alone, with a note."""
    count = len(_HASH_OPTION_RE.findall(text))
    bare = _HASH_OPTION_RE.sub("", text).strip()
    shown = re.sub(r"(--hash[=\s]+\w+:[0-9a-fA-F]{8})[0-9a-fA-F]+", r"\1…", text)
    if _HASH_OPTION_RE.search(bare):  # removal formed a new option: no second round
        return LineResult(None, dropped=f"{shown}: not a requirement")
    inner = sanitize_requirement(bare, from_conda=from_conda)
    if inner.line is None:
        why = (inner.dropped or "not a requirement").rpartition(": ")[2]
        return LineResult(None, dropped=f"{shown}: {why}", install_project=inner.install_project)
    warning = inner.warning or (
        f"{shown}: replaced by {inner.line!r} without its {count} --hash option"
        f"{'s' if count != 1 else ''} ({_HASH_WHY})"
    )
    return LineResult(inner.line, warning=warning)


# The grader's sandbox, as PEP 508 markers see it: CPython on Linux x86_64 (the Python version
# is left to the caller). The kernel's release and version are not known before a container
# runs. Shared with layerplan.marker_environment.
LINUX_MARKERS = {
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_release": "",
    "platform_version": "",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}
_PLATFORM_VARS = ("sys_platform", "platform_system", "os_name")


def _marker_excludes_linux(rest: str) -> str | None:
    """A reason when the line's environment marker names a platform and rules Linux out."""
    if ";" not in rest:
        return None
    text = rest.split(";", 1)[1].strip()
    if not text or not any(var in text for var in _PLATFORM_VARS):
        return None
    try:
        marker = Marker(text)
        # Evaluated for the platform only: every Python version the index has may still match.
        matches = any(
            marker.evaluate({**LINUX_MARKERS, "python_version": f"3.{minor}",
                             "python_full_version": f"3.{minor}.0"})
            for minor in range(8, 15)
        )  # fmt: skip
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName, ValueError):
        return None
    if matches:
        return None
    return f"its marker `{text}` excludes Linux (the grader runs Linux)"


def split_logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations and strip comments, as pip does; (line number, text)."""
    result: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        if not pending:
            start = number
        line = raw.strip() if pending else raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        line = pending + line
        pending = ""
        # pip: a comment starts at '#' at line start or after whitespace
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            result.append((start, line))
    if pending.strip():
        result.append((start, re.sub(r"(^|\s)#.*$", "", pending).strip()))
    return [(n, s) for n, s in result if s]


def parse_include(line: str) -> tuple[str, str] | None:
    """('r'|'c', path) for `-r file` / `--requirement=file` / `-c file` lines, else None."""
    match = re.match(
        r"^(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?<=-r)|(?<=-c))(.+)$", line
    )
    if not match:
        return None
    kind = "c" if match.group(1) in {"-c", "--constraint"} else "r"
    return kind, match.group(2).strip().strip("'\"")


# --- conda -------------------------------------------------------------------------------------

_CUDA = "CUDA component, not needed on a CPU-only grader"
_SYSLIB = "system library from conda; pip wheels bring their own"
_PLATFORM = "platform-specific conda package (not Linux/pip)"
_MATH = "native math library; pip wheels bring their own"
_TOOLING = "conda tooling, not a Python dependency"
_PRESENT = "present in every Python environment anyway"
_COMPILER = "compiler toolchain from conda; not needed for wheels"

# conda names that conda-forge's PyPI name mapping (repograder.condanames, generated from data)
# lacks, each with why it is here. Names not listed here or there map to themselves.
_HAND_CONDA_TO_PYPI: dict[str, tuple[str, str]] = {
    "pytorch-cpu": ("torch", "the old `pytorch` channel's name for its CPU-only build"),
    "pytorch-gpu": ("torch", "conda-forge's metapackage for pytorch's CUDA build"),
    "py-opencv": ("opencv-python", "the Python binding output of the opencv feedstock"),
    "tensorflow-gpu": ("tensorflow", "conda's CUDA build; PyPI's tensorflow is the Linux wheel"),
    "tensorflow-base": ("tensorflow", "an output of conda's tensorflow feedstock"),
    "tensorflow-cpu": ("tensorflow", "conda's CPU variant; PyPI's tensorflow wheel runs on CPU"),
    "py-xgboost": ("xgboost", "the Python output of conda's xgboost feedstock"),
    "py-lightgbm": ("lightgbm", "Anaconda's name (`conda install py-lightgbm` in notebooks)"),
    "python-lmdb": ("lmdb", "conda-forge's name for the lmdb binding (not in the mapping)"),
    "python-kaleido": ("kaleido", "conda-forge's name for plotly's kaleido (not in the mapping)"),
    "brotli-python": ("brotli", "the Python output of conda's brotli feedstock"),
    "pillow-simd": ("pillow", "PyPI's pillow-simd is source-only (needs C headers); same API"),
}

# conda name -> PyPI name: the generated data, then the hand entries above.
CONDA_TO_PYPI: dict[str, str] = {
    **condanames.NAMES,
    **{conda: pypi for conda, (pypi, _why) in _HAND_CONDA_TO_PYPI.items()},
}


def conda_to_pypi_name(conda: str, version: str = "") -> str:
    """The PyPI name of a conda package (lower-case conda name; ``version`` as written).

    A name the data maps by version range (:data:`repograder.condanames.RANGED`, e.g. conda
    ``pyqt`` 5.x -> ``pyqt5``) takes the range that holds ``version``'s leading numbers, or
    the newest range when no version is given or none matches.
    """
    ranged = condanames.RANGED.get(conda)
    if ranged:
        wanted = _release(version)
        for pypi, low, high in ranged:
            if wanted and _release(low) <= wanted < _release(high):
                return pypi
        return ranged[-1][0]
    return CONDA_TO_PYPI.get(conda, conda)


def _release(version: str) -> tuple[int, ...]:
    match = re.match(r"^\s*(?:==|>=|<=|~=|=|>|<)?\s*(\d+(?:\.\d+)*)", version)
    return tuple(int(n) for n in match.group(1).split(".")) if match else ()


# conda name -> Debian package
CONDA_TO_APT: dict[str, str] = {
    "libsndfile": "libsndfile1",
    "ffmpeg": "ffmpeg",
    "sox": "sox",
    "portaudio": "portaudio19-dev",
    "graphviz": "graphviz",
    "git": "git",
    "espeak": "espeak",
    "espeak-ng": "espeak-ng",
    "libopenblas": "libopenblas-dev",
    "git-lfs": "git-lfs",
    "imagemagick": "imagemagick",
}

CONDA_DROP: dict[str, str] = {
    **dict.fromkeys(
        ["cudatoolkit", "cudnn", "pytorch-cuda", "cuda", "nccl", "cutensor", "cupti",
         "torchtriton", "cudatoolkit-dev", "tensorrt", "magma", "nvidia-apex"],
        _CUDA,
    ),
    **dict.fromkeys(
        ["mkl", "mkl-include", "intel-openmp", "blas",
         "openblas", "tbb", "llvm-openmp", "numpy-base", "scipy-base", "mkl-devel"],
        _MATH,
    ),
    **dict.fromkeys(
        ["openssl", "ca-certificates", "readline", "zlib", "xz", "sqlite", "tk", "ncurses",
         "bzip2", "tzdata", "jpeg", "freetype", "lz4-c", "zstd", "expat", "icu", "gettext",
         "lcms2", "openjpeg", "giflib", "krb5", "curl", "c-ares", "glib", "dbus", "fontconfig",
         "pcre", "pcre2", "hdf5", "lame", "mpg123", "gmp", "mpfr", "mpc", "yaml", "gstreamer",
         "qt", "qt-main", "qt-webengine", "nspr", "nss", "pixman", "cairo", "harfbuzz", "pango",
         "graphite2", "fribidi", "jasper", "x264", "openh264", "gnutls", "nettle", "svt-av1",
         "aom", "dav1d", "lerc", "brotli-bin", "unicodedata2", "pthread-stubs", "icu4c", "keyutils",
         "nodejs", "openjdk", "tktable", "font-ttf-dejavu-sans-mono", "fonts-conda-ecosystem",
         "fonts-conda-forge", "fonts-anaconda"],
        _SYSLIB,
    ),
    # Windows/macOS-only packages are in repograder.platpkgs, shared with the pip paths.
    **dict.fromkeys(["tapi", "cctools", "ld64"], _PLATFORM),
    **dict.fromkeys(
        ["conda", "conda-build", "conda-env", "anaconda", "anaconda-client", "mamba", "micromamba",
         "conda-package-handling", "conda-libmamba-solver", "cpuonly", "pytorch-mutex",
         "nb_conda", "nb_conda_kernels", "conda-content-trust", "anaconda-navigator"],
        _TOOLING,
    ),
    **dict.fromkeys(["pip", "setuptools", "wheel"], _PRESENT),
    **dict.fromkeys(
        ["gcc", "gxx", "gfortran", "compilers", "c-compiler", "cxx-compiler", "make", "binutils",
         "pkg-config", "sysroot_linux-64", "kernel-headers_linux-64", "libtool", "autoconf",
         "automake", "libgcc", "libgfortran-ng", "libgfortran5", "llvm"],
        _COMPILER,
    ),
}  # fmt: skip

# Python packages whose names look like system libraries.
_PY_LIB_NAMES = frozenset({"librosa", "libcst", "liblinear", "libsvm"})

_DROP_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(?:cuda|cudnn|libcu|libnv|libnpp|nvidia|nsight|magma-cuda)"), _CUDA),
    (re.compile(r"^_"), "conda-internal package"),
    (re.compile(r"^(?:m2-|m2w64-|msys2-)"), _PLATFORM),
    (re.compile(r"osx|darwin|(?:^|[-_])win(?:32|64)?(?:$|[-_])"), _PLATFORM),
    (re.compile(r"^(?:clang|llvm|gcc_|gxx_|gfortran_|ld_impl)"), _COMPILER),
    (re.compile(r"_linux-(?:64|aarch64)$"), _COMPILER),
    (re.compile(r"^(?:xorg-|libx|libgl|mesa|alsa-lib|pulseaudio|gst-)"), _SYSLIB),
    (re.compile(r"^(?:libblas|libcblas|liblapack|libopenblas|libmkl)"), _MATH),
    (re.compile(r"^r-|^r$|^r-base$"), "R package, not Python"),
    (re.compile(r"^conda-"), _TOOLING),
    (re.compile(r"^lib"), _SYSLIB),
)


@dataclass(frozen=True)
class CondaEntry:
    """One conda dependency after translation."""

    name: str  # conda name (channel stripped, lower-case)
    requirement: str | None = None  # pip requirement
    apt: str | None = None  # Debian package
    python: str | None = None  # version spec when the entry is python itself
    reason: str = ""  # why it was dropped
    warning: str | None = None


def _conda_version_to_pip(version: str, exact: bool) -> tuple[str, str | None]:
    """Conda version constraint -> (pip specifier, warning)."""
    version = version.strip()
    if not version or version == "*":
        return "", None
    if "|" in version:
        return "", f"alternative versions {version!r} cannot be expressed for pip; unpinned"
    if re.match(r"^(?:==|>=|<=|!=|~=|>|<)", version):
        parts = [p.strip() for p in version.split(",") if p.strip()]
        ok = all(re.match(r"^(?:==|>=|<=|!=|~=|>|<)\s*[0-9][0-9A-Za-z.*+!_-]*$", p) for p in parts)
        if not ok:
            return "", f"version constraint {version!r} not understood; unpinned"
        return ",".join(p.replace(" ", "") for p in parts), None
    if not _VERSION_RE.match(version):
        return "", f"conda version {version!r} is not a pip version; unpinned"
    if version.endswith("*") or exact:
        return f"=={version}", None
    # conda's `numpy=1.24` is a prefix match: 1.24, 1.24.1, ...
    return f"=={version}.*", None


def conda_entry_to_pip(entry: str) -> CondaEntry:
    """Translate one conda match spec (``conda-forge::numpy=1.24=py310_0`` ...)."""
    text = entry.strip()
    channel = ""
    if "::" in text:
        channel, text = text.split("::", 1)
        channel = channel.strip().lower()
    # bracket form: numpy[version='>=1.20',build=...]
    bracket_version = ""
    bmatch = re.match(r"^([^\[\s]+)\s*\[(.*)\]\s*$", text)
    if bmatch:
        text = bmatch.group(1)
        vmatch = re.search(
            r"version\s*=\s*['\"]?([^'\",\]]+(?:,[^'\",\]]+)*)['\"]?", bmatch.group(2)
        )
        bracket_version = vmatch.group(1) if vmatch else ""
    nmatch = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", text)
    if not nmatch:
        return CondaEntry(name=text or entry, reason="not a conda package spec")
    name = nmatch.group(1).lower()
    rest = nmatch.group(2).strip()
    exact = False
    version = bracket_version
    build = ""
    if rest and not version:
        if rest.startswith("=") and not rest.startswith("=="):
            pieces = rest[1:].split("=")
            version = pieces[0]
            exact = len(pieces) > 1 and bool(pieces[1])  # build string given: an exact pin
            build = pieces[1].strip() if exact else ""
        elif re.match(r"^[0-9*]", rest):
            pieces = rest.split()
            version = pieces[0]
            exact = len(pieces) > 1
            build = pieces[1] if exact else ""
        else:
            version = rest.split("=py")[0] if "=py" in rest else rest
    spec, warning = _conda_version_to_pip(version, exact)
    if name == "python":
        pyver = version.strip()
        if pyver and not re.match(r"^(?:==|>=|<=|!=|~=|>|<)", pyver):
            pyver = pyver.rstrip("*").rstrip(".")
        return CondaEntry(name=name, python=pyver or None)
    if channel == "nvidia":
        return CondaEntry(name=name, reason=_CUDA)
    if name in CONDA_TO_APT:
        return CondaEntry(name=name, apt=CONDA_TO_APT[name])
    pypi = conda_to_pypi_name(name, version)
    known = platpkgs.lookup(name, from_conda=True) or platpkgs.lookup(pypi, from_conda=True)
    if known is not None and known.linux:
        instead = known.linux + (spec if known.same_versions else "")
        return CondaEntry(name=name, requirement=instead, warning=_instead(instead))
    if known is not None:
        return CondaEntry(name=name, reason=known.reason)
    if name in CONDA_DROP:
        return CondaEntry(name=name, reason=CONDA_DROP[name])
    if name not in CONDA_TO_PYPI and name not in condanames.RANGED and name not in _PY_LIB_NAMES:
        for pattern, reason in _DROP_PATTERNS:
            if pattern.search(name):
                return CondaEntry(name=name, reason=reason)
        if build and not _PYTHON_BUILD_RE.search(build):
            return CondaEntry(name=name, reason=_NOT_PYTHON_BUILD.format(build=build))
    return CondaEntry(name=name, requirement=f"{pypi}{spec}", warning=warning)


# conda-build puts the Python a package was built for into its build string (`py311h…_0`,
# `py3.10_cpu_0`, `cpu_py310h…`), noarch Python packages get `pyh<hash>_N` / `py_N`, and pip's
# packages in a conda env list as `pypi_0`; the hash part is hex, so "py" appears only as that
# tag. A build string without it (`h156473d_2`, `hd8ed1ab_3`) is a package that does not depend
# on Python: a C/C++ library or tool (sleef, eigen, pybind11-abi, yaml-cpp …) which pip's wheels
# bundle, and whose name on PyPI is absent or an unrelated project. Source: conda-build's
# documentation, "Build string" (the `py` variant prefix) and "noarch: python".
_PYTHON_BUILD_RE = re.compile(r"py", re.IGNORECASE)
_NOT_PYTHON_BUILD = (
    "conda-only package (its build string {build!r} has no Python tag, so it is a C/C++ "
    "library or tool, not a Python package; the PyPI wheels that need it bundle it)"
)


@dataclass(frozen=True)
class CondaTranslation:
    """A conda environment document translated for pip + apt."""

    requirements: tuple[str, ...] = ()  # translated conda packages
    pip_lines: tuple[str, ...] = ()  # the `pip:` section, as written (incl. -r lines)
    apt_packages: tuple[str, ...] = ()
    python_version: str | None = None
    dropped: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    name: str | None = None


def translate_conda(doc: object) -> CondaTranslation:
    """Translate a parsed conda environment (any YAML value) to pip requirements and apt."""
    if not isinstance(doc, dict):
        return CondaTranslation(warnings=("the file is not a conda environment (no mapping)",))
    deps = doc.get("dependencies")
    name = doc.get("name") if isinstance(doc.get("name"), str) else None
    if deps is None:
        return CondaTranslation(warnings=("no 'dependencies' list in the environment",), name=name)
    if not isinstance(deps, list):
        return CondaTranslation(warnings=("'dependencies' is not a list",), name=name)
    requirements: list[str] = []
    pip_lines: list[str] = []
    apt: list[str] = []
    dropped: list[str] = []
    warnings: list[str] = []
    python: str | None = None
    seen: set[str] = set()
    for item in deps[:5000]:
        if isinstance(item, dict):
            pip_section = item.get("pip")
            if isinstance(pip_section, list):
                pip_lines.extend(str(p).strip() for p in pip_section[:5000] if _scalar(p))
            else:
                warnings.append(f"ignored dependency entry {_preview(item)}")
            continue
        if not _scalar(item):
            warnings.append(f"ignored dependency entry {_preview(item)}")
            continue
        entry = conda_entry_to_pip(str(item))
        label = str(item).strip()
        if entry.name == "python":
            python = python or entry.python
        elif entry.apt:
            if entry.apt not in apt:
                apt.append(entry.apt)
        elif entry.requirement:
            key = re.split(r"[<>=!~\[;]", entry.requirement, maxsplit=1)[0].lower()
            if key in seen:
                continue
            seen.add(key)
            requirements.append(entry.requirement)
            if entry.warning:
                warnings.append(f"{label}: {entry.warning}")
        else:
            dropped.append(f"{label}: {entry.reason}")
    return CondaTranslation(
        requirements=tuple(requirements),
        pip_lines=tuple(pip_lines),
        apt_packages=tuple(apt),
        python_version=python,
        dropped=tuple(dropped),
        warnings=tuple(warnings),
        name=name,
    )


_PREVIEW = reprlib.Repr()  # keyword arguments need Python 3.12
_PREVIEW.maxlevel = 2
_PREVIEW.maxdict = _PREVIEW.maxlist = _PREVIEW.maxtuple = _PREVIEW.maxset = 4
_PREVIEW.maxstring = _PREVIEW.maxother = 60


def _preview(value: object) -> str:
    """A short repr of a parsed student value whose cost does not grow with its size.

    ``str(value)[:80]`` builds the whole text first: a YAML structure with shared (aliased)
    sub-lists is gigabytes as text. reprlib stops at two levels and four items per level.
    """
    return _PREVIEW.repr(value)[:120]


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)
