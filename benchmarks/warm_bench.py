"""How long does a warm re-run (nothing changed) take, and where does the time go?

usage: python benchmarks/warm_bench.py [--groups 16] [--runs 5] [--workdir DIR] [--profile]

Makes N light synthetic groups (README script, notebook, paper; one small requirement each, so
the one cold run that fills the result cache builds in a minute, not the audio-ML stack of
``grade_bench.py``), runs ``repograder run`` once cold, then RUNS times with nothing changed,
and prints each warm run's wall time with the minimum and median (the issue's target: < 2 s for
16 groups). It also prints what a warm run pays before grading starts: the grader's import time
(``python -X importtime -c 'import repograder.cli'``, median of 5) and reading the host's pip
settings (``hostconfig.detect_host_settings``). ``--profile`` runs one more warm run under
cProfile and prints the 25 functions with the most cumulative time. With ``--workdir`` of an
earlier run (``grade_bench.py --workdir DIR --keep-images`` or this script's), the groups and
cache there are reused and the cold run is skipped when a report exists.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grade_bench  # a sibling script, not a package

LIGHT = ["tqdm", "pyyaml", "six", "idna"]
RUN_PY = 'print("GROUP {name}", sum(range(10)))\n'


def make_light_groups(root: Path, n: int) -> list[Path]:
    """N groups shaped like grade_bench's, with one light requirement each (shared: tqdm)."""
    repos = []
    for i in range(n):
        name = f"group-{i:02d}"
        repo = root / "repos" / name
        repo.mkdir(parents=True)
        reqs = ["tqdm", LIGHT[i % len(LIGHT)]] if i % len(LIGHT) else ["tqdm"]
        (repo / "requirements.txt").write_text("\n".join(reqs) + "\n")
        (repo / "README.md").write_text(grade_bench.README.format(name=name))
        (repo / "run.py").write_text(RUN_PY.replace("{name}", name))
        (repo / "explore.ipynb").write_text(_notebook())
        (repo / "paper").mkdir()
        shutil.copy2(grade_bench.PAPER, repo / "paper" / "paper.pdf")
        grade_bench._git(repo, "init", "-q", "-b", "main")
        grade_bench._git(repo, "add", "-A")
        grade_bench._git(repo, "commit", "-q", "-m", "project")
        repos.append(repo)
    return repos


def _notebook() -> str:
    import nbformat

    v4 = nbformat.v4
    nb = v4.new_notebook()
    nb.cells = [v4.new_code_cell("print(sum(range(10)))")]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return str(nbformat.writes(nb))


def warm_run(groups: Path, out: Path, cache: Path, label: str) -> tuple[float, float]:
    """(wall, CPU seconds of the grader process and its children) of one `repograder run`."""
    cmd = [sys.executable, "-m", "repograder.cli", "run", str(groups), "--out", str(out), "-q"]
    before = os.times()
    start = time.monotonic()
    proc = subprocess.run(
        cmd, env={**os.environ, "REPOGRADER_CACHE": str(cache)}, capture_output=True, text=True
    )
    wall = time.monotonic() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    print(f"  [{label}] {wall:.2f} s wall, {cpu:.2f} s CPU, exit {proc.returncode}", flush=True)
    return wall, cpu


def import_time() -> float:
    """Seconds to import repograder.cli in a fresh interpreter (median of 5)."""
    times = []
    for _ in range(5):
        start = time.monotonic()
        subprocess.run([sys.executable, "-c", "import repograder.cli"], check=True)
        times.append(time.monotonic() - start)
    return statistics.median(times)


def host_settings_time() -> float:
    """Seconds for hostconfig.detect_host_settings() in a fresh interpreter (median of 3)."""
    code = (
        "import time; from repograder.sandbox import hostconfig as h; t = time.monotonic(); "
        "h.detect_host_settings(); print(time.monotonic() - t)"
    )
    out = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout)
        for _ in range(3)
    ]
    return statistics.median(out)


def profile_run(groups: Path, out: Path, cache: Path) -> None:
    """One warm run in this process under cProfile; the top 25 by cumulative time."""
    from repograder import cli

    os.environ["REPOGRADER_CACHE"] = str(cache)
    profiler = cProfile.Profile()
    profiler.enable()
    code = cli.main(["run", str(groups), "--out", str(out), "-q"])
    profiler.disable()
    print(f"\nprofiled warm run (in-process, imports already paid), exit {code}:")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--groups", type=int, default=16)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="warm-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    cache, out, groups = root / "cache", root / "report", root / "groups.yaml"
    grade_bench.compile_grader()
    try:
        if not groups.exists():
            repos = make_light_groups(root, args.groups)
            groups = grade_bench.write_config(root, repos, "warm", "builtin")
        if not (out / "results.json").exists():
            grade_bench.run_grader(groups, out, cache, None, "cold (fills the cache)")
        runs = [warm_run(groups, out, cache, f"warm {i + 1}") for i in range(args.runs)]
        walls = [wall for wall, _ in runs]
        cpus = [cpu for _, cpu in runs]
        print(f"\nload: {os.getloadavg()[0]:.1f} (1 min), {os.cpu_count()} cores")
        print(f"import repograder.cli: {import_time():.2f} s (median of 5)")
        print(f"detect_host_settings: {host_settings_time():.3f} s (median of 3)")
        print(
            f"warm run, nothing changed: min {min(walls):.2f} s, "
            f"median {statistics.median(walls):.2f} s over {len(walls)} runs; CPU time of "
            f"the grader (user+sys, less load-sensitive): median {statistics.median(cpus):.2f} s"
        )
        if args.profile:
            profile_run(groups, out, cache)
    finally:
        if args.workdir is None:
            grade_bench.remove_images(cache)
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
