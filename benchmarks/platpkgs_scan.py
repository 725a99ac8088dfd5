"""Measure the "PyPI:" rows of repograder.platpkgs from the index's own data.

usage: python benchmarks/platpkgs_scan.py [NAME ...]

For each name (default: every table entry whose source starts with "PyPI") asks the index,
with ``pip download --no-deps --only-binary :all: --platform manylinux2014_x86_64
--python-version 3.11``, for a wheel the grader's Linux sandbox could install (the wheels'
platform tags as the index reports them). When there is one, reads its METADATA and lists the
``Requires-Dist`` entries that still apply on Linux and are themselves platform-only in the
table (e.g. WMI's py3-none-any wheel requires pywin32 on every platform). Prints one line per
name: ``no Linux wheel``, ``Linux wheel requires <names> (platform-only)`` or ``installable``.
A row whose measurement disagrees with its table entry needs a look.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from repograder import platpkgs

LINUX = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
         "python_version": "3.11", "python_full_version": "3.11.0", "extra": ""}  # fmt: skip


def measure(name: str) -> str:
    """One table row's measurement (see the module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
             "--platform", "manylinux2014_x86_64", "--python-version", "3.11", "-q",
             "-d", tmp, name],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            return "no Linux wheel"
        with zipfile.ZipFile(wheels[0]) as archive:
            meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            headers = Parser().parsestr(archive.read(meta).decode("utf-8", "replace"))
    blocking = []
    for value in headers.get_all("Requires-Dist") or []:
        try:
            req = Requirement(value)
        except InvalidRequirement:
            continue
        if req.marker is not None and not req.marker.evaluate(LINUX):
            continue
        if platpkgs.lookup(req.name, from_conda=False) is not None:
            blocking.append(req.name)
    if blocking:
        return f"Linux wheel requires {', '.join(blocking)} (platform-only)"
    return "installable"


def main() -> int:
    names = sys.argv[1:] or [
        name for name, known in platpkgs.table().items() if known.source.startswith("PyPI")
    ]
    for name in names:
        known = platpkgs.lookup(name, from_conda=False)
        print(f"{name:24} {measure(name):50} table: {known.source if known else '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
