"""Scale of the command line: throughput with 1 and 2 workers, memory as n_traj grows.

Runs the heralding protocol of the two-qutrit reset machine (one attempt per machine
at T = 100, batches of 2e5 machines streamed to disk) through the same code path as
``python -m trajectories.run``:

1. the same 1e6-machine run with --jobs 1 and --jobs 2 (wall times and their ratio);
2. runs of 1e5, 1e6 and 1e7 machines with 2 workers: peak resident memory of the
   parent and of the worker processes, which stays flat because batches are written
   to disk as they finish and the summary reads them back one at a time.

    python examples/benchmark_scale.py            # about 10 minutes on 2 cores
    python examples/benchmark_scale.py --quick    # 1e5 and 1e6 only
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = [
    "--set",
    "protocol.attempts=1",
    "--set",
    "protocol.attempt_period=100.0",
    "--set",
    "protocol.machines=1",
    "--set",
    "sampling.batch_size=200000",
    "--quiet",
]


def run(n_traj: int, jobs: int, out: Path) -> dict[str, float]:
    """Run the CLI in a child process; wall time and peak memory (MB)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import resource, sys\n"
            "from trajectories.pipeline.cli import main\n"
            "code = main(sys.argv[1:])\n"
            "from joblib.externals.loky import get_reusable_executor\n"
            "get_reusable_executor().shutdown(wait=True)  # workers count once reaped\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
            " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
            "sys.exit(code)\n",
            *SETTINGS,
            "--set",
            f"sampling.n_traj={n_traj}",
            "--jobs",
            str(jobs),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    parent_kb, children_kb = map(int, proc.stdout.split()[-2:])
    summary = json.loads((out / "summary.json").read_text())[0]
    return {
        "wall": wall,
        "parent_mb": parent_kb / 1024,
        "workers_mb": children_kb / 1024,
        "p_suc": summary["p_suc"],
        "p_suc_se": summary["p_suc_se"],
        "p_suc_exact": summary["p_suc_exact"],
    }


def main() -> None:
    """Print throughput and memory tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1e7 run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        one = run(1_000_000, 1, tmp / "j1")
        two = run(1_000_000, 2, tmp / "j2")
        print("throughput, 1e6 machines:")
        for jobs, r in ((1, one), (2, two)):
            print(
                f"  --jobs {jobs}: {r['wall']:7.1f} s, "
                f"{1e6 / r['wall']:9.0f} machines/s"
            )
        print(f"  speed-up with 2 workers: {one['wall'] / two['wall']:.2f}x")
        print("memory as n_traj grows (--jobs 2):")
        sizes = [100_000, 1_000_000] + ([] if args.quick else [10_000_000])
        for n in sizes:
            r = two if n == 1_000_000 else run(n, 2, tmp / f"n{n}")
            z = (r["p_suc"] - r["p_suc_exact"]) / r["p_suc_se"]
            print(
                f"  n_traj={n:>10,}: {r['wall']:7.1f} s, parent {r['parent_mb']:6.0f} "
                f"MB, largest worker {r['workers_mb']:6.0f} MB, p_suc "
                f"{r['p_suc']:.6f} ± {r['p_suc_se']:.1g} (exact "
                f"{r['p_suc_exact']:.6f}, z={z:+.2f})"
            )
    print(
        f"peak memory of this script: "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
