"""Benchmark whole grading runs against the naive script a lecturer would write by hand.

usage: python benchmarks/grade_bench.py [--groups 16] [--jobs N] [--naive-groups K]
                                        [--rubric declared|builtin]

Creates N synthetic groups (git repositories with dated commits) whose requirements resemble
real audio-ML projects (numpy, scipy, librosa, soundfile, matplotlib, torch, small variations),
each with a README that runs a short script, a notebook and a paper; the rubric is the built-in
one plus `environment: {common: [numpy, scipy, librosa, soundfile, matplotlib, torch],
apt: [libsndfile1]}` (the local index has only soundfile's pure wheel, which needs the system
library; the naive baseline installs it with apt too). With `--rubric builtin` the rubric is
the built-in one as shipped: no declared layer, no apt, no warm-up; the grader infers the shared
layer, its system libraries and warm-ups from the groups itself (their numpy line reads
`numpy>=1.0.<random>`: the same install, but a layer no earlier run built). Then times
`repograder run` (a separate process, so its peak memory is measured alone):

  (a) cold: no environment image, git mirror or result of these groups exists (the shared
      layer gets a fresh hash, so nothing of earlier runs is reused; the uv download cache is
      kept unless --cold-uv-cache),
  (b) warm: the same run again, nothing changed,
  (c) one group pushed a commit, then the run again,
  (d) naive: per group a fresh `repograder-base` container, `pip install -r requirements.txt`
      with the host's CA bundle and pip settings and no cache, then the README's commands,
      one group after the other. It downloads gigabytes (the CUDA torch), so by default only
      K=2 groups run and the total is extrapolated (said so in the table). Half of the K
      groups run before (a) and half after (c): this VM's speed drifts from hour to hour
      (fresh guest memory costs a fault on the host), so both sides meet the same hour.

Prints wall time, the grader's peak RSS and the ratio against (d), how many groups' README
steps and notebooks passed, and a per-phase breakdown of (a) and (c): shared layer, group
layers, session start, steps, notebooks, fetch, static checks + waiting, start-up + report
(sums over groups of the times in results.json; the shared layer's from the grader's log line).
The cold run's progress lines, each with its time, go to `cold-progress.log` in the work folder
(`--workdir` keeps it). Needs the base image (`repograder sandbox build`) and PyPI. The images
the benchmark built are removed at the end (--keep-images keeps them).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from repograder.cli.run import default_jobs
from repograder.config import DEFAULT_RUBRIC, load_rubric
from repograder.sandbox import docker as sd
from repograder.sandbox.base import Limits
from repograder.sandbox.hostconfig import CONTAINER_CA_PATH, container_env, detect_host_settings

COMMON = ["numpy", "scipy", "librosa", "soundfile", "matplotlib", "torch"]
VARIATIONS: list[list[str]] = [
    [],
    ["tqdm"],
    ["pandas"],
    ["scikit-learn"],
    ["tqdm", "pandas"],
    ["seaborn"],
    ["pyyaml"],
    ["numpy<2.3"],
]
# The lecturer's warm-up for the shared layer: librosa's numba functions are JIT-compiled on
# first use (about 70 s per fresh container); compiled once here, every session reuses them.
WARMUP = (
    "python -c 'import numpy as np, librosa, matplotlib.pyplot; "
    "y = np.zeros(16000, dtype=np.float32); "
    "librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=16000, n_mels=64)); "
    "librosa.stft(y); librosa.stft(y.astype(np.float64))'"
)
PAPER = Path(__file__).resolve().parent.parent / "examples" / "good-group" / "paper" / "paper.pdf"

RUN_PY = """\
\"\"\"Synthesise a chirp, compute a mel spectrogram and a tiny CNN's output.\"\"\"
import matplotlib

matplotlib.use("Agg")
import librosa
import matplotlib.pyplot as plt
import numpy as np
import scipy.signal
import soundfile as sf
import torch

SR = 16000
t = np.linspace(0, 1.0, SR, endpoint=False)
y = scipy.signal.chirp(t, f0=200, f1=4000, t1=1.0).astype(np.float32)
sf.write("chirp.wav", y, SR)
y, sr = sf.read("chirp.wav", dtype="float32")
mel = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=64)
logmel = librosa.power_to_db(mel)
net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1))
out = net(torch.from_numpy(logmel)[None, None])
plt.imshow(logmel, origin="lower", aspect="auto")
plt.savefig("mel.png")
print("GROUP", "{name}", "mel", logmel.shape, "out", tuple(out.shape))
"""

README = """\
# {name}: chirp spectrograms

## Setup

```bash
pip install -r requirements.txt
```

## Usage

```bash
python run.py
```

The notebook `explore.ipynb` shows the spectrum of a tone.
"""


@dataclass(frozen=True)
class Timing:
    """One measured run."""

    label: str
    wall_s: float
    peak_mb: float | None
    note: str = ""
    output: str = ""


def _git(repo: Path, *args: str, when: str = "2026-01-10T12:00:00") -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": when,
        "GIT_COMMITTER_DATE": when,
        "GIT_AUTHOR_NAME": "Student",
        "GIT_AUTHOR_EMAIL": "s@example.org",
        "GIT_COMMITTER_NAME": "Student",
        "GIT_COMMITTER_EMAIL": "s@example.org",
    }
    subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)


def _notebook() -> str:
    import nbformat

    v4: Any = nbformat.v4
    nb = v4.new_notebook()
    nb.cells = [
        v4.new_markdown_cell("# A tone's spectrum"),
        v4.new_code_cell(
            "import numpy as np\nimport librosa\n"
            "y = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype('float32')\n"
            "S = np.abs(librosa.stft(y))\nprint(S.shape, float(S.max()))"
        ),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    writes: Any = nbformat.writes
    return str(writes(nb))


def make_groups(root: Path, n: int, salt: int = 0) -> list[Path]:
    """N synthetic group repositories, each with one dated commit.

    ``salt`` > 0 writes ``numpy>=1.0.<salt>`` for ``numpy``: the same install (the newest
    numpy), but another requirement line, so a shared layer inferred from the groups gets a
    hash no earlier run built (the cold run must build it)."""
    repos = []
    for i in range(n):
        name = f"group-{i:02d}"
        repo = root / "repos" / name
        repo.mkdir(parents=True)
        extra = VARIATIONS[i % len(VARIATIONS)]
        pinned = [r for r in extra if "<" in r]
        reqs = [r for r in COMMON if not any(p.startswith(r) for p in pinned)] + extra
        if salt:
            reqs = [f"numpy>=1.0.{salt}" if r == "numpy" else r for r in reqs]
        (repo / "requirements.txt").write_text("\n".join(reqs) + "\n")
        (repo / "README.md").write_text(README.format(name=name))
        (repo / "run.py").write_text(RUN_PY.replace("{name}", name))
        (repo / "explore.ipynb").write_text(_notebook())
        (repo / "paper").mkdir()
        shutil.copy2(PAPER, repo / "paper" / "paper.pdf")
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "project")
        repos.append(repo)
    return repos


def write_config(root: Path, repos: list[Path], salt: str, rubric_kind: str = "declared") -> Path:
    """groups.yaml and a rubric: with the shared layer declared (salted: a fresh layer for
    this run), or the built-in rubric as shipped (the grader infers the layer)."""
    rubric = root / "rubric.yaml"
    common = ", ".join(json.dumps(r) for r in [*COMMON, f"# bench {salt}"])
    text = DEFAULT_RUBRIC.read_text(encoding="utf-8")
    if rubric_kind == "declared":
        text += f"\nenvironment:\n  common: [{common}]\n  apt: [libsndfile1]\n"
        text += f"  warmup: [{json.dumps(WARMUP)}]\n"
    rubric.write_text(text)
    lines = ["course: benchmark", f"rubric: {rubric}", "groups:"]
    for repo in repos:
        lines += [f"  - name: {repo.name}", f"    repo: {repo}"]
    groups = root / "groups.yaml"
    groups.write_text("\n".join(lines) + "\n")
    return groups


def run_grader(
    groups: Path, out: Path, cache: Path, jobs: int | None, label: str, log: Path | None = None
) -> Timing:
    """One `repograder run` in its own process: wall time and that process's peak RSS.

    ``log``: where its progress lines go, each with the seconds since the start (to see
    where a run waits)."""
    cmd = [sys.executable, "-m", "repograder.cli", "run", str(groups), "--out", str(out)]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    env = {**os.environ, "REPOGRADER_CACHE": str(cache)}
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    lines: list[str] = []
    for raw in proc.stdout:
        lines.append(f"{time.monotonic() - start:7.1f} {raw.decode('utf-8', 'replace')}")
    output = "".join(lines)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if log is not None:
        log.write_text(output, encoding="utf-8")
    last = [line for line in lines if "[group-" not in line and "grading " not in line]
    print(f"  [{label}] {wall:.1f} s, exit {proc.returncode}: {''.join(last)[-300:]}", flush=True)
    return Timing(label, wall, usage.ru_maxrss / 1024, output=output)


_LAYER_LINE = re.compile(r"built the shared layer \S+ in ([\d.]+) s")


def phases(out: Path, timing: Timing, only: set[str] | None = None) -> dict[str, float]:
    """Seconds per phase of one run, summed over groups (see the module docstring); ``only``:
    the groups graded in that run (results.json also holds the cached groups' old timings)."""
    data = json.loads((out / "results.json").read_text())
    layer = sum(float(m) for m in _LAYER_LINE.findall(timing.output))
    build = steps = nbs = run = fetch = rest = 0.0
    for group in data["groups"]:
        if only is not None and group["name"] not in only:
            continue
        t = group.get("timings") or {}
        build += t.get("build_s") or 0.0
        run += t.get("run_s") or 0.0
        fetch += t.get("fetch_s") or 0.0
        rest += (t.get("total_s") or 0.0) - sum(
            t.get(k) or 0.0 for k in ("fetch_s", "build_s", "run_s")
        )
        steps += sum(s.get("duration_s") or 0.0 for s in group.get("steps", []))
        for check in group.get("checks", []):
            if check["id"] == "notebooks":
                for nb in (check.get("details") or {}).get("notebooks", []):
                    nbs += nb.get("duration_s") or 0.0
    began = datetime.fromisoformat(data["started_at"])
    ended = datetime.fromisoformat(data["finished_at"])
    return {
        "shared layer": layer,
        "group layers": build - layer,
        "session start": run - steps - nbs,
        "steps": steps,
        "notebooks": nbs,
        "fetch": fetch,
        "static checks + waiting (layer, sandbox slot)": rest,
        "start-up + report (wall)": timing.wall_s - (ended - began).total_seconds(),
    }


def outcomes(out: Path) -> str:
    """How many groups passed readme-steps and notebooks (the issue's "done" criterion)."""
    data = json.loads((out / "results.json").read_text())
    counts: dict[str, list[str]] = {"readme-steps": [], "notebooks": []}
    for group in data["groups"]:
        for check in group.get("checks", []):
            if check["id"] in counts:
                counts[check["id"]].append(check["status"])
    n = len(data["groups"])
    return ", ".join(
        f"{cid} pass {statuses.count('pass')}/{n}"
        + (f" (others: {sorted(set(statuses) - {'pass'})})" if statuses.count("pass") < n else "")
        for cid, statuses in counts.items()
    )


def summary(out: Path) -> str:
    """Scores and per-group timings of a run, for a sanity look."""
    data = json.loads((out / "results.json").read_text())
    scores = [f"{g['name']}={g.get('score')}" for g in data["groups"]]
    return " ".join(scores)


def naive(repos: list[Path], when: str) -> float:
    """The hand-written baseline for ``repos``, one after the other; seconds in all.

    ``when`` says whether this share runs before or after the grader's runs (printed).
    """
    host = detect_host_settings()
    env = container_env(host)
    start = time.monotonic()
    for repo in repos:
        cmd = ["docker", "run", "--rm", "--label", "repograder=1", "-v", f"{repo}:/src:ro"]
        if host.ca_bundle:
            cmd += ["-v", f"{host.ca_bundle}:{CONTAINER_CA_PATH}:ro"]
        for mount in host.mounts:
            cmd += ["-v", f"{mount.source}:{mount.target}:ro"]
        for key, value in env.items():
            cmd += ["-e", f"{key}={value}"]
        script = (
            "set -e; apt-get update -qq && apt-get install -y -qq libsndfile1 >/dev/null; "
            # the base image sets PIP_PREFIX for the sandbox's session layout: not for this venv
            "unset PIP_PREFIX; python3 -m venv /tmp/v; . /tmp/v/bin/activate; "
            "cp -r /src /tmp/w; cd /tmp/w; "
            "pip install -q --no-cache-dir -r requirements.txt; python run.py"
        )
        cmd += [sd.BASE_IMAGE, "bash", "-c", script]
        t = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or [""]
        took = time.monotonic() - t
        print(f"  [naive, {when}] {repo.name}: exit {proc.returncode} {took:.1f} s {tail[0][:120]}")
    return time.monotonic() - start


def naive_timing(repos: list[Path], k: int, before_s: float, after_s: float) -> Timing:
    """The naive baseline's ``k`` measured groups, extrapolated to all of ``repos``."""
    wall = before_s + after_s
    if k < len(repos):
        return Timing("(d) naive", wall * len(repos) / k, None, f"extrapolated from {k} groups")
    return Timing("(d) naive", wall, None)


def remove_images(cache: Path) -> None:
    """Remove the env images this benchmark built (their hashes are stamped in its cache)."""
    stamps = {p.stem for p in (cache / sd.USED_DIR).glob("*.used")}
    images = [i for i in sd.list_images() if i.content_hash in stamps]
    for image in sorted(images, key=lambda i: i.layer == "common"):
        sd.remove_image(image)


def compile_grader() -> None:
    """Byte-compile repograder's own modules, as installing its wheel does (pip compiles at
    install time). From a source checkout (``pip install -e``) in a shell that sets
    PYTHONDONTWRITEBYTECODE, as this project's VMs do, every grader run and each of its helper
    processes would compile them again: 0.4 s of a 2.2 s warm re-run measured here (0.3-1 s
    in warm_bench.py's runs, which use this too)."""
    import compileall

    import repograder

    compileall.compile_dir(Path(repograder.__file__).resolve().parent, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--groups", type=int, default=16, help="synthetic groups (default 16)")
    parser.add_argument("--jobs", type=int, help="repograder --jobs (default: its own)")
    parser.add_argument(
        "--naive-groups",
        type=int,
        default=2,
        metavar="K",
        help="run the naive baseline for K groups and extrapolate (default 2)",
    )
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument(
        "--cold-uv-cache",
        action="store_true",
        help="also drop the shared uv cache volume before the cold run",
    )
    parser.add_argument(
        "--rubric",
        choices=("declared", "builtin"),
        default="declared",
        help="declared: the rubric names the shared layer, apt and warm-up (default); "
        "builtin: the built-in rubric as shipped (the layer is inferred)",
    )
    parser.add_argument("--keep-images", action="store_true")
    parser.add_argument("--workdir", type=Path, help="keep the groups and reports here")
    args = parser.parse_args()
    compile_grader()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="grade-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    cache = root / "cache"
    salt = uuid.uuid4().int % 1_000_000 + 1
    repos = make_groups(root, args.groups, salt if args.rubric == "builtin" else 0)
    groups = write_config(root, repos, uuid.uuid4().hex[:12], args.rubric)
    # The sandboxes `repograder run` uses: --jobs, or its default for the rubric's limits.
    limits = load_rubric(root / "rubric.yaml").limits
    default = default_jobs(
        Limits(memory_mb=limits.memory_mb or Limits().memory_mb, cpus=limits.cpus or Limits().cpus)
    )
    jobs = str(args.jobs) if args.jobs else f"default ({default})"
    if args.cold_uv_cache:
        subprocess.run(["docker", "volume", "rm", "-f", sd.UV_CACHE_VOLUME], check=False)
    results: list[Timing] = []
    breakdown: dict[str, dict[str, float]] = {}
    # The naive groups run half before the grader's runs and half after: this machine's speed
    # drifts from hour to hour (a VM whose fresh memory costs a fault on the host), and the
    # ratio should compare runs of the same hour. The naive run changes no grader state.
    k = 0 if args.skip_naive else max(1, min(args.naive_groups, len(repos)))
    before = repos[: k // 2]
    naive_before_s = naive(before, "before") if before else 0.0
    try:
        out = root / "report"
        cold_log = root / "cold-progress.log"
        results.append(run_grader(groups, out, cache, args.jobs, "(a) cold", cold_log))
        print("  scores:", summary(out))
        print("  outcomes:", outcomes(out))
        breakdown["(a) cold"] = phases(out, results[-1])
        results.append(run_grader(groups, out, cache, args.jobs, "(b) warm, unchanged"))
        (repos[0] / "run.py").write_text((repos[0] / "run.py").read_text() + "print('v2')\n")
        _git(repos[0], "commit", "-q", "-am", "v2", when="2026-01-11T12:00:00")
        one = run_grader(groups, out, cache, args.jobs, "(c) one group changed")
        group_s = json.loads((out / "groups" / f"{repos[0].name}.json").read_text())["group"]
        total = group_s.get("timings", {}).get("total_s")
        results.append(Timing(one.label, one.wall_s, one.peak_mb, f"that group alone: {total} s"))
        breakdown["(c) one group changed"] = phases(out, one, {repos[0].name})
        if k:
            after_s = naive(repos[len(before) : k], "after")
            results.append(naive_timing(repos, k, naive_before_s, after_s))
    finally:
        if not args.keep_images:
            remove_images(cache)
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    base = next((r.wall_s for r in results if r.label.startswith("(d)")), None)
    print(f"\nper phase (seconds, summed over groups), rubric {args.rubric}:")
    for label, parts in breakdown.items():
        print(f"  {label}: " + ", ".join(f"{k} {v:.1f}" for k, v in parts.items()))
    print(f"\n{args.groups} groups, {os.cpu_count()} cores, jobs={jobs}")
    print(f"{'run':26} {'wall':>9} {'per group':>10} {'peak RSS':>9} {'vs naive':>9}  note")
    for r in results:
        ratio = f"{base / r.wall_s:8.1f}x" if base and not r.label.startswith("(d)") else ""
        peak = f"{r.peak_mb:6.0f} MB" if r.peak_mb is not None else "-"
        print(
            f"{r.label:26} {r.wall_s:8.1f}s {r.wall_s / args.groups:9.1f}s "
            f"{peak:>9} {ratio:>9}  {r.note}"
        )


if __name__ == "__main__":
    main()
