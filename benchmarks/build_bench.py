"""Benchmark environment builds: repograder's cached builds (cold, warm) against naive pip.

usage: python benchmarks/build_bench.py [--groups N]

cold  = fresh uv cache volume and no environment images; warm = the same groups again
(images reused); naive = per group a fresh container running `pip install -r requirements.txt`
without any shared cache. Prints wall time per approach, the grader's peak RSS and the ratio
against naive. Needs the base image (`repograder sandbox build`) and network to PyPI.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from repograder.detect import EnvKind, EnvSpec
from repograder.sandbox import docker as sd
from repograder.sandbox.hostconfig import detect_host_settings

BASE = ["numpy", "scipy", "librosa", "soundfile", "matplotlib", "torch"]
VARIATIONS = [[], ["tqdm"], ["pandas"], ["scikit-learn"], ["tqdm", "pandas"], ["seaborn"]]


def _groups(n: int, root: Path) -> list[tuple[Path, EnvSpec]]:
    out = []
    for i in range(n):
        reqs = BASE + VARIATIONS[i % len(VARIATIONS)]
        repo = root / f"group-{i}"
        repo.mkdir()
        (repo / "requirements.txt").write_text("\n".join(reqs) + "\n")
        spec = EnvSpec(
            EnvKind.REQUIREMENTS, "requirements.txt", "bench", ("requirements.txt",), tuple(reqs)
        )
        out.append((repo, spec))
    return out


def _docker(*args: str) -> None:
    subprocess.run(["docker", *args], check=False, capture_output=True)


def _reset_cache() -> None:
    ids = subprocess.run(["docker", "images", "-q", sd.ENV_REPO], capture_output=True, text=True)
    for image in set(ids.stdout.split()):
        _docker("rmi", "-f", image)
    _docker("volume", "rm", "-f", sd.UV_CACHE_VOLUME)


def _repograder(groups: list[tuple[Path, EnvSpec]], root: Path, label: str) -> float:
    box = sd.DockerSandbox(f"bench-{uuid.uuid4().hex[:6]}", root / "cache")
    start = time.monotonic()
    try:
        for i, (repo, spec) in enumerate(groups):
            result = box.prepare(spec, repo, root / f"logs-{label}-{i}")
            print(
                f"  {label} group-{i}: ok={result.ok} reused={result.reused} "
                f"{result.duration_s:.1f}s {result.summary}"
            )
    finally:
        box.close()
    return time.monotonic() - start


def _naive(groups: list[tuple[Path, EnvSpec]]) -> float:
    host = detect_host_settings()
    start = time.monotonic()
    for i, (repo, _) in enumerate(groups):
        cmd = ["docker", "run", "--rm", "--label", "repograder=1", "-v", f"{repo}:/src:ro"]
        if host.ca_bundle:
            cmd += [
                "-v",
                f"{host.ca_bundle}:/etc/repograder/ca.crt:ro",
                "-e",
                "PIP_CERT=/etc/repograder/ca.crt",
            ]
        cmd += [
            sd.BASE_IMAGE,
            "sh",
            "-c",
            "python3 -m venv /tmp/v && /tmp/v/bin/pip install -q --no-cache-dir "
            "-r /src/requirements.txt",
        ]
        t = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        print(f"  naive group-{i}: rc={proc.returncode} {time.monotonic() - t:.1f}s")
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        groups = _groups(args.groups, root)
        _reset_cache()
        cold = _repograder(groups, root, "cold")
        warm = _repograder(groups, root, "warm")
        naive = None if args.skip_naive else _naive(groups)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{args.groups} groups")
    for name, seconds in (
        ("repograder cold", cold),
        ("repograder warm", warm),
        ("naive pip", naive),
    ):
        if seconds is None:
            continue
        ratio = f"  ({seconds / naive:.2f}x naive)" if naive else ""
        print(f"{name:16} {seconds:8.1f} s{ratio}")
    print(f"peak grader RSS  {peak_mb:8.1f} MB")


if __name__ == "__main__":
    main()
