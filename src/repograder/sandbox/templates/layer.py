"""Finish a layered environment build inside the build container (run with the venv's python).

usage: layer.py SNAPSHOT OUT              record the installed distributions (name==version)
       layer.py FINISH SNAPSHOT LOCK     make the venv match LOCK exactly, compile new files
       layer.py COMPILE SNAPSHOT         compile the files of distributions new since SNAPSHOT
       layer.py NEWER LOCK BEFORE [UV ARGS...]  exit 75 when a locked package has a newer version
                                         that exists only as a source distribution

The group's layer sits on a shared layer that may hold packages the group never asked for;
leaving them would hide a missing requirement, so every distribution that is neither in the
group's resolved lock nor part of the bare base venv (the seed list) is uninstalled. Bytecode is
compiled only for distributions that are new in this layer: recompiling the shared layer's files
would copy them all up into the group's layer; a package's own test suite is not compiled.
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

VENV = "/opt/venv"
VENV_PYTHON = f"{VENV}/bin/python"
# By path: /opt/venv/bin, first on the image's PATH, may hold a package's script named uv.
UV = "/usr/local/bin/uv"
SEED = "/opt/venv/.repograder-seed"
NEEDS_BUILD = 75
# uv's words for "this version has no wheel we may use and building is disabled".
_NO_WHEEL = re.compile(
    r"no usable wheels|building from source is disabled|building source distributions is "
    r"disabled|no wheels with a matching",
    re.IGNORECASE,
)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _site() -> str:
    # Run with -S (root runs this in the wheels-only phase, and the site module would run the
    # installed packages' .pth files), so sys.prefix is not the venv's: named here.
    scheme = "venv" if "venv" in sysconfig.get_scheme_names() else "posix_prefix"
    return sysconfig.get_paths(scheme, vars={"base": VENV, "platbase": VENV})["purelib"]


def _installed() -> dict[str, tuple[str, importlib.metadata.Distribution]]:
    site = _site()
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
    before = _read_lines(before_path)
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
        subprocess.run([UV, "pip", "uninstall", "--python", VENV_PYTHON, *extras], check=True)
        installed = _installed()
    compile_new(before, installed)


def _is_test_module(rel: str) -> bool:
    # A package's own test suite (numpy/_core/tests, pandas/tests, ...): about a fifth of the
    # audio stack's source, never imported by a student's code. Left uncompiled it still
    # imports (compiled in memory); only the image's build time and size change.
    return any(part in ("tests", "test") for part in rel.split("/")[:-1])


def compile_new(
    before: set[str], installed: dict[str, tuple[str, importlib.metadata.Distribution]]
) -> None:
    site = _site()
    files: list[str] = []
    for name, (version, dist) in installed.items():
        if f"{name}=={version}" in before:
            continue
        for rel in dist.files or ():
            if str(rel).endswith(".py") and not _is_test_module(str(rel)):
                full = os.path.normpath(os.path.join(site, str(rel)))
                if full.startswith(site + os.sep) and os.path.isfile(full):
                    files.append(full)
    workers = max(1, min(8, os.cpu_count() or 1))
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        list(pool.map(_compile, files, chunksize=64))
    print(f"[repograder] compiled {len(files)} new files", flush=True)


def _read_lines(path: str) -> set[str]:
    with open(path, encoding="utf-8") as handle:
        return {line.strip() for line in handle if line.strip()}


def _sdist_only_newer(pin: tuple[str, str], uv_args: list[str]) -> bool:
    name, version = pin
    # "x>1.0" never matches 1.0+local, and a local label is not allowed after ">".
    wanted = f"{name}>{version.split('+', 1)[0]}\n"
    # Pre-releases are not "newer" unless the lock holds one (then `x>2.6.0rc1` names one, as
    # pip's own rule has it): an index holding e.g. numpy 2.5.0rc1 without a wheel for this
    # Python sent every unpinned numpy to a needless source build.
    cmd = [UV, "pip", "compile", "-q", "--no-deps", "--no-build", "--no-header"]
    cmd += ["--prerelease", "explicit"]
    cmd += ["--python", VENV_PYTHON, *uv_args, "-"]
    proc = subprocess.run(cmd, input=wanted, capture_output=True, text=True, check=False)
    return proc.returncode != 0 and bool(_NO_WHEEL.search(proc.stdout + proc.stderr))


def newer(lock_path: str, before_path: str, uv_args: list[str]) -> int:
    # The shared layer's packages at the same version are the lecturer's choice: not probed.
    before = _read_lines(before_path)
    pins: list[tuple[str, str]] = []
    for line in _read_lines(lock_path):
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)", line)
        if match and f"{_norm(match.group(1))}=={match.group(2)}" not in before:
            pins.append((match.group(1), match.group(2)))
    ordered = sorted(pins)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        flags = list(pool.map(lambda pin: _sdist_only_newer(pin, uv_args), ordered))
    # No zip(strict=): it is 3.10+, and the venv's python may be 3.8.
    newer_sdists = [ordered[i][0] for i, flag in enumerate(flags) if flag]
    if newer_sdists:
        print(
            "[repograder] newer versions exist only as source distributions: "
            + " ".join(newer_sdists),
            flush=True,
        )
        return NEEDS_BUILD
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "SNAPSHOT":
        snapshot(sys.argv[2])
    elif sys.argv[1] == "COMPILE":
        compile_new(_read_lines(sys.argv[2]), _installed())
    elif sys.argv[1] == "NEWER":
        sys.exit(newer(sys.argv[2], sys.argv[3], sys.argv[4:]))
    else:
        finish(sys.argv[2], sys.argv[3])
