"""Tiny wheels and sdists written on the fly into a find-links folder for build tests."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

from repograder.sandbox.hostconfig import HostMount, HostSettings, detect_host_settings

# Code a hostile package runs (an sdist's setup.py, a wheel's .pth at every interpreter start):
# it tries to plant a marker in the uv cache it can see and records what happened in the venv.
PLANT = """
import os
tok = {token!r}
who = {who!r}
seen = []
for d in sorted({{os.environ.get("UV_CACHE_DIR") or "/uv-cache", "/uv-cache"}}):
    try:
        with open(os.path.join(d, "RG-PLANT-" + tok + "-" + who), "w") as f:
            f.write("planted")
        seen.append("wrote:" + d)
    except OSError:
        seen.append("blocked:" + d)
try:
    with open("/opt/venv/rg-evidence-" + tok + ".txt", "a") as f:
        f.write(who + " uid=" + str(os.getuid()) + " " + " ".join(seen) + "\\n")
except OSError:
    pass
"""


def plant_code(token: str, who: str) -> str:
    """Python source that tries to write into the uv cache (see PLANT)."""
    return PLANT.format(token=token, who=who)


def pth_line(code: str) -> str:
    """A ``.pth`` file's text that runs ``code`` whenever a python with the site module starts
    (a .pth runs only a single line that begins with ``import``)."""
    return f"import os; exec(bytes.fromhex({code.encode().hex()!r}).decode())\n"


def write_wheel(folder: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A valid pure-Python wheel holding ``files`` (path -> text)."""
    dist = f"{name}-{version}.dist-info"
    entries = dict(files)
    entries[f"{dist}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    entries[f"{dist}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: repograder-tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n"
    )
    record = []
    for path, text in entries.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    entries[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    target = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w") as whl:
        for path, text in entries.items():
            whl.writestr(path, text)
    return target


def write_sdist(folder: Path, name: str, version: str, setup_prelude: str = "") -> Path:
    """A setuptools sdist (setup.py only) whose setup.py first runs ``setup_prelude``."""
    root = f"{name}-{version}"
    entries = {
        f"{root}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{root}/setup.py": (
            f"{setup_prelude}\nfrom setuptools import setup\n"
            f"setup(name={name!r}, version={version!r}, packages=[{name!r}])\n"
        ),
        f"{root}/{name}/__init__.py": f"VERSION = {version!r}\n",
    }
    target = folder / f"{root}.tar.gz"
    with tarfile.open(target, "w:gz") as tar:
        for path, text in entries.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return target


def with_find_links(folder: Path) -> HostSettings:
    """The host's settings plus ``folder`` as a read-only find-links folder."""
    host = detect_host_settings()
    return dataclasses.replace(
        host,
        find_links=(*host.find_links, str(folder)),
        mounts=(*host.mounts, HostMount(source=folder, target=str(folder))),
    )
