"""Scaling of the command line from one local worker to two: `--jobs 2` against
`--jobs 1`, wall time of whole runs (report included), on the default run and on a
run ten times its size.

Each round runs every (size, jobs) pair once, in alternating order, as a fresh
`python -m trajectories.run` process; a warm-up run first (numba's cache loaded, files
in the page cache). Prints each pair's median wall time with its range over the
rounds, and the speed-up of the medians with the range of the rounds' own ratios.

    python examples/benchmark_jobs.py                  # 3 rounds, ~4 minutes on 2 cores
    python examples/benchmark_jobs.py --rounds 5 --backend loky

The last line reads ``jobs2 speedup default=X tenfold=Y``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {"default": 40_000, "tenfold": 400_000}
"""Machines of each run (the default config's n_traj, and ten times it)."""


def wall(n_traj: int, jobs: int, backend: str, out: Path) -> float:
    """Wall time of one run of the default config with ``n_traj`` machines."""
    cmd = [
        sys.executable,
        "-m",
        "trajectories.run",
        "--quiet",
        "--set",
        f"sampling.n_traj={n_traj}",
        "--jobs",
        str(jobs),
        "--backend",
        backend,
        "--out",
        str(out),
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    """Print the table and the last line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--backend", default="fork", choices=("fork", "loky"))
    args = parser.parse_args()
    times: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = iter(range(10**6))
        wall(SIZES["default"], 2, args.backend, Path(tmp) / "warm-up")
        for r in range(args.rounds):
            for size in SIZES:
                order = (1, 2) if r % 2 == 0 else (2, 1)
                for jobs in order:
                    out = Path(tmp) / f"run{next(runs)}"
                    t = wall(SIZES[size], jobs, args.backend, out)
                    times.setdefault((size, jobs), []).append(t)
    print(f"wall time, s: median [min, max] over {args.rounds} rounds")
    print(f"{'run':>8} {'--jobs 1':>20} {'--jobs 2':>20} {'speed-up':>22}")
    speedups = {}
    for size in SIZES:
        one, two = times[(size, 1)], times[(size, 2)]
        ratios = [a / b for a, b in zip(one, two, strict=True)]
        speedups[size] = statistics.median(one) / statistics.median(two)
        print(
            f"{size:>8} {_cell(one):>20} {_cell(two):>20} "
            f"{speedups[size]:>6.2f}x [{min(ratios):.2f}, {max(ratios):.2f}]"
        )
    print(
        f"jobs2 speedup default={speedups['default']:.2f} "
        f"tenfold={speedups['tenfold']:.2f}"
    )


def _cell(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} [{min(values):.2f}, {max(values):.2f}]"


if __name__ == "__main__":
    main()
