"""Calibrate the work estimate of ``trajectories/pipeline/workload.py`` on this machine.

Runs each configuration below with ``python -m trajectories.run --jobs 1`` (one
process, so its CPU time is the run's) and one batch alone (its peak memory), then
prints, per run, the estimate beside the measurement (jumps from the records' jump
counts, records on disk, memory of a batch, CPU time) and, with ``--fit``, the CPU
constants (``workload.CPU``) fitted by non-negative least squares on the relative
error. The measurements are kept in DIR/measurements.json: a second call with the
same --out measures only new configurations. About 10 minutes on one core.

    python examples/calibrate_workload.py [--fit] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from trajectories.pipeline.config import load_config
from trajectories.pipeline.workload import (
    CPU,
    chain_sizes,
    estimate_point,
    jump_rate,
)

RUNS = {
    "default": (None, ["sampling.n_traj=10000"]),
    "default, T = 2000": (
        None,
        [
            "sampling.n_traj=4000",
            "protocol.attempt_period=2000.0",
            "protocol.attempts=6",
        ],
    ),
    "default, 600 attempts": (
        None,
        ["sampling.n_traj=2000", "sampling.batch_size=1000", "protocol.attempts=600"],
    ),
    "relaxation": ("relaxation", ["sampling.n_traj=8000"]),
    "lindblad-fig5b": ("lindblad-fig5b", ["sampling.n_traj=8000"]),
    "qudit d=4": ("qudit-d4", ["sampling.n_traj=4000"]),
    "one-step d=12": (
        None,
        ["machine.kind='one-step'", "machine.d=12", "sampling.n_traj=2000"],
    ),
    "qudit d=10": (None, ["machine.kind='qudit'", "machine.d=10"]),
    "qudit d=20": (None, ["machine.kind='qudit'", "machine.d=20"]),
    "qudit d=20, 2000 attempts": (
        None,
        [
            "machine.kind='qudit'",
            "machine.d=20",
            "sampling.n_traj=20",
            "protocol.attempts=2000",
        ],
    ),
    "qudit d=32": (
        None,
        ["machine.kind='qudit'", "machine.d=32", "sampling.n_traj=1000"],
    ),
}
"""Configurations: a preset (None: the default) and --set overrides; the qudit
runs have 2000 machines in batches of 1000, one per bank, unless set here."""

QUDIT = ["sampling.n_traj=2000", "sampling.batch_size=1000", "protocol.machines=1"]

ONE_BATCH = """
import resource, sys
from trajectories.pipeline.batches import plan, run_batch
from trajectories.pipeline.config import load_config
config = load_config({source!r}, tuple({sets!r}))
run_batch(config, plan(config)[0], False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def overrides(name: str) -> tuple[str | None, list[str]]:
    source, sets = RUNS[name]
    extra = QUDIT if source is None and any("qudit" in s for s in sets) else []
    if "one-step" in name:
        extra = ["sampling.batch_size=1000", "protocol.machines=1"]
    return source, extra + sets


def measure(name: str, out: Path) -> dict:
    """CPU seconds of the whole run, real jumps, bytes on disk, batch peak bytes."""
    source, sets = overrides(name)
    run_dir = out / name.replace(" ", "_").replace(",", "").replace("=", "")
    args = [sys.executable, "-m", "trajectories.run"]
    args += ([source] if source else []) + [f"--set={s}" for s in sets]
    args += ["--out", str(run_dir), "--jobs", "1", "--quiet", "--force"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    batches = run_dir / "batches"
    runs = pd.concat(pd.read_parquet(p) for p in batches.glob("*_runs.parquet"))
    jumps = int(runs.filter(like="n_jumps").to_numpy().sum())
    disk = sum(p.stat().st_size for p in batches.glob("*.parquet"))
    code = ONE_BATCH.format(source=source, sets=sets)
    peak = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    return {"cpu": cpu, "jumps": jumps, "disk": disk, "batch": float(peak.stdout)}


def features(name: str) -> np.ndarray:
    """The terms of the CPU model of ``workload.estimate_point``, in ``CPU`` order."""
    source, sets = overrides(name)
    point = load_config(source, tuple(sets))
    model = point.build_model()
    D, R, _ = chain_sizes(model)
    n, m = point.sampling.n_traj, min(point.sampling.batch_size, point.sampling.n_traj)
    A, T, b = point.protocol.attempts, point.protocol.attempt_period, point.burn_in
    n_batches = -(-n // m)
    events = n * jump_rate(model) * (b + A * T) + n * A
    return np.array(
        [n_batches, n_batches * D**2, events * D, n * A, 2 * R**3, A * R**2, 1.0]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="fit the CPU constants")
    parser.add_argument("--out", type=Path, help="keep the run directories here")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="calibrate-"))
    saved = out / "measurements.json"
    done = json.loads(saved.read_text()) if saved.exists() else {}
    rows, X, y = [], [], []
    for name in RUNS:
        source, sets = overrides(name)
        est = estimate_point(load_config(source, tuple(sets)))
        got = done[name] = done.get(name) or measure(name, out)
        saved.write_text(json.dumps(done, indent=1))
        rows.append(
            {
                "run": name,
                "jumps (est/real)": f"{est.jumps:.3g} / {got['jumps']:.3g}",
                "disk MB (est/real)": f"{est.disk_bytes / 1e6:.3g} / "
                f"{got['disk'] / 1e6:.3g}",
                "batch MB (est/real)": f"{est.batch_bytes / 1e6:.0f} / "
                f"{got['batch'] / 1e6:.0f}",
                "CPU s (est/real)": f"{est.cpu_seconds:.3g} / {got['cpu']:.3g}",
            }
        )
        X.append(features(name))
        y.append(got["cpu"])
        print(json.dumps(rows[-1]), flush=True)
    print(pd.DataFrame(rows).to_string(index=False))
    if args.fit:
        X, y = np.array(X), np.array(y)
        coef, _ = nnls(X / y[:, None], np.ones_like(y))
        names = list(CPU)
        order = ["setup", "setup_D2", "event_D", "row", "cube", "law", "fixed"]
        print({n: float(f"{c:.2g}") for n, c in zip(order, coef, strict=True)})
        print("fitted / measured CPU:", np.round(X @ coef / y, 2), names == order)


if __name__ == "__main__":
    main()
