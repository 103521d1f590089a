"""End to end: the CPU time of a whole run (imports, batches, records, summary,
report) of this source tree against a baseline revision, side by side.

    python examples/benchmark_pipeline.py --baseline 33546c4 [--repeats 3]
        [--jobs 1] [-- ARGS FOR trajectories.run]

The baseline is exported with ``git archive`` into a temporary directory; each run is
a fresh ``python -m trajectories.run`` process (default: the default run, its report
included) with ``PYTHONPATH`` set to one tree, into a fresh run directory. Rounds
interleave the two trees (the order alternates); the CPU time is user + system of the
process and its children (``os.wait4``), BLAS on one thread. Prints the median and
range of each and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def export(rev: str, into: Path) -> Path:
    """The source tree of ``rev`` in ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def cpu_seconds(tree: Path, out: Path, args: list[str]) -> float:
    """User + system CPU time of one run of ``tree`` (children included)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    cmd = [sys.executable, "-m", "trajectories.run", "--quiet", "--out", str(out)]
    proc = subprocess.Popen(
        [*cmd, *args], env=env, cwd=out.parent, stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{tree}: run failed ({status})")
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    """Interleave the two trees; print medians, ranges and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="a git revision")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", default="1")
    parser.add_argument("args", nargs="*", help="arguments of trajectories.run")
    opts = parser.parse_args()
    args = ["--jobs", opts.jobs, *opts.args]
    with tempfile.TemporaryDirectory() as tmp:
        base = export(opts.baseline, Path(tmp) / "baseline")
        trees = {"baseline": base, "this tree": ROOT}
        times: dict[str, list[float]] = {name: [] for name in trees}
        for r in range(opts.repeats):
            order = list(trees) if r % 2 == 0 else list(trees)[::-1]
            for name in order:
                out = Path(tmp) / f"run-{name.replace(' ', '-')}-{r}"
                times[name].append(cpu_seconds(trees[name], out, args))
    print(f"trajectories.run {' '.join(args)}: CPU seconds, {opts.repeats} rounds")
    for name, values in times.items():
        print(
            f"  {name:<10} median {statistics.median(values):6.2f}  "
            f"range [{min(values):.2f}, {max(values):.2f}]"
        )
    ratio = statistics.median(times["this tree"]) / statistics.median(times["baseline"])
    print(f"this tree / baseline ({opts.baseline}) = {ratio:.2f}")


if __name__ == "__main__":
    main()
