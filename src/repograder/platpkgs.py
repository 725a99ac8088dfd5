"""One table of packages that cannot or need not be installed in the grader's Linux sandbox.

Used by every environment-file path alike (requirements files, ``pip:`` sections and conda
dependencies, ``conda list --export`` lines, pyproject/Pipfile/setup dependencies) through
:func:`lookup`, so a Windows ``pip freeze`` and a Windows ``conda env export`` lose the same
entries for the same reason. Pure data, no I/O.

An entry with ``linux=`` is a platform build of a portable package (``tensorflow-macos`` is
Apple's TensorFlow): it is replaced by the package that installs the same module on Linux.

Where each entry comes from is written next to it:

* "PyPI: no Linux wheel" — measured on 2026-11-30 with
  ``pip download --no-deps --only-binary :all: --platform manylinux2014_x86_64
  --python-version 3.11 NAME`` ("No matching distribution"), i.e. the wheels' platform tags as
  the index reports them; an sdist, where one exists, only builds on its own OS.
* "PyPI metadata" — the package's own Linux-installable wheel requires a platform-only package
  on every platform (its ``Requires-Dist`` has no marker), so no Linux install can succeed.
* "declared" — the package's dependants only ask for it under a ``sys_platform`` marker
  (e.g. ipykernel: ``appnope; sys_platform == "darwin"``).
* "conda" — conda packages that are not Python distributions (runtimes, fonts, C libraries,
  solver metadata): they are absent from PyPI or are bundled by the PyPI wheels that need them.

``python benchmarks/platpkgs_scan.py`` re-measures every "PyPI" row from the index (wheel
tags and ``Requires-Dist``) and prints what it finds next to the table's entry. Run on
2026-12-01, it agreed with every row except two, whose entries now say why: the newest
``pywinauto`` and ``tensorflow-intel`` (its 0.0.1 placeholder) are "installable". The conda
rows have no such index: conda-forge's PyPI name mapping (:mod:`repograder.condanames`) lists
Python packages only, so a name absent from it is not proof of a C library, and the rows keep
their cited reasons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Known", "canonical", "lookup", "table"]

_WINDOWS = "Windows-only package (no Linux wheel on PyPI; the grader runs Linux)"
_MACOS = "macOS-only package (no Linux wheel on PyPI; the grader runs Linux)"
_MAC_DECLARED = "macOS-only package (its users require it only on macOS); not needed on Linux"
_WIN_DEPENDS = (
    "Windows-only package (it requires pywin32 on every platform, which has no Linux wheel)"
)
_MAC_DEPENDS = "macOS-only package (it requires pyobjc-core, which has no Linux wheel)"
_WIN_DECLARED = "Windows-only package (its users require it only on Windows); not needed on Linux"
_CONDA_RUNTIME = "conda-only package (a compiler runtime or solver metadata, not on PyPI)"
_CONDA_FONT = "conda-only package (fonts for conda's own Qt/matplotlib builds)"
_CONDA_CLIB = "conda-only package (a C library; the PyPI wheels that need it bundle it)"
_CONDA_TOOLING = (
    "conda's own tooling (Anaconda's base environment), not a dependency of the project; "
    "its versions are not on PyPI"
)
_ANACONDA_MKL = (
    "Anaconda's MKL helper for its own numpy build (pip's numpy does not use it); "
    "installed from a conda path, it is not a PyPI requirement"
)


@dataclass(frozen=True)
class Known:
    """Why an entry is dropped; ``conda_only``: only when the entry came from conda."""

    reason: str
    source: str  # where the fact comes from (see the module docstring)
    conda_only: bool = False
    # The PyPI package that installs the same module on Linux: the entry is replaced by it, not
    # dropped (a hand-written `tensorflow-macos` is the student's TensorFlow). ``same_versions``:
    # its releases carry the same version numbers, so the student's pin is kept.
    linux: str = ""
    same_versions: bool = True


def canonical(name: str) -> str:
    """PEP 503 normalised name (``Foo_Bar.baz`` -> ``foo-bar-baz``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


# PyPI names (canonical) -> why. Source per entry in the second field.
_BY_NAME: dict[str, Known] = {
    # Windows
    "pywin32": Known(_WINDOWS, "PyPI: no Linux wheel, no sdist"),
    "pypiwin32": Known(_WINDOWS, "PyPI: a wrapper that requires pywin32"),
    "pywinpty": Known(_WINDOWS, "PyPI: no Linux wheel; sdist builds only on Windows"),
    "winpty": Known(_WINDOWS, "conda: winpty is the Windows pseudo-terminal library"),
    # Only ever a dependency of `tensorflow` on Windows (never hand-written): dropped, not replaced.
    "tensorflow-intel": Known(
        _WINDOWS, "PyPI: Linux has only a 0.0.1 placeholder; TensorFlow on Windows requires it"
    ),
    "onnxruntime-directml": Known(
        _WINDOWS,
        "PyPI: no Linux wheel (pip download --platform manylinux2014_x86_64, 2026-12-01); "
        "onnxruntime with the DirectML provider, released with onnxruntime's versions",
        linux="onnxruntime",
    ),
    "python-magic-bin": Known(
        _WINDOWS,
        "PyPI: no Linux wheel (pip download --platform manylinux2014_x86_64, 2026-12-01); "
        "python-magic with libmagic's DLLs bundled; its own version numbers",
        linux="python-magic",
        same_versions=False,
    ),
    "windows-curses": Known(_WINDOWS, "PyPI: no Linux wheel"),
    "winshell": Known(_WINDOWS, "PyPI: no Linux wheel"),
    "wmi": Known(_WIN_DEPENDS, "PyPI metadata: WMI 1.5.1's py3-none-any wheel requires pywin32"),
    "pywinauto": Known(
        _WIN_DEPENDS,
        "PyPI metadata: 0.6.8's py3-none-any wheel requires pywin32 on every platform (newer "
        "wheels only on win32); Windows GUI automation, of no use on Linux",
    ),
    "wincertstore": Known(_WIN_DECLARED, "declared: Windows certificate store reader"),
    "win-inet-pton": Known(_WIN_DECLARED, "declared: Windows backport of socket.inet_pton"),
    "win32-setctime": Known(_WIN_DECLARED, "declared: loguru requires it on win32 only"),
    "menuinst": Known(_WIN_DECLARED, "conda: Windows start-menu shortcuts for conda"),
    "console-shortcut": Known(_WIN_DECLARED, "conda: Windows start-menu shortcut"),
    "powershell-shortcut": Known(_WIN_DECLARED, "conda: Windows start-menu shortcut"),
    "vs2015-runtime": Known(_CONDA_RUNTIME, "conda: Microsoft Visual C++ runtime"),
    "vc": Known(_CONDA_RUNTIME, "conda: Visual C++ version metadata"),
    "vc14-runtime": Known(_CONDA_RUNTIME, "conda: Microsoft Visual C++ runtime"),
    "ucrt": Known(_CONDA_RUNTIME, "conda: Windows universal C runtime"),
    "icc-rt": Known(_CONDA_RUNTIME, "conda: Intel compiler runtime (Windows builds)"),
    "m2w64-toolchain": Known(_CONDA_RUNTIME, "conda: MinGW toolchain for Windows"),
    # macOS
    "pyobjc": Known(
        _MAC_DEPENDS, "PyPI metadata: its py3-none-any wheel requires pyobjc-core (no Linux wheel)"
    ),
    "pyobjc-core": Known(_MACOS, "PyPI: no Linux wheel; sdist builds only on macOS"),
    "appnope": Known(_MAC_DECLARED, "declared: ipykernel requires it on darwin only"),
    "tensorflow-macos": Known(
        _MACOS,
        "PyPI: no Linux wheel; Apple's build of TensorFlow (2.5-2.16, tensorflow's version "
        "numbers), it installs the `tensorflow` module",
        linux="tensorflow",
    ),
    "onnxruntime-silicon": Known(
        _MACOS,
        "PyPI: no Linux wheel (pip download --platform manylinux2014_x86_64, 2026-12-01); "
        "onnxruntime built for Apple silicon, released with onnxruntime's versions",
        linux="onnxruntime",
    ),
    "tensorflow-metal": Known(_MACOS, "PyPI: no Linux wheel"),
    "libcxx": Known(_CONDA_RUNTIME, "conda: LLVM C++ runtime of conda's macOS builds"),
    "libcxxabi": Known(_CONDA_RUNTIME, "conda: LLVM C++ runtime of conda's macOS builds"),
    # conda solver metadata and runtimes (all platforms)
    "python-abi": Known(_CONDA_RUNTIME, "conda: conda-forge's Python ABI pin (python_abi)"),
    "libgcc-ng": Known(_CONDA_RUNTIME, "conda: GCC runtime of conda's Linux builds"),
    "libstdcxx-ng": Known(_CONDA_RUNTIME, "conda: GCC runtime of conda's Linux builds"),
    "libgomp": Known(_CONDA_RUNTIME, "conda: GNU OpenMP runtime"),
    "ld-impl-linux-64": Known(_CONDA_RUNTIME, "conda: the linker of conda's Linux builds"),
    "zeromq": Known(_CONDA_CLIB, "conda: libzmq; pyzmq's wheels bundle it"),
    "libsodium": Known(_CONDA_CLIB, "conda: libsodium; pyzmq's wheels bundle what they need"),
    # conda itself and its tools: a `pip freeze` of Anaconda's base environment lists them
    # (`conda @ file:///croot/conda_…`); PyPI's `conda` stops at 4.3.16, a source release that
    # no longer builds, and most of the rest are not on PyPI at all.
    **dict.fromkeys(
        [
            "conda",
            "conda-build",
            "conda-env",
            "conda-content-trust",
            "conda-libmamba-solver",
            "libmambapy",
            "conda-package-handling",
            "conda-package-streaming",
            "conda-verify",
            "conda-repo-cli",
            "conda-token",
            "conda-anaconda-tos",
            "menuinst",
            "anaconda-client",
            "anaconda-navigator",
            "navigator-updater",
            "anaconda-project",
            "anaconda-anon-usage",
            "anaconda-cloud-auth",
        ],
        Known(_CONDA_TOOLING, "conda: the packages of Anaconda's base environment"),
    ),
    # Anaconda's numpy helpers: kept when a student pins them for PyPI (they exist there)
    "mkl-service": Known(_ANACONDA_MKL, "conda: Anaconda defaults' numpy stack", True),
    "mkl-fft": Known(_ANACONDA_MKL, "conda: Anaconda defaults' numpy stack", True),
    "mkl-random": Known(_ANACONDA_MKL, "conda: Anaconda defaults' numpy stack", True),
}
# Name families, first match wins.
_BY_PATTERN: tuple[tuple[re.Pattern[str], Known], ...] = (
    # pyobjc-framework-cocoa, -quartz, ...: every framework binding is macOS-only (PyPI)
    (re.compile(r"^pyobjc-framework-"), Known(_MACOS, "PyPI: no Linux wheel (pyobjc family)")),
    (re.compile(r"^font-ttf-|^fonts-"), Known(_CONDA_FONT, "conda: font packages")),
    (re.compile(r"^-"), Known(_CONDA_RUNTIME, "conda: underscore packages (_libgcc_mutex)")),
    (re.compile(r"^m2-|^m2w64-|^msys2-"), Known(_CONDA_RUNTIME, "conda: MSYS2 for Windows")),
)


def lookup(name: str, *, from_conda: bool) -> Known | None:
    """Why ``name`` is dropped for the Linux sandbox, or None when it is installed.

    ``from_conda``: the entry came from a conda environment, a ``conda list --export`` line or
    a conda build path (``name @ file:///croot/...``), where Anaconda-only helpers are dropped.
    """
    key = canonical(name.strip())
    if not key:
        return None
    known = _BY_NAME.get(key)
    if known is None:
        known = next((k for pattern, k in _BY_PATTERN if pattern.search(key)), None)
    if known is None or (known.conda_only and not from_conda):
        return None
    return known


def table() -> dict[str, Known]:
    """The named entries (canonical name -> why), for the data script that re-measures them."""
    return dict(_BY_NAME)
