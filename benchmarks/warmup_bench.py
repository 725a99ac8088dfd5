"""Do the shared layer's warm-ups pay off? First-use costs in a fresh session, cold vs warmed.

usage: python benchmarks/warmup_bench.py IMAGE

IMAGE is a shared layer (``repograder-env:common-…``, e.g. kept by ``grade_bench.py
--keep-images``) whose warm-ups ran. For each first use (librosa's numba-compiled functions,
matplotlib's first pyplot import, torch's first import) it times the command in a fresh
container as the student user, once with an empty home (what every session pays without a
warm-up) and once with the layer's warm home copied in (what a session does:
``buildplan.WARM_HOME``). A warm-up pays off when the difference is more than a second or so:
layerplan.WARMUPS keeps only those.
"""

from __future__ import annotations

import subprocess
import sys
import time

from repograder.sandbox.buildplan import WARM_HOME

CASES = {
    "librosa (numba JIT)": (
        "import numpy as np, librosa; y = np.zeros(16000, dtype=np.float32); "
        "librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=16000, n_mels=64)); "
        "librosa.stft(y)"
    ),
    "matplotlib (font cache)": "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot",
    "torch (first import)": "import torch; torch.zeros(1)",
}


def _time(image: str, code: str, warm: bool) -> float:
    setup = f"cp -a {WARM_HOME}/. $HOME/ 2>/dev/null; " if warm else ""
    script = (
        "export HOME=$(mktemp -d) NUMBA_CACHE_DIR=$HOME/.cache/numba MPLBACKEND=Agg; "
        f'{setup}cd $HOME; s=$(date +%s.%N); python -c "{code}" >/dev/null 2>&1; '
        "e=$(date +%s.%N); echo $s $e"
    )
    cmd = ["docker", "run", "--rm", "--label", "repograder=1", "--network", "none"]
    cmd += ["-u", "1000:1000", image, "bash", "-c", script]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    start, end = (float(x) for x in proc.stdout.split()[-2:])
    return end - start


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    image = sys.argv[1]
    began = time.monotonic()
    print(f"{'first use':26} {'cold':>8} {'warmed':>8} {'saved':>8}")
    for label, code in CASES.items():
        cold = _time(image, code, warm=False)
        warm = _time(image, code, warm=True)
        print(f"{label:26} {cold:7.1f}s {warm:7.1f}s {cold - warm:7.1f}s")
    print(f"({time.monotonic() - began:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
