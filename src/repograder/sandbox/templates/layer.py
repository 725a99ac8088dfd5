"""Finish a layered environment build inside the build container (run with the venv's python).

usage: layer.py SNAPSHOT              record the installed distributions (name==version)
       layer.py FINISH SNAPSHOT LOCK  make the venv match LOCK exactly, compile new files

The group's layer sits on a shared layer that may hold packages the group never asked for;
leaving them would hide a missing requirement, so every distribution that is neither in the
group's resolved lock nor part of the bare base venv (the seed list) is uninstalled. Bytecode is
compiled only for distributions that are new in this layer: recompiling the shared layer's files
would copy them all up into the group's layer.
"""

from __future__ import annotations

import compileall
import concurrent.futures
import importlib.metadata
import os
import re
import subprocess
import sys
import sysconfig

VENV_PYTHON = "/opt/venv/bin/python"
SEED = "/opt/venv/.repograder-seed"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed() -> dict[str, tuple[str, importlib.metadata.Distribution]]:
    site = sysconfig.get_paths()["purelib"]
    found: dict[str, tuple[str, importlib.metadata.Distribution]] = {}
    for dist in importlib.metadata.distributions(path=[site]):
        name = dist.metadata["Name"]
        if name:
            found[_norm(name)] = (dist.version, dist)
    return found


def _lock_names(path: str) -> set[str]:
    names: set[str] = set()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            text = line.split("#", 1)[0].strip()
            if not text or text.startswith("-"):
                continue
            match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", text)
            if match:
                names.add(_norm(match.group(1)))
    return names


def _compile(path: str) -> bool:
    try:
        return bool(compileall.compile_file(path, quiet=2, force=False))
    except Exception:  # a file that does not compile must not fail the build
        return True


def snapshot(out: str) -> None:
    with open(out, "w", encoding="utf-8") as handle:
        for name, (version, _dist) in sorted(_installed().items()):
            handle.write(f"{name}=={version}\n")


def finish(before_path: str, lock_path: str) -> None:
    with open(before_path, encoding="utf-8") as handle:
        before = {line.strip() for line in handle if line.strip()}
    seed: set[str] = set()
    if os.path.exists(SEED):
        with open(SEED, encoding="utf-8") as handle:
            seed = {_norm(line.split("==")[0].strip()) for line in handle if line.strip()}
    wanted = _lock_names(lock_path)
    installed = _installed()
    extras = sorted(n for n in installed if n not in wanted and n not in seed)
    if extras:
        print("[repograder] removing packages of the shared layer not required here:", flush=True)
        print("  " + " ".join(extras), flush=True)
        subprocess.run(["uv", "pip", "uninstall", "--python", VENV_PYTHON, *extras], check=True)
        installed = _installed()
    site = sysconfig.get_paths()["purelib"]
    files: list[str] = []
    for name, (version, dist) in installed.items():
        if f"{name}=={version}" in before:
            continue
        for rel in dist.files or ():
            if str(rel).endswith(".py"):
                full = os.path.normpath(os.path.join(site, str(rel)))
                if full.startswith(site + os.sep) and os.path.isfile(full):
                    files.append(full)
    workers = max(1, min(8, os.cpu_count() or 1))
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        list(pool.map(_compile, files, chunksize=64))
    print(f"[repograder] compiled {len(files)} new files", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "SNAPSHOT":
        snapshot(sys.argv[2])
    else:
        finish(sys.argv[2], sys.argv[3])
