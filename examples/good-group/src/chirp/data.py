"""Generate a small synthetic data set of bird calls: rising chirps and steady tones."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SAMPLE_RATE = 8000  # Hz; enough for calls below 4 kHz
DURATION = 0.25  # seconds per call


def make_call(kind: int, rng: np.random.Generator) -> np.ndarray:
    """Return one call: kind 0 is a steady tone, kind 1 a rising chirp, both with noise."""
    t = np.arange(int(SAMPLE_RATE * DURATION)) / SAMPLE_RATE
    f0 = rng.uniform(500, 1500)
    if kind == 0:
        phase = 2 * np.pi * f0 * t
    else:
        # Linear chirp: the instantaneous frequency rises from f0 to 2 * f0.
        phase = 2 * np.pi * (f0 * t + 0.5 * (f0 / DURATION) * t**2)
    noise = 0.3 * rng.standard_normal(t.size)
    return np.sin(phase) + noise


def make_dataset(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return ``n`` calls and their labels, balanced between the two kinds."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    calls = np.stack([make_call(int(k), rng) for k in labels])
    return calls, labels


def main() -> None:
    """Command line entry point: write the data set to an .npz file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="number of calls")
    parser.add_argument("--out", type=Path, default=Path("data/calls.npz"))
    args = parser.parse_args()
    calls, labels = make_dataset(args.n)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, calls=calls, labels=labels)
    print(f"wrote {len(labels)} calls to {args.out}")


if __name__ == "__main__":
    main()
