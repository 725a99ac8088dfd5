"""Environment detection: repository -> EnvSpec.

An ordered list of detectors; the first match wins and says why. No code is executed.
(Interface defined here; detectors are implemented below.)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class EnvKind(enum.StrEnum):
    REQUIREMENTS = "requirements"
    CONDA = "conda"
    PYPROJECT = "pyproject"
    SETUP_PY = "setup.py"
    PIPFILE = "pipfile"
    NONE = "none"


@dataclass(frozen=True)
class EnvSpec:
    """What to build. Everything the build depends on is in here (it is hashed for the cache)."""

    kind: EnvKind
    path: str | None  # repo-relative path of the chosen environment file
    reason: str  # why this detector matched, e.g. "requirements.txt at the repository root"
    files: tuple[str, ...] = ()  # repo-relative dependency files copied into the build
    requirements: tuple[str, ...] = ()  # pip requirement lines (conda translated to PyPI)
    apt_packages: tuple[str, ...] = ()  # Debian packages (e.g. ffmpeg, libsndfile1)
    build_requires: tuple[str, ...] = ()  # build backend, pre-installed for the project install
    install_project: bool = False  # install the project itself (pyproject / setup.py) in session
    python_version: str | None = None  # requested, e.g. "3.10"
    python_source: str | None = None  # where the version came from
    conda_strategy: str | None = None  # "translated" | "micromamba"
    dropped: tuple[str, ...] = ()  # entries skipped, each with its reason
    warnings: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()  # other environment files seen (vendored ones excluded)
